import { FPM_DEFAULT_LISTEN_BACKLOG } from '../../defaults.js';
/**
 * Checks over nginx's upstream errors, one pool at a time: a full accept queue (and refusals
 * during a reload), a socket nginx may not open, a socket that is not there.
 */
import { acceptQueueCapacity, DEFAULT_SOMAXCONN, effectiveBacklog } from '../../kernel/backlog.js';
import type { NginxErrorEntry } from '../../logs/nginx-error-log.js';
import { DEFAULT_MIN_BACKLOG, MAX_BACKLOG } from '../../sizing/overflow.js';
import {
  inReload,
  iso,
  type LiveContext,
  type Reload,
  report,
  type UpstreamErrors,
} from './context.js';
import { applyWord, describePlace, fixPlace } from './where.js';

/** Seconds `process_control_timeout` is set to when it is 0: long enough for most requests. */
export const SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS = 10;

/**
 * The backlog that holds what a full queue held plus what was refused in the worst second:
 * the next 2^n - 1 above that (a power of two minus one is what the kernel's queue sizes
 * round to), at least sizing's `DEFAULT_MIN_BACKLOG`, at most `MAX_BACKLOG`.
 */
export function backlogForRefusals(capacity: number, refusedInWorstSecond: number): number {
  const wanted = 2 ** Math.ceil(Math.log2(capacity + refusedInWorstSecond + 1)) - 1;
  return Math.min(MAX_BACKLOG, Math.max(DEFAULT_MIN_BACKLOG, wanted));
}

function socketPathOf(entries: NginxErrorEntry[]): string | undefined {
  const event = entries[0]?.event;
  return event?.kind === 'upstream_error' ? event.socketPath : undefined;
}

/** `live.accept-queue-overflow` and `live.reload-overflow`: nginx got EAGAIN. */
export function acceptQueueOverflow(ctx: LiveContext, group: UpstreamErrors): void {
  const eagain = group.byClass.get('backlog_full') ?? [];
  if (eagain.length === 0) return;
  const { pool, master } = group;
  const somaxconn = ctx.kernel?.somaxconn;
  const listenBacklog = pool?.config?.listen.backlog;
  const knownSomaxconn = somaxconn ?? DEFAULT_SOMAXCONN;
  const queue = {
    ...(listenBacklog === undefined ? {} : { listenBacklog }),
    somaxconn: knownSomaxconn,
  };
  // The socket's backlog in force (`ss` Send-Q) when read: a reload keeps the old one, so the
  // file may say otherwise.
  const live = pool?.listener?.ok ? pool.listener.value : undefined;
  const effective = live?.backlog ?? effectiveBacklog(queue);
  const capacity = live === undefined ? acceptQueueCapacity(queue) : live.backlog + 1;
  const reloads = master ? (ctx.reloads.get(master) ?? []) : [];
  const slack = ctx.options.reloadSlackSeconds;
  const duringReload = eagain.filter((e) => reloads.some((r) => inReload(e.date, r, slack)));
  const perSecond = new Map<number, number>();
  for (const e of eagain) {
    const s = Math.floor(e.date.getTime() / 1000);
    perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
  }
  const worstSecond = Math.max(...perSecond.values());
  const backlog = backlogForRefusals(capacity, worstSecond);
  const nextSomaxconn = Math.max(backlog, somaxconn ?? 0);
  const suggested = ctx.suggested;
  suggested.somaxconn = Math.max(suggested.somaxconn ?? 0, nextSomaxconn);
  const processControl = master?.config.ok
    ? master.config.value.global.processControlTimeoutSeconds
    : undefined;
  if (master && (processControl === undefined || processControl === 0))
    suggested.processControlTimeoutSeconds = SUGGESTED_PROCESS_CONTROL_TIMEOUT_SECONDS;
  if (master && pool) {
    const m = suggested.backlogs.get(master) ?? new Map<string, number>();
    suggested.backlogs.set(master, m);
    m.set(pool.name, backlog);
  }
  const queueNow = pool?.queue.ok ? pool.queue.value.queued : undefined;
  const observedPeak = pool?.queuePeak ?? queueNow;
  const socketPath = socketPathOf(eagain);
  const pct = suggested.processControlTimeoutSeconds;
  report(ctx, 'live.accept-queue-overflow', {
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
      capacitySource: live === undefined ? 'configuration' : 'ss',
      // EAGAIN is only returned when the queue is full, so it peaked at its capacity.
      queuePeak: Math.max(capacity, observedPeak ?? 0),
      queuePeakSource: observedPeak !== undefined && observedPeak >= capacity ? 'proc' : 'eagain',
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
      `Set listen.backlog = ${backlog}${pool ? ` in pool ${pool.name}${master ? ` (${describePlace(fixPlace(master, pool.name, 'listen.backlog'), pool.name)})` : ''}` : ''} and ${somaxconn !== undefined && nextSomaxconn === somaxconn ? `keep net.core.somaxconn = ${nextSomaxconn}` : `net.core.somaxconn = ${nextSomaxconn}`}` +
      ` (the kernel caps the backlog at somaxconn), then ${applyWord(pool ? [{ section: pool.name, directive: 'listen.backlog' }] : [{ section: 'www', directive: 'listen.backlog' }])}.` +
      (pct !== undefined
        ? ` Set process_control_timeout = ${pct}s${master ? ` (${describePlace(fixPlace(master, 'global', 'process_control_timeout'), 'global')})` : ''} so reloads let requests finish.`
        : '') +
      ' The lines to change are in the report.',
  });
  if (duringReload.length > 0) {
    reloadOverflow(ctx, group, { duringReload, reloads, capacity, backlog, nextSomaxconn });
  }
}

/** `live.reload-overflow`: some of the refusals fell in a reload's seconds. */
function reloadOverflow(
  ctx: LiveContext,
  { pool, master }: UpstreamErrors,
  seen: {
    duringReload: NginxErrorEntry[];
    reloads: Reload[];
    capacity: number;
    backlog: number;
    nextSomaxconn: number;
  },
): void {
  const { duringReload, reloads, capacity, backlog, nextSomaxconn } = seen;
  report(ctx, 'live.reload-overflow', {
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

/** `live.socket-permission-denied`: nginx got EACCES on the socket. */
export function socketPermissionDenied(ctx: LiveContext, group: UpstreamErrors): void {
  const perm = group.byClass.get('permission_denied') ?? [];
  if (perm.length === 0) return;
  const { pool } = group;
  const path = socketPathOf(perm);
  report(ctx, 'live.socket-permission-denied', {
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
    fix: `Set listen.owner and listen.group to the web server user (e.g. www-data) and listen.mode = 0660${pool && group.master ? ` in pool ${pool.name} (${fixPlace(group.master, pool.name, 'listen').file})` : ''}, then ${applyWord([{ section: pool?.name ?? 'www', directive: 'listen.mode' }])} so the socket is created again.`,
  });
}

/** `live.socket-missing`: nginx found no socket at the path. */
export function socketMissing(ctx: LiveContext, group: UpstreamErrors): void {
  const gone = group.byClass.get('socket_missing') ?? [];
  if (gone.length === 0) return;
  const { pool } = group;
  const path = socketPathOf(gone);
  const queues = ctx.snapshot.unixQueues;
  report(ctx, 'live.socket-missing', {
    message: `nginx found no socket at ${path ?? 'the upstream path'} (2: No such file or directory), ${gone.length} time(s)`,
    ...(pool ? { pool: pool.name } : {}),
    directive: 'listen',
    evidence: {
      count: gone.length,
      ...(path === undefined ? {} : { socketPath: path }),
      configuredListen: pool?.config?.listen.address,
      listening:
        path !== undefined && queues.ok ? queues.value.some((q) => q.path === path) : undefined,
      firstAt: iso(gone[0]?.date),
      lastAt: iso(gone[gone.length - 1]?.date),
    },
    fix: pool
      ? `Start FPM, and make nginx's fastcgi_pass and the pool's listen (${pool.config?.listen.address ?? 'unset'}) name the same path.`
      : `No configured pool listens on ${path ?? 'that path'}: point fastcgi_pass at a pool's listen address, or add a pool listening there.`,
  });
}
