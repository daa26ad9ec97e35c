import {
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
} from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import { finiteAtLeast, integerIn } from './check.js';

/**
 * Process-manager settings per `pm` mode, following FPM's own rules (php-src
 * `fpm_process_ctl.c`, `fpm_conf.c`): the maintenance tick runs once a second; `dynamic` forks
 * at most `min_spare − idle` children per tick, at a rate that doubles from 1 while below
 * `pm.max_spawn_rate`; `ondemand` forks one child per readiness event and reaps one idle child
 * per tick after `pm.process_idle_timeout`.
 */

export const PLAN_PM_MODES = ['static', 'dynamic', 'ondemand'] as const;
/** A process manager mode the planner can choose. */
export type PlanPmMode = (typeof PLAN_PM_MODES)[number];

export { FPM_DEFAULT_MAX_SPAWN_RATE, FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS };
/** Longest idle timeout recommended: past this an idle child is just memory held. */
export const MAX_RECOMMENDED_IDLE_TIMEOUT_SECONDS = 300;
/** z for the one-sided 99 % point of the normal distribution. */
const Z99 = 2.326;

/**
 * FPM's own default for `pm.start_servers` (`fpm_conf.c`): min_spare + (max_spare − min_spare) / 2
 * with C integer division.
 */
export function fpmDefaultStartServers(minSpareServers: number, maxSpareServers: number): number {
  integerIn('minSpareServers', minSpareServers, 1, Number.MAX_SAFE_INTEGER);
  integerIn('maxSpareServers', maxSpareServers, minSpareServers, Number.MAX_SAFE_INTEGER);
  return minSpareServers + Math.floor((maxSpareServers - minSpareServers) / 2);
}

/** Input of {@link spareServers}: offered load and the children cap. */
export interface SpareServersInput {
  /** Mean busy children: arrival rate × service time (Little's law, L = λ·W). */
  offeredLoad: number;
  /** pm.max_children of the pool. */
  maxChildren: number;
}

/** `pm.min_spare_servers`, `pm.max_spare_servers` and `pm.start_servers` for a dynamic pool. */
export interface SpareServers {
  minSpareServers: number;
  maxSpareServers: number;
  startServers: number;
  text: string;
}

/**
 * Spare children for `pm = dynamic`. The number of busy children fluctuates around the mean a
 * by about √a (Poisson); dynamic mode adds at most `min_spare − idle` children per second, so
 * min_spare must cover a one-second rise: ceil(2.326·√a), the 99 % point, at least 1.
 * max_spare = 2 × min_spare so the one-per-second reaping does not fight the spawning; start
 * servers by FPM's own formula. All clamped to max_children.
 */
export function spareServers(input: SpareServersInput): SpareServers {
  const a = finiteAtLeast('offeredLoad', input.offeredLoad, 0);
  const maxChildren = integerIn('maxChildren', input.maxChildren, 1, Number.MAX_SAFE_INTEGER);
  const minSpare = Math.min(maxChildren, Math.max(1, Math.ceil(Z99 * Math.sqrt(a))));
  const maxSpare = Math.min(maxChildren, 2 * minSpare);
  const start = fpmDefaultStartServers(minSpare, maxSpare);
  return {
    minSpareServers: minSpare,
    maxSpareServers: maxSpare,
    startServers: start,
    text: `busy children vary by about √${a.toFixed(2)}; dynamic adds at most min_spare − idle per second, so min_spare = ceil(2.326·√a) = ${minSpare}, max_spare = 2 × min_spare = ${maxSpare}, start = min + (max − min) / 2 = ${start} (FPM's default formula)`,
  };
}

/**
 * `pm.max_spawn_rate` for dynamic pools: the smallest power of two ≥ min_spare_servers. FPM
 * forks no more than `min_spare − idle` per tick anyway, and doubles the rate only while it is
 * below the maximum, so a power of two avoids the overshoot a value like 10 causes (…, 8, 16).
 */
export function maxSpawnRate(minSpareServers: number): number {
  integerIn('minSpareServers', minSpareServers, 1, 2 ** 30);
  let rate = 1;
  while (rate < minSpareServers) rate *= 2;
  return rate;
}

/**
 * `pm.process_idle_timeout` for ondemand pools, whole seconds: long enough that a child
 * survives the usual gap between requests it serves. With λ requests per second spread over
 * the children, a child sees one about every children/λ seconds; keep it for 3 such gaps,
 * at least FPM's 10 s default and at most 300 s.
 */
export function processIdleTimeoutSeconds(arrivalRate: number, children: number): number {
  const rate = finiteAtLeast('arrivalRate', arrivalRate, 0);
  const c = integerIn('children', children, 1, Number.MAX_SAFE_INTEGER);
  if (rate === 0) return FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS;
  const gap = c / rate;
  return Math.min(
    MAX_RECOMMENDED_IDLE_TIMEOUT_SECONDS,
    Math.max(FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS, Math.ceil(3 * gap)),
  );
}

/** Checks a mode name; throws `FpmkitInvalidOptionError` for anything else. */
export function checkPmMode(option: string, mode: string): PlanPmMode {
  if (!(PLAN_PM_MODES as readonly string[]).includes(mode)) {
    throw new FpmkitInvalidOptionError(option, `must be one of ${PLAN_PM_MODES.join(', ')}`);
  }
  return mode as PlanPmMode;
}
