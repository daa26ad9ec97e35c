/**
 * Shows the accept queue of every PHP-FPM pool on this host: the number FPM's status page
 * reports as 0 for UNIX sockets. Run it while the pools are busy:
 *
 *   node --import tsx examples/queue-depth.ts          # table
 *   node --import tsx examples/queue-depth.ts --json   # machine-readable
 *
 * It reads only /proc (no FPM status endpoint, no ss), so it also works when FPM is too busy
 * to answer.
 */

import type { FpmSocket } from 'fpmkit/host';
import { discoverFpm, readSysctl } from 'fpmkit/host';
import { acceptQueueCapacity } from 'fpmkit/kernel';

function describeSocket(s: FpmSocket): string {
  const where =
    s.kind === 'unix'
      ? `unix:${s.path}`
      : s.family === 6
        ? `[${s.address}]:${s.port}`
        : `${s.address}:${s.port}`;
  return `${where} queued ${s.queued}${s.kind === 'unix' ? ` accepted ${s.accepted}` : ''}`;
}

export async function main(args: readonly string[] = process.argv.slice(2)): Promise<string> {
  const found = await discoverFpm();
  const somaxconn = Number((await readSysctl(['net.core.somaxconn']))['net.core.somaxconn']);
  if (args.includes('--json')) {
    return JSON.stringify(
      { somaxconn, masters: found.masters.map(({ configText: _text, ...m }) => m) },
      null,
      2,
    );
  }
  const lines = [
    `net.core.somaxconn ${somaxconn}: no listen queue holds more than ${acceptQueueCapacity({ somaxconn })} connections`,
  ];
  if (found.masters.length === 0) lines.push('no php-fpm master found');
  for (const master of found.masters) {
    lines.push(`master ${master.pid} ${master.configPath}`);
    for (const pool of master.pools) {
      const sockets = pool.sockets.map(describeSocket).join(', ') || 'no listening socket seen';
      lines.push(`  pool ${pool.name}: ${pool.workerPids.length} workers, ${sockets}`);
    }
    for (const s of master.unassignedSockets) lines.push(`  (master only) ${describeSocket(s)}`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (text) => console.log(text),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
