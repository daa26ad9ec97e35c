import type { FastCGIClient } from '../fastcgi/client.js';
import type { FastCGITarget } from '../fastcgi/target.js';
import { type ListenAddress, parseListen } from '../fpm/listen.js';
import {
  makeStatusClient,
  type ResolvedStatusOptions,
  requestStatus,
  resolveStatusOptions,
  statusParams,
} from '../status/fetch.js';
import type { FpmStatus } from '../status/model.js';
import { type StatusGap, type StatusGapReason, statusGapReason } from '../status/sampler.js';

/** A pool the collector samples. */
export interface PoolTarget {
  /** The pool's name; absent: the name its status page reports ('' while it does not answer). */
  name?: string | undefined;
  /** The pool's `listen` value as FPM reads it: `/run/php/www.sock`, `127.0.0.1:9000`, `[::1]:9000`, `9000`. */
  listen: string;
  /** The pool's `pm.status_path`. @default '/status' */
  statusPath?: string | undefined;
  /** `pm.status_listen`, when the status page is served on its own socket. */
  statusListen?: string | undefined;
  /** The configured `pm.max_children`, when known. */
  maxChildren?: number | undefined;
  /** The master's pid, when known (its cgroup's memory limit is reported). */
  masterPid?: number | undefined;
}

/** Why a pool's status page was not read, as the `reason` label spells it. */
export type PoolErrorReason =
  | 'timeout'
  | 'eagain'
  | 'connect'
  | 'refused'
  | 'misconfigured'
  | 'protocol'
  | 'error';

/** What a sampler returns for one pool. */
export interface PoolSample {
  /** The status page with its per-worker list, when the pool answered. */
  status?: FpmStatus | undefined;
  /** Why it did not, when it did not. */
  error?: { reason: PoolErrorReason; message: string } | undefined;
  /** Seconds the attempt took. */
  durationSeconds: number;
}

/** What the collector hands a sampler for one pool. */
export interface PoolSamplerContext {
  /** Milliseconds left for this pool; the collector stops waiting then. */
  deadlineMs: number;
  /** Aborted when the deadline passes or the collection is abandoned. */
  signal: AbortSignal;
}

/**
 * Reads one pool's status. The collector calls one per pool concurrently, and treats a sampler
 * that outlives `deadlineMs` as a timeout whatever it does later; the kernel accept queue is
 * read by the collector itself, so it is reported even when no sampler answers.
 */
export type PoolSampler = (target: PoolTarget, context: PoolSamplerContext) => Promise<PoolSample>;

/** The FastCGI address of a listen value; wildcard binds are reached on loopback. */
export function listenToTarget(listen: string | ListenAddress): FastCGITarget {
  const address = typeof listen === 'string' ? parseListen(listen) : listen;
  if (address.kind === 'unix') return { socketPath: address.path };
  const host = address.host;
  if (host === undefined || host === '' || host === '0.0.0.0')
    return { host: '127.0.0.1', port: address.port };
  if (host === '::') return { host: '::1', port: address.port };
  return { host, port: address.port };
}

/**
 * The `reason` label of an error from `fetchStatus`: the sampler's gap reason for it
 * (`statusGapReason`), spelled as the label spells it.
 */
export function poolErrorReason(error: unknown): PoolErrorReason {
  return labelOfGapReason(statusGapReason(error));
}

/** The `reason` label of a sample without a status page. */
export function gapErrorReason(gap: StatusGap): PoolErrorReason {
  return labelOfGapReason(gap.reason);
}

function labelOfGapReason(reason: StatusGapReason): PoolErrorReason {
  switch (reason) {
    case 'timeout':
    case 'pending':
    case 'aborted':
      return 'timeout';
    case 'refused':
      return 'refused';
    case 'EAGAIN':
      return 'eagain';
    case 'no-socket':
    case 'permission':
    case 'connect':
      return 'connect';
    case 'misconfigured':
      return 'misconfigured';
    case 'protocol':
      return 'protocol';
    default:
      return 'error';
  }
}

/** How long a pool's channel is kept after it was last used (pools come and go with discovery). */
const IDLE_SAMPLER_MS = 10 * 60_000;
/** How often the channels are checked for idleness. */
const IDLE_SWEEP_MS = 60_000;

/** A {@link PoolSampler} that holds state between collections; `close()` releases it. */
export interface StatefulPoolSampler extends PoolSampler {
  /** Aborts every pool's request in flight and forgets the pools. */
  close(): void;
}

type Outcome = { status: FpmStatus } | { error: unknown };

/** One pool's status requests: its client, its request, and the request in flight. */
interface StatusChannel {
  readonly client: FastCGIClient;
  readonly options: ResolvedStatusOptions;
  readonly params: Record<string, string>;
  pending: { promise: Promise<Outcome>; started: number } | undefined;
  usedAt: number;
}

/**
 * @internal The state behind {@link createStatusSampler}, which `FpmCollector` also drives
 * directly: per pool a client and its prepared request (JSON with the per-worker list), at most
 * one request in flight across collections. A wait ends when the status arrives or when `until`
 * settles, so one timer serves a whole collection.
 */
export class StatusChannels {
  readonly #channels = new Map<string, StatusChannel>();
  #sweptAt = Date.now();

  /**
   * One pool's sample. `timeoutMs` bounds the pool's requests (fixed by the first call); the
   * wait ends earlier when `until` settles, a sample with reason `timeout` then.
   */
  async sample(
    target: PoolTarget,
    until: Promise<undefined>,
    timeoutMs: number,
    aborted?: AbortSignal,
  ): Promise<PoolSample> {
    const started = performance.now();
    let channel: StatusChannel;
    try {
      channel = this.#channel(target, timeoutMs);
    } catch (error) {
      return {
        error: { reason: poolErrorReason(error), message: (error as Error).message },
        durationSeconds: (performance.now() - started) / 1000,
      };
    }
    const reused = channel.pending !== undefined;
    const pending = channel.pending ?? send(channel);
    channel.pending = pending;
    const outcome = await Promise.race([pending.promise, until]);
    const durationSeconds = (performance.now() - started) / 1000;
    if (outcome === undefined) {
      const waited = Math.round(performance.now() - pending.started);
      const message = aborted?.aborted
        ? 'the wait for the status page was aborted'
        : `the status request sent ${waited} ms ago has no answer yet${reused ? '; no other is sent meanwhile' : ''}`;
      return { error: { reason: 'timeout', message }, durationSeconds };
    }
    if (channel.pending === pending) channel.pending = undefined;
    if ('error' in outcome) {
      const error = outcome.error;
      return {
        error: {
          reason: poolErrorReason(error),
          message: (error as Error)?.message ?? String(error),
        },
        durationSeconds,
      };
    }
    return { status: outcome.status, durationSeconds };
  }

  /** Closes every pool's client (a request in flight fails as aborted) and forgets the pools. */
  close(): void {
    for (const channel of this.#channels.values()) channel.client.close();
    this.#channels.clear();
  }

  #channel(target: PoolTarget, timeoutMs: number): StatusChannel {
    const now = Date.now();
    // Every pool is sampled at each collection: one sweep a minute, not one per pool.
    if (now - this.#sweptAt >= IDLE_SWEEP_MS) {
      this.#sweptAt = now;
      for (const [key, channel] of this.#channels)
        if (now - channel.usedAt > IDLE_SAMPLER_MS) {
          channel.client.close();
          this.#channels.delete(key);
        }
    }
    const statusTarget = target.statusListen ?? target.listen;
    const path = target.statusPath ?? '/status';
    const key = `${target.listen}\u0000${statusTarget}\u0000${path}`;
    let channel = this.#channels.get(key);
    if (channel === undefined) {
      const options = resolveStatusOptions({
        format: 'json',
        full: true,
        path,
        timeoutMs: Math.max(1, Math.floor(timeoutMs)),
        listen: target.listen,
      });
      channel = {
        client: makeStatusClient(listenToTarget(statusTarget), options.timeoutMs),
        options,
        params: statusParams(options),
        pending: undefined,
        usedAt: now,
      };
      this.#channels.set(key, channel);
    }
    channel.usedAt = now;
    return channel;
  }
}

function send(channel: StatusChannel): { promise: Promise<Outcome>; started: number } {
  const promise = requestStatus(channel.client, channel.options, channel.params).then(
    (status): Outcome => ({ status }),
    (error: unknown): Outcome => ({ error }),
  );
  return { promise, started: performance.now() };
}

/**
 * Samplers that keep, per pool, one client and its prepared status request (JSON with the
 * per-worker list), at most one in flight across collections, so a request still waiting in a
 * saturated pool's queue when a scrape's deadline passes is not joined by another at the next
 * scrape (the next scrape gets its outcome, or `timeout` while it waits).
 */
export function createStatusSampler(): StatefulPoolSampler {
  const channels = new StatusChannels();
  const sample = async (target: PoolTarget, context: PoolSamplerContext): Promise<PoolSample> => {
    const { signal } = context;
    let end = () => {};
    const until = new Promise<undefined>((resolve) => {
      if (signal?.aborted) return resolve(undefined);
      const timer = setTimeout(() => end(), Math.max(1, context.deadlineMs));
      end = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', end);
        resolve(undefined);
      };
      signal?.addEventListener('abort', end, { once: true });
    });
    try {
      return await channels.sample(target, until, context.deadlineMs, signal);
    } finally {
      end();
    }
  };
  return Object.assign(sample, { close: () => channels.close() });
}

/**
 * A stateless sampler: one status request per call (JSON with the per-worker list), bounded by
 * the pool's deadline and the collection's signal. `FpmCollector` uses
 * {@link createStatusSampler} by default, which keeps requests from piling up across scrapes.
 */
export const fetchStatusSampler: PoolSampler = async (target, context) => {
  const sampler = createStatusSampler();
  try {
    return await sampler(target, context);
  } finally {
    sampler.close();
  }
};
