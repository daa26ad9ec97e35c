/**
 * Result shapes of a sizing plan. Each part is the model of the area that renders it (DESIGN.md):
 * `pool` is a `PoolConfig` and `global` a `GlobalConfig` (fpm), `kernel` a `KernelSettings`
 * (kernel), `nginx` an `NginxFastcgiSettings` and `php` a `PhpIniSettings` (web), so a plan
 * goes straight to `renderFpmConfig`, `renderSysctlConf`, `renderNginxFastcgi` and
 * `renderPhpIni` (or all at once through `renderPlan`).
 */
import type { GlobalConfig, PoolConfig } from '../fpm/schema.js';
import type { KernelSettings } from '../kernel/settings.js';
import type { NginxFastcgiSettings } from '../web/nginx.js';
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
export type PlanNginx = NginxFastcgiSettings;

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

/** One line per number: the setting, its value, the rule and the inputs that set it. */
export interface Explanation {
  /** Dotted name, e.g. `pm.max_children`, `net.core.somaxconn`, `predictions.reloadRefused`. */
  setting: string;
  value: number | string;
  /** Short stable name of the rule, e.g. `erlang-c-target`, `fpm-start-formula`. */
  rule: string;
  inputs: Record<string, number | string | boolean>;
  /** The reasoning in words. */
  text: string;
}

export interface Plan {
  pool: PoolConfig;
  /** The `[global]` part the pool needs (process_control_timeout is global in FPM). */
  global: GlobalConfig;
  kernel: KernelSettings;
  nginx: NginxFastcgiSettings;
  php: PhpIniSettings;
  predictions: PlanPredictions;
  explanations: Explanation[];
  /** Things the plan could not fix (e.g. a reload window no backlog absorbs). */
  warnings: string[];
}

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
