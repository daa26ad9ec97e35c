/**
 * The planner and checkStack share one timeout-corridor rule: every plan planPool makes, fed
 * back into checkStack, passes without an error or a warning.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkStack, STACK_TIMEOUT_MARGIN_SECONDS } from '../../src/doctor/index.js';
import type { Plan } from '../../src/sizing/index.js';
import {
  planPool,
  safePlanPool,
  TIMEOUT_CORRIDOR_MARGIN_SECONDS,
  timeoutCorridor,
} from '../../src/sizing/index.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function stackOf(plan: Plan) {
  return {
    fpm: { global: plan.global, pool: plan.pool },
    kernel: plan.kernel,
    nginx: plan.nginx,
    php: plan.php,
  };
}

/** Findings that would make a user change a planned setting. */
function complaints(plan: Plan) {
  return checkStack(stackOf(plan)).filter((f) => f.severity !== 'info');
}

describe('plans pass checkStack', () => {
  it('uses one margin for the corridor and the check', () => {
    expect(STACK_TIMEOUT_MARGIN_SECONDS).toBe(TIMEOUT_CORRIDOR_MARGIN_SECONDS);
    const c = timeoutCorridor({ longestRequestSeconds: 30 });
    expect(c.requestTerminateTimeoutSeconds - c.maxExecutionTimeSeconds).toBe(
      TIMEOUT_CORRIDOR_MARGIN_SECONDS,
    );
  });

  it('a default plan: no max-execution-above-terminate, no body-limit finding', () => {
    const plan = planPool({
      name: 'www',
      arrivalRate: 50,
      serviceTimeSeconds: 0.1,
      cores: 4,
      totalMemoryBytes: 8 * GiB,
    });
    expect(plan.php.maxExecutionTimeSeconds).toBe(30);
    expect(plan.pool.requestTerminateTimeoutSeconds).toBe(35);
    // 35 + 35/3 detection lag + 5 = 51.7, rounded up.
    expect(plan.nginx.readTimeoutSeconds).toBe(52);
    // PHP's post_max_size default: at least upload_max_filesize (2M), no more than post_max_size.
    expect(plan.nginx.clientMaxBodySizeBytes).toBe(8 * MiB);
    expect(complaints(plan)).toEqual([]);
  });

  it('a plan with a tight corridor near the margin still passes', () => {
    for (const longest of [0.5, 1, 4, 5, 6, 299.5, 3600]) {
      const plan = planPool({
        name: 'www',
        arrivalRate: 5,
        serviceTimeSeconds: 0.05,
        longestRequestSeconds: longest,
        cores: 2,
        totalMemoryBytes: 4 * GiB,
      });
      expect(complaints(plan), `longest ${longest}s`).toEqual([]);
    }
  });

  it('for random feasible planPool inputs, checkStack finds no error or warning', () => {
    let feasible = 0;
    fc.assert(
      fc.property(
        fc.record({
          arrivalRate: fc.double({ min: 0.01, max: 2000, noNaN: true }),
          serviceTimeSeconds: fc.double({ min: 0.001, max: 5, noNaN: true }),
          serviceTimeCv: fc.option(fc.double({ min: 0, max: 3, noNaN: true }), {
            nil: undefined,
          }),
          cpuShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
          longestRequestSeconds: fc.option(fc.double({ min: 0.1, max: 3600, noNaN: true }), {
            nil: undefined,
          }),
          mode: fc.option(
            fc.constantFrom('static', 'dynamic', 'ondemand') as fc.Arbitrary<
              'static' | 'dynamic' | 'ondemand'
            >,
            { nil: undefined },
          ),
          memoryLimitBytes: fc.option(
            fc.oneof(
              fc.integer({ min: 16, max: 2048 }).map((m) => m * MiB),
              fc.constant('unlimited' as const),
            ),
            { nil: undefined },
          ),
          workerBytes: fc.option(
            fc.integer({ min: 8, max: 512 }).map((m) => m * MiB),
            {
              nil: undefined,
            },
          ),
          leakBytesPerRequest: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
          listenAddress: fc.constantFrom(
            undefined,
            '/run/php/app.sock',
            '127.0.0.1:9000',
            '9001',
            '[::1]:9002',
          ),
          cores: fc.integer({ min: 1, max: 64 }),
          totalMemoryGiB: fc.integer({ min: 1, max: 256 }),
          currentSomaxconn: fc.option(fc.integer({ min: 128, max: 65535 }), { nil: undefined }),
          reloadWindowSeconds: fc.option(fc.double({ min: 0, max: 60, noNaN: true }), {
            nil: undefined,
          }),
        }),
        (r) => {
          const input = {
            name: 'app',
            arrivalRate: r.arrivalRate,
            serviceTimeSeconds: r.serviceTimeSeconds,
            cores: r.cores,
            totalMemoryBytes: r.totalMemoryGiB * GiB,
            ...(r.serviceTimeCv === undefined ? {} : { serviceTimeCv: r.serviceTimeCv }),
            ...(r.cpuShare === undefined ? {} : { cpuShare: r.cpuShare }),
            ...(r.longestRequestSeconds === undefined
              ? {}
              : { longestRequestSeconds: r.longestRequestSeconds }),
            ...(r.mode === undefined ? {} : { mode: r.mode }),
            ...(r.memoryLimitBytes === undefined ? {} : { memoryLimitBytes: r.memoryLimitBytes }),
            // An unlimited memory_limit bounds no worker: the planner then needs a measured size.
            ...(r.workerBytes === undefined
              ? r.memoryLimitBytes === 'unlimited'
                ? { workerBytes: 64 * MiB }
                : {}
              : { workerBytes: r.workerBytes }),
            ...(r.leakBytesPerRequest === undefined
              ? {}
              : { leakBytesPerRequest: r.leakBytesPerRequest }),
            ...(r.listenAddress === undefined ? {} : { listenAddress: r.listenAddress }),
            ...(r.currentSomaxconn === undefined ? {} : { currentSomaxconn: r.currentSomaxconn }),
            ...(r.reloadWindowSeconds === undefined
              ? {}
              : { reloadWindowSeconds: r.reloadWindowSeconds }),
          };
          const result = safePlanPool(input);
          fc.pre(result.success);
          if (!result.success) return;
          feasible++;
          // memory_limit 'unlimited' is the user's own input; checkStack's memory check only
          // runs with a memoryBudgetBytes, which is not passed here, so it cannot fire.
          expect(complaints(result.data)).toEqual([]);
        },
      ),
      { numRuns: 300, maxSkipsPerRun: 100 },
    );
    expect(feasible).toBeGreaterThanOrEqual(300);
  });
});
