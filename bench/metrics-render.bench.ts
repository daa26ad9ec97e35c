import { readFileSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import { METRIC_FAMILIES, type MetricFamily } from '../src/metrics/catalog.js';
import { FpmCollector, formatSampleValue, renderMetrics } from '../src/metrics/index.js';
import type { MetricSample } from '../src/metrics/samples.js';
import { parseStatus } from '../src/status/index.js';
import { checkLoad, compare, consume, report } from './lib.js';

/**
 * Rendering one scrape's answer for 20 pools (about 450 samples, as `npm run bench exporter`
 * serves): `renderMetrics` over the collector's samples, whose label objects it keeps from one
 * scrape to the next; the same samples with fresh label objects (a caller's own samples);
 * prom-client's `Registry.metrics()` over gauges and counters holding the same series (the
 * peer); and the floor: each line's name and labels already made, only the values formatted
 * and the lines joined.
 */
const POOLS = 20;
/** Renders per timed run, so one run lasts long enough to time reliably. */
const REPEAT = 50;

const page = readFileSync(
  new URL('../test/fixtures/status/static/json-full.txt', import.meta.url),
  'utf8',
);
const body = page.slice(page.indexOf('{'));
const status = parseStatus(body, { format: 'json' });
const collector = new FpmCollector({
  targets: Array.from({ length: POOLS }, (_, i) => ({
    name: `site${i}`,
    listen: `/run/php/site${i}.sock`,
    maxChildren: 8,
  })),
  memory: false,
  sampler: async () => ({ status, durationSeconds: 0.002 }),
  listListeners: async () => undefined,
});
const samples = await collector.collect();
collector.close();
const copied: MetricSample[] = samples.map((s) => ({ ...s, labels: { ...s.labels } }));

// The floor: every line's start made once, as no renderer can do with less.
const starts = samples.map((s) => {
  const line = renderMetrics([s])
    .split('\n')
    .find((l) => l.startsWith(s.name));
  return line === undefined ? '' : line.slice(0, line.lastIndexOf(' ') + 1);
});

// The peer: one prom-client metric per family, holding the same series.
const registry = new Registry();
const byName = new Map<string, MetricFamily>(METRIC_FAMILIES.map((f) => [f.name, f]));
const metrics = new Map<string, Gauge | Counter>();
for (const s of samples) {
  const family = byName.get(s.name);
  if (family === undefined) continue;
  let metric = metrics.get(s.name);
  if (metric === undefined) {
    const config = {
      name: family.type === 'counter' ? s.name.replace(/_total$/, '') : s.name,
      help: family.help,
      labelNames: [...family.labels],
      registers: [registry],
    };
    metric = family.type === 'counter' ? new Counter(config) : new Gauge(config);
    metrics.set(s.name, metric);
  }
  const labels = Object.fromEntries(family.labels.map((l) => [l, s.labels[l] ?? '']));
  if (metric instanceof Counter) metric.inc(labels, s.value);
  else metric.set(labels, s.value);
}

/** `REPEAT` renders by `render`; the total length, so none can be optimised away. */
async function repeated(render: () => string | Promise<string>): Promise<number> {
  let n = 0;
  for (let i = 0; i < REPEAT; i++) n += (await render()).length;
  return n;
}

function floorRender(): string {
  let out = '';
  for (let k = 0; k < samples.length; k++)
    out += `${starts[k]}${formatSampleValue(samples[k]!.value)}\n`;
  return out;
}

checkLoad();
const results = await compare(
  [
    {
      name: 'renderMetrics (collector samples)',
      role: 'fpmkit',
      run: () => repeated(() => renderMetrics(samples)),
    },
    {
      name: 'renderMetrics (fresh label objects)',
      role: 'fpmkit',
      run: () => repeated(() => renderMetrics(copied)),
    },
    {
      name: 'prom-client Registry.metrics()',
      role: 'peer',
      run: () => repeated(() => registry.metrics()),
    },
    {
      name: 'floor: line starts made, values joined',
      role: 'floor',
      run: () => repeated(floorRender),
    },
  ],
  { rounds: 30, warmup: 5 },
);
consume(results);
report(
  `${samples.length} samples of ${POOLS} pools, ${REPEAT} renders per run (ms per run)`,
  results,
);
