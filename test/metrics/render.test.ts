import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  escapeLabelValue,
  METRIC_FAMILIES,
  type MetricFamily,
  type MetricSample,
  negotiateFormat,
  renderMetrics,
} from '../../src/metrics/index.js';
import { requireBinary } from '../support/integration.js';
import { promtoolCheckMetrics, promtoolParseOpenMetrics } from './support.js';

/** Reads a label value back as Prometheus' text parser does. */
function readLabelValue(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

const promtool = requireBinary('promtool', 'prometheus');

describe('metric names', () => {
  it('follow the conventions: counters end in _total, units at the end, no reserved suffix on gauges', () => {
    for (const f of METRIC_FAMILIES as readonly MetricFamily[]) {
      expect(f.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      else expect(f.name).not.toMatch(/_(total|count|sum|bucket|created|info)$/);
      if ('unit' in f)
        expect(f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name).toMatch(
          new RegExp(`_${f.unit}$`),
        );
      expect(f.help.length).toBeGreaterThan(10);
    }
    expect(new Set(METRIC_FAMILIES.map((f) => f.name)).size).toBe(METRIC_FAMILIES.length);
  });
});

describe('label escaping', () => {
  it('escapes backslash, quote and line feed, and reads back to the same value', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (value) => {
        const escaped = escapeLabelValue(value);
        expect(escaped).not.toMatch(/\n/);
        expect(escaped).not.toMatch(/(^|[^\\])(\\\\)*"/);
        expect(readLabelValue(escaped)).toBe(value);
      }),
    );
  });

  it('skips the rebuild for values that need no escape, and agrees with the plain replace', () => {
    const plain = (v: string) =>
      v.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '/', '\\', '"', '\n', 'é', '\r'), maxLength: 20 }),
        (value) => {
          expect(escapeLabelValue(value)).toBe(plain(value));
        },
      ),
    );
  });

  it('renders shared labels objects as it renders a copy per sample', () => {
    // The renderer reuses the label text of a labels object it has seen; copies never hit.
    const families = METRIC_FAMILIES as readonly MetricFamily[];
    const names = families.map((f) => f.name);
    const extras = ['state', 'phase', 'reason', 'pm', 'pid'];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            pool: fc.string({ maxLength: 6 }),
            listen: fc.string({ maxLength: 6 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.boolean(),
        fc.array(
          fc.record({
            name: fc.constantFrom(...names),
            shared: fc.nat(3),
            extra: fc.option(fc.tuple(fc.constantFrom(...extras), fc.string({ maxLength: 4 }))),
            value: fc.double(),
          }),
          { maxLength: 30 },
        ),
        fc.constantFrom('prometheus' as const, 'openmetrics' as const),
        (pools, frozen, picks, format) => {
          // Frozen objects (as the collector's) have their line starts kept across renders.
          const bases = frozen ? pools.map((p) => Object.freeze(p)) : pools;
          const shared: MetricSample[] = picks.map((p) => {
            const base = bases[p.shared % bases.length]!;
            return {
              name: p.name,
              labels: p.extra ? { ...base, [p.extra[0]]: p.extra[1] } : base,
              value: p.value,
            };
          });
          const copied = shared.map((s) => ({ ...s, labels: { ...s.labels } }));
          expect(renderMetrics(shared, format)).toBe(renderMetrics(copied, format));
          expect(renderMetrics(shared, format)).toBe(renderMetrics(copied, format));
        },
      ),
    );
  });

  it.skipIf(!promtool.available)(
    `pool names with every special character pass promtool in both formats${promtool.reason}`,
    async () => {
      const names = fc.sample(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }), {
        numRuns: 60,
        seed: 16,
      });
      names.push('we"ird\\pool\nname', '\\', '"', '\n', '{}=,', '# EOF', 'é中文🙂', ' ');
      const samples: MetricSample[] = names.flatMap((pool, i) => [
        { name: 'fpm_up', labels: { pool, listen: `/run/p${i}.sock` }, value: 1 },
        {
          name: 'fpm_accepted_connections_total',
          labels: { pool, listen: `/run/p${i}.sock` },
          value: i,
        },
      ]);
      const text = await promtoolCheckMetrics(renderMetrics(samples, 'prometheus'));
      expect(text).toEqual({ exitCode: 0, output: '' });
      const om = await promtoolParseOpenMetrics(renderMetrics(samples, 'openmetrics'));
      expect(om.exitCode).toBe(0);
      expect(om.series).toBe(samples.length);
    },
  );
});

describe('renderMetrics', () => {
  const samples: MetricSample[] = [
    { name: 'fpm_accepted_connections_total', labels: { pool: 'www', listen: '/s' }, value: 3 },
    { name: 'fpm_up', labels: { pool: 'www', listen: '/s' }, value: 1 },
    {
      name: 'fpm_status_duration_seconds',
      labels: { pool: 'www', listen: '/s' },
      value: Number.NaN,
    },
    { name: 'not_in_catalog', labels: {}, value: 1 },
  ];

  it('renders 0.0.4 in catalog order and leaves unknown names out', () => {
    expect(renderMetrics(samples)).toBe(
      [
        '# HELP fpm_up 1 when the pool answered its status page within the deadline, 0 otherwise.',
        '# TYPE fpm_up gauge',
        'fpm_up{pool="www",listen="/s"} 1',
        '# HELP fpm_status_duration_seconds Time the status request took (to the deadline when it did not answer).',
        '# TYPE fpm_status_duration_seconds gauge',
        'fpm_status_duration_seconds{pool="www",listen="/s"} NaN',
        '# HELP fpm_accepted_connections_total Requests the pool accepted since it started (status and ping requests included).',
        '# TYPE fpm_accepted_connections_total counter',
        'fpm_accepted_connections_total{pool="www",listen="/s"} 3',
        '',
      ].join('\n'),
    );
  });

  it('renders OpenMetrics with counter families without _total, UNIT lines and # EOF', () => {
    const om = renderMetrics(samples, 'openmetrics');
    expect(om).toContain(
      '# TYPE fpm_accepted_connections counter\nfpm_accepted_connections_total{pool="www",listen="/s"} 3\n',
    );
    expect(om).toContain('# UNIT fpm_status_duration_seconds seconds\n');
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(renderMetrics([], 'openmetrics')).toBe('# EOF\n');
  });

  it('leaves per-process families out when asked', () => {
    const s: MetricSample[] = [
      {
        name: 'fpm_process_requests_total',
        labels: { pool: 'w', listen: '/s', pid: '1' },
        value: 1,
      },
    ];
    expect(renderMetrics(s, 'prometheus', { perProcess: false })).toBe('');
    expect(renderMetrics(s)).toContain('pid="1"');
  });
});

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'prometheus'],
    ['', 'prometheus'],
    ['*/*', 'prometheus'],
    ['text/plain', 'prometheus'],
    ['application/openmetrics-text', 'openmetrics'],
    ['application/openmetrics-text; version=1.0.0', 'openmetrics'],
    ['application/openmetrics-text; version=0.0.1', 'prometheus'],
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      'openmetrics',
    ],
    [
      'text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5',
      'prometheus',
    ],
    ['application/openmetrics-text;q=0', 'prometheus'],
    ['application/json', 'prometheus'],
  ])('%j → %s', (accept, format) => {
    expect(negotiateFormat(accept).format).toBe(format);
  });
});
