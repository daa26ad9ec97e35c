import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import { parseNginxAccessLog } from '../../src/logs/index.js';
import {
  erlangC,
  type SimulationPool,
  simulatePool,
  simulationSeriesCsv,
  trafficFromNginxAccessLog,
} from '../../src/sizing/index.js';
import { BinaryHeapEventQueue, SortedArrayEventQueue } from '../../src/sizing/simulate-queue.js';
import { SeededRandom } from '../../src/sizing/simulate-random.js';
import {
  quantileSelect,
  quantileSorted,
  SERIES_CSV_HEADER,
} from '../../src/sizing/simulate-results.js';

const STATIC4: SimulationPool = { pm: { mode: 'static', maxChildren: 4 } };

describe('SeededRandom', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('draws exponentials with the right mean', () => {
    const r = new SeededRandom(1);
    let sum = 0;
    for (let i = 0; i < 200_000; i++) sum += r.exponential(0.5);
    expect(sum / 200_000).toBeCloseTo(0.5, 2);
  });
});

describe('event queues', () => {
  it('pop in time order, ties in insertion order, the heap exactly as the sorted-array reference', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.nat(1000)), fc.constant(null)),
          {
            maxLength: 300,
          },
        ),
        (ops) => {
          const heap = new BinaryHeapEventQueue();
          const plain = new SortedArrayEventQueue();
          const popped: [number, number][][] = [[], []];
          for (const op of ops) {
            if (op === null) {
              for (const [i, q] of [heap, plain].entries()) {
                if (q.pop() >= 0) popped[i]!.push([q.time, q.data]);
              }
            } else {
              heap.push(op[0], 1, op[1]);
              plain.push(op[0], 1, op[1]);
            }
          }
          while (heap.size > 0) {
            heap.pop();
            popped[0]!.push([heap.time, heap.data]);
          }
          while (plain.size > 0) {
            plain.pop();
            popped[1]!.push([plain.time, plain.data]);
          }
          expect(popped[0]).toEqual(popped[1]);
        },
      ),
    );
  });

  it('gives the same simulation with either queue', () => {
    const pool: SimulationPool = {
      pm: {
        mode: 'dynamic',
        maxChildren: 12,
        minSpareServers: 2,
        maxSpareServers: 4,
        maxRequests: 30,
      },
      listen: { backlog: 20 },
    };
    const traffic = [
      { kind: 'poisson', ratePerSecond: 40, durationSeconds: 20 },
      { kind: 'burst', requests: 60, atSeconds: 5 },
    ] as const;
    const options = { serviceTimeSeconds: 0.15, reloadsAtSeconds: [12] };
    const heap = simulatePool(pool, traffic, options);
    const plain = simulatePool(pool, traffic, { ...options, eventQueue: 'sorted-array' });
    expect(plain.summary).toEqual(heap.summary);
    expect(Array.from(plain.requests.waitSeconds)).toEqual(Array.from(heap.requests.waitSeconds));
  });
});

describe('quantiles', () => {
  it('quickselect agrees with sorting', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1 }), (xs) => {
        const sorted = Float64Array.from(xs).sort();
        const work = Float64Array.from(xs);
        for (const p of [0.99, 0.9, 0.5]) {
          expect(quantileSelect(work, p, work.length)).toBe(quantileSorted(sorted, p));
        }
      }),
    );
  });
});

describe('simulatePool: determinism', () => {
  const run = (seed: number) =>
    simulatePool(
      { pm: { mode: 'ondemand', maxChildren: 10, processIdleTimeoutSeconds: 2 } },
      { kind: 'poisson', ratePerSecond: 30, durationSeconds: 30 },
      { seed, serviceTimeSeconds: 0.2 },
    );

  it('is the same for a seed and differs for another', () => {
    const a = run(7);
    const b = run(7);
    expect(b.summary).toEqual(a.summary);
    expect(Array.from(b.requests.arrivalSeconds)).toEqual(Array.from(a.requests.arrivalSeconds));
    expect(b.series).toEqual(a.series);
    expect(run(8).summary.meanWaitSeconds).not.toBe(a.summary.meanWaitSeconds);
  });
});

describe('simulatePool: static pools against queueing theory', () => {
  // Four loads on 4 children, 0.1 s mean service: the Erlang C mean wait (exact for M/M/c)
  // must lie inside the simulation's 95 % confidence interval.
  const loads = [0.5, 0.7, 0.8, 0.9];
  for (const rho of loads) {
    it(`matches Erlang C at ρ = ${rho}`, () => {
      const lambda = (rho * 4) / 0.1;
      const r = simulatePool(
        STATIC4,
        { kind: 'poisson', ratePerSecond: lambda, durationSeconds: 200_000 / lambda },
        {
          seed: 11,
          serviceTimeSeconds: 0.1,
          acceptGapSeconds: 0,
          acceptLatencySeconds: 0,
          warmupSeconds: 50,
        },
      );
      const theory = erlangC({
        arrivalRate: lambda,
        serviceTimeSeconds: 0.1,
        servers: 4,
      }).meanWaitSeconds;
      const s = r.summary;
      console.log(
        `M/M/4 ρ=${rho}: simulated ${(s.meanWaitSeconds * 1000).toFixed(3)} ± ${(s.meanWaitCi95Seconds * 1000).toFixed(3)} ms, Erlang C ${(theory * 1000).toFixed(3)} ms`,
      );
      expect(Math.abs(s.meanWaitSeconds - theory)).toBeLessThanOrEqual(s.meanWaitCi95Seconds);
    });
  }

  it('matches Allen-Cunneen for a fixed service time (M/D/c) within its approximation', () => {
    const out: string[] = [];
    const deviations: number[] = [];
    const limits: number[] = [];
    for (const rho of loads) {
      const lambda = (rho * 4) / 0.1;
      const r = simulatePool(
        STATIC4,
        { kind: 'poisson', ratePerSecond: lambda, durationSeconds: 200_000 / lambda },
        {
          seed: 12,
          serviceTimeSeconds: 0.1,
          serviceTimeCv: 0,
          acceptGapSeconds: 0,
          acceptLatencySeconds: 0,
          warmupSeconds: 50,
        },
      );
      const ac = erlangC({
        arrivalRate: lambda,
        serviceTimeSeconds: 0.1,
        servers: 4,
        serviceTimeCv: 0,
      });
      const s = r.summary;
      out.push(
        `ρ=${rho}: ${(s.meanWaitSeconds * 1000).toFixed(3)} ± ${(s.meanWaitCi95Seconds * 1000).toFixed(3)} ms vs ${(ac.meanWaitSeconds * 1000).toFixed(3)} ms`,
      );
      // Allen-Cunneen halves the M/M/c wait, an approximation for M/D/c: beyond the interval,
      // allow it 15 %.
      deviations.push(Math.abs(s.meanWaitSeconds - ac.meanWaitSeconds) - s.meanWaitCi95Seconds);
      limits.push(0.15 * ac.meanWaitSeconds);
    }
    console.log(`M/D/4 against Allen-Cunneen: ${out.join('; ')}`);
    for (const [i, d] of deviations.entries()) expect(d).toBeLessThanOrEqual(limits[i]!);
  });
});

describe('simulatePool: the process manager', () => {
  it('dynamic: 1 idle child, min_spare 1: one more child per second under a burst', () => {
    const r = simulatePool(
      {
        pm: {
          mode: 'dynamic',
          maxChildren: 20,
          startServers: 1,
          minSpareServers: 1,
          maxSpareServers: 3,
        },
        listen: { backlog: 31 },
      },
      { kind: 'burst', requests: 80, spreadSeconds: 0.01 },
      { serviceTimeSeconds: 0.1, serviceTimeDistribution: 'fixed', sampleIntervalSeconds: 0.5 },
    );
    // 32 queue slots + 1 child: the other 47 are refused (EAGAIN → 502).
    expect(r.summary.status502).toBe(47);
    expect(r.summary.refused).toBe(47);
    // Children: 1, then +1 on each tick while the queue lasts (a sample at a tick's own
    // instant shows the state just before it).
    expect(r.series.children.slice(0, 5)).toEqual([1, 1, 1, 2, 2]);
    expect(r.summary.pm.peakChildren).toBe(3);
  });

  it('dynamic: the spawn rate doubles when min_spare allows', () => {
    const r = simulatePool(
      {
        pm: {
          mode: 'dynamic',
          maxChildren: 64,
          startServers: 16,
          minSpareServers: 16,
          maxSpareServers: 32,
        },
      },
      { kind: 'burst', requests: 200 },
      {
        serviceTimeSeconds: 100,
        serviceTimeDistribution: 'fixed',
        durationSeconds: 5.5,
        forkSeconds: 0.01,
      },
    );
    // Ticks at 1, 2, 3, 4, 5 s fork 1, 2, 4, 8, 16 (each below the min_spare deficit of 16).
    expect(r.series.children).toEqual([16, 16, 17, 19, 23, 31]);
    expect(r.summary.pm.peakChildren).toBe(47);
    expect(r.summary.pm.forks).toBe(16 + 31);
  });

  it('dynamic: kills one idle child per tick above max_spare', () => {
    const r = simulatePool(
      {
        pm: {
          mode: 'dynamic',
          maxChildren: 20,
          startServers: 10,
          minSpareServers: 2,
          maxSpareServers: 10,
        },
      },
      { kind: 'burst', requests: 20 },
      { serviceTimeSeconds: 0.5, serviceTimeDistribution: 'fixed', durationSeconds: 12.5 },
    );
    expect(r.summary.pm.idleKills).toBeGreaterThan(0);
    expect(r.series.children.at(-1)).toBe(10);
  });

  it('ondemand: forks on accept, reaps idle children one per tick after the idle timeout', () => {
    const r = simulatePool(
      { pm: { mode: 'ondemand', maxChildren: 5, processIdleTimeoutSeconds: 3 } },
      { kind: 'burst', requests: 5, spreadSeconds: 0.05 },
      { serviceTimeSeconds: 0.5, serviceTimeDistribution: 'fixed', durationSeconds: 12 },
    );
    expect(r.series.children[0]).toBe(0);
    expect(r.summary.pm.peakChildren).toBe(5);
    expect(r.summary.pm.idleKills).toBe(5);
    // Last activity at 0.5 s: killed when floor(last) < floor(now) − 3, from the tick at 4 s.
    expect(r.series.children.slice(3, 10)).toEqual([5, 5, 4, 3, 2, 1, 0]);
  });

  it('pm.max_requests recycles children and each respawn costs a fork', () => {
    const r = simulatePool(
      { pm: { mode: 'static', maxChildren: 2, maxRequests: 10 } },
      { kind: 'steady', ratePerSecond: 20, durationSeconds: 10 },
      { serviceTimeSeconds: 0.01, serviceTimeDistribution: 'fixed', durationSeconds: 11 },
    );
    expect(r.summary.requests).toBe(200);
    expect(r.summary.pm.recycles).toBe(20);
    expect(r.summary.pm.forks).toBe(2 + 20);
  });

  it('a reload with process_control_timeout 0 kills requests in flight', () => {
    const r = simulatePool(
      { pm: { mode: 'static', maxChildren: 4 }, listen: { backlog: 63 } },
      [
        { kind: 'steady', ratePerSecond: 100, durationSeconds: 3 },
        { kind: 'replay', arrivals: [{ atSeconds: 0.5, serviceSeconds: 1.5 }] },
      ],
      { serviceTimeSeconds: 0.02, serviceTimeDistribution: 'fixed', reloadsAtSeconds: [1.005] },
    );
    // The long request and the two short ones sent at 0.99 s and 1.00 s.
    expect(r.summary.killed).toBe(3);
    expect(r.summary.status502).toBe(3);
    expect(r.summary.refused).toBe(0);
    expect(r.summary.reloads[0]!.noAcceptSeconds).toBeLessThan(0.1);
  });

  it('a reload with process_control_timeout 10 s waits for the long request and overflows the queue', () => {
    const r = simulatePool(
      { pm: { mode: 'static', maxChildren: 4 }, listen: { backlog: 63 } },
      [
        { kind: 'steady', ratePerSecond: 100, durationSeconds: 3 },
        { kind: 'replay', arrivals: [{ atSeconds: 0.5, serviceSeconds: 1.5 }] },
      ],
      {
        serviceTimeSeconds: 0.02,
        serviceTimeDistribution: 'fixed',
        reloadsAtSeconds: [1.005],
        processControlTimeoutSeconds: 10,
      },
    );
    const reload = r.summary.reloads[0]!;
    expect(r.summary.killed).toBe(0);
    // Nothing accepted from 1.005 s until the long request ends at 2.0 s and FPM restarts.
    expect(reload.noAcceptSeconds).toBeGreaterThan(0.99);
    expect(reload.noAcceptSeconds).toBeLessThan(1.1);
    // About 100 per second arrive while 64 fit in the queue.
    expect(reload.refused).toBeGreaterThan(30);
    expect(r.summary.refusalsPerReload).toBe(reload.refused);
  });

  it('a full queue refuses at once on a UNIX socket; over TCP the SYNs retry until a 504', () => {
    const traffic = { kind: 'burst', requests: 10 } as const;
    const options = {
      serviceTimeSeconds: 100,
      serviceTimeDistribution: 'fixed',
      connectTimeoutSeconds: 5,
      durationSeconds: 20,
    } as const;
    const unix = simulatePool(
      { pm: { mode: 'static', maxChildren: 1 }, listen: { backlog: 1 } },
      traffic,
      options,
    );
    expect(unix.summary.status502).toBe(7);
    const tcp = simulatePool(
      { pm: { mode: 'static', maxChildren: 1 }, listen: { address: '127.0.0.1:9000', backlog: 1 } },
      traffic,
      options,
    );
    expect(tcp.summary.status502).toBe(0);
    // 7 connect timeouts at 5 s, and the accepted request's read timeout (60 s) later.
    expect(tcp.summary.status504).toBe(8);
    expect(tcp.series.status504[5]).toBe(7);
  });

  it("answers 504 when the queue wait and service pass nginx's read timeout", () => {
    const r = simulatePool(
      STATIC4,
      { kind: 'burst', requests: 12 },
      { serviceTimeSeconds: 1, serviceTimeDistribution: 'fixed', readTimeoutSeconds: 2.5 },
    );
    // 4 finish at 1 s, 4 at 2 s, the last 4 would answer at 3 s: 504 at 2.5 s.
    expect(r.summary.completed).toBe(8);
    expect(r.summary.status504).toBe(4);
  });
});

describe('traffic', () => {
  it('profile: rates per segment', () => {
    const r = simulatePool(
      { pm: { mode: 'static', maxChildren: 50 } },
      {
        kind: 'profile',
        points: [
          { atSeconds: 0, ratePerSecond: 100 },
          { atSeconds: 50, ratePerSecond: 10 },
        ],
        endSeconds: 100,
      },
      { serviceTimeSeconds: 0.01, durationSeconds: 100 },
    );
    const first = r.series.arrivals.slice(0, 50).reduce((a, b) => a + b, 0);
    const second = r.series.arrivals.slice(50, 100).reduce((a, b) => a + b, 0);
    expect(first / 50).toBeGreaterThan(90);
    expect(first / 50).toBeLessThan(110);
    expect(second / 50).toBeGreaterThan(7);
    expect(second / 50).toBeLessThan(13);
  });

  it('replays a captured nginx access log with its request count and rate profile', () => {
    const dir = join(import.meta.dirname, '..', 'fixtures', 'logs');
    const text = readFileSync(join(dir, 'nginx-access.log'), 'utf8');
    const format = readFileSync(join(dir, 'configs', 'nginx.conf'), 'utf8').match(
      /log_format timing [^;]+;/,
    )![0];
    const records = parseNginxAccessLog(text, { format, strict: true });
    const traffic = trafficFromNginxAccessLog(records);
    const r = simulatePool({ pm: { mode: 'static', maxChildren: 50 } }, traffic, {});
    expect(r.summary.requests).toBe(records.length);
    expect(r.summary.requests).toBe(text.trim().split('\n').length);
    // Per second: each logged request counted in the second it started (logged time − $request_time).
    const origin = traffic.originEpochMs! / 1000;
    const expected: number[] = [];
    const seen = new Map<number, number>();
    for (const e of records) {
      if (e.kind !== 'entry') continue;
      const sec = e.time!.getTime() / 1000;
      seen.set(sec, (seen.get(sec) ?? 0) + 1);
    }
    const done = new Map<number, number>();
    for (const e of records) {
      if (e.kind !== 'entry') continue;
      const sec = e.time!.getTime() / 1000;
      const k = done.get(sec) ?? 0;
      done.set(sec, k + 1);
      const start = sec + (k + 0.5) / seen.get(sec)! - (e.requestTimeSeconds ?? 0) - origin;
      const i = Math.floor(start);
      expected[i] = (expected[i] ?? 0) + 1;
    }
    const simulated = r.series.arrivals.slice(0, expected.length);
    expect(simulated).toEqual(Array.from(expected, (v) => v ?? 0));
    console.log(
      `replayed ${r.summary.requests} requests over ${expected.length} s; busiest second ${Math.max(...simulated)}; service times from $upstream_response_time`,
    );
  });
});

describe('results', () => {
  it('writes the series as CSV', () => {
    const r = simulatePool(
      STATIC4,
      { kind: 'steady', ratePerSecond: 10, durationSeconds: 3 },
      { serviceTimeSeconds: 0.01 },
    );
    const csv = simulationSeriesCsv(r.series).trim().split('\n');
    expect(csv[0]).toBe(SERIES_CSV_HEADER);
    expect(csv).toHaveLength(r.series.timeSeconds.length + 1);
    expect(csv[1]!.split(',')).toHaveLength(SERIES_CSV_HEADER.split(',').length);
    expect(r.series.arrivals.reduce((a, b) => a + b, 0)).toBe(30);
  });
});

describe('bad input', () => {
  it('throws FpmkitInvalidOptionError naming the field', () => {
    const bad: [SimulationPool, unknown, object, RegExp][] = [
      [
        { pm: { mode: 'dynamic', maxChildren: 5 } },
        { kind: 'burst', requests: 1 },
        {},
        /minSpareServers/,
      ],
      [
        { pm: { mode: 'static', maxChildren: 0 } },
        { kind: 'burst', requests: 1 },
        {},
        /maxChildren/,
      ],
      [
        STATIC4,
        { kind: 'poisson', ratePerSecond: -1, durationSeconds: 1 },
        {},
        /traffic\[0\]\.ratePerSecond/,
      ],
      [STATIC4, { kind: 'poisson', ratePerSecond: 1e9, durationSeconds: 1e9 }, {}, /traffic/],
      [
        STATIC4,
        { kind: 'replay', arrivals: [{ atSeconds: 2 }, { atSeconds: 1 }] },
        {},
        /arrivals\[1\]/,
      ],
      [STATIC4, { kind: 'nope' }, {}, /kind/],
      [STATIC4, { kind: 'burst', requests: 1 }, { firstTickSeconds: 2 }, /firstTickSeconds/],
      [STATIC4, { kind: 'burst', requests: 1 }, { seed: -1 }, /seed/],
    ];
    for (const [pool, traffic, options, name] of bad) {
      expect(() => simulatePool(pool, traffic as never, options)).toThrow(name);
      try {
        simulatePool(pool, traffic as never, options);
      } catch (e) {
        expect(isFpmkitError(e) && e.code).toBe('FPMKIT_INVALID_OPTION');
      }
    }
  });

  it('never throws a TypeError or RangeError, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (pool, traffic, options) => {
        try {
          simulatePool(pool as never, traffic as never, (options ?? {}) as never);
        } catch (e) {
          expect(isFpmkitError(e)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
