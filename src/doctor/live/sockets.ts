/**
 * Checks over the pools' sockets as the kernel holds them now: the backlog in force against the
 * configured one, and a pool saturated at this moment.
 */
import { effectiveBacklog, FPM_DEFAULT_LISTEN_BACKLOG } from '../../kernel/backlog.js';
import type { SnapshotMaster, SnapshotPool } from '../snapshot.js';
import { type LiveContext, report } from './context.js';
import { applyWord, describePlace, fixPlace } from './where.js';

/** Status failures that mean the pool did not answer (not a pool without a status page). */
function statusUnavailable(pool: SnapshotPool): string | undefined {
  const s = pool.status;
  if (s.ok) return undefined;
  if (s.code === undefined && s.errno === undefined) return undefined;
  if (s.code === 'FPMKIT_STATUS_MISCONFIGURED') return undefined;
  if (s.code?.endsWith('_TIMEOUT')) return 'timeout';
  return s.errno ?? s.code;
}

/**
 * `live.backlog-drift`: the socket's backlog is not what the configuration now says. Not examined
 * without a somaxconn reading (the configured backlog depends on it). When the live backlog is
 * what the file gives under another somaxconn (the one in force when the socket was created),
 * the finding names a somaxconn change, which a restart applies, rather than a listen.backlog
 * edit.
 */
export function backlogDrift(ctx: LiveContext): void {
  const somaxconn = ctx.kernel?.somaxconn;
  let skipped = false;
  for (const { master, pool } of ctx.pools) {
    const live = pool.listener;
    if (!live?.ok || pool.config === undefined) continue;
    if (somaxconn === undefined) {
      if (!skipped)
        ctx.missing.push({
          part: 'live.backlog-drift',
          reason:
            'net.core.somaxconn was not read, so the backlog the configuration gives is unknown; the backlog in force was not compared with it',
        });
      skipped = true;
      continue;
    }
    const listenBacklog = pool.config.listen.backlog;
    const configured = effectiveBacklog({
      ...(listenBacklog === undefined ? {} : { listenBacklog }),
      somaxconn,
    });
    const liveBacklog = live.value.backlog;
    if (configured === liveBacklog) continue;
    // min(listen.backlog, s) equals the live backlog for some other somaxconn s.
    const asked = (listenBacklog ?? FPM_DEFAULT_LISTEN_BACKLOG) >>> 0;
    const somaxconnChanged = liveBacklog <= asked;
    const place = fixPlace(master, pool.name, 'listen.backlog');
    const changes = [{ section: pool.name, directive: 'listen.backlog' }];
    const settings = `${listenBacklog === undefined ? 'listen.backlog unset: somaxconn' : `listen.backlog = ${listenBacklog}`}, net.core.somaxconn = ${somaxconn}`;
    const message = somaxconnChanged
      ? `Pool ${pool.name}'s socket has backlog ${liveBacklog} in force (queue capacity ${liveBacklog + 1}), but the configuration gives ${configured} now (${settings}): net.core.somaxconn was ${liveBacklog === asked ? `at least ${liveBacklog}` : liveBacklog} when the socket was created${listenBacklog === undefined || liveBacklog === asked ? '' : ' (or listen.backlog was)'}, and a restart applies the current value`
      : `Pool ${pool.name}'s socket has backlog ${liveBacklog} in force (queue capacity ${liveBacklog + 1}), but the configuration gives ${configured} (${settings}): the setting changed since the socket was created, and a reload keeps the old socket`;
    report(ctx, 'live.backlog-drift', {
      message,
      pool: pool.name,
      directive: 'listen.backlog',
      file: place.file,
      ...(place.line === undefined ? {} : { line: place.line }),
      evidence: {
        liveBacklog,
        liveCapacity: liveBacklog + 1,
        configuredBacklog: configured,
        configuredCapacity: configured + 1,
        ...(listenBacklog === undefined ? {} : { listenBacklog }),
        somaxconn,
        cause: somaxconnChanged ? 'somaxconn-changed' : 'listen.backlog-changed',
        queuedNow: live.value.queued,
        source: 'ss -lnxt Send-Q',
        ...masterEvidence(master),
      },
      fix: somaxconnChanged
        ? `net.core.somaxconn (${somaxconn} now) caps the backlog when FPM creates the socket: ${applyWord(changes)} so pool ${pool.name} gets ${configured}.`
        : `The value at ${describePlace(place, pool.name)} is not in force yet: ${applyWord(changes)} to apply it.`,
    });
  }
}

function masterEvidence(master: SnapshotMaster) {
  return master.pid === undefined ? {} : { masterPid: master.pid };
}

/** The queue now and its capacity, from `ss` when read, else /proc and the configuration. */
function queueNow(
  ctx: LiveContext,
  pool: SnapshotPool,
): { queued: number; capacity: number | undefined; source: string } | undefined {
  if (pool.listener?.ok)
    return {
      queued: Math.max(pool.listener.value.queued, pool.queue.ok ? pool.queue.value.queued : 0),
      capacity: pool.listener.value.backlog + 1,
      source: 'ss',
    };
  if (!pool.queue.ok) return undefined;
  const somaxconn = ctx.kernel?.somaxconn;
  const listenBacklog = pool.config?.listen.backlog;
  return {
    queued: pool.queue.value.queued,
    capacity:
      somaxconn === undefined
        ? undefined
        : effectiveBacklog({
            ...(listenBacklog === undefined ? {} : { listenBacklog }),
            somaxconn,
          }) + 1,
    source: '/proc/net',
  };
}

/**
 * `live.saturated-now`: the status page did not answer while connections waited in the
 * kernel's queue, or the queue is full.
 */
export function saturatedNow(ctx: LiveContext): void {
  for (const { master, pool } of ctx.pools) {
    const q = queueNow(ctx, pool);
    if (q === undefined || q.queued === 0) continue;
    const why = statusUnavailable(pool);
    const full = q.capacity !== undefined && q.queued >= q.capacity;
    if (why === undefined && !full) continue;
    const status = pool.status.ok ? undefined : pool.status.reason;
    report(ctx, 'live.saturated-now', {
      message: `Pool ${pool.name} is saturated now: ${q.queued} connection(s) wait in its accept queue${q.capacity === undefined ? '' : ` (capacity ${q.capacity})`}${why === undefined ? '' : ` and its status page did not answer (${why})`}${full ? '; the queue is full, so new connections are refused (nginx: 502, EAGAIN)' : ''}`,
      pool: pool.name,
      ...(master.pid === undefined ? {} : { file: master.configPath }),
      evidence: {
        queued: q.queued,
        ...(q.capacity === undefined ? {} : { capacity: q.capacity }),
        queueSource: q.source,
        ...(pool.queuePeak === undefined ? {} : { queuePeak: pool.queuePeak }),
        ...(why === undefined ? {} : { statusUnavailable: why }),
        ...(status === undefined ? {} : { statusError: status }),
        ...(pool.config?.pm.maxChildren === undefined
          ? {}
          : { maxChildren: pool.config.pm.maxChildren }),
        workers: pool.workerPids.length,
        ...masterEvidence(master),
      },
      fix: `Every worker is busy and requests queue: see what they run (the slowlog${pool.config?.slowlog === undefined ? ', once slowlog and request_slowlog_timeout are set' : ` ${pool.config.slowlog}`}), raise pm.max_children at ${describePlace(fixPlace(master, pool.name, 'pm.max_children'), pool.name)} if memory allows and ${applyWord([{ section: pool.name, directive: 'pm.max_children' }])}${pool.config?.pm.statusListen === undefined ? `, and set pm.status_listen at ${describePlace(fixPlace(master, pool.name, 'pm.status_listen'), pool.name)} so status answers while the pool is full` : ''}.`,
    });
  }
}
