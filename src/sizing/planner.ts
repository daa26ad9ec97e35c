/**
 * The sizing planner: `planHost` and `planPool`. A plan is made in four steps, each in its own
 * module: normalize the inputs (planner-normalize), solve every number on them
 * (planner-solve), write the numbers into configuration models (planner-assemble), and explain
 * each number in words (planner-explain). The simulator then checks a dynamic or ondemand pool.
 */
import type { SafeResult } from '../safe-result.js';
import type { FastCGIBackend } from '../web/nginx.js';
import { FpmkitInfeasiblePlanError } from './errors.js';
import type { HostPlan, Plan } from './plan.js';
import { assembleHost, assemblePool } from './planner-assemble.js';
import { explainHost, explainLimitNofile, explainPool } from './planner-explain.js';
import type { PlanHostInput, PlanPoolInput } from './planner-input.js';
import { backendOfListen, normalizeHost } from './planner-normalize.js';
import { type SolvedHost, type SolvedPool, solveHost } from './planner-solve.js';
import { simulatedPlanCheck } from './simulate-plan.js';

export {
  DEFAULT_CPU_SHARE,
  DEFAULT_GROWTH_BUDGET_FRACTION,
  DEFAULT_HEADROOM,
  DEFAULT_LONGEST_REQUEST_SECONDS,
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_POST_MAX_SIZE_BYTES,
  DEFAULT_TARGET,
  type HostResources,
  MASTER_BASE_FDS,
  MASTER_FDS_PER_CHILD,
  MAX_PLAN_POOLS,
  MIN_PLANNED_LIMIT_NOFILE,
  PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
  type PlanHostInput,
  type PlanPoolInput,
  type PoolDemand,
  UNMEASURED_LEAK_MAX_REQUESTS,
} from './planner-input.js';

/** One pool's plan from its solved figures, with the host-wide values already settled. */
function planOf(p: SolvedPool, host: SolvedHost): Plan {
  const parts = assemblePool(p, host);
  const explanations = explainPool(p, host);
  // The simulator checks the pool as this pool alone would run it (its own somaxconn and
  // process_control_timeout), against Erlang C's answer for the same children.
  explanations.push(
    ...simulatedPlanCheck(parts.pool, {
      arrivalRate: p.pool.arrivalRate,
      serviceTimeSeconds: p.pool.serviceTimeSeconds,
      serviceTimeCv: p.pool.serviceTimeCv,
      somaxconn: p.backlog.somaxconn,
      processControlTimeoutSeconds: p.pool.corridor.processControlTimeoutSeconds,
      erlangP99Seconds: p.predictions.p99QueueWaitSeconds,
    }),
    explainLimitNofile(host),
  );
  return {
    ...parts,
    predictions: p.predictions,
    sizing: {
      workerBytes: p.worker.bytes,
      workerSource: p.worker.source,
      neededChildren: p.need.neededChildren,
      ...(p.need.cpuMaxChildren === undefined ? {} : { cpuMaxChildren: p.need.cpuMaxChildren }),
      plannedBytes: p.children * p.worker.bytes,
    },
    explanations,
    warnings: p.backlog.absorbs ? [] : [p.backlog.text],
  };
}

/**
 * Plans every pool of a host against one memory budget and one set of cores: children for
 * each pool's target (Erlang C), then spare servers, backlog and somaxconn, timeouts and
 * predictions, each with its explanation. Throws `FpmkitInfeasiblePlanError` listing every
 * reason when the demand does not fit; bad inputs throw `FpmkitInvalidOptionError`.
 */
export function planHost(input: PlanHostInput): HostPlan {
  const host = solveHost(normalizeHost(input));
  const plans = host.pools.map((p) => planOf(p, host));
  return {
    pools: plans,
    ...assembleHost(host),
    memory: {
      budgetBytes: host.normal.memory.budgetBytes,
      plannedBytes: host.plannedBytes,
      source: host.normal.memory.source,
    },
    meanBusyCores: host.meanBusyCores,
    explanations: explainHost(host),
    warnings: plans.flatMap((p) => p.warnings.map((x) => `[${p.pool.name}] ${x}`)),
  };
}

/**
 * Where nginx connects for an FPM `listen` value, as `parseListen` reads it: a UNIX socket at
 * its path (which must be absolute: nginx does not know FPM's prefix), a wildcard address on the
 * loopback address of its family (`9000` and `0.0.0.0:9000` on 127.0.0.1, `[::]:9000` on ::1).
 * Throws `FpmkitInvalidOptionError` (option `listenAddress`) for anything FPM would refuse.
 */
export function fastcgiBackendOf(listen: string): FastCGIBackend {
  return backendOfListen(listen).backend;
}

/**
 * Plans one pool on a host: `planHost` with a single pool. Throws `FpmkitInfeasiblePlanError`
 * when the target does not fit the memory or the cores.
 */
export function planPool(input: PlanPoolInput): Plan {
  const {
    cores,
    totalMemoryBytes,
    cgroupLimitsBytes,
    reserveBytes,
    otherServicesBytes,
    currentSomaxconn,
    currentListenBacklog,
    restartSeconds,
    overflowProbability,
    minBacklog,
    share,
    ...demand
  } = input;
  const host = planHost({
    pools: [demand],
    cores,
    totalMemoryBytes,
    ...(cgroupLimitsBytes === undefined ? {} : { cgroupLimitsBytes }),
    ...(reserveBytes === undefined ? {} : { reserveBytes }),
    ...(otherServicesBytes === undefined ? {} : { otherServicesBytes }),
    ...(currentSomaxconn === undefined ? {} : { currentSomaxconn }),
    ...(currentListenBacklog === undefined ? {} : { currentListenBacklog }),
    ...(restartSeconds === undefined ? {} : { restartSeconds }),
    ...(overflowProbability === undefined ? {} : { overflowProbability }),
    ...(minBacklog === undefined ? {} : { minBacklog }),
    ...(share === undefined ? {} : { share }),
  });
  const plan = host.pools[0]!;
  return {
    ...plan,
    explanations: [
      ...plan.explanations,
      ...host.explanations.filter((e) => e.setting === 'memory.plannedBytes'),
    ],
  };
}

/**
 * Result of the `safePlan*` functions: the plan, or the infeasible-plan error instead of a throw.
 */
export type SafePlanResult<T> = SafeResult<T, FpmkitInfeasiblePlanError>;

/** `planPool` returning a result instead of throwing when the plan is infeasible. */
export function safePlanPool(input: PlanPoolInput): SafePlanResult<Plan> {
  return safely(() => planPool(input));
}

/** `planHost` returning a result instead of throwing when the plan is infeasible. */
export function safePlanHost(input: PlanHostInput): SafePlanResult<HostPlan> {
  return safely(() => planHost(input));
}

function safely<T>(fn: () => T): SafePlanResult<T> {
  try {
    return { success: true, data: fn() };
  } catch (error) {
    if (error instanceof FpmkitInfeasiblePlanError) return { success: false, error };
    throw error;
  }
}
