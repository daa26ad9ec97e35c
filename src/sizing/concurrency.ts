import { FpmkitInvalidOptionError } from '../errors.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';
import { type ErlangCResult, erlangC, MAX_SIZING_SERVERS, serviceTimeCv } from './queueing.js';

/** What the pool must achieve. */
export type ConcurrencyTarget =
  | {
      /** Queue wait the `percentile` of requests must not exceed, seconds. */
      waitSeconds: number;
      /** @default 0.99 */
      percentile?: number;
    }
  | {
      /** Largest acceptable share of requests that wait at all, in (0, 1]. */
      probabilityOfWait: number;
    };

/** Input of {@link childrenForTarget}: load (requests per second) and service time (seconds). */
export interface ConcurrencyInput {
  /** Mean arrival rate, requests per second. */
  arrivalRate: number;
  /** Mean service time, seconds. */
  serviceTimeSeconds: number;
  /** Coefficient of variation of the service time (Allen-Cunneen); absent = exponential. */
  serviceTimeCv?: number | undefined;
  target: ConcurrencyTarget;
  /**
   * Share of the service time spent on CPU (0 = all waiting on I/O, 1 = all computing).
   * @default 0
   */
  cpuShare?: number | undefined;
  /** CPU cores the pool may use; needed when cpuShare > 0. */
  cores?: number | undefined;
  /** Most children memory allows (`maxChildrenForMemory`); absent = no memory cap. */
  memoryMaxChildren?: number | undefined;
}

/** How many children the load needs, and what capped it. */
export interface ConcurrencyNeed {
  /** Children to run: the need, unless a cap is lower. */
  children: number;
  /** Smallest number of children that meets the target. */
  neededChildren: number;
  /** Children beyond which CPU-bound work only shares cores: floor(cores / cpuShare). */
  cpuMaxChildren: number | undefined;
  memoryMaxChildren: number | undefined;
  /** What set `children`. */
  boundBy: 'target' | 'cpu' | 'memory';
  /** True when `children` meets the target. */
  targetMet: boolean;
  /** Mean busy children, λ·S (Little's law), and mean busy cores, λ·S·cpuShare. */
  meanBusyChildren: number;
  meanBusyCores: number;
  /** Erlang C at `children`. */
  prediction: ErlangCResult;
  text: string;
}

function meets(r: ErlangCResult, target: ConcurrencyTarget): boolean {
  if (!r.stable) return false;
  if ('probabilityOfWait' in target) return r.probabilityOfWait <= target.probabilityOfWait;
  return r.waitQuantileSeconds(target.percentile ?? 0.99) <= target.waitSeconds;
}

/**
 * Children needed for a target, by Erlang C with the Allen-Cunneen correction: the smallest c
 * that meets it (waits fall as c rises, so the first hit is the minimum), then capped by CPU
 * (CPU-bound work cannot use more children than cores / cpuShare) and by memory. The search is
 * one pass of the Erlang B recursion, O(c).
 */
export function childrenForTarget(input: ConcurrencyInput): ConcurrencyNeed {
  const lambda = finiteAtLeast('arrivalRate', input.arrivalRate, 0);
  const s = finitePositive('serviceTimeSeconds', input.serviceTimeSeconds);
  const cv = input.serviceTimeCv;
  if (cv !== undefined) serviceTimeCv(cv);
  const target = input.target;
  if ('probabilityOfWait' in target) {
    probability('target.probabilityOfWait', target.probabilityOfWait);
    if (target.probabilityOfWait === 0) {
      throw new FpmkitInvalidOptionError('target.probabilityOfWait', 'must be above 0');
    }
  } else {
    finiteAtLeast('target.waitSeconds', target.waitSeconds, 0);
    probability('target.percentile', target.percentile ?? 0.99, true);
  }
  const cpuShare = probability('cpuShare', input.cpuShare ?? 0);
  let cpuMax: number | undefined;
  if (cpuShare > 0) {
    if (input.cores === undefined) {
      throw new FpmkitInvalidOptionError('cores', 'is required when cpuShare > 0');
    }
    const cores = finitePositive('cores', input.cores);
    cpuMax = Math.max(1, Math.floor(cores / cpuShare));
  }
  const memMax =
    input.memoryMaxChildren === undefined
      ? undefined
      : integerIn('memoryMaxChildren', input.memoryMaxChildren, 0, Number.MAX_SAFE_INTEGER);
  const a = lambda * s;
  const base = {
    arrivalRate: lambda,
    serviceTimeSeconds: s,
    ...(cv === undefined ? {} : { serviceTimeCv: cv }),
  };
  // Erlang B recursion carried along the search; C follows from B without a second pass.
  let b = 1;
  let needed = 0;
  for (let c = 1; c <= MAX_SIZING_SERVERS; c++) {
    const ab = a * b;
    b = ab / (c + ab);
    if (c <= a) continue;
    const pw = Math.min(1, (c * b) / (c - a * (1 - b)));
    let ok: boolean;
    if ('probabilityOfWait' in target) ok = pw <= target.probabilityOfWait;
    else {
      const p = target.percentile ?? 0.99;
      const k = cv === undefined ? 1 : (1 + cv * cv) / 2;
      ok = pw <= 1 - p || (k * Math.log(pw / (1 - p)) * s) / (c - a) <= target.waitSeconds;
    }
    if (ok) {
      needed = c;
      break;
    }
  }
  if (needed === 0) {
    throw new FpmkitInvalidOptionError(
      'target',
      `cannot be met with up to ${MAX_SIZING_SERVERS} children`,
    );
  }
  let children = needed;
  let boundBy: ConcurrencyNeed['boundBy'] = 'target';
  if (cpuMax !== undefined && cpuMax < children) {
    children = cpuMax;
    boundBy = 'cpu';
  }
  if (memMax !== undefined && memMax < children) {
    children = memMax;
    boundBy = 'memory';
  }
  const prediction = erlangC({ ...base, servers: Math.max(1, children) });
  const targetMet = children >= 1 && meets(prediction, target);
  const goal =
    'probabilityOfWait' in target
      ? `P(wait) ≤ ${target.probabilityOfWait}`
      : `p${((target.percentile ?? 0.99) * 100).toFixed(0)} queue wait ≤ ${target.waitSeconds} s`;
  const caps = [
    cpuMax === undefined ? '' : `CPU allows ${cpuMax} (cores / cpuShare)`,
    memMax === undefined ? '' : `memory allows ${memMax}`,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    children,
    neededChildren: needed,
    cpuMaxChildren: cpuMax,
    memoryMaxChildren: memMax,
    boundBy,
    targetMet,
    meanBusyChildren: a,
    meanBusyCores: a * cpuShare,
    prediction,
    text: `${lambda} req/s × ${s} s = ${a.toFixed(2)} busy children on average (Little's law); Erlang C${cv === undefined || cv === 1 ? '' : ` with Allen-Cunneen factor ${((1 + cv * cv) / 2).toFixed(2)}`} needs ${needed} for ${goal}${caps ? `; ${caps}` : ''}`,
  };
}
