/**
 * What does a burst do to a dynamic pool with one idle child, and what would ondemand or a
 * static pool of the same size do? Run: npx tsx examples/simulate.ts
 */
import { simulatePool } from '../src/index.js';

const traffic = { kind: 'burst', requests: 80, spreadSeconds: 0.01 } as const;
const options = { serviceTimeSeconds: 0.1, serviceTimeDistribution: 'fixed', seed: 1 } as const;

/** Each mode's answer to the same burst: refusals and queue waits. */
export function compareModes() {
  const listen = { backlog: 31 };
  const pools = {
    dynamic: {
      pm: {
        mode: 'dynamic',
        maxChildren: 20,
        startServers: 1,
        minSpareServers: 1,
        maxSpareServers: 3,
      },
      listen,
    },
    ondemand: { pm: { mode: 'ondemand', maxChildren: 20 }, listen },
    static: { pm: { mode: 'static', maxChildren: 20 }, listen },
  } as const;
  return Object.entries(pools).map(([name, pool]) => {
    const s = simulatePool(pool, traffic, options).summary;
    return {
      name,
      status502: s.status502,
      p50: s.p50WaitSeconds,
      p99: s.p99WaitSeconds,
      peakChildren: s.pm.peakChildren,
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('80 requests within 10 ms, 100 ms each, listen.backlog 31 (32 queue slots):');
  for (const r of compareModes()) {
    console.log(
      `  ${r.name.padEnd(8)} 502s ${String(r.status502).padStart(2)}, queue wait p50 ${(r.p50 * 1000).toFixed(0)} ms, p99 ${(r.p99 * 1000).toFixed(0)} ms, peak ${r.peakChildren} children`,
    );
  }
}
