import { FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS } from '../../defaults.js';
/**
 * Checks over one master's evidence: its error log (reloads, children, ondemand spawning), its
 * pools' status pages and slowlogs.
 */
import type { FpmLogRecord } from '../../logs/fpm-log.js';
import { parseFpmSlowlog, type SlowlogEntry } from '../../logs/fpm-slowlog.js';
import type { NginxErrorEntry } from '../../logs/nginx-error-log.js';
import type { SnapshotMaster } from '../snapshot.js';
import { inReload, inWindow, iso, type LiveContext, poolForUpstream, report } from './context.js';
import { SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS } from './upstream.js';

/** Child starts per pool in the log window above which ondemand spawning is worth a note. */
const ONDEMAND_SPAWNS_NOTABLE = 20;

/** One master with its log records, as the checks below take it. */
export interface MasterEvidence {
  master: SnapshotMaster;
  records: FpmLogRecord[];
}

/** How often each pool hit `pm.max_children` in the master's log. */
function maxChildrenHits(records: FpmLogRecord[]): Map<string, number> {
  const hits = new Map<string, number>();
  for (const r of records) {
    if (r.event.kind !== 'max_children_reached') continue;
    hits.set(r.pool ?? '', (hits.get(r.pool ?? '') ?? 0) + 1);
  }
  return hits;
}

/**
 * `live.reload-kills-requests`: FPM sends SIGQUIT on reload and, with process_control_timeout
 * = 0, never waits: busy children are ended by SIGTERM at once. FPM logs those exits at DEBUG
 * only during a reload, so nginx's resets in the reload's seconds are the evidence at the
 * default level.
 */
export function reloadKillsRequests(ctx: LiveContext, { master, records }: MasterEvidence): void {
  const reloads = ctx.reloads.get(master) ?? [];
  const pct = master.config.ok
    ? master.config.value.global.processControlTimeoutSeconds
    : undefined;
  if (pct !== undefined && pct !== 0) return;
  const killWindow = ctx.options.reloadKillSeconds * 1000;
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
    const p = poolForUpstream(e, ctx.pools);
    return p ? p.master === master : ctx.snapshot.masters.length === 1;
  };
  const resets = ctx.nginx.filter(
    (e) =>
      e.event.kind === 'upstream_error' &&
      (e.event.class === 'connection_reset' || e.event.class === 'premature_close') &&
      mine(e) &&
      reloads.some((rl) => inReload(e.date, rl, killWindow / 1000)),
  );
  if (killed.length === 0 && resets.length === 0) return;
  report(ctx, 'live.reload-kills-requests', {
    message: `Requests were cut off by a reload (${killed.length} child(ren) ended by SIGTERM in FPM's log, ${resets.length} reset or closed upstream connection(s) in nginx's): process_control_timeout is ${pct ?? 'unset (0)'}, so FPM does not wait for running requests`,
    directive: 'process_control_timeout',
    file: master.configPath,
    evidence: {
      killedChildren: killed.map((r) => (r.event.kind === 'child_exited' ? r.event.childPid : 0)),
      resetRequests: resets.map((e) => e.request ?? ''),
      resetAt: [...new Set(resets.map((e) => iso(e.date)))],
      reloadTimes: reloads.map((r) => iso(r.startedAt)),
      processControlTimeoutSeconds: pct ?? 0,
    },
    fix: `Set process_control_timeout = ${SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS}s in [global] (at least the longest request), so a reload lets running requests finish.`,
  });
}

/** `live.max-children-reached`: from the log and from the status pages. */
export function maxChildrenReached(ctx: LiveContext, { master, records }: MasterEvidence): void {
  const poolsHit = maxChildrenHits(records);
  for (const pool of master.pools) {
    const fromStatus = pool.status.ok ? pool.status.value.maxChildrenReached : 0;
    const fromLog = poolsHit.get(pool.name) ?? 0;
    if (fromStatus === 0 && fromLog === 0) continue;
    const max = pool.config?.pm.maxChildren;
    report(ctx, 'live.max-children-reached', {
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
    report(ctx, 'live.max-children-reached', {
      message: `Pool ${name || '(unnamed)'} reached pm.max_children ${count} time(s) in the FPM log`,
      ...(name ? { pool: name } : {}),
      directive: 'pm.max_children',
      evidence: { logEvents: count },
      fix: 'Raise pm.max_children if memory allows, or make requests faster.',
    });
  }
}

/** `live.ondemand-cold-start`: an ondemand pool keeps forking, or hit its limit. */
export function ondemandColdStart(ctx: LiveContext, { master, records }: MasterEvidence): void {
  const poolsHit = maxChildrenHits(records);
  for (const pool of master.pools) {
    if (pool.config?.pm.mode !== 'ondemand') continue;
    const starts = records.filter(
      (r) =>
        r.pool === pool.name &&
        (r.event.kind === 'child_started' || r.event.kind === 'child_reaped'),
    ).length;
    const busy = poolsHit.get(pool.name) ?? 0;
    if (starts < ONDEMAND_SPAWNS_NOTABLE && busy === 0) continue;
    report(ctx, 'live.ondemand-cold-start', {
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
}

/** `live.status-misconfigured`: `pm.status_path` is set but did not answer as a status page. */
export function statusMisconfigured(ctx: LiveContext, { master }: MasterEvidence): void {
  for (const pool of master.pools) {
    const configured = pool.config?.pm.statusPath;
    if (configured === undefined || pool.status.ok) continue;
    if (pool.status.code !== 'FPMKIT_STATUS_MISCONFIGURED') continue;
    report(ctx, 'live.status-misconfigured', {
      message: `Pool ${pool.name}'s status page (${configured}) did not answer as a status page: ${pool.status.reason}`,
      pool: pool.name,
      directive: 'pm.status_path',
      file: master.configPath,
      evidence: { statusPath: configured, reason: pool.status.reason },
      fix: 'Request exactly pm.status_path (no .php, no trailing slash) and route it to FPM without try_files; keep security.limit_extensions as it is.',
    });
  }
}

type FrameCount = { function: string; file: string; line: number; count: number };

/** The frames most entries share (each frame counted once per entry), and the scripts. */
function tally(entries: SlowlogEntry[], topN: number) {
  const frames = new Map<string, FrameCount>();
  const scripts = new Map<string, number>();
  for (const e of entries) {
    if (e.scriptFilename) scripts.set(e.scriptFilename, (scripts.get(e.scriptFilename) ?? 0) + 1);
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
  return {
    top: [...frames.values()].sort((a, b) => b.count - a.count).slice(0, topN),
    topScripts: [...scripts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([script, count]) => ({ script, count })),
  };
}

/** `live.slow-requests`: the pool's slowlog has entries in the window. */
export function slowRequests(ctx: LiveContext, { master }: MasterEvidence): void {
  const { snapshot } = ctx;
  for (const pool of master.pools) {
    if (!pool.slowlog.ok) continue;
    const entries = parseFpmSlowlog(pool.slowlog.value.text, {
      utcOffsetMinutes: snapshot.utcOffsetMinutes ?? 0,
    }).filter((r): r is SlowlogEntry => r.kind === 'entry' && inWindow(r.date, snapshot.since));
    if (entries.length === 0) continue;
    const { top, topScripts } = tally(entries, ctx.options.topFrames);
    const lead = top[0];
    report(ctx, 'live.slow-requests', {
      message: `Pool ${pool.name} logged ${entries.length} slow request(s)${lead ? `; the most frequent frame is ${lead.function}() at ${lead.file}:${lead.line} (${lead.count})` : ''}`,
      pool: pool.name,
      directive: 'request_slowlog_timeout',
      file: master.configPath,
      evidence: {
        count: entries.length,
        topFrames: top,
        topScripts,
        slowlogPath: pool.slowlog.value.path,
      },
      fix: `Look at the frames above: they are where the slow requests wait (a database call, a remote HTTP call, sleep). Keep request_terminate_timeout above the slowest legitimate request.`,
    });
  }
}
