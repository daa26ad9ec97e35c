import { performance } from 'node:perf_hooks';
import { FpmkitAbortError, FpmStatusNoAnswerError, isFpmkitError } from '../errors.js';
import type { FastCGIClient, FastCGITarget } from '../fastcgi/index.js';
import { checkSignal } from '../fastcgi/options.js';
import {
  checkMsOption,
  checkTypeOption,
  type FetchStatusOptions,
  makeStatusClient,
  type ResolvedStatusOptions,
  requestStatus,
  resolveStatusOptions,
  STATUS_DEFAULTS,
  statusParams,
} from './fetch.js';
import type { FpmStatus } from './model.js';
import { diffStatus, MIN_WATCH_INTERVAL_MS, type StatusDelta } from './watch.js';

/**
 * Why a sample carries no status page. `EAGAIN`: the accept queue is full and the kernel turned
 * the connection away; `timeout`: the request waited (usually in the queue) past its bound;
 * `refused`: nothing accepts on the socket (FPM stopped, or between a restart's close and bind);
 * `no-socket`: the path does not exist; `permission`: the socket's mode forbids this user;
 * `pending`: the previous request is still in flight, so none was sent (never more than one per
 * pool); `misconfigured`: FPM answered, but not with its status page; `protocol`: the answer was
 * not FastCGI or not a status page fpmkit can read; `connect`: any other connect failure;
 * `aborted`: the caller's signal ended the wait; `error`: anything else.
 */
export const STATUS_GAP_REASONS = [
  'EAGAIN',
  'timeout',
  'refused',
  'no-socket',
  'permission',
  'pending',
  'misconfigured',
  'protocol',
  'connect',
  'aborted',
  'error',
] as const;
/** One of {@link STATUS_GAP_REASONS}. */
export type StatusGapReason = (typeof STATUS_GAP_REASONS)[number];

/** The gap reason of an error thrown by `fetchStatus`. */
export function statusGapReason(error: unknown): StatusGapReason {
  if (!isFpmkitError(error)) return 'error';
  const code: string = error.code;
  if (code === 'FPMKIT_ABORTED') return 'aborted';
  if (code.endsWith('_TIMEOUT')) return 'timeout';
  if (code === 'FPMKIT_CONNECT' || code === 'FPMKIT_SOCKET') {
    const errno = (error as { errno?: unknown }).errno;
    if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') return 'EAGAIN';
    if (errno === 'ECONNREFUSED' || errno === 'ECONNRESET') return 'refused';
    if (errno === 'ENOENT') return 'no-socket';
    if (errno === 'EACCES' || errno === 'EPERM') return 'permission';
    return 'connect';
  }
  if (code === 'FPMKIT_STATUS_MISCONFIGURED' || code === 'FPMKIT_STATUS_HTTP')
    return 'misconfigured';
  if (
    code === 'FPMKIT_PROTOCOL' ||
    code === 'FPMKIT_RESPONSE_TOO_LARGE' ||
    code === 'FPMKIT_PARSE' ||
    code === 'FPMKIT_FASTCGI_REJECTED'
  )
    return 'protocol';
  return 'error';
}

/**
 * The error behind a gap: the one `fetchStatus` threw, or for a request still in flight (`pending`)
 * an `FpmStatusNoAnswerError`, for an ended wait (`aborted`) an `FpmkitAbortError`.
 */
export function gapAsError(gap: StatusGap): unknown {
  if (gap.error !== undefined) return gap.error;
  if (gap.reason === 'aborted') return new FpmkitAbortError(gap.message);
  return new FpmStatusNoAnswerError(gap.message, gap.pendingMs);
}

/** The accept queue of a pool's listening socket at one moment. */
export interface ListenQueueReading {
  /** Connections waiting for a worker to accept them. */
  queued: number;
  /**
   * The backlog in force on the live socket (`ss -l` Send-Q: `listen.backlog` capped by
   * `net.core.somaxconn` when the socket was made), when known. A reload keeps the old socket,
   * so this can differ from the configuration.
   */
  backlog?: number | undefined;
  /**
   * Connections the queue holds before the kernel turns new ones away: `backlog` + 1 (the kernel
   * calls a queue full only when it holds more than the backlog). Absent when `backlog` is.
   */
  capacity?: number | undefined;
  /**
   * Where `queued` came from: the kernel's socket table (`/proc/net/unix`, `/proc/net/tcp{,6}`)
   * or, for a pool on another host, the status page's `listen queue` (TCP only).
   */
  source: 'proc-net-unix' | 'proc-net-tcp' | 'status-page';
  /** The listener's inode, when read from the kernel; a new inode means a new socket. */
  inode?: number | undefined;
  /** Wall-clock time the kernel's table was read. */
  time?: Date | undefined;
}

/** Options of one {@link ListenQueueReader} call. */
export interface ListenQueueReadOptions {
  /**
   * Milliseconds the read may take: a slow part (the backlog look-up through `ss`) that has not
   * answered by then is left out of this reading. @default no bound beyond the reader's own
   */
  timeoutMs?: number | undefined;
}

/** Reads the accept queue of one listener; throws when it cannot (the sample says why). */
export type ListenQueueReader = (options?: ListenQueueReadOptions) => Promise<ListenQueueReading>;

/** A sample without a status page, and why. */
export interface StatusGap {
  reason: StatusGapReason;
  /** What happened, for people. */
  message: string;
  /** The error `fetchStatus` threw, when one did. */
  error?: unknown;
  /** For `pending`: milliseconds the request in flight has waited so far. */
  pendingMs?: number | undefined;
}

/** One sample of a pool: the kernel's queue, and the status page or the reason it is missing. */
export interface PoolReading extends StatusDelta {
  /** Wall-clock time the kernel queue was read, or the sample's start when it was not. */
  time: Date;
  /** The listener's accept queue, when it could be read. */
  queue?: ListenQueueReading | undefined;
  /** Why `queue` is absent (no reader, the listener is not on this host, ...). */
  queueError?: string | undefined;
  /** The status page, when it arrived within the sample's wait. */
  status?: FpmStatus | undefined;
  /** Wall-clock time the status page arrived. */
  statusTime?: Date | undefined;
  /** Milliseconds since the previous status page (monotonic clock), when not restarted. */
  elapsedMs?: number | undefined;
  /** Set exactly when `status` is absent. */
  gap?: StatusGap | undefined;
}

/** Options of {@link StatusSampler}: those of `fetchStatus`, and the kernel queue reader. */
export interface StatusSamplerOptions extends Omit<FetchStatusOptions, 'client' | 'signal'> {
  /**
   * Reads the kernel's accept queue of the pool's listener, once per sample and before the
   * status request goes out (so the sampler's own first request is not counted). `fpmkit/host`'s
   * `listenQueueReader` reads `/proc/net/unix` or `/proc/net/tcp{,6}`. @default none: the queue
   * comes from the status page when FPM measures it (TCP)
   */
  readQueue?: ListenQueueReader | undefined;
}

/** Options of one {@link StatusSampler.sample} call. */
export interface SampleOptions {
  /**
   * Milliseconds to wait for the status request before the sample is returned without it (the
   * request stays in flight and a later sample picks up its outcome). @default the request's
   * `timeoutMs` plus 50 ms, so a sample always carries the request's outcome
   */
  waitMs?: number | undefined;
  /** Ends the wait early; the sample is then a gap with reason `aborted`. */
  signal?: AbortSignal | undefined;
}

type Outcome = { status: FpmStatus; at: number; time: Date } | { error: unknown };

/** Resolves with `undefined` after `ms` or when `signal` aborts, or earlier by `cancel()`. */
function delay(
  ms: number,
  signal: AbortSignal | undefined,
): { promise: Promise<undefined>; cancel: () => void } {
  let cancel = () => {};
  const promise = new Promise<undefined>((resolve) => {
    if (signal?.aborted) return resolve(undefined);
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve(undefined);
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener('abort', done, { once: true });
    cancel = done;
  });
  return { promise, cancel };
}

/**
 * Samples one pool in a way that survives saturation: each `sample()` reads the kernel's accept
 * queue of the pool's listener first, whatever the status page does, then waits a bounded time
 * for the status request. A request that fails (EAGAIN, timeout, refused) or is still in flight
 * makes the sample a gap with the reason; it never throws for the pool's state. At most one
 * status request is in flight: while one waits, later samples send none and report `pending`.
 * `watchStatus`, `fpmkit watch` and `fpmkit status` sample through it; the exporter's collector
 * keeps the same rules for all its pools at once.
 *
 * ```ts
 * const sampler = new StatusSampler('unix:/run/php/www.sock', {
 *   readQueue: listenQueueReader('/run/php/www.sock'),
 * });
 * const r = await sampler.sample({ waitMs: 1000 });
 * console.log(r.queue?.queued, r.queue?.capacity, r.gap?.reason ?? r.status?.activeProcesses);
 * sampler.close();
 * ```
 */
export class StatusSampler {
  readonly #options: ResolvedStatusOptions;
  readonly #client: FastCGIClient;
  readonly #readQueue: ListenQueueReader | undefined;
  /** The request's FastCGI parameters, the same for every request. */
  readonly #params: Record<string, string>;
  #pending: { promise: Promise<Outcome>; started: number } | undefined;
  #previous: { status: FpmStatus; at: number } | undefined;

  /** Checks every option now: a bad one throws `FpmkitInvalidOptionError` before anything is sent. */
  constructor(target: FastCGITarget, options: StatusSamplerOptions = {}) {
    // Its requests end by `close()` alone: a stray `signal` among the options is left out.
    this.#options = { ...resolveStatusOptions(options), signal: undefined };
    const timeoutMs = this.#options.timeoutMs;
    // Built from checked values only, so the client cannot fail on an option under its own name.
    this.#client = makeStatusClient(target, timeoutMs);
    this.#params = statusParams(this.#options);
    this.#readQueue = checkTypeOption('readQueue', options.readQueue, 'function');
  }

  /** True while a status request is in flight. */
  get inFlight(): boolean {
    return this.#pending !== undefined;
  }

  /** The status request's bound in milliseconds, as resolved. */
  get timeoutMs(): number {
    return this.#options.timeoutMs;
  }

  /** One sample: the kernel queue now, and the status page or the reason it is missing. */
  async sample(options: SampleOptions = {}): Promise<PoolReading> {
    // The whole sample, the queue read included, ends within waitMs of this moment.
    const waitMs = options.waitMs ?? this.#options.timeoutMs + 50;
    const deadline = performance.now() + waitMs;
    const time = new Date();
    const reading: PoolReading = { time, restarted: false };
    if (this.#readQueue) {
      // The queue read gets at most half the wait, so the status page keeps the other half.
      const queueMs = Math.max(1, waitMs / 2);
      const bound = delay(queueMs, options.signal);
      try {
        const queue = await Promise.race([this.#readQueue({ timeoutMs: queueMs }), bound.promise]);
        if (queue === undefined)
          reading.queueError = `the kernel queue was not read within ${Math.round(queueMs)} ms`;
        else {
          reading.queue = queue;
          if (queue.time) reading.time = queue.time;
        }
      } catch (error) {
        reading.queueError = (error as Error)?.message ?? String(error);
      } finally {
        bound.cancel();
      }
    }
    const reused = this.#pending !== undefined;
    const pending = this.#pending ?? this.#send();
    this.#pending = pending;
    const wait = delay(Math.max(1, deadline - performance.now()), options.signal);
    const outcome = await Promise.race([pending.promise, wait.promise]);
    // The timer must not keep a short-lived process alive after the answer.
    wait.cancel();
    if (outcome === undefined) {
      const waited = performance.now() - pending.started;
      reading.gap = options.signal?.aborted
        ? { reason: 'aborted', message: 'the wait for the status page was aborted' }
        : {
            reason: 'pending',
            message: `the status request sent ${Math.round(waited)} ms ago has no answer yet${reused ? '; no other is sent meanwhile' : ''}`,
            pendingMs: waited,
          };
      return this.#withStatusQueue(reading);
    }
    this.#pending = undefined;
    if ('error' in outcome) {
      const error = outcome.error;
      reading.gap = {
        reason: statusGapReason(error),
        message: (error as Error)?.message ?? String(error),
        error,
      };
      return this.#withStatusQueue(reading);
    }
    reading.status = outcome.status;
    reading.statusTime = outcome.time;
    if (this.#previous !== undefined) {
      const elapsedMs = outcome.at - this.#previous.at;
      Object.assign(reading, diffStatus(this.#previous.status, outcome.status, elapsedMs));
      if (!reading.restarted) reading.elapsedMs = elapsedMs;
    }
    this.#previous = { status: outcome.status, at: outcome.at };
    return this.#withStatusQueue(reading);
  }

  /** Aborts the request in flight and releases the connection. */
  close(): void {
    this.#client.close();
  }

  #send(): { promise: Promise<Outcome>; started: number } {
    const promise = requestStatus(this.#client, this.#options, this.#params).then(
      (status): Outcome => ({ status, at: performance.now(), time: new Date() }),
      (error: unknown): Outcome => ({ error }),
    );
    return { promise, started: performance.now() };
  }

  /** Without a kernel reading, a TCP pool's status page still tells the queue. */
  #withStatusQueue(reading: PoolReading): PoolReading {
    const s = reading.status;
    if (reading.queue === undefined && s?.listenQueueMeasured && s.listenQueue !== undefined) {
      const backlog = s.listenQueueLen;
      reading.queue = {
        queued: s.listenQueue,
        ...(backlog === undefined ? {} : { backlog, capacity: backlog + 1 }),
        source: 'status-page',
      };
    }
    return reading;
  }
}

/** Options of {@link samplePool}. */
export interface SamplePoolOptions extends StatusSamplerOptions {
  /**
   * Milliseconds from the start of one sample to the start of the next, at least
   * `MIN_WATCH_INTERVAL_MS`. @default 1000
   */
  intervalMs?: number | undefined;
  /** Ends the iteration (without an error) when aborted. */
  signal?: AbortSignal | undefined;
}

/**
 * Samples a pool every `intervalMs` with a {@link StatusSampler} and yields every sample, the
 * gaps included: a sample waits for its status page at most until the next one is due, so the
 * series keeps its pace while the pool is saturated. Ends when `signal` aborts or the consumer
 * breaks out; never because of the pool.
 */
export async function* samplePool(
  target: FastCGITarget,
  options: SamplePoolOptions = {},
): AsyncGenerator<PoolReading, void, undefined> {
  const intervalMs = checkMsOption(
    'intervalMs',
    options.intervalMs ?? STATUS_DEFAULTS.intervalMs,
    MIN_WATCH_INTERVAL_MS,
  );
  const signal = checkSignal(options.signal);
  const sampler = new StatusSampler(target, options);
  try {
    while (!signal?.aborted) {
      const started = performance.now();
      const reading = await sampler.sample({
        waitMs: Math.max(1, started + intervalMs - performance.now()),
        signal,
      });
      if (signal?.aborted) return;
      yield reading;
      await delay(started + intervalMs - performance.now(), signal).promise;
    }
  } finally {
    sampler.close();
  }
}
