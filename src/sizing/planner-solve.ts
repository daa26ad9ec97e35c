/**
 * The planner's second step: every number of the plan from the normalized inputs, as typed
 * figures. Host-wide values (somaxconn, process_control_timeout, LimitNOFILE) are settled here,
 * before any configuration is written, so nothing is patched afterwards.
 */
import { acceptQueueCapacity } from '../kernel/backlog.js';
import { finitePositive } from './check.js';
import { type ConcurrencyNeed, childrenForTarget } from './concurrency.js';
import { FpmkitInfeasiblePlanError, type InfeasibleReason } from './errors.js';
import { maxRequestsForLeak, mib } from './memory.js';
import {
  type BacklogRecommendation,
  type ReloadOverflowInput,
  recommendBacklog,
  reloadOverflow,
  reloadOverflowProbability,
  reloadWindow,
} from './overflow.js';
import type { PlanPredictions } from './plan.js';
import {
  MASTER_BASE_FDS,
  MASTER_FDS_PER_CHILD,
  MIN_PLANNED_LIMIT_NOFILE,
  UNMEASURED_LEAK_MAX_REQUESTS,
} from './planner-input.js';
import type { NormalHost, NormalPool } from './planner-normalize.js';
import { maxSpawnRate, processIdleTimeoutSeconds, type SpareServers, spareServers } from './pm.js';
import { type ErlangCResult, erlangC, type MmckResult, mmck } from './queueing.js';

/** The bytes one worker is planned at, and when it is recycled. */
export interface SolvedWorker {
  /** Planned bytes per worker: the base plus the growth before recycling. */
  bytes: number;
  baseBytes: number;
  source: NormalPool['baseWorker']['source'];
  /** Leak growth allowed before recycling, bytes. */
  growthBytes: number;
  /** pm.max_requests. */
  maxRequests: number;
  maxRequestsRule: 'leak-budget' | 'no-leak' | 'unmeasured-leak';
  /** Growth budget, bytes, when a leak was measured. */
  growthBudgetBytes: number | undefined;
}

/** How the memory above the need was given out. */
export type MemoryShare = { kind: 'headroom-fits' } | { kind: 'shared'; by: 'demand' | 'weight' };

/** What a reload's no-accept window is and what set it. */
export interface SolvedReloadWindow {
  seconds: number;
  rule: 'input' | 'process-control-timeout' | 'longest-request' | 'restart-only';
  /** The derivation, when derived rather than given. */
  text: string | undefined;
}

/** The reload prediction with the settings in place today. */
export interface SolvedCurrent {
  listenBacklog: number;
  queueCapacity: number;
  /** The part of today's queue that drains before nginx gives up. */
  usefulQueueCapacity: number;
  refused: number;
}

/** Every number of one pool's plan. */
export interface SolvedPool {
  pool: NormalPool;
  worker: SolvedWorker;
  need: ConcurrencyNeed;
  /** Children wanted: the need plus headroom, at most the CPU bound. */
  want: number;
  /** pm.max_children. */
  children: number;
  share: MemoryShare;
  queue: ErlangCResult;
  spare: (SpareServers & { maxSpawnRate: number }) | undefined;
  processIdleTimeoutSeconds: number | undefined;
  reload: SolvedReloadWindow;
  backlog: BacklogRecommendation;
  /** Mean connections queued at a reload, capped by the queue. */
  queuedAtReload: number;
  reloadInput: ReloadOverflowInput;
  blocking: MmckResult;
  predictions: PlanPredictions;
  current: SolvedCurrent | undefined;
}

/** Every number of a host plan. */
export interface SolvedHost {
  normal: NormalHost;
  pools: SolvedPool[];
  /** net.core.somaxconn for the host: the largest any pool needs, never below today's. */
  somaxconn: number;
  /** process_control_timeout (global): the longest any pool needs. */
  processControlTimeoutSeconds: number;
  limitNofile: number;
  totalChildren: number;
  plannedBytes: number;
  meanBusyCores: number;
}

function sizeWorker(pool: NormalPool): SolvedWorker {
  const base = pool.baseWorker.workerBytes;
  const leak = pool.leakBytesPerRequest;
  const common = { baseBytes: base, source: pool.baseWorker.source };
  if (leak !== undefined && leak > 0) {
    const budget = base * (pool.growthBudgetFraction ?? 0);
    const maxRequests = maxRequestsForLeak({
      leakBytesPerRequest: leak,
      growthBudgetBytes: budget,
    });
    const growthBytes = maxRequests * leak;
    return {
      ...common,
      bytes: base + growthBytes,
      growthBytes,
      maxRequests,
      maxRequestsRule: 'leak-budget',
      growthBudgetBytes: budget,
    };
  }
  // Without a measurement, recycle now and then anyway: a leak nobody measured is the usual case.
  return {
    ...common,
    bytes: base,
    growthBytes: 0,
    maxRequests: leak === 0 ? 0 : UNMEASURED_LEAK_MAX_REQUESTS,
    maxRequestsRule: leak === 0 ? 'no-leak' : 'unmeasured-leak',
    growthBudgetBytes: undefined,
  };
}

interface Sized {
  pool: NormalPool;
  worker: SolvedWorker;
  need: ConcurrencyNeed;
  want: number;
}

function sizePool(pool: NormalPool, cores: number): Sized {
  const worker = sizeWorker(pool);
  const need = childrenForTarget({
    arrivalRate: pool.arrivalRate,
    serviceTimeSeconds: pool.serviceTimeSeconds,
    ...(pool.serviceTimeCv === undefined ? {} : { serviceTimeCv: pool.serviceTimeCv }),
    target: pool.target,
    cpuShare: pool.cpuShare,
    cores,
  });
  const want = Math.min(
    need.cpuMaxChildren ?? Number.POSITIVE_INFINITY,
    Math.max(need.neededChildren, Math.ceil(need.neededChildren * (1 + pool.headroom))),
  );
  return { pool, worker, need, want };
}

/** Throws `FpmkitInfeasiblePlanError` with every reason the demand does not fit. */
function checkFeasible(host: NormalHost, sized: readonly Sized[], busyCores: number): number {
  const reasons: InfeasibleReason[] = [];
  for (const { pool, need } of sized) {
    if (need.boundBy !== 'cpu') continue;
    reasons.push({
      code: 'cpu-bound-target',
      pool: pool.name,
      message: `the target needs ${need.neededChildren} children but with cpuShare ${pool.demand.cpuShare} only ${need.cpuMaxChildren} can run on ${host.cores} cores; more children would just share them`,
      evidence: {
        neededChildren: need.neededChildren,
        cpuMaxChildren: need.cpuMaxChildren ?? 0,
        cores: host.cores,
      },
    });
  }
  if (busyCores >= host.cores) {
    reasons.push({
      code: 'cpu-saturated',
      message: `the pools keep ${busyCores.toFixed(1)} cores busy on average (Σ rate × service time × cpuShare) but only ${host.cores} exist`,
      evidence: { meanBusyCores: busyCores, cores: host.cores },
    });
  }
  const neededBytes = sized.reduce((sum, s) => sum + s.need.neededChildren * s.worker.bytes, 0);
  const budget = host.memory.budgetBytes;
  if (neededBytes > budget) {
    reasons.push({
      code: 'memory',
      message: `the children needed take ${mib(neededBytes)} but the budget is ${mib(budget)} (${host.memory.text})`,
      evidence: {
        neededBytes,
        budgetBytes: budget,
        ...Object.fromEntries(sized.map((s) => [`${s.pool.name}.children`, s.need.neededChildren])),
      },
    });
  }
  if (reasons.length > 0) throw new FpmkitInfeasiblePlanError(reasons);
  return neededBytes;
}

/** Children per pool: every pool its headroom when it fits, else a share of what is left. */
function shareMemory(
  host: NormalHost,
  sized: readonly Sized[],
  neededBytes: number,
): { children: number[]; share: MemoryShare } {
  const extraBytes = host.memory.budgetBytes - neededBytes;
  const extra = (s: Sized) => s.want - s.need.neededChildren;
  const headroomBytes = sized.reduce((sum, s) => sum + extra(s) * s.worker.bytes, 0);
  if (headroomBytes <= extraBytes) {
    return { children: sized.map((s) => s.want), share: { kind: 'headroom-fits' } };
  }
  const weightOf = (s: Sized, i: number) =>
    host.share === 'weight'
      ? finitePositive(`pools[${i}].weight`, s.pool.demand.weight ?? 1)
      : s.need.neededChildren * s.worker.bytes;
  const weights = sized.map(weightOf);
  const total = weights.reduce((sum, w) => sum + w, 0);
  const children = sized.map((s, i) => {
    const bytes = (extraBytes * weights[i]!) / total;
    return s.need.neededChildren + Math.min(extra(s), Math.floor(bytes / s.worker.bytes));
  });
  return { children, share: { kind: 'shared', by: host.share } };
}

function solveReloadWindow(pool: NormalPool, host: NormalHost): SolvedReloadWindow {
  if (pool.reloadWindowSeconds !== undefined) {
    return { seconds: pool.reloadWindowSeconds, rule: 'input', text: undefined };
  }
  const rw = reloadWindow({
    processControlTimeoutSeconds: pool.corridor.processControlTimeoutSeconds,
    longestRequestSeconds: pool.longestRequestSeconds,
    restartSeconds: host.restartSeconds,
  });
  return { seconds: rw.windowSeconds, rule: rw.rule, text: rw.text };
}

function solveCurrent(
  host: NormalHost,
  pool: NormalPool,
  backlog: BacklogRecommendation,
  window: number,
  queued: number,
): SolvedCurrent | undefined {
  if (host.currentListenBacklog === undefined) return undefined;
  const queueCapacity = acceptQueueCapacity({
    listenBacklog: host.currentListenBacklog,
    somaxconn: host.somaxconnNow,
  });
  // A queue deeper than the children drain before nginx gives up turns 502s into 504s: count
  // both, as the planned backlog (capped at that depth) does.
  const useful = Math.min(queueCapacity, backlog.drainableQueueCapacity);
  const refused = reloadOverflow({
    arrivalRate: pool.arrivalRate,
    windowSeconds: window,
    queueCapacity: useful,
    queuedConnections: Math.min(queued, useful),
  });
  return {
    listenBacklog: host.currentListenBacklog,
    queueCapacity,
    usefulQueueCapacity: useful,
    refused,
  };
}

function solvePm(pool: NormalPool, children: number, queue: ErlangCResult) {
  if (pool.mode === 'dynamic') {
    const spare = spareServers({ offeredLoad: queue.offeredLoad, maxChildren: children });
    return {
      spare: { ...spare, maxSpawnRate: maxSpawnRate(spare.minSpareServers) },
      processIdleTimeoutSeconds: undefined,
    };
  }
  return {
    spare: undefined,
    processIdleTimeoutSeconds:
      pool.mode === 'ondemand' ? processIdleTimeoutSeconds(pool.arrivalRate, children) : undefined,
  };
}

function solvePool(host: NormalHost, s: Sized, children: number, share: MemoryShare): SolvedPool {
  const { pool } = s;
  const lambda = pool.arrivalRate;
  const cv = pool.serviceTimeCv === undefined ? {} : { serviceTimeCv: pool.serviceTimeCv };
  const queue = erlangC({
    arrivalRate: lambda,
    serviceTimeSeconds: pool.serviceTimeSeconds,
    servers: children,
    ...cv,
  });
  const reload = solveReloadWindow(pool, host);
  const window = reload.seconds;
  const backlog = recommendBacklog({
    arrivalRate: lambda,
    windowSeconds: window,
    servers: children,
    serviceTimeSeconds: pool.serviceTimeSeconds,
    giveUpSeconds: pool.corridor.fastcgiReadTimeoutSeconds,
    queuedConnections: queue.meanQueueLength,
    overflowProbability: host.overflowProbability,
    currentSomaxconn: host.somaxconnNow,
    ...(host.minBacklog === undefined ? {} : { minBacklog: host.minBacklog }),
  });
  const queued = Math.min(Math.round(queue.meanQueueLength), backlog.queueCapacity);
  const reloadInput = {
    arrivalRate: lambda,
    windowSeconds: window,
    queueCapacity: backlog.queueCapacity,
    queuedConnections: queued,
  };
  const blocking = mmck({
    arrivalRate: lambda,
    serviceTimeSeconds: pool.serviceTimeSeconds,
    servers: children,
    capacity: children + backlog.queueCapacity,
  });
  const current = solveCurrent(host, pool, backlog, window, queued);
  const predictions: PlanPredictions = {
    utilization: queue.utilization,
    probabilityOfWait: queue.probabilityOfWait,
    meanQueueWaitSeconds: queue.meanWaitSeconds,
    p99QueueWaitSeconds: queue.waitQuantileSeconds(0.99),
    steadyState502Rate: blocking.blockingProbability,
    burstCapacity: children + backlog.queueCapacity,
    reloadWindowSeconds: window,
    reloadArrivals: lambda * window,
    reloadRefused: reloadOverflow(reloadInput),
    reloadRefusalProbability: reloadOverflowProbability(reloadInput),
    ...(current === undefined ? {} : { reloadRefusedWithCurrentSettings: current.refused }),
  };
  return {
    ...s,
    children,
    share,
    queue,
    ...solvePm(pool, children, queue),
    reload,
    backlog,
    queuedAtReload: queued,
    reloadInput,
    blocking,
    predictions,
    current,
  };
}

/**
 * Solves a normalized host: children for each pool's target (Erlang C), the memory share,
 * spare servers, reload window, backlog and predictions, then the host-wide settings. Throws
 * `FpmkitInfeasiblePlanError` listing every reason when the demand does not fit.
 */
export function solveHost(host: NormalHost): SolvedHost {
  const sized = host.pools.map((pool) => sizePool(pool, host.cores));
  const meanBusyCores = host.pools.reduce(
    (sum, p) => sum + p.arrivalRate * p.serviceTimeSeconds * p.cpuShare,
    0,
  );
  const neededBytes = checkFeasible(host, sized, meanBusyCores);
  const { children, share } = shareMemory(host, sized, neededBytes);
  const pools = sized.map((s, i) => solvePool(host, s, children[i]!, share));
  const somaxconn = Math.max(host.somaxconnNow, ...pools.map((p) => p.backlog.somaxconn));
  const processControlTimeoutSeconds = Math.max(
    ...pools.map((p) => p.pool.corridor.processControlTimeoutSeconds),
  );
  const totalChildren = pools.reduce((sum, p) => sum + p.children, 0);
  return {
    normal: host,
    pools,
    somaxconn,
    processControlTimeoutSeconds,
    limitNofile: Math.max(
      MIN_PLANNED_LIMIT_NOFILE,
      MASTER_FDS_PER_CHILD * totalChildren + MASTER_BASE_FDS,
    ),
    totalChildren,
    plannedBytes: pools.reduce((sum, p) => sum + p.children * p.worker.bytes, 0),
    meanBusyCores,
  };
}
