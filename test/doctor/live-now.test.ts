import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/doctor/index.js';
import { FastCGIClient } from '../../src/fastcgi/client.js';
import { reloadFpmMaster } from '../../src/host/apply-master.js';
import { readSsListeners, readUnixListenQueues } from '../../src/host/net.js';
import { type ApplyStack, POOL_TEXT, startApplyStack } from '../host/apply-harness.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll, run } from '../support/process.js';

/**
 * The doctor at the moment of the incident, against a real php-fpm 8.2 and the built CLI: a pool
 * saturated by a burst, a configuration with no master, and a backlog a reload did not apply.
 */
const fpmReq = phpFpmBinary();
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const doctor = async (args: string[]) => {
  const r = await run(process.execPath, [bin, 'doctor', '--json', ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    timeoutMs: 60_000,
  });
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
};
const finding = (report: Report, code: string) => report.findings.find((f) => f.code === code);

describe.skipIf(!fpmReq.available)(`fpmkit doctor at the moment itself${fpmReq.reason}`, () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  });

  describe('a pool saturated by a burst', () => {
    let fpm: StartedFpm | undefined;
    const clients: FastCGIClient[] = [];
    afterAll(async () => {
      for (const c of clients) c.close();
      await fpm?.stop();
    });

    it('reports live.saturated-now with the queue depth and capacity, and exits 1', async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'app',
            directives:
              'pm = static\npm.max_children = 2\nlisten.backlog = 16\npm.status_path = /status\n',
          },
        ],
        scripts: { 'sleep.php': '<?php sleep(20); echo "ok";' },
      });
      const socketPath = fpm.pool('app').socketPath!;
      const script = join(fpm.wwwDir, 'sleep.php');
      // 12 requests of 20 s against 2 children: 10 wait in the kernel's queue.
      for (let i = 0; i < 12; i++) {
        const client = new FastCGIClient({ socketPath }, { totalTimeoutMs: 60_000 });
        clients.push(client);
        client
          .request({
            params: { SCRIPT_FILENAME: script, REQUEST_METHOD: 'GET', SCRIPT_NAME: '/sleep.php' },
          })
          .catch(() => {});
      }
      await poll(async () => {
        const q = (await readUnixListenQueues()).find((u) => u.path === socketPath);
        return q !== undefined && q.queued >= 8 ? q : undefined;
      }, 20_000);
      const { exitCode, report } = await doctor(['--config', fpm.confPath]);
      const f = finding(report, 'live.saturated-now');
      expect(f, JSON.stringify(report.findings.map((x) => x.code))).toBeDefined();
      expect(f!.pool).toBe('app');
      const ev = f!.evidence as { queued: number; capacity: number; statusUnavailable: string };
      expect(ev.queued).toBeGreaterThanOrEqual(8);
      expect(ev.capacity).toBe(17);
      expect(ev.statusUnavailable).toBe('timeout');
      expect(report.summary.masters).toBe(1);
      expect(exitCode).toBe(1);
      const text = await run(process.execPath, [bin, 'doctor', '--config', fpm.confPath], {
        env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
        timeoutMs: 60_000,
      });
      console.log(text.stdout);
      expect(text.stdout).toMatch(
        /^error {3}live\.saturated-now \[pool app\] Pool app is saturated now: \d+ connection\(s\) wait in its accept queue \(capacity 17\) and its status page did not answer \(timeout\)/m,
      );
    });
  });

  describe('a configuration with no master running it', () => {
    let dir = '';
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('reports live.fpm-not-running and exits non-zero', async () => {
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-stopped-'));
      const conf = join(dir, 'php-fpm.conf');
      writeFileSync(
        conf,
        `[global]\nerror_log = ${join(dir, 'fpm.log')}\n[app]\nlisten = ${join(dir, 'app.sock')}\npm = static\npm.max_children = 2\n`,
      );
      writeFileSync(
        join(dir, 'fpm.log'),
        "[07-Dec-2026 00:00:01] ERROR: unable to bind listening socket for address '/run/php/x.sock': Permission denied (13)\n[07-Dec-2026 00:00:01] ERROR: FPM initialization failed\n",
      );
      const { exitCode, report } = await doctor(['--config', conf]);
      expect(exitCode).toBe(1);
      const f = finding(report, 'live.fpm-not-running');
      expect(f?.severity).toBe('error');
      expect(f?.evidence).toMatchObject({ configPath: conf, pools: ['app'] });
      expect(f?.evidence?.lastErrors).toHaveLength(2);
      expect(report.summary.masters).toBe(0);
      expect(report.summary.text).toContain('1 configuration(s) with no master running');
    });
  });

  describe('a backlog changed and reloaded', () => {
    let stack: ApplyStack | undefined;
    afterAll(async () => {
      await stack?.stop();
    });

    const liveBacklog = async (path: string) =>
      (await readSsListeners()).find((s) => s.localAddress === path)?.sendQ;

    it('reports live.backlog-drift naming the restart, and nothing once restarted', async () => {
      stack = await startApplyStack('listen.backlog = 16\n');
      const s = stack;
      expect(await liveBacklog(s.socketPath)).toBe(16);
      writeFileSync(s.poolPath, POOL_TEXT(s.socketPath, 'listen.backlog = 64\n'));
      expect(await reloadFpmMaster(s.pid(), 10_000)).toBe(true);
      expect(await liveBacklog(s.socketPath)).toBe(16);

      const before = await doctor(['--config', s.confPath, '--no-status']);
      const drift = finding(before.report, 'live.backlog-drift');
      expect(drift, JSON.stringify(before.report.findings.map((x) => x.code))).toBeDefined();
      expect(drift!.evidence).toMatchObject({ liveBacklog: 16, configuredBacklog: 64 });
      expect(drift!.file).toBe(s.poolPath);
      expect(drift!.line).toBe(
        POOL_TEXT(s.socketPath, 'listen.backlog = 64\n')
          .split('\n')
          .indexOf('listen.backlog = 64') + 1,
      );
      expect(drift!.fix).toMatch(/restart FPM/);
      expect(drift!.fix).toMatch(/a reload keeps the listening socket/);

      await s.restart();
      expect(await liveBacklog(s.socketPath)).toBe(64);
      const after = await doctor(['--config', s.confPath, '--no-status']);
      expect(finding(after.report, 'live.backlog-drift')).toBeUndefined();
    });
  });
});
