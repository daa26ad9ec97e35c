import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HIPAGES_FAMILIES } from '../../src/metrics/index.js';
import { phpFpmBinary, requireBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import {
  promtoolCheckMetrics,
  type StartedExporter,
  sampleLines,
  startExporter,
} from './support.js';

/**
 * hipages/php-fpm_exporter's families as its phpfpm/exporter.go declares them (commit 0ef3d97):
 * name, the value type it sends, and the label names in order. Written out here by hand, so a
 * change to the catalog that drifts from that exporter fails.
 */
const HIPAGES_TABLE: readonly [string, 'gauge' | 'counter', string[]][] = [
  ['phpfpm_up', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_scrape_failures', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_start_since', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_accepted_connections', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_listen_queue', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_max_listen_queue', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_listen_queue_length', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_idle_processes', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_active_processes', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_total_processes', 'gauge', ['pool', 'scrape_uri']],
  ['phpfpm_max_active_processes', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_max_children_reached', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_slow_requests', 'counter', ['pool', 'scrape_uri']],
  ['phpfpm_process_requests', 'counter', ['pool', 'child', 'scrape_uri']],
  ['phpfpm_process_last_request_memory', 'gauge', ['pool', 'child', 'scrape_uri']],
  ['phpfpm_process_last_request_cpu', 'gauge', ['pool', 'child', 'scrape_uri']],
  ['phpfpm_process_request_duration', 'gauge', ['pool', 'child', 'scrape_uri']],
  ['phpfpm_process_state', 'gauge', ['pool', 'child', 'state', 'scrape_uri']],
];

/** The phpfpm_* names the queries of that exporter's published dashboard (grafana/kubernetes-php-fpm.json) use. */
const DASHBOARD_NAMES = [
  'phpfpm_up',
  'phpfpm_scrape_failures',
  'phpfpm_accepted_connections',
  'phpfpm_active_processes',
  'phpfpm_idle_processes',
  'phpfpm_total_processes',
  'phpfpm_listen_queue',
  'phpfpm_max_children_reached',
  'phpfpm_process_request_duration',
  'phpfpm_process_requests',
  'phpfpm_process_state',
];

/** Label names of one sample line `name{a="x",b="y"}`, in order. */
function labelNames(series: string): string[] {
  const open = series.indexOf('{');
  if (open < 0) return [];
  return [...series.slice(open).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)].map(
    (m) => m[1]!,
  );
}

it('the compatibility catalog is the table read from that exporter', () => {
  expect(HIPAGES_FAMILIES.map((f) => [f.name, f.type, [...f.labels]])).toEqual(HIPAGES_TABLE);
});

const fpmReq = phpFpmBinary();
const promtool = requireBinary('promtool', 'prometheus');

describe.skipIf(!fpmReq.available || !promtool.available)(
  `--compat hipages against php-fpm${fpmReq.reason}${promtool.reason}`,
  () => {
    let fpm: StartedFpm;
    let tcp: StartedFpm;
    let exporter: StartedExporter;

    beforeAll(async () => {
      [fpm, tcp] = await Promise.all([
        startPhpFpm({
          pools: [{ name: 'www', listen: 'unix', directives: 'pm.status_path = /status\n' }],
        }),
        startPhpFpm({
          pools: [{ name: 'api', listen: 'tcp', directives: 'pm.status_path = /fpm-status\n' }],
        }),
      ]);
      exporter = await startExporter([
        '--compat',
        'hipages',
        '--fpm-config',
        fpm.confPath,
        '--fpm-config',
        tcp.confPath,
        '--target',
        'gone=/nonexistent/fpmkit-gone.sock',
      ]);
    }, 30_000);

    afterAll(async () => {
      await exporter?.stop();
      await Promise.all([fpm?.stop(), tcp?.stop()]);
    });

    it('emits every family of the table with its type and labels, and the scrape_uri form of that exporter', async () => {
      // Prometheus' default Accept ranks OpenMetrics first; the compat mode answers 0.0.4.
      const r = await exporter.scrape({ accept: 'application/openmetrics-text;version=1.0.0' });
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      const types = new Map(
        [...r.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
      );
      const lines = [...sampleLines(r.body).keys()];
      for (const [name, type, labels] of HIPAGES_TABLE) {
        expect(types.get(name), name).toBe(type);
        const series = lines.filter((l) => l.startsWith(`${name}{`));
        expect(series.length, name).toBeGreaterThan(0);
        for (const s of series) expect(labelNames(s), s).toEqual(labels);
      }
      for (const name of DASHBOARD_NAMES) expect(types.has(name), name).toBe(true);
      // fpmkit's own families are still there.
      expect(types.get('fpm_up')).toBe('gauge');

      const www = fpm.pool('www');
      const api = tcp.pool('api');
      const samples = sampleLines(r.body);
      expect(
        samples.get(`phpfpm_up{pool="www",scrape_uri="unix://${www.socketPath};/status"}`),
      ).toBe(1);
      expect(
        samples.get(`phpfpm_up{pool="api",scrape_uri="tcp://${api.host}:${api.port}/fpm-status"}`),
      ).toBe(1);
      const gone = 'pool="gone",scrape_uri="unix:///nonexistent/fpmkit-gone.sock;/status"';
      expect(samples.get(`phpfpm_up{${gone}}`)).toBe(0);
      expect(samples.get(`phpfpm_scrape_failures{${gone}}`)).toBeGreaterThanOrEqual(1);
      // Two static workers, each listed in all six states with exactly one at 1.
      for (const child of ['0', '1']) {
        const states = lines.filter((l) =>
          l.startsWith(`phpfpm_process_state{pool="www",child="${child}",state=`),
        );
        expect(states).toHaveLength(6);
        expect(states.reduce((n, l) => n + samples.get(l)!, 0)).toBe(1);
      }
      const total = samples.get(
        `phpfpm_total_processes{pool="www",scrape_uri="unix://${www.socketPath};/status"}`,
      );
      expect(total).toBe(2);

      const again = await exporter.scrape();
      expect(sampleLines(again.body).get(`phpfpm_scrape_failures{${gone}}`)).toBeGreaterThan(
        samples.get(`phpfpm_scrape_failures{${gone}}`)!,
      );

      // promtool parses the body; its only complaints are the missing _total suffix on the
      // counters that exporter names without one (its own output draws the same).
      const check = await promtoolCheckMetrics(r.body);
      console.log(`promtool check metrics exit ${check.exitCode}:\n${check.output}`);
      const complaints = check.output.split('\n').filter((l) => l.trim() !== '');
      const counters = HIPAGES_TABLE.filter(([, t]) => t === 'counter').map(([n]) => n);
      expect(complaints.sort()).toEqual(
        counters.map((n) => `${n} counter metrics should have "_total" suffix`).sort(),
      );
      const withoutCompat = r.body
        .split('\n')
        .filter((l) => !/^(# (HELP|TYPE) )?phpfpm_/.test(l))
        .join('\n');
      const clean = await promtoolCheckMetrics(withoutCompat);
      expect(clean.output.trim()).toBe('');
      expect(clean.exitCode).toBe(0);
    });
  },
);
