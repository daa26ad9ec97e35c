import {
  PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
} from '../defaults.js';
/**
 * What the planner takes: the demand of each pool, the host they share, and the defaults and
 * limits that fill what the caller leaves out.
 */
import type { ConcurrencyTarget } from './concurrency.js';
import type { PlanPmMode } from './pm.js';

/** pm.max_requests when no leak was measured: recycles a worker long before a typical leak hurts. */
export const UNMEASURED_LEAK_MAX_REQUESTS = 1000;

/** Default target: 99 % of requests wait at most 100 ms for a child. */
export const DEFAULT_TARGET: ConcurrencyTarget = { waitSeconds: 0.1, percentile: 0.99 };
/** Default longest legitimate request, seconds: PHP's own `max_execution_time` default (30). */
export const DEFAULT_LONGEST_REQUEST_SECONDS = PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS;
/** PHP's default `memory_limit`, 128 MiB: fpmkit/doctor's `PHP_DEFAULT_MEMORY_LIMIT_BYTES`. */
export const DEFAULT_MEMORY_LIMIT_BYTES = PHP_DEFAULT_MEMORY_LIMIT_BYTES;
/** PHP's default `post_max_size`, 8 MiB: fpmkit/doctor's `PHP_DEFAULT_POST_MAX_SIZE_BYTES`. */
export const DEFAULT_POST_MAX_SIZE_BYTES = PHP_DEFAULT_POST_MAX_SIZE_BYTES;
/**
 * Share of a request's service time spent on CPU when a pool does not say (`cpuShare`): a
 * typical PHP page waits on its database and other services for about three quarters of its
 * time. `planPool`, `planHost` and `fpmkit plan` all use it, so the CPUs always bound a plan:
 * a pool cannot use more than floor(cores / cpuShare) children, and Σ rate × service time ×
 * cpuShare must stay below the cores. Give `cpuShare` (`--cpu-share`) when it is known; 0 means
 * all I/O, and the cores then bound nothing.
 */
export const DEFAULT_CPU_SHARE = 0.25;
/** Extra children above the need, as a share, when memory and CPU allow. */
export const DEFAULT_HEADROOM = 0.25;
/** Growth a leaking worker may show before recycling, as a share of its measured size. */
export const DEFAULT_GROWTH_BUDGET_FRACTION = 0.25;
/** nginx connect timeout planned, seconds: UNIX connects never wait; TCP retries SYNs at 1 and 3 s. */
export const PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS = 5;
/** Most pools one host plan takes. */
export const MAX_PLAN_POOLS = 10_000;
/** Smallest LimitNOFILE planned: room for sockets to databases and caches in every worker. */
export const MIN_PLANNED_LIMIT_NOFILE = 65_536;
/** File descriptors the FPM master holds per child: the child's stdout and stderr pipes. */
export const MASTER_FDS_PER_CHILD = 2;
/** File descriptors the master holds besides its children's pipes: sockets, logs, events. */
export const MASTER_BASE_FDS = 1024;

/** What one pool must serve and what is known about its requests. */
export interface PoolDemand {
  /** Pool name (the `[name]` section). */
  name: string;
  /** `listen` address. @default `/run/php/<name>.sock` */
  listenAddress?: string | undefined;
  /**
   * `pm.status_listen` (FPM 8.0+): a second socket, served by a hidden pool, that answers the
   * status page while every worker of this pool is busy and its queue is full. The plan also
   * sets `pm.status_path = /status`. `false` leaves both out. @default next to the pool's
   * socket: `/run/php/shop.sock` gives `/run/php/shop-status.sock`; a TCP pool gets
   * `/run/php/<name>-status.sock`
   */
  statusListen?: string | false | undefined;
  /** Peak arrival rate, requests per second. */
  arrivalRate: number;
  /** Mean service time, seconds (time a child is busy with one request). */
  serviceTimeSeconds: number;
  /** Coefficient of variation of the service time; 0 for a fixed time. Absent: exponential. */
  serviceTimeCv?: number | undefined;
  /**
   * Share of the service time spent on CPU, 0 to 1 (0: all waiting on I/O).
   * @default 0.25 ({@link DEFAULT_CPU_SHARE})
   */
  cpuShare?: number | undefined;
  /** Longest legitimate request, seconds; sets the timeout corridor. @default 30 */
  longestRequestSeconds?: number | undefined;
  /** @default { waitSeconds: 0.1, percentile: 0.99 } */
  target?: ConcurrencyTarget | undefined;
  /** @default 'dynamic' */
  mode?: PlanPmMode | undefined;
  /** Measured worker PSS samples, bytes. Without them `memoryLimitBytes` bounds the worker. */
  pssSamplesBytes?: readonly number[] | undefined;
  /** Percentile of the samples. @default 0.95 */
  workerPercentile?: number | undefined;
  /** PHP memory_limit in bytes or `'unlimited'`. @default 128 MiB */
  memoryLimitBytes?: number | 'unlimited' | undefined;
  /** Measured growth per request, bytes; sets pm.max_requests. Absent: no recycling. */
  leakBytesPerRequest?: number | undefined;
  /** Growth allowed before recycling as a share of the worker size. @default 0.25 */
  growthBudgetFraction?: number | undefined;
  /** Weight when memory is shared by weight. @default 1 */
  weight?: number | undefined;
  /** Children above the need, as a share. @default 0.25 */
  headroom?: number | undefined;
  /** No-accept window of a reload, seconds, when known; else from the timeout corridor. */
  reloadWindowSeconds?: number | undefined;
  /**
   * Bytes one worker takes, when known from elsewhere; overrides `pssSamplesBytes` and
   * `memoryLimitBytes` as the worker size (leak growth is still added).
   */
  workerBytes?: number | undefined;
  /** `user` of the pool's workers (needed when FPM runs as root). Absent: not set. */
  user?: string | undefined;
  /** `group` of the pool's workers. Absent: not set (FPM uses the user's group). */
  group?: string | undefined;
  /** `listen.owner` of a UNIX socket: the web server's user must be able to connect. */
  listenOwner?: string | undefined;
  /** `listen.group` of a UNIX socket. */
  listenGroup?: string | undefined;
  /** `listen.mode` of a UNIX socket, e.g. `0o660`. */
  listenMode?: number | undefined;
}

/** The host the pools share. */
export interface HostResources {
  /** CPU cores available to PHP; with `cpuShare` they cap the children and the traffic. */
  cores: number;
  /** Host memory (MemTotal), bytes. */
  totalMemoryBytes: number;
  /** cgroup `memory.max` values from the leaf up; `'unlimited'` for `max`. */
  cgroupLimitsBytes?: ReadonlyArray<number | 'unlimited'> | undefined;
  /** @default max(256 MiB, 10 % of the limit) */
  reserveBytes?: number | undefined;
  /** @default 0 */
  otherServicesBytes?: number | undefined;
  /** Current net.core.somaxconn. @default 4096 */
  currentSomaxconn?: number | undefined;
  /** Current listen.backlog; -1 means somaxconn. Used for the "current settings" prediction. */
  currentListenBacklog?: number | undefined;
  /** Restart time of FPM after SIGUSR2, seconds. @default 0.05 */
  restartSeconds?: number | undefined;
  /** Accepted chance that one reload refuses a connection. @default 0.001 */
  overflowProbability?: number | undefined;
  /** Smallest backlog planned. @default 511 */
  minBacklog?: number | undefined;
  /** How memory beyond the need is shared: by need (`demand`) or by `weight`. @default 'demand' */
  share?: 'demand' | 'weight' | undefined;
}

/** Input of {@link planPool}: the demand of one pool and the host it runs on. */
export type PlanPoolInput = PoolDemand & HostResources;

export interface PlanHostInput extends HostResources {
  pools: readonly PoolDemand[];
}
