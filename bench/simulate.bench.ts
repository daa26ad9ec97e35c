import { simulatePool } from '../src/sizing/simulate.js';
import { checkLoad, compare, report } from './lib.js';

/**
 * One hour of Poisson traffic at 1,000 requests/s (3.6 million requests) on a static pool of
 * 200 children, 150 ms per request: the binary-heap event queue against the plain sorted-array
 * queue as the floor. Prints wall and CPU time, since a shared machine inflates the first.
 */
const POOL = { pm: { mode: 'static' as const, maxChildren: 200 } };
const TRAFFIC = { kind: 'poisson' as const, ratePerSecond: 1000, durationSeconds: 3600 };

function once(eventQueue: 'heap' | 'sorted-array') {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const r = simulatePool(POOL, TRAFFIC, { serviceTimeSeconds: 0.15, eventQueue });
  const used = process.cpuUsage(cpu);
  return { r, wallMs: performance.now() - start, cpuMs: (used.user + used.system) / 1000 };
}

checkLoad();
const results = await compare(
  [
    {
      name: 'simulatePool, sorted-array queue',
      role: 'floor',
      run: () => once('sorted-array').r.summary.requests,
    },
    {
      name: 'simulatePool, binary heap',
      role: 'fpmkit',
      run: () => once('heap').r.summary.requests,
    },
  ],
  { rounds: 3, warmup: 1 },
);
report('1 h at 1,000 req/s on 200 children (3.6 M requests)', results);
const heap = once('heap');
const plain = once('sorted-array');
console.log(
  `  heap: ${heap.r.summary.requests} requests, ${heap.r.summary.events} events, wall ${heap.wallMs.toFixed(0)} ms, CPU ${heap.cpuMs.toFixed(0)} ms; sorted array: wall ${plain.wallMs.toFixed(0)} ms, CPU ${plain.cpuMs.toFixed(0)} ms; ratio ${(plain.cpuMs / heap.cpuMs).toFixed(2)}x CPU`,
);
console.log(
  `  under 2 s: ${heap.wallMs < 2000 ? 'yes' : 'no'} (wall), ${heap.cpuMs < 2000 ? 'yes' : 'no'} (CPU)`,
);
