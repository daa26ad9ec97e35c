import { FpmkitInvalidOptionError } from '../errors.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';

const MiB = 1024 * 1024;

/** Smallest reserve kept back from PHP children: room for sshd, logging, the kernel's slab. */
export const MIN_RESERVE_BYTES = 256 * MiB;
/** Share of the limit kept back by default (page cache for code and sessions, spikes). */
export const DEFAULT_RESERVE_FRACTION = 0.1;
/** Percentile of PSS samples taken as the worker size. */
export const DEFAULT_WORKER_PERCENTILE = 0.95;
/** Memory a worker holds beyond `memory_limit` (interpreter, opcache mappings it touches). */
export const DEFAULT_WORKER_OVERHEAD_BYTES = 16 * MiB;

/** Input of {@link memoryBudget}: host memory and reservations, in bytes. */
export interface MemoryBudgetInput {
  /** Physical memory of the host in bytes (MemTotal). */
  totalBytes: number;
  /**
   * Memory limits of the cgroups the pool runs in, from the leaf up (`memory.max`);
   * `'unlimited'` for `max`. The tightest one counts.
   */
  cgroupLimitsBytes?: ReadonlyArray<number | 'unlimited'> | undefined;
  /**
   * Bytes kept back for the system. @default max(256 MiB, 10 % of the limit)
   */
  reserveBytes?: number | undefined;
  /** Bytes other services on the host need (databases, caches, the web server). @default 0 */
  otherServicesBytes?: number | undefined;
}

/** Memory left for PHP children (bytes), with what was set aside. */
export interface MemoryBudget {
  /** Bytes left for PHP children. May be 0, never negative. */
  budgetBytes: number;
  /** The limit the budget starts from. */
  limitBytes: number;
  /** Which limit: host memory or a cgroup's `memory.max`. */
  source: 'total' | 'cgroup';
  reserveBytes: number;
  otherServicesBytes: number;
  text: string;
}

/**
 * Memory for PHP children: the tightest of host memory and cgroup limits, minus a reserve and
 * what other services need.
 */
export function memoryBudget(input: MemoryBudgetInput): MemoryBudget {
  const total = finitePositive('totalBytes', input.totalBytes);
  let limit = total;
  let source: MemoryBudget['source'] = 'total';
  for (const [i, l] of (input.cgroupLimitsBytes ?? []).entries()) {
    if (l === 'unlimited') continue;
    finitePositive(`cgroupLimitsBytes[${i}]`, l);
    if (l < limit) {
      limit = l;
      source = 'cgroup';
    }
  }
  const reserve =
    input.reserveBytes === undefined
      ? Math.max(MIN_RESERVE_BYTES, Math.round(limit * DEFAULT_RESERVE_FRACTION))
      : finiteAtLeast('reserveBytes', input.reserveBytes, 0);
  const other = finiteAtLeast('otherServicesBytes', input.otherServicesBytes ?? 0, 0);
  const budget = Math.max(0, limit - reserve - other);
  return {
    budgetBytes: budget,
    limitBytes: limit,
    source,
    reserveBytes: reserve,
    otherServicesBytes: other,
    text: `${source === 'cgroup' ? 'cgroup memory.max' : 'host memory'} ${mib(limit)} − reserve ${mib(reserve)}${input.reserveBytes === undefined ? ' (max of 256 MiB and 10 %)' : ''} − other services ${mib(other)} = ${mib(budget)}`,
  };
}

/** Input of {@link workerSize}: measured PSS samples or `memory_limit`, in bytes. */
export interface WorkerSizeInput {
  /** Measured PSS of workers in bytes (smaps_rollup `Pss:`), one sample per worker and time. */
  pssSamplesBytes?: readonly number[] | undefined;
  /** Percentile of the samples to use. @default 0.95 */
  percentile?: number | undefined;
  /** Growth a worker shows before `pm.max_requests` recycles it, bytes. @default 0 */
  growthBytes?: number | undefined;
  /** PHP `memory_limit` in bytes, or `'unlimited'` for -1; the upper bound used without samples. */
  memoryLimitBytes?: number | 'unlimited' | undefined;
  /** Memory beyond `memory_limit` a worker holds. @default 16 MiB */
  overheadBytes?: number | undefined;
}

/** The memory of one worker to size with, in bytes, and where the figure came from. */
export interface WorkerSize {
  workerBytes: number;
  /** Where the figure came from: a percentile of measured PSS, or memory_limit as an upper bound. */
  source: 'pss-samples' | 'memory-limit';
  text: string;
}

/**
 * Bytes to budget per child. From PSS samples: the chosen percentile (nearest rank) plus the
 * growth before recycling. Without samples: `memory_limit` + overhead, an upper bound that a
 * request can reach but the average child does not; plans sized that way are conservative.
 */
export function workerSize(input: WorkerSizeInput): WorkerSize {
  const growth = finiteAtLeast('growthBytes', input.growthBytes ?? 0, 0);
  const samples = input.pssSamplesBytes ?? [];
  if (samples.length > 0) {
    const p = probability('percentile', input.percentile ?? DEFAULT_WORKER_PERCENTILE);
    const sorted = samples
      .map((v, i) => finitePositive(`pssSamplesBytes[${i}]`, v))
      .sort((x, y) => x - y);
    const rank = Math.max(1, Math.ceil(p * sorted.length));
    const q = sorted[rank - 1]!;
    return {
      workerBytes: Math.ceil(q + growth),
      source: 'pss-samples',
      text: `p${Math.round(p * 100)} of ${sorted.length} PSS samples ${mib(q)} + growth before recycling ${mib(growth)}`,
    };
  }
  const limit = input.memoryLimitBytes;
  if (limit === undefined || limit === 'unlimited') {
    throw new FpmkitInvalidOptionError(
      'pssSamplesBytes',
      limit === 'unlimited'
        ? 'memory_limit is -1 (unlimited), so it bounds nothing: measure PSS samples'
        : 'give PSS samples or memory_limit',
    );
  }
  finitePositive('memoryLimitBytes', limit);
  const overhead = finiteAtLeast(
    'overheadBytes',
    input.overheadBytes ?? DEFAULT_WORKER_OVERHEAD_BYTES,
    0,
  );
  return {
    workerBytes: Math.ceil(limit + overhead),
    source: 'memory-limit',
    text: `no PSS samples: memory_limit ${mib(limit)} + overhead ${mib(overhead)} as an upper bound`,
  };
}

/** Input of {@link maxChildrenForMemory}: memory available and worker size, in bytes. */
export interface MaxChildrenForMemoryInput {
  /** Memory available, bytes (host total, a cgroup limit, or a `memoryBudget` result). */
  memoryBytes: number;
  /** Bytes kept back from it. */
  reserveBytes: number;
  /** Bytes per child (`workerSize`). */
  workerBytes: number;
  /** Bytes other services need. @default 0 */
  otherServicesBytes?: number | undefined;
  /** Bytes the pool needs once whatever its size (master, opcache shared memory). @default 0 */
  sharedBytes?: number | undefined;
}

/** floor((memory − reserve − other services − shared) / worker), never below 0. */
export function maxChildrenForMemory(input: MaxChildrenForMemoryInput): number {
  const memory = finiteAtLeast('memoryBytes', input.memoryBytes, 0);
  const reserve = finiteAtLeast('reserveBytes', input.reserveBytes, 0);
  const worker = finitePositive('workerBytes', input.workerBytes);
  const other = finiteAtLeast('otherServicesBytes', input.otherServicesBytes ?? 0, 0);
  const shared = finiteAtLeast('sharedBytes', input.sharedBytes ?? 0, 0);
  return Math.max(0, Math.floor((memory - reserve - other - shared) / worker));
}

/** Input of {@link maxRequestsForLeak}: leak per request and growth allowed, in bytes. */
export interface MaxRequestsInput {
  /** Bytes a worker grows per request on average (a leak), from PSS over requests. */
  leakBytesPerRequest: number;
  /** Growth allowed before the worker is recycled, bytes. */
  growthBudgetBytes: number;
}

/** Highest value `pm.max_requests` takes (FPM stores it as an int). */
export const MAX_PM_MAX_REQUESTS = 2_147_483_647;

/**
 * `pm.max_requests` that recycles a leaking worker before it outgrows its budget:
 * floor(growth budget / leak per request), at least 1. A leak of 0 gives 0 (never recycle).
 */
export function maxRequestsForLeak(input: MaxRequestsInput): number {
  const leak = finiteAtLeast('leakBytesPerRequest', input.leakBytesPerRequest, 0);
  const budget = finiteAtLeast('growthBudgetBytes', input.growthBudgetBytes, 0);
  if (leak === 0) return 0;
  return integerIn(
    'maxRequests',
    Math.min(MAX_PM_MAX_REQUESTS, Math.max(1, Math.floor(budget / leak))),
    1,
    MAX_PM_MAX_REQUESTS,
  );
}

/** Bytes as MiB with one decimal, for explanations. */
export function mib(bytes: number): string {
  const v = bytes / MiB;
  return `${Number.isInteger(v) ? v : v.toFixed(1)} MiB`;
}
