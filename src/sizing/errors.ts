import { FpmkitError, type FpmkitErrorOptions } from '../errors.js';

/** Why a plan cannot be made; `pool` is absent for host-wide reasons. */
export interface InfeasibleReason {
  /**
   * `cpu-saturated`: the pools' CPU work exceeds the cores; `cpu-bound-target`: the target
   * needs more children than the cores can run; `memory`: the children needed do not fit the
   * memory budget.
   */
  code: 'cpu-saturated' | 'cpu-bound-target' | 'memory';
  pool?: string;
  message: string;
  /** The figures behind the reason. */
  evidence: Record<string, number | string>;
}

/**
 * The demand cannot be met with the resources given. A plan is refused rather than squeezed;
 * `reasons` lists every cause, not the first. Code `FPMKIT_SIZING_INFEASIBLE`.
 */
export class FpmkitInfeasiblePlanError extends FpmkitError {
  readonly reasons: InfeasibleReason[];

  constructor(reasons: InfeasibleReason[], options: FpmkitErrorOptions = {}) {
    super(
      `no feasible plan: ${reasons.map((r) => (r.pool ? `[${r.pool}] ${r.message}` : r.message)).join('; ')}`,
      'FPMKIT_SIZING_INFEASIBLE',
      options,
    );
    this.reasons = reasons;
  }
}
