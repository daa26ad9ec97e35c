import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ping } from '../../src/status/fetch.js';
import { phpFpmBinary } from '../support/integration.js';
import { type Daemon, startDaemon, waitForSockets } from '../support/process.js';

/** A php-fpm 8.2 master with a main file and an included pool file, restartable by the test. */
export interface ApplyStack {
  dir: string;
  confPath: string;
  poolPath: string;
  socketPath: string;
  pidFile: string;
  logPath: string;
  pid(): number;
  restart(): Promise<number>;
  stop(): Promise<void>;
}

export const POOL_TEXT = (socket: string, extra = '') =>
  `; customer pool\n[www]\nlisten = ${socket}\nlisten.mode = 0666\n; sized by the panel\npm = static\npm.max_children = 2\nping.path = /ping\npm.status_path = /status\n${extra}`;

export async function startApplyStack(extra = '', globalExtra = ''): Promise<ApplyStack> {
  const binary = phpFpmBinary().path;
  if (!binary) throw new Error('php-fpm8.2 is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'fpmkit-apply-'));
  mkdirSync(join(dir, 'pool.d'));
  const confPath = join(dir, 'php-fpm.conf');
  const poolPath = join(dir, 'pool.d', 'www.conf');
  const socketPath = join(dir, 'www.sock');
  const pidFile = join(dir, 'fpm.pid');
  const logPath = join(dir, 'fpm.log');
  writeFileSync(
    confPath,
    `; main file\n[global]\npid = ${pidFile}\nerror_log = ${logPath}\ndaemonize = no\n${globalExtra}\ninclude = ${dir}/pool.d/*.conf\n`,
  );
  writeFileSync(poolPath, POOL_TEXT(socketPath, extra));
  let daemon: Daemon;
  const start = async () => {
    rmSync(pidFile, { force: true });
    daemon = startDaemon(binary, ['-F', '-y', confPath, '-p', dir, '-R'], { cwd: dir });
    await waitForSockets([{ path: socketPath }], 10_000, () => daemon.child.exitCode === null);
    return daemon.pid;
  };
  await start();
  return {
    dir,
    confPath,
    poolPath,
    socketPath,
    pidFile,
    logPath,
    pid: () => daemon.pid,
    async restart() {
      await daemon.stop('SIGQUIT', 5000);
      return await start();
    },
    async stop() {
      await daemon.stop('SIGQUIT', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A client loop: pings the socket back to back until stopped, counting answers and failures. */
export function loadLoop(socketPath: string, concurrency = 2) {
  let stopped = false;
  const counts = { ok: 0, failed: 0 };
  const workers = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      try {
        const r = await ping({ socketPath }, { timeoutMs: 3000 });
        if (r.ok) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  });
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return counts;
    },
  };
}

export const readText = (path: string) => readFileSync(path, 'utf8');
