import {
  FPM_DEFAULT_ACCESS_FORMAT,
  FPM_DEFAULT_LISTEN_BACKLOG,
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
} from '../defaults.js';
import { type CheckResult, checkResult, type Finding } from '../findings.js';
import { catalogFinding, type FindingBody, type FpmFindingCode } from '../findings-catalog.js';
import { parseOptions } from '../options.js';
import {
  allowedClientsUnixAdvice,
  backlogAboveSomaxconnAdvice,
  listenOwnerIgnoredAdvice,
  maxRequestsAdvice,
  processControlTimeoutAdvice,
} from './advice.js';
import { type ListenAddress, MAX_UNIX_SOCKET_PATH_BYTES, parseListen } from './listen.js';
import {
  DEBIAN_PHP_PREFIX,
  describeErrno,
  loadFpmConfigText,
  type ParseFpmConfigOptions,
  type SourceLocation,
} from './parse.js';
import { type FpmConfig, type FpmConfigInput, fpmConfigSchema, type PoolConfig } from './schema.js';
import {
  DEFAULT_FPM_PHP_VERSION,
  FPM_VERSION_FACTS,
  type FpmPhpVersion,
  parseFpmPhpVersion,
} from './versions.js';

/**
 * What `php-fpm -t` asks of the machine. Each hook is optional; without it the check assumes
 * the answer that lets the configuration pass, so a pure check never fails for lack of a host.
 * `hostFpmSystem()` in `fpmkit/host` answers from the real machine.
 */
export interface FpmSystem {
  /** True when the user name (or numeric uid) exists. @default always true */
  userExists?(name: string): boolean;
  /** True when the group name (or numeric gid) exists. @default always true */
  groupExists?(name: string): boolean;
  /** True when the path is an existing directory. @default always true */
  isDirectory?(path: string): boolean;
  /**
   * Tries what FPM does with log files (open for appending, creating them); returns the errno
   * code (`ENOENT`, `EACCES`) when that fails, undefined when it works. @default always works
   */
  openForAppend?(path: string): string | undefined;
  /** Event mechanisms the build supports. @default ['epoll', 'poll', 'select'] (Linux) */
  eventMechanisms?: readonly string[];
}

/** Options of {@link checkFpmConfig}: the parse options plus how php-fpm would be started. */
export interface CheckFpmConfigOptions extends ParseFpmConfigOptions {
  /**
   * Decide as php-fpm run by root would (then every pool needs `user`), unless `allowRoot`.
   * @default false
   */
  asRoot?: boolean | undefined;
  /** As `php-fpm -R`: root may run pools without `user`. @default false */
  allowRoot?: boolean | undefined;
  /** The machine's answers to the lookups `-t` makes. @default permissive, Linux */
  system?: FpmSystem | undefined;
  /** The kernel's `net.core.somaxconn`, to warn about backlogs it caps. @default undefined (no check) */
  somaxconn?: number | undefined;
}

/**
 * What {@link checkFpmConfig} decides: the {@link CheckResult} every check returns. `ok` (no
 * error finding) is exactly what `php-fpm -t` decides, true for exit 0 and false for exit 78,
 * because only FPM's own refusals are errors here; `findings` holds FPM's errors (with its
 * message text in `evidence.fpmMessage`), then warnings and notes.
 */
export interface CheckFpmConfigResult extends CheckResult<FpmFindingCode> {}

/** The compiled `localstatedir` of Debian's php-fpm: where relative pid and error_log go. */
const DEBIAN_LOCALSTATEDIR = '/var';
const LINUX_EVENT_MECHANISMS = ['epoll', 'poll', 'select'];
/** FPM's scoreboard keeps 31 bytes of the pool name; the status page shows no more. */
const STATUS_POOL_NAME_BYTES = 31;
/** `log_limit` below this is refused (`ZLOG_MIN_LIMIT`). */
const MIN_LOG_LIMIT = 512;
const STATUS_PATH_RE = /^[A-Za-z0-9/_.~-]*$/;

interface Ctx {
  findings: Finding<FpmFindingCode>[];
  options: CheckFpmConfigOptions;
  system: Required<Omit<FpmSystem, 'eventMechanisms'>> & { eventMechanisms: readonly string[] };
  /** The PHP version decided as. */
  version: FpmPhpVersion;
  locations:
    | { global: Record<string, SourceLocation>; pools: Record<string, SourceLocation>[] }
    | undefined;
}

type Level = 'ERROR' | 'ALERT' | 'WARNING' | 'NOTICE';

function at(
  ctx: Ctx,
  poolIndex: number | undefined,
  directive: string | undefined,
): { file?: string; line?: number } {
  if (!ctx.locations || directive === undefined) return {};
  const map = poolIndex === undefined ? ctx.locations.global : ctx.locations.pools[poolIndex];
  const loc = map?.[directive];
  return loc ? { file: loc.file, line: loc.line } : {};
}

/** Records one of FPM's own messages. ERROR and ALERT fail the check, as they fail `-t`. */
function fpm(
  ctx: Ctx,
  level: Level,
  code: FpmFindingCode,
  text: string,
  extra: Partial<Omit<Finding, 'code' | 'severity'>> & { poolIndex?: number | undefined } = {},
): void {
  const { poolIndex, ...rest } = extra;
  const severity =
    level === 'ERROR' || level === 'ALERT' ? 'error' : level === 'WARNING' ? 'warning' : 'info';
  ctx.findings.push({
    code,
    severity,
    message: text,
    ...at(ctx, poolIndex, rest.directive),
    ...rest,
    evidence: { fpmMessage: `${level}: ${text}`, ...(rest.evidence ?? {}) },
  });
}

/**
 * A warning or note fpmkit adds for what FPM accepts but a person would not want; its severity
 * is the catalog's.
 */
function advise(
  ctx: Ctx,
  code: FpmFindingCode,
  message: string,
  extra: Partial<Omit<Finding, 'code' | 'severity'>> & { poolIndex?: number | undefined } = {},
): void {
  const { poolIndex, ...rest } = extra;
  ctx.findings.push(
    catalogFinding(code, { message, ...at(ctx, poolIndex, rest.directive), ...rest }),
  );
}

/** Records a shared advice rule's finding (see ./advice.ts) under `code`, when it fires. */
function adviseWith(
  ctx: Ctx,
  code: FpmFindingCode,
  body: FindingBody | undefined,
  extra: { pool?: string; poolIndex?: number } = {},
): void {
  if (body === undefined) return;
  const { poolIndex, ...rest } = extra;
  ctx.findings.push(
    catalogFinding(code, { ...at(ctx, poolIndex, body.directive), ...rest, ...body }),
  );
}

/** The pool's `listen` as FPM reads it, or undefined when FPM would refuse it at bind time. */
function listenOf(address: string, prefix?: string): ListenAddress | undefined {
  try {
    return parseListen(address, prefix === undefined ? {} : { prefix });
  } catch {
    return undefined;
  }
}

/** `fpm_evaluate_full_path`: relative paths go under the pool prefix, the global prefix, or a default. */
function fullPath(
  path: string,
  poolPrefix: string | undefined,
  globalPrefix: string | undefined,
  fallback: string,
): string {
  if (path.startsWith('/')) return path;
  const prefix = poolPrefix ?? globalPrefix ?? fallback;
  const joined = `${prefix}/${path}`;
  if (!joined.startsWith('/') && poolPrefix !== undefined)
    return fullPath(joined, undefined, globalPrefix, fallback);
  return joined;
}

/** Expands `$prefix` at the start of a chroot as FPM does (elsewhere it is left as is). */
function chrootPath(
  path: string,
  poolPrefix: string | undefined,
  globalPrefix: string | undefined,
): string {
  if (path.startsWith('/')) return path;
  const prefix = poolPrefix ?? globalPrefix ?? DEBIAN_PHP_PREFIX;
  if (path.startsWith('$prefix')) {
    const rest = path.slice('$prefix'.length);
    return rest === '' ? prefix : `${prefix}/${rest}`;
  }
  return `${prefix}/${path}`;
}

/** Validates an access.format as `fpm_log_write` does; returns FPM's warning text, or undefined. */
export function accessFormatProblem(format: string): string | undefined {
  let token = false;
  let modifier = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (!token) {
      if (c === '%') {
        token = true;
        modifier = '';
      }
      continue;
    }
    token = false;
    const m = modifier.toLowerCase();
    switch (c) {
      case '%':
      case 'f':
      case 'l':
      case 'm':
      case 'n':
      case 'p':
      case 'P':
      case 'q':
      case 'Q':
      case 'r':
      case 'R':
      case 's':
      case 't':
      case 'T':
      case 'u':
        break;
      case 'C':
        if (m !== '' && m !== 'total' && m !== 'user' && m !== 'system') {
          return `only 'total', 'user' or 'system' are allowed as a modifier for %C ('${modifier}')`;
        }
        break;
      case 'd':
        if (
          ![
            '',
            'seconds',
            'milli',
            'milliseconds',
            'mili',
            'miliseconds',
            'micro',
            'microseconds',
          ].includes(m)
        ) {
          return `only 'seconds', 'milli', 'miliseconds', 'micro' or 'microseconds' are allowed as a modifier for %d ('${modifier}')`;
        }
        break;
      case 'M':
        if (!['', 'bytes', 'kilo', 'kilobytes', 'mega', 'megabytes'].includes(m)) {
          return `only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed as a modifier for %M ('${modifier}')`;
        }
        break;
      case 'e':
        if (modifier === '')
          return 'the name of the environment variable must be set between embraces for %e';
        break;
      case 'o':
        if (modifier === '') return 'the name of the header must be set between embraces for %o';
        break;
      case '{': {
        const close = format.indexOf('}', i + 1);
        if (close < 0 || close + 1 >= format.length)
          return 'missing closing embrace in the access.format';
        modifier = format.slice(i + 1, close);
        i = close;
        token = true;
        break;
      }
      default:
        return `Invalid token in the access.format (%${c})`;
    }
  }
  return undefined;
}

interface ProcessedPool {
  pool: PoolConfig;
  index: number | undefined;
  /** The hidden `<name>_status` pool that `pm.status_listen` creates. */
  hidden: boolean;
  listen: string | undefined;
  /** The UNIX socket path FPM binds, relative paths resolved; undefined for TCP. */
  unixPath?: string | undefined;
}

function checkGlobal(ctx: Ctx, config: FpmConfig): boolean {
  const g = config.global;
  const globalPrefix = ctx.options.prefix;
  let ok = true;
  const err = (level: Level, code: FpmFindingCode, text: string, directive?: string) => {
    fpm(ctx, level, code, text, directive ? { directive } : {});
    if (level === 'ERROR' || level === 'ALERT') ok = false;
  };
  if ((g.logLimit ?? 1024) < MIN_LOG_LIMIT)
    err('ERROR', 'fpm.log-limit', `log_limit must be greater than ${MIN_LOG_LIMIT}`, 'log_limit');
  if ((g.process.max ?? 0) < 0)
    err('ERROR', 'fpm.process-max-negative', "process_max can't be negative", 'process.max');
  const prio = g.process.priority;
  if (prio !== undefined && prio !== 64 && (prio < -19 || prio > 20)) {
    err(
      'ERROR',
      'fpm.process-priority',
      'process.priority must be included into [-19,20]',
      'process.priority',
    );
  }
  const errorLog = g.errorLog ?? 'log/php-fpm.log';
  if (errorLog.toLowerCase() !== 'syslog') {
    const path = fullPath(errorLog, undefined, globalPrefix, DEBIAN_LOCALSTATEDIR);
    const errno = ctx.system.openForAppend(path);
    if (errno)
      err(
        'ERROR',
        'fpm.error-log-unwritable',
        `failed to open error_log (${path}): ${describeErrno(errno)}`,
        'error_log',
      );
  }
  const mechanism = g.eventsMechanism;
  if (
    mechanism !== undefined &&
    mechanism !== '' &&
    !ctx.system.eventMechanisms.includes(mechanism.toLowerCase())
  ) {
    err(
      'ERROR',
      'fpm.events-mechanism',
      `event mechanism '${mechanism}' is not available on this system`,
      'events.mechanism',
    );
  }
  return ok;
}

function edgeTriggered(config: FpmConfig): boolean {
  const m = config.global.eventsMechanism?.toLowerCase();
  return m === undefined || m === '' || m === 'epoll' || m === 'kqueue';
}

/** What FPM says about a status or ping path, or undefined when it accepts it. */
function uriPathProblem(
  kind: 'status' | 'ping',
  path: string,
  mayBeRoot: boolean,
): string | undefined {
  if (!path.startsWith('/')) return `the ${kind} path '${path}' must start with a '/'`;
  if (!mayBeRoot && path.length < 2) return `the ${kind} path '${path}' is not long enough`;
  if (!STATUS_PATH_RE.test(path)) {
    return `the ${kind} path '${path}' must contain only the following characters '[alphanum]/_-.~'`;
  }
  return undefined;
}

function checkPool(ctx: Ctx, config: FpmConfig, entry: ProcessedPool, all: ProcessedPool[]): void {
  const { pool, index } = entry;
  const p = pool.name;
  const loc = { poolIndex: index, pool: p } as const;
  const globalPrefix = ctx.options.prefix;
  const fail = (
    level: Level,
    code: FpmFindingCode,
    text: string,
    directive?: string,
    fix?: string,
  ) =>
    fpm(ctx, level, code, text, {
      ...loc,
      ...(directive ? { directive } : {}),
      ...(fix ? { fix } : {}),
    });

  let poolPrefix: string | undefined;
  if (pool.prefix) {
    poolPrefix = fullPath(pool.prefix, undefined, globalPrefix, DEBIAN_PHP_PREFIX);
    if (!ctx.system.isDirectory(poolPrefix)) {
      fail(
        'ERROR',
        'fpm.prefix-missing',
        `[pool ${p}] the prefix '${poolPrefix}' does not exist or is not a directory`,
        'prefix',
      );
    }
  }
  if (pool.user === undefined && ctx.options.asRoot && !ctx.options.allowRoot) {
    fail(
      'ALERT',
      'fpm.user-missing',
      `[pool ${p}] user has not been defined`,
      'user',
      'set `user` (and `group`) for the pool, e.g. www-data',
    );
  }
  const address = pool.listen.address;
  if (!address) {
    fail(
      'ALERT',
      'fpm.listen-missing',
      `[pool ${p}] no listen address have been defined!`,
      'listen',
      'set `listen` to a socket path or host:port',
    );
  } else {
    // Relative UNIX paths are resolved against the pool prefix, else the global one, else the
    // compiled one, before FPM compares the pools' addresses.
    const listen = listenOf(address, poolPrefix ?? globalPrefix ?? DEBIAN_PHP_PREFIX);
    entry.listen = listen?.kind === 'unix' ? listen.path : address;
    // FPM's own rule (`fpm_sockets_domain_from_address`): a colon or only digits is TCP; the
    // path is kept whatever its length, which parseListen refuses.
    entry.unixPath =
      address.includes(':') || /^\d*$/.test(address)
        ? undefined
        : fullPath(address, poolPrefix, globalPrefix, DEBIAN_PHP_PREFIX);
  }
  const prio = pool.process.priority;
  if (prio !== undefined && prio !== 64 && (prio < -19 || prio > 20)) {
    fail(
      'ERROR',
      'fpm.process-priority',
      `[pool ${p}] process.priority must be included into [-19,20]`,
      'process.priority',
    );
  }
  const mode = pool.pm.mode;
  if (mode === undefined) {
    fail(
      'ALERT',
      'fpm.pm-missing',
      `[pool ${p}] the process manager is missing (static, dynamic or ondemand)`,
      'pm',
      'set `pm = dynamic` (or static, ondemand)',
    );
  }
  const maxChildren = pool.pm.maxChildren ?? 0;
  if (maxChildren < 1) {
    fail(
      'ALERT',
      'fpm.max-children',
      `[pool ${p}] pm.max_children must be a positive value`,
      'pm.max_children',
    );
  }
  if (mode === 'dynamic') {
    const min = pool.pm.minSpareServers ?? 0;
    const max = pool.pm.maxSpareServers ?? 0;
    let start = pool.pm.startServers ?? 0;
    if (min <= 0)
      fail(
        'ALERT',
        'fpm.min-spare',
        `[pool ${p}] pm.min_spare_servers(${min}) must be a positive value`,
        'pm.min_spare_servers',
      );
    if (max <= 0)
      fail(
        'ALERT',
        'fpm.max-spare',
        `[pool ${p}] pm.max_spare_servers(${max}) must be a positive value`,
        'pm.max_spare_servers',
      );
    if (min > maxChildren || max > maxChildren) {
      fail(
        'ALERT',
        'fpm.spare-above-max-children',
        `[pool ${p}] pm.min_spare_servers(${min}) and pm.max_spare_servers(${max}) cannot be greater than pm.max_children(${maxChildren})`,
        'pm.max_spare_servers',
      );
    }
    if (max < min) {
      fail(
        'ALERT',
        'fpm.max-spare-below-min-spare',
        `[pool ${p}] pm.max_spare_servers(${max}) must not be less than pm.min_spare_servers(${min})`,
        'pm.max_spare_servers',
      );
    }
    if (start <= 0) {
      start = min + Math.trunc((max - min) / 2);
      fail(
        'NOTICE',
        'fpm.start-servers-default',
        `[pool ${p}] pm.start_servers is not set. It's been set to ${start}.`,
        'pm.start_servers',
      );
    } else if (start < min || start > max) {
      fail(
        'ALERT',
        'fpm.start-servers-range',
        `[pool ${p}] pm.start_servers(${start}) must not be less than pm.min_spare_servers(${min}) and not greater than pm.max_spare_servers(${max})`,
        'pm.start_servers',
      );
    }
    if ((pool.pm.maxSpawnRate ?? FPM_DEFAULT_MAX_SPAWN_RATE) < 1) {
      fail(
        'ALERT',
        'fpm.max-spawn-rate',
        `[pool ${p}] pm.max_spawn_rate must be a positive value`,
        'pm.max_spawn_rate',
      );
    }
  } else if (mode === 'ondemand') {
    if (!edgeTriggered(config)) {
      fail(
        'ALERT',
        'fpm.ondemand-events',
        `[pool ${p}] ondemand process manager can ONLY be used when events.mechanism is either epoll (Linux) or kqueue (*BSD).`,
        'pm',
      );
    }
    const idle = pool.pm.processIdleTimeoutSeconds ?? FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS;
    if (idle < 1) {
      fail(
        'ALERT',
        'fpm.idle-timeout',
        `[pool ${p}] pm.process_idle_timeout(${idle}s) must be greater than 0s`,
        'pm.process_idle_timeout',
      );
    }
    const backlog = pool.listen.backlog ?? FPM_DEFAULT_LISTEN_BACKLOG;
    if (backlog < -1) {
      fail(
        'WARNING',
        'fpm.ondemand-backlog',
        `[pool ${p}] listen.backlog(${backlog}) was too low for the ondemand process manager. I updated it for you to -1.`,
        'listen.backlog',
      );
    }
  }
  const statusListen = pool.pm.statusListen;
  let statusPath = pool.pm.statusPath;
  if (statusListen !== undefined && !entry.hidden) {
    if (statusPath === undefined) statusPath = '/';
    all.push({
      pool: {
        ...pool,
        name: `${p}_status`,
        listen: { ...pool.listen, address: statusListen },
        pm: { mode: 'ondemand', maxChildren: 2, statusPath },
        ping: {},
      },
      index,
      hidden: true,
      listen: undefined,
    });
  }
  // FPM's three rules for the status and ping paths (`fpm_conf_process_all_pools`).
  const statusProblem = statusPath
    ? uriPathProblem('status', statusPath, statusListen !== undefined || entry.hidden)
    : undefined;
  if (statusProblem)
    fail('ERROR', 'fpm.status-path', `[pool ${p}] ${statusProblem}`, 'pm.status_path');
  const pingPath = pool.ping.path;
  if (pingPath) {
    const pingProblem = uriPathProblem('ping', pingPath, false);
    if (pingProblem) {
      fail('ERROR', 'fpm.ping-path', `[pool ${p}] ${pingProblem}`, 'ping.path');
    } else if (pool.ping.response !== undefined && pool.ping.response.length < 1) {
      fail(
        'ERROR',
        'fpm.ping-response',
        `[pool ${p}] the ping response page '' is not long enough`,
        'ping.response',
      );
    }
  }
  const slowlog = pool.slowlog
    ? fullPath(pool.slowlog, poolPrefix, globalPrefix, DEBIAN_PHP_PREFIX)
    : undefined;
  const slowTimeout = pool.requestSlowlogTimeoutSeconds ?? 0;
  const slowlogRequired = (directive: string, fix?: string) =>
    fail(
      'ERROR',
      'fpm.slowlog-required',
      `[pool ${p}] 'slowlog' must be specified for use with '${directive}'`,
      directive,
      fix,
    );
  const terminate = pool.requestTerminateTimeoutSeconds ?? 0;
  if (slowTimeout !== 0) {
    if (!slowlog) {
      slowlogRequired('request_slowlog_timeout', 'set `slowlog` to a file path');
    } else {
      const errno = ctx.system.openForAppend(slowlog);
      if (errno)
        fail(
          'ERROR',
          'fpm.slowlog-unwritable',
          `Unable to create or open slowlog(${slowlog}): ${describeErrno(errno)}`,
          'slowlog',
        );
      if (terminate !== 0 && slowTimeout > terminate) {
        fail(
          'ERROR',
          'fpm.slowlog-above-terminate',
          `[pool ${p}] 'request_slowlog_timeout' (${slowTimeout}) can't be greater than 'request_terminate_timeout' (${terminate})`,
          'request_slowlog_timeout',
        );
      }
    }
  }
  const depth = pool.requestSlowlogTraceDepth ?? 0;
  if (depth !== 0) {
    if (!slowlog) {
      slowlogRequired('request_slowlog_trace_depth');
    } else if (depth <= 0) {
      fail(
        'ERROR',
        'fpm.trace-depth',
        `[pool ${p}] 'request_slowlog_trace_depth' (${depth}) must be a positive value`,
        'request_slowlog_trace_depth',
      );
    }
  }
  // FPM's messages for chroot and chdir: relative, then missing.
  const pathFail = (what: 'chroot' | 'chdir', path: string, problem: string) =>
    fail(
      'ERROR',
      what === 'chroot' ? 'fpm.chroot' : 'fpm.chdir',
      `[pool ${p}] the ${what} path '${path}' ${problem}`,
      what,
    );
  let chroot: string | undefined;
  if (pool.chroot) {
    chroot = chrootPath(pool.chroot, poolPrefix, globalPrefix);
    if (!chroot.startsWith('/')) pathFail('chroot', chroot, "must start with a '/'");
    else if (!ctx.system.isDirectory(chroot)) {
      pathFail('chroot', chroot, 'does not exist or is not a directory');
    }
  }
  if (pool.chdir) {
    const chdir = fullPath(pool.chdir, poolPrefix, globalPrefix, DEBIAN_PHP_PREFIX);
    if (!chdir.startsWith('/')) {
      pathFail('chdir', chdir, "must start with a '/'");
    } else if (pool.chroot !== undefined) {
      const inside = `${chroot ?? pool.chroot}/${chdir}`;
      if (!ctx.system.isDirectory(inside)) {
        fail(
          'ERROR',
          'fpm.chdir',
          `[pool ${p}] the chdir path '${chdir}' within the chroot path '${chroot ?? pool.chroot}' ('${inside}') does not exist or is not a directory`,
          'chdir',
        );
      }
    } else if (!ctx.system.isDirectory(chdir)) {
      pathFail('chdir', chdir, 'does not exist or is not a directory');
    }
  }
}

/**
 * FPM compares every pool's listen address with every other pool's and reports the first pair
 * (`fpm_conf_process_all_pools`): the earliest pool whose address another pool also uses, and
 * the first other pool with it, which is that address's second user. One pass finds the same
 * pair in linear time.
 */
export function firstDuplicateListen<T extends { listen: string | undefined }>(
  pools: readonly T[],
): { first: T; second: T } | undefined {
  const firstUser = new Map<string, number>();
  let found: { first: number; second: number } | undefined;
  for (const [i, pool] of pools.entries()) {
    if (!pool.listen) continue;
    const earlier = firstUser.get(pool.listen);
    if (earlier === undefined) firstUser.set(pool.listen, i);
    else if (earlier >= 0) {
      // The address's second user; later users of it never change the pair.
      if (found === undefined || earlier < found.first) found = { first: earlier, second: i };
      firstUser.set(pool.listen, -1);
    }
  }
  return found && { first: pools[found.first]!, second: pools[found.second]! };
}

function checkAfterPools(ctx: Ctx, pools: ProcessedPool[]): void {
  const pair = firstDuplicateListen(pools);
  if (!pair) return;
  const { first: a, second: b } = pair;
  fpm(
    ctx,
    'ERROR',
    'fpm.listen-duplicate',
    `[pool ${b.pool.name}] unable to set listen address as it's already used in another pool '${a.pool.name}'`,
    {
      pool: b.pool.name,
      poolIndex: b.index,
      directive: 'listen',
      fix: 'give each pool its own socket',
    },
  );
}

function checkAccessLogs(ctx: Ctx, pools: ProcessedPool[]): void {
  const globalPrefix = ctx.options.prefix;
  for (const { pool, index } of pools) {
    if (pool.access.log === undefined) continue;
    const poolPrefix = pool.prefix
      ? fullPath(pool.prefix, undefined, globalPrefix, DEBIAN_PHP_PREFIX)
      : undefined;
    // An empty access.log is not resolved against a prefix; FPM still opens "" and fails.
    const path =
      pool.access.log === ''
        ? ''
        : fullPath(pool.access.log, poolPrefix, globalPrefix, DEBIAN_PHP_PREFIX);
    const errno = path === '' ? 'ENOENT' : ctx.system.openForAppend(path);
    if (errno) {
      fpm(
        ctx,
        'ERROR',
        'fpm.access-log-unwritable',
        `failed to open access log (${path}): ${describeErrno(errno)}`,
        {
          pool: pool.name,
          poolIndex: index,
          directive: 'access.log',
        },
      );
    }
  }
  for (const { pool, index } of pools) {
    if (!pool.access.log) continue;
    const format = pool.access.format ?? FPM_DEFAULT_ACCESS_FORMAT;
    const problem = accessFormatProblem(format);
    if (problem) {
      fpm(
        ctx,
        'ERROR',
        'fpm.access-format',
        `[pool ${pool.name}] wrong format for access.format '${format}'`,
        {
          pool: pool.name,
          poolIndex: index,
          directive: 'access.format',
          evidence: { fpmWarning: `WARNING: ${problem}` },
          fix: problem,
        },
      );
    }
  }
}

/**
 * The lookups only `php-fpm -t` makes (`fpm_unix_test_config`), after the config is processed:
 * accounts from 8.2, the UNIX socket path's length from 8.3 (between the group and the
 * listen owner, as FPM orders them).
 */
function checkAccounts(ctx: Ctx, pools: ProcessedPool[]): void {
  const facts = FPM_VERSION_FACTS[ctx.version];
  for (const { pool, index, unixPath } of pools) {
    // FPM's getpwnam/getgrnam messages; for listen.* it appends the errno, which is 0.
    const lookup = (
      kind: 'user' | 'group',
      name: string | undefined,
      code: FpmFindingCode,
      directive: string,
      suffix: string,
    ) => {
      if (!facts.testChecksAccounts) return;
      const exists = kind === 'user' ? ctx.system.userExists : ctx.system.groupExists;
      if (!name || exists(name)) return;
      const id = kind === 'user' ? 'uid' : 'gid';
      fpm(
        ctx,
        'ERROR',
        code,
        `[pool ${pool.name}] cannot get ${id} for ${kind} '${name}'${suffix}`,
        { pool: pool.name, poolIndex: index, directive },
      );
    };
    lookup('user', pool.user, 'fpm.user-unknown', 'user', '');
    lookup('group', pool.group, 'fpm.group-unknown', 'group', '');
    if (facts.testChecksSocketPathLength && unixPath !== undefined) {
      const bytes = Buffer.byteLength(unixPath);
      if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
        fpm(
          ctx,
          'ERROR',
          'fpm.listen-path-too-long',
          `[pool ${pool.name}] cannot bind to UNIX socket '${unixPath}' as path is too long (found length: ${bytes}, maximal length: ${MAX_UNIX_SOCKET_PATH_BYTES + 1}): Success (0)`,
          { pool: pool.name, poolIndex: index, directive: 'listen' },
        );
      }
    }
    lookup('user', pool.listen.owner, 'fpm.listen-owner-unknown', 'listen.owner', ': Success (0)');
    lookup('group', pool.listen.group, 'fpm.listen-group-unknown', 'listen.group', ': Success (0)');
  }
}

const IPV4_RE = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_RE = /^[0-9a-fA-F:.]+$/;

/** What FPM accepts but a person would not want. These never change `ok`. */
function advisories(ctx: Ctx, config: FpmConfig): void {
  const g = config.global;
  const pct = g.processControlTimeoutSeconds ?? 0;
  if (pct < 0) {
    advise(ctx, 'fpm.negative-time', `process_control_timeout is negative (${pct}s)`, {
      directive: 'process_control_timeout',
    });
  } else {
    // One FPM configuration does not say how long requests run: only 0 is known to be short.
    adviseWith(
      ctx,
      'fpm.process-control-timeout-zero',
      processControlTimeoutAdvice(pct, undefined),
    );
  }
  for (const [index, pool] of config.pools.entries()) {
    const loc = { pool: pool.name, poolIndex: index };
    const slow = pool.requestSlowlogTimeoutSeconds ?? 0;
    const terminate = pool.requestTerminateTimeoutSeconds ?? 0;
    for (const [directive, value] of [
      ['request_slowlog_timeout', slow],
      ['request_terminate_timeout', terminate],
      [
        'pm.process_idle_timeout',
        pool.pm.processIdleTimeoutSeconds ?? FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
      ],
    ] as const) {
      if (value < 0) {
        advise(
          ctx,
          'fpm.negative-time',
          `${directive} is negative (${value}s): a negative timeout disables timeout checks for every pool`,
          {
            ...loc,
            directive,
            fix: 'use 0 to turn a timeout off',
          },
        );
      }
    }
    if (slow > 0 && terminate === 0) {
      advise(
        ctx,
        'fpm.slowlog-without-terminate',
        'request_slowlog_timeout is set but request_terminate_timeout is not: slow requests are logged but never stopped',
        {
          ...loc,
          directive: 'request_terminate_timeout',
          fix: 'set request_terminate_timeout above request_slowlog_timeout',
        },
      );
    }
    const maxRequests = pool.pm.maxRequests;
    adviseWith(ctx, 'fpm.max-requests-zero', maxRequestsAdvice(maxRequests, true), loc);
    adviseWith(
      ctx,
      'fpm.backlog-above-somaxconn',
      backlogAboveSomaxconnAdvice(pool.listen.backlog, ctx.options.somaxconn),
      loc,
    );
    if (pool.user === 'root' || pool.group === 'root') {
      advise(
        ctx,
        'fpm.user-root',
        'the pool runs as root: php-fpm -t accepts it, but FPM refuses to start without -R',
        {
          ...loc,
          directive: 'user',
          fix: 'run the pool as an unprivileged user such as www-data',
        },
      );
    }
    const address = pool.listen.address;
    const clients = pool.listen.allowedClients;
    if (address && clients) {
      const listen = listenOf(address);
      adviseWith(
        ctx,
        'fpm.allowed-clients-unix',
        allowedClientsUnixAdvice(pool.listen, listen?.kind === 'unix' ? listen.path : undefined),
        loc,
      );
      for (const ip of clients) {
        if (!IPV4_RE.test(ip) && !(ip.includes(':') && IPV6_RE.test(ip))) {
          advise(
            ctx,
            'fpm.allowed-clients-invalid',
            `listen.allowed_clients entry '${ip}' is not an IP address; workers will refuse it`,
            {
              ...loc,
              directive: 'listen.allowed_clients',
              fix: 'list IPv4 or IPv6 addresses separated by commas, without spaces or CIDR masks',
            },
          );
        }
      }
    }
    adviseWith(ctx, 'fpm.listen-owner-ignored', listenOwnerIgnoredAdvice(pool.listen), loc);
    if (pool.pm.statusListen !== undefined && pool.pm.statusPath === undefined) {
      advise(
        ctx,
        'fpm.status-listen-without-path',
        "pm.status_listen without pm.status_path serves the status page at '/' on the pool's main socket too",
        { ...loc, directive: 'pm.status_path', fix: 'set pm.status_path, e.g. /status' },
      );
    }
    const extensions = pool.securityLimitExtensions;
    if (extensions !== undefined && extensions.length === 0) {
      advise(
        ctx,
        'fpm.any-extension-executed',
        'security.limit_extensions is empty, so FPM runs any file it is asked for as PHP, whatever its extension (a bare none, no, off, false or null is read as empty): an uploaded image holding PHP code is executed',
        {
          ...loc,
          directive: 'security.limit_extensions',
          fix: 'remove the line (FPM then allows .php .phar) or list the extensions, e.g. security.limit_extensions = .php',
        },
      );
    }
    if (Buffer.byteLength(pool.name) > STATUS_POOL_NAME_BYTES) {
      advise(
        ctx,
        'fpm.pool-name-truncated',
        `the status page shows only the first ${STATUS_POOL_NAME_BYTES} bytes of the pool name`,
        loc,
      );
    }
  }
}

/** Load errors after which pools of the file may be missing from the model. */
const SECTION_LOSING_CODES: ReadonlySet<FpmFindingCode> = new Set<FpmFindingCode>([
  'fpm.syntax',
  'fpm.include-failed',
  'fpm.include-unreadable',
  'fpm.include-unresolved',
  'fpm.include-depth',
  'fpm.include-twice',
]);

/**
 * Drops what a load error already says: a directive FPM could not read is absent from the
 * model, so the checks after loading would report it again as missing (`pm = auto` is also
 * "the process manager is missing").
 */
function withoutEchoes(
  findings: Finding<FpmFindingCode>[],
  loadFindings: number,
  loadErrors: readonly Finding<FpmFindingCode>[],
): Finding<FpmFindingCode>[] {
  if (loadErrors.length === 0) return findings;
  const key = (f: Finding) => `${f.pool ?? ''}\0${f.directive ?? ''}`;
  const refused = new Set(loadErrors.filter((f) => f.directive !== undefined).map(key));
  return findings.filter((f, i) => i < loadFindings || !refused.has(key(f)));
}

function resolveSystem(system: FpmSystem | undefined): Ctx['system'] {
  return {
    userExists: system?.userExists?.bind(system) ?? (() => true),
    groupExists: system?.groupExists?.bind(system) ?? (() => true),
    isDirectory: system?.isDirectory?.bind(system) ?? (() => true),
    openForAppend: system?.openForAppend?.bind(system) ?? (() => undefined),
    eventMechanisms: system?.eventMechanisms ?? LINUX_EVENT_MECHANISMS,
  };
}

/**
 * Decides what `php-fpm -t` would decide for the same configuration, with FPM's own message
 * texts, and adds warnings for what FPM accepts but a person would not want.
 *
 * `ok` is false exactly when a finding is an error, which is when `php-fpm -t` exits 78. The first error finding is the error FPM
 * prints first (FPM stops there; fpmkit goes on and reports every problem it can). Checks that
 * need the machine (users, directories, log files) use `options.system`. Throws `FpmkitIoError`
 * when `readFile` refuses an included file (a FIFO, a device, a file over the size bound).
 *
 * @param input the configuration text, or a model (validated with `fpmConfigSchema`)
 */
export function checkFpmConfig(
  input: string | FpmConfigInput,
  options: CheckFpmConfigOptions = {},
): CheckFpmConfigResult {
  const ctx: Ctx = {
    findings: [],
    options,
    system: resolveSystem(options.system),
    version:
      options.phpVersion === undefined
        ? DEFAULT_FPM_PHP_VERSION
        : parseFpmPhpVersion(options.phpVersion),
    locations: undefined,
  };
  let config: FpmConfig;
  let loadErrors: Finding<FpmFindingCode>[] = [];
  if (typeof input === 'string') {
    const loaded = loadFpmConfigText(input, options, true);
    ctx.locations = loaded.locations;
    ctx.findings.push(...loaded.findings);
    loadErrors = loaded.findings.filter((f) => f.severity === 'error');
    config = loaded.config;
  } else {
    config = parseOptions(fpmConfigSchema, input, undefined, 'config');
  }
  const loadFindings = ctx.findings.length;
  checkGlobal(ctx, config);
  // A file FPM stops reading is still checked to the end, so one bad line does not hide the
  // rest; a section lost to a syntax error or an include is not reported as missing pools.
  const sectionsLost = loadErrors.some((f) => SECTION_LOSING_CODES.has(f.code));
  if (config.pools.length === 0 && !sectionsLost) {
    fpm(
      ctx,
      'ERROR',
      'fpm.no-pool',
      'No pool defined. at least one pool section must be specified in config file',
      {
        fix: 'add a pool section such as [www]',
      },
    );
  }
  const processed: ProcessedPool[] = config.pools.map((pool, index) => ({
    pool,
    index,
    hidden: false,
    listen: undefined,
  }));
  for (let i = 0; i < processed.length; i++) checkPool(ctx, config, processed[i]!, processed);
  checkAfterPools(ctx, processed);
  checkAccessLogs(ctx, processed);
  checkAccounts(ctx, processed);
  advisories(ctx, config);
  return checkResult(withoutEchoes(ctx.findings, loadFindings, loadErrors));
}
