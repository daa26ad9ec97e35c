import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../support/integration.js';
import { type Daemon, startDaemon, waitForSockets } from '../support/process.js';

/** FastCGI servers other than php-fpm, started per test in a temporary directory. */

export const phpCgiBinary = () => requireBinary('php-cgi8.2', 'php8.2-cgi');
export const fcgiwrapBinary = () => requireBinary('fcgiwrap', 'fcgiwrap');

export interface StartedPeer {
  dir: string;
  socketPath: string;
  /** `unix:<socketPath>` */
  target: string;
  pid: number;
  daemon: Daemon;
  stop(): Promise<void>;
}

async function startPeer(
  binary: string,
  args: (socketPath: string) => string[],
  files: Record<string, { body: string; mode: number }>,
  prefix: string,
): Promise<StartedPeer> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  for (const [name, { body, mode }] of Object.entries(files)) {
    await writeFile(join(dir, name), body, { mode });
  }
  const socketPath = join(dir, 'peer.sock');
  // A clean environment: the peer must not pick up the test runner's PHP or CGI settings.
  const daemon = startDaemon(binary, args(socketPath), {
    cwd: dir,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
  });
  const stop = async () => {
    await daemon.stop('SIGTERM', 3000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForSockets([{ path: socketPath }], 10_000, () => daemon.child.exitCode === null);
  } catch (error) {
    await stop();
    throw new Error(`${binary} did not start: ${(error as Error).message}\n${daemon.output()}`);
  }
  return { dir, socketPath, target: `unix:${socketPath}`, pid: daemon.pid, daemon, stop };
}

/**
 * Starts `php-cgi8.2 -b <socket>` (PHP's CGI SAPI speaks FastCGI when bound), without any
 * php.ini (`-n`), serving the given scripts from its directory.
 */
export async function startPhpCgi(scripts: Record<string, string>): Promise<StartedPeer> {
  const binary = phpCgiBinary().path;
  if (!binary) throw new Error('php-cgi8.2 is not installed');
  const files = Object.fromEntries(
    Object.entries(scripts).map(([name, body]) => [name, { body, mode: 0o644 }]),
  );
  return startPeer(binary, (socket) => ['-n', '-b', socket], files, 'fpmkit-phpcgi-');
}

/** Starts `fcgiwrap -s unix:<socket>` with the given executable CGI programs in its directory. */
export async function startFcgiwrap(programs: Record<string, string>): Promise<StartedPeer> {
  const binary = fcgiwrapBinary().path;
  if (!binary) throw new Error('fcgiwrap is not installed');
  const files = Object.fromEntries(
    Object.entries(programs).map(([name, body]) => [name, { body, mode: 0o755 }]),
  );
  return startPeer(binary, (socket) => ['-s', `unix:${socket}`], files, 'fpmkit-fcgiwrap-');
}
