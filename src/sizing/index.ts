export type { ConcurrencyInput, ConcurrencyNeed, ConcurrencyTarget } from './concurrency.js';
export { childrenForTarget } from './concurrency.js';
export type { InfeasibleReason } from './errors.js';
export { FpmkitInfeasiblePlanError } from './errors.js';
export type {
  MaxChildrenForMemoryInput,
  MaxRequestsInput,
  MemoryBudget,
  MemoryBudgetInput,
  WorkerSize,
  WorkerSizeInput,
} from './memory.js';
export {
  DEFAULT_RESERVE_FRACTION,
  DEFAULT_WORKER_OVERHEAD_BYTES,
  DEFAULT_WORKER_PERCENTILE,
  MAX_PM_MAX_REQUESTS,
  MIN_RESERVE_BYTES,
  maxChildrenForMemory,
  maxRequestsForLeak,
  memoryBudget,
  workerSize,
} from './memory.js';
export type {
  BacklogInput,
  BacklogRecommendation,
  BurstOverflowInput,
  BurstOverflowRange,
  ReloadOverflowInput,
  ReloadWindow,
  ReloadWindowInput,
} from './overflow.js';
export {
  burstOverflow,
  burstOverflowRange,
  DEFAULT_MIN_BACKLOG,
  DEFAULT_OVERFLOW_PROBABILITY,
  DEFAULT_RESTART_SECONDS,
  recommendBacklog,
  reloadOverflow,
  reloadOverflowProbability,
  reloadWindow,
} from './overflow.js';
export type {
  Explanation,
  ExplanationUnit,
  HostPlan,
  Plan,
  PlanGlobal,
  PlanKernel,
  PlanNginx,
  PlanPhp,
  PlanPool,
  PlanPredictions,
  PlanSizing,
} from './plan.js';
export type {
  HostResources,
  PlanHostInput,
  PlanPoolInput,
  PoolDemand,
  SafePlanResult,
} from './planner.js';
export {
  DEFAULT_CPU_SHARE,
  DEFAULT_GROWTH_BUDGET_FRACTION,
  DEFAULT_HEADROOM,
  DEFAULT_LONGEST_REQUEST_SECONDS,
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_POST_MAX_SIZE_BYTES,
  DEFAULT_TARGET,
  MASTER_BASE_FDS,
  MASTER_FDS_PER_CHILD,
  MAX_PLAN_POOLS,
  MIN_PLANNED_LIMIT_NOFILE,
  PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
  planHost,
  planPool,
  safePlanHost,
  safePlanPool,
  UNMEASURED_LEAK_MAX_REQUESTS,
} from './planner.js';
export type { PlanPmMode, SpareServers, SpareServersInput } from './pm.js';
export {
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
  fpmDefaultStartServers,
  MAX_RECOMMENDED_IDLE_TIMEOUT_SECONDS,
  maxSpawnRate,
  PLAN_PM_MODES,
  processIdleTimeoutSeconds,
  spareServers,
} from './pm.js';
export {
  logFactorial,
  MAX_POISSON_MEAN,
  poissonExpectedExcess,
  poissonPmf,
  poissonQuantile,
  poissonUpperTail,
} from './poisson.js';
export type { ErlangCInput, ErlangCResult, MmckInput, MmckResult } from './queueing.js';
export {
  erlangB,
  erlangC,
  MAX_SERVICE_TIME_CV,
  MAX_SIZING_CAPACITY,
  MAX_SIZING_SERVERS,
  mmck,
} from './queueing.js';
export type { PlanFile, PlanFileKind, RenderPlanOptions } from './render-plan.js';
export { renderHostPlan, renderPlan } from './render-plan.js';
export type {
  SimulatePoolOptions,
  SimulationPool,
  SimulationResult,
  SimulationSettings,
} from './simulate.js';
export {
  MAX_SIMULATED_CHILDREN,
  MAX_SIMULATED_SAMPLES,
  SIMULATION_DEFAULTS,
  simulatePool,
} from './simulate.js';
export type { PlanCheckInput } from './simulate-plan.js';
export {
  PLAN_CHECK_MAX_SECONDS,
  PLAN_CHECK_REQUESTS,
  simulatedPlanCheck,
} from './simulate-plan.js';
export type { EventQueueKind } from './simulate-queue.js';
export type { ServiceTimeDistribution } from './simulate-random.js';
export type {
  SimulatedPmCounts,
  SimulatedReload,
  SimulatedRequests,
  SimulatedSeries,
  SimulationSummary,
} from './simulate-results.js';
export { SERIES_CSV_HEADER, simulationSeriesCsv } from './simulate-results.js';
export type { SimulationSvgOptions } from './simulate-svg.js';
export { renderSimulationSvg } from './simulate-svg.js';
export type {
  BurstTraffic,
  LogReplayOptions,
  PoissonTraffic,
  ProfileTraffic,
  ReplayArrival,
  ReplayTraffic,
  SimulationTraffic,
  SteadyTraffic,
} from './simulate-traffic.js';
export {
  MAX_SIMULATED_REQUESTS,
  trafficFromFpmAccessLog,
  trafficFromNginxAccessLog,
} from './simulate-traffic.js';
export type { TimeoutCorridor, TimeoutCorridorInput } from './timeouts.js';
export {
  FPM_MIN_HEARTBEAT_SECONDS,
  TIMEOUT_CORRIDOR_MARGIN_SECONDS,
  terminateDetectionLagSeconds,
  timeoutCorridor,
} from './timeouts.js';
