import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderSimulationSvg, simulatePool } from '../../src/sizing/index.js';
import { requireBinary } from '../support/integration.js';

/**
 * Opens the chart in headless Chromium and reads back what it drew: a script in the page
 * measures every polyline's points and every tick label in screen coordinates, maps the
 * points back through the axis ticks, and the test compares them with the series.
 */
const chromium = requireBinary('chromium', 'chromium');

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const MEASURE = `<script>
addEventListener('load', () => {
  const svg = document.querySelector('svg');
  const pt = (el, x, y) => { const p = svg.createSVGPoint(); p.x = x; p.y = y; const m = el.getScreenCTM(); const q = p.matrixTransform(m); return [q.x, q.y]; };
  const out = { lines: {}, bars: {}, ticks: {}, legend: [], title: document.querySelector('.title').textContent };
  for (const el of document.querySelectorAll('polyline.series')) {
    out.lines[el.dataset.series] = Array.from(el.points, (p) => pt(el, p.x, p.y));
  }
  for (const g of document.querySelectorAll('g.series')) {
    out.bars[g.dataset.series] = Array.from(g.querySelectorAll('rect'), (r) => { const b = r.getBoundingClientRect(); return [b.left, b.top, b.bottom]; });
  }
  for (const g of document.querySelectorAll('g.axis')) {
    out.ticks[g.dataset.axis] = Array.from(g.querySelectorAll('text.tick'), (t) => { const b = t.getBoundingClientRect(); return [Number(t.textContent), b.left + b.width / 2, b.top + b.height / 2]; });
  }
  for (const t of document.querySelectorAll('g.legend text')) out.legend.push(t.textContent);
  const pre = document.createElement('pre'); pre.id = 'out'; pre.textContent = JSON.stringify(out); document.body.append(pre);
});
</script>`;

/** Linear map fitted through two ticks: screen coordinate → value. */
function axisMap(ticks: number[][], coord: 1 | 2): (c: number) => number {
  const a = ticks[0]!;
  const b = ticks.at(-1)!;
  return (c) => a[0]! + ((c - a[coord]!) * (b[0]! - a[0]!)) / (b[coord]! - a[coord]!);
}

describe.skipIf(!chromium.available)(`the simulation chart in Chromium${chromium.reason}`, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-svg-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('draws every point, axis and label of the series', async () => {
    const result = simulatePool(
      {
        pm: {
          mode: 'dynamic',
          maxChildren: 20,
          startServers: 2,
          minSpareServers: 2,
          maxSpareServers: 4,
        },
        listen: { backlog: 30 },
      },
      [
        { kind: 'poisson', ratePerSecond: 20, durationSeconds: 30 },
        { kind: 'burst', requests: 120, atSeconds: 5, spreadSeconds: 0.02 },
      ],
      {
        serviceTimeSeconds: 0.2,
        reloadsAtSeconds: [18],
        processControlTimeoutSeconds: 2,
        durationSeconds: 30,
      },
    );
    const series = result.series;
    const svg = renderSimulationSvg(series, { title: 'dynamic pool <burst & reload>' });
    const svgPath = join(dir, 'chart.svg');
    await writeFile(svgPath, svg);
    const htmlPath = join(dir, 'chart.html');
    await writeFile(
      htmlPath,
      `<!doctype html><html><body style="margin:0">${svg}${MEASURE}</body></html>`,
    );
    const profile = (name: string) => `--user-data-dir=${join(dir, name)}`;
    const dump = spawnSync(
      chromium.path!,
      [...FLAGS, profile('a'), '--dump-dom', `file://${htmlPath}`],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const json = dump.stdout.match(/<pre id="out">(.*?)<\/pre>/s)?.[1];
    expect(json, dump.stderr).toBeDefined();
    const drawn = JSON.parse(
      json!
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    ) as {
      lines: Record<string, number[][]>;
      bars: Record<string, number[][]>;
      ticks: Record<string, number[][]>;
      legend: string[];
      title: string;
    };
    expect(drawn.title).toBe('dynamic pool <burst & reload>');
    expect(drawn.legend).toEqual([
      'children',
      'idle children',
      'queue depth (peak)',
      'queue capacity',
      '502 per interval',
      '504 per interval',
    ]);
    // Time axis labelled 0 ... 30 s, left to right.
    const time = drawn.ticks['refusals-x']!;
    expect(time[0]![0]).toBe(0);
    expect(time.at(-1)![0]).toBeGreaterThanOrEqual(30);
    const tOf = axisMap(time, 1);
    const vOf = axisMap(drawn.ticks['processes-y']!, 2);
    expect(drawn.ticks['processes-y']!.at(-1)![0]).toBeGreaterThanOrEqual(series.queueCapacity);
    for (const key of ['children', 'idle', 'queuePeak'] as const) {
      const points = drawn.lines[key]!;
      expect(points).toHaveLength(series.timeSeconds.length);
      points.forEach(([x, y], i) => {
        expect(tOf(x!)).toBeCloseTo(series.timeSeconds[i]!, 1);
        expect(Math.abs(vOf(y!) - series[key][i]!)).toBeLessThan(0.5);
      });
    }
    for (const [, y] of drawn.lines.queueCapacity!)
      expect(Math.abs(vOf(y!) - series.queueCapacity)).toBeLessThan(0.5);
    // One bar per interval with 502s, as tall as the count.
    const rOf = axisMap(drawn.ticks['refusals-y']!, 2);
    const with502 = series.status502.flatMap((v, i) => (v > 0 ? [[i, v]] : []));
    expect(with502.length).toBeGreaterThan(0);
    expect(drawn.bars.status502).toHaveLength(with502.length);
    drawn.bars.status502!.forEach(([left, top], j) => {
      const [i, v] = with502[j]!;
      expect(Math.round(tOf(left!))).toBe(series.timeSeconds[i!]);
      expect(Math.abs(rOf(top!) - v!)).toBeLessThan(0.5);
    });

    const png = join(dir, 'chart.png');
    const shot = spawnSync(
      chromium.path!,
      [...FLAGS, profile('b'), `--screenshot=${png}`, '--window-size=960,540', `file://${svgPath}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect((await stat(png)).size, shot.stderr).toBeGreaterThan(10_000);
    if (process.env.FPMKIT_KEEP_CHART)
      await writeFile(process.env.FPMKIT_KEEP_CHART, await readFile(png));
  }, 120_000);
});
