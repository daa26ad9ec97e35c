/**
 * The one list of finding codes: every code a validator, check or diagnosis in fpmkit can
 * return, with its severity, a one-line summary, the fix and where docs/findings.md explains it.
 * `checkFpmConfig`, `checkStack` and `diagnose` take each finding's severity from here, and
 * docs/findings.md is generated from it (`npm run docs:findings`).
 */
import type { Finding, Severity } from './findings.js';

/** The part of docs/findings.md a code is listed in. */
export type FindingSection = 'fpm-load' | 'fpm-check' | 'fpm-advice' | 'stack' | 'live';

/** One entry of the catalog. */
export interface FindingRule {
  /** Where the rule is listed in docs/findings.md. */
  section: FindingSection;
  /**
   * The severity findings with this code have. When `severityNote` is set, the severity depends
   * on the case the note describes and this is the most severe one.
   */
  severity: Severity;
  /** For the few rules whose severity depends on the case: which severity when. */
  severityNote?: string;
  /** What the finding means, in one line (Markdown). */
  summary: string;
  /** What to do about it, in one line (Markdown). */
  fix: string;
  /**
   * Set when this code is another name of the same rule: both codes are produced by one
   * implementation with one severity, each by the check it was first documented for.
   */
  aliasOf?: string;
}

/** The heading each section has in docs/findings.md, as its anchor. */
export const FINDING_SECTION_ANCHORS: Readonly<Record<FindingSection, string>> = {
  'fpm-load': 'loading-the-file-parsefpmconfig-checkfpmconfig-on-text',
  'fpm-check': 'post-processing-checkfpmconfig-what-php-fpm--t-checks',
  'fpm-advice': 'advice-checkfpmconfig-never-changes-ok',
  stack: 'stack-across-the-layers-checkstack',
  live: 'live-what-a-running-host-shows-diagnose',
};

/**
 * Every finding code, by code. `fpm.*` come from `parseFpmConfig` and `checkFpmConfig`,
 * `stack.*` from `checkStack`, `live.*` from `diagnose`.
 */
export const FINDING_CATALOG = {
  'fpm.syntax': {
    section: 'fpm-load',
    severity: 'error',
    summary:
      'The Zend INI scanner rejects the line (unbalanced quote or bracket, unquoted `=`). `parseFpmConfig` throws `FpmkitParseError` instead.',
    fix: 'Quote values containing `=`, `;` or `"`; close every `[` and `"` on the same line.',
  },
  'fpm.null-value': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'A line without `= value`, e.g. a `#` comment (`#` is not a comment in FPM files).',
    fix: 'Write `name = value`; start comments with `;`.',
  },
  'fpm.unknown-entry': {
    section: 'fpm-load',
    severity: 'error',
    summary:
      'A scalar directive FPM does not know in this section or build (`listen` in `[global]`, `listen.setfib` on Linux).',
    fix: 'Fix the name or move it to the right section (the fix names it when known).',
  },
  'fpm.unknown-directive': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'An unknown array directive (`foo[key] = ...`).',
    fix: 'Use `php_value`, `php_admin_value`, `php_flag`, `php_admin_flag` or `env`.',
  },
  'fpm.invalid-value': {
    section: 'fpm-load',
    severity: 'error',
    summary:
      "A value the directive's parser refuses (not a number, unknown time suffix, bad boolean, unknown `pm`).",
    fix: "Write the value in the directive's type; see `fpmDirectives`.",
  },
  'fpm.pool-variable-in-global': {
    section: 'fpm-load',
    severity: 'error',
    summary: '`$pool` used in `[global]`, where no pool is defined.',
    fix: 'Move the directive into a pool section.',
  },
  'fpm.listen-mode-not-octal': {
    section: 'fpm-load',
    severity: 'warning',
    summary:
      '`listen.mode` is not made of octal digits; FPM reads it with `strtoul(..., 8)` and may get 0.',
    fix: 'Write the mode as octal digits, e.g. `0660`.',
  },
  'fpm.time-misread': {
    section: 'fpm-load',
    severity: 'warning',
    summary:
      'A time value FPM reads otherwise than it looks: only the last character is a unit and the number before it goes through `atoi`, so `5ms` is 5 s, `1.5m` is 60 s, `1h30m` is 60 s and `x5` is 0 (`evidence.seconds`).',
    fix: 'Write a whole number with one unit (`s`, `m`, `h`, `d`): `90s`, not `1.5m`; FPM has no millisecond unit.',
  },
  'fpm.boolean-word': {
    section: 'fpm-load',
    severity: 'warning',
    summary:
      "A text directive written as a bare boolean word: PHP's INI scanner turns `yes`, `on`, `true` into `1` and `no`, `off`, `none`, `false`, `null` into an empty value before FPM sees it (`ping.response = yes` answers `1`).",
    fix: 'Quote the value: `ping.response = "yes"`.',
  },
  'fpm.array-key-missing': {
    section: 'fpm-load',
    severity: 'error',
    summary: '`php_value[] = ...` or `env[] = ...` without a key.',
    fix: 'Give the key: `php_value[memory_limit] = 256M`.',
  },
  'fpm.array-in-global': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'An array directive in `[global]`.',
    fix: 'Move it into a pool.',
  },
  'fpm.env-empty-value': {
    section: 'fpm-load',
    severity: 'error',
    summary: '`env[KEY] =` with an empty value.',
    fix: 'Give a value, or remove the line.',
  },
  'fpm.duplicate-array-key': {
    section: 'fpm-load',
    severity: 'warning',
    summary: 'The same `php_value`/`env` key twice: FPM applies the first and ignores later ones.',
    fix: 'Remove the later entry.',
  },
  'fpm.suppress-path-key': {
    section: 'fpm-load',
    severity: 'error',
    summary: '`access.suppress_path[key]`: keys are not allowed.',
    fix: 'Write `access.suppress_path[] = /ping`.',
  },
  'fpm.suppress-path-value': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'An `access.suppress_path[]` value not starting with `/`.',
    fix: 'Start the path with `/`.',
  },
  'fpm.include-no-match': {
    section: 'fpm-load',
    severity: 'warning',
    summary: 'An `include` pattern matches no file (FPM goes on).',
    fix: 'Fix the pattern, or remove the include.',
  },
  'fpm.include-failed': {
    section: 'fpm-load',
    severity: 'error',
    summary:
      'An `include` pattern cannot be expanded (missing directory) or an included file fails to load.',
    fix: 'Make the directory exist and the included files valid.',
  },
  'fpm.include-unreadable': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'An included file cannot be read.',
    fix: 'Fix the path or its permissions.',
  },
  'fpm.include-unresolved': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'fpmkit was given an `include` but no `glob`/`readFile` function to follow it.',
    fix: 'Pass `glob` and `readFile`, or use `loadFpmConfig` from fpmkit/host.',
  },
  'fpm.include-depth': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'Includes nested deeper than FPM allows (5).',
    fix: 'Flatten the includes.',
  },
  'fpm.include-twice': {
    section: 'fpm-load',
    severity: 'error',
    summary: 'Two `include`s on one line.',
    fix: 'One include per line.',
  },
  'fpm.log-limit': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`log_limit` below 512.',
    fix: 'Raise `log_limit` to at least 512.',
  },
  'fpm.process-max-negative': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`process.max` is negative.',
    fix: 'Use 0 (no limit) or a positive number.',
  },
  'fpm.process-priority': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`process.priority` outside [-19, 20] (global or pool).',
    fix: 'Use a nice value from -19 to 20.',
  },
  'fpm.error-log-unwritable': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'FPM cannot open `error_log` for appending (checked through `options.system`).',
    fix: 'Create the directory or fix permissions, or use `syslog`.',
  },
  'fpm.events-mechanism': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`events.mechanism` not available on this system.',
    fix: 'Remove it (FPM picks epoll on Linux).',
  },
  'fpm.no-pool': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'No pool section at all.',
    fix: 'Add a pool such as `[www]`.',
  },
  'fpm.prefix-missing': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'The pool `prefix` is not an existing directory.',
    fix: 'Create it or fix the path.',
  },
  'fpm.user-missing': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'No `user` while the master runs as root (without `-R`).',
    fix: 'Set `user` (and `group`), e.g. www-data.',
  },
  'fpm.listen-missing': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'No `listen` address.',
    fix: 'Set `listen` to a socket path or `host:port`.',
  },
  'fpm.pm-missing': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'No `pm`.',
    fix: 'Set `pm = dynamic` (or static, ondemand).',
  },
  'fpm.max-children': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`pm.max_children` below 1.',
    fix: 'Set a positive `pm.max_children`.',
  },
  'fpm.min-spare': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: `pm.min_spare_servers` not positive.',
    fix: 'Set it to 1 or more.',
  },
  'fpm.max-spare': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: `pm.max_spare_servers` not positive.',
    fix: 'Set it to 1 or more.',
  },
  'fpm.spare-above-max-children': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: a spare-servers value above `pm.max_children`.',
    fix: 'Keep both spare values at most `pm.max_children`.',
  },
  'fpm.max-spare-below-min-spare': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: `pm.max_spare_servers` below `pm.min_spare_servers`.',
    fix: 'Swap or fix them.',
  },
  'fpm.start-servers-default': {
    section: 'fpm-check',
    severity: 'info',
    summary: 'dynamic: `pm.start_servers` unset; FPM sets it to min + (max − min) / 2.',
    fix: 'Set it explicitly to silence the notice.',
  },
  'fpm.start-servers-range': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: `pm.start_servers` outside [min_spare, max_spare].',
    fix: 'Put it between the two spare values.',
  },
  'fpm.max-spawn-rate': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'dynamic: `pm.max_spawn_rate` below 1.',
    fix: 'Set it to 1 or more (default 32).',
  },
  'fpm.ondemand-events': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'ondemand with an event mechanism that is not edge-triggered (not epoll/kqueue).',
    fix: 'Use epoll, or another `pm`.',
  },
  'fpm.idle-timeout': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'ondemand: `pm.process_idle_timeout` below 1 s.',
    fix: 'Set it to at least 1s.',
  },
  'fpm.ondemand-backlog': {
    section: 'fpm-check',
    severity: 'warning',
    summary: 'ondemand: `listen.backlog` below -1; FPM raises it to -1.',
    fix: 'Set `listen.backlog = -1` or a positive value.',
  },
  'fpm.status-path': {
    section: 'fpm-check',
    severity: 'error',
    summary:
      '`pm.status_path` does not start with `/`, is too short, or has characters outside `[A-Za-z0-9/_.~-]`.',
    fix: 'Use a path like `/status`.',
  },
  'fpm.ping-path': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'Same rules for `ping.path`.',
    fix: 'Use a path like `/ping`.',
  },
  'fpm.ping-response': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`ping.path` set with an empty `ping.response`.',
    fix: 'Give a response, or leave it unset for `pong`.',
  },
  'fpm.slowlog-required': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`request_slowlog_timeout` or `request_slowlog_trace_depth` without `slowlog`.',
    fix: 'Set `slowlog` to a file.',
  },
  'fpm.slowlog-unwritable': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'FPM cannot create or open the slowlog file.',
    fix: 'Fix the directory or permissions.',
  },
  'fpm.slowlog-above-terminate': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`request_slowlog_timeout` greater than `request_terminate_timeout`.',
    fix: 'Keep the slowlog timeout below the terminate timeout.',
  },
  'fpm.trace-depth': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`request_slowlog_trace_depth` not positive.',
    fix: 'Use a positive depth (default 20).',
  },
  'fpm.chroot': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`chroot` not absolute or not a directory.',
    fix: 'Use an existing absolute directory.',
  },
  'fpm.chdir': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`chdir` not absolute or not a directory (inside the chroot when one is set).',
    fix: 'Use an existing absolute directory.',
  },
  'fpm.listen-duplicate': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'Two pools with the same `listen` string.',
    fix: 'Give each pool its own socket.',
  },
  'fpm.access-log-unwritable': {
    section: 'fpm-check',
    severity: 'error',
    summary: 'FPM cannot open `access.log`.',
    fix: 'Fix the directory or permissions.',
  },
  'fpm.access-format': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`access.format` contains a token FPM refuses; `fix` names it.',
    fix: 'Remove or correct the token.',
  },
  'fpm.user-unknown': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`user` does not resolve (`-t` looks it up).',
    fix: 'Create the user or fix the name.',
  },
  'fpm.listen-path-too-long': {
    section: 'fpm-check',
    severity: 'error',
    summary:
      'A UNIX `listen` path does not fit `sun_path` (108 bytes with its NUL): `-t` of PHP 8.3 and later refuses it; 8.2 and older start and bind a cut path.',
    fix: 'Use a shorter socket path, e.g. under /run/php.',
  },
  'fpm.group-unknown': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`group` does not resolve.',
    fix: 'Create the group or fix the name.',
  },
  'fpm.listen-owner-unknown': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`listen.owner` does not resolve.',
    fix: 'Create the user or fix the name.',
  },
  'fpm.listen-group-unknown': {
    section: 'fpm-check',
    severity: 'error',
    summary: '`listen.group` does not resolve.',
    fix: 'Create the group or fix the name.',
  },
  'fpm.process-control-timeout-zero': {
    section: 'fpm-advice',
    severity: 'warning',
    aliasOf: 'stack.process-control-timeout-short',
    summary:
      '`process_control_timeout` is 0 (or unset): every reload or graceful stop kills requests in flight. `stack.process-control-timeout-short` under the name `checkFpmConfig` gives it (one configuration does not say how long requests run, so only 0 is known to be short).',
    fix: 'Set it to at least the longest request, e.g. `30s`.',
  },
  'fpm.negative-time': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      'A negative timeout; a negative request timeout disables timeout checks for every pool.',
    fix: 'Use 0 to turn a timeout off.',
  },
  'fpm.slowlog-without-terminate': {
    section: 'fpm-advice',
    severity: 'warning',
    summary: 'Slow requests are logged but `request_terminate_timeout` never stops them.',
    fix: 'Set `request_terminate_timeout` above `request_slowlog_timeout`.',
  },
  'fpm.max-requests-zero': {
    section: 'fpm-advice',
    severity: 'info',
    summary:
      '`pm.max_requests` written as 0 (or negative): workers are never recycled. One rule with `stack.max-requests-zero`, which also counts the unset default.',
    fix: 'Set it, e.g. 500.',
  },
  'fpm.backlog-above-somaxconn': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      '`listen.backlog` above the `somaxconn` option: the kernel caps it silently (`evidence.effectiveBacklog`). One rule with `stack.backlog-above-somaxconn`.',
    fix: 'Raise `net.core.somaxconn` (`renderSysctlConf`) or use `listen.backlog = -1`.',
  },
  'fpm.user-root': {
    section: 'fpm-advice',
    severity: 'warning',
    summary: 'The pool runs as root: `-t` passes, but FPM refuses to start without `-R`.',
    fix: 'Use an unprivileged user.',
  },
  'fpm.allowed-clients-unix': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      '`listen.allowed_clients` on a UNIX socket, where FPM never checks it. One rule with `stack.allowed-clients-unix`.',
    fix: 'Use `listen.owner`, `listen.group`, `listen.mode`.',
  },
  'fpm.allowed-clients-invalid': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      'An `allowed_clients` entry that is not an IP address (CIDR is not supported); workers refuse it.',
    fix: 'List plain IPv4/IPv6 addresses.',
  },
  'fpm.listen-owner-ignored': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      "`listen.owner`/`listen.group` next to ACLs, which make FPM ignore them (the socket stays the master's). One rule with `stack.listen-owner-ignored`.",
    fix: 'Remove one of the two.',
  },
  'fpm.status-listen-without-path': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      '`pm.status_listen` without `pm.status_path` serves status at `/` on the main socket too.',
    fix: 'Set `pm.status_path`.',
  },
  'fpm.any-extension-executed': {
    section: 'fpm-advice',
    severity: 'warning',
    summary:
      'Security: `security.limit_extensions` is empty (often written `none`, which the INI scanner reads as empty), so FPM runs any file it is asked for as PHP, whatever its extension: an uploaded `avatar.jpg` holding PHP code is executed.',
    fix: 'Leave it out (FPM then allows `.php .phar`) or list the extensions: `security.limit_extensions = .php`.',
  },
  'fpm.pool-name-truncated': {
    section: 'fpm-advice',
    severity: 'info',
    summary: 'The status page shows only the first 31 bytes of the pool name.',
    fix: 'Use a shorter name if monitoring tells pools apart by it.',
  },
  'stack.max-execution-above-terminate': {
    section: 'stack',
    severity: 'warning',
    summary:
      "`request_terminate_timeout` is not at least the margin above PHP's `max_execution_time`: FPM kills the worker (502) before PHP ends the script with its own error.",
    fix: 'Raise `request_terminate_timeout` to at least `max_execution_time` + 5 s (the margin `timeoutCorridor` plans with), or lower `max_execution_time`.',
  },
  'stack.no-wall-clock-limit': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`request_terminate_timeout` is off: `max_execution_time` counts CPU time only on Linux (`setitimer(ITIMER_PROF)`), so a script waiting on I/O holds its worker for ever.',
    fix: 'Set `request_terminate_timeout` above `max_execution_time`.',
  },
  'stack.process-control-timeout-short': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`process_control_timeout` is shorter than the longest request (`request_terminate_timeout`, else `max_execution_time`), or 0: reloads kill requests in flight.',
    fix: 'Set it to at least the longest request (the reload then waits that long, so the backlog must hold the arrivals).',
  },
  'stack.web-timeout-below-request': {
    section: 'stack',
    severity: 'warning',
    summary:
      "nginx `fastcgi_read_timeout` or Apache's effective proxy timeout (`ProxySet timeout=`, else `ProxyTimeout`, else `Timeout`) is not the margin above the longest request: 504 while the worker runs on.",
    fix: "Raise the web-server timeout or lower FPM's.",
  },
  'stack.backlog-above-somaxconn': {
    section: 'stack',
    aliasOf: 'fpm.backlog-above-somaxconn',
    severity: 'warning',
    summary:
      '`listen.backlog` above `net.core.somaxconn`: the queue is silently capped (`evidence.effectiveBacklog`).',
    fix: 'Raise `somaxconn` (`renderSysctlConf`) or use `listen.backlog = -1`.',
  },
  'stack.socket-not-writable': {
    section: 'stack',
    severity: 'error',
    summary:
      "The web server's user lacks write permission on the pool's socket file (owner, ACL, group and other bits checked in the kernel's order): every connect() fails with EACCES, nginx answers 502.",
    fix: "Set `listen.owner`/`listen.group` to the web server's user with mode 0660, or add it to the ACLs.",
  },
  'stack.socket-world-writable': {
    section: 'stack',
    severity: 'warning',
    summary:
      "`listen.mode` gives others write permission: any local user can run PHP as the pool's user.",
    fix: "Use 0660 with the web server's user as owner or group.",
  },
  'stack.listen-owner-ignored': {
    section: 'stack',
    aliasOf: 'fpm.listen-owner-ignored',
    severity: 'warning',
    summary:
      "`listen.owner`/`listen.group` set together with ACLs, which make FPM ignore them (socket stays the master's).",
    fix: 'Remove one of the two.',
  },
  'stack.allowed-clients-unix': {
    section: 'stack',
    aliasOf: 'fpm.allowed-clients-unix',
    severity: 'warning',
    summary: '`listen.allowed_clients` on a UNIX socket, where FPM never checks it.',
    fix: 'Use socket ownership and mode.',
  },
  'stack.status-listen-missing': {
    section: 'stack',
    severity: 'info',
    summary:
      'A pool serves its status page (`pm.status_path`) only on its main socket: when every worker is busy and the accept queue is full, status requests wait or get EAGAIN like every other request, exactly when the page is needed.',
    fix: "Set `pm.status_listen` (FPM 8.0+) to a socket next to the pool's, e.g. `/run/php/www-status.sock`: a hidden pool answers status there while the main pool is saturated.",
  },
  'stack.fpm-listen-open': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`listen` or `pm.status_listen` on all interfaces (`9000`, `0.0.0.0:`, `[::]:`) without `listen.allowed_clients`: anyone reaching the port runs PHP files.',
    fix: 'Bind to 127.0.0.1 or a UNIX socket, or set `listen.allowed_clients`.',
  },
  'stack.upstream-unknown': {
    section: 'stack',
    severity: 'error',
    summary: 'The web server passes to an address no pool listens on (502/503).',
    fix: "Point it at a pool's listen address (UNIX paths byte for byte).",
  },
  'stack.status-exposed': {
    section: 'stack',
    severity: 'warning',
    summary:
      'The status page is reachable from anywhere: an nginx `allow` of `0.0.0.0/0` or `::/0`, or no restricted location while the PHP location (no `try_files` guard) or Apache handler (no file check) passes the path to FPM.',
    fix: 'Restrict the location to monitoring addresses; keep the guards on.',
  },
  'stack.ping-exposed': {
    section: 'stack',
    severity: 'info',
    summary: 'The same for the ping page.',
    fix: 'As above.',
  },
  'stack.status-path-mismatch': {
    section: 'stack',
    severity: 'warning',
    summary:
      "nginx's status or ping location path differs from the pool's `pm.status_path`/`ping.path` (FPM matches exactly): the location answers 404.",
    fix: 'Use the same path on both sides.',
  },
  'stack.keepalive-without-keep-conn': {
    section: 'stack',
    severity: 'info',
    summary: 'nginx upstream `keepalive` without `fastcgi_keep_conn on` has no effect.',
    fix: 'Set `keepConn: true`, or drop `keepalive`.',
  },
  'stack.keepalive-pins-workers': {
    section: 'stack',
    severity: 'warning',
    summary:
      'Kept FastCGI connections (nginx `keepalive` x worker processes, or Apache `enablereuse` x processes) can reach `pm.max_children`; each pins a worker in "Reading headers".',
    fix: 'Keep the product well below `pm.max_children`.',
  },
  'stack.keepalive-timeout-above-terminate': {
    section: 'stack',
    severity: 'info',
    summary:
      "nginx's upstream `keepalive_timeout` (default 60s) is not below `request_terminate_timeout`: FPM kills idle kept workers as timed-out requests and respawns them.",
    fix: 'Lower `keepalive_timeout` below `request_terminate_timeout`.',
  },
  'stack.apache-workers-below-children': {
    section: 'stack',
    severity: 'warning',
    summary:
      'Apache `MaxRequestWorkers` below the FPM children it feeds: some children never work, static files wait behind PHP.',
    fix: 'Raise `MaxRequestWorkers` or lower `pm.max_children`.',
  },
  'stack.apache-workers-above-queue': {
    section: 'stack',
    severity: 'warning',
    summary:
      "`MaxRequestWorkers` exceeds FPM's children plus accept-queue slots: under load connections fail with EAGAIN (503).",
    fix: 'Raise `listen.backlog` and `somaxconn`, or lower `MaxRequestWorkers`.',
  },
  'stack.apache-workers-above-children': {
    section: 'stack',
    severity: 'info',
    summary:
      "`MaxRequestWorkers` more than twice the children: most PHP requests wait in FPM's queue, invisible on its status page for UNIX sockets.",
    fix: 'Size both together.',
  },
  'stack.post-below-upload': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`post_max_size` below `upload_max_filesize`: a large upload makes PHP drop the whole body.',
    fix: 'Set `post_max_size` above `upload_max_filesize`.',
  },
  'stack.body-limit-below-upload': {
    section: 'stack',
    severity: 'warning',
    summary:
      'nginx `client_max_body_size` (default 1m) below `upload_max_filesize`: nginx answers 413 first.',
    fix: 'Set `client_max_body_size` to `post_max_size`.',
  },
  'stack.body-limit-above-post': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`client_max_body_size` above `post_max_size` (or 0, unlimited): PHP discards the body and the script sees empty `$_POST`/`$_FILES`.',
    fix: 'Set `client_max_body_size` to `post_max_size`.',
  },
  'stack.request-buffering-off': {
    section: 'stack',
    severity: 'warning',
    summary:
      '`fastcgi_request_buffering off`: slow uploads occupy workers for their whole duration.',
    fix: 'Keep request buffering on.',
  },
  'stack.response-buffering-off': {
    section: 'stack',
    severity: 'info',
    summary: '`fastcgi_buffering off`: slow clients keep workers busy until the last byte.',
    fix: 'Keep buffering on; use `X-Accel-Buffering: no` where streaming is needed.',
  },
  'stack.rlimit-files-above-nr-open': {
    section: 'stack',
    severity: 'error',
    severityNote: 'error (global), warning (pool)',
    summary:
      '`rlimit_files` above `fs.nr_open`, which even root cannot exceed: FPM does not start, or each child silently keeps the inherited limit (the error is logged only with `catch_workers_output = yes`).',
    fix: 'Lower `rlimit_files` or raise `fs.nr_open`.',
  },
  'stack.rlimit-files-above-limit-nofile': {
    section: 'stack',
    severity: 'info',
    severityNote: 'info (root master), error/warning otherwise',
    summary:
      "`rlimit_files` above the unit's `LimitNOFILE` hard limit: works only because a root master may raise it (CAP_SYS_RESOURCE); a non-root master fails as above.",
    fix: 'Set `LimitNOFILE` (`renderSystemdDropIn`) or lower `rlimit_files`.',
  },
  'stack.max-requests-zero': {
    section: 'stack',
    aliasOf: 'fpm.max-requests-zero',
    severity: 'info',
    summary: 'Effective `pm.max_requests` is 0 (the default): workers are never recycled.',
    fix: 'Set `pm.max_requests`, e.g. 500.',
  },
  'stack.database-connections': {
    section: 'stack',
    severity: 'error',
    summary:
      "Sum of `pm.max_children` x connections per child exceeds the database's `max_connections`.",
    fix: 'Raise `max_connections` or lower the children.',
  },
  'stack.memory-over-budget': {
    section: 'stack',
    severity: 'warning',
    summary:
      "Children x `memory_limit` over all pools plus OPcache's shared memory exceeds `memoryBudgetBytes`, or `memory_limit` is -1.",
    fix: 'Lower `pm.max_children` or `memory_limit`; size from measured worker memory.',
  },
  'live.accept-queue-overflow': {
    section: 'live',
    severity: 'error',
    summary:
      "nginx got EAGAIN (`11: Resource temporarily unavailable`) connecting to a pool's UNIX socket: its accept queue (effective backlog + 1) was full.",
    fix: 'Raise `listen.backlog` (at least 511) and `net.core.somaxconn` to match, restart FPM; `Report.files` has the rendered files.',
  },
  'live.reload-overflow': {
    section: 'live',
    severity: 'error',
    summary:
      "Some of those refusals fell in a reload's seconds: nothing accepts while FPM reloads.",
    fix: "Room in the queue for a reload's arrivals; SIGUSR1 instead of SIGUSR2 for log rotation; `process_control_timeout` above the longest request.",
  },
  'live.reload-kills-requests': {
    section: 'live',
    severity: 'error',
    summary:
      "`process_control_timeout` is 0 and requests died at a reload (SIGTERM exits in FPM's log, resets in nginx's).",
    fix: 'Set `process_control_timeout` (e.g. 10s, at least the longest request).',
  },
  'live.max-children-reached': {
    section: 'live',
    severity: 'warning',
    summary: "The pool ran out of children (FPM's log or the status page).",
    fix: 'Raise `pm.max_children` if memory allows, or make requests faster.',
  },
  'live.memory-overcommit': {
    section: 'live',
    severity: 'error',
    summary:
      '`pm.max_children` × measured worker size exceeds the memory budget (cgroup limit or MemTotal).',
    fix: 'Lower `pm.max_children` to the value the fix names per pool.',
  },
  'live.slow-requests': {
    section: 'live',
    severity: 'warning',
    summary: 'The slowlog has entries; the evidence names the most frequent stack frames.',
    fix: 'Fix where the frames wait; keep `request_terminate_timeout` above the slowest legitimate request.',
  },
  'live.socket-permission-denied': {
    section: 'live',
    severity: 'error',
    summary: 'nginx got `13: Permission denied` on the socket.',
    fix: '`listen.owner`/`listen.group` = the web server user, `listen.mode = 0660`, restart FPM.',
  },
  'live.socket-missing': {
    section: 'live',
    severity: 'error',
    summary: 'nginx got `2: No such file or directory`: no socket at that path.',
    fix: 'Start FPM; make `fastcgi_pass` and `listen` name the same path.',
  },
  'live.status-misconfigured': {
    section: 'live',
    severity: 'warning',
    summary: '`pm.status_path` is set but the request did not return the status page.',
    fix: 'Request exactly `pm.status_path` and route it to FPM without `try_files`.',
  },
  'live.ondemand-cold-start': {
    section: 'live',
    severity: 'info',
    summary:
      'An ondemand pool keeps forking children (or hit its limit): requests wait for forks and a cold opcache.',
    fix: '`pm = dynamic` with spare servers, or a longer `pm.process_idle_timeout`.',
  },
  'live.untrusted-master': {
    section: 'live',
    severity: 'warning',
    summary:
      'A process titled as an FPM master is not trusted as one (another user runs it, or its binary is not php-fpm): nothing it names was read.',
    fix: "Find out what it is; for a real master run fpmkit as root or as FPM's user, from a php-fpm binary only root can write.",
  },
  'live.backlog-drift': {
    section: 'live',
    severity: 'warning',
    summary:
      "The listening socket's backlog in force (`ss` Send-Q) differs from what the configuration gives (`listen.backlog` capped by `net.core.somaxconn`): the setting, or somaxconn, changed and FPM was reloaded, not restarted. A reload keeps the inherited socket as it is. Not examined without a somaxconn reading.",
    fix: 'Restart FPM (stop and start the master, e.g. `systemctl restart php8.2-fpm`); a reload (SIGUSR2) does not apply it.',
  },
  'live.saturated-now': {
    section: 'live',
    severity: 'error',
    summary:
      "The pool is saturated at this moment: its status page did not answer (timeout, EAGAIN) while the kernel's accept queue of its socket held connections, or the queue is full.",
    fix: 'Requests wait or fail now: look at what the busy workers run (slowlog), raise `pm.max_children` if memory allows, and set `pm.status_listen` so status answers under load.',
  },
  'live.fpm-not-running': {
    section: 'live',
    severity: 'error',
    summary:
      'A configuration was given but no PHP-FPM master runs it: every site that points at its pools gets 502 or 503. Not claimed when the processes cannot be listed, an untrusted process claims the configuration, or its `pid` file names a running master.',
    fix: "Start FPM with that configuration (`systemctl start php8.2-fpm`, or `php-fpm -y FILE`); FPM's error log says why it stopped.",
  },
  'live.no-fpm-master': {
    section: 'live',
    severity: 'warning',
    summary: 'No FPM master runs here and no configuration was given.',
    fix: 'Start php-fpm, or use `--config` / `--from`.',
  },
} as const satisfies Record<string, FindingRule>;

/** A finding code fpmkit produces: a key of `FINDING_CATALOG`. */
export type FindingCode = keyof typeof FINDING_CATALOG;
/** The `fpm.*` codes (`parseFpmConfig`, `checkFpmConfig`). */
export type FpmFindingCode = Extract<FindingCode, `fpm.${string}`>;
/** The `stack.*` codes (`checkStack`). */
export type StackFindingCode = Extract<FindingCode, `stack.${string}`>;
/** The `live.*` codes (`diagnose`). */
export type LiveFindingCode = Extract<FindingCode, `live.${string}`>;

/** Every code of the catalog, in the order docs/findings.md lists them. */
export const FINDING_CODES = Object.keys(FINDING_CATALOG) as readonly FindingCode[];

/** True when `code` is a code of the catalog. */
export function isFindingCode(code: string): code is FindingCode {
  return Object.hasOwn(FINDING_CATALOG, code);
}

/** The catalog entry of a code. */
export function findingRule(code: FindingCode): FindingRule {
  return FINDING_CATALOG[code];
}

/** The severity of a code, for the rules whose severity never depends on the case. */
export function findingSeverity(code: FindingCode): Severity {
  return FINDING_CATALOG[code].severity;
}

/** Where docs/findings.md explains a code: `docs/findings.md#<section heading>`. */
export function findingDocAnchor(code: FindingCode): string {
  return `docs/findings.md#${FINDING_SECTION_ANCHORS[FINDING_CATALOG[code].section]}`;
}

/** A finding without its code and severity, which the catalog supplies. */
export type FindingBody = Omit<Finding, 'code' | 'severity'> & {
  /** Only for codes with a `severityNote`: the severity of this case. */
  severity?: Severity;
};

/**
 * Builds a finding with the catalog's severity for `code`. The body's own severity is used
 * only for the codes whose severity depends on the case (`severityNote`).
 */
export function catalogFinding<C extends FindingCode>(code: C, body: FindingBody): Finding<C> {
  const rule: FindingRule = FINDING_CATALOG[code];
  const severity =
    rule.severityNote !== undefined && body.severity !== undefined ? body.severity : rule.severity;
  return { ...body, code, severity };
}
