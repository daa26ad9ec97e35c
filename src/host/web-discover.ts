/**
 * Finds the web servers in front of FPM on this host and reads their configuration as they run
 * it: nginx and Apache masters from /proc, the configuration path from the master's command
 * line (else the compiled-in default), `nginx -T` when the master's binary can be run (else the
 * files themselves), and the account their worker processes really run as.
 */
import { execFile } from 'node:child_process';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { SnapshotWebServer, WebServerWorkerUser } from '../doctor/snapshot.js';
import {
  parseNginxCommandLine,
  parseNginxProcessTitle,
  parseProcPidCmdline,
} from '../kernel/cmdline.js';
import { parseProcPidStatus } from '../kernel/proc-pid-status.js';
import { extractApacheFpmSettings } from '../web/apache-config-extract.js';
import { extractNginxFpmSettings } from '../web/nginx-config-extract.js';
import { parseNginxDump } from '../web/nginx-config-parser.js';
import { listDir, type ReadOptions, readLinkQuietly, readTextQuietly, roots } from './io.js';
import { readRegularFileSync } from './safe-read.js';
import { checkExecutableRun, checkMasterTrust, trustedOwners } from './trust.js';
import { readApacheConfigFile, readNginxConfigFile } from './web-config.js';

/** nginx's main file when the command line names none (Debian's `--conf-path`). */
export const NGINX_DEFAULT_CONFIG_PATH = '/etc/nginx/nginx.conf';
/** Apache's ServerRoot and main file when the command line names none (Debian's build). */
export const APACHE_DEFAULT_SERVER_ROOT = '/etc/apache2';
/** Debian names the main file `apache2.conf` under the ServerRoot. */
export const APACHE_DEFAULT_CONFIG_FILE = 'apache2.conf';
/** How long `nginx -T` may run, milliseconds. */
export const WEB_DUMP_TIMEOUT_MS = 10_000;
/** The most output `nginx -T` may print: every file of the configuration. */
export const WEB_DUMP_MAX_BYTES = 64 * 1024 * 1024;

const NGINX_BINARY = { name: /^nginx$/, what: 'nginx' };
const APACHE_BINARY = { name: /^(?:apache2|httpd)$/, what: 'Apache httpd' };

/** One web server master found on the host (the doctor's `SnapshotWebServer`). */
export type WebServerInfo = SnapshotWebServer;

/** Options of `discoverWebServers`. */
export interface DiscoverWebServersOptions extends ReadOptions {
  /** Where passwd and group are, to name the workers' uid and gids. @default '/etc' */
  etcRoot?: string | undefined;
  /** Run the master's binary with `-T` to read the configuration as nginx does. @default true */
  runDump?: boolean | undefined;
}

/** Names of users or groups by id, from a passwd or group file. */
function idNames(path: string): Map<number, string> {
  const out = new Map<number, string>();
  let text = '';
  try {
    text = readRegularFileSync(path);
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id !== undefined && /^\d+$/.test(id) && !out.has(Number(id)))
      out.set(Number(id), name);
  }
  return out;
}

function ids(field: string | undefined): number[] {
  return (field ?? '')
    .trim()
    .split(/\s+/)
    .filter((w) => /^\d+$/.test(w))
    .map(Number);
}

/**
 * The account the first readable process of `pids` runs as, from its `/proc/PID/status`
 * (effective uid and gid, supplementary groups), named from `etcRoot`'s passwd and group
 * (numbers where a name is missing). Undefined when none is readable.
 */
export async function readProcessUser(
  procRoot: string,
  pids: readonly number[],
  etcRoot = '/etc',
): Promise<WebServerWorkerUser | undefined> {
  for (const pid of pids) {
    const text = await readTextQuietly(join(procRoot, String(pid), 'status'));
    if (text === undefined) continue;
    const fields = parseProcPidStatus(text).fields;
    const uid = ids(fields.Uid)[1];
    const gid = ids(fields.Gid)[1];
    if (uid === undefined || gid === undefined) continue;
    const users = idNames(join(etcRoot, 'passwd'));
    const groups = idNames(join(etcRoot, 'group'));
    const groupIds = [gid, ...ids(fields.Groups).filter((g) => g !== gid)];
    return {
      name: users.get(uid) ?? String(uid),
      groups: groupIds.map((g) => groups.get(g) ?? String(g)),
      uid,
      gid,
    };
  }
  return undefined;
}

function runBinary(
  file: string,
  args: string[],
  cwd: string | undefined,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      {
        timeout: WEB_DUMP_TIMEOUT_MS,
        maxBuffer: WEB_DUMP_MAX_BYTES,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
        ...(cwd === undefined ? {} : { cwd }),
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolvePromise({ stdout, stderr });
      },
    );
  });
}

async function readNginx(
  server: WebServerInfo,
  argv: string[],
  cwd: string | undefined,
  options: DiscoverWebServersOptions,
): Promise<void> {
  const cmd = parseNginxCommandLine(argv);
  let run = options.runDump !== false && server.executable !== undefined;
  if (run) {
    const runnable = await checkExecutableRun(
      roots(options).procRoot,
      server.pid,
      server.executable!,
    );
    if (!runnable.ok) {
      server.binaryNotRun = runnable.reason;
      run = false;
    }
  }
  // The compiled-in --conf-path (`nginx -V`) when the command line names no -c or a relative one.
  let compiled = NGINX_DEFAULT_CONFIG_PATH;
  if (run && (cmd.configPath === undefined || !isAbsolute(cmd.configPath))) {
    const built = await runBinary(server.executable!, ['-V'], cwd).catch(() => undefined);
    const text = built === undefined ? '' : `${built.stdout}\n${built.stderr}`;
    const conf = /--conf-path=(\S+)/.exec(text)?.[1];
    const prefix = /--prefix=(\S+)/.exec(text)?.[1] ?? '/';
    if (conf !== undefined) compiled = isAbsolute(conf) ? conf : resolve(prefix, conf);
  }
  // nginx resolves a relative -c against -p, else against the compiled file's directory.
  const configPath =
    cmd.configPath === undefined
      ? compiled
      : isAbsolute(cmd.configPath)
        ? cmd.configPath
        : resolve(cmd.prefix ?? dirname(compiled), cmd.configPath);
  server.configPath = configPath;
  const errors: string[] = [];
  if (run) {
    const args = ['-T', '-q', '-c', configPath];
    if (cmd.prefix !== undefined) args.push('-p', cmd.prefix);
    if (cmd.errorLog !== undefined) args.push('-e', cmd.errorLog);
    // Directives of -g change what nginx loads (`include`, `load_module`...) and are part of
    // the configuration it runs.
    if (cmd.globals !== undefined) args.push('-g', cmd.globals);
    try {
      const dump = await runBinary(server.executable!, args, cwd);
      server.nginx = extractNginxFpmSettings(parseNginxDump(dump.stdout));
      server.configSource = 'nginx -T';
      return;
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  try {
    server.nginx = extractNginxFpmSettings(
      readNginxConfigFile(configPath, {
        ...(cmd.prefix === undefined ? {} : { prefix: cmd.prefix }),
        read: { symlinks: 'follow', owners: trustedOwners() },
      }),
    );
    server.configSource = 'files';
    if (errors.length > 0)
      server.configError = `nginx -T failed, the files were read: ${errors[0]}`;
  } catch (error) {
    errors.push((error as Error).message);
    server.configError = errors.join('; ');
  }
}

/** `${VAR}` values of an Apache master: its environment (Debian's envvars put them there). */
async function environ(procRoot: string, pid: number): Promise<Record<string, string>> {
  const text = await readTextQuietly(join(procRoot, String(pid), 'environ'), 'latin1');
  const out: Record<string, string> = {};
  for (const entry of parseProcPidCmdline(text ?? '')) {
    const eq = entry.indexOf('=');
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

async function readApache(server: WebServerInfo, argv: string[], procRoot: string): Promise<void> {
  let serverRoot = APACHE_DEFAULT_SERVER_ROOT;
  let file: string | undefined;
  const defines: Record<string, string> = {};
  for (let i = 1; i < argv.length; i++) {
    const m = /^-([dfD])(.*)$/.exec(argv[i]!);
    if (!m) continue;
    const value = m[2] || argv[++i] || '';
    if (m[1] === 'd') serverRoot = value;
    else if (m[1] === 'f') file = value;
    else defines[value] = '';
  }
  const env = await environ(procRoot, server.pid);
  if (env.APACHE_CONFDIR && !argv.some((a) => a.startsWith('-d'))) serverRoot = env.APACHE_CONFDIR;
  const configPath =
    file === undefined
      ? join(serverRoot, APACHE_DEFAULT_CONFIG_FILE)
      : isAbsolute(file)
        ? file
        : join(serverRoot, file);
  server.configPath = configPath;
  try {
    server.apache = extractApacheFpmSettings(
      readApacheConfigFile(configPath, {
        serverRoot,
        defines,
        env,
        read: { symlinks: 'follow', owners: trustedOwners() },
      }),
    );
    server.configSource = 'files';
  } catch (error) {
    server.configError = (error as Error).message;
  }
}

/**
 * Finds the nginx and Apache masters running here (trusted as FPM masters are: run by root or
 * the current user, from a binary of that name owned by root or that user), reads each one's
 * configuration as it runs it, and the account its workers run as. nginx's configuration comes
 * from `nginx -T` run with the master's `-c`, `-p`, `-e` and `-g` (the compiled-in path from
 * `nginx -V` when the command line names none), or, when that fails or the binary may not be
 * run (`checkExecutableRun`: another /proc, a deleted binary, another file at the path;
 * `binaryNotRun` says why), from the files it names; Apache's from its
 * main file with the master's environment for `${VAR}`. A master whose configuration cannot be
 * read is listed with `configError`; processes that exit during the scan are skipped.
 */
export async function discoverWebServers(
  options: DiscoverWebServersOptions = {},
): Promise<WebServerInfo[]> {
  const { procRoot } = roots(options);
  const etcRoot = options.etcRoot ?? '/etc';
  const masters: { pid: number; kind: 'nginx' | 'apache'; argv: string[] }[] = [];
  const parents = new Map<number, number[]>();
  const apacheLike = new Map<number, { ppid: number; argv: string[] }>();
  for (const entry of await listDir(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const cmdline = await readTextQuietly(join(procRoot, entry, 'cmdline'), 'latin1');
    if (cmdline === undefined || cmdline === '') continue;
    const status = await readTextQuietly(join(procRoot, entry, 'status'));
    if (status === undefined) continue;
    const parsed = parseProcPidStatus(status);
    const nginx = parseNginxProcessTitle(cmdline);
    if (nginx?.role === 'master') masters.push({ pid, kind: 'nginx', argv: nginx.argv });
    else if (nginx?.role === 'worker')
      parents.set(parsed.ppid, [...(parents.get(parsed.ppid) ?? []), pid]);
    else if (/^(?:apache2|httpd)$/.test(parsed.name)) {
      apacheLike.set(pid, { ppid: parsed.ppid, argv: parseProcPidCmdline(cmdline) });
    }
  }
  for (const [pid, p] of apacheLike) {
    if (apacheLike.has(p.ppid)) parents.set(p.ppid, [...(parents.get(p.ppid) ?? []), pid]);
    else masters.push({ pid, kind: 'apache', argv: p.argv });
  }
  const out: WebServerInfo[] = [];
  for (const m of masters.sort((a, b) => a.pid - b.pid)) {
    const trust = await checkMasterTrust(
      procRoot,
      m.pid,
      m.kind === 'nginx' ? NGINX_BINARY : APACHE_BINARY,
    );
    const workerPids = (parents.get(m.pid) ?? []).sort((a, b) => a - b);
    const server: WebServerInfo = {
      kind: m.kind,
      pid: m.pid,
      ...(trust.executable === undefined ? {} : { executable: trust.executable }),
      configPath: '',
      workerPids,
    };
    const user = await readProcessUser(procRoot, workerPids, etcRoot);
    if (user) server.workerUser = user;
    if (!trust.trusted) {
      server.configError = `not read: ${trust.reason}`;
      out.push(server);
      continue;
    }
    const cwd = await readLinkQuietly(join(procRoot, String(m.pid), 'cwd'));
    if (m.kind === 'nginx') await readNginx(server, m.argv, cwd, options);
    else await readApache(server, m.argv, procRoot);
    out.push(server);
  }
  return out;
}
