import { describe, expect, it } from 'vitest';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import {
  figuresTable,
  median,
  type RunFigures,
  runScenario,
  SCENARIOS,
} from './simulate-calibration.js';

/**
 * The simulator against real php-fpm 8.2 behind real nginx (test/sizing/simulate-calibration.ts
 * says how queue waits are measured): each scenario three times, each run simulated with the
 * arrivals nginx logged and the costs FPM's debug log shows. `npx tsx
 * bench/simulate-calibration.ts` prints the same table with more runs.
 */
const fpm = phpFpmBinary();
const nginx = nginxBinary();
const RUNS = 3;

const within = (simulated: number, measured: number, share: number, floorSeconds: number) =>
  Math.abs(simulated - measured) <= share * measured + floorSeconds;

describe.skipIf(!fpm.available || !nginx.available)(
  `simulatePool calibrated against php-fpm and nginx${fpm.reason}${nginx.reason}`,
  () => {
    it('reproduces bursts, reloads and max_requests', async () => {
      const all: RunFigures[] = [];
      for (const s of SCENARIOS)
        for (let run = 1; run <= RUNS; run++) all.push(await runScenario(s, run));
      console.log(figuresTable(all));
      const of = (name: string) => all.filter((f) => f.scenario === name);
      const range = (fs: RunFigures[]) => {
        const v = fs.map((f) => f.measured.status502);
        return [Math.min(...v), Math.max(...v)] as const;
      };

      // Dynamic, one idle child: the queue and the one-per-tick spawning decide everything.
      const dyn = of('burst-dynamic');
      const [dLo, dHi] = range(dyn);
      for (const f of dyn) {
        expect(f.simulated.status502).toBeGreaterThanOrEqual(dLo);
        expect(f.simulated.status502).toBeLessThanOrEqual(dHi + 1);
      }
      expect(
        within(
          median(dyn.map((f) => f.simulated.p50))!,
          median(dyn.map((f) => f.measured.p50))!,
          0.25,
          0,
        ),
      ).toBe(true);
      expect(
        within(
          median(dyn.map((f) => f.simulated.p99))!,
          median(dyn.map((f) => f.measured.p99))!,
          0.25,
          0,
        ),
      ).toBe(true);

      // Ondemand: refusals are the queue's; the waits hang on how many forks the master's
      // wake-ups allowed, which this host's scheduler decides (docs/sizing.md).
      const [oLo, oHi] = range(of('burst-ondemand'));
      // How many children the master forks for a burst decides these too, and the measured
      // counts move with the host's load (43 to 48 of 80 seen); the model's stay within 5.
      for (const f of of('burst-ondemand')) {
        expect(f.simulated.status502).toBeGreaterThanOrEqual(oLo - 5);
        expect(f.simulated.status502).toBeLessThanOrEqual(oHi + 5);
      }

      // Reloads: process_control_timeout 0 kills what is in flight, 10 s waits for it.
      for (const name of ['reload-static-pct0', 'reload-static-pct10']) {
        const fs = of(name);
        const [lo, hi] = range(fs);
        for (const f of fs) {
          expect(f.simulated.status502).toBeGreaterThanOrEqual(lo - 3);
          expect(f.simulated.status502).toBeLessThanOrEqual(hi + 1);
        }
        // With process_control_timeout 0 nothing waits long: the p99 is a few milliseconds of
        // scheduling on a busy host (seen 1.8 to 8.5 ms measured against 0.7 ms simulated), so
        // the bound there is absolute.
        expect(
          within(
            median(fs.map((f) => f.simulated.p99))!,
            median(fs.map((f) => f.measured.p99))!,
            0.25,
            name === 'reload-static-pct0' ? 0.01 : 0.002,
          ),
        ).toBe(true);
      }
      expect(
        Math.min(...of('reload-static-pct10').map((f) => f.measured.status502)),
      ).toBeGreaterThan(20);

      // max_requests 50 under Poisson load: no refusals, the tail of the waits (median of the
      // runs: one stall of this shared host can lift a single run's p99).
      const mr = of('max-requests-50');
      for (const f of mr) expect(f.simulated.status502).toBe(f.measured.status502);
      expect(
        within(
          median(mr.map((f) => f.simulated.p99))!,
          median(mr.map((f) => f.measured.p99))!,
          0.25,
          // A p99 of a few tens of milliseconds is set by the host's scheduler as much as by
          // the pool: with other test files running beside this one it was seen at 27 to
          // 51 ms measured against 25 to 31 ms simulated.
          0.03,
        ),
      ).toBe(true);
    }, 170_000);
  },
);
