import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { type PlanHostFacts, runPlan } from '../../src/cli/plan.js';
import type { ExplanationUnit, Plan } from '../../src/sizing/plan.js';
import { planHost, planPool } from '../../src/sizing/planner.js';

/**
 * Plans carry their figures as numbers with units: `sizing` for what the settings were derived
 * from, `unit` on every explanation. The command reads those, never the explanation's words.
 */
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const host = { cores: 8, totalMemoryBytes: 16 * GiB };
const UNITS: readonly ExplanationUnit[] = ['bytes', 'seconds', 'fraction', 'count'];

function unitOf(setting: string): ExplanationUnit {
  if (/Bytes$|memory_limit|client_max_body_size/.test(setting)) return 'bytes';
  if (/Seconds$|timeout|max_execution_time/.test(setting)) return 'seconds';
  if (/utilization|probabilityOfWait|502Rate|RefusalProbability/.test(setting)) return 'fraction';
  return 'count';
}

function expectFigures(plan: Plan): void {
  for (const e of plan.explanations) {
    expect(UNITS, e.setting).toContain(e.unit);
    expect(e.unit, e.setting).toBe(unitOf(e.setting));
  }
  const worker = plan.explanations.find((e) => e.setting === 'sizing.workerBytes')!;
  expect(plan.sizing.workerBytes).toBe(worker.value);
  expect(plan.sizing.plannedBytes).toBe(plan.pool.pm.maxChildren! * plan.sizing.workerBytes);
  const children = plan.explanations.find((e) => e.setting === 'pm.max_children')!;
  expect(plan.sizing.neededChildren).toBe(children.inputs.neededChildren);
  expect(plan.sizing.neededChildren).toBeLessThanOrEqual(plan.pool.pm.maxChildren!);
}

describe('plan figures', () => {
  it('gives every explanation a unit and the sizing figures as numbers', () => {
    const plan = planPool({
      name: 'shop',
      arrivalRate: 120,
      serviceTimeSeconds: 0.08,
      cpuShare: 0.3,
      leakBytesPerRequest: 4096,
      currentListenBacklog: 511,
      ...host,
    });
    expectFigures(plan);
    expect(plan.sizing.workerSource).toBe('memory-limit');
    expect(plan.sizing.cpuMaxChildren).toBe(Math.floor(8 / 0.3));
  });

  it('settles host-wide values before the pools are written (random hosts)', () => {
    const demand = fc.record({
      arrivalRate: fc.double({ min: 1, max: 400, noNaN: true }),
      serviceTimeSeconds: fc.double({ min: 0.005, max: 0.5, noNaN: true }),
      longestRequestSeconds: fc.integer({ min: 1, max: 300 }),
      mode: fc.constantFrom('static' as const, 'ondemand' as const),
    });
    fc.assert(
      fc.property(fc.array(demand, { minLength: 1, maxLength: 4 }), (pools) => {
        const plan = planHost({
          cores: 64,
          totalMemoryBytes: 512 * GiB,
          pools: pools.map((p, i) => ({ ...p, name: `p${i}`, workerBytes: 32 * MiB })),
        });
        const pct = Math.max(...plan.pools.map((p) => p.pool.requestTerminateTimeoutSeconds!));
        expect(plan.global.processControlTimeoutSeconds).toBe(pct);
        let planned = 0;
        for (const p of plan.pools) {
          expectFigures(p);
          planned += p.sizing.plannedBytes;
          expect(p.kernel).toEqual(plan.kernel);
          expect(p.global.processControlTimeoutSeconds).toBe(pct);
          const own = p.pool.requestTerminateTimeoutSeconds!;
          const e = p.explanations.find((x) => x.setting === 'process_control_timeout')!;
          expect(e.value).toBe(pct);
          expect(e.text.includes('raised to')).toBe(own !== pct);
        }
        expect(plan.memory.plannedBytes).toBe(planned);
      }),
      { numRuns: 30 },
    );
  });
});

describe('fpmkit plan reads the figures', () => {
  const facts = (over: Partial<PlanHostFacts> = {}): PlanHostFacts => ({
    memTotalBytes: 16 * GiB,
    memAvailableBytes: 12 * GiB,
    cgroupLimitBytes: 'unlimited',
    cpus: 4,
    somaxconn: 4096,
    problems: [],
    ...over,
  });
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    const io: CliIo = {
      stdout: (t) => {
        out.stdout += t;
      },
      stderr: (t) => {
        out.stderr += t;
      },
      isTTY: false,
      env: {},
    };
    return { io, out };
  };

  it('warns with the planned bytes of plan.sizing when MemAvailable is smaller', async () => {
    const c = capture();
    const code = await runPlan(['--rps', '50', '--worker-memory', '100M', '--json'], c.io, {
      readHost: async () => facts({ memAvailableBytes: 64 * MiB }),
    });
    expect(code).toBe(0);
    const body = JSON.parse(c.out.stdout) as { plan: Plan; notes: string[] };
    const planned = body.plan.sizing.plannedBytes;
    expect(planned).toBe(body.plan.pool.pm.maxChildren! * 100 * MiB);
    const mib = (b: number) =>
      b >= GiB ? `${(b / GiB).toFixed(1)} GiB` : `${Math.round(b / MiB)} MiB`;
    expect(body.notes).toContain(
      `the children may take ${mib(planned)} but only 64 MiB is available now (MemAvailable): other processes use the rest`,
    );
  });

  it('shows each value in its unit, bytes in MiB whatever the setting is called', async () => {
    const c = capture();
    expect(
      await runPlan(['--rps', '50', '--service-time', '40'], c.io, {
        readHost: async () => facts(),
      }),
    ).toBe(0);
    expect(c.out.stdout).toContain('client_max_body_size = 8 MiB');
    expect(c.out.stdout).toContain('php.memory_limit = 128 MiB');
    expect(c.out.stdout).toMatch(/fastcgi_connect_timeout = 5 s/);
    expect(c.out.stdout).toMatch(/predictions\.p99QueueWaitSeconds = [\d.]+ ms/);
    expect(c.out.stdout).toMatch(/predictions\.utilization = [\d.]+ %/);
  });
});
