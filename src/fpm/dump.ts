import {
  FPM_DEFAULT_ACCESS_FORMAT,
  FPM_DEFAULT_LISTEN_BACKLOG,
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PING_RESPONSE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
  FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS,
} from '../defaults.js';
import { FpmkitParseError } from '../errors.js';
import { formatOctalMode } from '../units.js';
import { parseListen } from './listen.js';
import { DEBIAN_PHP_PREFIX, type FpmWrittenValues } from './parse.js';
import type { FpmConfig, PoolConfig, SyslogFacility } from './schema.js';

/**
 * The effective configuration as FPM holds it after reading and post-processing the file: every
 * default applied, relative paths resolved, derived values filled in. Values are the strings
 * `php-fpm -tt` prints, keyed by directive name, so the two can be compared field by field.
 */
export interface FpmDump {
  global: Record<string, string>;
  pools: { name: string; values: Record<string, string> }[];
}

/** Options for resolving a config to the values FPM would use (prefix, pool name substitution). */
export interface EffectiveOptions {
  /** The global prefix (`php-fpm -p`). @default undefined (compiled prefixes /usr and /var) */
  prefix?: string | undefined;
  /** `events.mechanism` FPM picks when none is set. @default 'epoll' */
  defaultEventsMechanism?: string | undefined;
  /**
   * The text each directive was set to (`parseFpmConfig`'s `written`). With it `listen.mode`,
   * `security.limit_extensions` and an empty `listen.allowed_clients` come out exactly as
   * `-tt` prints them, the text as written; without it they are rebuilt from the model
   * (`0660`, extensions joined by one space, `undefined`). @default undefined
   */
  written?: FpmWrittenValues | undefined;
}

/** FPM's `process.priority` value for "not set" (`fpm_conf.h`): `-tt` prints it as `undefined`. */
const PRIORITY_UNSET = 64;
const priorityText = (p: number | undefined) =>
  p === undefined || p === PRIORITY_UNSET ? 'undefined' : String(p);

/** syslog(3) facility numbers, which `-tt` prints instead of names. */
const FACILITY_NUMBERS: Record<SyslogFacility, number> = {
  kern: 0,
  user: 8,
  mail: 16,
  daemon: 24,
  auth: 32,
  syslog: 40,
  lpr: 48,
  news: 56,
  uucp: 64,
  cron: 72,
  authpriv: 80,
  ftp: 88,
  local0: 128,
  local1: 136,
  local2: 144,
  local3: 152,
  local4: 160,
  local5: 168,
  local6: 176,
  local7: 184,
};

const DEBIAN_LOCALSTATEDIR = '/var';

const yesNo = (b: boolean | undefined, fallback: boolean) => ((b ?? fallback) ? 'yes' : 'no');
const orUndefined = (v: string | undefined) => v ?? 'undefined';

function resolve(
  path: string | undefined,
  poolPrefix: string | undefined,
  globalPrefix: string | undefined,
  fallback: string,
) {
  if (path === undefined || path === '' || path.startsWith('/')) return path;
  return `${poolPrefix ?? globalPrefix ?? fallback}/${path}`;
}

/**
 * The `listen` value as FPM prints it: a relative UNIX path resolved against the pool's prefix,
 * anything else as written (a value FPM would refuse is shown unchanged).
 */
function dumpListen(address: string | undefined, prefix: string): string | undefined {
  if (!address) return address;
  try {
    const parsed = parseListen(address, { prefix });
    return parsed.kind === 'unix' ? parsed.path : address;
  } catch {
    return address;
  }
}

function poolDump(
  pool: PoolConfig,
  options: EffectiveOptions,
  written: Record<string, string>,
): Record<string, string> {
  const gp = options.prefix;
  const prefix = resolve(pool.prefix, undefined, gp, DEBIAN_PHP_PREFIX) || undefined;
  const mode = pool.pm.mode;
  const min = mode === 'ondemand' ? 0 : (pool.pm.minSpareServers ?? 0);
  const max = mode === 'ondemand' ? 0 : (pool.pm.maxSpareServers ?? 0);
  let start = mode === 'ondemand' ? 0 : (pool.pm.startServers ?? 0);
  if (mode === 'dynamic' && start <= 0) start = min + Math.trunc((max - min) / 2);
  const address = pool.listen.address;
  const listen = dumpListen(address, prefix ?? gp ?? DEBIAN_PHP_PREFIX);
  const statusPath = pool.pm.statusPath ?? (pool.pm.statusListen !== undefined ? '/' : undefined);
  const pingResponse = pool.ping.path
    ? (pool.ping.response ?? FPM_DEFAULT_PING_RESPONSE)
    : undefined;
  const accessLog = pool.access.log
    ? resolve(pool.access.log, prefix, gp, DEBIAN_PHP_PREFIX)
    : pool.access.log;
  const accessFormat =
    pool.access.format ?? (pool.access.log ? FPM_DEFAULT_ACCESS_FORMAT : undefined);
  let chroot = pool.chroot;
  if (chroot && !chroot.startsWith('/')) {
    const base = prefix ?? gp ?? DEBIAN_PHP_PREFIX;
    chroot = chroot.startsWith('$prefix')
      ? `${base}${chroot.length > 7 ? `/${chroot.slice(7)}` : ''}`
      : `${base}/${chroot}`;
  }
  // fpm_conf_process_all_pools resets an ondemand pool's backlog below -1 to -1.
  let backlog = pool.listen.backlog ?? FPM_DEFAULT_LISTEN_BACKLOG;
  if (mode === 'ondemand' && backlog < -1) backlog = -1;
  const writtenMode = written['listen.mode'];
  const writtenClients = written['listen.allowed_clients'];
  const writtenExtensions = written['security.limit_extensions'];
  const values: Record<string, string> = {
    prefix: orUndefined(prefix),
    user: orUndefined(pool.user),
    group: orUndefined(pool.group),
    listen: orUndefined(listen),
    'listen.backlog': String(backlog),
    'listen.acl_users': orUndefined(pool.listen.aclUsers?.join(',')),
    'listen.acl_groups': orUndefined(pool.listen.aclGroups?.join(',')),
    'listen.owner': orUndefined(pool.listen.owner),
    'listen.group': orUndefined(pool.listen.group),
    'listen.mode':
      pool.listen.mode === undefined
        ? 'undefined'
        : (writtenMode ?? formatOctalMode(pool.listen.mode)),
    'listen.allowed_clients': orUndefined(
      pool.listen.allowedClients?.join(',') ?? (writtenClients === '' ? '' : undefined),
    ),
    'process.priority': priorityText(pool.process.priority),
    'process.dumpable': yesNo(pool.process.dumpable, false),
    pm: mode ?? 'unknown',
    'pm.max_children': String(pool.pm.maxChildren ?? 0),
    'pm.start_servers': String(start),
    'pm.min_spare_servers': String(min),
    'pm.max_spare_servers': String(max),
    'pm.max_spawn_rate': String(pool.pm.maxSpawnRate ?? FPM_DEFAULT_MAX_SPAWN_RATE),
    'pm.process_idle_timeout': String(
      pool.pm.processIdleTimeoutSeconds ?? FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
    ),
    'pm.max_requests': String(pool.pm.maxRequests ?? 0),
    'pm.status_path': orUndefined(statusPath),
    'pm.status_listen': orUndefined(pool.pm.statusListen),
    'ping.path': orUndefined(pool.ping.path),
    'ping.response': orUndefined(pingResponse),
    'access.log': orUndefined(accessLog),
    'access.format': orUndefined(accessFormat),
    slowlog: orUndefined(
      pool.slowlog ? resolve(pool.slowlog, prefix, gp, DEBIAN_PHP_PREFIX) : pool.slowlog,
    ),
    request_slowlog_timeout: `${pool.requestSlowlogTimeoutSeconds ?? 0}s`,
    request_slowlog_trace_depth: String(pool.requestSlowlogTraceDepth || 20),
    request_terminate_timeout: `${pool.requestTerminateTimeoutSeconds ?? 0}s`,
    request_terminate_timeout_track_finished: yesNo(
      pool.requestTerminateTimeoutTrackFinished,
      false,
    ),
    rlimit_files: String(pool.rlimitFiles ?? 0),
    rlimit_core: pool.rlimitCore === 'unlimited' ? '-1' : String(pool.rlimitCore ?? 0),
    chroot: orUndefined(chroot),
    chdir: orUndefined(
      pool.chdir ? resolve(pool.chdir, prefix, gp, DEBIAN_PHP_PREFIX) : pool.chdir,
    ),
    catch_workers_output: yesNo(pool.catchWorkersOutput, false),
    decorate_workers_output: yesNo(pool.decorateWorkersOutput, true),
    clear_env: yesNo(pool.clearEnv, true),
    'security.limit_extensions':
      pool.securityLimitExtensions === undefined
        ? '.php .phar'
        : (writtenExtensions ?? pool.securityLimitExtensions.join(' ')),
  };
  // FPM keeps array entries in a list it prepends to, so `-tt` prints the last one first.
  for (const [i, path] of [...pool.access.suppressPaths].reverse().entries())
    values[`access.suppress_path[${i}]`] = path;
  for (const [k, v] of Object.entries(pool.env)) values[`env[${k}]`] = v;
  for (const [k, v] of Object.entries(pool.phpValue)) values[`php_value[${k}]`] = v;
  for (const [k, v] of Object.entries(pool.phpFlag)) values[`php_value[${k}]`] ??= v ? '1' : '0';
  for (const [k, v] of Object.entries(pool.phpAdminValue)) values[`php_admin_value[${k}]`] = v;
  for (const [k, v] of Object.entries(pool.phpAdminFlag))
    values[`php_admin_value[${k}]`] ??= v ? '1' : '0';
  return values;
}

/**
 * The configuration FPM would run with, in `php-fpm -tt`'s words: defaults applied (listen
 * backlog -1, pm.max_spawn_rate 32, start_servers from the spare servers, ping response `pong`,
 * access format, trace depth 20, limit extensions `.php .phar`), relative paths resolved against
 * the pool prefix, the global prefix or the compiled ones, an ondemand pool's backlog below -1
 * reset to -1, `process.priority = 64` (FPM's "unset") shown as `undefined`. Pass `written`
 * (`parseFpmConfig`'s `written`) to get `listen.mode` and `security.limit_extensions` as
 * written; without it `listen.mode` is four octal digits. Arrays are keyed;
 * `access.suppress_path[0]` is the last one in the file, as `-tt` prints them last first.
 */
export function effectiveFpmConfig(config: FpmConfig, options: EffectiveOptions = {}): FpmDump {
  const g = config.global;
  const gp = options.prefix;
  const errorLog = g.errorLog ?? 'log/php-fpm.log';
  const global: Record<string, string> = {
    // An empty pid is still resolved: fpm_evaluate_full_path makes it `<prefix>/`.
    pid: orUndefined(
      g.pid === ''
        ? `${gp ?? DEBIAN_LOCALSTATEDIR}/`
        : resolve(g.pid, undefined, gp, DEBIAN_LOCALSTATEDIR),
    ),
    error_log:
      errorLog.toLowerCase() === 'syslog'
        ? errorLog
        : resolve(errorLog, undefined, gp, DEBIAN_LOCALSTATEDIR)!,
    'syslog.ident': g.syslog.ident ?? 'php-fpm',
    'syslog.facility': String(FACILITY_NUMBERS[g.syslog.facility ?? 'daemon']),
    log_buffering: yesNo(g.logBuffering, true),
    log_level: g.logLevel ? g.logLevel.toUpperCase() : 'unknown value',
    log_limit: String(g.logLimit ?? 1024),
    emergency_restart_interval: `${g.emergencyRestartIntervalSeconds ?? 0}s`,
    emergency_restart_threshold: String(g.emergencyRestartThreshold ?? 0),
    process_control_timeout: `${g.processControlTimeoutSeconds ?? 0}s`,
    'process.max': String(g.process.max ?? 0),
    'process.priority': priorityText(g.process.priority),
    daemonize: yesNo(g.daemonize, true),
    rlimit_files: String(g.rlimitFiles ?? 0),
    rlimit_core: g.rlimitCore === 'unlimited' ? '-1' : String(g.rlimitCore ?? 0),
    // FPM matches the name in any case and prints its own, lower-case one.
    'events.mechanism': (
      g.eventsMechanism ||
      (options.defaultEventsMechanism ?? 'epoll')
    ).toLowerCase(),
    systemd_interval: `${g.systemdIntervalSeconds ?? FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS}s`,
  };
  return {
    global,
    pools: config.pools.map((pool, i) => ({
      name: pool.name,
      values: poolDump(pool, options, options.written?.pools[i] ?? {}),
    })),
  };
}

/**
 * A NOTICE line of `-tt`: `[date] NOTICE: ` with a log file (`pid N, fn(), line N: ` after it
 * at log_level debug), `[NOTICE] ` with `error_log = syslog`, where FPM writes the same text
 * to standard error with the level in brackets and no date (`fn(), line N: ` at debug).
 */
const DUMP_LINE =
  /^(?:(?:\[[^\]]*\] )?NOTICE: (?:pid \d+, \w+\(\), line \d+: )?|\[NOTICE\] (?:\w+\(\), line \d+: )?)(.*)$/;

/**
 * Reads the configuration dump `php-fpm -tt` prints (its NOTICE lines) into the same shape as
 * `effectiveFpmConfig`, so a live FPM's view can be compared with fpmkit's.
 *
 *     [21-Nov-2026 08:49:06] NOTICE: [www]
 *     [21-Nov-2026 08:49:06] NOTICE: 	pm.max_children = 10
 *     [21-Nov-2026 08:49:06] NOTICE: 	access.suppress_path[] = /ping
 *     [NOTICE] 	pm.max_children = 10          (error_log = syslog)
 */
export function parseFpmDump(output: string): FpmDump {
  const dump: FpmDump = { global: {}, pools: [] };
  let target: Record<string, string> | undefined;
  let suppress = 0;
  const lines = output.split('\n');
  for (const [i, raw] of lines.entries()) {
    const m = DUMP_LINE.exec(raw.replace(/\r$/, ''));
    if (!m) continue;
    const body = m[1]!;
    const section = /^\[(.*)\]$/.exec(body);
    if (section) {
      if (section[1] === 'global') target = dump.global;
      else {
        const pool = { name: section[1]!, values: {} as Record<string, string> };
        dump.pools.push(pool);
        target = pool.values;
      }
      suppress = 0;
      continue;
    }
    const entry = /^\t([^=]+?) = (.*)$/.exec(body);
    if (!entry) continue;
    if (!target)
      throw new FpmkitParseError('a directive line comes before any section', {
        source: 'php-fpm -tt output',
        line: i + 1,
        lineText: raw,
      });
    const key =
      entry[1] === 'access.suppress_path[]' ? `access.suppress_path[${suppress++}]` : entry[1]!;
    target[key] = entry[2]!;
  }
  return dump;
}
