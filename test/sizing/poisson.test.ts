import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, isFpmkitError } from '../../src/errors.js';
import {
  logFactorial,
  MAX_POISSON_MEAN,
  poissonExpectedExcess,
  poissonPmf,
  poissonQuantile,
  poissonUpperTail,
} from '../../src/sizing/index.js';

/** Direct sums for small means, to check the log-space walks against. */
function pmfDirect(mean: number, n: number): number {
  let p = Math.exp(-mean);
  for (let k = 1; k <= n; k++) p *= mean / k;
  return p;
}
function tailDirect(mean: number, q: number): number {
  let below = 0;
  for (let n = 0; n <= Math.floor(q); n++) below += pmfDirect(mean, n);
  return 1 - below;
}
function excessDirect(mean: number, q: number): number {
  let sum = 0;
  for (let n = Math.max(0, Math.floor(q) + 1); n < 200; n++) sum += (n - q) * pmfDirect(mean, n);
  return sum;
}

describe('poisson input checks', () => {
  it.each<[string, string, () => unknown]>([
    ['poissonQuantile(NaN, 0.001)', 'mean', () => poissonQuantile(Number.NaN, 0.001)],
    ['poissonQuantile(-1, 0.001)', 'mean', () => poissonQuantile(-1, 0.001)],
    ['poissonQuantile(Infinity, 0.001)', 'mean', () => poissonQuantile(Infinity, 0.001)],
    ['poissonQuantile(1e300, 0.001)', 'mean', () => poissonQuantile(1e300, 0.001)],
    ['poissonQuantile(5, 0)', 'epsilon', () => poissonQuantile(5, 0)],
    ['poissonQuantile(5, NaN)', 'epsilon', () => poissonQuantile(5, Number.NaN)],
    ['poissonQuantile(5, 1.5)', 'epsilon', () => poissonQuantile(5, 1.5)],
    ['poissonExpectedExcess(-1, 3)', 'mean', () => poissonExpectedExcess(-1, 3)],
    ['poissonExpectedExcess(NaN, 3)', 'mean', () => poissonExpectedExcess(Number.NaN, 3)],
    ['poissonExpectedExcess(5, NaN)', 'q', () => poissonExpectedExcess(5, Number.NaN)],
    ['poissonUpperTail(-1, 3)', 'mean', () => poissonUpperTail(-1, 3)],
    ['poissonUpperTail(5, NaN)', 'q', () => poissonUpperTail(5, Number.NaN)],
    ['poissonUpperTail(5, Infinity)', 'q', () => poissonUpperTail(5, Infinity)],
    ['poissonPmf(-1, 2)', 'mean', () => poissonPmf(-1, 2)],
    ['poissonPmf(2, 1.5)', 'n', () => poissonPmf(2, 1.5)],
    ['logFactorial(-1)', 'n', () => logFactorial(-1)],
    ['logFactorial(2.5)', 'n', () => logFactorial(2.5)],
    ['logFactorial(NaN)', 'n', () => logFactorial(Number.NaN)],
  ])('%s throws FpmkitInvalidOptionError naming %s', (_, option, call) => {
    try {
      call();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((error as FpmkitInvalidOptionError).option).toBe(option);
    }
  });

  it('takes the largest mean it allows', () => {
    expect(poissonQuantile(MAX_POISSON_MEAN, 0.001)).toBeGreaterThan(MAX_POISSON_MEAN);
  });
});

describe('poisson values', () => {
  it('P(N > 2.5) is P(N > 2), a number', () => {
    expect(poissonUpperTail(5, 2.5)).toBeCloseTo(tailDirect(5, 2), 12);
    expect(poissonUpperTail(5, 2.5)).toBe(poissonUpperTail(5, 2));
    expect(poissonUpperTail(5, 7.9)).toBe(poissonUpperTail(5, 7));
  });

  it.each([
    [0, 0],
    [1, 0],
    [5, Math.log(120)],
    [20, Math.log(2432902008176640000)],
  ])('logFactorial(%i)', (n, value) => {
    expect(logFactorial(n)).toBeCloseTo(value, 9);
  });

  it('poissonPmf is 0 below zero and matches the direct product', () => {
    expect(poissonPmf(3, -1)).toBe(0);
    expect(poissonPmf(0, 0)).toBe(1);
    expect(poissonPmf(3, 4)).toBeCloseTo(pmfDirect(3, 4), 14);
  });

  it('poissonExpectedExcess with a fractional q matches the direct sum', () => {
    for (const [mean, q] of [
      [5, 2.5],
      [5, 7.25],
      [0.5, 0.5],
      [30, 29.9],
    ] as const) {
      expect(poissonExpectedExcess(mean, q), `${mean} ${q}`).toBeCloseTo(excessDirect(mean, q), 9);
    }
    expect(poissonExpectedExcess(0, -2)).toBe(2);
    expect(poissonExpectedExcess(0, 3)).toBe(0);
  });

  it('tail, excess and quantile agree with direct sums and never throw a TypeError (fuzzed)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -10, max: 60, noNaN: false }),
        fc.double({ min: -5, max: 120, noNaN: false }),
        fc.double({ min: -0.5, max: 1.5, noNaN: false }),
        (mean, q, eps) => {
          try {
            const tail = poissonUpperTail(mean, q);
            expect(tail).toBeGreaterThanOrEqual(0);
            expect(tail).toBeLessThanOrEqual(1);
            expect(Math.abs(tail - tailDirect(mean, q))).toBeLessThan(1e-9);
            const excess = poissonExpectedExcess(mean, q);
            expect(Math.abs(excess - excessDirect(mean, q))).toBeLessThan(1e-8);
            const k = poissonQuantile(mean, eps);
            expect(Number.isInteger(k)).toBe(true);
            // Subnormal epsilons and means are past what the tail sums resolve.
            if (eps < 1e-12 || (mean > 0 && mean < 1e-9)) return;
            expect(poissonUpperTail(mean, k)).toBeLessThanOrEqual(eps);
            if (k > 0) expect(poissonUpperTail(mean, k - 1)).toBeGreaterThan(eps);
          } catch (error) {
            if (!isFpmkitError(error)) throw error;
            expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
