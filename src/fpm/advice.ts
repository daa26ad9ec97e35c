/**
 * Advice rules that both `checkFpmConfig` (one FPM configuration) and `checkStack` (the whole
 * stack) give. Each rule is written once here; the two checks call it with the values they know
 * and report it under their own code, which the findings catalog records as one rule (one code
 * is an `aliasOf` the other) with one severity.
 */
import type { FindingBody } from '../findings-catalog.js';
import { effectiveBacklog } from '../kernel/backlog.js';
import type { PoolConfig } from './schema.js';

/**
 * `pm.max_requests` 0 or negative: workers are never recycled.
 *
 * @param maxRequests the value to judge: the written value (`checkFpmConfig`), or FPM's
 *   effective value, 0 when unset (`checkStack`); undefined skips the rule
 * @param written whether the configuration sets it
 */
export function maxRequestsAdvice(
  maxRequests: number | undefined,
  written: boolean,
): FindingBody | undefined {
  if (maxRequests === undefined || maxRequests > 0) return undefined;
  return {
    message:
      maxRequests < 0
        ? `pm.max_requests is negative (${maxRequests}); FPM treats it as 0: workers are never recycled, so memory leaked by extensions or scripts grows until the next reload`
        : `pm.max_requests is 0${written ? '' : ' (the default)'}: workers are never recycled, so memory leaked by extensions or scripts grows until the next reload`,
    directive: 'pm.max_requests',
    evidence: { maxRequests, set: written },
    fix: 'set pm.max_requests, e.g. 500',
  };
}

/**
 * `listen.backlog` above `net.core.somaxconn`: the kernel caps the accept queue silently.
 *
 * @param backlog the pool's `listen.backlog` (undefined or -1 follow somaxconn and never fire)
 * @param somaxconn the kernel's `net.core.somaxconn`; undefined skips the rule
 */
export function backlogAboveSomaxconnAdvice(
  backlog: number | undefined,
  somaxconn: number | undefined,
): FindingBody | undefined {
  if (somaxconn === undefined || backlog === undefined || !(backlog > somaxconn)) return undefined;
  let effective: number | undefined;
  try {
    effective = effectiveBacklog({ listenBacklog: backlog, somaxconn });
  } catch {
    effective = undefined;
  }
  return {
    message: `listen.backlog (${backlog}) is above net.core.somaxconn (${somaxconn}): the kernel silently caps the accept queue at ${somaxconn} (+1 connection), so bursts and reloads overflow sooner than the pool says`,
    directive: 'listen.backlog',
    evidence: {
      listenBacklog: backlog,
      // The same value, under the name checkFpmConfig first gave it.
      backlog,
      somaxconn,
      ...(effective === undefined ? {} : { effectiveBacklog: effective }),
    },
    fix: `raise net.core.somaxconn to at least ${backlog} (renderSysctlConf), or set listen.backlog = -1 to follow it`,
  };
}

/**
 * `listen.allowed_clients` on a UNIX socket, where FPM never checks it.
 *
 * @param socket the socket path, when the pool listens on a UNIX socket; undefined skips the rule
 */
export function allowedClientsUnixAdvice(
  listen: PoolConfig['listen'],
  socket: string | undefined,
): FindingBody | undefined {
  if (socket === undefined || listen.allowedClients === undefined) return undefined;
  return {
    message: `listen.allowed_clients (${listen.allowedClients.join(',')}) has no effect on the UNIX socket ${socket}: FPM checks it only for TCP clients`,
    directive: 'listen.allowed_clients',
    evidence: { socket, allowedClients: listen.allowedClients },
    fix: 'remove listen.allowed_clients and control access with listen.owner, listen.group and listen.mode',
  };
}

/**
 * `listen.owner`/`listen.group` set together with `listen.acl_users`/`listen.acl_groups`: FPM
 * applies the ACLs and leaves the socket owned by the master's user.
 *
 * @param master the master's user and group, when known (named in the message)
 */
export function listenOwnerIgnoredAdvice(
  listen: PoolConfig['listen'],
  master?: { name: string; group: string },
): FindingBody | undefined {
  const acl = listen.aclUsers !== undefined || listen.aclGroups !== undefined;
  if (!acl || (listen.owner === undefined && listen.group === undefined)) return undefined;
  return {
    message: `listen.owner/listen.group (${listen.owner ?? '-'}:${listen.group ?? '-'}) are ignored because listen.acl_users or listen.acl_groups is set; the socket stays owned by ${master ? `${master.name}:${master.group}` : "the master's user"}`,
    directive: 'listen.owner',
    evidence: {
      owner: listen.owner ?? null,
      group: listen.group ?? null,
      aclUsers: listen.aclUsers ?? null,
      aclGroups: listen.aclGroups ?? null,
    },
    fix: 'remove listen.owner and listen.group, or remove the ACL directives',
  };
}

/**
 * `process_control_timeout` 0 (or negative), or shorter than the longest request: on a reload
 * or graceful stop FPM sends SIGTERM to the workers still busy after it, killing their requests.
 *
 * @param seconds the effective `process_control_timeout` (0 when unset)
 * @param longest the longest a request may run and the directive that says so, when known
 */
export function processControlTimeoutAdvice(
  seconds: number,
  longest: { seconds: number; by: string } | undefined,
): FindingBody | undefined {
  if (seconds > 0 && !(longest && seconds < longest.seconds)) return undefined;
  return {
    message:
      seconds <= 0 && longest === undefined
        ? `process_control_timeout is ${seconds}: on every reload or graceful stop FPM sends SIGTERM right after SIGQUIT, killing requests in flight`
        : `process_control_timeout (${seconds}s) is shorter than the longest request (${longest ? `${longest.seconds}s, ${longest.by}` : 'unlimited'}): on every reload or graceful stop FPM sends SIGTERM to workers still running after ${seconds}s, killing those requests`,
    directive: 'process_control_timeout',
    evidence: {
      processControlTimeoutSeconds: seconds,
      longestRequestSeconds: longest?.seconds ?? 'unlimited',
      longestRequestBy: longest?.by ?? null,
    },
    fix: `set process_control_timeout in [global] to at least ${longest ? `${longest.seconds}s` : 'the longest request, e.g. 30s'} (the reload then waits that long for busy workers, while new connections queue in the backlog)`,
  };
}
