import { FpmkitInvalidOptionError } from '../errors.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';

/**
 * Queueing models for a pool of FPM children: Erlang C (M/M/c, unbounded queue) and M/M/c/K
 * (a bounded accept queue whose overflow nginx turns into 502s). Everything is computed with
 * the Erlang B recursion and ratio sums, never factorials or powers of the offered load, so the
 * results stay finite and accurate from 1 to 1,000,000 servers.
 */

/**
 * Most servers the models accept. The Erlang B recursion is O(servers): a million steps take
 * a few milliseconds, ten times the largest FPM pool anyone runs.
 */
export const MAX_SIZING_SERVERS = 1_000_000;

/** Largest service-time coefficient of variation accepted; real workloads stay far below 10. */
export const MAX_SERVICE_TIME_CV = 100;

/** Largest `capacity` for `mmck`: the queue sums are O(log capacity), so only safe integers matter. */
export const MAX_SIZING_CAPACITY = Number.MAX_SAFE_INTEGER;

/**
 * Erlang B: the probability that all `servers` are busy in an M/M/c/c loss system offered
 * `offeredLoad` erlangs (arrival rate × mean service time). Uses the recursion
 * B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), which only shrinks values, so it neither
 * overflows nor loses relative accuracy; tiny results underflow gracefully to 0.
 */
export function erlangB(servers: number, offeredLoad: number): number {
  integerIn('servers', servers, 0, MAX_SIZING_SERVERS);
  finiteAtLeast('offeredLoad', offeredLoad, 0);
  return erlangBUnchecked(servers, offeredLoad);
}

function erlangBUnchecked(servers: number, a: number): number {
  let b = 1;
  for (let k = 1; k <= servers && b > 0; k++) {
    const ab = a * b;
    b = ab / (k + ab);
  }
  return b;
}

/** Checks a coefficient of variation: finite, from 0 to `MAX_SERVICE_TIME_CV`. */
export function serviceTimeCv(cv: number, option = 'serviceTimeCv'): number {
  finiteAtLeast(option, cv, 0);
  if (cv > MAX_SERVICE_TIME_CV) {
    throw new FpmkitInvalidOptionError(option, `must be at most ${MAX_SERVICE_TIME_CV}, got ${cv}`);
  }
  return cv;
}

/** Erlang C from Erlang B: C = c·B / (c − a·(1 − B)); valid for a < c. */
function erlangCFromB(servers: number, a: number, b: number): number {
  return (servers * b) / (servers - a * (1 - b));
}

/**
 * Input of the Erlang C (M/M/c) formulas: arrival rate (per second), service time (seconds) and
 * servers.
 */
export interface ErlangCInput {
  /** Mean arrival rate in requests per second (Poisson arrivals assumed). */
  arrivalRate: number;
  /** Mean service time of one request in seconds (time a child is busy with it). */
  serviceTimeSeconds: number;
  /** Number of servers (FPM children able to run requests at once). */
  servers: number;
  /**
   * Coefficient of variation of the service time (standard deviation / mean). When given, the
   * waits are scaled by the Allen-Cunneen factor (1 + cv²)/2: 0 for a fixed service time halves
   * them, 1 leaves the exponential model unchanged. Absent: exponential service (M/M/c).
   */
  serviceTimeCv?: number | undefined;
  /**
   * Coefficient of variation of the times between arrivals; 1 (the default) for Poisson. With
   * it the Allen-Cunneen factor is (arrivalCv² + serviceTimeCv²)/2 (G/G/c).
   */
  arrivalCv?: number | undefined;
}

/** What Erlang C predicts for a pool. Times in seconds; no field is ever NaN. */
export interface ErlangCResult {
  /** Offered load a = arrival rate × service time, in erlangs (mean busy children). */
  offeredLoad: number;
  /** Utilisation ρ = a / servers; 1 or more means the queue grows without bound. */
  utilization: number;
  /** False when ρ ≥ 1: then the waits below are `Infinity` and `probabilityOfWait` is 1. */
  stable: boolean;
  /** Share of requests that find every child busy and wait in the accept queue. */
  probabilityOfWait: number;
  /** Mean time a request waits in the queue before a child accepts it. */
  meanWaitSeconds: number;
  /** Mean number of requests waiting (Little's law: L = λ · W). */
  meanQueueLength: number;
  /** Mean wait plus the mean service time. */
  meanResponseSeconds: number;
  /** The Allen-Cunneen factor applied to the waits: (arrivalCv² + serviceTimeCv²)/2, 1 for M/M/c. */
  waitCorrection: number;
  /**
   * Queue wait not exceeded by a share `p` of requests (p in [0, 1]): 0 when p ≤ 1 − P(wait),
   * else ln(P(wait) / (1 − p)) / (c·μ − λ), times the correction. `Infinity` when unstable.
   */
  waitQuantileSeconds(p: number): number;
  /** P(queue wait > t): P(wait)·exp(−(c·μ − λ)·t / correction). */
  waitExceedanceProbability(seconds: number): number;
}

/**
 * Erlang C (M/M/c): Poisson arrivals, `servers` identical children, an unbounded FIFO queue.
 * The waiting time is exactly distributed as P(W > t) = C·e^{−(cμ−λ)t}, so quantiles are
 * closed-form. An unstable load (ρ ≥ 1) returns `stable: false` with infinite waits.
 *
 * @example erlangC({ arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4 }).meanWaitSeconds
 */
export function erlangC(input: ErlangCInput): ErlangCResult {
  const lambda = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const s = finitePositive('serviceTimeSeconds', input.serviceTimeSeconds);
  const c = integerIn('servers', input.servers, 1, MAX_SIZING_SERVERS);
  const cv = input.serviceTimeCv === undefined ? 1 : serviceTimeCv(input.serviceTimeCv);
  const ca = input.arrivalCv === undefined ? 1 : serviceTimeCv(input.arrivalCv, 'arrivalCv');
  const a = lambda * s;
  if (!Number.isFinite(a)) finiteAtLeast('arrivalRate × serviceTimeSeconds', a, 0);
  const rho = a / c;
  const correction = (ca * ca + cv * cv) / 2;
  const quantileOf = (pw: number, decay: number) => (p: number) => {
    probability('p', p);
    if (pw === 0 || p <= 1 - pw) return 0;
    if (p === 1 || decay === 0) return Number.POSITIVE_INFINITY;
    return (correction * Math.log(pw / (1 - p))) / decay;
  };
  if (rho >= 1) {
    return {
      offeredLoad: a,
      utilization: rho,
      stable: false,
      probabilityOfWait: 1,
      meanWaitSeconds: Number.POSITIVE_INFINITY,
      meanQueueLength: Number.POSITIVE_INFINITY,
      meanResponseSeconds: Number.POSITIVE_INFINITY,
      waitCorrection: correction,
      waitQuantileSeconds: (p) => {
        probability('p', p);
        return p === 0 ? 0 : Number.POSITIVE_INFINITY;
      },
      waitExceedanceProbability: (t) => {
        finiteAtLeast('seconds', t, 0);
        return 1;
      },
    };
  }
  const pw = Math.min(1, erlangCFromB(c, a, erlangBUnchecked(c, a)));
  // Decay rate of the waiting-time tail: c·μ − λ, written as (c − a)/s to avoid cancellation.
  const decay = (c - a) / s;
  const meanWait = (correction * pw) / decay;
  return {
    offeredLoad: a,
    utilization: rho,
    stable: true,
    probabilityOfWait: pw,
    meanWaitSeconds: meanWait,
    meanQueueLength: lambda * meanWait,
    meanResponseSeconds: meanWait + s,
    waitCorrection: correction,
    waitQuantileSeconds: quantileOf(pw, decay),
    waitExceedanceProbability: (t) => {
      finiteAtLeast('seconds', t, 0);
      if (pw === 0) return 0;
      return t === 0 ? pw : pw * Math.exp((-decay * t) / correction);
    },
  };
}

/**
 * Input of the M/M/c/K model: arrival rate (per second), service time (seconds), servers and places
 * in the queue.
 */
export interface MmckInput {
  /** Mean arrival rate in connections per second (Poisson). */
  arrivalRate: number;
  /** Mean service time in seconds (exponential). */
  serviceTimeSeconds: number;
  /** Children serving at once. */
  servers: number;
  /**
   * Connections the system holds: servers + queue slots. For an FPM pool that is
   * max_children + the accept queue (effective backlog + 1).
   */
  capacity: number;
}

/** What the M/M/c/K model predicts: load, refusal rate and waiting. */
export interface MmckResult {
  offeredLoad: number;
  /**
   * Share of arrivals that find the system full and are refused (nginx: EAGAIN → 502).
   * Also the long-run 502 rate.
   */
  blockingProbability: number;
  /** Share of admitted requests that wait in the queue. */
  probabilityOfWait: number;
  /** Mean number of connections waiting in the accept queue. */
  meanQueueLength: number;
  /** Mean queue wait of an admitted request (Little's law: Lq / throughput). */
  meanWaitSeconds: number;
  /** Admitted requests per second: λ · (1 − blocking). */
  throughput: number;
  /** Mean share of children busy: throughput · service time / servers. */
  utilization: number;
}

/** Σ_{i<n} r^i, Σ_{i<n} i·r^i and r^n, for 0 ≤ r ≤ 1. */
interface GeometricSums {
  s0: number;
  s1: number;
  power: number;
}

/**
 * Sums of a geometric run built by doubling, like exponentiation by squaring: O(log n) steps,
 * each adding positive terms only, so there is no cancellation even when r is within 1e-12 of 1.
 */
function geometricSums(r: number, n: number): GeometricSums {
  let accS0 = 0;
  let accS1 = 0;
  let accLen = 0;
  let accPow = 1;
  let blkS0 = 1;
  let blkS1 = 0;
  let blkLen = 1;
  let blkPow = r;
  let k = n;
  while (k > 0) {
    if (k % 2 === 1) {
      accS1 += accPow * (blkS1 + accLen * blkS0);
      accS0 += accPow * blkS0;
      accLen += blkLen;
      accPow *= blkPow;
    }
    k = Math.floor(k / 2);
    if (k === 0) break;
    const s1 = blkS1 + blkPow * (blkS1 + blkLen * blkS0);
    blkS0 *= 1 + blkPow;
    blkS1 = s1;
    blkLen *= 2;
    blkPow *= blkPow;
  }
  return { s0: accS0, s1: accS1, power: accPow };
}

/**
 * M/M/c/K: Poisson arrivals, `servers` exponential children, room for `capacity` connections
 * in total; arrivals that find it full are refused. Stable for any load. The state weights are
 * written relative to Erlang B (the block of states up to c sums to 1, state c weighs B), and
 * the queue part is a geometric run summed by doubling, scaled from the top when ρ > 1, so
 * nothing overflows for any capacity.
 */
export function mmck(input: MmckInput): MmckResult {
  const lambda = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const s = finitePositive('serviceTimeSeconds', input.serviceTimeSeconds);
  const c = integerIn('servers', input.servers, 1, MAX_SIZING_SERVERS);
  const cap = integerIn('capacity', input.capacity, c, MAX_SIZING_CAPACITY);
  const a = lambda * s;
  if (!Number.isFinite(a)) finiteAtLeast('arrivalRate × serviceTimeSeconds', a, 0);
  if (a === 0) {
    return {
      offeredLoad: 0,
      blockingProbability: 0,
      probabilityOfWait: 0,
      meanQueueLength: 0,
      meanWaitSeconds: 0,
      throughput: 0,
      utilization: 0,
    };
  }
  const m = cap - c;
  const b = erlangBUnchecked(c, a);
  const rho = a / c;
  let blocking: number;
  let atLeastC: number;
  let lq: number;
  if (rho < 1) {
    // Weights: states ≤ c sum to 1; state c + j weighs B·ρ^j.
    const g = geometricSums(rho, m);
    const z = 1 + b * rho * g.s0;
    blocking = (b * g.power) / z;
    atLeastC = (b * (1 + rho * g.s0)) / z;
    lq = (b * rho * (g.s1 + g.s0)) / z;
  } else {
    // Scale every weight by 1/(B·ρ^m) so the top state weighs 1 and the rest shrink.
    const r = c / a;
    const g = geometricSums(r, m);
    const e = Math.exp(-Math.log(b) - m * Math.log(rho));
    const z = e + g.s0;
    blocking = 1 / z;
    atLeastC = (g.s0 + g.power) / z;
    lq = (m * g.s0 - g.s1) / z;
  }
  blocking = Math.min(1, blocking);
  const admitted = 1 - blocking;
  const throughput = lambda * admitted;
  const waiting = Math.max(0, atLeastC - blocking);
  return {
    offeredLoad: a,
    blockingProbability: blocking,
    probabilityOfWait: admitted > 0 ? Math.min(1, waiting / admitted) : 1,
    meanQueueLength: lq,
    meanWaitSeconds: throughput > 0 ? lq / throughput : 0,
    throughput,
    utilization: Math.min(1, (throughput * s) / c),
  };
}
