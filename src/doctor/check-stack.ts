/**
 * Static checks across the layers in front of and around PHP-FPM: the web server (nginx or
 * Apache), php.ini, the FPM pools, the kernel and the database the pools use. Each check looks
 * for a contradiction between two layers that no single layer's validator can see.
 */

import { z } from 'zod';
import {
  APACHE_DEFAULT_MAX_REQUEST_WORKERS,
  APACHE_EVENT_DEFAULTS,
  FPM_DEFAULT_LISTEN_BACKLOG,
  NGINX_DEFAULT_CLIENT_MAX_BODY_SIZE_BYTES,
  NGINX_DEFAULT_FASTCGI_READ_TIMEOUT_SECONDS,
  NGINX_DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS,
  OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES,
  OPCACHE_DEFAULT_MEMORY_MEGABYTES,
  PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
  PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES,
} from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import { type CheckResult, type Finding, hasErrors } from '../findings.js';
import {
  catalogFinding,
  FINDING_CODES,
  type FindingBody,
  type StackFindingCode,
} from '../findings-catalog.js';
import {
  allowedClientsUnixAdvice,
  backlogAboveSomaxconnAdvice,
  listenOwnerIgnoredAdvice,
  maxRequestsAdvice,
  processControlTimeoutAdvice,
} from '../fpm/advice.js';
import type { FpmConfig, FpmConfigInput, PoolConfig, PoolConfigInput } from '../fpm/index.js';
import { fpmConfigSchema } from '../fpm/index.js';
import { formatListen, type ListenAddress, parseListen } from '../fpm/listen.js';
import { DEBIAN_PHP_PREFIX } from '../fpm/parse.js';
import type { KernelSettings, ServiceLimit } from '../kernel/index.js';
import { effectiveBacklog, kernelSettingsSchema } from '../kernel/index.js';
import { parseOptions } from '../options.js';
import { TIMEOUT_CORRIDOR_MARGIN_SECONDS } from '../sizing/index.js';
import { defaultStatusListen } from '../sizing/planner-normalize.js';
import { formatOctalMode, formatPhpSize, parsePhpSize } from '../units.js';
import type {
  ApacheProxyFcgiInput,
  ApacheProxyFcgiSettings,
  NginxFastCGIInput,
  NginxFastCGISettings,
  PhpIniInput,
  PhpIniSettings,
} from '../web/index.js';
import { apacheProxyFcgiSchema, nginxFastCGISchema, phpIniSchema } from '../web/index.js';

export {
  APACHE_DEFAULT_MAX_REQUEST_WORKERS,
  NGINX_DEFAULT_CLIENT_MAX_BODY_SIZE_BYTES,
  NGINX_DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS,
  OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES,
  OPCACHE_DEFAULT_MEMORY_MEGABYTES,
  PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
  PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES,
};
/**
 * nginx's default `fastcgi_read_timeout` and Apache's default `Timeout`, seconds (60 each):
 * `NGINX_DEFAULT_FASTCGI_READ_TIMEOUT_SECONDS`.
 */
export const WEB_SERVER_DEFAULT_TIMEOUT_SECONDS = NGINX_DEFAULT_FASTCGI_READ_TIMEOUT_SECONDS;
/** Above this many Apache workers per FPM child, requests mostly wait in FPM's accept queue. */
export const APACHE_WORKERS_PER_CHILD_QUEUEING = 2;

/** The account nginx or Apache workers run as, which connects to FPM's UNIX sockets. */
export const webServerUserSchema = z.strictObject({
  /** User name, e.g. `www-data`. */
  name: z.string().min(1),
  /** Every group of the user, primary group included, e.g. `['www-data']`. */
  groups: z.array(z.string().min(1)),
});
/** The account the web server's workers run as (`webServerUserSchema`). */
export type WebServerUser = z.infer<typeof webServerUserSchema>;

/** The database every pool's children connect to. */
export const databaseLimitsSchema = z.strictObject({
  /** The server's connection limit (MySQL and PostgreSQL `max_connections`). */
  maxConnections: z.number().int().min(1),
  /** Connections one FPM child holds at most (persistent connections, several databases). */
  connectionsPerChild: z.number().int().min(0),
});
/** The database's connection limit and what each FPM child holds (`databaseLimitsSchema`). */
export type DatabaseLimits = z.infer<typeof databaseLimitsSchema>;

/** The FPM side: a whole configuration, or one pool with its `[global]` section. */
export type StackFpmInput =
  | FpmConfigInput
  | { global?: FpmConfigInput['global']; pool: PoolConfigInput };

/** One description of a whole stack. Only `fpm` and `kernel` are required. */
export interface StackInput {
  /** The FPM configuration (`parseFpmConfig(...).config`), or `{ global?, pool }`. */
  fpm: StackFpmInput;
  /**
   * The kernel and service limits in force. Absent fields are unknown, and the checks that
   * need them are skipped (they do not assume the kernel's defaults).
   */
  kernel: KernelSettings;
  /** The nginx side (`renderNginxFastCGI`'s input). */
  nginx?: NginxFastCGIInput | undefined;
  /** The Apache side (`renderApacheProxyFcgi`'s input). */
  apache?: ApacheProxyFcgiInput | undefined;
  /** php.ini as FPM loads it (`renderPhpIni`'s input); absent directives take PHP's defaults. */
  php?: PhpIniInput | undefined;
  /** The user the web server's workers run as. */
  webServerUser?: WebServerUser | undefined;
  /** The database all pools connect to. */
  database?: DatabaseLimits | undefined;
  /** Memory the pools may use together (RAM minus what else runs), in bytes. */
  memoryBudgetBytes?: number | undefined;
}

/** Options of `checkStack`. */
export interface CheckStackOptions {
  /**
   * How much longer each outer timeout should be than the one inside it (PHP's limit, then
   * FPM's, then the web server's), in seconds. @default TIMEOUT_CORRIDOR_MARGIN_SECONDS (5), the
   * margin fpmkit/sizing's `timeoutCorridor` plans with
   */
  timeoutMarginSeconds?: number | undefined;
  /**
   * The account FPM's master runs as: it owns a UNIX socket whose `listen.owner` is unset, and
   * only root may raise `rlimit_files` above the service's hard limit.
   * @default { name: 'root', group: 'root' }
   */
  fpmMasterUser?: { name: string; group: string } | undefined;
  /** How many nginx workers `worker_processes auto` starts (the CPU count). @default 1 */
  nginxAutoWorkerProcesses?: number | undefined;
}

/**
 * Default of `timeoutMarginSeconds`: headroom between nested timeouts, in seconds. The planner's
 * `TIMEOUT_CORRIDOR_MARGIN_SECONDS` (one rule for both, so a plan passes this check).
 */
export const STACK_TIMEOUT_MARGIN_SECONDS = TIMEOUT_CORRIDOR_MARGIN_SECONDS;

/** A pool with the values FPM runs it with. */
interface Pool {
  index: number;
  config: PoolConfig;
  name: string;
  /** `listen` with relative paths resolved, as FPM binds it, written back as text. */
  listen: string | undefined;
  /** `listen` as FPM reads it (`parseListen`), relative paths resolved. */
  address: ListenAddress | undefined;
  unix: boolean;
  maxChildren: number;
  terminateSeconds: number;
  maxRequests: number;
  backlog: number;
  mode: number;
  statusPath: string | undefined;
  pingPath: string | undefined;
  php: EffectivePhp;
}

interface EffectivePhp {
  /** 0 = no limit. */
  maxExecutionTimeSeconds: number;
  memoryLimitBytes: number | 'unlimited';
  postMaxSizeBytes: number | 'unlimited';
  uploadMaxFilesizeBytes: number | 'unlimited';
  /** Where each value came from, for the evidence. */
  source: Record<string, string>;
}

interface Ctx {
  findings: Finding<StackFindingCode>[];
  margin: number;
}

function parseInput<S extends z.ZodType>(schema: S, input: unknown, root: string): z.infer<S> {
  return parseOptions<z.infer<S>>(schema, input, root);
}

function toFpmConfig(input: StackFpmInput): FpmConfig {
  if (input !== null && typeof input === 'object' && 'pool' in input) {
    return parseInput(fpmConfigSchema, { global: input.global ?? {}, pools: [input.pool] }, 'fpm');
  }
  return parseInput(fpmConfigSchema, input, 'fpm');
}

/** The value a pool sets for a php.ini directive: php_admin_value wins, as FPM applies it last. */
function poolIni(pool: PoolConfig, name: string): { value: string; from: string } | undefined {
  const admin = pool.phpAdminValue[name];
  if (admin !== undefined) return { value: admin, from: `php_admin_value[${name}]` };
  const value = pool.phpValue[name];
  if (value !== undefined) return { value, from: `php_value[${name}]` };
  return undefined;
}

function effectivePhp(pool: PoolConfig, php: PhpIniSettings | undefined): EffectivePhp {
  const source: Record<string, string> = {};
  const pick = <T>(
    name: string,
    fromPool: (text: string) => T | undefined,
    fromIni: T | undefined,
    fallback: T,
  ): T => {
    const set = poolIni(pool, name);
    if (set) {
      const v = fromPool(set.value);
      if (v !== undefined) {
        source[name] = set.from;
        return v;
      }
    }
    if (fromIni !== undefined) {
      source[name] = 'php.ini';
      return fromIni;
    }
    source[name] = 'PHP default';
    return fallback;
  };
  const size = (text: string) => {
    const r = parsePhpSize(text);
    return r.ok ? r.value : undefined;
  };
  const seconds = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : undefined);
  const ini = php;
  return {
    maxExecutionTimeSeconds: pick(
      'max_execution_time',
      seconds,
      ini?.maxExecutionTimeSeconds === 'unlimited' ? 0 : ini?.maxExecutionTimeSeconds,
      PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
    ),
    memoryLimitBytes: pick(
      'memory_limit',
      size,
      ini?.memoryLimitBytes,
      PHP_DEFAULT_MEMORY_LIMIT_BYTES,
    ),
    // post_max_size = 0 switches the check off.
    postMaxSizeBytes: pick(
      'post_max_size',
      (t) => {
        const v = size(t);
        return v === 0 ? 'unlimited' : v;
      },
      ini?.postMaxSizeBytes,
      PHP_DEFAULT_POST_MAX_SIZE_BYTES,
    ),
    uploadMaxFilesizeBytes: pick(
      'upload_max_filesize',
      size,
      ini?.uploadMaxFilesizeBytes,
      PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES,
    ),
    source,
  };
}

/**
 * The directory FPM resolves a pool's relative paths against: the pool's `prefix` (itself
 * relative to the compiled prefix), else the compiled prefix (a model carries no `php-fpm -p`).
 */
function poolPrefix(pool: PoolConfig): string {
  const prefix = pool.prefix;
  if (!prefix) return DEBIAN_PHP_PREFIX;
  return prefix.startsWith('/') ? prefix : `${DEBIAN_PHP_PREFIX}/${prefix}`;
}

function toPools(config: FpmConfig, php: PhpIniSettings | undefined): Pool[] {
  return config.pools.map((p, index) => {
    const text = p.listen.address;
    const address =
      text === undefined || text === ''
        ? undefined
        : parseListen(text, {
            prefix: poolPrefix(p),
            option: `fpm.pools.${index}.listen.address`,
          });
    return {
      index,
      config: p,
      name: p.name,
      listen: address === undefined ? undefined : formatListen(address),
      address,
      unix: address?.kind === 'unix',
      maxChildren: p.pm.maxChildren ?? 0,
      terminateSeconds: p.requestTerminateTimeoutSeconds ?? 0,
      maxRequests: p.pm.maxRequests ?? 0,
      backlog: p.listen.backlog ?? FPM_DEFAULT_LISTEN_BACKLOG,
      mode: p.listen.mode ?? 0o660,
      statusPath: p.pm.statusPath ?? (p.pm.statusListen !== undefined ? '/' : undefined),
      pingPath: p.ping.path,
      php: effectivePhp(p, php),
    };
  });
}

/**
 * Every finding goes through here, so only the catalog's codes can be produced, with the
 * catalog's severity.
 */
function push(ctx: Ctx, finding: FindingBody & { code: StackFindingCode }): void {
  const { code, ...body } = finding;
  ctx.findings.push(catalogFinding(code, body));
}

/** Records a shared advice rule's finding (fpm/advice.ts) under `code`, when it fires. */
function pushAdvice(
  ctx: Ctx,
  code: StackFindingCode,
  pool: Pool,
  body: FindingBody | undefined,
): void {
  if (body !== undefined) push(ctx, { code, pool: pool.name, ...body });
}

/** A size for a message, in PHP's syntax (`8M`). */
const fmtBytes = (b: number | 'unlimited') => (b === 'unlimited' ? 'unlimited' : formatPhpSize(b));

/** The longest a request may run in wall-clock time, as far as FPM and PHP bound it. */
function longestRequest(pool: Pool): { seconds: number; by: string } | undefined {
  if (pool.terminateSeconds > 0)
    return { seconds: pool.terminateSeconds, by: 'request_terminate_timeout' };
  if (pool.php.maxExecutionTimeSeconds > 0)
    return { seconds: pool.php.maxExecutionTimeSeconds, by: 'max_execution_time' };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Timeouts

function checkTimeouts(ctx: Ctx, pool: Pool, processControlTimeout: number): void {
  const maxExec = pool.php.maxExecutionTimeSeconds;
  const terminate = pool.terminateSeconds;
  if (maxExec > 0 && terminate > 0 && terminate < maxExec + ctx.margin) {
    push(ctx, {
      code: 'stack.max-execution-above-terminate',
      message: `request_terminate_timeout (${terminate}s) is not at least ${ctx.margin}s above max_execution_time (${maxExec}s): FPM kills the worker (SIGTERM, the web server answers 502) before PHP can stop the script with its own error`,
      pool: pool.name,
      directive: 'request_terminate_timeout',
      evidence: {
        maxExecutionTimeSeconds: maxExec,
        maxExecutionTimeFrom: pool.php.source.max_execution_time,
        requestTerminateTimeoutSeconds: terminate,
        marginSeconds: ctx.margin,
      },
      fix: `set request_terminate_timeout to at least ${maxExec + ctx.margin}s (max_execution_time + ${ctx.margin}s, the margin fpmkit/sizing's timeoutCorridor plans with: PHP needs a few seconds to end the script with its error, and its limit counts CPU time, not wall-clock time), or lower max_execution_time below ${terminate - ctx.margin + 1}s`,
    });
  }
  if (terminate <= 0) {
    push(ctx, {
      code: 'stack.no-wall-clock-limit',
      message: `request_terminate_timeout is ${terminate === 0 ? 'off' : `negative (${terminate}s)`}: nothing limits a request's wall-clock time, because max_execution_time (${maxExec}s) counts only CPU time on Linux, so a script waiting on a database, a lock or the network holds its worker indefinitely`,
      pool: pool.name,
      directive: 'request_terminate_timeout',
      evidence: { requestTerminateTimeoutSeconds: terminate, maxExecutionTimeSeconds: maxExec },
      fix: `set request_terminate_timeout above max_execution_time, e.g. ${Math.max(maxExec, 30) + ctx.margin}s`,
    });
  }
  pushAdvice(
    ctx,
    'stack.process-control-timeout-short',
    pool,
    processControlTimeoutAdvice(processControlTimeout, longestRequest(pool)),
  );
}

function checkWebTimeout(
  ctx: Ctx,
  pool: Pool,
  server: 'nginx' | 'apache',
  timeoutSeconds: number,
  directive: string,
  explicit: boolean,
): void {
  const longest = longestRequest(pool);
  if (!longest || timeoutSeconds >= longest.seconds + ctx.margin) return;
  const name = server === 'nginx' ? 'nginx' : 'Apache';
  push(ctx, {
    code: 'stack.web-timeout-below-request',
    message: `${name}'s ${directive} (${timeoutSeconds}s${explicit ? '' : ', the default'}) is not at least ${ctx.margin}s above the longest request (${longest.seconds}s, ${longest.by}): ${name} gives up and answers 504 while the FPM worker keeps running the request`,
    pool: pool.name,
    directive,
    evidence: {
      webServer: server,
      webTimeoutSeconds: timeoutSeconds,
      longestRequestSeconds: longest.seconds,
      longestRequestBy: longest.by,
      marginSeconds: ctx.margin,
    },
    fix: `set ${directive} to at least ${longest.seconds + ctx.margin}s, or lower ${longest.by} below ${timeoutSeconds - ctx.margin + 1}s`,
  });
}

// ---------------------------------------------------------------------------------------------
// Sockets

/**
 * Whether `user` may write to the socket file (connect(2) on a UNIX socket needs write
 * permission), following the kernel's order: owner, then named ACL users, then the owning and
 * named ACL groups, then others. Root passes.
 */
function socketAccess(
  pool: Pool,
  user: WebServerUser,
  master: { name: string; group: string },
): { allowed: boolean; via: string; owner: string; group: string } {
  const l = pool.config.listen;
  const acl = l.aclUsers !== undefined || l.aclGroups !== undefined;
  // With ACLs FPM does not chown. Without, listen.owner given by name also sets the group to
  // that user's primary group; a name alone does not tell it, so the user-private-group
  // convention (www-data:www-data) stands in. A numeric owner leaves the group alone.
  const owner = acl ? master.name : (l.owner ?? master.name);
  const ownerByName = l.owner !== undefined && !/^\d+$/.test(l.owner);
  const group = acl
    ? master.group
    : (l.group ?? (ownerByName ? (l.owner as string) : master.group));
  const mode = pool.mode;
  if (user.name === 'root') return { allowed: true, via: 'root', owner, group };
  if (user.name === owner) return { allowed: (mode & 0o200) !== 0, via: 'owner', owner, group };
  if (acl && l.aclUsers?.includes(user.name))
    return { allowed: true, via: 'listen.acl_users', owner, group };
  const inOwningGroup = user.groups.includes(group);
  const inAclGroup = acl && (l.aclGroups ?? []).some((g) => user.groups.includes(g));
  if (inAclGroup) return { allowed: true, via: 'listen.acl_groups', owner, group };
  if (inOwningGroup) return { allowed: (mode & 0o020) !== 0, via: 'group', owner, group };
  return { allowed: (mode & 0o002) !== 0, via: 'other', owner, group };
}

function checkSocket(
  ctx: Ctx,
  pool: Pool,
  user: WebServerUser | undefined,
  master: { name: string; group: string },
): void {
  if (!pool.unix) return;
  const l = pool.config.listen;
  const acl = l.aclUsers !== undefined || l.aclGroups !== undefined;
  if (user) {
    const access = socketAccess(pool, user, master);
    if (!access.allowed) {
      const fix = acl
        ? `add ${user.name} to listen.acl_users (or one of its groups to listen.acl_groups)`
        : `set listen.owner = ${user.name} and listen.group = ${user.groups[0] ?? user.name} with listen.mode = 0660`;
      push(ctx, {
        code: 'stack.socket-not-writable',
        message: `the web server's user ${user.name} cannot connect to ${pool.listen}: the socket is owned by ${access.owner}:${access.group} with mode ${formatOctalMode(pool.mode)}${acl ? ' plus ACLs' : ''}, and connect() needs write permission (${access.via} bits apply), so every request fails with EACCES (nginx: "13: Permission denied", 502)`,
        pool: pool.name,
        directive: acl ? 'listen.acl_users' : 'listen.owner',
        evidence: {
          socket: pool.listen,
          owner: access.owner,
          group: access.group,
          mode: formatOctalMode(pool.mode),
          aclUsers: l.aclUsers ?? null,
          aclGroups: l.aclGroups ?? null,
          webServerUser: user.name,
          webServerGroups: user.groups,
          checkedAs: access.via,
          ownerUnset: !acl && l.owner === undefined,
        },
        fix,
      });
    }
  }
  if ((pool.mode & 0o002) !== 0) {
    push(ctx, {
      code: 'stack.socket-world-writable',
      message: `listen.mode ${formatOctalMode(pool.mode)} lets every local user connect to ${pool.listen} and run PHP scripts as the pool's user`,
      pool: pool.name,
      directive: 'listen.mode',
      evidence: { socket: pool.listen, mode: formatOctalMode(pool.mode) },
      fix: "set listen.mode = 0660 and listen.owner/listen.group to the web server's user",
    });
  }
  pushAdvice(ctx, 'stack.listen-owner-ignored', pool, listenOwnerIgnoredAdvice(l, master));
  pushAdvice(ctx, 'stack.allowed-clients-unix', pool, allowedClientsUnixAdvice(l, pool.listen));
}

function checkTcpOpen(ctx: Ctx, pool: Pool): void {
  const clients = pool.config.listen.allowedClients;
  if (clients !== undefined) return;
  const statusListen = pool.config.pm.statusListen;
  for (const [directive, address] of [
    ['listen', pool.address],
    [
      'pm.status_listen',
      statusListen === undefined || statusListen === ''
        ? undefined
        : parseListen(statusListen, {
            prefix: poolPrefix(pool.config),
            option: `fpm.pools.${pool.index}.pm.statusListen`,
          }),
    ],
  ] as const) {
    if (address?.kind !== 'tcp' || !address.wildcard) continue;
    const text = formatListen(address);
    push(ctx, {
      code: 'stack.fpm-listen-open',
      message: `${directive} = ${text} accepts FastCGI from every network interface and listen.allowed_clients is unset: anyone who reaches port ${address.port} can run any PHP file as the pool's user${directive === 'pm.status_listen' ? ' and read the status page' : ''}`,
      pool: pool.name,
      directive,
      evidence: { address: text, port: address.port },
      fix: `bind to 127.0.0.1:${address.port} or a UNIX socket, or set listen.allowed_clients to the web server's address`,
    });
  }
}

/** A status page on the main socket only is unreachable when the pool is saturated. */
function checkStatusListen(ctx: Ctx, pool: Pool): void {
  const pm = pool.config.pm;
  if (pm.statusPath === undefined || pm.statusListen !== undefined || !pool.address) return;
  const suggested = defaultStatusListen(pool.name, pool.address);
  push(ctx, {
    code: 'stack.status-listen-missing',
    message: `pool ${pool.name} serves its status page (${pm.statusPath}) only on ${pool.listen}: when every worker is busy and the accept queue is full, a status request waits in that queue or gets EAGAIN, so the page is missing exactly during saturation`,
    pool: pool.name,
    directive: 'pm.status_listen',
    evidence: { statusPath: pm.statusPath, listen: pool.listen, suggested },
    fix: `set pm.status_listen = ${suggested} (FPM 8.0+; a hidden pool answers status there while the main pool is busy) and point monitoring at it`,
  });
}

// ---------------------------------------------------------------------------------------------
// Web server to pool mapping

type Backend = { socketPath: string } | { host: string; port: number };

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function backendMatches(backend: Backend, pool: Pool): boolean {
  const address = pool.address;
  if (address === undefined) return false;
  if ('socketPath' in backend)
    return address.kind === 'unix' && address.path === backend.socketPath;
  if (address.kind !== 'tcp' || address.port !== backend.port) return false;
  if (address.wildcard || address.host === backend.host) return true;
  return address.host !== undefined && LOOPBACK.has(address.host) && LOOPBACK.has(backend.host);
}

const describeBackend = (b: Backend) =>
  'socketPath' in b
    ? `unix:${b.socketPath}`
    : b.host.includes(':')
      ? `[${b.host}]:${b.port}`
      : `${b.host}:${b.port}`;

/** The pools a web server sends to; reports backends no pool listens on. */
function fedPools(
  ctx: Ctx,
  server: 'nginx' | 'apache',
  backends: readonly Backend[],
  pools: readonly Pool[],
): Pool[] {
  const fed = new Set<Pool>();
  for (const b of backends) {
    const matched = pools.filter((p) => backendMatches(b, p));
    if (matched.length === 0) {
      push(ctx, {
        code: 'stack.upstream-unknown',
        message: `${server === 'nginx' ? 'nginx' : 'Apache'} passes requests to ${describeBackend(b)}, where no FPM pool listens: requests fail with ${'socketPath' in b ? 'ENOENT or ECONNREFUSED' : 'ECONNREFUSED'} (502 or 503)`,
        directive: server === 'nginx' ? 'fastcgi_pass' : 'SetHandler',
        evidence: {
          webServer: server,
          backend: describeBackend(b),
          poolListens: pools.map((p) => p.listen ?? null),
        },
        fix: 'point the web server at the listen address of a pool (UNIX paths must match byte for byte)',
      });
    }
    for (const p of matched) fed.add(p);
  }
  return fed.size > 0 ? [...fed] : [...pools];
}

// ---------------------------------------------------------------------------------------------
// Status and ping

function openCidr(address: string): boolean {
  return /\/0$/.test(address);
}

function checkExposure(
  ctx: Ctx,
  pool: Pool,
  kind: 'status' | 'ping',
  nginx: NginxFastCGISettings | undefined,
  apache: ApacheProxyFcgiSettings | undefined,
): void {
  const path = kind === 'status' ? pool.statusPath : pool.pingPath;
  const directive = kind === 'status' ? 'pm.status_path' : 'ping.path';
  const code = kind === 'status' ? 'stack.status-exposed' : 'stack.ping-exposed';
  const severity = kind === 'status' ? 'warning' : 'info';
  const what =
    kind === 'status'
      ? "FPM's status page (pool size, every worker's current URI and client user)"
      : "FPM's ping page";
  if (nginx) {
    const location = kind === 'status' ? nginx.status : nginx.ping;
    if (location !== undefined && location.path !== path) {
      push(ctx, {
        code: 'stack.status-path-mismatch',
        message: `nginx's ${kind} location is ${location.path} but the pool's ${directive} is ${path ?? 'unset'}: FPM compares the path exactly, so that location answers 404 "File not found."`,
        pool: pool.name,
        directive,
        evidence: { nginxPath: location.path, fpmPath: path ?? null },
        fix: `make ${directive} and the nginx location the same path${path === undefined ? ` (set ${directive} = ${location.path})` : ''}`,
      });
    }
    if (path !== undefined) {
      if (location !== undefined && location.path === path) {
        const open = location.allow.filter(openCidr);
        if (open.length > 0) {
          push(ctx, {
            code,
            severity,
            message: `nginx's location = ${path} allows ${open.join(', ')}, i.e. every address: ${what} is reachable from anywhere`,
            pool: pool.name,
            directive,
            evidence: { webServer: 'nginx', path, allow: location.allow },
            fix: 'allow only the monitoring addresses, e.g. 127.0.0.1 and ::1',
          });
        }
      } else {
        const split = nginx.splitPathInfo !== undefined;
        const regex = nginx.locationRegex ?? (split ? '[^/]\\.php(/|$)' : '\\.php$');
        if (!nginx.tryFilesGuard && safeTest(regex, path)) {
          push(ctx, {
            code,
            severity,
            message: `${directive} ${path} matches nginx's PHP location ~ ${regex}, which has no try_files guard and no allow list: ${what} is reachable by any client`,
            pool: pool.name,
            directive,
            evidence: { webServer: 'nginx', path, locationRegex: regex, tryFilesGuard: false },
            fix: `add an nginx location = ${path} with allow lines and deny all (the ${kind} option of renderNginxFastCGI), or turn tryFilesGuard on`,
          });
        }
      }
    }
  }
  if (apache && path !== undefined) {
    const base = path.slice(path.lastIndexOf('/') + 1);
    if (!apache.requireExistingFile && safeTest(apache.filesMatch, base)) {
      push(ctx, {
        code,
        severity,
        message: `${directive} ${path} matches Apache's <FilesMatch "${apache.filesMatch}"> handler, which passes requests for missing files to FPM: ${what} is reachable by any client`,
        pool: pool.name,
        directive,
        evidence: {
          webServer: 'apache',
          path,
          filesMatch: apache.filesMatch,
          requireExistingFile: false,
        },
        fix: `turn requireExistingFile on, or use a ${directive} that does not end in .php and serve it from a <Location> with Require ip`,
      });
    }
  }
}

function safeTest(regex: string, text: string): boolean {
  try {
    return new RegExp(regex).test(text);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Capacity

function nginxWorkers(nginx: NginxFastCGISettings, options: CheckStackOptions): number {
  const w = nginx.workerProcesses;
  if (w === undefined) return 1;
  if (w === 'auto') return options.nginxAutoWorkerProcesses ?? 1;
  return w;
}

function checkNginxKeepalive(
  ctx: Ctx,
  nginx: NginxFastCGISettings,
  fed: readonly Pool[],
  options: CheckStackOptions,
): void {
  const keepalive = nginx.upstream.keepalive;
  if (keepalive === undefined) return;
  if (nginx.keepConn !== true) {
    push(ctx, {
      code: 'stack.keepalive-without-keep-conn',
      message: `nginx's upstream keepalive ${keepalive} does nothing without fastcgi_keep_conn on: FPM closes the connection after every request`,
      directive: 'fastcgi_keep_conn',
      evidence: { keepalive, keepConn: nginx.keepConn ?? false },
      fix: 'set fastcgi_keep_conn on (keepConn: true), or remove keepalive',
    });
    return;
  }
  const workers = nginxWorkers(nginx, options);
  const pinned = keepalive * workers;
  const children = fed.reduce((n, p) => n + p.maxChildren, 0);
  if (pinned >= children) {
    push(ctx, {
      code: 'stack.keepalive-pins-workers',
      message: `nginx keeps up to ${pinned} idle FastCGI connections (keepalive ${keepalive} x ${workers} worker process${workers === 1 ? '' : 'es'}) and each pins one FPM child in "Reading headers", but the pool${fed.length === 1 ? ' has' : 's have'} only ${children} children: idle kept connections can hold every worker while new connections wait in the backlog`,
      ...(fed.length === 1 ? { pool: fed[0]!.name } : {}),
      directive: 'keepalive',
      evidence: {
        keepalive,
        workerProcesses: nginx.workerProcesses ?? 1,
        workersCounted: workers,
        pinnedConnections: pinned,
        maxChildren: children,
      },
      fix: `keep keepalive x worker_processes well below pm.max_children, e.g. keepalive ${Math.max(1, Math.floor(children / (2 * workers)))}`,
    });
  }
  const idleTimeout =
    nginx.upstream.keepaliveTimeoutSeconds ?? NGINX_DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS;
  for (const pool of fed) {
    if (pool.terminateSeconds > 0 && idleTimeout >= pool.terminateSeconds) {
      push(ctx, {
        code: 'stack.keepalive-timeout-above-terminate',
        message: `nginx keeps idle FastCGI connections open for ${idleTimeout}s${nginx.upstream.keepaliveTimeoutSeconds === undefined ? ' (the default)' : ''}, not less than request_terminate_timeout (${pool.terminateSeconds}s): FPM counts the idle wait as a running request and kills the worker ("execution timed out", script ''), then respawns it`,
        pool: pool.name,
        directive: 'keepalive_timeout',
        evidence: {
          keepaliveTimeoutSeconds: idleTimeout,
          requestTerminateTimeoutSeconds: pool.terminateSeconds,
        },
        fix: `set the upstream keepalive_timeout below ${pool.terminateSeconds}s`,
      });
    }
  }
}

function apacheMaxRequestWorkers(apache: ApacheProxyFcgiSettings): number {
  const m = apache.mpmEvent;
  if (m?.maxRequestWorkers !== undefined) return m.maxRequestWorkers;
  const servers = m?.serverLimit ?? APACHE_EVENT_DEFAULTS.serverLimit;
  const threads = m?.threadsPerChild ?? APACHE_EVENT_DEFAULTS.threadsPerChild;
  return Math.min(APACHE_DEFAULT_MAX_REQUEST_WORKERS, servers * threads);
}

function checkApacheCapacity(
  ctx: Ctx,
  apache: ApacheProxyFcgiSettings,
  fed: readonly Pool[],
  somaxconn: number | undefined,
): void {
  const workers = apacheMaxRequestWorkers(apache);
  const children = fed.reduce((n, p) => n + p.maxChildren, 0);
  const pool = fed.length === 1 ? { pool: fed[0]!.name } : {};
  const evidence = {
    maxRequestWorkers: workers,
    maxRequestWorkersSet: apache.mpmEvent?.maxRequestWorkers !== undefined,
    maxChildren: children,
  };
  if (workers < children) {
    push(ctx, {
      code: 'stack.apache-workers-below-children',
      message: `Apache's MaxRequestWorkers (${workers}) is below the ${children} FPM children it feeds: at most ${workers} PHP requests reach FPM at once, the other children only use memory, and static files wait behind PHP for Apache's threads`,
      ...pool,
      directive: 'MaxRequestWorkers',
      evidence,
      fix: `raise MaxRequestWorkers above ${children} (plus headroom for static files), or lower pm.max_children to ${workers}`,
    });
  }
  if (apache.enableReuse === true) {
    const threads = apache.mpmEvent?.threadsPerChild ?? APACHE_EVENT_DEFAULTS.threadsPerChild;
    const perChild = apache.maxConnections ?? threads;
    const processes = Math.ceil(workers / threads);
    const pinned = perChild * processes;
    if (pinned >= children) {
      push(ctx, {
        code: 'stack.keepalive-pins-workers',
        message: `Apache with enablereuse=on can keep ${pinned} connections to FPM open (${perChild} per process x ${processes} processes) and each pins one FPM child, but the pool${fed.length === 1 ? ' has' : 's have'} only ${children} children`,
        ...pool,
        directive: 'enablereuse',
        evidence: { ...evidence, connectionsPerProcess: perChild, processes, pinned },
        fix: `set ProxySet max= so that max x processes stays below ${children}, or turn enablereuse off`,
      });
    }
  }
  // Compare with what FPM can absorb: busy children plus a full accept queue.
  const backlogs = fed.map((p) =>
    somaxconn !== undefined
      ? effectiveBacklog({ listenBacklog: p.backlog, somaxconn })
      : p.backlog >= 0
        ? p.backlog
        : undefined,
  );
  const known = backlogs.every((b) => b !== undefined);
  const capacity = known ? children + backlogs.reduce((n, b) => n + (b ?? 0) + 1, 0) : undefined;
  if (capacity !== undefined && workers > capacity) {
    push(ctx, {
      code: 'stack.apache-workers-above-queue',
      message: `Apache's MaxRequestWorkers (${workers}) exceeds what FPM can hold (${children} children + ${capacity - children} accept-queue slots = ${capacity}): under load the extra connections find the queue full and fail with EAGAIN (503)`,
      ...pool,
      directive: 'MaxRequestWorkers',
      evidence: { ...evidence, acceptQueueSlots: capacity - children, capacity },
      fix: `raise listen.backlog (and net.core.somaxconn) so the queue holds at least ${workers - children} connections, or lower MaxRequestWorkers`,
    });
  } else if (workers > children * APACHE_WORKERS_PER_CHILD_QUEUEING) {
    push(ctx, {
      code: 'stack.apache-workers-above-children',
      message: `Apache's MaxRequestWorkers (${workers}) is more than ${APACHE_WORKERS_PER_CHILD_QUEUEING} x the ${children} FPM children: under load most PHP requests wait in FPM's accept queue, where FPM's status page cannot show them for UNIX sockets`,
      ...pool,
      directive: 'MaxRequestWorkers',
      evidence,
      fix: 'size pm.max_children and MaxRequestWorkers together (fpmkit/sizing), or watch the queue with readUnixListenQueues',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Request bodies

function checkBodies(ctx: Ctx, pool: Pool, nginx: NginxFastCGISettings | undefined): void {
  const { postMaxSizeBytes: post, uploadMaxFilesizeBytes: upload, source } = pool.php;
  if (post !== 'unlimited' && (upload === 'unlimited' || post < upload)) {
    push(ctx, {
      code: 'stack.post-below-upload',
      message: `post_max_size (${fmtBytes(post)}) is below upload_max_filesize (${fmtBytes(upload)}): an upload near upload_max_filesize exceeds post_max_size, and PHP then drops the whole body ($_POST and $_FILES empty)`,
      pool: pool.name,
      directive: 'post_max_size',
      evidence: {
        postMaxSizeBytes: post,
        postMaxSizeFrom: source.post_max_size,
        uploadMaxFilesizeBytes: upload,
        uploadMaxFilesizeFrom: source.upload_max_filesize,
      },
      fix: 'set post_max_size above upload_max_filesize (room for the other form fields)',
    });
  }
  if (!nginx) return;
  const explicit = nginx.clientMaxBodySizeBytes !== undefined;
  const body = nginx.clientMaxBodySizeBytes ?? NGINX_DEFAULT_CLIENT_MAX_BODY_SIZE_BYTES;
  const evidence = {
    clientMaxBodySizeBytes: body,
    clientMaxBodySizeSet: explicit,
    postMaxSizeBytes: post,
    uploadMaxFilesizeBytes: upload,
  };
  if (body !== 'unlimited' && (upload === 'unlimited' || body < upload)) {
    push(ctx, {
      code: 'stack.body-limit-below-upload',
      message: `nginx's client_max_body_size (${fmtBytes(body)}${explicit ? '' : ', the default'}) is below upload_max_filesize (${fmtBytes(upload)}): nginx answers 413 to uploads PHP would accept`,
      pool: pool.name,
      directive: 'client_max_body_size',
      evidence,
      fix: `set client_max_body_size to post_max_size (${fmtBytes(post)})`,
    });
  }
  if (post !== 'unlimited' && (body === 'unlimited' || body > post)) {
    push(ctx, {
      code: 'stack.body-limit-above-post',
      message: `nginx's client_max_body_size (${body === 'unlimited' ? 'unlimited' : fmtBytes(body)}) is above post_max_size (${fmtBytes(post)}): nginx passes bodies PHP then discards, so the script sees empty $_POST and $_FILES with only a warning in the log`,
      pool: pool.name,
      directive: 'client_max_body_size',
      evidence,
      fix: `set client_max_body_size to post_max_size (${fmtBytes(post)})`,
    });
  }
}

function checkBuffering(ctx: Ctx, nginx: NginxFastCGISettings): void {
  if (nginx.requestBuffering === false) {
    push(ctx, {
      code: 'stack.request-buffering-off',
      message:
        'fastcgi_request_buffering off: nginx streams request bodies to FPM as they arrive, so a slow upload occupies a worker for its whole duration (and the upload time counts against request_terminate_timeout)',
      directive: 'fastcgi_request_buffering',
      evidence: { requestBuffering: false },
      fix: 'leave fastcgi_request_buffering on (the default) unless the application streams uploads itself',
    });
  }
  if (nginx.buffering === false) {
    push(ctx, {
      code: 'stack.response-buffering-off',
      message:
        'fastcgi_buffering off: nginx sends responses to the client as FPM writes them, so a slow client keeps the worker busy until the last byte is delivered',
      directive: 'fastcgi_buffering',
      evidence: { buffering: false },
      fix: 'leave fastcgi_buffering on, and disable it per response with the X-Accel-Buffering: no header where streaming is needed',
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Host limits

function hardLimit(limit: ServiceLimit | undefined): number | 'unlimited' | undefined {
  if (limit === undefined) return undefined;
  return typeof limit === 'object' ? limit.hard : limit;
}

function checkRlimitFiles(
  ctx: Ctx,
  value: number | undefined,
  where: { pool?: string },
  kernel: KernelSettings,
  masterIsRoot: boolean,
): void {
  if (value === undefined || value <= 0) return;
  const isGlobal = where.pool === undefined;
  const failure = isGlobal
    ? 'FPM does not start (setrlimit(RLIMIT_NOFILE) fails in the master)'
    : 'each child keeps the limit it inherited and goes on; the "failed to set rlimit_files" error reaches the log only with catch_workers_output = yes';
  if (kernel.nrOpen !== undefined && value > kernel.nrOpen) {
    push(ctx, {
      code: 'stack.rlimit-files-above-nr-open',
      severity: isGlobal ? 'error' : 'warning',
      message: `rlimit_files (${value}) is above fs.nr_open (${kernel.nrOpen}), which no process may exceed, even root: ${failure}`,
      ...where,
      directive: 'rlimit_files',
      evidence: {
        rlimitFiles: value,
        nrOpen: kernel.nrOpen,
        section: isGlobal ? 'global' : 'pool',
      },
      fix: `lower rlimit_files to at most ${kernel.nrOpen}, or raise fs.nr_open`,
    });
    return;
  }
  const hard = hardLimit(kernel.limitNofile);
  if (typeof hard === 'number' && value > hard) {
    push(ctx, {
      code: 'stack.rlimit-files-above-limit-nofile',
      severity: masterIsRoot ? 'info' : isGlobal ? 'error' : 'warning',
      message: masterIsRoot
        ? `rlimit_files (${value}) is above the unit's LimitNOFILE hard limit (${hard}): it only works because FPM's master runs as root with CAP_SYS_RESOURCE; a unit that drops that capability makes ${failure}`
        : `rlimit_files (${value}) is above the unit's LimitNOFILE hard limit (${hard}) and FPM's master is not root: ${failure}`,
      ...where,
      directive: 'rlimit_files',
      evidence: {
        rlimitFiles: value,
        limitNofileHard: hard,
        masterIsRoot,
        section: isGlobal ? 'global' : 'pool',
      },
      fix: `set LimitNOFILE=${value} in the php-fpm unit (renderSystemdDropIn), or lower rlimit_files to ${hard}`,
    });
  }
}

function checkMemory(
  ctx: Ctx,
  pools: readonly Pool[],
  php: PhpIniSettings | undefined,
  budget: number,
): void {
  const unlimited = pools.filter((p) => p.php.memoryLimitBytes === 'unlimited');
  const opcacheOn = php?.opcache?.enable !== false;
  const opcacheBytes = opcacheOn
    ? ((php?.opcache?.memoryConsumptionMegabytes ?? OPCACHE_DEFAULT_MEMORY_MEGABYTES) +
        (php?.opcache?.internedStringsBufferMegabytes ??
          OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES)) *
      1024 *
      1024
    : 0;
  const perPool = pools.map((p) => ({
    pool: p.name,
    maxChildren: p.maxChildren,
    memoryLimit: p.php.memoryLimitBytes,
  }));
  if (unlimited.length > 0) {
    push(ctx, {
      code: 'stack.memory-over-budget',
      message: `memory_limit is -1 (unlimited) in pool ${unlimited.map((p) => p.name).join(', ')}: nothing keeps ${unlimited.reduce((n, p) => n + p.maxChildren, 0)} children within the memory budget (${fmtBytes(budget)})`,
      ...(unlimited.length === 1 ? { pool: unlimited[0]!.name } : {}),
      directive: 'memory_limit',
      evidence: { memoryBudgetBytes: budget, pools: perPool },
      fix: 'set memory_limit, and size pm.max_children so children x memory_limit fits the budget',
    });
    return;
  }
  const total =
    pools.reduce((n, p) => n + p.maxChildren * (p.php.memoryLimitBytes as number), 0) +
    opcacheBytes;
  if (total > budget) {
    push(ctx, {
      code: 'stack.memory-over-budget',
      message: `pm.max_children x memory_limit over all pools plus OPcache's shared memory is ${fmtBytes(total)}, above the memory budget of ${fmtBytes(budget)}: with every child at its limit the host swaps or the OOM killer ends workers`,
      ...(pools.length === 1 ? { pool: pools[0]!.name } : {}),
      directive: 'pm.max_children',
      evidence: {
        memoryBudgetBytes: budget,
        worstCaseBytes: total,
        opcacheBytes,
        pools: perPool,
      },
      fix: 'lower pm.max_children or memory_limit until the worst case fits, sized from measured worker memory (fpmkit/sizing maxChildrenForMemory)',
    });
  }
}

function checkDatabase(ctx: Ctx, pools: readonly Pool[], db: DatabaseLimits): void {
  const children = pools.reduce((n, p) => n + p.maxChildren, 0);
  const needed = children * db.connectionsPerChild;
  if (needed <= db.maxConnections) return;
  push(ctx, {
    code: 'stack.database-connections',
    message: `${children} FPM children x ${db.connectionsPerChild} database connection${db.connectionsPerChild === 1 ? '' : 's'} each = ${needed}, above the database's max_connections (${db.maxConnections}): at full load connections fail with "Too many connections"`,
    ...(pools.length === 1 ? { pool: pools[0]!.name } : {}),
    directive: 'pm.max_children',
    evidence: {
      maxChildren: children,
      connectionsPerChild: db.connectionsPerChild,
      connectionsNeeded: needed,
      maxConnections: db.maxConnections,
      pools: pools.map((p) => ({ pool: p.name, maxChildren: p.maxChildren })),
    },
    fix: `raise max_connections to at least ${needed} (plus administrative headroom), or lower pm.max_children to ${Math.floor(db.maxConnections / Math.max(1, db.connectionsPerChild))} in total`,
  });
}

// ---------------------------------------------------------------------------------------------

/** The inputs of `checkStack`, each validated against its schema. */
function readStackInput(input: StackInput, options: CheckStackOptions) {
  if (input === null || typeof input !== 'object')
    throw new FpmkitInvalidOptionError('input', 'must be an object with fpm and kernel');
  const margin = options.timeoutMarginSeconds ?? STACK_TIMEOUT_MARGIN_SECONDS;
  if (!Number.isFinite(margin) || margin < 0)
    throw new FpmkitInvalidOptionError('timeoutMarginSeconds', 'must be a number of seconds >= 0');
  const master = options.fpmMasterUser ?? { name: 'root', group: 'root' };
  if (typeof master?.name !== 'string' || typeof master.group !== 'string')
    throw new FpmkitInvalidOptionError('fpmMasterUser', 'must be { name, group } strings');
  const autoWorkers = options.nginxAutoWorkerProcesses;
  if (autoWorkers !== undefined && !(Number.isSafeInteger(autoWorkers) && autoWorkers >= 1))
    throw new FpmkitInvalidOptionError('nginxAutoWorkerProcesses', 'must be a whole number >= 1');
  const config = toFpmConfig(input.fpm);
  const kernel = parseInput(kernelSettingsSchema, input.kernel ?? {}, 'kernel');
  const nginx =
    input.nginx === undefined ? undefined : parseInput(nginxFastCGISchema, input.nginx, 'nginx');
  const apache =
    input.apache === undefined
      ? undefined
      : parseInput(apacheProxyFcgiSchema, input.apache, 'apache');
  const php = input.php === undefined ? undefined : parseInput(phpIniSchema, input.php, 'php');
  const user =
    input.webServerUser === undefined
      ? undefined
      : parseInput(webServerUserSchema, input.webServerUser, 'webServerUser');
  const database =
    input.database === undefined
      ? undefined
      : parseInput(databaseLimitsSchema, input.database, 'database');
  const budget = input.memoryBudgetBytes;
  if (budget !== undefined && !(Number.isSafeInteger(budget) && budget > 0))
    throw new FpmkitInvalidOptionError(
      'memoryBudgetBytes',
      'must be a positive whole number of bytes',
    );

  return {
    margin,
    master,
    autoWorkers,
    config,
    kernel,
    nginx,
    apache,
    php,
    user,
    database,
    budget,
  };
}

/**
 * What {@link checkStack} returns: the {@link CheckResult} every check returns, `ok` (no
 * finding is an error) and `findings`. The result is also still the array of findings that
 * `checkStack` returned before; reading it as an array is deprecated, read `findings`.
 */
export type CheckStackResult = Finding<StackFindingCode>[] & CheckResult<StackFindingCode>;

/** The findings with `ok` and `findings` on them, not enumerable so the array looks as before. */
function stackResult(findings: Finding<StackFindingCode>[]): CheckStackResult {
  return Object.defineProperties(findings, {
    ok: { value: !hasErrors(findings), enumerable: false },
    findings: { value: [...findings], enumerable: false },
  }) as CheckStackResult;
}

/**
 * Checks the layers of a PHP-FPM stack against each other and returns every contradiction as a
 * `Finding` (codes `stack.*`, listed with their fixes in docs/findings.md) in `findings`, in
 * check order (`sortFindings` puts errors first), and `ok`: true when none is an error. Unset FPM directives take FPM's effective defaults, unset
 * php.ini directives PHP's built-in ones, and a pool's `php_value`/`php_admin_value` override
 * php.ini. Web-server checks apply to the pools whose listen address the web server passes to.
 *
 * Throws `FpmkitInvalidOptionError` naming the option (`fpm.pools.0.listen.mode`,
 * `nginx.upstream.servers`, ...) when an input does not fit its schema.
 */
export function checkStack(input: StackInput, options: CheckStackOptions = {}): CheckStackResult {
  const { margin, master, config, kernel, nginx, apache, php, user, database, budget } =
    readStackInput(input, options);
  const ctx: Ctx = { findings: [], margin };
  const pools = toPools(config, php);
  const pct = config.global.processControlTimeoutSeconds ?? 0;

  for (const pool of pools) {
    checkTimeouts(ctx, pool, pct);
    pushAdvice(
      ctx,
      'stack.backlog-above-somaxconn',
      pool,
      backlogAboveSomaxconnAdvice(pool.backlog, kernel.somaxconn),
    );
    checkTcpOpen(ctx, pool);
    checkStatusListen(ctx, pool);
    checkRlimitFiles(
      ctx,
      pool.config.rlimitFiles,
      { pool: pool.name },
      kernel,
      master.name === 'root',
    );
    pushAdvice(
      ctx,
      'stack.max-requests-zero',
      pool,
      maxRequestsAdvice(pool.maxRequests, pool.config.pm.maxRequests !== undefined),
    );
  }
  checkRlimitFiles(ctx, config.global.rlimitFiles, {}, kernel, master.name === 'root');

  const socketChecked = new Set<Pool>();
  if (nginx) {
    const fed = fedPools(ctx, 'nginx', nginx.upstream.servers, pools);
    for (const pool of fed) {
      checkWebTimeout(
        ctx,
        pool,
        'nginx',
        nginx.readTimeoutSeconds ?? WEB_SERVER_DEFAULT_TIMEOUT_SECONDS,
        'fastcgi_read_timeout',
        nginx.readTimeoutSeconds !== undefined,
      );
      checkSocket(ctx, pool, user, master);
      socketChecked.add(pool);
      checkExposure(ctx, pool, 'status', nginx, undefined);
      checkExposure(ctx, pool, 'ping', nginx, undefined);
      checkBodies(ctx, pool, nginx);
    }
    checkNginxKeepalive(ctx, nginx, fed, options);
    checkBuffering(ctx, nginx);
  }
  if (apache) {
    const fed = fedPools(ctx, 'apache', [apache.backend], pools);
    // mod_proxy: ProxySet timeout= falls back to ProxyTimeout, which falls back to Timeout.
    const timeout =
      apache.proxySetTimeoutSeconds ??
      apache.proxyTimeoutSeconds ??
      apache.timeoutSeconds ??
      WEB_SERVER_DEFAULT_TIMEOUT_SECONDS;
    const directive =
      apache.proxySetTimeoutSeconds !== undefined
        ? 'ProxySet timeout'
        : apache.proxyTimeoutSeconds !== undefined
          ? 'ProxyTimeout'
          : 'Timeout';
    const explicit =
      apache.proxySetTimeoutSeconds !== undefined ||
      apache.proxyTimeoutSeconds !== undefined ||
      apache.timeoutSeconds !== undefined;
    for (const pool of fed) {
      checkWebTimeout(ctx, pool, 'apache', timeout, directive, explicit);
      if (!socketChecked.has(pool)) checkSocket(ctx, pool, user, master);
      socketChecked.add(pool);
      checkExposure(ctx, pool, 'status', undefined, apache);
      checkExposure(ctx, pool, 'ping', undefined, apache);
      if (!nginx) checkBodies(ctx, pool, undefined);
    }
    checkApacheCapacity(ctx, apache, fed, kernel.somaxconn);
  }
  if (!nginx && !apache) {
    for (const pool of pools) {
      checkSocket(ctx, pool, user, master);
      checkBodies(ctx, pool, undefined);
    }
  }
  if (database) checkDatabase(ctx, pools, database);
  if (budget !== undefined) checkMemory(ctx, pools, php, budget);
  return stackResult(ctx.findings);
}

/**
 * The names of the pools of `fpm` that listen where `backends` point (UNIX paths byte for byte,
 * TCP by port and host, a wildcard or loopback host matching loopback), as `checkStack` pairs a
 * web server with the pools it feeds. Relative UNIX paths resolve as `checkStack` resolves them.
 */
export function poolsFedBy(
  fpm: StackFpmInput,
  backends: readonly ({ socketPath: string } | { host: string; port: number })[],
): string[] {
  const pools = toPools(toFpmConfig(fpm), undefined);
  return pools.filter((p) => backends.some((b) => backendMatches(b, p))).map((p) => p.name);
}

/** Every code `checkStack` can return (the `stack.*` codes of `FINDING_CATALOG`). */
export const STACK_FINDING_CODES: readonly StackFindingCode[] = FINDING_CODES.filter(
  (code): code is StackFindingCode => code.startsWith('stack.'),
);
export type { StackFindingCode };
