import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import { erlangB, erlangC, mmck } from '../../src/sizing/queueing.js';

/**
 * An independent solution: the birth-death chain of M/M/c(/K) solved state by state from the
 * balance equations p(n+1)·min(n+1, c)·μ = p(n)·λ, in linear space with rescaling, truncated
 * where the tail no longer matters. Nothing here shares code or formulas with src/sizing.
 */
function solveChain(lambda: number, mu: number, c: number, capacity: number | undefined) {
  const rho = lambda / (c * mu);
  const tail =
    capacity === undefined ? c + Math.ceil(Math.log(1e-22) / Math.log(rho)) + 10 : capacity;
  const w: number[] = [1];
  for (let n = 0; n < tail; n++) {
    const next = (w[n]! * lambda) / (Math.min(n + 1, c) * mu);
    w.push(next);
    if (next > 1e200) for (let i = 0; i < w.length; i++) w[i]! /= 1e200;
  }
  const z = w.reduce((s, x) => s + x, 0);
  const p = w.map((x) => x / z);
  let atLeastC = 0;
  let lq = 0;
  for (let n = c; n < p.length; n++) {
    atLeastC += p[n]!;
    lq += (n - c) * p[n]!;
  }
  return { p, atLeastC, lq };
}

/** P(Wq > t) from the chain: an arrival finding n ≥ c waits for n − c + 1 departures at rate cμ. */
function chainWaitExceedance(p: number[], c: number, mu: number, t: number): number {
  const x = c * mu * t;
  let sum = 0;
  let poissonCdf = 0;
  let term = Math.exp(-x);
  for (let n = c; n < p.length; n++) {
    const k = n - c;
    if (k > 0) term *= x / k;
    poissonCdf += term;
    sum += p[n]! * Math.min(1, poissonCdf);
  }
  return sum;
}

function relClose(actual: number, expected: number, tol = 1e-9): boolean {
  if (Math.abs(expected) < 1e-290) return Math.abs(actual) < 1e-280;
  return Math.abs(actual - expected) <= tol * Math.abs(expected);
}

const LOADS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99];

describe('erlangC against the birth-death chain', () => {
  it('agrees within 1e-9 for servers 1..200 and many loads', () => {
    const mu = 1 / 0.2;
    let checked = 0;
    const failures: string[] = [];
    for (let c = 1; c <= 200; c++) {
      for (const rho of LOADS) {
        const lambda = rho * c * mu;
        const chain = solveChain(lambda, mu, c, undefined);
        const r = erlangC({ arrivalRate: lambda, serviceTimeSeconds: 0.2, servers: c });
        const wq = chain.lq / lambda;
        if (!relClose(r.probabilityOfWait, chain.atLeastC)) {
          failures.push(`c=${c} rho=${rho} P(wait) ${r.probabilityOfWait} vs ${chain.atLeastC}`);
        }
        if (!relClose(r.meanWaitSeconds, wq)) {
          failures.push(`c=${c} rho=${rho} Wq ${r.meanWaitSeconds} vs ${wq}`);
        }
        if (!relClose(r.meanQueueLength, chain.lq)) failures.push(`c=${c} rho=${rho} Lq`);
        checked++;
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBe(200 * LOADS.length);
  });

  it('its wait quantiles are the exact waiting-time distribution of the chain', () => {
    const mu = 1 / 0.05;
    for (const c of [1, 2, 4, 10, 50, 200]) {
      for (const rho of [0.5, 0.8, 0.9, 0.99]) {
        const lambda = rho * c * mu;
        const chain = solveChain(lambda, mu, c, undefined);
        const r = erlangC({ arrivalRate: lambda, serviceTimeSeconds: 0.05, servers: c });
        for (const q of [0.5, 0.9, 0.99, 0.999]) {
          const t = r.waitQuantileSeconds(q);
          if (q <= 1 - r.probabilityOfWait) {
            expect(t).toBe(0);
            continue;
          }
          const exceed = chainWaitExceedance(chain.p, c, mu, t);
          expect(relClose(exceed, 1 - q, 1e-8), `c=${c} rho=${rho} q=${q}: ${exceed}`).toBe(true);
          expect(relClose(r.waitExceedanceProbability(t), 1 - q, 1e-12)).toBe(true);
        }
      }
    }
  });

  it('matches a hand-checked value: 4 children, 64 req/s of 50 ms', () => {
    const r = erlangC({ arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4 });
    // a = 3.2: B(4, 3.2) = 0.1895..., C = 4B / (4 − 3.2(1 − B)) = 0.59643...
    expect(r.probabilityOfWait).toBeCloseTo(0.596432, 6);
    expect(r.meanWaitSeconds).toBeCloseTo(0.596432 / 16, 6);
    expect(r.utilization).toBeCloseTo(0.8, 12);
  });

  it('scales waits, not P(wait), by the Allen-Cunneen factor (1 + cv²)/2', () => {
    const base = { arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4 };
    const m = erlangC(base);
    for (const [cv, factor] of [
      [0, 0.5],
      [1, 1],
      [2, 2.5],
    ] as const) {
      const g = erlangC({ ...base, serviceTimeCv: cv });
      expect(g.waitCorrection).toBe(factor);
      expect(g.probabilityOfWait).toBe(m.probabilityOfWait);
      expect(g.meanWaitSeconds).toBeCloseTo(m.meanWaitSeconds * factor, 14);
      expect(g.waitQuantileSeconds(0.99)).toBeCloseTo(m.waitQuantileSeconds(0.99) * factor, 14);
    }
  });

  it('uses (ca² + cs²)/2 when the arrival cv is given too (G/G/c)', () => {
    const base = { arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4 };
    const m = erlangC(base);
    const g = erlangC({ ...base, arrivalCv: 1.2, serviceTimeCv: 0.5 });
    expect(g.waitCorrection).toBeCloseTo((1.44 + 0.25) / 2, 14);
    expect(g.meanWaitSeconds).toBeCloseTo(m.meanWaitSeconds * g.waitCorrection, 14);
    expect(() => erlangC({ ...base, arrivalCv: -1 })).toThrow(
      expect.objectContaining({ option: 'arrivalCv' }),
    );
  });

  it.each([
    ['exactly saturated', 80, 4],
    ['overloaded', 1000, 4],
    ['one server overloaded', 21, 1],
  ])('%s: typed unstable result, no NaN', (_name, lambda, c) => {
    const r = erlangC({ arrivalRate: lambda, serviceTimeSeconds: 0.05, servers: c });
    expect(r.stable).toBe(false);
    expect(r.probabilityOfWait).toBe(1);
    expect(r.meanWaitSeconds).toBe(Number.POSITIVE_INFINITY);
    expect(r.waitQuantileSeconds(0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(r.waitQuantileSeconds(0)).toBe(0);
    for (const v of Object.values(r)) if (typeof v === 'number') expect(v).not.toBeNaN();
  });

  it('no load: nobody waits', () => {
    const r = erlangC({ arrivalRate: 0, serviceTimeSeconds: 0.05, servers: 3 });
    expect(r).toMatchObject({ stable: true, probabilityOfWait: 0, meanWaitSeconds: 0 });
    expect(r.waitQuantileSeconds(0.999)).toBe(0);
  });

  it.each([
    [{ arrivalRate: -1, serviceTimeSeconds: 1, servers: 1 }, 'arrivalRate'],
    [{ arrivalRate: Number.NaN, serviceTimeSeconds: 1, servers: 1 }, 'arrivalRate'],
    [{ arrivalRate: 1, serviceTimeSeconds: 0, servers: 1 }, 'serviceTimeSeconds'],
    [{ arrivalRate: 1, serviceTimeSeconds: 1, servers: 0 }, 'servers'],
    [{ arrivalRate: 1, serviceTimeSeconds: 1, servers: 1.5 }, 'servers'],
    [{ arrivalRate: 1, serviceTimeSeconds: 1, servers: 2e6 }, 'servers'],
    [{ arrivalRate: 1, serviceTimeSeconds: 1, servers: 2, serviceTimeCv: -1 }, 'serviceTimeCv'],
    [
      { arrivalRate: 1e308, serviceTimeSeconds: 1e10, servers: 2 },
      'arrivalRate × serviceTimeSeconds',
    ],
  ])('rejects %o naming %s', (input, option) => {
    expect(() => erlangC(input)).toThrow(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION', option }),
    );
  });

  it('rejects a quantile outside [0, 1]', () => {
    const r = erlangC({ arrivalRate: 1, serviceTimeSeconds: 1, servers: 2 });
    expect(() => r.waitQuantileSeconds(1.5)).toThrow(expect.objectContaining({ option: 'p' }));
  });
});

describe('mmck against the finite birth-death chain', () => {
  it('agrees within 1e-9 for servers 1..200, loads up to 10 and several queue sizes', () => {
    const failures: string[] = [];
    let checked = 0;
    const mu = 1 / 0.1;
    for (let c = 1; c <= 200; c += c < 20 ? 1 : 7) {
      for (const rho of [0.01, 0.1, 0.5, 0.8, 0.95, 1, 1.2, 3, 10]) {
        for (const slots of [0, 1, 9, 100, 1000]) {
          const lambda = rho * c * mu;
          const capacity = c + slots;
          const chain = solveChain(lambda, mu, c, capacity);
          const r = mmck({ arrivalRate: lambda, serviceTimeSeconds: 0.1, servers: c, capacity });
          const pk = chain.p[capacity]!;
          const throughput = lambda * (1 - pk);
          const expected = {
            blockingProbability: pk,
            meanQueueLength: chain.lq,
            meanWaitSeconds: chain.lq / throughput,
            throughput,
            probabilityOfWait: (chain.atLeastC - pk) / (1 - pk),
          };
          for (const [key, value] of Object.entries(expected)) {
            const got = r[key as keyof typeof expected];
            if (
              slots === 0 &&
              (key === 'meanQueueLength' ||
                key === 'meanWaitSeconds' ||
                key === 'probabilityOfWait')
            ) {
              if (got !== 0) failures.push(`c=${c} rho=${rho} slots=0 ${key}=${got}`);
              continue;
            }
            if (!relClose(got, value)) {
              failures.push(`c=${c} rho=${rho} slots=${slots} ${key}: ${got} vs ${value}`);
            }
          }
          checked++;
        }
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(1500);
  });

  it('with no queue slots it is Erlang B', () => {
    for (const [c, a] of [
      [1, 0.5],
      [10, 7],
      [100, 120],
    ] as const) {
      const r = mmck({ arrivalRate: a, serviceTimeSeconds: 1, servers: c, capacity: c });
      expect(relClose(r.blockingProbability, erlangB(c, a), 1e-14)).toBe(true);
    }
  });

  it('with a huge queue it approaches Erlang C when stable', () => {
    const c = erlangC({ arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4 });
    const k = mmck({ arrivalRate: 64, serviceTimeSeconds: 0.05, servers: 4, capacity: 1e12 });
    expect(k.blockingProbability).toBe(0);
    expect(relClose(k.meanWaitSeconds, c.meanWaitSeconds, 1e-12)).toBe(true);
    expect(relClose(k.probabilityOfWait, c.probabilityOfWait, 1e-12)).toBe(true);
  });

  it('an overloaded pool refuses exactly the excess in the long run', () => {
    // 10× the capacity of 4 children: throughput saturates at c/S = 80 per second.
    const r = mmck({ arrivalRate: 800, serviceTimeSeconds: 0.05, servers: 4, capacity: 4 + 129 });
    expect(r.throughput).toBeCloseTo(80, 9);
    expect(r.blockingProbability).toBeCloseTo(0.9, 9);
    expect(r.meanQueueLength).toBeCloseTo(129 - 1 / 9, 6);
  });
});

describe('large pools stay finite', () => {
  const servers = [1, 10, 1000, 10_000, 100_000];
  const loads = [0.001, 0.5, 0.9, 0.99, 0.999];
  it.each(servers)('%i servers, utilisation up to 0.999', (c) => {
    for (const rho of loads) {
      const r = erlangC({ arrivalRate: rho * c * 20, serviceTimeSeconds: 0.05, servers: c });
      expect(r.stable).toBe(true);
      for (const v of [
        r.probabilityOfWait,
        r.meanWaitSeconds,
        r.meanQueueLength,
        r.waitQuantileSeconds(0.99),
        r.waitQuantileSeconds(0.999999),
      ]) {
        expect(Number.isFinite(v), `c=${c} rho=${rho}`).toBe(true);
      }
      for (const capacity of [c, c + 1, c + 4096, 2 * c + 65_536, Number.MAX_SAFE_INTEGER]) {
        for (const f of [1, 1.001, 2, 50]) {
          const k = mmck({
            arrivalRate: f * rho * c * 20,
            serviceTimeSeconds: 0.05,
            servers: c,
            capacity,
          });
          for (const v of Object.values(k))
            expect(Number.isFinite(v), `c=${c} rho=${rho} K=${capacity}`).toBe(true);
          expect(k.blockingProbability).toBeGreaterThanOrEqual(0);
          expect(k.blockingProbability).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('100,000 servers at 0.999 give the value a 200-server-style check predicts', () => {
    // Halfin-Whitt: with c large and (1 − ρ)√c = β fixed, P(wait) → [1 + β·Φ(β)/φ(β)]⁻¹.
    const c = 100_000;
    const rho = 1 - 0.5 / Math.sqrt(c);
    const r = erlangC({ arrivalRate: rho * c, serviceTimeSeconds: 1, servers: c });
    const beta = 0.5;
    const phi = Math.exp((-beta * beta) / 2) / Math.sqrt(2 * Math.PI);
    const Phi = 0.6914624612740131;
    expect(r.probabilityOfWait).toBeCloseTo(1 / (1 + (beta * Phi) / phi), 2);
  });
});

describe('properties (fast-check)', () => {
  const arbInput = fc.record({
    servers: fc.integer({ min: 1, max: 100_000 }),
    utilization: fc.double({ min: 0, max: 0.999, noNaN: true }),
    serviceTimeSeconds: fc.double({ min: 1e-4, max: 100, noNaN: true }),
  });

  it('probabilities lie in [0, 1] and waits are finite and non-negative', () => {
    fc.assert(
      fc.property(arbInput, fc.double({ min: 0, max: 1, noNaN: true }), (x, p) => {
        const r = erlangC({
          arrivalRate: (x.utilization * x.servers) / x.serviceTimeSeconds,
          serviceTimeSeconds: x.serviceTimeSeconds,
          servers: x.servers,
        });
        if (r.probabilityOfWait < 0 || r.probabilityOfWait > 1) return false;
        const q = r.waitQuantileSeconds(Math.min(p, 0.999999));
        return (
          Number.isFinite(r.meanWaitSeconds) &&
          r.meanWaitSeconds >= 0 &&
          q >= 0 &&
          Number.isFinite(q)
        );
      }),
      { numRuns: 500 },
    );
  });

  it('waiting falls as servers rise', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.01, max: 0.999, noNaN: true }),
        fc.integer({ min: 1, max: 50 }),
        (c, rho, extra) => {
          const lambda = rho * c;
          const few = erlangC({ arrivalRate: lambda, serviceTimeSeconds: 1, servers: c });
          const more = erlangC({ arrivalRate: lambda, serviceTimeSeconds: 1, servers: c + extra });
          return (
            more.probabilityOfWait <= few.probabilityOfWait * (1 + 1e-12) &&
            more.meanWaitSeconds <= few.meanWaitSeconds * (1 + 1e-12)
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('waiting rises with load', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.double({ min: 1.0001, max: 1.5, noNaN: true }),
        (c, rho, f) => {
          const lo = erlangC({ arrivalRate: rho * c, serviceTimeSeconds: 1, servers: c });
          const hi = erlangC({
            arrivalRate: Math.min(rho * f, 0.999) * c,
            serviceTimeSeconds: 1,
            servers: c,
          });
          return (
            hi.probabilityOfWait >= lo.probabilityOfWait * (1 - 1e-12) &&
            hi.meanWaitSeconds >= lo.meanWaitSeconds * (1 - 1e-12)
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('mmck: blocking in [0, 1], falls as queue slots rise, throughput ≤ min(λ, c/S)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.double({ min: 0.001, max: 20, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 1000 }),
        (c, rho, slots, more) => {
          const base = { arrivalRate: rho * c * 10, serviceTimeSeconds: 0.1, servers: c };
          const a = mmck({ ...base, capacity: c + slots });
          const b = mmck({ ...base, capacity: c + slots + more });
          const tol = 1 + 1e-9;
          return (
            a.blockingProbability >= 0 &&
            a.blockingProbability <= 1 &&
            b.blockingProbability <= a.blockingProbability * tol &&
            a.throughput <= base.arrivalRate * tol &&
            a.throughput <= (c / 0.1) * tol &&
            a.probabilityOfWait >= 0 &&
            a.probabilityOfWait <= 1
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any numeric input returns a result or throws an FpmkitError, never NaN', () => {
    fc.assert(
      fc.property(
        fc.double(),
        fc.double(),
        fc.integer({ min: -5, max: 2_000_000 }),
        fc.double(),
        (l, s, c, cv) => {
          try {
            const r = erlangC({
              arrivalRate: l,
              serviceTimeSeconds: s,
              servers: c,
              serviceTimeCv: cv,
            });
            return [r.probabilityOfWait, r.meanWaitSeconds, r.utilization].every(
              (v) => !Number.isNaN(v),
            );
          } catch (e) {
            return isFpmkitError(e);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
