import type { FastCGITarget } from '../fastcgi/index.js';
import {
  checkMsOption,
  checkTypeOption,
  type ResolvedStatusOptions,
  resolveStatusOptions,
  STATUS_DEFAULTS,
} from './fetch.js';
import type { FpmStatus, StatusFormat } from './model.js';
import {
  gapAsError,
  type ListenQueueReader,
  type ListenQueueReading,
  samplePool,
} from './sampler.js';

/**
 * Counters that only grow while FPM runs; a fall means the scoreboard was recreated.
 * `slowRequests` is missing from the pages of FPM releases that predate it.
 */
const COUNTERS = ['acceptedConn', 'maxChildrenReached', 'slowRequests'] as const;
/** High-water marks: they also only grow until a restart or reload. */
const HIGH_WATER = ['maxActiveProcesses', 'maxListenQueue'] as const;
/** Fields a page may leave out; one present on one page and absent on the next means another FPM. */
const OPTIONAL_FIELDS = ['slowRequests', 'maxListenQueue'] as const;
/** Start times read from the page are whole seconds; derived ones (OpenMetrics) can jitter by one. */
const START_TIME_TOLERANCE_MS = 1_000;
const DERIVED_START_TIME_TOLERANCE_MS = 2_000;
/** Shortest interval accepted: FPM refreshes its scoreboard summary once a second anyway. */
export const MIN_WATCH_INTERVAL_MS = 10;

/** Counter growth between two samples. */
export interface StatusIncrements {
  acceptedConn: number;
  maxChildrenReached: number;
  /** Absent when the pages carry no `slow requests` line (FPM older than the counter). */
  slowRequests?: number;
}
/** Counter growth per second between two samples. */
export interface StatusRates {
  acceptedConnPerSecond: number;
  maxChildrenReachedPerSecond: number;
  /** Absent when the pages carry no `slow requests` line. */
  slowRequestsPerSecond?: number;
}

/** True when a field both pages carry went down; a field either page lacks never fell. */
function fell(before: number | undefined, after: number | undefined): boolean {
  return before !== undefined && after !== undefined && after < before;
}

/** What changed between two status pages of the same pool. */
export interface StatusDelta {
  /**
   * FPM restarted or reloaded between the two pages (new start time, or a counter fell): the
   * baseline is reset and there are no increments or rates.
   */
  restarted: boolean;
  increments?: StatusIncrements;
  rates?: StatusRates;
}

/** One observation from `watchStatus`. */
export interface StatusSample extends StatusDelta {
  /** Wall-clock time the page arrived. */
  time: Date;
  status: FpmStatus;
  /** Milliseconds since the previous sample (monotonic clock); absent on the first. */
  elapsedMs?: number;
  /**
   * The listener's accept queue when the sample was taken: from `readQueue`, or from the page
   * itself when FPM measures it (TCP).
   */
  queue?: ListenQueueReading;
}

/**
 * Compares two pages of one pool taken `elapsedMs` apart. A restart (start time moved, or any
 * counter or high-water mark fell) resets the baseline instead of producing negative rates.
 */
export function diffStatus(
  previous: FpmStatus,
  current: FpmStatus,
  elapsedMs: number,
): StatusDelta {
  const tolerance =
    previous.startTimeDerived || current.startTimeDerived
      ? DERIVED_START_TIME_TOLERANCE_MS
      : START_TIME_TOLERANCE_MS;
  const moved =
    Math.abs(current.startTime.getTime() - previous.startTime.getTime()) > tolerance ||
    current.startSinceSeconds < previous.startSinceSeconds;
  const dropped =
    COUNTERS.some((c) => fell(previous[c], current[c])) ||
    HIGH_WATER.some((c) => fell(previous[c], current[c]));
  // A field that appears or vanishes between two pages means another FPM build now answers.
  const replaced = OPTIONAL_FIELDS.some(
    (f) => (previous[f] === undefined) !== (current[f] === undefined),
  );
  if (moved || dropped || replaced) return { restarted: true };
  const increments: StatusIncrements = {
    acceptedConn: current.acceptedConn - previous.acceptedConn,
    maxChildrenReached: current.maxChildrenReached - previous.maxChildrenReached,
  };
  if (current.slowRequests !== undefined && previous.slowRequests !== undefined) {
    increments.slowRequests = current.slowRequests - previous.slowRequests;
  }
  if (!(elapsedMs > 0)) return { restarted: false, increments };
  const seconds = elapsedMs / 1000;
  const rates: StatusRates = {
    acceptedConnPerSecond: increments.acceptedConn / seconds,
    maxChildrenReachedPerSecond: increments.maxChildrenReached / seconds,
  };
  if (increments.slowRequests !== undefined) {
    rates.slowRequestsPerSecond = increments.slowRequests / seconds;
  }
  return { restarted: false, increments, rates };
}

/** Options of `watchStatus`. */
export interface WatchStatusOptions {
  /** Milliseconds from the start of one fetch to the start of the next. @default 1000 */
  intervalMs?: number | undefined;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal | undefined;
  /** @default 'json' */
  format?: StatusFormat | undefined;
  /** Ask for the per-worker list (`?full`). @default false */
  full?: boolean | undefined;
  /** The pool's `pm.status_path`. @default '/status' */
  path?: string | undefined;
  /** Bound on each fetch in milliseconds. @default 5000 */
  timeoutMs?: number | undefined;
  /** The pool's `listen` address; see `FetchStatusOptions.listen`. */
  listen?: string | undefined;
  /**
   * Called with each failed fetch; the watch then goes on and the next good page is compared
   * with the last good one. Without it the first failure ends the iteration by throwing.
   * Invalid options are never passed here: they throw at the first iteration, before any fetch.
   */
  onError?: ((error: unknown) => void) | undefined;
  /**
   * Reads the kernel's accept queue of the pool's listener at every interval (see
   * `StatusSampler`); `fpmkit/host`'s `listenQueueReader` makes one. @default none
   */
  readQueue?: ListenQueueReader | undefined;
}

/** `watchStatus` options with the defaults applied and every value checked. */
export interface ResolvedWatchOptions extends ResolvedStatusOptions {
  intervalMs: number;
  onError: ((error: unknown) => void) | undefined;
  readQueue: ListenQueueReader | undefined;
}

/**
 * @internal Applies `STATUS_DEFAULTS` and checks every option of `watchStatus`, naming the
 * option as the caller wrote it. Throws `FpmkitInvalidOptionError`.
 */
export function resolveWatchOptions(options: WatchStatusOptions): ResolvedWatchOptions {
  return {
    ...resolveStatusOptions(options),
    intervalMs: checkMsOption(
      'intervalMs',
      options.intervalMs ?? STATUS_DEFAULTS.intervalMs,
      MIN_WATCH_INTERVAL_MS,
    ),
    onError: checkTypeOption('onError', options.onError, 'function'),
    readQueue: checkTypeOption('readQueue', options.readQueue, 'function'),
  };
}

/**
 * Polls a pool's status page and yields a sample per page with increments and per-second rates
 * since the previous one, through the same {@link StatusSampler} as `fpmkit watch`: at most one
 * request in flight, a slow page picked up by a later interval instead of delaying the series.
 * Stops when `signal` aborts or the consumer breaks out of the loop.
 * Every option is checked at the first iteration, before anything is sent: an invalid one throws
 * `FpmkitInvalidOptionError` even when `onError` is set.
 *
 * ```ts
 * for await (const s of watchStatus('unix:/run/php/www.sock', { intervalMs: 1000, signal })) {
 *   console.log(s.rates?.acceptedConnPerSecond, s.status.activeProcesses);
 * }
 * ```
 */
export async function* watchStatus(
  target: FastCGITarget,
  options: WatchStatusOptions = {},
): AsyncGenerator<StatusSample, void, undefined> {
  const { intervalMs, timeoutMs, signal, onError, format, full, path, listen, readQueue } =
    resolveWatchOptions(options);
  const readings = samplePool(target, {
    intervalMs,
    timeoutMs,
    signal,
    format,
    full,
    path,
    listen,
    readQueue,
  });
  for await (const r of readings) {
    if (r.status === undefined) {
      const gap = r.gap;
      // A request still in flight is not a failure: its outcome comes with a later sample.
      if (gap === undefined || gap.reason === 'pending') continue;
      if (signal?.aborted) return;
      if (!onError) throw gapAsError(gap);
      onError(gapAsError(gap));
      continue;
    }
    const sample: StatusSample = {
      time: r.statusTime ?? r.time,
      status: r.status,
      restarted: r.restarted,
    };
    if (r.increments) sample.increments = r.increments;
    if (r.rates) sample.rates = r.rates;
    if (r.elapsedMs !== undefined) sample.elapsedMs = r.elapsedMs;
    if (r.queue) sample.queue = r.queue;
    yield sample;
  }
}
