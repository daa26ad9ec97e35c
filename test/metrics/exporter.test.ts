import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { readUnixListenQueues } from '../../src/host/index.js';
import { METRIC_FAMILIES } from '../../src/metrics/index.js';
import { statusRequestParams } from '../../src/status/index.js';
import { phpFpmBinary, requireBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll } from '../support/process.js';
import {
  PROMETHEUS_ACCEPT,
  promtoolCheckMetrics,
  promtoolParseOpenMetrics,
  type StartedExporter,
  sampleLines,
  startExporter,
} from './support.js';

const fpmReq = phpFpmBinary();
const promtool = requireBinary('promtool', 'prometheus');
const available = fpmReq.available && promtool.available;
const STATUS = 'pm.status_path = /status\n';

describe.skipIf(!available)(
  `fpmkit exporter against three php-fpm masters${fpmReq.reason}${promtool.reason}`,
  () => {
    let a: StartedFpm;
    let b: StartedFpm;
    let c: StartedFpm;
    let exporter: StartedExporter;

    beforeAll(async () => {
      [a, b, c] = await Promise.all([
        startPhpFpm({
          pools: [
            { name: 'www', listen: 'unix', directives: STATUS },
            {
              name: 'slow',
              listen: 'unix',
              directives: `pm = static\npm.max_children = 1\nlisten.backlog = 8\n${STATUS}`,
            },
          ],
          scripts: { 'sleep.php': '<?php usleep((int)($_GET["ms"] ?? 100) * 1000); echo "slept";' },
        }),
        startPhpFpm({
          pools: [
            {
              name: 'api',
              listen: 'tcp',
              directives: `pm = dynamic\npm.max_children = 4\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2\n${STATUS}`,
            },
          ],
        }),
        startPhpFpm({ pools: [{ name: 'www', listen: 'unix', directives: STATUS }] }),
      ]);
      exporter = await startExporter([
        '--fpm-config',
        a.confPath,
        '--fpm-config',
        b.confPath,
        '--fpm-config',
        c.confPath,
      ]);
    }, 30_000);

    afterAll(async () => {
      await exporter?.stop();
      await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    });

    it('serves 0.0.4 text that promtool check metrics passes, with every pool up and same-named pools apart', async () => {
      const r = await exporter.scrape();
      expect(r.status).toBe(200);
      expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      const check = await promtoolCheckMetrics(r.body);
      console.log(
        `0.0.4: ${r.body.length} bytes, ${sampleLines(r.body).size} samples; promtool check metrics exit ${check.exitCode}, output ${JSON.stringify(check.output)}`,
      );
      expect(check).toEqual({ exitCode: 0, output: '' });
      const lines = sampleLines(r.body);
      const www = [a.pool('www'), c.pool('www')].map(
        (p) => `fpm_up{pool="www",listen="${p.socketPath}"}`,
      );
      expect(www[0]).not.toBe(www[1]);
      for (const key of [...www, `fpm_up{pool="api",listen="${b.pool('api').listen}"}`])
        expect(lines.get(key)).toBe(1);
      expect(lines.get(`fpm_max_children{pool="api",listen="${b.pool('api').listen}"}`)).toBe(4);
      expect(
        lines.get(`fpm_process_manager{pool="api",listen="${b.pool('api').listen}",pm="dynamic"}`),
      ).toBe(1);
      expect(
        lines.get(`fpm_listen_queue_connections{pool="www",listen="${a.pool('www').socketPath}"}`),
      ).toBe(0);
      expect(
        lines.get(
          `fpm_listen_backlog_connections{pool="slow",listen="${a.pool('slow').socketPath}"}`,
        ),
      ).toBe(8);
      // Every family of the catalog except the per-process ones (off by default) and the error
      // series (no pool is failing) is present.
      const names = new Set([...lines.keys()].map((k) => k.replace(/\{.*$/, '')));
      const expected = METRIC_FAMILIES.filter(
        (f) =>
          !('perProcess' in f) &&
          f.name !== 'fpm_scrape_error' &&
          f.name !== 'fpm_cgroup_memory_limit_bytes' &&
          // Only with --nginx-error-log (nginx-errors.test.ts).
          !f.name.startsWith('fpm_nginx_'),
      ).map((f) => f.name);
      expect(expected.filter((n) => !names.has(n))).toEqual([]);
    });

    it("answers Prometheus' Accept with OpenMetrics 1.0 that Prometheus' OpenMetrics parser reads whole", async () => {
      const r = await exporter.scrape({ accept: PROMETHEUS_ACCEPT });
      expect(r.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
      expect(r.body.endsWith('# EOF\n')).toBe(true);
      expect(r.body).toContain('# TYPE fpm_accepted_connections counter\n');
      expect(r.body).toContain('# UNIT fpm_worker_memory_pss_bytes bytes\n');
      const parsed = await promtoolParseOpenMetrics(r.body);
      const samples = sampleLines(r.body).size;
      console.log(
        `OpenMetrics: ${samples} samples; promtool tsdb create-blocks-from openmetrics exit ${parsed.exitCode}, ${parsed.series} series`,
      );
      expect(parsed.exitCode).toBe(0);
      expect(parsed.series).toBe(samples);
    });

    it('a saturated pool: up 0 with reason timeout within the scrape timeout, its kernel queue still reported, one collection shared by concurrent scrapes', async () => {
      const slow = a.pool('slow');
      const client = new FastCGIClient(slow.target);
      const script = join(a.wwwDir, 'sleep.php');
      // One request holds the only worker for 2.5 s; three more wait in the accept queue.
      const held = Array.from({ length: 4 }, () =>
        client
          .request({
            params: { ...statusRequestParams('/sleep.php', 'ms=2500'), SCRIPT_FILENAME: script },
            timeoutMs: 20_000,
          })
          .catch((e: unknown) => e),
      );
      try {
        const queued = await poll(async () => {
          const q = (await readUnixListenQueues()).find((l) => l.path === slow.socketPath);
          return q && q.queued >= 3 ? q.queued : undefined;
        }, 3_000);
        expect(queued).toBeGreaterThanOrEqual(3);
        const scrapes = await Promise.all(
          Array.from({ length: 5 }, () =>
            exporter.scrape({ 'x-prometheus-scrape-timeout-seconds': '1' }),
          ),
        );
        const collections = new Set<number>();
        for (const r of scrapes) {
          expect(r.status).toBe(200);
          expect(r.ms).toBeLessThan(1_000);
          const lines = sampleLines(r.body);
          const labels = `pool="slow",listen="${slow.socketPath}"`;
          expect(lines.get(`fpm_up{${labels}}`)).toBe(0);
          expect(lines.get(`fpm_scrape_error{${labels},reason="timeout"}`)).toBe(1);
          // The queue is read before the exporter's own status request joins it.
          expect(lines.get(`fpm_listen_queue_connections{${labels}}`)).toBeGreaterThanOrEqual(3);
          expect(lines.get(`fpm_up{pool="www",listen="${c.pool('www').socketPath}"}`)).toBe(1);
          collections.add(lines.get('fpmkit_exporter_collections_total')!);
        }
        console.log(
          `5 concurrent scrapes with a 1 s timeout: ${scrapes.map((r) => Math.round(r.ms)).join(', ')} ms; collections seen ${[...collections].join(', ')}`,
        );
        expect(collections.size).toBe(1);
        expect((await promtoolCheckMetrics(scrapes[0]!.body)).exitCode).toBe(0);
      } finally {
        await Promise.all(held);
        client.close();
      }
    }, 30_000);
  },
);

describe.skipIf(!fpmReq.available)(`fpmkit exporter process${fpmReq.reason}`, () => {
  it('a pool that accepts and never answers: up 0, reason timeout, within the deadline; SIGTERM mid-scrape exits 0 at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fpmkit-mute-'));
    const path = join(dir, 'mute.sock');
    const held = new Set<Socket>();
    const mute = createServer((s) => {
      held.add(s);
      s.resume();
      s.on('close', () => held.delete(s));
    });
    await new Promise<void>((r) => mute.listen(path, r));
    const exporter = await startExporter([
      '--target',
      `x=127.0.0.1:1`,
      '--target',
      `mute=${path}`,
      '--deadline',
      '800',
    ]);
    try {
      const r = await exporter.scrape();
      console.log(`mute pool: scrape took ${Math.round(r.ms)} ms with an 800 ms deadline`);
      expect(r.ms).toBeLessThan(800 + 300);
      const lines = sampleLines(r.body);
      expect(lines.get('fpm_up{pool="x",listen="127.0.0.1:1"}')).toBe(0);
      expect(lines.get('fpm_scrape_error{pool="x",listen="127.0.0.1:1",reason="refused"}')).toBe(1);
      expect(lines.get(`fpm_scrape_error{pool="mute",listen="${path}",reason="timeout"}`)).toBe(1);
      expect(lines.get(`fpm_listen_queue_connections{pool="mute",listen="${path}"}`)).toBe(0);
      // The exporter let go of the connection it gave up on.
      expect(await poll(async () => (held.size === 0 ? true : undefined), 2_000)).toBe(true);
      // A second exporter with a long deadline, stopped while its scrape waits on the mute pool.
      const slow = await startExporter(['--target', `mute=${path}`, '--deadline', '30000']);
      const pending = slow.scrape().catch((e: unknown) => e);
      await new Promise((res) => setTimeout(res, 300));
      const started = performance.now();
      await slow.stop();
      const stopMs = performance.now() - started;
      console.log(
        `SIGTERM during a held scrape: exit ${slow.daemon.child.exitCode} after ${Math.round(stopMs)} ms`,
      );
      expect(slow.daemon.child.exitCode).toBe(0);
      expect(stopMs).toBeLessThan(2_000);
      expect(slow.daemon.output()).toContain('stopped');
      await pending;
    } finally {
      await exporter.stop();
      for (const s of held) s.destroy();
      await new Promise((r) => mute.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads its flags from FPMKIT_EXPORTER_* variables and refuses a bad one with exit 2', async () => {
    const exporter = await startExporter([], {
      FPMKIT_EXPORTER_TARGET: 'y=127.0.0.1:1;max_children=3',
      FPMKIT_EXPORTER_TELEMETRY_PATH: '/m',
    });
    try {
      const res = await fetch(`${exporter.url}/m`);
      expect(await res.text()).toContain('fpm_max_children{pool="y",listen="127.0.0.1:1"} 3');
      const page = await (await fetch(`${exporter.url}/`)).text();
      expect(page).toContain('href="/m"');
    } finally {
      await exporter.stop();
    }
    await expect(startExporter(['--deadline', 'soon'])).rejects.toThrow(/--deadline must be/);
  });
});
