import {
  FPM_DEFAULT_LISTEN_BACKLOG,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
} from '../defaults.js';
import type { Finding } from '../findings.js';
import { hasErrors, sortFindings } from '../findings.js';
import { renderFpmConfig } from '../fpm/render.js';
import type { FpmConfig, PoolConfig } from '../fpm/schema.js';
import { DEFAULT_SOMAXCONN, effectiveBacklog } from '../kernel/backlog.js';
import type { CgroupMemoryLimit } from '../kernel/cgroup-memory.js';
import type { Meminfo } from '../kernel/meminfo.js';
import type { NetstatCounters } from '../kernel/proc-net-netstat.js';
import type { TcpListenQueue } from '../kernel/proc-net-tcp.js';
import type { UnixListenQueue } from '../kernel/proc-net-unix.js';
import { type KernelSettings, renderSysctlConf } from '../kernel/settings.js';
import { type FpmLogRecord, parseFpmLog } from '../logs/fpm-log.js';
import { parseFpmSlowlog, type SlowlogEntry } from '../logs/fpm-slowlog.js';
import { type NginxErrorEntry, parseNginxErrorLog } from '../logs/nginx-error-log.js';
import { DEFAULT_MIN_BACKLOG } from '../sizing/overflow.js';
import type { FpmStatus } from '../status/model.js';
import { checkStack } from './check-stack.js';

/**
 * One part of a snapshot: the value, or why it could not be had (permissions, nothing
 * running, not configured). Absent parts are never guessed.
 */
export type SnapshotPart<T> =
  | { ok: true; value: T; source?: string }
  | {
      ok: false;
      reason: string;
      /** The error's stable code, e.g. `FPMKIT_IO`, `FPMKIT_STATUS_MISCONFIGURED`. */
      code?: string;
      /** The system error, e.g. `ENOENT`, `EACCES`. */
      errno?: string;
      source?: string;
    };

/** The tail of a log file as read: at most a bounded number of bytes, whole lines only. */
export interface LogWindow {
  path: string;
  text: string;
  /** The file was longer than the window: older lines were left out. */
  truncated: boolean;
  /** Size of the whole file in bytes. */
  sizeBytes: number;
}

/** What fpmkit saw of one pool. */
export interface SnapshotPool {
  name: string;
  /** The pool's model as configured, when the config was read. */
  config?: PoolConfig;
  workerPids: number[];
  /** The status page (fetched when `pm.status_path` is set). */
  status: SnapshotPart<FpmStatus>;
  /** Accept queue of the pool's listening socket now. */
  queue: SnapshotPart<{ queued: number; address: string }>;
  /** Highest queue depth seen in every sample taken of the socket tables. */
  queuePeak?: number;
  slowlog: SnapshotPart<LogWindow>;
  workerMemory: SnapshotPart<{ meanBytes: number; maxBytes: number; count: number }>;
}

/** One FPM master (or one configuration when no master runs). */
export interface SnapshotMaster {
  /** Absent for a configuration examined without its master running. */
  pid?: number;
  configPath: string;
  config: SnapshotPart<FpmConfig>;
  /** What `parseFpmConfig` reported about the file. */
  configFindings: Finding[];
  errorLog: SnapshotPart<LogWindow>;
  pools: SnapshotPool[];
}

/**
 * A process titled as an FPM master that was not trusted as one: nothing it names was read
 * or contacted.
 */
export interface SnapshotUntrustedMaster {
  pid: number;
  /** The path in its title, as written there (any local user can choose it). */
  configPath: string;
  /** Why it is not trusted. */
  reason: string;
  /** Real, effective, saved and filesystem uid, when readable. */
  uids?: number[] | undefined;
  /** Its `/proc/PID/exe`, when readable. */
  executable?: string | undefined;
}

/** The memory figures the doctor needs from meminfo and the cgroup. */
export interface SnapshotCgroup {
  version: 1 | 2;
  path: string;
  limitBytes: CgroupMemoryLimit;
  usageBytes?: number;
}

/**
 * Everything `collectSnapshot` read from a host (or from a directory of saved evidence).
 * Each part is optional in the sense that it may be `{ ok: false, reason }`.
 */
export interface HostSnapshot {
  takenAt: Date;
  /** `live` when read from this machine, `directory` when from saved evidence. */
  origin: 'live' | 'directory';
  /** When no FPM master was found and no configuration was given: why. */
  noFpm?: string;
  masters: SnapshotMaster[];
  /** Processes titled as FPM masters that were ignored (`live.untrusted-master`). */
  untrustedMasters?: SnapshotUntrustedMaster[];
  unixQueues: SnapshotPart<UnixListenQueue[]>;
  tcpQueues: SnapshotPart<TcpListenQueue[]>;
  netstat: SnapshotPart<NetstatCounters>;
  kernel: SnapshotPart<KernelSettings>;
  meminfo: SnapshotPart<Meminfo>;
  cgroup: SnapshotPart<SnapshotCgroup | null>;
  nginxErrorLog: SnapshotPart<LogWindow>;
  /** Local-time zone of the logs, minutes east of UTC. @default 0 */
  utcOffsetMinutes?: number;
  /** Only log lines at or after this time are considered. */
  since?: Date;
}

/** A part of the snapshot that could not be read, for the report. */
export interface MissingPart {
  part: string;
  reason: string;
}

/** What `diagnose` returns. */
export interface Report {
  /** Errors first. */
  findings: Finding[];
  summary: {
    errors: number;
    warnings: number;
    infos: number;
    masters: number;
    pools: number;
    /** One line for people. */
    text: string;
  };
  missing: MissingPart[];
  /** True when no FPM master was found and no configuration was given. */
  noFpm: boolean;
  /** Files the fixes would write, by suggested name. */
  files: Record<string, string>;
}

export interface DiagnoseOptions {
  /**
   * Whole seconds after a reload's `ready to handle connections` within which a refused
   * connection still counts as refused during the reload. Both logs print whole seconds, so
   * the comparison is by second. @default 0
   */
  reloadSlackSeconds?: number;
  /** Seconds after a reload within which a child killed by SIGTERM counts as killed by it. @default 2 */
  reloadKillSeconds?: number;
  /** How many stack frames the slow-request finding lists. @default 5 */
  topFrames?: number;
  /** Fraction of the memory budget the pools may use before `live.memory-overcommit`. @default 1 */
  memoryBudgetFraction?: number;
}

/** Live finding codes `diagnose` produces (docs/doctor.md has the evidence and fix of each). */
export const LIVE_FINDING_CODES = [
  'live.no-fpm-master',
  'live.untrusted-master',
  'live.accept-queue-overflow',
  'live.reload-overflow',
  'live.reload-kills-requests',
  'live.max-children-reached',
  'live.memory-overcommit',
  'live.slow-requests',
  'live.socket-permission-denied',
  'live.socket-missing',
  'live.status-misconfigured',
  'live.ondemand-cold-start',
] as const;
export type LiveFindingCode = (typeof LIVE_FINDING_CODES)[number];

/** Seconds `process_control_timeout` is set to when it is 0: long enough for most requests. */
const SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS = 10;
/** Child starts per pool in the log window above which ondemand spawning is worth a note. */
const ONDEMAND_SPAWNS_NOTABLE = 20;

interface ParsedLogs {
  nginx: NginxErrorEntry[];
  fpm: { master: SnapshotMaster; records: FpmLogRecord[] }[];
}

function inWindow(date: Date | undefined, since: Date | undefined): boolean {
  return since === undefined || date === undefined || date.getTime() >= since.getTime();
}

function parseLogs(snapshot: HostSnapshot): ParsedLogs {
  const opts = { utcOffsetMinutes: snapshot.utcOffsetMinutes ?? 0 };
  const nginx: NginxErrorEntry[] = [];
  if (snapshot.nginxErrorLog.ok) {
    for (const r of parseNginxErrorLog(snapshot.nginxErrorLog.value.text, opts)) {
      if (r.kind === 'entry' && inWindow(r.date, snapshot.since)) nginx.push(r);
    }
  }
  const fpm = snapshot.masters.map((master) => ({
    master,
    records: master.errorLog.ok
      ? parseFpmLog(master.errorLog.value.text, opts).filter((r) =>
          inWindow(r.date, snapshot.since),
        )
      : [],
  }));
  return { nginx, fpm };
}

const second = (d: Date) => Math.floor(d.getTime() / 1000);

/** Whether `date` falls in the reload's seconds (logs print whole seconds), plus `slack` after. */
function inReload(date: Date, r: Reload, slackSeconds: number): boolean {
  const s = second(date);
  return (
    s >= second(r.startedAt) && s <= second(r.readyAt ?? r.execAt ?? r.startedAt) + slackSeconds
  );
}

/** A reload as FPM logged it: `Reloading in progress`, `reloading: execvp`, `ready`. */
interface Reload {
  startedAt: Date;
  execAt?: Date;
  readyAt?: Date;
}

function reloadsOf(records: FpmLogRecord[]): Reload[] {
  const out: Reload[] = [];
  let current: Reload | undefined;
  for (const r of records) {
    if (!r.date) continue;
    if (r.event.kind === 'reload_started') {
      current = { startedAt: r.date };
      out.push(current);
    } else if (current && r.event.kind === 'reload_exec') current.execAt = r.date;
    else if (current && r.event.kind === 'ready') {
      current.readyAt = r.date;
      current = undefined;
    }
  }
  return out;
}

function unixPath(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  if (address.startsWith('unix:')) return address.slice(5);
  return address.startsWith('/') ? address : undefined;
}

/** The pool an nginx upstream error is about: by socket path, else by `host:port`. */
function poolForUpstream(
  entry: NginxErrorEntry,
  pools: { master: SnapshotMaster; pool: SnapshotPool }[],
): { master: SnapshotMaster; pool: SnapshotPool } | undefined {
  const event = entry.event;
  const path = event.kind === 'upstream_error' ? event.socketPath : undefined;
  for (const p of pools) {
    const address = p.pool.config?.listen.address;
    if (address === undefined) continue;
    if (path !== undefined && unixPath(address) === path) return p;
    if (path === undefined && entry.upstream?.includes(address)) return p;
  }
  return undefined;
}

function iso(d: Date | undefined): string | undefined {
  return d?.toISOString();
}

function formatBytes(n: number): string {
  return `${Math.round(n / 1024 / 1024)} MiB`;
}

function renderFix(
  master: SnapshotMaster,
  changes: Map<string, { backlog?: number }>,
  processControlTimeoutSeconds: number | undefined,
): string | undefined {
  if (!master.config.ok) return undefined;
  const config = master.config.value;
  const next: FpmConfig = {
    ...config,
    global:
      processControlTimeoutSeconds === undefined
        ? config.global
        : { ...config.global, processControlTimeoutSeconds },
    pools: config.pools.map((p) => {
      const change = changes.get(p.name);
      return change?.backlog === undefined
        ? p
        : { ...p, listen: { ...p.listen, backlog: change.backlog } };
    }),
  };
  try {
    return renderFpmConfig(next);
  } catch {
    return undefined;
  }
}

/**
 * Reads a snapshot and says what is wrong: `checkStack`'s cross-layer findings when the
 * snapshot has the FPM configuration and kernel settings, the configuration's own findings,
 * and live findings from logs, queues, status pages and memory, each with its evidence and a
 * fix that names values (and, for the accept queue, the rendered files in `Report.files`).
 * Pure: it reads nothing but the snapshot.
 */
export function diagnose(snapshot: HostSnapshot, options: DiagnoseOptions = {}): Report {
  const slack = options.reloadSlackSeconds ?? 0;
  const killWindow = (options.reloadKillSeconds ?? 2) * 1000;
  const topN = options.topFrames ?? 5;
  const budgetFraction = options.memoryBudgetFraction ?? 1;
  const findings: Finding[] = [];
  const files: Record<string, string> = {};
  const missing = missingParts(snapshot);
  const kernel = snapshot.kernel.ok ? snapshot.kernel.value : undefined;
  const somaxconn = kernel?.somaxconn;

  if (snapshot.noFpm !== undefined && snapshot.masters.length === 0) {
    findings.push({
      code: 'live.no-fpm-master',
      severity: 'warning',
      message: `No PHP-FPM master was found: ${snapshot.noFpm}`,
      evidence: { reason: snapshot.noFpm },
      fix: 'Start php-fpm, or point the doctor at a configuration (--config FILE) or at saved evidence (--from DIR).',
    });
  }

  for (const u of snapshot.untrustedMasters ?? []) {
    const title = printable(u.configPath);
    findings.push({
      code: 'live.untrusted-master',
      severity: 'warning',
      message: `Ignored process ${u.pid}, titled "php-fpm: master process (${title})": ${printable(u.reason)}. It was not taken for a PHP-FPM master, so the files and sockets its title and configuration name were neither read nor contacted`,
      evidence: {
        pid: u.pid,
        configPath: title,
        ...(u.uids === undefined ? {} : { uids: u.uids }),
        ...(u.executable === undefined ? {} : { executable: printable(u.executable) }),
        reason: printable(u.reason),
      },
      fix: `Find out what process ${u.pid} is (ps -o user,pid,ppid,args -p ${u.pid}): any user can give a process this title. If it is a real FPM master, run fpmkit as root or as the user FPM runs as, from a php-fpm binary owned by root and writable only by root.`,
    });
  }

  for (const master of snapshot.masters) {
    findings.push(...master.configFindings);
    if (master.config.ok && kernel) {
      try {
        findings.push(...checkStack({ fpm: master.config.value, kernel }));
      } catch (error) {
        missing.push({
          part: `checkStack(${master.configPath})`,
          reason: (error as Error)?.message ?? String(error),
        });
      }
    }
  }

  const logs = parseLogs(snapshot);
  const pools = snapshot.masters.flatMap((master) =>
    master.pools.map((pool) => ({ master, pool })),
  );

  // Upstream errors by class and pool.
  type Bucket = { entries: NginxErrorEntry[] };
  const byPool = new Map<SnapshotPool | undefined, Map<string, Bucket>>();
  for (const e of logs.nginx) {
    if (e.event.kind !== 'upstream_error') continue;
    const target = poolForUpstream(e, pools)?.pool;
    const classes = byPool.get(target) ?? new Map<string, Bucket>();
    byPool.set(target, classes);
    const bucket = classes.get(e.event.class) ?? { entries: [] };
    classes.set(e.event.class, bucket);
    bucket.entries.push(e);
  }

  const reloadsByMaster = new Map<SnapshotMaster, Reload[]>();
  for (const { master, records } of logs.fpm) reloadsByMaster.set(master, reloadsOf(records));

  const backlogChanges = new Map<SnapshotMaster, Map<string, { backlog?: number }>>();
  let suggestedSomaxconn: number | undefined;
  let suggestedPct: number | undefined;

  for (const [pool, classes] of byPool) {
    const owner = pools.find((p) => p.pool === pool);
    const master = owner?.master;
    const eagain = classes.get('backlog_full')?.entries ?? [];
    if (eagain.length > 0) {
      const listenBacklog = pool?.config?.listen.backlog;
      const knownSomaxconn = somaxconn ?? DEFAULT_SOMAXCONN;
      const effective = effectiveBacklog({
        ...(listenBacklog === undefined ? {} : { listenBacklog }),
        somaxconn: knownSomaxconn,
      });
      const capacity = effective + 1;
      const reloads = master ? (reloadsByMaster.get(master) ?? []) : [];
      const duringReload = eagain.filter((e) => reloads.some((r) => inReload(e.date, r, slack)));
      const perSecond = new Map<number, number>();
      for (const e of eagain) {
        const s = Math.floor(e.date.getTime() / 1000);
        perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      }
      const worstSecond = Math.max(...perSecond.values());
      // The queue must hold what it held when full plus what was refused in the worst second.
      const backlog = Math.max(
        DEFAULT_MIN_BACKLOG,
        2 ** Math.ceil(Math.log2(capacity + worstSecond + 1)) - 1,
      );
      const nextSomaxconn = Math.max(backlog, somaxconn ?? 0);
      suggestedSomaxconn = Math.max(suggestedSomaxconn ?? 0, nextSomaxconn);
      const processControl = master?.config.ok
        ? master.config.value.global.processControlTimeoutSeconds
        : undefined;
      if (master && (processControl === undefined || processControl === 0))
        suggestedPct = SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS;
      if (master && pool) {
        const m = backlogChanges.get(master) ?? new Map<string, { backlog?: number }>();
        backlogChanges.set(master, m);
        m.set(pool.name, { backlog });
      }
      const queueNow = pool?.queue.ok ? pool.queue.value.queued : undefined;
      const observedPeak = pool?.queuePeak ?? queueNow;
      const socketPath =
        eagain[0]?.event.kind === 'upstream_error' ? eagain[0].event.socketPath : undefined;
      findings.push({
        code: 'live.accept-queue-overflow',
        severity: 'error',
        message:
          `nginx was refused ${eagain.length} connection(s) with EAGAIN (11: Resource temporarily unavailable)` +
          `${pool ? ` by pool ${pool.name}` : ''}: its accept queue (capacity ${capacity} = effective backlog ${effective} + 1) was full` +
          (duringReload.length > 0 ? `, ${duringReload.length} of them during a reload` : ''),
        ...(pool ? { pool: pool.name } : {}),
        directive: 'listen.backlog',
        ...(master ? { file: master.configPath } : {}),
        evidence: {
          eagainCount: eagain.length,
          eagainDuringReload: duringReload.length,
          firstAt: iso(eagain[0]?.date),
          lastAt: iso(eagain[eagain.length - 1]?.date),
          worstSecondCount: worstSecond,
          ...(socketPath === undefined ? {} : { socketPath }),
          listenBacklog: listenBacklog ?? FPM_DEFAULT_LISTEN_BACKLOG,
          somaxconn: knownSomaxconn,
          somaxconnKnown: somaxconn !== undefined,
          effectiveBacklog: effective,
          queueCapacity: capacity,
          // EAGAIN is only returned when the queue is full, so it peaked at its capacity.
          queuePeak: Math.max(capacity, observedPeak ?? 0),
          queuePeakSource:
            observedPeak !== undefined && observedPeak >= capacity ? 'proc' : 'eagain',
          ...(observedPeak === undefined ? {} : { queuePeakObserved: observedPeak }),
          ...(queueNow === undefined ? {} : { queueNow }),
          reloadTimes: reloads.map((r) => iso(r.startedAt)),
          suggested: {
            listenBacklog: backlog,
            somaxconn: nextSomaxconn,
            rule: `the next 2^n - 1 above capacity ${capacity} + ${worstSecond} refused in the worst second, at least ${DEFAULT_MIN_BACKLOG}; somaxconn at least the backlog`,
          },
        },
        fix:
          `Set listen.backlog = ${backlog}${pool ? ` in pool ${pool.name}` : ''} and ${somaxconn !== undefined && nextSomaxconn === somaxconn ? `keep net.core.somaxconn = ${nextSomaxconn}` : `net.core.somaxconn = ${nextSomaxconn}`}` +
          ' (the kernel caps the backlog at somaxconn), then restart FPM (a reload keeps the old socket).' +
          (suggestedPct !== undefined
            ? ` Set process_control_timeout = ${suggestedPct}s so reloads let requests finish.`
            : '') +
          ' The rendered files are in the report.',
      });
      if (duringReload.length > 0) {
        findings.push({
          code: 'live.reload-overflow',
          severity: 'error',
          message: `${duringReload.length} connection(s) were refused while FPM reloaded (${reloads.length} reload(s) in the log): no worker accepts during a reload, so the queue fills`,
          ...(pool ? { pool: pool.name } : {}),
          ...(master ? { file: master.configPath } : {}),
          evidence: {
            eagainDuringReload: duringReload.length,
            eagainTimes: [...new Set(duringReload.map((e) => iso(e.date)))],
            reloads: reloads.map((r) => ({
              startedAt: iso(r.startedAt),
              execAt: iso(r.execAt),
              readyAt: iso(r.readyAt),
            })),
            queueCapacity: capacity,
          },
          fix: `Give the queue room for a reload's arrivals (listen.backlog = ${backlog}, net.core.somaxconn = ${nextSomaxconn}), reload less often (logrotate: use SIGUSR1 to reopen logs instead of SIGUSR2), and set process_control_timeout above the longest request.`,
        });
      }
    }
    const perm = classes.get('permission_denied')?.entries ?? [];
    if (perm.length > 0) {
      const path = perm[0]?.event.kind === 'upstream_error' ? perm[0].event.socketPath : undefined;
      findings.push({
        code: 'live.socket-permission-denied',
        severity: 'error',
        message: `nginx may not connect to ${path ?? 'the FPM socket'} (13: Permission denied), ${perm.length} time(s)`,
        ...(pool ? { pool: pool.name } : {}),
        directive: 'listen.mode',
        evidence: {
          count: perm.length,
          ...(path === undefined ? {} : { socketPath: path }),
          listenOwner: pool?.config?.listen.owner,
          listenGroup: pool?.config?.listen.group,
          listenMode: pool?.config?.listen.mode?.toString(8),
          firstAt: iso(perm[0]?.date),
        },
        fix: 'Set listen.owner and listen.group to the web server user (e.g. www-data), listen.mode = 0660, and restart FPM so the socket is created again.',
      });
    }
    const gone = classes.get('socket_missing')?.entries ?? [];
    if (gone.length > 0) {
      const path = gone[0]?.event.kind === 'upstream_error' ? gone[0].event.socketPath : undefined;
      findings.push({
        code: 'live.socket-missing',
        severity: 'error',
        message: `nginx found no socket at ${path ?? 'the upstream path'} (2: No such file or directory), ${gone.length} time(s)`,
        ...(pool ? { pool: pool.name } : {}),
        directive: 'listen',
        evidence: {
          count: gone.length,
          ...(path === undefined ? {} : { socketPath: path }),
          configuredListen: pool?.config?.listen.address,
          listening:
            path !== undefined && snapshot.unixQueues.ok
              ? snapshot.unixQueues.value.some((q) => q.path === path)
              : undefined,
          firstAt: iso(gone[0]?.date),
          lastAt: iso(gone[gone.length - 1]?.date),
        },
        fix: pool
          ? `Start FPM, and make nginx's fastcgi_pass and the pool's listen (${pool.config?.listen.address ?? 'unset'}) name the same path.`
          : `No configured pool listens on ${path ?? 'that path'}: point fastcgi_pass at a pool's listen address, or add a pool listening there.`,
      });
    }
  }

  for (const [master, changes] of backlogChanges) {
    const text = renderFix(master, changes, suggestedPct);
    if (text !== undefined) files[`php-fpm.conf (${master.configPath})`] = text;
  }
  if (suggestedSomaxconn !== undefined) {
    files['sysctl.d/60-php-fpm.conf'] = renderSysctlConf({ somaxconn: suggestedSomaxconn });
  }

  for (const { master, records } of logs.fpm) {
    const reloads = reloadsByMaster.get(master) ?? [];
    const pct = master.config.ok
      ? master.config.value.global.processControlTimeoutSeconds
      : undefined;
    // FPM sends SIGQUIT on reload and, with process_control_timeout = 0, never waits: busy
    // children are ended by SIGTERM at once. FPM logs those exits at DEBUG only during a
    // reload, so nginx's resets in the reload's seconds are the evidence at the default level.
    const killed = records.filter(
      (r) =>
        r.event.kind === 'child_exited' &&
        r.event.signal === 15 &&
        r.date !== undefined &&
        reloads.some(
          (rl) =>
            r.date!.getTime() >= rl.startedAt.getTime() &&
            r.date!.getTime() <= rl.startedAt.getTime() + killWindow,
        ),
    );
    const mine = (e: NginxErrorEntry) => {
      const p = poolForUpstream(e, pools);
      return p ? p.master === master : snapshot.masters.length === 1;
    };
    const resets = logs.nginx.filter(
      (e) =>
        e.event.kind === 'upstream_error' &&
        (e.event.class === 'connection_reset' || e.event.class === 'premature_close') &&
        mine(e) &&
        reloads.some((rl) => inReload(e.date, rl, killWindow / 1000)),
    );
    if ((killed.length > 0 || resets.length > 0) && (pct === undefined || pct === 0)) {
      findings.push({
        code: 'live.reload-kills-requests',
        severity: 'error',
        message: `Requests were cut off by a reload (${killed.length} child(ren) ended by SIGTERM in FPM's log, ${resets.length} reset or closed upstream connection(s) in nginx's): process_control_timeout is ${pct ?? 'unset (0)'}, so FPM does not wait for running requests`,
        directive: 'process_control_timeout',
        file: master.configPath,
        evidence: {
          killedChildren: killed.map((r) =>
            r.event.kind === 'child_exited' ? r.event.childPid : 0,
          ),
          resetRequests: resets.map((e) => e.request ?? ''),
          resetAt: [...new Set(resets.map((e) => iso(e.date)))],
          reloadTimes: reloads.map((r) => iso(r.startedAt)),
          processControlTimeoutSeconds: pct ?? 0,
        },
        fix: `Set process_control_timeout = ${SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS}s in [global] (at least the longest request), so a reload lets running requests finish.`,
      });
    }

    const maxReached = records.filter((r) => r.event.kind === 'max_children_reached');
    const poolsHit = new Map<string, number>();
    for (const r of maxReached) poolsHit.set(r.pool ?? '', (poolsHit.get(r.pool ?? '') ?? 0) + 1);
    for (const pool of master.pools) {
      const fromStatus = pool.status.ok ? pool.status.value.maxChildrenReached : 0;
      const fromLog = poolsHit.get(pool.name) ?? 0;
      if (fromStatus === 0 && fromLog === 0) continue;
      const max = pool.config?.pm.maxChildren;
      findings.push({
        code: 'live.max-children-reached',
        severity: 'warning',
        message: `Pool ${pool.name} ran out of children (pm.max_children = ${max ?? '?'}) ${Math.max(fromLog, fromStatus)} time(s): requests waited in the accept queue`,
        pool: pool.name,
        directive: 'pm.max_children',
        file: master.configPath,
        evidence: {
          logEvents: fromLog,
          statusMaxChildrenReached: fromStatus,
          maxChildren: max,
          ...(pool.status.ok ? { maxActiveProcesses: pool.status.value.maxActiveProcesses } : {}),
        },
        fix: `Raise pm.max_children${max !== undefined ? ` above ${max}` : ''} if memory allows (children x worker size must fit the budget), or make requests faster.`,
      });
    }
    for (const [name, count] of poolsHit) {
      if (master.pools.some((p) => p.name === name)) continue;
      findings.push({
        code: 'live.max-children-reached',
        severity: 'warning',
        message: `Pool ${name || '(unnamed)'} reached pm.max_children ${count} time(s) in the FPM log`,
        ...(name ? { pool: name } : {}),
        directive: 'pm.max_children',
        evidence: { logEvents: count },
        fix: 'Raise pm.max_children if memory allows, or make requests faster.',
      });
    }

    for (const pool of master.pools) {
      if (pool.config?.pm.mode !== 'ondemand') continue;
      const starts = records.filter(
        (r) =>
          r.pool === pool.name &&
          (r.event.kind === 'child_started' || r.event.kind === 'child_reaped'),
      ).length;
      const busy = poolsHit.get(pool.name) ?? 0;
      if (starts < ONDEMAND_SPAWNS_NOTABLE && busy === 0) continue;
      findings.push({
        code: 'live.ondemand-cold-start',
        severity: 'info',
        message:
          starts >= ONDEMAND_SPAWNS_NOTABLE
            ? `Pool ${pool.name} (pm = ondemand) started or reaped children ${starts} time(s) in the log window: requests pay for forking a fresh worker and a cold opcache`
            : `Pool ${pool.name} (pm = ondemand) reached its ${pool.config.pm.maxChildren ?? '?'} children ${busy} time(s): with ondemand every burst waits for forks, and the pool shrinks again after pm.process_idle_timeout`,
        pool: pool.name,
        directive: 'pm',
        file: master.configPath,
        evidence: {
          childStartsAndReaps: starts,
          processIdleTimeoutSeconds:
            pool.config.pm.processIdleTimeoutSeconds ?? FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
          maxChildrenReached: busy,
        },
        fix: 'Use pm = dynamic with pm.start_servers and pm.min_spare_servers at the usual concurrency, or raise pm.process_idle_timeout (e.g. 60s) so children survive between bursts.',
      });
    }

    for (const pool of master.pools) {
      const configured = pool.config?.pm.statusPath;
      if (configured === undefined || pool.status.ok) continue;
      if (pool.status.code !== 'FPMKIT_STATUS_MISCONFIGURED') continue;
      findings.push({
        code: 'live.status-misconfigured',
        severity: 'warning',
        message: `Pool ${pool.name}'s status page (${configured}) did not answer as a status page: ${pool.status.reason}`,
        pool: pool.name,
        directive: 'pm.status_path',
        file: master.configPath,
        evidence: { statusPath: configured, reason: pool.status.reason },
        fix: 'Request exactly pm.status_path (no .php, no trailing slash) and route it to FPM without try_files; keep security.limit_extensions as it is.',
      });
    }

    for (const pool of master.pools) {
      if (!pool.slowlog.ok) continue;
      const entries = parseFpmSlowlog(pool.slowlog.value.text, {
        utcOffsetMinutes: snapshot.utcOffsetMinutes ?? 0,
      }).filter((r): r is SlowlogEntry => r.kind === 'entry' && inWindow(r.date, snapshot.since));
      if (entries.length === 0) continue;
      const frames = new Map<
        string,
        { function: string; file: string; line: number; count: number }
      >();
      const scripts = new Map<string, number>();
      for (const e of entries) {
        if (e.scriptFilename)
          scripts.set(e.scriptFilename, (scripts.get(e.scriptFilename) ?? 0) + 1);
        const seen = new Set<string>();
        for (const f of e.frames) {
          const key = `${f.function} ${f.file}:${f.line}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const slot = frames.get(key) ?? {
            function: f.function,
            file: f.file,
            line: f.line,
            count: 0,
          };
          slot.count++;
          frames.set(key, slot);
        }
      }
      const top = [...frames.values()].sort((a, b) => b.count - a.count).slice(0, topN);
      const lead = top[0];
      findings.push({
        code: 'live.slow-requests',
        severity: 'warning',
        message: `Pool ${pool.name} logged ${entries.length} slow request(s)${lead ? `; the most frequent frame is ${lead.function}() at ${lead.file}:${lead.line} (${lead.count})` : ''}`,
        pool: pool.name,
        directive: 'request_slowlog_timeout',
        file: master.configPath,
        evidence: {
          count: entries.length,
          topFrames: top,
          topScripts: [...scripts.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, topN)
            .map(([script, count]) => ({ script, count })),
          slowlogPath: pool.slowlog.value.path,
        },
        fix: `Look at the frames above: they are where the slow requests wait (a database call, a remote HTTP call, sleep). Keep request_terminate_timeout above the slowest legitimate request.`,
      });
    }
  }

  // Memory: every pool at pm.max_children with workers the size they are now.
  const budget = memoryBudgetOf(snapshot);
  if (budget !== undefined) {
    let demand = 0;
    const parts: { pool: string; maxChildren: number; workerBytes: number }[] = [];
    for (const { pool } of pools) {
      const max = pool.config?.pm.maxChildren;
      if (max === undefined || !pool.workerMemory.ok || pool.workerMemory.value.count === 0)
        continue;
      const worker = pool.workerMemory.value.maxBytes;
      demand += max * worker;
      parts.push({ pool: pool.name, maxChildren: max, workerBytes: worker });
    }
    if (parts.length > 0 && demand > budget.bytes * budgetFraction) {
      findings.push({
        code: 'live.memory-overcommit',
        severity: 'error',
        message: `At pm.max_children the pools would use ${formatBytes(demand)}, more than the ${formatBytes(budget.bytes)} ${budget.source} allows: under load the OOM killer or swap ends it`,
        directive: 'pm.max_children',
        evidence: {
          demandBytes: demand,
          budgetBytes: budget.bytes,
          budgetSource: budget.source,
          pools: parts,
        },
        fix: parts
          .map(
            (p) =>
              `pool ${p.pool}: pm.max_children = ${Math.max(1, Math.floor((budget.bytes * budgetFraction * (p.maxChildren * p.workerBytes)) / demand / p.workerBytes))}`,
          )
          .join('; '),
      });
    }
  }

  const sorted = sortFindings(findings);
  const count = (s: Finding['severity']) => sorted.filter((f) => f.severity === s).length;
  const poolCount = pools.length;
  const noFpm = snapshot.noFpm !== undefined && snapshot.masters.length === 0;
  const text = noFpm
    ? `No PHP-FPM master was found (${snapshot.noFpm}).`
    : `${snapshot.masters.length} FPM master(s), ${poolCount} pool(s): ${count('error')} error(s), ${count('warning')} warning(s), ${count('info')} note(s)${hasErrors(sorted) ? '' : '; no errors'}.`;
  return {
    findings: sorted,
    summary: {
      errors: count('error'),
      warnings: count('warning'),
      infos: count('info'),
      masters: snapshot.masters.length,
      pools: poolCount,
      text,
    },
    missing,
    noFpm,
    files,
  };
}

/**
 * `text` with control characters written as `\xNN`: a process title is chosen by whoever
 * started the process and can hold terminal escape sequences.
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

function memoryBudgetOf(snapshot: HostSnapshot): { bytes: number; source: string } | undefined {
  const total = snapshot.meminfo.ok ? snapshot.meminfo.value.totalBytes : undefined;
  const cg = snapshot.cgroup.ok ? snapshot.cgroup.value : null;
  const limit = cg && cg.limitBytes !== 'unlimited' ? cg.limitBytes : undefined;
  if (limit !== undefined && (total === undefined || limit < total))
    return { bytes: limit, source: `the cgroup limit (${cg?.path})` };
  if (total !== undefined) return { bytes: total, source: 'MemTotal' };
  return undefined;
}

function missingParts(snapshot: HostSnapshot): MissingPart[] {
  const out: MissingPart[] = [];
  const note = (part: string, p: SnapshotPart<unknown>) => {
    if (!p.ok) out.push({ part, reason: p.reason });
  };
  note('unix accept queues', snapshot.unixQueues);
  note('tcp accept queues', snapshot.tcpQueues);
  note('netstat', snapshot.netstat);
  note('sysctl', snapshot.kernel);
  note('meminfo', snapshot.meminfo);
  note('cgroup', snapshot.cgroup);
  note('nginx error log', snapshot.nginxErrorLog);
  const shared = new Set(
    [snapshot.unixQueues, snapshot.tcpQueues].flatMap((p) => (p.ok ? [] : [p.reason])),
  );
  for (const m of snapshot.masters) {
    const who = m.pid === undefined ? m.configPath : `master ${m.pid}`;
    note(`${who}: config`, m.config);
    note(`${who}: error log`, m.errorLog);
    // One entry per aspect and reason, naming the pools it applies to.
    const grouped = new Map<string, { aspect: string; reason: string; pools: string[] }>();
    for (const p of m.pools) {
      const aspects: [string, SnapshotPart<unknown>][] = [
        ['status', p.status],
        ['queue', p.queue],
        ['slowlog', p.slowlog],
        ['worker memory', p.workerMemory],
      ];
      for (const [aspect, part] of aspects) {
        if (part.ok || (aspect === 'queue' && shared.has(part.reason))) continue;
        const key = `${aspect}\u0000${part.reason}`;
        const g = grouped.get(key) ?? { aspect, reason: part.reason, pools: [] };
        g.pools.push(p.name);
        grouped.set(key, g);
      }
    }
    for (const g of grouped.values())
      out.push({ part: `${who}: ${g.aspect} of pool ${g.pools.join(', ')}`, reason: g.reason });
  }
  return out;
}
