import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, nginxBinary } from './integration.js';
import { type Daemon, freePort, run, startDaemon, waitForSockets } from './process.js';

export interface StartNginxOptions {
  /**
   * The inside of the `http {}` block. `@PORT@` is replaced by the port chosen for the test,
   * `@DIR@` by the nginx directory.
   */
  http: string;
  /** Lines for the main context (e.g. `worker_processes 1;`). */
  main?: string;
  /** The workers' `user` line's arguments when run as root. @default 'root' */
  user?: string;
}

export interface StartedNginx {
  dir: string;
  port: number;
  confPath: string;
  errorLogPath: string;
  accessLogPath: string;
  pid: number;
  daemon: Daemon;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

function mainConf(dir: string, options: StartNginxOptions, port: number): string {
  const http = options.http.replaceAll('@PORT@', String(port)).replaceAll('@DIR@', dir);
  return `${isRoot() ? `user ${options.user ?? 'root'};\n` : ''}daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
${options.main ?? ''}
events { worker_connections 1024; }
http {
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
${http}
}
`;
}

/** Starts a real nginx in the foreground in a temporary directory on a free port. */
export async function startNginx(options: StartNginxOptions): Promise<StartedNginx> {
  const binary = nginxBinary().path;
  if (!binary) throw new Error('nginx is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-nginx-'));
  await chmod(dir, 0o755);
  await mkdir(join(dir, 'tmp'));
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  await writeFile(confPath, mainConf(dir, options, port));
  const daemon = startDaemon(binary, ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')], {
    cwd: dir,
  });
  const stop = async () => {
    await daemon.stop('SIGQUIT', 5000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForSockets(
      [{ host: '127.0.0.1', port }],
      10_000,
      () => daemon.child.exitCode === null,
    );
  } catch (error) {
    const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`nginx did not start: ${(error as Error).message}\n${daemon.output()}\n${log}`);
  }
  return {
    dir,
    port,
    confPath,
    errorLogPath: join(dir, 'error.log'),
    accessLogPath: join(dir, 'access.log'),
    pid: daemon.pid,
    daemon,
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8'),
    stop,
  };
}

/** Runs `nginx -t` on a complete main configuration text. */
export async function nginxTest(conf: string): Promise<{ ok: boolean; output: string }> {
  const binary = nginxBinary().path;
  if (!binary) throw new Error('nginx is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-nginxt-'));
  try {
    const confPath = join(dir, 'nginx.conf');
    await writeFile(confPath, conf);
    const result = await run(
      binary,
      ['-t', '-p', dir, '-c', confPath, '-e', join(dir, 'error.log')],
      { cwd: dir },
    );
    return { ok: result.exitCode === 0, output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * GET `path` from 127.0.0.1:`port` on a fresh connection and resolve with the status code:
 * -1 when the request fails, never a rejection (load tests count the failures).
 */
export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(-1));
    req.end();
  });
}
