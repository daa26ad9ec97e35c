import { appendFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NginxErrorTail } from '../../src/metrics/nginx-errors.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { httpStatus, type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll } from '../support/process.js';
import { type StartedExporter, sampleLines, startExporter } from './support.js';

const EAGAIN_LINE = (n: number, path: string) =>
  `2026/11/21 08:47:3${n % 10} [error] 2799#2799: *72${n} connect() to unix:${path} failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: x, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:${path}:", host: "x"\n`;
const TIMEOUT_LINE = (hostPort: string) =>
  `2026/11/21 08:47:40 [error] 2799#2799: *9 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: x, request: "GET /t.php HTTP/1.1", upstream: "fastcgi://${hostPort}", host: "x"\n`;

describe('NginxErrorTail', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-ngxtail-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts only lines appended after it started, a partial line when it is finished, and starts over after rotation', async () => {
    const log = join(dir, 'error.log');
    await writeFile(log, EAGAIN_LINE(0, '/run/a.sock'));
    const tail = new NginxErrorTail(log);
    await tail.read();
    expect(tail.countsFor('/run/a.sock')).toEqual({ eagain: 0, timedOut: 0 });
    const line = EAGAIN_LINE(1, '/run/a.sock');
    await appendFile(log, line.slice(0, 40));
    await tail.read();
    expect(tail.countsFor('/run/a.sock').eagain).toBe(0);
    await appendFile(
      log,
      line.slice(40) + EAGAIN_LINE(2, '/run/b.sock') + TIMEOUT_LINE('127.0.0.1:9001'),
    );
    await tail.read();
    expect(tail.countsFor('/run/a.sock')).toEqual({ eagain: 1, timedOut: 0 });
    expect(tail.countsFor('/run/b.sock')).toEqual({ eagain: 1, timedOut: 0 });
    expect(tail.countsFor('127.0.0.1:9001')).toEqual({ eagain: 0, timedOut: 1 });
    expect(tail.countsFor('9001')).toEqual({ eagain: 0, timedOut: 1 });
    expect(tail.countsFor('127.0.0.1:9002')).toEqual({ eagain: 0, timedOut: 0 });
    await rename(log, `${log}.1`);
    await writeFile(log, EAGAIN_LINE(3, '/run/a.sock') + EAGAIN_LINE(4, '/run/a.sock'));
    await tail.read();
    expect(tail.countsFor('/run/a.sock').eagain).toBe(3);
    // More than the read limit at once: the older part is skipped and counted as skipped.
    const small = new NginxErrorTail(log, 1000);
    await small.read();
    await appendFile(
      log,
      Array.from({ length: 20 }, (_, i) => EAGAIN_LINE(i, '/run/a.sock')).join(''),
    );
    await small.read();
    expect(small.countsFor('/run/a.sock').eagain).toBeGreaterThan(0);
    expect(small.countsFor('/run/a.sock').eagain).toBeLessThan(20);
    expect(small.skippedBytes).toBeGreaterThan(0);
  });
});

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();

describe.skipIf(!fpmReq.available || !nginxReq.available)(
  `--nginx-error-log with a real nginx in front of php-fpm${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm;
    let web: StartedNginx;
    let exporter: StartedExporter;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'burst',
            listen: 'unix',
            directives:
              'pm = static\npm.max_children = 1\nlisten.backlog = 2\npm.status_path = /status\n',
          },
          {
            name: 'slow',
            listen: 'tcp',
            directives: 'pm = static\npm.max_children = 2\npm.status_path = /status\n',
          },
          { name: 'calm', listen: 'unix', directives: 'pm.status_path = /status\n' },
        ],
        scripts: { 'sleep.php': '<?php usleep((int)($_GET["ms"] ?? 100) * 1000); echo "slept";' },
      });
      const slow = fpm.pool('slow');
      web = await startNginx({
        http: `server { listen 127.0.0.1:@PORT@; root ${fpm.wwwDir};
  location /burst/ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME ${join(fpm.wwwDir, 'sleep.php')};
    fastcgi_pass unix:${fpm.pool('burst').socketPath}; }
  location /slow/ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME ${join(fpm.wwwDir, 'sleep.php')};
    fastcgi_read_timeout 1s;
    fastcgi_pass ${slow.host}:${slow.port}; } }`,
      });
      exporter = await startExporter([
        '--fpm-config',
        fpm.confPath,
        '--nginx-error-log',
        web.errorLogPath,
        '--no-memory',
      ]);
    }, 30_000);

    afterAll(async () => {
      await exporter?.stop();
      await web?.stop();
      await fpm?.stop();
    });

    it("counts each pool's EAGAIN and timeout lines as the log has them, the other pools 0", async () => {
      const burst = fpm.pool('burst');
      const slow = fpm.pool('slow');
      const calm = fpm.pool('calm');
      const key = (family: string, name: string, listen: string) =>
        `${family}{pool="${name}",listen="${listen}"}`;
      const first = sampleLines((await exporter.scrape()).body);
      expect(first.get(`fpm_nginx_error_log_readable{path="${web.errorLogPath}"}`)).toBe(1);
      expect(first.get(key('fpm_nginx_upstream_eagain_total', 'burst', burst.socketPath!))).toBe(0);

      const statuses = await Promise.all([
        ...Array.from({ length: 16 }, () => httpStatus(web.port, '/burst/?ms=1500')),
        httpStatus(web.port, '/slow/?ms=3000'),
      ]);
      const log = await readFile(web.errorLogPath, 'utf8');
      const eagainLines = log
        .split('\n')
        .filter((l) => l.includes(`unix:${burst.socketPath} failed (11:`)).length;
      const timeoutLines = log
        .split('\n')
        .filter(
          (l) => l.includes('upstream timed out') && l.includes(`${slow.host}:${slow.port}`),
        ).length;
      console.log(
        `nginx answered ${statuses.join(',')}; the log has ${eagainLines} EAGAIN line(s) for burst, ${timeoutLines} timeout line(s) for slow`,
      );
      expect(eagainLines).toBeGreaterThan(0);
      expect(timeoutLines).toBe(1);
      const counted = await poll(
        async () => {
          const s = sampleLines((await exporter.scrape()).body);
          return s.get(key('fpm_nginx_upstream_eagain_total', 'burst', burst.socketPath!)) ===
            eagainLines
            ? s
            : undefined;
        },
        10_000,
        200,
      );
      expect(counted).toBeDefined();
      expect(counted!.get(key('fpm_nginx_upstream_timed_out_total', 'slow', slow.listen))).toBe(1);
      expect(counted!.get(key('fpm_nginx_upstream_eagain_total', 'slow', slow.listen))).toBe(0);
      expect(counted!.get(key('fpm_nginx_upstream_eagain_total', 'calm', calm.socketPath!))).toBe(
        0,
      );
      expect(
        counted!.get(key('fpm_nginx_upstream_timed_out_total', 'burst', burst.socketPath!)),
      ).toBe(0);
    }, 60_000);
  },
);
