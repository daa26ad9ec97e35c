/**
 * What every live check reads, built once per `diagnose` call: the snapshot, the options with
 * their defaults, the parsed logs, the pools with their masters, nginx's upstream errors by pool
 * and class, and FPM's reloads. Checks add findings, missing parts and fix suggestions to it.
 */
import type { Finding } from '../../findings.js';
import type { FindingBody, FindingCode } from '../../findings-catalog.js';
import { catalogFinding } from '../../findings-catalog.js';
import { type ListenAddress, parseListen } from '../../fpm/listen.js';
import type { KernelSettings } from '../../kernel/settings.js';
import { type FpmLogRecord, parseFpmLog } from '../../logs/fpm-log.js';
import { classifyNginxErrorLine } from '../../logs/nginx-error-classify.js';
import {
  type NginxErrorEntry,
  type NginxErrorLineClass,
  parseNginxErrorLog,
  UPSTREAM_ERROR_CLASSES,
} from '../../logs/nginx-error-log.js';
import type { HostSnapshot, SnapshotMaster, SnapshotPart, SnapshotPool } from '../snapshot.js';

/** Options of `diagnose`. */
export interface DiagnoseOptions {
  /**
   * Whole seconds after a reload's `ready to handle connections` within which a refused
   * connection still counts as refused during the reload. Both logs print whole seconds, so
   * the comparison is by second. @default 0
   */
  reloadSlackSeconds?: number | undefined;
  /** Seconds after a reload within which a child killed by SIGTERM counts as killed by it. @default 2 */
  reloadKillSeconds?: number | undefined;
  /** How many stack frames the slow-request finding lists. @default 5 */
  topFrames?: number | undefined;
  /** Fraction of the memory budget the pools may use before `live.memory-overcommit`. @default 1 */
  memoryBudgetFraction?: number | undefined;
}

/** A part of the snapshot that could not be read (or a step that failed), for the report. */
export interface MissingPart {
  part: string;
  reason: string;
}

/** A reload as FPM logged it: `Reloading in progress`, `reloading: execvp`, `ready`. */
export interface Reload {
  startedAt: Date;
  execAt?: Date;
  readyAt?: Date;
}

/** A pool with the master it belongs to. */
export interface PoolOfMaster {
  master: SnapshotMaster;
  pool: SnapshotPool;
}

/** The nginx upstream errors of one pool (or of no known pool), by error class. */
export interface UpstreamErrors {
  pool: SnapshotPool | undefined;
  master: SnapshotMaster | undefined;
  byClass: Map<string, NginxErrorEntry[]>;
}

/** Changes the fixes suggest, rendered into `Report.files` after the checks ran. */
export interface SuggestedChanges {
  /** New `listen.backlog` per pool name, per master. */
  backlogs: Map<SnapshotMaster, Map<string, number>>;
  somaxconn: number | undefined;
  processControlTimeoutSeconds: number | undefined;
}

/** The context every live check runs over. */
export interface LiveContext {
  snapshot: HostSnapshot;
  options: { [K in keyof DiagnoseOptions]-?: NonNullable<DiagnoseOptions[K]> };
  kernel: KernelSettings | undefined;
  /** nginx's upstream errors of a named class inside the snapshot's time window. */
  nginx: NginxErrorEntry[];
  /** Each master with its FPM log records inside the window. */
  fpmLogs: { master: SnapshotMaster; records: FpmLogRecord[] }[];
  pools: PoolOfMaster[];
  reloads: Map<SnapshotMaster, Reload[]>;
  upstream: UpstreamErrors[];
  findings: Finding<FindingCode>[];
  missing: MissingPart[];
  files: Record<string, string>;
  suggested: SuggestedChanges;
}

/** Adds a finding with the catalog's severity for its code. */
export function report(ctx: LiveContext, code: FindingCode, body: FindingBody): void {
  ctx.findings.push(catalogFinding(code, body));
}

export function inWindow(date: Date | undefined, since: Date | undefined): boolean {
  return since === undefined || date === undefined || date.getTime() >= since.getTime();
}

const second = (d: Date) => Math.floor(d.getTime() / 1000);

/** Whether `date` falls in the reload's seconds (logs print whole seconds), plus `slack` after. */
export function inReload(date: Date, r: Reload, slackSeconds: number): boolean {
  const s = second(date);
  return (
    s >= second(r.startedAt) && s <= second(r.readyAt ?? r.execAt ?? r.startedAt) + slackSeconds
  );
}

export function iso(d: Date | undefined): string | undefined {
  return d?.toISOString();
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

/**
 * The pool's `listen` as FPM reads it (a relative path resolved against an absolute pool
 * `prefix`), or undefined when it has none FPM would accept.
 */
function listenOf(pool: SnapshotPool): ListenAddress | undefined {
  const address = pool.config?.listen.address;
  if (address === undefined || address === '') return undefined;
  const prefix = pool.config?.prefix;
  try {
    return parseListen(address, prefix?.startsWith('/') ? { prefix } : {});
  } catch {
    return undefined;
  }
}

/** The pool an nginx upstream error is about: by socket path, else by `host:port`. */
export function poolForUpstream(
  entry: NginxErrorEntry,
  pools: readonly PoolOfMaster[],
): PoolOfMaster | undefined {
  const event = entry.event;
  const path = event.kind === 'upstream_error' ? event.socketPath : undefined;
  for (const p of pools) {
    const address = p.pool.config?.listen.address;
    if (address === undefined) continue;
    if (path !== undefined) {
      const listen = listenOf(p.pool);
      if (listen?.kind === 'unix' && listen.path === path) return p;
    } else if (entry.upstream?.includes(address)) return p;
  }
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

/** The nginx lines the checks read: upstream errors of a named class. */
const CHECKED_CLASSES: ReadonlySet<NginxErrorLineClass | undefined> = new Set(
  UPSTREAM_ERROR_CLASSES.filter((c) => c !== 'other'),
);

/**
 * The upstream errors of nginx's log window: each line is classified by the quick test first,
 * and only the lines the checks read are parsed whole.
 */
function nginxUpstreamErrors(text: string, snapshot: HostSnapshot): NginxErrorEntry[] {
  const opts = { utcOffsetMinutes: snapshot.utcOffsetMinutes ?? 0 };
  const out: NginxErrorEntry[] = [];
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    at = nl + 1;
    if (!CHECKED_CLASSES.has(classifyNginxErrorLine(line))) continue;
    const [r] = parseNginxErrorLog(line, opts);
    if (r?.kind === 'entry' && inWindow(r.date, snapshot.since)) out.push(r);
  }
  return out;
}

function parseLogs(snapshot: HostSnapshot): Pick<LiveContext, 'nginx' | 'fpmLogs'> {
  const opts = { utcOffsetMinutes: snapshot.utcOffsetMinutes ?? 0 };
  const nginx = snapshot.nginxErrorLog.ok
    ? nginxUpstreamErrors(snapshot.nginxErrorLog.value.text, snapshot)
    : [];
  const fpmLogs = snapshot.masters.map((master) => ({
    master,
    records: master.errorLog.ok
      ? parseFpmLog(master.errorLog.value.text, opts).filter((r) =>
          inWindow(r.date, snapshot.since),
        )
      : [],
  }));
  return { nginx, fpmLogs };
}

/** nginx's upstream errors grouped by the pool they concern, then by class, in log order. */
function upstreamErrors(nginx: NginxErrorEntry[], pools: PoolOfMaster[]): UpstreamErrors[] {
  const byPool = new Map<SnapshotPool | undefined, UpstreamErrors>();
  for (const e of nginx) {
    if (e.event.kind !== 'upstream_error') continue;
    const owner = poolForUpstream(e, pools);
    const target = owner?.pool;
    let group = byPool.get(target);
    if (group === undefined) {
      group = { pool: target, master: owner?.master, byClass: new Map() };
      byPool.set(target, group);
    }
    const list = group.byClass.get(e.event.class) ?? [];
    group.byClass.set(e.event.class, list);
    list.push(e);
  }
  return [...byPool.values()];
}

/** Builds the context once: parses the logs and groups the evidence every check shares. */
export function liveContext(snapshot: HostSnapshot, options: DiagnoseOptions): LiveContext {
  const logs = parseLogs(snapshot);
  const pools = snapshot.masters.flatMap((master) =>
    master.pools.map((pool) => ({ master, pool })),
  );
  const reloads = new Map<SnapshotMaster, Reload[]>();
  for (const { master, records } of logs.fpmLogs) reloads.set(master, reloadsOf(records));
  return {
    snapshot,
    options: {
      reloadSlackSeconds: options.reloadSlackSeconds ?? 0,
      reloadKillSeconds: options.reloadKillSeconds ?? 2,
      topFrames: options.topFrames ?? 5,
      memoryBudgetFraction: options.memoryBudgetFraction ?? 1,
    },
    kernel: snapshot.kernel.ok ? snapshot.kernel.value : undefined,
    ...logs,
    pools,
    reloads,
    upstream: upstreamErrors(logs.nginx, pools),
    findings: [],
    missing: missingParts(snapshot),
    files: {},
    suggested: {
      backlogs: new Map(),
      somaxconn: undefined,
      processControlTimeoutSeconds: undefined,
    },
  };
}
