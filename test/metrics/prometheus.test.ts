import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { parseSs } from '../../src/kernel/index.js';
import { DASHBOARD_PANELS, METRIC_FAMILIES, renderAlertRules } from '../../src/metrics/index.js';
import { statusRequestParams } from '../../src/status/index.js';
import { phpFpmBinary, requireBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { type Daemon, freePort, poll, run, startDaemon } from '../support/process.js';
import { type StartedExporter, sampleLines, startExporter } from './support.js';

const fpmReq = phpFpmBinary();
const prometheusReq = requireBinary('prometheus', 'prometheus');
const available = fpmReq.available && prometheusReq.available;
const STATUS = 'pm.status_path = /status\n';

interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!available)(
  `a real Prometheus scraping fpmkit exporter${fpmReq.reason}${prometheusReq.reason}`,
  () => {
    let a: StartedFpm;
    let b: StartedFpm;
    let c: StartedFpm;
    let exporter: StartedExporter;
    let prometheus: Daemon;
    let dir: string;
    let api: string;

    const query = async (expr: string): Promise<PromVector[]> => {
      const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        status: string;
        data?: { result: PromVector[] };
        error?: string;
      };
      if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
      return body.data!.result;
    };

    beforeAll(async () => {
      [a, b, c] = await Promise.all([
        startPhpFpm({
          pools: [
            { name: 'www', listen: 'unix', directives: STATUS },
            {
              name: 'burst',
              listen: 'unix',
              directives: `pm = static\npm.max_children = 1\nlisten.backlog = 4\n${STATUS}`,
            },
          ],
          scripts: { 'sleep.php': '<?php usleep((int)($_GET["ms"] ?? 100) * 1000); echo "slept";' },
        }),
        startPhpFpm({
          pools: [
            {
              name: 'api',
              listen: 'tcp',
              directives: `pm = ondemand\npm.max_children = 3\n${STATUS}`,
            },
          ],
        }),
        startPhpFpm({ pools: [{ name: 'www', listen: 'unix', directives: STATUS }] }),
      ]);
      // An nginx error log (empty: the counters are 0) so the nginx families are scraped too.
      await writeFile(join(a.dir, 'nginx-error.log'), '');
      exporter = await startExporter([
        '--per-process',
        '--nginx-error-log',
        join(a.dir, 'nginx-error.log'),
        '--fpm-config',
        a.confPath,
        '--fpm-config',
        b.confPath,
        '--fpm-config',
        c.confPath,
      ]);
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-prom-'));
      await writeFile(join(dir, 'rules.yml'), renderAlertRules({ acceptQueueFor: '0s' }));
      await writeFile(
        join(dir, 'prometheus.yml'),
        JSON.stringify({
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: [join(dir, 'rules.yml')],
          scrape_configs: [
            { job_name: 'fpmkit', static_configs: [{ targets: [`127.0.0.1:${exporter.port}`] }] },
          ],
        }),
      );
      const port = await freePort();
      api = `http://127.0.0.1:${port}`;
      prometheus = startDaemon(prometheusReq.path!, [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ]);
      const ready = await poll(
        async () => {
          const r = await fetch(`${api}/-/ready`).catch(() => undefined);
          return r?.ok ? true : undefined;
        },
        20_000,
        200,
      );
      if (!ready) throw new Error(`prometheus did not start:\n${prometheus.output()}`);
    }, 60_000);

    afterAll(async () => {
      await prometheus?.stop('SIGTERM', 10_000);
      await exporter?.stop();
      await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('every target up, every panel query answers, and the accept-queue alert fires during a real burst', async () => {
      const up = await poll(
        async () => {
          const r = await query('up{job="fpmkit"}');
          return r.length === 1 && r[0]!.value[1] === '1' ? r : undefined;
        },
        15_000,
        250,
      );
      expect(up).toBeDefined();
      const pools = await poll(
        async () => {
          const r = await query('fpm_up == 1');
          return r.length === 4 ? r : undefined;
        },
        10_000,
        250,
      );
      expect(pools?.map((p) => p.metric.pool).sort()).toEqual(['api', 'burst', 'www', 'www']);
      // Rates and increases need two samples in their window.
      await new Promise((r) => setTimeout(r, 3_000));
      const empty: string[] = [];
      for (const panel of DASHBOARD_PANELS) {
        const r = await query(panel.expr.replaceAll('$pool', '.+'));
        if (r.length === 0) empty.push(panel.title);
      }
      console.log(`${DASHBOARD_PANELS.length} panel queries, empty: ${JSON.stringify(empty)}`);
      expect(empty).toEqual([]);

      // The burst: one worker, backlog 4, eight clients each holding a request for 3 s.
      const burst = a.pool('burst');
      const client = new FastCGIClient(burst.target);
      const script = join(a.wwwDir, 'sleep.php');
      const started = Date.now();
      const held = Array.from({ length: 8 }, () =>
        client
          .request({
            params: { ...statusRequestParams('/sleep.php', 'ms=3000'), SCRIPT_FILENAME: script },
            timeoutMs: 40_000,
          })
          .catch((e: unknown) => e),
      );
      try {
        // During the burst, scrapes answer within their deadline and report the queue as ss sees it.
        const comparisons: string[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await exporter.scrape({ 'x-prometheus-scrape-timeout-seconds': '1' });
          const ss = await run('ss', ['-xl']);
          const row = parseSs(ss.output).find((s) => s.localAddress === burst.socketPath);
          const reported = sampleLines(r.body).get(
            `fpm_listen_queue_connections{pool="burst",listen="${burst.socketPath}"}`,
          );
          comparisons.push(
            `${Math.round(r.ms)} ms: exporter ${reported}, ss ${row?.recvQ}/${row?.sendQ}`,
          );
          expect(r.ms).toBeLessThan(1_000);
          expect(Math.abs((reported ?? -99) - (row?.recvQ ?? 99))).toBeLessThanOrEqual(1);
          await new Promise((res) => setTimeout(res, 200));
        }
        console.log(`during the burst: ${comparisons.join('; ')}`);
        const firing = await poll(
          async () => {
            const res = await fetch(`${api}/api/v1/alerts`);
            const body = (await res.json()) as {
              data: { alerts: { labels: Record<string, string>; state: string }[] };
            };
            return body.data.alerts.find(
              (al) =>
                al.labels.alertname === 'FpmAcceptQueueNearCapacity' &&
                al.labels.pool === 'burst' &&
                al.state === 'firing',
            );
          },
          15_000,
          250,
        );
        console.log(
          `FpmAcceptQueueNearCapacity firing ${firing ? `after ${Date.now() - started} ms` : 'never'}`,
        );
        expect(firing).toBeDefined();
      } finally {
        await Promise.all(held);
        client.close();
      }

      const present = new Set(
        (await query('count by (__name__) ({__name__=~"fpm_.+|fpmkit_.+"})')).map(
          (r) => r.metric.__name__,
        ),
      );
      // fpm_cgroup_memory_limit_bytes is documented as absent when no cgroup limit applies.
      const missing = METRIC_FAMILIES.map((f) => f.name).filter((n) => !present.has(n));
      console.log(`${present.size} families in Prometheus; missing: ${JSON.stringify(missing)}`);
      expect(missing.filter((n) => n !== 'fpm_cgroup_memory_limit_bytes')).toEqual([]);
    }, 120_000);
  },
);
