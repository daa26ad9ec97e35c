/**
 * Every directive PHP-FPM 8.0 to 8.4 knows, as `sapi/fpm/fpm/fpm_conf.c` lists them
 * (`ini_fpm_global_options`, `ini_fpm_pool_options` and the array directives), in FPM's own
 * order; `since` says which versions have it (8.2, 8.3 and 8.4 list the same names). Each row names the value type FPM parses, the default FPM applies when the directive is
 * absent, the PHP version that introduced it, the build option it depends on, and where it
 * lives in the fpmkit model.
 */

import {
  FPM_DEFAULT_ACCESS_FORMAT,
  FPM_DEFAULT_LISTEN_BACKLOG,
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PING_RESPONSE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
  FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS,
} from '../defaults.js';
import { DEFAULT_FPM_PHP_VERSION, existsInVersion, type FpmPhpVersion } from './versions.js';

/** How FPM reads a directive's value. */
export const FPM_VALUE_TYPES = [
  'string',
  'path',
  'integer',
  'time',
  'boolean',
  'log_level',
  'syslog_facility',
  'rlimit_core',
  'pm',
  'octal',
  'csv',
  'extensions',
  'array',
  'flag_array',
  'path_list',
] as const;
/** How FPM reads a directive's value (see {@link FPM_VALUE_TYPES}). */
export type FpmValueType = (typeof FPM_VALUE_TYPES)[number];

/** Build options that decide whether a directive exists at all (absent → "unknown entry"). */
export const FPM_BUILD_FEATURES = ['syslog', 'systemd', 'acl', 'apparmor', 'setfib'] as const;
/** A build option that decides whether some directives exist (see {@link FPM_BUILD_FEATURES}). */
export type FpmBuildFeature = (typeof FPM_BUILD_FEATURES)[number];

/** What Debian's php-fpm 8.2 on Linux is built with. */
export const DEBIAN_LINUX_BUILD: Readonly<Record<FpmBuildFeature, boolean>> = {
  syslog: true,
  systemd: true,
  acl: true,
  apparmor: true,
  setfib: false,
};

/** One directive FPM knows: its name, section, value type and default, from the FPM 8.2 sources. */
export interface FpmDirective {
  /** The name as written in the file, e.g. `pm.max_children`. */
  name: string;
  section: 'global' | 'pool';
  type: FpmValueType;
  /** FPM's effective default in words, as `php-fpm -tt` would show it; undefined when none. */
  default: string | undefined;
  /** The PHP version that introduced it (`old` for directives older than PHP 7). */
  since: string;
  /** Build feature the directive needs; without it FPM rejects it as an unknown entry. */
  build?: FpmBuildFeature;
  /** Where the value lives in `GlobalConfig` or `PoolConfig`, e.g. `['pm', 'maxChildren']`. */
  path: readonly string[];
  /** One line on what it does. */
  summary: string;
}

/** A row builder for one section: `g` for `[global]`, `p` for pools. */
const rowsOf =
  (section: FpmDirective['section']) =>
  (
    name: string,
    type: FpmValueType,
    path: readonly string[],
    def: string | undefined,
    since: string,
    summary: string,
    build?: FpmBuildFeature,
  ): FpmDirective => ({
    name,
    section,
    type,
    path,
    default: def,
    since,
    summary,
    ...(build ? { build } : {}),
  });
const g = rowsOf('global');
const p = rowsOf('pool');

/** The `[global]` directives in FPM's order. */
export const FPM_GLOBAL_DIRECTIVES: readonly FpmDirective[] = [
  g('pid', 'path', ['pid'], undefined, 'old', 'pid file; relative paths resolve against /var'),
  g('error_log', 'path', ['errorLog'], 'log/php-fpm.log', 'old', "error log file, or 'syslog'"),
  g('syslog.ident', 'string', ['syslog', 'ident'], 'php-fpm', 'old', 'syslog identity', 'syslog'),
  g(
    'syslog.facility',
    'syslog_facility',
    ['syslog', 'facility'],
    'daemon',
    'old',
    'syslog facility',
    'syslog',
  ),
  g('log_buffering', 'boolean', ['logBuffering'], 'yes', '7.3', 'buffer log lines'),
  g(
    'log_level',
    'log_level',
    ['logLevel'],
    'notice',
    'old',
    'lowest level written to the error log',
  ),
  g(
    'log_limit',
    'integer',
    ['logLimit'],
    '1024',
    '7.3',
    'longest log line in bytes (at least 512)',
  ),
  g(
    'emergency_restart_threshold',
    'integer',
    ['emergencyRestartThreshold'],
    '0',
    'old',
    'children dying of SIGSEGV/SIGBUS within the interval that trigger a reload',
  ),
  g(
    'emergency_restart_interval',
    'time',
    ['emergencyRestartIntervalSeconds'],
    '0',
    'old',
    'window for emergency_restart_threshold',
  ),
  g(
    'process_control_timeout',
    'time',
    ['processControlTimeoutSeconds'],
    '0',
    'old',
    'how long children get to finish on reload or stop before SIGTERM; 0 kills in-flight requests',
  ),
  g(
    'process.max',
    'integer',
    ['process', 'max'],
    '0',
    'old',
    'most processes FPM forks over all pools; 0 is unlimited',
  ),
  g(
    'process.priority',
    'integer',
    ['process', 'priority'],
    undefined,
    'old',
    'nice value of the master (-19 to 20)',
  ),
  g('daemonize', 'boolean', ['daemonize'], 'yes', 'old', 'run in the background'),
  g(
    'rlimit_files',
    'integer',
    ['rlimitFiles'],
    '0',
    'old',
    'open file limit of the master; 0 keeps the system value',
  ),
  g(
    'rlimit_core',
    'rlimit_core',
    ['rlimitCore'],
    '0',
    'old',
    "core size limit; 'unlimited' or 0 to keep the system value",
  ),
  g(
    'events.mechanism',
    'string',
    ['eventsMechanism'],
    undefined,
    'old',
    'event mechanism (epoll on Linux by default)',
  ),
  g(
    'systemd_interval',
    'time',
    ['systemdIntervalSeconds'],
    String(FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS),
    'old',
    'interval of status reports to systemd; 0 disables',
    'systemd',
  ),
];

/** The pool directives in FPM's order. */
export const FPM_POOL_DIRECTIVES: readonly FpmDirective[] = [
  p('prefix', 'path', ['prefix'], undefined, 'old', 'prefix for relative paths of this pool'),
  p(
    'user',
    'string',
    ['user'],
    undefined,
    'old',
    "workers' user; required when the master runs as root",
  ),
  p(
    'group',
    'string',
    ['group'],
    undefined,
    'old',
    "workers' group; the user's primary group when unset",
  ),
  p(
    'listen',
    'string',
    ['listen', 'address'],
    undefined,
    'old',
    'socket path, host:port, [ipv6]:port or port',
  ),
  p(
    'listen.backlog',
    'integer',
    ['listen', 'backlog'],
    String(FPM_DEFAULT_LISTEN_BACKLOG),
    'old',
    'accept queue length; -1 means net.core.somaxconn',
  ),
  p(
    'listen.acl_users',
    'csv',
    ['listen', 'aclUsers'],
    undefined,
    '5.6',
    'users granted the socket by POSIX ACL',
    'acl',
  ),
  p(
    'listen.acl_groups',
    'csv',
    ['listen', 'aclGroups'],
    undefined,
    '5.6',
    'groups granted the socket by POSIX ACL',
    'acl',
  ),
  p(
    'listen.owner',
    'string',
    ['listen', 'owner'],
    undefined,
    'old',
    'owner of the UNIX socket; unset means no chown',
  ),
  p('listen.group', 'string', ['listen', 'group'], undefined, 'old', 'group of the UNIX socket'),
  p('listen.mode', 'octal', ['listen', 'mode'], '0660', 'old', 'mode of the UNIX socket'),
  p(
    'listen.allowed_clients',
    'csv',
    ['listen', 'allowedClients'],
    undefined,
    'old',
    'IP addresses allowed to connect over TCP',
  ),
  p(
    'listen.setfib',
    'integer',
    ['listen', 'setfib'],
    '-1',
    '8.2',
    'routing table of the socket (FreeBSD)',
    'setfib',
  ),
  p(
    'process.priority',
    'integer',
    ['process', 'priority'],
    undefined,
    'old',
    'nice value of the workers (-19 to 20)',
  ),
  p(
    'process.dumpable',
    'boolean',
    ['process', 'dumpable'],
    'no',
    '7.0',
    'set PR_SET_DUMPABLE on workers',
  ),
  p('pm', 'pm', ['pm', 'mode'], undefined, 'old', 'process manager: static, dynamic or ondemand'),
  p(
    'pm.max_children',
    'integer',
    ['pm', 'maxChildren'],
    undefined,
    'old',
    'most workers the pool runs at once',
  ),
  p(
    'pm.start_servers',
    'integer',
    ['pm', 'startServers'],
    undefined,
    'old',
    'workers started with the pool (dynamic)',
  ),
  p(
    'pm.min_spare_servers',
    'integer',
    ['pm', 'minSpareServers'],
    undefined,
    'old',
    'fewest idle workers (dynamic)',
  ),
  p(
    'pm.max_spare_servers',
    'integer',
    ['pm', 'maxSpareServers'],
    undefined,
    'old',
    'most idle workers (dynamic)',
  ),
  p(
    'pm.max_spawn_rate',
    'integer',
    ['pm', 'maxSpawnRate'],
    String(FPM_DEFAULT_MAX_SPAWN_RATE),
    '8.1',
    'most workers forked per second (dynamic)',
  ),
  p(
    'pm.process_idle_timeout',
    'time',
    ['pm', 'processIdleTimeoutSeconds'],
    String(FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS),
    'old',
    'idle time before a worker is stopped (ondemand)',
  ),
  p(
    'pm.max_requests',
    'integer',
    ['pm', 'maxRequests'],
    '0',
    'old',
    'requests a worker serves before it is replaced; 0 is never',
  ),
  p('pm.status_path', 'string', ['pm', 'statusPath'], undefined, 'old', 'URI of the status page'),
  p(
    'pm.status_listen',
    'string',
    ['pm', 'statusListen'],
    undefined,
    '8.0',
    'separate socket serving the status page',
  ),
  p('ping.path', 'string', ['ping', 'path'], undefined, 'old', 'URI of the ping page'),
  p(
    'ping.response',
    'string',
    ['ping', 'response'],
    FPM_DEFAULT_PING_RESPONSE,
    'old',
    'body of the ping page',
  ),
  p('access.log', 'path', ['access', 'log'], undefined, 'old', 'access log file'),
  p(
    'access.format',
    'string',
    ['access', 'format'],
    FPM_DEFAULT_ACCESS_FORMAT,
    'old',
    'access log line format',
  ),
  p('slowlog', 'path', ['slowlog'], undefined, 'old', 'file that receives slow request traces'),
  p(
    'request_slowlog_timeout',
    'time',
    ['requestSlowlogTimeoutSeconds'],
    '0',
    'old',
    'request time after which a trace goes to the slowlog; 0 is off',
  ),
  p(
    'request_slowlog_trace_depth',
    'integer',
    ['requestSlowlogTraceDepth'],
    '20',
    '7.2',
    'stack frames written per slow request',
  ),
  p(
    'request_terminate_timeout',
    'time',
    ['requestTerminateTimeoutSeconds'],
    '0',
    'old',
    'request time after which the worker is killed; 0 is off',
  ),
  p(
    'request_terminate_timeout_track_finished',
    'boolean',
    ['requestTerminateTimeoutTrackFinished'],
    'no',
    '7.3',
    'keep the terminate timer running after fastcgi_finish_request()',
  ),
  p(
    'rlimit_files',
    'integer',
    ['rlimitFiles'],
    '0',
    'old',
    'open file limit of the workers; 0 keeps the system value',
  ),
  p(
    'rlimit_core',
    'rlimit_core',
    ['rlimitCore'],
    '0',
    'old',
    "core size limit of the workers; 'unlimited' or 0",
  ),
  p('chroot', 'path', ['chroot'], undefined, 'old', 'chroot of the workers'),
  p('chdir', 'path', ['chdir'], undefined, 'old', 'working directory of the workers'),
  p(
    'catch_workers_output',
    'boolean',
    ['catchWorkersOutput'],
    'no',
    'old',
    "send workers' stdout/stderr to the error log",
  ),
  p(
    'decorate_workers_output',
    'boolean',
    ['decorateWorkersOutput'],
    'yes',
    '7.3',
    'prefix captured worker output',
  ),
  p('clear_env', 'boolean', ['clearEnv'], 'yes', 'old', "clear the workers' environment"),
  p(
    'security.limit_extensions',
    'extensions',
    ['securityLimitExtensions'],
    '.php .phar',
    'old',
    'script extensions FPM will execute; empty allows any',
  ),
  p(
    'apparmor_hat',
    'string',
    ['apparmorHat'],
    undefined,
    'old',
    'AppArmor hat of the workers',
    'apparmor',
  ),
];

/** The array directives (`name[key] = value`); their names are case-sensitive. */
export const FPM_ARRAY_DIRECTIVES: readonly FpmDirective[] = [
  p('env', 'array', ['env'], undefined, 'old', 'environment variable for the workers'),
  p('php_value', 'array', ['phpValue'], undefined, 'old', 'php.ini value the script may change'),
  p(
    'php_admin_value',
    'array',
    ['phpAdminValue'],
    undefined,
    'old',
    'php.ini value the script cannot change',
  ),
  p(
    'php_flag',
    'flag_array',
    ['phpFlag'],
    undefined,
    'old',
    'boolean php.ini value the script may change',
  ),
  p(
    'php_admin_flag',
    'flag_array',
    ['phpAdminFlag'],
    undefined,
    'old',
    'boolean php.ini value the script cannot change',
  ),
  p(
    'access.suppress_path',
    'path_list',
    ['access', 'suppressPaths'],
    undefined,
    '8.2',
    'URIs left out of the access log',
  ),
];

/** Every directive: `[global]`, pool scalars, then pool arrays. */
export const fpmDirectives: readonly FpmDirective[] = [
  ...FPM_GLOBAL_DIRECTIVES,
  ...FPM_POOL_DIRECTIVES,
  ...FPM_ARRAY_DIRECTIVES,
];

const directiveIndex = new Map<string, Map<string, FpmDirective>>();

/**
 * The directives FPM of `version` knows, in the table's order: those introduced in that version
 * or before (`since`). @param version @default DEFAULT_FPM_PHP_VERSION (8.2)
 */
export function fpmDirectivesFor(
  version: FpmPhpVersion = DEFAULT_FPM_PHP_VERSION,
): readonly FpmDirective[] {
  return fpmDirectives.filter((d) => existsInVersion(d.since, version));
}

/**
 * Finds a scalar directive the way FPM does: by name, ignoring case, among those the build has
 * and the PHP version knows.
 */
export function findScalarDirective(
  section: 'global' | 'pool',
  name: string,
  build: Readonly<Record<FpmBuildFeature, boolean>> = DEBIAN_LINUX_BUILD,
  version: FpmPhpVersion = DEFAULT_FPM_PHP_VERSION,
): FpmDirective | undefined {
  const key = `${section}:${version}:${FPM_BUILD_FEATURES.map((f) => (build[f] ? 1 : 0)).join('')}`;
  let index = directiveIndex.get(key);
  if (!index) {
    const table = section === 'global' ? FPM_GLOBAL_DIRECTIVES : FPM_POOL_DIRECTIVES;
    index = new Map(
      table
        .filter((d) => d.build === undefined || build[d.build])
        .filter((d) => existsInVersion(d.since, version))
        .map((d) => [d.name, d]),
    );
    directiveIndex.set(key, index);
  }
  return index.get(name.toLowerCase());
}
