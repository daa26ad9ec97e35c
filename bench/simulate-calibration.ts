import {
  figuresTable,
  type RunFigures,
  runScenario,
  SCENARIOS,
} from '../test/sizing/simulate-calibration.js';

/**
 * Runs the simulator's calibration scenarios against real php-fpm 8.2 and nginx (both must be
 * installed) and prints measured and simulated figures side by side:
 *   npx tsx bench/simulate-calibration.ts [RUNS] [SCENARIO-SUBSTRING]
 */
const runs = Number(process.argv[2] ?? 3);
const only = process.argv[3];
const all: RunFigures[] = [];
for (const scenario of SCENARIOS.filter((s) => only === undefined || s.name.includes(only))) {
  for (let run = 1; run <= runs; run++) {
    const f = await runScenario(scenario, run);
    console.log(`${f.scenario} #${run}: inputs ${JSON.stringify(f.inputs)}`);
    all.push(f);
  }
}
console.log(`\n${figuresTable(all)}`);
