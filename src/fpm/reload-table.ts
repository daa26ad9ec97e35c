/**
 * What a SIGUSR2 reload applies. On SIGUSR2 the FPM master stops its workers and execs itself
 * with the same arguments, passing its listening sockets in the `FPM_SOCKETS` environment
 * variable (php-src sapi/fpm/fpm/fpm_sockets.c, `fpm_sockets_init_main`). The new master reads
 * every file again, so almost everything applies. The exception is a socket it inherits: a
 * pool whose `listen` address is unchanged gets the old socket back, already bound and
 * listening, so the backlog given to listen(2), the owner, group and mode set when the socket
 * file was created, and its ACLs stay as they were until the master is stopped and started.
 * A changed `listen` address is a new socket and applies (the unused inherited one is closed).
 *
 * Each row but `listen.setfib` (FreeBSD only) was measured against php-fpm 8.2, directive by
 * directive (test/host/reload-table.test.ts); docs/apply.md has the table with what was seen.
 */

/** `reload`: SIGUSR2 applies it. `restart`: only a stop and start of the master does. */
export type FpmApplyAction = 'reload' | 'restart';

/** One row: a directive (or family, ending in `*` or `[`), what applies it, and why. */
export interface FpmReloadRule {
  directive: string;
  action: FpmApplyAction;
  reason: string;
}

const INHERITED = 'the re-executed master inherits the listening socket as it is';

/** Directives whose change SIGUSR2 does not apply. Every other directive applies on reload. */
export const FPM_RESTART_DIRECTIVES: readonly FpmReloadRule[] = [
  {
    directive: 'listen.backlog',
    action: 'restart',
    reason: `${INHERITED}: listen(2) is not called again`,
  },
  {
    directive: 'listen.owner',
    action: 'restart',
    reason: `${INHERITED}: the socket file keeps its owner`,
  },
  {
    directive: 'listen.group',
    action: 'restart',
    reason: `${INHERITED}: the socket file keeps its group`,
  },
  {
    directive: 'listen.mode',
    action: 'restart',
    reason: `${INHERITED}: the socket file keeps its mode`,
  },
  {
    directive: 'listen.acl_users',
    action: 'restart',
    reason: `${INHERITED}: the socket file keeps its ACL (none added, none removed)`,
  },
  {
    directive: 'listen.acl_groups',
    action: 'restart',
    reason: `${INHERITED}: the socket file keeps its ACL (none added, none removed)`,
  },
  {
    directive: 'listen.setfib',
    action: 'restart',
    reason: `${INHERITED}: SO_SETFIB is set at creation (FreeBSD only; not measured on Linux)`,
  },
  {
    directive: 'daemonize',
    action: 'restart',
    reason:
      'a master re-executed into daemonize = yes forks and exits: its supervisor loses it and the pid changes',
  },
];

/** Directives that a reload applies, as measured; listed so the table documents them. */
export const FPM_RELOAD_DIRECTIVES: readonly FpmReloadRule[] = [
  {
    directive: 'listen',
    action: 'reload',
    reason: 'a new address is a new socket; the unused inherited one is closed',
  },
  {
    directive: 'listen.allowed_clients',
    action: 'reload',
    reason: 'each new worker checks the client address against the new list',
  },
  {
    directive: 'pm*',
    action: 'reload',
    reason: 'the new master starts its workers with the new settings',
  },
  {
    directive: 'user',
    action: 'reload',
    reason: 'workers are forked again and switch to the new user',
  },
  {
    directive: 'group',
    action: 'reload',
    reason: 'workers are forked again and switch to the new group',
  },
  {
    directive: 'rlimit_files',
    action: 'reload',
    reason: 'set again by the new master (global) or each new worker (pool)',
  },
  {
    directive: 'rlimit_core',
    action: 'reload',
    reason: 'set again by the new master (global) or each new worker (pool)',
  },
  {
    directive: 'process_control_timeout',
    action: 'reload',
    reason:
      'read again by the new master; the reload that carries the change still waits by the old value',
  },
  {
    directive: 'events.mechanism',
    action: 'reload',
    reason: 'the new master opens its event loop again',
  },
  { directive: 'pm.status_listen', action: 'reload', reason: 'a new address is a new socket' },
  {
    directive: 'php_admin_value[',
    action: 'reload',
    reason: 'new workers start with the new INI settings',
  },
];

function ruleFor(directive: string): FpmReloadRule | undefined {
  const name = directive.toLowerCase();
  return [...FPM_RESTART_DIRECTIVES, ...FPM_RELOAD_DIRECTIVES].find((r) =>
    r.directive.endsWith('*') || r.directive.endsWith('[')
      ? name.startsWith(r.directive.replace(/\*$/, ''))
      : name === r.directive,
  );
}

/**
 * What applies a change of this directive (FPM's name, e.g. `listen.backlog`,
 * `php_admin_value[memory_limit]`): `restart` for the settings of an inherited socket and
 * `daemonize`, `reload` for everything else.
 */
export function fpmApplyActionFor(directive: string): FpmApplyAction {
  return ruleFor(directive)?.action ?? 'reload';
}

/**
 * What applies a set of changes: `restart` if any needs it, unless the pool's `listen` changes
 * too (a new address gets a new socket created with every listen.* setting). `changes` are
 * pairs of section and directive.
 */
export function fpmApplyActionForChanges(
  changes: readonly { section: string; directive: string }[],
): FpmApplyAction {
  const newListen = new Set(
    changes.filter((c) => c.directive === 'listen').map((c) => c.section.toLowerCase()),
  );
  return changes.some(
    (c) =>
      fpmApplyActionFor(c.directive) === 'restart' &&
      !(c.directive.startsWith('listen.') && newListen.has(c.section.toLowerCase())),
  )
    ? 'restart'
    : 'reload';
}
