import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { httpStatus, type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll, run } from '../support/process.js';

/**
 * The midnight incident, for real: php-fpm (pm = static, 2 children, listen.backlog = 8) behind
 * nginx on a UNIX socket; a burst fills the accept queue (8 + 1 = 9) and nginx gets EAGAIN; then
 * a SIGUSR2 reload of the master under steady load, with one long request in flight that the
 * default process_control_timeout = 0 kills. The built `fpmkit doctor`, pointed at this test
 * host's config, nginx error log and /proc, must name the overflow with its evidence and fix.
 */

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');

const CHILDREN = 2;
const BACKLOG = 8;

/** Whether `check` came true within `timeoutMs`. */
const until = async (check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> =>
  (await poll(async () => (await check()) || undefined, timeoutMs)) === true;

const findingSchema = z.object({
  code: z.string(),
  severity: z.enum(['error', 'warning', 'info']),
  message: z.string(),
  pool: z.string().optional(),
  evidence: z.record(z.string(), z.unknown()).optional(),
  fix: z.string().optional(),
});
const reportSchema = z.object({
  findings: z.array(findingSchema),
  summary: z.object({ errors: z.number(), warnings: z.number(), text: z.string() }),
  missing: z.array(z.object({ part: z.string(), reason: z.string() })),
  noFpm: z.boolean(),
  files: z.record(z.string(), z.string()),
});

describe.skipIf(!fpmReq.available || !nginxReq.available)(
  `fpmkit doctor on the midnight incident${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let web: StartedNginx | undefined;
    const figures = { burst502: 0, steadyRequests: 0, steady502: 0, longStatus: 0 };

    beforeAll(async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            directives: `pm = static\npm.max_children = ${CHILDREN}\nlisten.backlog = ${BACKLOG}\npm.status_path = /status\n`,
          },
        ],
        scripts: {
          'sleep.php': '<?php usleep(200000); echo "ok";',
          'fast.php': '<?php usleep(2000); echo "ok";',
          'long.php': '<?php usleep(3000000); echo "ok";',
        },
      });
      web = await startNginx({
        http: `server { listen 127.0.0.1:@PORT@ backlog=1024; root ${fpm.wwwDir};
  location ~ \\.php$ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${fpm.pool('www').socketPath}; } }`,
      });

      // The burst: 40 requests at once against 2 children and 9 queue slots.
      const burst = await Promise.all(
        Array.from({ length: 40 }, () => httpStatus(web!.port, '/sleep.php')),
      );
      figures.burst502 = burst.filter((s) => s === 502).length;

      // Let the clock pass two whole seconds: both logs print seconds, and the burst must not
      // share a second with the reload.
      const burstSecond = Math.floor(Date.now() / 1000);
      await until(async () => Math.floor(Date.now() / 1000) >= burstSecond + 2, 5000);

      // Steady load, one request every 10 ms, with a reload in the middle of it.
      const pending: Promise<number>[] = [];
      const timer = setInterval(() => pending.push(httpStatus(web!.port, '/fast.php')), 10);
      const long = httpStatus(web!.port, '/long.php');
      await new Promise((r) => setTimeout(r, 300));
      const readyBefore = (
        (await readFile(fpm.errorLogPath, 'utf8')).match(/ready to handle/g) ?? []
      ).length;
      process.kill(fpm.pid, 'SIGUSR2');
      const reloaded = await until(
        async () =>
          ((await readFile(fpm!.errorLogPath, 'utf8')).match(/ready to handle/g) ?? []).length >
          readyBefore,
        15_000,
      );
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(timer);
      const steady = await Promise.all(pending);
      figures.steadyRequests = steady.length;
      figures.steady502 = steady.filter((s) => s === 502).length;
      figures.longStatus = await long;
      expect(reloaded).toBe(true);
    }, 90_000);

    afterAll(async () => {
      await web?.stop();
      await fpm?.stop();
    });

    it('reports the accept-queue overflow with its evidence and the fix', async () => {
      const r = await run(
        process.execPath,
        [
          bin,
          'doctor',
          '--config',
          fpm!.confPath,
          '--nginx-error-log',
          web!.errorLogPath,
          '--proc-root',
          '/proc',
          '--json',
        ],
        { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 60_000 },
      );
      expect(r.stderr).toBe('');
      const report = reportSchema.parse(JSON.parse(r.stdout));
      const overflow = report.findings.find((f) => f.code === 'live.accept-queue-overflow');
      expect(overflow, r.stdout).toBeDefined();
      const ev = overflow!.evidence!;
      const nginxLog = await web!.errorLog();
      const eagainInLog = (nginxLog.match(/\(11: Resource temporarily unavailable\)/g) ?? [])
        .length;
      console.log(
        `burst 502s ${figures.burst502}; steady ${figures.steadyRequests} requests, ${figures.steady502} 502s; long request ${figures.longStatus}; ` +
          `doctor: eagainCount ${ev.eagainCount} (log lines ${eagainInLog}), effectiveBacklog ${ev.effectiveBacklog}, queueCapacity ${ev.queueCapacity}, queuePeak ${ev.queuePeak}, ` +
          `eagainDuringReload ${ev.eagainDuringReload}, reloadTimes ${JSON.stringify(ev.reloadTimes)}, suggested ${JSON.stringify(ev.suggested)}; exit ${r.exitCode}`,
      );
      expect(figures.burst502).toBeGreaterThan(0);
      expect(ev.eagainCount).toBe(eagainInLog);
      expect(ev.eagainCount).toBeGreaterThanOrEqual(figures.burst502);
      expect(ev.listenBacklog).toBe(BACKLOG);
      expect(ev.effectiveBacklog).toBe(BACKLOG);
      expect(ev.queueCapacity).toBe(BACKLOG + 1);
      expect(ev.queuePeak).toBeGreaterThanOrEqual(BACKLOG + 1);
      expect(ev.socketPath).toBe(fpm!.pool('www').socketPath);
      expect(ev.reloadTimes).toHaveLength(1);
      // Cross-check the reload attribution against the logs' own seconds.
      const fpmLog = await readFile(fpm!.errorLogPath, 'utf8');
      const hms = (re: RegExp) => re.exec(fpmLog)?.[1];
      const started = hms(/\[\S+ (\d\d:\d\d:\d\d)\] NOTICE: Reloading in progress/);
      const ready =
        /Reloading in progress[\s\S]*?\[\S+ (\d\d:\d\d:\d\d)\] NOTICE: ready to handle/.exec(
          fpmLog,
        )?.[1];
      const eagainInReload = nginxLog
        .split('\n')
        .filter((l) => l.includes('(11: Resource temporarily unavailable)'))
        .map((l) => l.slice(11, 19))
        .filter(
          (t) => started !== undefined && ready !== undefined && t >= started && t <= ready,
        ).length;
      expect(ev.eagainDuringReload).toBe(eagainInReload);
      expect(overflow!.pool).toBe('www');
      expect(overflow!.fix).toMatch(/listen\.backlog = \d+/);
      expect(overflow!.fix).toMatch(/net\.core\.somaxconn = \d+/);
      expect(overflow!.fix).toMatch(/process_control_timeout = \d+s/);
      const suggested = ev.suggested as { listenBacklog: number; somaxconn: number };
      expect(suggested.listenBacklog).toBeGreaterThan(BACKLOG);
      expect(suggested.somaxconn).toBeGreaterThanOrEqual(suggested.listenBacklog);
      const fpmFile = Object.entries(report.files).find(([name]) => name.startsWith('changes to '));
      expect(fpmFile?.[1]).toContain(`listen.backlog = ${suggested.listenBacklog}`);
      expect(fpmFile?.[1]).toMatch(/process_control_timeout = 10s?/);
      expect(report.files['sysctl.d/60-php-fpm.conf']).toContain(
        `net.core.somaxconn = ${suggested.somaxconn}`,
      );
      // The long request was in flight at the reload: process_control_timeout = 0 killed it.
      const killed = report.findings.find((f) => f.code === 'live.reload-kills-requests');
      if (figures.longStatus === 502) expect(killed, r.stdout).toBeDefined();
      expect(r.exitCode).toBe(1);
    }, 90_000);

    it('prints the same diagnosis for people', async () => {
      const r = await run(
        process.execPath,
        [
          bin,
          'doctor',
          '--config',
          fpm!.confPath,
          '--nginx-error-log',
          web!.errorLogPath,
          '--no-status',
        ],
        { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 60_000 },
      );
      expect(r.stdout).toMatch(
        /^error {3}live\.accept-queue-overflow \[pool www\] nginx was refused \d+ connection/m,
      );
      expect(r.stdout).toMatch(/effectiveBacklog: 8\n/);
      expect(r.stdout).toMatch(/--- sysctl\.d\/60-php-fpm\.conf \(with the fix applied\) ---/);
      expect(r.stdout).not.toMatch(/\n\s+at .*\.js:\d+/);
      expect(r.exitCode).toBe(1);
    }, 90_000);
  },
);

/**
 * The reload itself overflowing: with process_control_timeout = 3s, a reload waits for a 1.5 s
 * request to finish, and no worker accepts meanwhile; steady load of 100 requests/s that the pool
 * serves easily fills the 9 queue slots within that window.
 */
describe.skipIf(!fpmReq.available || !nginxReq.available)(
  `fpmkit doctor on a reload that waits for a long request${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let web: StartedNginx | undefined;
    let steady502 = 0;
    let before502 = 0;

    beforeAll(async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      fpm = await startPhpFpm({
        global: 'process_control_timeout = 3s',
        pools: [
          {
            name: 'www',
            directives: `pm = static\npm.max_children = ${CHILDREN}\nlisten.backlog = ${BACKLOG}\n`,
          },
        ],
        scripts: {
          'fast.php': '<?php usleep(2000); echo "ok";',
          // The reload's SIGQUIT interrupts a single usleep(); a loop sleeps on to its deadline.
          'long.php':
            '<?php $end = microtime(true) + 1.5; while (microtime(true) < $end) usleep(10000); echo "ok";',
        },
      });
      web = await startNginx({
        http: `server { listen 127.0.0.1:@PORT@ backlog=1024; root ${fpm.wwwDir};
  location ~ \\.php$ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${fpm.pool('www').socketPath}; } }`,
      });
      const pending: Promise<number>[] = [];
      const timer = setInterval(() => pending.push(httpStatus(web!.port, '/fast.php')), 10);
      await new Promise((r) => setTimeout(r, 500));
      before502 = (await Promise.all(pending.slice())).filter((s) => s === 502).length;
      const long = httpStatus(web!.port, '/long.php');
      await new Promise((r) => setTimeout(r, 200));
      const ready = () =>
        readFile(fpm!.errorLogPath, 'utf8').then((t) => (t.match(/ready to handle/g) ?? []).length);
      const readyBefore = await ready();
      process.kill(fpm.pid, 'SIGUSR2');
      const reloaded = await until(async () => (await ready()) > readyBefore, 15_000);
      await new Promise((r) => setTimeout(r, 300));
      clearInterval(timer);
      steady502 = (await Promise.all(pending)).filter((s) => s === 502).length;
      expect(await long).toBe(200);
      expect(reloaded).toBe(true);
    }, 90_000);

    afterAll(async () => {
      await web?.stop();
      await fpm?.stop();
    });

    it('attributes the refusals to the reload', async () => {
      const r = await run(
        process.execPath,
        [
          bin,
          'doctor',
          '--config',
          fpm!.confPath,
          '--nginx-error-log',
          web!.errorLogPath,
          '--json',
        ],
        { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 60_000 },
      );
      const report = reportSchema.parse(JSON.parse(r.stdout));
      const overflow = report.findings.find((f) => f.code === 'live.accept-queue-overflow');
      const reload = report.findings.find((f) => f.code === 'live.reload-overflow');
      console.log(
        `reload with a 1.5 s request in flight: ${before502} 502s before it, ${steady502} 502s in all; doctor: eagainCount ${overflow?.evidence?.eagainCount}, eagainDuringReload ${overflow?.evidence?.eagainDuringReload}, reloads ${JSON.stringify(reload?.evidence?.reloads)}`,
      );
      expect(before502).toBe(0);
      expect(steady502).toBeGreaterThan(0);
      expect(overflow?.evidence?.eagainCount).toBeGreaterThan(0);
      expect(overflow?.evidence?.eagainDuringReload).toBe(overflow?.evidence?.eagainCount);
      expect(reload?.evidence?.eagainDuringReload).toBe(overflow?.evidence?.eagainCount);
      expect(report.findings.some((f) => f.code === 'live.reload-kills-requests')).toBe(false);
      expect(r.exitCode).toBe(1);
    }, 90_000);
  },
);
