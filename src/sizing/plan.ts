/**
 * Result shapes of a sizing plan. Each part is the model of the area that renders it (DESIGN.md):
 * `pool` is a `PoolConfig` and `global` a `GlobalConfig` (fpm), `kernel` a `KernelSettings`
 * (kernel), `nginx` an `NginxFastCGISettings` and `php` a `PhpIniSettings` (web), so a plan
 * goes straight to `renderFpmConfig`, `renderSysctlConf`, `renderNginxFastCGI` and
 * `renderPhpIni` (or all at once through `renderPlan`).
 */
import type { GlobalConfig, PoolConfig } from '../fpm/schema.js';
import type { KernelSettings } from '../kernel/settings.js';
import type { NginxFastCGISettings } from '../web/nginx.js';
import type { PhpIniSettings } from '../web/php-ini.js';

/**
 * The pool a plan sets: a full `PoolConfig`. The planner fills `name`, `listen.address`,
 * `listen.backlog`, the `pm.*` numbers of its mode, `pm.max_requests` and
 * `request_terminate_timeout`, plus `user`/`group`/`listen.owner`/`listen.group` when given.
 */
export type PlanPool = PoolConfig;

/** The `[global]` settings a plan sets: `process_control_timeout`. */
export type PlanGlobal = GlobalConfig;

/** Kernel and service settings a plan sets: `somaxconn` (net.core.somaxconn) and `limitNofile`. */
export type PlanKernel = KernelSettings;

/**
 * nginx's side of the pool: the upstream pointing at the pool's `listen` address and the
 * planned `fastcgi_connect_timeout` / `fastcgi_read_timeout` / `fastcgi_send_timeout`.
 */
export type PlanNginx = NginxFastCGISettings;

/** php.ini settings a plan sets: `max_execution_time` and `memory_limit`. */
export type PlanPhp = PhpIniSettings;

/** What the plan predicts for the pool at its peak arrival rate. */
export interface PlanPredictions {
  /** Mean busy share of max_children. */
  utilization: number;
  /** Share of requests that wait for a child (Erlang C). */
  probabilityOfWait: number;
  /** Mean queue wait, seconds (Erlang C with the Allen-Cunneen factor when a cv is given). */
  meanQueueWaitSeconds: number;
  /** 99th percentile of the queue wait, seconds. */
  p99QueueWaitSeconds: number;
  /** Long-run share of requests refused with 502 because the queue is full (M/M/c/K). */
  steadyState502Rate: number;
  /** Connections the pool absorbs at once: max_children + queue capacity. */
  burstCapacity: number;
  /** Length of the no-accept window of a reload, seconds. */
  reloadWindowSeconds: number;
  /** Mean arrivals during that window. */
  reloadArrivals: number;
  /** Expected connections refused (502) per reload with the planned backlog and somaxconn. */
  reloadRefused: number;
  /** Probability that a reload refuses at least one connection. */
  reloadRefusalProbability: number;
  /** The same with the current backlog and somaxconn, when they were given. */
  reloadRefusedWithCurrentSettings?: number;
}

/**
 * What an explanation's number measures: `bytes`; `seconds`; `fraction`, a share from 0 to 1
 * (utilisation, a probability); `count`, children, connections, requests or descriptors (a
 * prediction may be a fractional mean).
 */
export type ExplanationUnit = 'bytes' | 'seconds' | 'fraction' | 'count';

/** One line per number: the setting, its value, the rule and the inputs that set it. */
export interface Explanation {
  /** Dotted name, e.g. `pm.max_children`, `net.core.somaxconn`, `predictions.reloadRefused`. */
  setting: string;
  /** The number (or a word such as `unlimited`), in `unit`. */
  value: number | string;
  /** The unit of `value`, for display and for programs that read the figure. */
  unit: ExplanationUnit;
  /** Short stable name of the rule, e.g. `erlang-c-target`, `fpm-start-formula`. */
  rule: string;
  inputs: Record<string, number | string | boolean>;
  /** The reasoning in words. */
  text: string;
}

/** The figures the pool's settings were derived from, as numbers. */
export interface PlanSizing {
  /** Bytes one worker is planned at: its size plus the leak growth allowed before recycling. */
  workerBytes: number;
  /** Where the worker size came from: measured PSS, `memory_limit`, or given. */
  workerSource: 'pss-samples' | 'memory-limit' | 'given';
  /** Smallest `pm.max_children` that meets the queue-wait target. */
  neededChildren: number;
  /** Children CPU-bound work can use (cores / cpuShare), when the work uses CPU at all. */
  cpuMaxChildren?: number;
  /** Bytes the pool's children may take at `pm.max_children`: children × worker bytes. */
  plannedBytes: number;
}

/** The plan for one pool: its config, the `[global]` part, host settings and the explanation. */
export interface Plan {
  pool: PoolConfig;
  /** The `[global]` part the pool needs (process_control_timeout is global in FPM). */
  global: GlobalConfig;
  kernel: KernelSettings;
  nginx: NginxFastCGISettings;
  php: PhpIniSettings;
  predictions: PlanPredictions;
  /** The figures behind the settings. */
  sizing: PlanSizing;
  explanations: Explanation[];
  /** Things the plan could not fix (e.g. a reload window no backlog absorbs). */
  warnings: string[];
}

/** Plans for every pool of a host, with the host-wide settings they need. */
export interface HostPlan {
  pools: Plan[];
  /** Host-wide settings: the largest any pool needs. */
  global: GlobalConfig;
  kernel: KernelSettings;
  memory: {
    budgetBytes: number;
    /** Bytes all pools may use at max_children. */
    plannedBytes: number;
    source: 'total' | 'cgroup';
  };
  /** Mean cores busy at peak across all pools. */
  meanBusyCores: number;
  explanations: Explanation[];
  warnings: string[];
}
