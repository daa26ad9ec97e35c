/** The memory check: every pool at `pm.max_children` with workers the size they are now. */
import { maxChildrenForMemory, memoryBudget } from '../../sizing/memory.js';
import type { HostSnapshot } from '../snapshot.js';
import { type LiveContext, report } from './context.js';

function formatBytes(n: number): string {
  return `${Math.round(n / 1024 / 1024)} MiB`;
}

/**
 * The memory the pools may use: the tightest of MemTotal and the cgroup limit, as sizing's
 * `memoryBudget` takes it, with nothing reserved (the measured sizes already include what the
 * workers share). Undefined when neither is known.
 */
export function liveMemoryBudget(
  snapshot: HostSnapshot,
): { bytes: number; source: string } | undefined {
  const total = snapshot.meminfo.ok ? snapshot.meminfo.value.totalBytes : undefined;
  const cg = snapshot.cgroup.ok ? snapshot.cgroup.value : null;
  const limit = cg && cg.limitBytes !== 'unlimited' ? cg.limitBytes : undefined;
  if (limit !== undefined && !(limit > 0))
    return { bytes: 0, source: `the cgroup limit (${cg?.path})` };
  const totalBytes = total ?? limit;
  if (totalBytes === undefined || !(totalBytes > 0)) return undefined;
  const budget = memoryBudget({
    totalBytes,
    cgroupLimitsBytes: total === undefined || limit === undefined ? [] : [limit],
    reserveBytes: 0,
  });
  const fromCgroup = budget.source === 'cgroup' || total === undefined;
  return {
    bytes: budget.budgetBytes,
    source: fromCgroup ? `the cgroup limit (${cg?.path})` : 'MemTotal',
  };
}

/** `live.memory-overcommit`: Σ pm.max_children × largest measured worker over the budget. */
export function memoryOvercommit(ctx: LiveContext): void {
  const budget = liveMemoryBudget(ctx.snapshot);
  if (budget === undefined) return;
  const fraction = ctx.options.memoryBudgetFraction;
  let demand = 0;
  const parts: { pool: string; maxChildren: number; workerBytes: number }[] = [];
  for (const { pool } of ctx.pools) {
    const max = pool.config?.pm.maxChildren;
    if (max === undefined || !pool.workerMemory.ok || pool.workerMemory.value.count === 0) continue;
    const worker = pool.workerMemory.value.maxBytes;
    demand += max * worker;
    parts.push({ pool: pool.name, maxChildren: max, workerBytes: worker });
  }
  if (parts.length === 0 || !(demand > budget.bytes * fraction)) return;
  report(ctx, 'live.memory-overcommit', {
    message: `At pm.max_children the pools would use ${formatBytes(demand)}, more than the ${formatBytes(budget.bytes)} ${budget.source} allows: under load the OOM killer or swap ends it`,
    directive: 'pm.max_children',
    evidence: {
      demandBytes: demand,
      budgetBytes: budget.bytes,
      budgetSource: budget.source,
      pools: parts,
    },
    // Each pool keeps its share of the demand, in the budget: sizing's maxChildrenForMemory.
    fix: parts
      .map((p) => {
        const share = (budget.bytes * fraction * (p.maxChildren * p.workerBytes)) / demand;
        const children = maxChildrenForMemory({
          memoryBytes: share,
          reserveBytes: 0,
          workerBytes: p.workerBytes,
        });
        return `pool ${p.pool}: pm.max_children = ${Math.max(1, children)}`;
      })
      .join('; '),
  });
}
