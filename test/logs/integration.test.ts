import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FpmLogRecord,
  type NginxAccessEntry,
  type NginxErrorEntry,
  parseFpmLog,
  parseFpmSlowlog,
  parseNginxAccessLog,
  parseNginxErrorLog,
  type SlowlogRecord,
} from '../../src/logs/index.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { freePort, poll } from '../support/process.js';

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();
const reason = fpmReq.reason + nginxReq.reason;

const TIMING =
  '\'$remote_addr - $remote_user [$time_local] "$request" $status rt=$request_time uct="$upstream_connect_time" urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr"\'';

const readOrEmpty = (path: string) => readFile(path, 'utf8').catch(() => '');

/** Reads `path` until `done` holds of its text or 15 s pass; returns the last text read. */
async function readUntil(path: string, done: (text: string) => boolean): Promise<string> {
  const text = await poll(async () => {
    const t = await readOrEmpty(path);
    return done(t) ? t : undefined;
  }, 15_000);
  return text ?? readOrEmpty(path);
}

describe.skipIf(!fpmReq.available || !nginxReq.available)(
  `logs written by a real php-fpm 8.2 and nginx parse strictly${reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let nginx: StartedNginx | undefined;
    let fpmRecords: FpmLogRecord[] = [];
    let nginxErrors: NginxErrorEntry[] = [];
    let access: NginxAccessEntry[] = [];
    let slowlog: SlowlogRecord[] = [];

    beforeAll(async () => {
      fpm = await startPhpFpm({
        global: 'log_level = notice',
        pools: [
          {
            name: 'app',
            directives: [
              'pm = static',
              'pm.max_children = 2',
              'catch_workers_output = yes',
              'request_slowlog_timeout = 1s',
              'request_terminate_timeout = 3s',
              // Relative to the prefix (-p), i.e. the master's temporary directory.
              'slowlog = slow.log',
            ].join('\n'),
          },
        ],
        scripts: {
          'hello.php': '<?php echo "hi";',
          'warn.php':
            '<?php file_put_contents("php://stderr", "oops from a worker\\n"); error_log("logged by error_log"); echo "ok";',
          'sleep.php': '<?php function wait_here() { usleep(6000000); } wait_here();',
        },
      });
      const socket = fpm.pool('app').socketPath!;
      const refusedPort = await freePort();
      nginx = await startNginx({
        http: `
  log_format timing ${TIMING};
  server {
    listen 127.0.0.1:@PORT@;
    access_log @DIR@/timing.log timing;
    root ${fpm.wwwDir};
    location /missing/ {
      fastcgi_pass unix:@DIR@/missing.sock;
      include /etc/nginx/fastcgi_params;
    }
    location /refused/ {
      fastcgi_pass 127.0.0.1:${refusedPort};
      include /etc/nginx/fastcgi_params;
    }
    location / {
      fastcgi_pass unix:${socket};
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    }
  }`,
      });
      const base = `http://127.0.0.1:${nginx.port}`;
      const get = (path: string) =>
        fetch(base + path, { signal: AbortSignal.timeout(15_000) }).then((r) => r.status);
      expect(await get('/hello.php')).toBe(200);
      expect(await get('/warn.php')).toBe(200);
      expect(await get('/missing/x.php')).toBe(502);
      expect(await get('/refused/x.php')).toBe(502);
      // Slow (traced at 1 s) then killed by request_terminate_timeout at 3 s: nginx sees 502.
      expect(await get('/sleep.php')).toBe(502);
      // nginx can answer 502 before the master has reaped the killed worker and logged its exit;
      // a reload sent before that line would race it, so wait for the line first.
      await readUntil(fpm.errorLogPath, (t) => /exited on signal 15 \(SIGTERM\)/.test(t));

      // A reload: the master re-executes itself and logs start lines again.
      process.kill(fpm.pid, 'SIGUSR2');
      const text = await readUntil(
        fpm.errorLogPath,
        (t) => (t.match(/ready to handle connections/g) ?? []).length >= 2,
      );
      fpmRecords = parseFpmLog(text, { strict: true, source: 'fpm.log' });
      slowlog = parseFpmSlowlog(await readOrEmpty(join(fpm.dir, 'slow.log')), { strict: true });
      nginxErrors = parseNginxErrorLog(await nginx.errorLog(), { strict: true }).filter(
        (r): r is NginxErrorEntry => r.kind === 'entry',
      );
      access = parseNginxAccessLog(await readOrEmpty(join(nginx.dir, 'timing.log')), {
        format: `log_format timing ${TIMING};`,
        strict: true,
      }).filter((r): r is NginxAccessEntry => r.kind === 'entry');
    }, 60_000);

    afterAll(async () => {
      await nginx?.stop();
      await fpm?.stop();
    });

    it('classifies the FPM lines of start, slow request, timeout, worker output and reload', () => {
      const kinds = new Set(fpmRecords.map((r) => r.event.kind));
      for (const k of [
        'master_started',
        'ready',
        'slow_request',
        'request_timed_out',
        'child_exited',
        'child_started',
        'worker_output',
        'reload_started',
        'reload_exec',
        'inherited_socket',
      ]) {
        expect(kinds, k).toContain(k);
      }
      const timedOut = fpmRecords.find((r) => r.event.kind === 'request_timed_out')!;
      expect(timedOut.pool).toBe('app');
      expect(timedOut.event).toMatchObject({ method: 'GET', uri: '/sleep.php' });
      const killed = fpmRecords.find(
        (r) => r.event.kind === 'child_exited' && r.event.signalName === 'SIGTERM',
      );
      expect(killed?.childPid).toBe(timedOut.childPid);
      const said = fpmRecords
        .filter((r) => r.event.kind === 'worker_output')
        .map((r) => (r.event.kind === 'worker_output' ? r.event.text : ''));
      expect(said.some((t) => t.includes('oops from a worker'))).toBe(true);
    });

    it('reads the slowlog entry of the slow request, or its failed dump', () => {
      const entries = slowlog.filter((r) => r.kind === 'entry');
      expect(entries).toHaveLength(1);
      const e = entries[0]!;
      expect(e.kind === 'entry' && e.pool).toBe('app');
      if (e.kind === 'entry' && !e.dumpFailed) {
        expect(e.frames.map((f) => f.function)).toContain('wait_here');
      }
    });

    it('classifies nginx upstream errors by errno', () => {
      const classes = nginxErrors.map((e) =>
        e.event.kind === 'upstream_error' ? e.event.class : e.event.kind,
      );
      expect(classes).toContain('socket_missing');
      expect(classes).toContain('connection_refused');
      expect(classes).toContain('fastcgi_stderr');
      expect(classes.some((c) => c === 'connection_reset' || c === 'premature_close')).toBe(true);
      const missing = nginxErrors.find(
        (e) => e.event.kind === 'upstream_error' && e.event.class === 'socket_missing',
      )!;
      expect(missing.request).toBe('GET /missing/x.php HTTP/1.1');
      expect(missing.level).toBe('crit');
    });

    it('reads the access log with upstream timings', () => {
      expect(access.map((a) => [a.uri, a.status])).toEqual([
        ['/hello.php', 200],
        ['/warn.php', 200],
        ['/missing/x.php', 502],
        ['/refused/x.php', 502],
        ['/sleep.php', 502],
      ]);
      expect(access[0]!.upstreamStatus).toEqual([[200]]);
      expect(access[2]!.upstreamConnectTimeSeconds).toBeUndefined();
      expect(access[4]!.requestTimeSeconds).toBeGreaterThanOrEqual(2.9);
    });
  },
);
