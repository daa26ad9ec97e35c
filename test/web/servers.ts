import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, nginxBinary, requireBinary } from '../support/integration.js';
import { type Daemon, freePort, run, startDaemon, waitForSockets } from '../support/process.js';

export const apacheBinary = () => requireBinary('apache2', 'apache2');
export const phpCliBinary = () => requireBinary('php8.2', 'php8.2-cli');

/** Runs a checker to completion with a clean environment and a time bound. */
const runChecker = (
  file: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs?: number },
) => run(file, args, { ...options, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });

/** `nginx -t` on a complete nginx.conf, with a fresh temporary directory as nginx's prefix. */
export { nginxTest as nginxConfTest } from '../support/nginx.js';

/** Where distributions keep Apache's shared modules; the first holding mod_proxy_fcgi wins. */
const MODULE_DIRS = [
  '/usr/lib/apache2/modules',
  '/usr/lib64/httpd/modules',
  '/usr/lib/httpd/modules',
  '/usr/libexec/apache2',
];

/** Modules the rendered Apache part needs, by module name and file. */
const MODULES: readonly (readonly [string, string])[] = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['mime_module', 'mod_mime.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_fcgi_module', 'mod_proxy_fcgi.so'],
];

/** The directory holding Apache's modules on this machine, found at run time. */
export function apacheModulesDir(): string | undefined {
  return MODULE_DIRS.find((d) => existsSync(join(d, 'mod_proxy_fcgi.so')));
}

/** A complete httpd.conf with a private ServerRoot around `body`. */
export function apacheConf(
  dir: string,
  body: string,
  options: { port?: number; documentRoot?: string } = {},
): string {
  const modules = apacheModulesDir();
  if (!modules) throw new Error('no Apache module directory with mod_proxy_fcgi.so');
  return [
    `ServerRoot "${dir}"`,
    ...MODULES.map(([name, file]) => `LoadModule ${name} ${join(modules, file)}`),
    `PidFile "${join(dir, 'httpd.pid')}"`,
    `ErrorLog "${join(dir, 'error.log')}"`,
    'ServerName localhost',
    // mod_mime reads its types file at start (not under -t); none is needed here.
    'TypesConfig /dev/null',
    // As root, Apache's children switch to this user, as on a real host.
    ...(isRoot() ? ['User www-data', 'Group www-data'] : []),
    `Listen 127.0.0.1:${options.port ?? 8080}`,
    `DocumentRoot "${options.documentRoot ?? dir}"`,
    `<Directory "${options.documentRoot ?? dir}">`,
    '    Require all granted',
    '</Directory>',
    '',
    body,
  ].join('\n');
}

/** Runs `apache2 -t` on the rendered body inside a private ServerRoot. */
export async function apacheTest(body: string): Promise<{ ok: boolean; output: string }> {
  const binary = apacheBinary().path;
  if (!binary) throw new Error('apache2 is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apachet-'));
  try {
    const confPath = join(dir, 'httpd.conf');
    await writeFile(confPath, apacheConf(dir, body));
    // Called directly, apache2 needs none of the APACHE_* variables Debian's wrapper sets.
    const result = await runChecker(binary, ['-t', '-d', dir, '-f', confPath], { cwd: dir });
    return { ok: result.exitCode === 0, output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Loads `ini` with `php8.2 -n -c FILE` (plus OPcache, which Debian loads from conf.d) and
 * returns `ini_get()` of each name (`false` as null), and in `cfg` what PHP's own INI scanner
 * (`parse_ini_file`) read from the file, for directives the CLI overrides or does not register.
 */
export async function phpIniGet(
  ini: string,
  names: readonly string[],
): Promise<{
  ini: Record<string, string | null>;
  cfg: Record<string, string | null>;
  output: string;
}> {
  const binary = phpCliBinary().path;
  if (!binary) throw new Error('php8.2 is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-phpini-'));
  try {
    const file = join(dir, 'php.ini');
    await writeFile(file, ini);
    const code = `$o=['ini'=>[],'cfg'=>[]];$f=parse_ini_file(php_ini_loaded_file());foreach(json_decode($argv[1]) as $n){$v=ini_get($n);$o['ini'][$n]=$v===false?null:$v;$o['cfg'][$n]=$f[$n]??null;}echo "\\n", json_encode($o);`;
    const result = await runChecker(
      binary,
      ['-n', '-d', 'zend_extension=opcache', '-c', file, '-r', code, JSON.stringify(names)],
      { cwd: dir },
    );
    if (result.exitCode !== 0) throw new Error(`php failed: ${result.output}`);
    const last = result.stdout.trimEnd().split('\n').pop() ?? '';
    return { ...JSON.parse(last), output: result.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What `httpGet` returns. */
export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * GET `path` (already percent-encoded) from 127.0.0.1:`port` on a fresh connection, with extra
 * headers such as `host`; status -1 when the request fails.
 */
export function httpGet(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<HttpReply> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: -1, headers: {}, body: String(e) }));
    req.end();
  });
}

/** Percent-encodes every byte of `text` that is neither unreserved (RFC 3986) nor `/`. */
export function encodePathBytes(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~/-]/.test(ch)
      ? ch
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export interface StartedServer {
  dir: string;
  port: number;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

const SERVER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

async function waitStarted(
  daemon: Daemon,
  port: number,
  errorLog: string,
  what: string,
): Promise<void> {
  try {
    await waitForSockets(
      [{ host: '127.0.0.1', port }],
      20_000,
      () => daemon.child.exitCode === null,
    );
  } catch (error) {
    const log = await readFile(errorLog, 'utf8').catch(() => '');
    await daemon.stop('SIGKILL');
    throw new Error(
      `${what} did not start: ${(error as Error).message}\n${daemon.output()}\n${log}`,
    );
  }
}

/**
 * Starts nginx in the foreground on a complete configuration made by `conf(dir, port)` (nginx's
 * prefix is `dir`, a fresh temporary directory also given to `conf`); stopped by pid.
 */
export async function startNginxConf(
  conf: (dir: string, port: number) => string,
): Promise<StartedServer> {
  const binary = nginxBinary().path;
  if (!binary) throw new Error('nginx is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-nginxc-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const confPath = join(dir, 'nginx.conf');
  const errorLog = join(dir, 'startup-error.log');
  await writeFile(confPath, conf(dir, port));
  const daemon = startDaemon(binary, ['-p', `${dir}/`, '-c', confPath, '-e', errorLog], {
    cwd: dir,
    env: SERVER_ENV,
  });
  await waitStarted(daemon, port, errorLog, 'nginx');
  return {
    dir,
    port,
    errorLog: () => readFile(errorLog, 'utf8'),
    async stop() {
      await daemon.stop('SIGQUIT', 5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts apache2 in the foreground with `apacheConf(dir, body, ...)` (`@PORT@` in `body` is the
 * port chosen); stopped by pid.
 */
export async function startApache(
  body: string,
  options: { documentRoot?: string } = {},
): Promise<StartedServer> {
  const binary = apacheBinary().path;
  if (!binary) throw new Error('apache2 is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apache-'));
  const port = await freePort();
  const confPath = join(dir, 'httpd.conf');
  await writeFile(
    confPath,
    apacheConf(dir, body.replaceAll('@PORT@', String(port)), { port, ...options }),
  );
  const daemon = startDaemon(binary, ['-d', dir, '-f', confPath, '-DFOREGROUND'], {
    cwd: dir,
    env: SERVER_ENV,
  });
  await waitStarted(daemon, port, join(dir, 'error.log'), 'apache2');
  return {
    dir,
    port,
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8'),
    async stop() {
      await daemon.stop('SIGTERM', 10_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
