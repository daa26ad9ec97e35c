import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type {
  HostSnapshot,
  LogWindow,
  SnapshotCgroup,
  SnapshotMaster,
  SnapshotPart,
  SnapshotPool,
  SnapshotUntrustedMaster,
} from '../doctor/snapshot.js';
import { FpmkitInvalidOptionError, FpmkitIoError, isFpmkitError } from '../errors.js';
import { type ListenAddress, listenConnectTarget, parseListen } from '../fpm/listen.js';
import { parseFpmConfig } from '../fpm/parse.js';
import type { FpmConfig, PoolConfig } from '../fpm/schema.js';
import {
  parseProcNetUnix,
  type UnixListenQueue,
  unixListenQueues,
} from '../kernel/proc-net-unix.js';
import { parseSs, type SsSocket } from '../kernel/ss.js';
import { fetchStatus } from '../status/fetch.js';
import { discoverFpm, type FpmDiscovery, type FpmMasterInfo } from './discover.js';
import { globFpmInclude, readFpmConfigFile } from './fpm-config.js';
import { readFpmBinaryVersion } from './fpm-version.js';
import { DEFAULT_PROC_ROOT, ioErrorFor, type ReadOptions, roots } from './io.js';
import { windowStart } from './log-window.js';
import { masterRunState, realOrResolved } from './master-running.js';
import { measureWorkerMemory, readCgroupMemory, readMeminfo } from './memory.js';
import {
  readNetstat,
  readSsListeners,
  readTcpListenQueues,
  readUnixListenQueues,
  ssListenerFor,
} from './net.js';
import { openRegularFile, type RegularFileReadOptions, readFileRange } from './safe-read.js';
import { readKernelSettings } from './sysctl.js';
import { checkExecutableRun, currentUid, readTrustedConfigFile, trustedOwners } from './trust.js';
import { discoverWebServers, readProcessUser } from './web-discover.js';

/** Default size of a log window: the last 4 MiB of each log. */
export const DEFAULT_LOG_WINDOW_BYTES = 4 * 1024 * 1024;
/** Largest log window: a window is read into memory whole. */
export const MAX_LOG_WINDOW_BYTES = 256 * 1024 * 1024;
/** Most extra samples of the socket tables one snapshot takes. */
export const MAX_QUEUE_SAMPLES = 1000;

export interface CollectSnapshotOptions extends ReadOptions {
  /**
   * The FPM configuration to examine. When a running master was started with it, that
   * master's workers and sockets are used; otherwise the file is examined on its own.
   * @default every master `discoverFpm` finds, each with the config named in its title
   */
  configPath?: string | undefined;
  /** nginx's error log. @default undefined (not read) */
  nginxErrorLogPath?: string | undefined;
  /** FPM's error log, instead of the config's `error_log`. */
  fpmErrorLogPath?: string | undefined;
  /** FPM's `--prefix`, against which relative log paths are resolved. @default the config file's directory */
  prefix?: string | undefined;
  /** Bytes read from the end of each log. @default 4 MiB (`DEFAULT_LOG_WINDOW_BYTES`) */
  maxLogBytes?: number | undefined;
  /** Only log lines at or after this time count. @default undefined (the whole window) */
  since?: Date | undefined;
  /** Zone of the logs' local times, minutes east of UTC. @default this machine's current offset */
  utcOffsetMinutes?: number | undefined;
  /** Fetch each pool's status page when `pm.status_path` is set. @default true */
  fetchStatus?: boolean | undefined;
  /** Bound on each status fetch, milliseconds. @default 2000 */
  statusTimeoutMs?: number | undefined;
  /** Extra readings of /proc/net/unix for the queue peak. @default 0 */
  queueSamples?: number | undefined;
  /** Milliseconds between those readings. @default 100 */
  queueSampleIntervalMs?: number | undefined;
  /** Environment for `${VAR}` in the config. @default process.env */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /**
   * Find the nginx and Apache masters and read their configuration (`discoverWebServers`), for
   * the cross-layer checks. @default true
   */
  webServers?: boolean | undefined;
  /** Where passwd and group are, to name the accounts processes run as. @default '/etc' */
  etcRoot?: string | undefined;
  /**
   * Read the listening sockets' backlog in force with `ss -lnxt`. Only done when `procRoot` is
   * this host's `/proc` (ss shows this host's sockets). @default true
   */
  readListeners?: boolean | undefined;
}

function fail(error: unknown): { ok: false; reason: string; code?: string; errno?: string } {
  const message = (error as Error)?.message ?? String(error);
  const raw = (error ?? {}) as { code?: unknown; errno?: unknown };
  const code = isFpmkitError(error) ? error.code : undefined;
  const errno =
    typeof raw.errno === 'string'
      ? raw.errno
      : code === undefined && typeof raw.code === 'string'
        ? raw.code
        : undefined;
  return {
    ok: false,
    reason: message,
    ...(code === undefined ? {} : { code }),
    ...(errno === undefined ? {} : { errno }),
  };
}

async function part<T>(read: () => Promise<T>): Promise<SnapshotPart<T>> {
  try {
    return { ok: true, value: await read() };
  } catch (error) {
    return fail(error);
  }
}

/** Options of {@link readLogWindow}: which files are read, and the time the window starts at. */
export interface LogWindowOptions extends Omit<RegularFileReadOptions, 'maxBytes'> {
  /**
   * Read only the lines at or after this time: where they start is found by a binary search over
   * the file (lines are in time order), so the cost is that of the window, not of the file.
   * @default undefined (the last `maxBytes`)
   */
  since?: Date;
  /** Zone of the log's local times, minutes east of UTC, for `since`. @default 0 */
  utcOffsetMinutes?: number;
}

/**
 * The last `maxBytes` of a file, from the start of a line: a window over a log of any size in
 * bounded memory; with `since`, only the lines from that time on (still at most `maxBytes`).
 * Only a regular file is read (a FIFO or a device is refused without blocking);
 * `options` says which links and owners are accepted, as for `readRegularFile` (by default a
 * link is followed only to a file of the link's owner, and any owner is accepted).
 */
export async function readLogWindow(
  path: string,
  maxBytes = DEFAULT_LOG_WINDOW_BYTES,
  options: LogWindowOptions = {},
): Promise<LogWindow> {
  let opened: Awaited<ReturnType<typeof openRegularFile>>;
  try {
    const { since: _since, utcOffsetMinutes: _offset, ...readOptions } = options;
    opened = await openRegularFile(path, readOptions);
  } catch (error) {
    throw ioErrorFor(path, error, 'cannot open log');
  }
  const { handle, stats } = opened;
  try {
    const size = stats.size;
    const floor = Math.max(0, size - maxBytes);
    const start =
      options.since === undefined
        ? floor
        : await windowStart(handle, size, floor, options.since, options.utcOffsetMinutes ?? 0);
    const length = size - start;
    let text = (await readFileRange(handle, start, length)).toString('utf8');
    if (options.since === undefined && start > 0) {
      const nl = text.indexOf('\n');
      text = nl < 0 ? '' : text.slice(nl + 1);
    }
    return { path, text, truncated: start > 0, sizeBytes: size };
  } finally {
    await handle.close();
  }
}

/** How paths of the examined host map to files here (identity on a live host). */
interface PathMap {
  /** A path as the config names it → the file to read. */
  file(path: string): string;
  readFile(path: string): string;
  glob(pattern: string): string[];
  /** Owners whose config files and logs are read; undefined: any owner. */
  owners?: readonly number[];
}

/** A live host: files read as they are, only those owned by `owners`. */
function onHost(owners: readonly number[]): PathMap {
  return {
    file: (p) => p,
    readFile: (p) => readTrustedConfigFile(p, owners),
    glob: globFpmInclude,
    owners,
  };
}

/** Paths given on the command line: any owner, still bounded regular files. */
const given: PathMap = {
  file: (p) => p,
  readFile: readFpmConfigFile,
  glob: globFpmInclude,
};

function underRoot(root: string): PathMap {
  const map = (p: string) => join(root, resolve('/', p));
  return {
    file: map,
    readFile: (p) => readFpmConfigFile(map(p)),
    glob: (pattern) => globFpmInclude(map(pattern)).map((p) => p.slice(root.length) || '/'),
  };
}

function loadConfig(
  path: string,
  paths: PathMap,
  env: Readonly<Record<string, string | undefined>>,
  phpVersion: string | undefined,
): {
  config: SnapshotPart<FpmConfig>;
  findings: SnapshotMaster['configFindings'];
  locations?: SnapshotMaster['configLocations'];
} {
  try {
    const result = parseFpmConfig(paths.readFile(path), {
      path,
      readFile: paths.readFile,
      glob: paths.glob,
      env: env as Record<string, string>,
      ...(phpVersion === undefined ? {} : { phpVersion }),
    });
    return {
      config: { ok: true, value: result.config, source: path },
      findings: result.findings,
      locations: result.locations,
    };
  } catch (error) {
    return { config: { ...fail(error), source: path }, findings: [] };
  }
}

function resolveLogPath(path: string, prefix: string): string {
  return isAbsolute(path) ? path : resolve(prefix, path);
}

async function logPart(
  path: string | undefined,
  unsetReason: string,
  paths: PathMap,
  prefix: string,
  spec: LogWindowSpec,
): Promise<SnapshotPart<LogWindow>> {
  if (path === undefined) return { ok: false, reason: unsetReason };
  if (path === 'syslog' || path.startsWith('syslog:'))
    return {
      ok: false,
      reason: `logs go to syslog (${path}); read them with journalctl and pass the file`,
      source: path,
    };
  const full = resolveLogPath(path, prefix);
  const window = await part(() =>
    readLogWindow(paths.file(full), spec.maxBytes, {
      ...(paths.owners ? { owners: paths.owners } : {}),
      ...(spec.since === undefined
        ? {}
        : { since: spec.since, utcOffsetMinutes: spec.utcOffsetMinutes }),
    }),
  );
  if (window.ok) window.value.path = full;
  return { ...window, source: full };
}

/**
 * A pool's `listen` value as FPM reads it, relative paths resolved against the pool's `prefix`
 * (itself under the global prefix when relative), or the reason it cannot be used.
 */
function listenOf(
  address: string | undefined,
  config: PoolConfig | undefined,
  prefix: string,
): { ok: true; value: ListenAddress } | { ok: false; reason: string } {
  if (address === undefined) return { ok: false, reason: 'the pool has no listen address' };
  const poolPrefix = config?.prefix ? resolve(prefix, config.prefix) : prefix;
  try {
    return { ok: true, value: parseListen(address, { prefix: poolPrefix }) };
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
}

interface CollectContext {
  options: CollectSnapshotOptions;
  paths: PathMap;
  live: boolean;
  unixQueues: SnapshotPart<UnixListenQueue[]>;
  samples: UnixListenQueue[][];
  tcpQueues: HostSnapshot['tcpQueues'];
  /** `ss` listeners, for the backlog in force; undefined when not read at all. */
  listeners?: SnapshotPart<SsSocket[]>;
  logWindow: LogWindowSpec;
}

/** The listener part of a pool: its `ss` row's backlog and queue. */
function listenerPart(
  ctx: CollectContext,
  listen: ListenAddress,
): SnapshotPool['listener'] | undefined {
  const listeners = ctx.listeners;
  if (listeners === undefined) return undefined;
  if (!listeners.ok) return { ok: false, reason: listeners.reason };
  const row = ssListenerFor(listen, listeners.value);
  if (row === undefined)
    return {
      ok: false,
      reason: `ss shows nothing listening on ${listen.kind === 'unix' ? listen.path : `port ${listen.port}`}`,
    };
  return { ok: true, value: { backlog: row.sendQ, queued: row.recvQ }, source: 'ss' };
}

async function collectPool(
  ctx: CollectContext,
  name: string,
  config: PoolConfig | undefined,
  workerPids: number[],
  prefix: string,
): Promise<SnapshotPool> {
  const { options } = ctx;
  const address = config?.listen.address;
  const listen = listenOf(address, config, prefix);
  let queue: SnapshotPool['queue'];
  let queuePeak: number | undefined;
  const listener = listen.ok ? listenerPart(ctx, listen.value) : undefined;
  if (!listen.ok || address === undefined)
    queue = { ok: false, reason: listen.ok ? 'the pool has no listen address' : listen.reason };
  else if (listen.value.kind === 'unix') {
    const path = listen.value.path;
    if (!ctx.unixQueues.ok) queue = { ok: false, reason: ctx.unixQueues.reason };
    else {
      const q = ctx.unixQueues.value.find((u) => u.path === path);
      queue = q
        ? { ok: true, value: { queued: q.queued, address } }
        : { ok: false, reason: `nothing listens on ${path}` };
      for (const sample of ctx.samples) {
        const s = sample.find((u) => u.path === path);
        if (s) queuePeak = Math.max(queuePeak ?? 0, s.queued);
      }
      if (q) queuePeak = Math.max(queuePeak ?? 0, q.queued);
    }
  } else {
    const port = listen.value.port;
    if (!ctx.tcpQueues.ok) queue = { ok: false, reason: ctx.tcpQueues.reason };
    else {
      const q = ctx.tcpQueues.value.find((t) => t.port === port);
      queue = q
        ? { ok: true, value: { queued: q.queued, address } }
        : { ok: false, reason: `nothing listens on port ${port}` };
      if (q) queuePeak = q.queued;
    }
  }

  let status: SnapshotPool['status'];
  const statusPath = config?.pm.statusPath;
  if (!ctx.live) status = { ok: false, reason: 'saved evidence: the status page is not fetched' };
  else if (statusPath === undefined) status = { ok: false, reason: 'pm.status_path is not set' };
  else if (options.fetchStatus === false) status = { ok: false, reason: 'status fetching is off' };
  else {
    const target =
      config?.pm.statusListen === undefined
        ? listen
        : listenOf(config.pm.statusListen, config, prefix);
    status = !target.ok
      ? { ok: false, reason: target.reason }
      : await part(() =>
          fetchStatus(listenConnectTarget(target.value), {
            path: statusPath,
            timeoutMs: options.statusTimeoutMs ?? 2000,
            ...(address === undefined ? {} : { listen: address }),
          }),
        );
  }

  const slowlog = await logPart(
    config?.slowlog,
    'slowlog is not set',
    ctx.paths,
    prefix,
    ctx.logWindow,
  );

  let workerMemory: SnapshotPool['workerMemory'];
  if (workerPids.length === 0)
    workerMemory = {
      ok: false,
      reason: ctx.live ? 'no worker is running' : 'saved evidence has no workers',
    };
  else
    workerMemory = await part(async () => {
      const m = await measureWorkerMemory(workerPids, options);
      return { meanBytes: m.meanBytes, maxBytes: m.maxBytes, count: m.count };
    });

  return {
    name,
    ...(config === undefined ? {} : { config }),
    workerPids,
    status,
    queue,
    ...(queuePeak === undefined ? {} : { queuePeak }),
    ...(listener === undefined ? {} : { listener }),
    slowlog,
    workerMemory,
  };
}

async function collectMaster(
  ctx: CollectContext,
  configPath: string,
  info: FpmMasterInfo | undefined,
): Promise<SnapshotMaster> {
  const { options } = ctx;
  const runnable =
    info?.executable === undefined
      ? undefined
      : await checkExecutableRun(roots(options).procRoot, info.pid, info.executable);
  const phpVersion =
    info?.executable === undefined
      ? undefined
      : await readFpmBinaryVersion(info.executable, { run: runnable?.ok === true });
  const account =
    info === undefined
      ? undefined
      : await readProcessUser(roots(options).procRoot, [info.pid], options.etcRoot);
  const { config, findings, locations } = loadConfig(
    configPath,
    ctx.paths,
    options.env ?? process.env,
    phpVersion,
  );
  const prefix = options.prefix ?? resolve(configPath, '..');
  const errorLog =
    options.fpmErrorLogPath !== undefined
      ? await logPart(options.fpmErrorLogPath, '', given, prefix, ctx.logWindow)
      : await logPart(
          config.ok ? config.value.global.errorLog : undefined,
          config.ok
            ? 'error_log is not set (FPM writes log/php-fpm.log under its prefix)'
            : config.reason,
          ctx.paths,
          prefix,
          ctx.logWindow,
        );
  const pools: SnapshotPool[] = [];
  const names = new Set<string>();
  for (const pool of config.ok ? config.value.pools : []) {
    names.add(pool.name);
    const running = info?.pools.find((p) => p.name === pool.name);
    pools.push(await collectPool(ctx, pool.name, pool, running?.workerPids ?? [], prefix));
  }
  for (const running of info?.pools ?? []) {
    if (!names.has(running.name))
      pools.push(await collectPool(ctx, running.name, undefined, running.workerPids, prefix));
  }
  return {
    ...(info === undefined ? {} : { pid: info.pid }),
    configPath,
    config,
    configFindings: findings,
    ...(locations === undefined ? {} : { configLocations: locations }),
    ...(phpVersion === undefined ? {} : { phpVersion }),
    ...(runnable === undefined || runnable.ok ? {} : { binaryNotRun: runnable.reason }),
    ...(account === undefined
      ? {}
      : { user: { name: account.name, group: account.groups[0] ?? account.name } }),
    errorLog,
    pools,
  };
}

/** How much of each log is read: at most `maxBytes`, from `since` when given. */
interface LogWindowSpec {
  maxBytes: number;
  since?: Date;
  utcOffsetMinutes: number;
}

function checkOptions(
  options: CollectSnapshotOptions | SnapshotFromDirectoryOptions,
  utcOffsetMinutes: number,
): LogWindowSpec {
  // A time window bounds what is read; the byte bound then only guards memory.
  const max =
    options.maxLogBytes ??
    (options.since === undefined ? DEFAULT_LOG_WINDOW_BYTES : MAX_LOG_WINDOW_BYTES);
  if (!Number.isSafeInteger(max) || max < 0 || max > MAX_LOG_WINDOW_BYTES)
    throw new FpmkitInvalidOptionError(
      'maxLogBytes',
      `must be an integer from 0 to ${MAX_LOG_WINDOW_BYTES}`,
    );
  const samples = 'queueSamples' in options ? (options.queueSamples ?? 0) : 0;
  if (!Number.isSafeInteger(samples) || samples < 0 || samples > MAX_QUEUE_SAMPLES)
    throw new FpmkitInvalidOptionError(
      'queueSamples',
      `must be an integer from 0 to ${MAX_QUEUE_SAMPLES}`,
    );
  return {
    maxBytes: max,
    ...(options.since === undefined ? {} : { since: options.since }),
    utcOffsetMinutes,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whose files a live snapshot reads: root's and the current user's, and for a configuration
 * named by the caller also its owner's (the caller vouched for that file).
 */
async function ownersFor(configPath: string | undefined): Promise<number[]> {
  const owners = trustedOwners();
  if (configPath === undefined) return owners;
  const owner = await stat(configPath).then(
    (st) => st.uid,
    () => undefined,
  );
  return owner === undefined || owners.includes(owner) ? owners : [...owners, owner];
}

async function kernelParts(options: ReadOptions) {
  return {
    tcpQueues: await part(() => readTcpListenQueues(options)),
    netstat: await part(() => readNetstat(options)),
    kernel: await part(() => readKernelSettings(options)),
    meminfo: await part(() => readMeminfo(options)),
  };
}

function cgroupOf(m: Awaited<ReturnType<typeof readCgroupMemory>>): SnapshotCgroup | null {
  if (m === undefined) return null;
  return {
    version: m.version,
    path: m.path,
    limitBytes: m.limitBytes,
    ...(m.usageBytes === undefined ? {} : { usageBytes: m.usageBytes }),
  };
}

/**
 * Reads everything the doctor looks at from this host: each FPM master `discoverFpm` finds
 * (or the one configuration given) with its parsed config, each pool's status page, accept
 * queue, slowlog window and worker memory, FPM's and nginx's error-log windows, the socket
 * tables, netstat counters, sysctls, meminfo and the cgroup memory limit. A part that cannot
 * be read is recorded as `{ ok: false, reason }`; nothing throws for a missing file, a
 * permission, or an FPM that is not running. Bad options throw `FpmkitInvalidOptionError`.
 */
export async function collectSnapshot(options: CollectSnapshotOptions = {}): Promise<HostSnapshot> {
  const utcOffsetMinutes = options.utcOffsetMinutes ?? -new Date().getTimezoneOffset();
  const logWindow = checkOptions(options, utcOffsetMinutes);
  const unixQueues = await part(() => readUnixListenQueues(options));
  const samples: UnixListenQueue[][] = [];
  for (let i = 0; i < (options.queueSamples ?? 0); i++) {
    await sleep(options.queueSampleIntervalMs ?? 100);
    const s = await part(() => readUnixListenQueues(options));
    if (s.ok) samples.push(s.value);
  }
  const ctx: CollectContext = {
    options,
    paths: onHost(await ownersFor(options.configPath)),
    live: true,
    unixQueues,
    samples,
    tcpQueues: { ok: false, reason: 'not read' },
    logWindow,
  };
  const k = await kernelParts(options);
  ctx.tcpQueues = k.tcpQueues;
  if (options.readListeners !== false) {
    const { procRoot } = roots(options);
    ctx.listeners =
      resolve(procRoot) === DEFAULT_PROC_ROOT
        ? await part(readSsListeners)
        : { ok: false, reason: `ss shows this host's sockets, not those of ${procRoot}` };
  }
  let discovery: FpmDiscovery | undefined;
  let discoveryError: string | undefined;
  try {
    discovery = await discoverFpm(options);
  } catch (error) {
    discoveryError = (error as Error)?.message ?? String(error);
  }
  const masters: SnapshotMaster[] = [];
  if (options.configPath !== undefined) {
    const wanted = await realOrResolved(options.configPath);
    let info: FpmMasterInfo | undefined;
    for (const m of discovery?.masters ?? [])
      if (info === undefined && (await realOrResolved(m.configPath)) === wanted) info = m;
    const master = await collectMaster(ctx, options.configPath, info);
    if (info === undefined) {
      const running = await masterRunState({
        configPath: options.configPath,
        procRoot: roots(options).procRoot,
        discoveryError,
        untrusted: discovery?.untrustedMasters ?? [],
        pidFile: master.config.ok ? master.config.value.global.pid : undefined,
        prefix: options.prefix ?? resolve(options.configPath, '..'),
      });
      if (running !== undefined) master.running = running;
    }
    masters.push(master);
  } else {
    for (const info of discovery?.masters ?? [])
      masters.push(await collectMaster(ctx, info.configPath, info));
  }
  const { procRoot } = roots(options);
  const untrustedMasters: SnapshotUntrustedMaster[] = discovery?.untrustedMasters ?? [];
  const noFpm =
    masters.length > 0
      ? undefined
      : discoveryError !== undefined
        ? `cannot list processes in ${procRoot}: ${discoveryError}`
        : untrustedMasters.length > 0
          ? `no trusted PHP-FPM master runs here: ${untrustedMasters.length} process(es) titled "php-fpm: master process" were ignored as not FPM (looked in ${procRoot}; fpmkit runs as uid ${currentUid()})`
          : `no process titled "php-fpm: master process" runs here (looked in ${procRoot})`;
  const cgroupPid = masters.find((m) => m.pid !== undefined)?.pid ?? process.pid;
  const nginxErrorLog =
    options.nginxErrorLogPath === undefined
      ? ({ ok: false, reason: 'no nginx error log was given' } as const)
      : await logPart(options.nginxErrorLogPath, '', given, '/', logWindow);
  const webServers: HostSnapshot['webServers'] =
    options.webServers === false
      ? { ok: false, reason: 'web server discovery is off' }
      : await part(() =>
          discoverWebServers({
            ...options,
            ...(options.etcRoot === undefined ? {} : { etcRoot: options.etcRoot }),
          }),
        );
  return {
    takenAt: new Date(),
    origin: 'live',
    ...(noFpm === undefined ? {} : { noFpm }),
    masters,
    ...(untrustedMasters.length === 0 ? {} : { untrustedMasters }),
    unixQueues,
    ...k,
    cgroup: await part(async () => cgroupOf(await readCgroupMemory(cgroupPid, options))),
    nginxErrorLog,
    webServers,
    // The logs were written in this machine's local time.
    utcOffsetMinutes,
    ...(options.since === undefined ? {} : { since: options.since }),
  };
}

/** `fpmkit-evidence.json` in an evidence directory; every field optional. */
export interface EvidenceManifest {
  /** The FPM configuration's path on the examined host. */
  configPath?: string;
  /** nginx's error log path on the examined host. */
  nginxErrorLog?: string;
  /** FPM's error log path on the examined host, instead of the config's `error_log`. */
  fpmErrorLog?: string;
  /** FPM's prefix on the examined host. */
  prefix?: string;
  utcOffsetMinutes?: number;
  /** When the evidence was taken (ISO 8601). */
  takenAt?: string;
}

/** Where an evidence directory's FPM configuration is looked for when the manifest names none. */
export const EVIDENCE_CONFIG_CANDIDATES = [
  '/etc/php-fpm.conf',
  '/usr/local/etc/php-fpm.conf',
] as const;

async function findEvidenceConfig(files: string): Promise<string | undefined> {
  const versions = await readdir(join(files, 'etc', 'php')).catch(() => [] as string[]);
  for (const v of versions.sort().reverse()) {
    const p = `/etc/php/${v}/fpm/php-fpm.conf`;
    if (
      await stat(join(files, p)).then(
        () => true,
        () => false,
      )
    )
      return p;
  }
  for (const p of EVIDENCE_CONFIG_CANDIDATES) {
    if (
      await stat(join(files, p)).then(
        () => true,
        () => false,
      )
    )
      return resolve(p);
  }
  return undefined;
}

/** Options of `snapshotFromDirectory`: the manifest's fields, which these override. */
export interface SnapshotFromDirectoryOptions extends EvidenceManifest {
  /** @default DEFAULT_LOG_WINDOW_BYTES */
  maxLogBytes?: number | undefined;
  since?: Date | undefined;
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Refuses an evidence directory that does not exist or is not a directory, in one error,
 * rather than one "not examined" line per file that is then missing from it.
 */
async function evidenceDirectory(dir: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(dir)).isDirectory();
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    throw new FpmkitIoError(
      dir,
      `cannot read the evidence directory${errno ? ` (${errno})` : ''}`,
      { cause: error, ...(errno ? { errno } : {}) },
    );
  }
  if (!isDirectory)
    throw new FpmkitIoError(
      dir,
      'the evidence is not a directory (docs/doctor.md, Saved evidence)',
      {
        errno: 'ENOTDIR',
      },
    );
}

/**
 * Builds a snapshot from a directory of saved evidence (docs/doctor.md, "Saved evidence"):
 * `files/` holds config files and logs at their original absolute paths
 * (`files/etc/php/8.2/fpm/php-fpm.conf`), `proc/` copies of /proc files (`proc/net/unix`,
 * `proc/net/unix.1` ... for extra samples, `proc/sys/net/core/somaxconn`, `proc/meminfo`),
 * `sys/` copies of /sys files, and an optional `fpmkit-evidence.json` (`EvidenceManifest`).
 * A `dir` that does not exist or is not a directory throws `FpmkitIoError` (errno `ENOENT`,
 * `ENOTDIR`, ...); files missing inside it are listed in the snapshot's `missing`.
 */
export async function snapshotFromDirectory(
  dir: string,
  options: SnapshotFromDirectoryOptions = {},
): Promise<HostSnapshot> {
  await evidenceDirectory(dir);
  let manifest: EvidenceManifest = {};
  const manifestText = await readFile(join(dir, 'fpmkit-evidence.json'), 'utf8').catch(
    () => undefined,
  );
  if (manifestText !== undefined) {
    try {
      manifest = JSON.parse(manifestText) as EvidenceManifest;
    } catch (error) {
      throw new FpmkitInvalidOptionError(
        'dir',
        `fpmkit-evidence.json is not JSON: ${(error as Error).message}`,
      );
    }
  }
  // An option given as undefined is not given: the manifest's value stands.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const m = { ...manifest, ...(given as typeof options) };
  const logWindow = checkOptions(m, m.utcOffsetMinutes ?? 0);
  const files = join(dir, 'files');
  const paths = underRoot(files);
  const read: ReadOptions = { procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys') };
  const unixQueues = await part(() => readUnixListenQueues(read));
  const samples: UnixListenQueue[][] = [];
  for (const name of (await readdir(join(dir, 'proc', 'net')).catch(() => [] as string[])).sort()) {
    if (!/^unix\.\d+$/.test(name)) continue;
    const text = await readFile(join(dir, 'proc', 'net', name), 'utf8');
    samples.push(unixListenQueues(parseProcNetUnix(text)));
  }
  const k = await kernelParts(read);
  const ssText = await readFile(join(dir, 'ss.txt'), 'utf8').catch(() => undefined);
  const listeners = ssText === undefined ? undefined : await part(async () => parseSs(ssText));
  const ctx: CollectContext = {
    ...(listeners === undefined ? {} : { listeners }),
    options: { ...read, fetchStatus: false, ...(m.env === undefined ? {} : { env: m.env }) },
    paths,
    live: false,
    unixQueues,
    samples,
    tcpQueues: k.tcpQueues,
    logWindow,
  };
  const configPath = m.configPath ?? (await findEvidenceConfig(files));
  const masters: SnapshotMaster[] = [];
  if (configPath !== undefined) {
    if (m.prefix !== undefined) ctx.options.prefix = m.prefix;
    const master = await collectMaster(ctx, configPath, undefined);
    if (m.fpmErrorLog !== undefined)
      master.errorLog = await logPart(m.fpmErrorLog, '', paths, '/', logWindow);
    masters.push(master);
  }
  const nginxPath = m.nginxErrorLog ?? '/var/log/nginx/error.log';
  const nginxErrorLog = await logPart(nginxPath, '', paths, '/', logWindow);
  return {
    takenAt: m.takenAt !== undefined ? new Date(m.takenAt) : new Date(),
    origin: 'directory',
    ...(configPath === undefined
      ? {
          noFpm: `no FPM configuration in ${files} (name it in fpmkit-evidence.json as configPath)`,
        }
      : {}),
    masters,
    unixQueues,
    ...k,
    cgroup: { ok: false, reason: 'saved evidence: the cgroup limit is not read' },
    nginxErrorLog,
    ...(m.utcOffsetMinutes === undefined ? {} : { utcOffsetMinutes: m.utcOffsetMinutes }),
    ...(m.since === undefined ? {} : { since: m.since }),
  };
}
