import type { PoolConfig } from '../fpm/schema.js';
import type { Explanation } from './plan.js';
import { simulatePool } from './simulate.js';

/**
 * The simulator's check of a planned `dynamic` or `ondemand` pool: the same Poisson traffic
 * on the planned pool and on a static pool of the same `pm.max_children`, which is what
 * Erlang C assumes. The difference is what the process manager's spawning costs.
 */

/** Requests simulated per check: enough for a p99, small enough for plan loops. */
export const PLAN_CHECK_REQUESTS = 4000;
/** Longest traffic simulated per check, seconds: covers several maintenance ticks. */
export const PLAN_CHECK_MAX_SECONDS = 120;

/** What the plan's traffic looks like to the check. */
export interface PlanCheckInput {
  arrivalRate: number;
  serviceTimeSeconds: number;
  serviceTimeCv?: number | undefined;
  somaxconn: number;
  processControlTimeoutSeconds: number;
  /** Erlang C's p99 wait for the static answer, seconds. */
  erlangP99Seconds: number;
}

/**
 * One explanation (`predictions.simulatedP99QueueWaitSeconds`) comparing the planned pool with
 * its static equivalent in simulation, or none for a static plan or a rate too low to matter.
 */
export function simulatedPlanCheck(pool: PoolConfig, input: PlanCheckInput): Explanation[] {
  if (pool.pm.mode === 'static' || !(input.arrivalRate > 0)) return [];
  const duration = Math.min(PLAN_CHECK_MAX_SECONDS, PLAN_CHECK_REQUESTS / input.arrivalRate);
  const options = {
    serviceTimeSeconds: input.serviceTimeSeconds,
    ...(input.serviceTimeCv === undefined ? {} : { serviceTimeCv: input.serviceTimeCv }),
    somaxconn: input.somaxconn,
    processControlTimeoutSeconds: input.processControlTimeoutSeconds,
    durationSeconds: duration + input.serviceTimeSeconds * 10,
  };
  const traffic = {
    kind: 'poisson',
    ratePerSecond: input.arrivalRate,
    durationSeconds: duration,
  } as const;
  const planned = simulatePool(pool, traffic, options).summary;
  const fixed = simulatePool(
    { ...pool, pm: { mode: 'static', maxChildren: pool.pm.maxChildren ?? 1 } },
    traffic,
    options,
  ).summary;
  const ms = (s: number) => `${(s * 1000).toFixed(1)} ms`;
  const cause =
    pool.pm.mode === 'dynamic'
      ? 'dynamic forks at most min_spare − idle children per tick, so a rise waits for the once-a-second maintenance tick'
      : 'ondemand forks one child per accept event and each new child pays the fork before it accepts';
  return [
    {
      setting: 'predictions.simulatedP99QueueWaitSeconds',
      value: planned.p99WaitSeconds,
      unit: 'seconds',
      rule: 'simulation',
      inputs: {
        arrivalRate: input.arrivalRate,
        simulatedSeconds: Number(duration.toFixed(3)),
        requests: planned.requests,
        staticP99QueueWaitSeconds: fixed.p99WaitSeconds,
        erlangCP99QueueWaitSeconds: input.erlangP99Seconds,
        status502: planned.status502,
        forks: planned.pm.forks,
      },
      text: `simulated ${planned.requests} Poisson requests (seed 1) on this ${pool.pm.mode} pool: p99 queue wait ${ms(planned.p99WaitSeconds)} and ${planned.status502} refused, against ${ms(fixed.p99WaitSeconds)} with all ${pool.pm.maxChildren} children always running (Erlang C: ${ms(input.erlangP99Seconds)}); ${planned.p99WaitSeconds > fixed.p99WaitSeconds * 1.25 + 0.001 ? `the difference is the process manager: ${cause}` : 'the process manager keeps up with this traffic'}`,
    },
  ];
}
