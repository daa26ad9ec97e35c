import { FpmkitInvalidOptionError } from '../errors.js';
import { acceptQueueCapacity, DEFAULT_SOMAXCONN } from '../kernel/backlog.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';
import { poissonExpectedExcess, poissonQuantile, poissonUpperTail } from './poisson.js';

/**
 * Connections refused because the accept queue is full. On Linux the queue of a listening
 * socket holds `min(listen.backlog, net.core.somaxconn) + 1` connections (the kernel refuses
 * only when the length already exceeds the backlog); nginx's non-blocking connect() to a full
 * UNIX socket gets EAGAIN and answers 502 at once. TCP listeners drop the SYN instead and the
 * client retries, so for TCP these figures are delayed connections rather than 502s.
 */

/** Largest backlog Linux accepts: `somaxconn` is an int and listen() takes an int. */
export const MAX_BACKLOG = 2_147_483_647;

/** Every integer count in this module stays below 2^53. */
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

/** Input of {@link burstOverflow}: a burst of connections against idle children and the backlog. */
export interface BurstOverflowInput {
  /** Connections arriving at the same moment. */
  burst: number;
  /** Children of the pool (pm.max_children for static pools, the running ones otherwise). */
  servers: number;
  /** Connections the accept queue holds: effective backlog + 1. */
  queueCapacity: number;
  /** Children already busy when the burst arrives. @default 0 */
  busyServers?: number | undefined;
  /** Connections already waiting in the queue when the burst arrives. @default 0 */
  queuedConnections?: number | undefined;
  /**
   * Share of the idle children that take a connection out of the queue while the burst is
   * still arriving, from 0 to 1. nginx connects a whole batch of ready requests in one pass of
   * its event loop; a woken child only accepts once it gets a CPU, which on a busy host is
   * after the batch. So 0 is "nginx outruns the children", 1 is "every idle child accepts at
   * once"; measured runs on a 2-core host landed anywhere between, hence the midpoint.
   * @default 0.5
   */
  acceptDuringBurst?: number | undefined;
}

/** Connections a burst would see refused, as a range. */
export interface BurstOverflowRange {
  /** Refused when every idle child accepts during the burst. */
  min: number;
  /** Refused when no child accepts before the burst has been queued. */
  max: number;
  /** The expected value for the given `acceptDuringBurst`. */
  expected: number;
}

/**
 * Refused connections of a simultaneous burst: the bounds and the expected value. The queue
 * takes `queueCapacity − queued` connections whatever happens; idle children add up to one
 * each, depending on whether they accept before nginx has finished connecting.
 */
export function burstOverflowRange(input: BurstOverflowInput): BurstOverflowRange {
  const burst = integerIn('burst', input.burst, 0, MAX_COUNT);
  const servers = integerIn('servers', input.servers, 0, MAX_COUNT);
  const queue = integerIn('queueCapacity', input.queueCapacity, 0, MAX_COUNT);
  const busy = integerIn('busyServers', input.busyServers ?? 0, 0, servers);
  const queued = integerIn('queuedConnections', input.queuedConnections ?? 0, 0, queue);
  const share = probability('acceptDuringBurst', input.acceptDuringBurst ?? 0.5);
  const idle = servers - busy;
  const free = queue - queued;
  return {
    min: Math.max(0, burst - free - idle),
    max: Math.max(0, burst - free),
    expected: Math.max(0, burst - free - share * idle),
  };
}

/**
 * Expected refused connections (nginx: 502) when `burst` connections arrive at once:
 * max(0, burst − free queue slots − acceptDuringBurst × idle children). With 2 idle children,
 * `listen.backlog = 8` (queue 9) and a burst of 40 that is 40 − 9 − 1 = 30, and the real
 * count lies between 29 and 31.
 */
export function burstOverflow(input: BurstOverflowInput): number {
  return burstOverflowRange(input).expected;
}

/** Input of {@link reloadOverflow}: load and backlog during a reload. */
export interface ReloadOverflowInput {
  /** Mean arrival rate in connections per second. */
  arrivalRate: number;
  /** Length of the no-accept window in seconds (see `reloadWindow`). */
  windowSeconds: number;
  /** Connections the accept queue holds: effective backlog + 1. */
  queueCapacity: number;
  /** Connections already queued when the window opens. @default 0 */
  queuedConnections?: number | undefined;
  /**
   * How arrivals are spread: `'poisson'` counts them as a Poisson variable (the expected excess
   * over the free slots), `'uniform'` as exactly rate × window (the fluid bound).
   * @default 'poisson'
   */
  arrivals?: 'poisson' | 'uniform' | undefined;
}

/**
 * Expected connections refused during a reload: nothing is accepted for `windowSeconds`, so
 * arrivals beyond the free queue slots get EAGAIN. With Poisson arrivals this is
 * E[max(0, N − free)], N ~ Poisson(rate × window); with `'uniform'`, max(0, rate × window − free).
 */
export function reloadOverflow(input: ReloadOverflowInput): number {
  const rate = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const window = finiteAtLeast('windowSeconds', input.windowSeconds, 0);
  const queue = integerIn('queueCapacity', input.queueCapacity, 0, MAX_COUNT);
  const queued = integerIn('queuedConnections', input.queuedConnections ?? 0, 0, queue);
  const free = queue - queued;
  const mean = rate * window;
  if (!Number.isFinite(mean)) finiteAtLeast('arrivalRate × windowSeconds', mean, 0);
  if ((input.arrivals ?? 'poisson') === 'uniform') return Math.max(0, mean - free);
  return poissonExpectedExcess(mean, free);
}

/** Probability that a reload refuses at least one connection: P(N > free slots). */
export function reloadOverflowProbability(input: ReloadOverflowInput): number {
  const rate = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const window = finiteAtLeast('windowSeconds', input.windowSeconds, 0);
  const queue = integerIn('queueCapacity', input.queueCapacity, 0, MAX_COUNT);
  const queued = integerIn('queuedConnections', input.queuedConnections ?? 0, 0, queue);
  if ((input.arrivals ?? 'poisson') === 'uniform') return rate * window > queue - queued ? 1 : 0;
  return poissonUpperTail(rate * window, queue - queued);
}

/** Input of {@link reloadWindow}: FPM's timeouts and the longest request, in seconds. */
export interface ReloadWindowInput {
  /** FPM's `process_control_timeout` in seconds (0, the default, kills busy children at once). */
  processControlTimeoutSeconds: number;
  /** Longest request the pool serves, in seconds, when known. */
  longestRequestSeconds?: number | undefined;
  /**
   * Time from the last child's exit to new children calling accept(): exec, config parse,
   * module startup, fork. 12 ms was measured with idle children and default settings.
   * @default 0.05
   */
  restartSeconds?: number | undefined;
}

/**
 * How long (seconds) a reload leaves the socket without children to accept, and which bound set it.
 */
export interface ReloadWindow {
  windowSeconds: number;
  /** Which bound set the window. */
  rule: 'process-control-timeout' | 'longest-request' | 'restart-only';
  text: string;
}

/** Default restart time of an FPM master after SIGUSR2, seconds (measured 12 ms; padded). */
export const DEFAULT_RESTART_SECONDS = 0.05;

/**
 * The no-accept window of a SIGUSR2 reload: FPM waits for every busy child to finish (or kills
 * it after `process_control_timeout`; at 0 it kills at once), then re-executes and forks. So the
 * window is min(longest request, process_control_timeout) + restart time.
 */
export function reloadWindow(input: ReloadWindowInput): ReloadWindow {
  const pct = finiteAtLeast('processControlTimeoutSeconds', input.processControlTimeoutSeconds, 0);
  const restart = finiteAtLeast(
    'restartSeconds',
    input.restartSeconds ?? DEFAULT_RESTART_SECONDS,
    0,
  );
  const longest =
    input.longestRequestSeconds === undefined
      ? undefined
      : finiteAtLeast('longestRequestSeconds', input.longestRequestSeconds, 0);
  if (pct === 0) {
    return {
      windowSeconds: restart,
      rule: 'restart-only',
      text: `process_control_timeout = 0 kills busy children at once, so only the restart (${restart} s) stops accepting; in-flight requests are lost`,
    };
  }
  if (longest !== undefined && longest < pct) {
    return {
      windowSeconds: longest + restart,
      rule: 'longest-request',
      text: `the longest request (${longest} s) finishes before process_control_timeout (${pct} s), plus ${restart} s restart`,
    };
  }
  return {
    windowSeconds: pct + restart,
    rule: 'process-control-timeout',
    text: `busy children may run for up to process_control_timeout (${pct} s) before they are killed, plus ${restart} s restart`,
  };
}

/**
 * Input of {@link recommendBacklog}: arrival rate (per second) and the time the backlog must cover
 * (seconds).
 */
export interface BacklogInput {
  /** Mean arrival rate in connections per second. */
  arrivalRate: number;
  /** No-accept window to absorb, seconds (`reloadWindow`). */
  windowSeconds: number;
  /** Children serving the queue once accepting resumes. */
  servers: number;
  /** Mean service time in seconds. */
  serviceTimeSeconds: number;
  /**
   * How long the web server waits for the response before giving up, seconds
   * (nginx `fastcgi_read_timeout`). A connection queued deeper than the children can drain in
   * that time is answered with 504 anyway, so the backlog is bounded by it.
   */
  giveUpSeconds: number;
  /** Mean connections already queued when the window opens. @default 0 */
  queuedConnections?: number | undefined;
  /** Accepted probability that one window refuses any connection. @default 0.001 */
  overflowProbability?: number | undefined;
  /** Current `net.core.somaxconn`; never lowered. @default 4096 */
  currentSomaxconn?: number | undefined;
  /** Smallest backlog recommended whatever the load. @default 511 */
  minBacklog?: number | undefined;
}

/** A `listen.backlog` to set, with the kernel cap it needs. */
export interface BacklogRecommendation {
  /** `listen.backlog` to set. */
  backlog: number;
  /** `net.core.somaxconn` to set: at least the backlog, never below the current value. */
  somaxconn: number;
  /** Queue capacity the pair gives: min(backlog, somaxconn) + 1. */
  queueCapacity: number;
  /** Queue slots needed so one window overflows with at most the accepted probability. */
  neededQueueCapacity: number;
  /** Deepest queue still drained before the web server gives up. */
  drainableQueueCapacity: number;
  /** False when the needed capacity exceeds what drains in time: no backlog fixes that. */
  absorbs: boolean;
  /** Expected refused connections per window with this backlog (Poisson arrivals). */
  expectedRefused: number;
  text: string;
}

/** Default floor of a recommended backlog: 511, nginx's and pre-8.2 FPM's own default. */
export const DEFAULT_MIN_BACKLOG = 511;
/** Default accepted chance that one reload refuses a connection. */
export const DEFAULT_OVERFLOW_PROBABILITY = 0.001;
/** Linux's somaxconn default since 5.4 (128 before): fpmkit/kernel's `DEFAULT_SOMAXCONN`. */
export { DEFAULT_SOMAXCONN };

/**
 * The `listen.backlog` / `net.core.somaxconn` pair that absorbs a no-accept window: the queue
 * must hold the arrivals of the window (Poisson quantile at `overflowProbability`) plus what is
 * already queued, and need not be deeper than the children drain before `giveUpSeconds`:
 * drainable = floor(servers × (giveUp − window − service) / service).
 */
export function recommendBacklog(input: BacklogInput): BacklogRecommendation {
  const rate = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const window = finiteAtLeast('windowSeconds', input.windowSeconds, 0);
  const servers = integerIn('servers', input.servers, 1, MAX_COUNT);
  const service = finitePositive('serviceTimeSeconds', input.serviceTimeSeconds);
  const giveUp = finitePositive('giveUpSeconds', input.giveUpSeconds);
  const queued = finiteAtLeast('queuedConnections', input.queuedConnections ?? 0, 0);
  const eps = probability(
    'overflowProbability',
    input.overflowProbability ?? DEFAULT_OVERFLOW_PROBABILITY,
  );
  if (eps === 0) throw new FpmkitInvalidOptionError('overflowProbability', 'must be above 0');
  const current = integerIn(
    'currentSomaxconn',
    input.currentSomaxconn ?? DEFAULT_SOMAXCONN,
    0,
    MAX_BACKLOG,
  );
  const minBacklog = integerIn(
    'minBacklog',
    input.minBacklog ?? DEFAULT_MIN_BACKLOG,
    0,
    MAX_BACKLOG,
  );
  const mean = rate * window;
  const needed = poissonQuantile(mean, eps) + Math.ceil(queued);
  const drainable = Math.min(
    MAX_BACKLOG,
    Math.max(1, Math.floor((servers * Math.max(0, giveUp - window - service)) / service)),
  );
  const absorbs = needed <= drainable;
  const wanted = Math.max(needed - 1, minBacklog);
  const backlog = Math.max(0, Math.min(wanted, drainable - 1));
  const somaxconn = Math.max(current, backlog);
  const queueCapacity = acceptQueueCapacity({ listenBacklog: backlog, somaxconn });
  const expectedRefused = poissonExpectedExcess(
    mean,
    Math.max(0, queueCapacity - Math.ceil(queued)),
  );
  const text = absorbs
    ? `${rate} conn/s for ${window} s brings ${mean.toFixed(1)} connections on average; ${needed} slots hold them with probability ${1 - eps}; backlog ${backlog} (queue ${queueCapacity}) covers that${backlog === minBacklog && needed - 1 < minBacklog ? ` with the floor of ${minBacklog}` : ''}, and ${servers} children drain ${drainable} queued connections within ${giveUp} s`
    : `${needed} queue slots would be needed, but ${servers} children drain only ${drainable} before the web server gives up after ${giveUp} s: shorten the window or add children`;
  return {
    backlog,
    somaxconn,
    queueCapacity,
    neededQueueCapacity: needed,
    drainableQueueCapacity: drainable,
    absorbs,
    expectedRefused,
    text,
  };
}
