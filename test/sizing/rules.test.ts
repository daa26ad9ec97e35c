import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { childrenForTarget } from '../../src/sizing/concurrency.js';
import {
  maxChildrenForMemory,
  maxRequestsForLeak,
  memoryBudget,
  workerSize,
} from '../../src/sizing/memory.js';
import {
  fpmDefaultStartServers,
  maxSpawnRate,
  processIdleTimeoutSeconds,
  spareServers,
} from '../../src/sizing/pm.js';
import { erlangC } from '../../src/sizing/queueing.js';
import { timeoutCorridor } from '../../src/sizing/timeouts.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('memoryBudget', () => {
  it.each([
    ['host only, default reserve', { totalBytes: 16 * GiB }, 16 * GiB - 1.6 * GiB, 'total'],
    ['small host: reserve floor 256 MiB', { totalBytes: 1 * GiB }, 768 * MiB, 'total'],
    [
      'tightest cgroup wins',
      { totalBytes: 64 * GiB, cgroupLimitsBytes: ['unlimited', 8 * GiB, 4 * GiB] as const },
      4 * GiB - 0.1 * 4 * GiB,
      'cgroup',
    ],
    [
      'explicit reserve and other services',
      { totalBytes: 8 * GiB, reserveBytes: 1 * GiB, otherServicesBytes: 2 * GiB },
      5 * GiB,
      'total',
    ],
    ['nothing left', { totalBytes: 1 * GiB, otherServicesBytes: 2 * GiB }, 0, 'total'],
  ])('%s', (_name, input, budget, source) => {
    const b = memoryBudget(input);
    expect(b.budgetBytes).toBeCloseTo(budget, -1);
    expect(b.source).toBe(source);
    expect(b.text).toContain('MiB');
  });
});

describe('workerSize', () => {
  it('takes the nearest-rank percentile of PSS plus growth', () => {
    const samples = Array.from({ length: 100 }, (_, i) => (i + 1) * MiB);
    const w = workerSize({ pssSamplesBytes: samples, growthBytes: 5 * MiB });
    expect(w).toMatchObject({ workerBytes: 100 * MiB, source: 'pss-samples' });
    expect(workerSize({ pssSamplesBytes: samples, percentile: 0.5 }).workerBytes).toBe(50 * MiB);
  });

  it('falls back to memory_limit as an upper bound and says so', () => {
    const w = workerSize({ memoryLimitBytes: 128 * MiB });
    expect(w).toMatchObject({ workerBytes: 144 * MiB, source: 'memory-limit' });
    expect(w.text).toContain('upper bound');
  });

  it.each([
    [{}, 'pssSamplesBytes'],
    [{ memoryLimitBytes: 'unlimited' as const }, 'pssSamplesBytes'],
    [{ pssSamplesBytes: [1, -5] }, 'pssSamplesBytes[1]'],
  ])('refuses %o', (input, option) => {
    expect(() => workerSize(input)).toThrow(expect.objectContaining({ option }));
  });
});

describe('maxChildrenForMemory and maxRequestsForLeak', () => {
  it.each([
    [{ memoryBytes: 8 * GiB, reserveBytes: 1 * GiB, workerBytes: 64 * MiB }, 112],
    [
      {
        memoryBytes: 8 * GiB,
        reserveBytes: 1 * GiB,
        workerBytes: 64 * MiB,
        otherServicesBytes: 3 * GiB,
        sharedBytes: 256 * MiB,
      },
      60,
    ],
    [{ memoryBytes: 1 * GiB, reserveBytes: 2 * GiB, workerBytes: 64 * MiB }, 0],
  ])('%o → %i children', (input, expected) => {
    expect(maxChildrenForMemory(input)).toBe(expected);
  });

  it.each([
    [0, 10 * MiB, 0],
    [1024, 10 * MiB, 10240],
    [20 * MiB, 10 * MiB, 1],
  ])('leak %i B/request with budget %i → max_requests %i', (leak, budget, expected) => {
    expect(maxRequestsForLeak({ leakBytesPerRequest: leak, growthBudgetBytes: budget })).toBe(
      expected,
    );
  });
});

describe('pm rules', () => {
  it.each([
    [1, 1, 1],
    [1, 4, 2],
    [2, 7, 4],
    [5, 10, 7],
    [10, 10, 10],
  ])("FPM's start formula: min %i, max %i → %i", (min, max, start) => {
    expect(fpmDefaultStartServers(min, max)).toBe(start);
  });

  it.each([
    [0, 1, 1],
    [30, 13, 26],
    [30, 13, 10],
    [1000, 74, 500],
  ])('spare servers for load %d, max_children %i', (a, min, maxChildren) => {
    const s = spareServers({ offeredLoad: a, maxChildren });
    expect(s.minSpareServers).toBe(Math.min(min, maxChildren));
    expect(s.maxSpareServers).toBe(Math.min(2 * s.minSpareServers, maxChildren));
    expect(s.startServers).toBe(fpmDefaultStartServers(s.minSpareServers, s.maxSpareServers));
    expect(s.startServers).toBeGreaterThanOrEqual(s.minSpareServers);
    expect(s.startServers).toBeLessThanOrEqual(s.maxSpareServers);
  });

  it('spare servers always pass FPM validation', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.integer({ min: 1, max: 1e5 }),
        (a, c) => {
          const s = spareServers({ offeredLoad: a, maxChildren: c });
          return (
            s.minSpareServers > 0 &&
            s.maxSpareServers >= s.minSpareServers &&
            s.maxSpareServers <= c &&
            s.startServers >= s.minSpareServers &&
            s.startServers <= s.maxSpareServers
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    [1, 1],
    [3, 4],
    [8, 8],
    [13, 16],
    [33, 64],
  ])('max_spawn_rate for min_spare %i is %i', (min, rate) => {
    expect(maxSpawnRate(min)).toBe(rate);
  });

  it.each([
    [0, 5, 10],
    [100, 5, 10],
    [1, 5, 15],
    [0.001, 5, 300],
  ])('idle timeout at %d req/s over %i children: %i s', (rate, c, seconds) => {
    expect(processIdleTimeoutSeconds(rate, c)).toBe(seconds);
  });
});

describe('timeoutCorridor', () => {
  it.each([1, 5, 30, 59.5, 300, 3600])(
    'is ordered with margins for a longest request of %d s',
    (t) => {
      const c = timeoutCorridor({ longestRequestSeconds: t });
      expect(c.maxExecutionTimeSeconds).toBeGreaterThanOrEqual(t);
      expect(c.requestTerminateTimeoutSeconds).toBeGreaterThan(c.maxExecutionTimeSeconds);
      // FPM may notice the terminate timeout up to a third late; nginx must still be waiting.
      expect(c.fastcgiReadTimeoutSeconds).toBeGreaterThan(
        (c.requestTerminateTimeoutSeconds * 4) / 3,
      );
      expect(c.processControlTimeoutSeconds).toBe(c.requestTerminateTimeoutSeconds);
      for (const v of [
        c.maxExecutionTimeSeconds,
        c.requestTerminateTimeoutSeconds,
        c.fastcgiReadTimeoutSeconds,
      ]) {
        expect(Number.isInteger(v)).toBe(true);
      }
    },
  );
});

describe('childrenForTarget', () => {
  it('finds the smallest c that meets a p99 wait target', () => {
    const n = childrenForTarget({
      arrivalRate: 1000,
      serviceTimeSeconds: 0.03,
      target: { waitSeconds: 0.05 },
    });
    const at = (c: number) =>
      erlangC({ arrivalRate: 1000, serviceTimeSeconds: 0.03, servers: c }).waitQuantileSeconds(
        0.99,
      );
    expect(at(n.neededChildren)).toBeLessThanOrEqual(0.05);
    expect(at(n.neededChildren - 1)).toBeGreaterThan(0.05);
    expect(n.boundBy).toBe('target');
    expect(n.meanBusyChildren).toBeCloseTo(30, 12);
    expect(n.text).toContain("Little's law");
  });

  it('finds the smallest c for a probability-of-wait target', () => {
    const n = childrenForTarget({
      arrivalRate: 64,
      serviceTimeSeconds: 0.05,
      target: { probabilityOfWait: 0.2 },
    });
    const pw = (c: number) =>
      erlangC({ arrivalRate: 64, serviceTimeSeconds: 0.05, servers: c }).probabilityOfWait;
    expect(pw(n.neededChildren)).toBeLessThanOrEqual(0.2);
    expect(pw(n.neededChildren - 1)).toBeGreaterThan(0.2);
  });

  it('a fixed service time (cv 0) needs no more children than an exponential one', () => {
    const base = { arrivalRate: 500, serviceTimeSeconds: 0.1, target: { waitSeconds: 0.02 } };
    expect(childrenForTarget({ ...base, serviceTimeCv: 0 }).neededChildren).toBeLessThanOrEqual(
      childrenForTarget(base).neededChildren,
    );
  });

  it('is capped by CPU for CPU-bound work and by memory', () => {
    const cpu = childrenForTarget({
      arrivalRate: 100,
      serviceTimeSeconds: 0.1,
      cpuShare: 0.9,
      cores: 8,
      target: { waitSeconds: 0 },
    });
    expect(cpu.cpuMaxChildren).toBe(8);
    expect(cpu.boundBy).toBe('cpu');
    expect(cpu.meanBusyCores).toBeCloseTo(9, 12);
    expect(cpu.targetMet).toBe(false);
    const mem = childrenForTarget({
      arrivalRate: 100,
      serviceTimeSeconds: 0.1,
      memoryMaxChildren: 11,
      target: { waitSeconds: 0.01 },
    });
    expect(mem).toMatchObject({ children: 11, boundBy: 'memory' });
  });

  it.each([
    [
      { arrivalRate: 1, serviceTimeSeconds: 1, target: { probabilityOfWait: 0 } },
      'target.probabilityOfWait',
    ],
    [
      { arrivalRate: 1, serviceTimeSeconds: 1, target: { waitSeconds: 1, percentile: 1 } },
      'target.percentile',
    ],
    [{ arrivalRate: 1, serviceTimeSeconds: 1, cpuShare: 0.5, target: { waitSeconds: 1 } }, 'cores'],
  ])('rejects %o', (input, option) => {
    expect(() => childrenForTarget(input)).toThrow(expect.objectContaining({ option }));
  });
});
