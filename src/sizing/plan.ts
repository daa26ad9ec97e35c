/**
 * Result shapes of a sizing plan. Field names follow the models of the fpm, kernel and web
 * areas (DESIGN.md) so a plan's parts can be handed to their renderers; the shapes are kept
 * here, small and plain, until those schemas' types replace them.
 */
import type { PlanPmMode } from './pm.js';

/** The pool settings a plan sets (a subset of `PoolConfig`). */
export interface PlanPool {
  name: string;
  listen: { address: string; backlog: number };
  pm: {
    mode: PlanPmMode;
    maxChildren: number;
    /** dynamic only. */
    startServers?: number;
    /** dynamic only. */
    minSpareServers?: number;
    /** dynamic only. */
    maxSpareServers?: number;
    /** dynamic only. */
    maxSpawnRate?: number;
    /** ondemand only. */
    processIdleTimeoutSeconds?: number;
    /** 0 = never recycle. */
    maxRequests: number;
  };
  requestTerminateTimeoutSeconds: number;
}

/** The `[global]` settings a plan sets (a subset of `GlobalConfig`). */
export interface PlanGlobal {
  processControlTimeoutSeconds: number;
}

/** sysctl settings, keyed by their sysctl names (a subset of `KernelSettings`). */
export interface PlanKernel {
  'net.core.somaxconn': number;
}

/** nginx FastCGI settings for the pool's location. */
export interface PlanNginx {
  fastcgiReadTimeoutSeconds: number;
  fastcgiConnectTimeoutSeconds: number;
}

/** php.ini settings. */
export interface PlanPhp {
  maxExecutionTimeSeconds: number;
  /** `'unlimited'` for -1. */
  memoryLimitBytes: number | 'unlimited';
}

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
  pool: PlanPool;
  global: PlanGlobal;
  kernel: PlanKernel;
  nginx: PlanNginx;
  php: PlanPhp;
  predictions: PlanPredictions;
  explanations: Explanation[];
  /** Things the plan could not fix (e.g. a reload window no backlog absorbs). */
  warnings: string[];
}

export interface HostPlan {
  pools: Plan[];
  /** Host-wide settings: the largest any pool needs. */
  global: PlanGlobal;
  kernel: PlanKernel;
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
