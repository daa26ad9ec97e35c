import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debian13Root } from './debian13.js';
import { isRoot, phpFpmBinary } from './integration.js';
import {
  type Daemon,
  freePort,
  type ProbeTarget,
  run,
  startDaemon,
  waitForSockets,
} from './process.js';

export interface FpmPoolSpec {
  name: string;
  /**
   * How the pool listens; a socket path or a free port is chosen at run time. `unix-relative`
   * writes `listen = NAME.sock`, which FPM resolves against the prefix (`-p`, the temporary
   * directory). @default 'unix'
   */
  listen?: 'unix' | 'unix-relative' | 'tcp' | 'tcp6';
  /** Extra directive lines for the pool. Without a `pm` line the pool is `pm = static`, 2 children. */
  directives?: string;
}

export interface StartFpmOptions {
  pools: FpmPoolSpec[];
  /** Extra `[global]` lines. */
  global?: string;
  /** PHP scripts to write into the document root, by file name. */
  scripts?: Record<string, string>;
  /** Extra environment for the master. */
  env?: Record<string, string>;
  /**
   * Which FPM runs: Debian 12's 8.2, or Debian 13's 8.4 through chroot into the root that
   * `.ci/debian13-root` builds (its files then live under that root's /tmp). @default '8.2'
   */
  version?: FpmVersion;
}

/** The FPM versions the tests can start. */
export type FpmVersion = '8.2' | '8.4';

/**
 * How to run FPM of a version: the command and leading arguments, the directory to create
 * temporary files in, and how a path there is named inside the process's root.
 */
function fpmRunner(version: FpmVersion): {
  command: string;
  leading: string[];
  tmp: string;
  inside(path: string): string;
} {
  if (version === '8.4') {
    const root = debian13Root();
    if (!root.path) throw new Error(`the Debian 13 root is missing${root.reason}`);
    const base = root.path;
    return {
      command: 'chroot',
      leading: [base, '/usr/sbin/php-fpm8.4'],
      tmp: join(base, 'tmp'),
      inside: (path) => path.slice(base.length),
    };
  }
  const binary = phpFpmBinary().path;
  if (!binary) throw new Error('php-fpm8.2 is not installed');
  return { command: binary, leading: [], tmp: tmpdir(), inside: (path) => path };
}

export interface StartedPool {
  name: string;
  /** The `listen` value written to the config. */
  listen: string;
  socketPath?: string;
  host?: string;
  port?: number;
  /** The target string fpmkit's client accepts: `unix:/path` or `host:port`. */
  target: string;
}

export interface StartedFpm {
  dir: string;
  /** Document root holding the scripts. */
  wwwDir: string;
  confPath: string;
  errorLogPath: string;
  pid: number;
  pools: StartedPool[];
  pool(name: string): StartedPool;
  daemon: Daemon;
  /** A path under `dir` as the master names it (different under chroot for 8.4). */
  inside(path: string): string;
  /** Stops the master by its pid (SIGQUIT, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts a real php-fpm 8.2 master in the foreground in its own temporary directory, waits
 * until every pool accepts, and returns its sockets. As root it runs with `-R`.
 */
export async function startPhpFpm(options: StartFpmOptions): Promise<StartedFpm> {
  const runner = fpmRunner(options.version ?? '8.2');
  const dir = await mkdtemp(join(runner.tmp, 'fpmkit-fpm-'));
  await chmod(dir, 0o755);
  const wwwDir = join(dir, 'www');
  await import('node:fs/promises').then((fs) => fs.mkdir(wwwDir, { mode: 0o755 }));
  for (const [name, body] of Object.entries(options.scripts ?? {})) {
    await writeFile(join(wwwDir, name), body, { mode: 0o644 });
  }
  const pools: StartedPool[] = [];
  const sections: string[] = [];
  for (const spec of options.pools) {
    let pool: StartedPool;
    if ((spec.listen ?? 'unix') === 'unix') {
      const socketPath = join(dir, `${spec.name}.sock`);
      pool = {
        name: spec.name,
        listen: runner.inside(socketPath),
        socketPath,
        target: `unix:${socketPath}`,
      };
    } else if (spec.listen === 'unix-relative') {
      const socketPath = join(dir, `${spec.name}.sock`);
      pool = {
        name: spec.name,
        listen: `${spec.name}.sock`,
        socketPath,
        target: `unix:${socketPath}`,
      };
    } else if (spec.listen === 'tcp') {
      const port = await freePort();
      pool = {
        name: spec.name,
        listen: `127.0.0.1:${port}`,
        host: '127.0.0.1',
        port,
        target: `127.0.0.1:${port}`,
      };
    } else {
      const port = await freePort('::1');
      pool = {
        name: spec.name,
        listen: `[::1]:${port}`,
        host: '::1',
        port,
        target: `[::1]:${port}`,
      };
    }
    pools.push(pool);
    const directives = spec.directives ?? '';
    const pm = /^\s*pm\s*=/m.test(directives) ? '' : 'pm = static\npm.max_children = 2\n';
    sections.push(
      `[${spec.name}]\nlisten = ${pool.listen}\nlisten.mode = 0666\n${pm}${directives}\n`,
    );
  }
  const errorLogPath = join(dir, 'fpm.log');
  const confPath = join(dir, 'php-fpm.conf');
  const inside = runner.inside;
  const conf = `[global]\npid = ${inside(join(dir, 'fpm.pid'))}\nerror_log = ${inside(errorLogPath)}\ndaemonize = no\n${options.global ?? ''}\n\n${sections.join('\n')}`;
  await writeFile(confPath, conf);
  const args = [
    ...runner.leading,
    ...['-F', '-y', inside(confPath), '-p', inside(dir)],
    ...(isRoot() ? ['-R'] : []),
  ];
  const daemon = startDaemon(runner.command, args, {
    cwd: dir,
    env: { ...process.env, ...options.env },
  });
  const targets: ProbeTarget[] = pools.map((p) =>
    p.socketPath ? { path: p.socketPath } : { host: p.host!, port: p.port! },
  );
  const stop = async () => {
    await daemon.stop('SIGQUIT', 5000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForSockets(targets, 10_000, () => daemon.child.exitCode === null);
  } catch (error) {
    const log = await import('node:fs/promises')
      .then((fs) => fs.readFile(errorLogPath, 'utf8'))
      .catch(() => '');
    await stop();
    throw new Error(
      `php-fpm did not start: ${(error as Error).message}\n${daemon.output()}\n${log}`,
    );
  }
  return {
    dir,
    wwwDir,
    confPath,
    errorLogPath,
    pid: daemon.pid,
    pools,
    pool(name) {
      const found = pools.find((p) => p.name === name);
      if (!found) throw new Error(`no pool ${name}`);
      return found;
    },
    daemon,
    inside,
    stop,
  };
}

export interface FpmTestResult {
  /** 0 when php-fpm accepted the file, 78 when it did not. */
  exitCode: number | null;
  /** Everything php-fpm printed. */
  output: string;
  /** The messages without their timestamps, e.g. `ALERT: [pool www] ...`. */
  messages: string[];
}

/**
 * Runs `php-fpm8.2 -t` (or `-tt`) on `text`, written to `fileName` in a fresh directory with
 * a clean environment plus `env`. Paths in the text are used as written.
 */
export async function phpFpmTest(
  text: string,
  options: {
    tt?: boolean;
    env?: Record<string, string>;
    fileName?: string;
    allowRoot?: boolean;
    prefix?: string;
    /** @default '8.2' */
    version?: FpmVersion;
  } = {},
): Promise<FpmTestResult> {
  const runner = fpmRunner(options.version ?? '8.2');
  const dir = await mkdtemp(join(runner.tmp, 'fpmkit-fpmt-'));
  try {
    const file = join(dir, options.fileName ?? 'php-fpm.conf');
    await writeFile(file, text);
    const args = [...runner.leading, options.tt ? '-tt' : '-t', '-y', runner.inside(file)];
    if (options.prefix) args.push('-p', options.prefix);
    if (options.allowRoot) args.push('-R');
    const result = await run(runner.command, args, {
      cwd: dir,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', ...options.env },
    });
    return {
      exitCode: result.exitCode,
      output: result.output,
      messages: stripMessages(result.output),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** FPM's log lines without the `[date] ` prefix (and without debug's `pid N, fn(), line N: `). */
export function stripMessages(output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) =>
      line
        .replace(/^\[\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?\] /, '')
        .replace(/^(\w+): pid \d+, \w+\(\), line \d+: /, '$1: '),
    );
}
