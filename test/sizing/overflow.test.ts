import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  burstOverflow,
  burstOverflowRange,
  recommendBacklog,
  reloadOverflow,
  reloadOverflowProbability,
  reloadWindow,
} from '../../src/sizing/overflow.js';
import {
  logFactorial,
  poissonExpectedExcess,
  poissonQuantile,
  poissonUpperTail,
} from '../../src/sizing/poisson.js';

/** Brute force: the Poisson pmf by a running product, summed over a wide range. */
function bruteExcess(mean: number, q: number): { excess: number; tail: number } {
  let p = Math.exp(-mean);
  let excess = 0;
  let tail = 0;
  for (let n = 0; n < mean + 60 * Math.sqrt(mean) + 200; n++) {
    if (n > 0) p *= mean / n;
    if (n > q) {
      excess += (n - q) * p;
      tail += p;
    }
  }
  return { excess, tail };
}

describe('poisson helpers', () => {
  it('logFactorial matches a running sum of logs past the table', () => {
    let sum = 0;
    for (let n = 1; n <= 3000; n++) {
      sum += Math.log(n);
      expect(Math.abs(logFactorial(n) - sum)).toBeLessThanOrEqual(1e-12 * (1 + sum));
    }
  });

  it.each([
    [0.5, 0],
    [0.5, 3],
    [10, 5],
    [10, 20],
    [150, 129],
    [150, 189],
    [500, 400],
    [500, 600],
  ])('mean %d, %d slots: excess and tail agree with brute force', (mean, q) => {
    const b = bruteExcess(mean, q);
    expect(poissonExpectedExcess(mean, q)).toBeCloseTo(b.excess, 9);
    expect(Math.abs(poissonUpperTail(mean, q) - b.tail)).toBeLessThan(1e-12 + 1e-9 * b.tail);
  });

  it('quantile is the smallest q with P(N > q) ≤ ε', () => {
    for (const mean of [0.1, 3, 150, 10_000]) {
      for (const eps of [0.1, 0.001, 1e-9, 1e-60]) {
        const q = poissonQuantile(mean, eps);
        expect(poissonUpperTail(mean, q)).toBeLessThanOrEqual(eps);
        if (q > 0) expect(poissonUpperTail(mean, q - 1)).toBeGreaterThan(eps);
      }
    }
  });
});

describe('burstOverflow', () => {
  it.each([
    // burst, servers, queue, busy, queued, share, expected
    [10, 2, 9, 0, 0, 0.5, 0],
    [40, 2, 9, 0, 0, 0.5, 30],
    [40, 2, 9, 0, 0, 1, 29],
    [40, 2, 9, 0, 0, 0, 31],
    [40, 2, 9, 2, 0, 0.5, 31],
    [40, 2, 9, 2, 4, 0.5, 35],
    [0, 5, 0, 0, 0, 0.5, 0],
    [3, 0, 0, 0, 0, 0.5, 3],
  ])(
    'burst %i, %i children, queue %i, %i busy, %i queued, share %d → %d',
    (burst, servers, queueCapacity, busyServers, queuedConnections, acceptDuringBurst, expected) => {
      expect(
        burstOverflow({
          burst,
          servers,
          queueCapacity,
          busyServers,
          queuedConnections,
          acceptDuringBurst,
        }),
      ).toBe(expected);
    },
  );

  it('the range brackets the expected value', () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.nat(500),
        fc.nat(5000),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (burst, servers, queueCapacity, share) => {
          const r = burstOverflowRange({ burst, servers, queueCapacity, acceptDuringBurst: share });
          return r.min <= r.expected && r.expected <= r.max && r.max <= burst && r.min >= 0;
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each([
    [{ burst: -1, servers: 1, queueCapacity: 1 }, 'burst'],
    [{ burst: 1.5, servers: 1, queueCapacity: 1 }, 'burst'],
    [{ burst: 1, servers: 1, queueCapacity: 1, busyServers: 2 }, 'busyServers'],
    [{ burst: 1, servers: 1, queueCapacity: 1, queuedConnections: 2 }, 'queuedConnections'],
    [{ burst: 1, servers: 1, queueCapacity: 1, acceptDuringBurst: 2 }, 'acceptDuringBurst'],
  ])('rejects %o', (input, option) => {
    expect(() => burstOverflow(input)).toThrow(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION', option }),
    );
  });
});

describe('reloadOverflow', () => {
  it('the midnight case: 1000/s for 150 ms against 129 slots', () => {
    const base = { arrivalRate: 1000, windowSeconds: 0.15, queueCapacity: 129 };
    expect(reloadOverflow({ ...base, arrivals: 'uniform' })).toBeCloseTo(21, 12);
    expect(reloadOverflow(base)).toBeCloseTo(bruteExcess(150, 129).excess, 9);
    expect(reloadOverflowProbability(base)).toBeGreaterThan(0.95);
    expect(reloadOverflow({ ...base, queueCapacity: 512 })).toBeLessThan(1e-50);
  });

  it('queued connections take slots first', () => {
    const a = reloadOverflow({
      arrivalRate: 100,
      windowSeconds: 1,
      queueCapacity: 100,
      queuedConnections: 50,
      arrivals: 'uniform',
    });
    expect(a).toBe(50);
  });

  it('is never below the fluid bound minus nothing and never above arrivals', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1e5, noNaN: true }),
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.nat(100_000),
        (rate, w, q) => {
          const poisson = reloadOverflow({ arrivalRate: rate, windowSeconds: w, queueCapacity: q });
          const fluid = reloadOverflow({
            arrivalRate: rate,
            windowSeconds: w,
            queueCapacity: q,
            arrivals: 'uniform',
          });
          // Jensen: E[(N − q)+] ≥ (E[N] − q)+, and at most E[N].
          return (
            poisson >= fluid - 1e-6 * (1 + fluid) &&
            poisson <= rate * w + 1e-9 &&
            Number.isFinite(poisson)
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any input returns a number or throws an FpmkitError', () => {
    fc.assert(
      fc.property(fc.double(), fc.double(), fc.integer(), (rate, w, q) => {
        try {
          return !Number.isNaN(
            reloadOverflow({ arrivalRate: rate, windowSeconds: w, queueCapacity: q }),
          );
        } catch (e) {
          return isFpmkitError(e);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('reloadWindow', () => {
  it.each([
    [{ processControlTimeoutSeconds: 0 }, 0.05, 'restart-only'],
    [{ processControlTimeoutSeconds: 0, longestRequestSeconds: 30 }, 0.05, 'restart-only'],
    [
      { processControlTimeoutSeconds: 10, longestRequestSeconds: 2, restartSeconds: 0.1 },
      2.1,
      'longest-request',
    ],
    [
      { processControlTimeoutSeconds: 10, longestRequestSeconds: 30, restartSeconds: 0.1 },
      10.1,
      'process-control-timeout',
    ],
    [{ processControlTimeoutSeconds: 10 }, 10.05, 'process-control-timeout'],
  ])('%o → %d s (%s)', (input, seconds, rule) => {
    const w = reloadWindow(input);
    expect(w.windowSeconds).toBeCloseTo(seconds, 12);
    expect(w.rule).toBe(rule);
  });
});

describe('recommendBacklog', () => {
  const base = {
    arrivalRate: 1000,
    windowSeconds: 0.15,
    servers: 40,
    serviceTimeSeconds: 0.03,
    giveUpSeconds: 60,
  };

  it('absorbs the window with the floor of 511 and raises somaxconn to it', () => {
    const r = recommendBacklog({ ...base, currentSomaxconn: 128 });
    expect(r.neededQueueCapacity).toBe(poissonQuantile(150, 0.001));
    expect(r).toMatchObject({ backlog: 511, somaxconn: 511, queueCapacity: 512, absorbs: true });
    expect(r.expectedRefused).toBeLessThan(1e-50);
  });

  it('goes above the floor when the window needs it, and never lowers somaxconn', () => {
    const r = recommendBacklog({ ...base, windowSeconds: 2, currentSomaxconn: 65535 });
    expect(r.backlog).toBe(r.neededQueueCapacity - 1);
    expect(r.backlog).toBeGreaterThan(2000);
    expect(r.somaxconn).toBe(65535);
  });

  it('is bounded by what drains before the web server gives up', () => {
    const r = recommendBacklog({
      ...base,
      servers: 2,
      serviceTimeSeconds: 0.5,
      giveUpSeconds: 10,
      windowSeconds: 5,
    });
    // 2 children × (10 − 5 − 0.5) / 0.5 = 18 drainable; 5000 arrive.
    expect(r.drainableQueueCapacity).toBe(18);
    expect(r.backlog).toBe(17);
    expect(r.absorbs).toBe(false);
    expect(r.text).toContain('before the web server gives up');
  });
});
