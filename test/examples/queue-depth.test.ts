import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUnixListenQueues } from '../../src/host/index.js';
import { type Client, fastcgiRequest, startClient } from '../host/fcgi.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const req = phpFpmBinary();

describe.skipIf(!req.available)(`examples/queue-depth.ts${req.reason}`, () => {
  let fpm: StartedFpm;
  const clients: Client[] = [];
  beforeAll(async () => {
    fpm = await startPhpFpm({
      pools: [{ name: 'busy', directives: 'pm = static\npm.max_children = 2\nlisten.backlog = 8' }],
      scripts: { 'sleep.php': '<?php usleep(1000 * (int)($_GET["ms"] ?? 1000)); echo "ok";' },
    });
  });
  afterAll(async () => {
    for (const c of clients) c.stop();
    await fpm?.stop();
  });

  it('prints the accept-queue depth of a busy UNIX pool', async () => {
    const pool = fpm.pool('busy');
    const request = fastcgiRequest({
      SCRIPT_FILENAME: join(fpm.wwwDir, 'sleep.php'),
      SCRIPT_NAME: '/sleep.php',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'ms=8000',
    });
    // 2 workers take 2 clients; the other 4 wait in the accept queue.
    for (let i = 0; i < 6; i++) clients.push(startClient({ path: pool.socketPath! }, request));
    const deadline = Date.now() + 10_000;
    while ((await readUnixListenQueues()).find((q) => q.path === pool.socketPath)?.queued !== 4) {
      if (Date.now() > deadline) throw new Error('the queue never reached 4');
      await new Promise((r) => setTimeout(r, 50));
    }
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'examples/queue-depth.ts'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /^net\.core\.somaxconn \d+: no listen queue holds more than \d+ connections$/m,
    );
    expect(result.stdout).toContain(`master ${fpm.pid} ${fpm.confPath}`);
    expect(result.stdout).toContain(
      `  pool busy: 2 workers, unix:${pool.socketPath} queued 4 accepted 2`,
    );

    const json = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'examples/queue-depth.ts', '--json'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    const parsed = JSON.parse(json.stdout) as {
      masters: { pid: number; pools: { name: string; sockets: { queued: number }[] }[] }[];
    };
    const master = parsed.masters.find((m) => m.pid === fpm.pid)!;
    expect(master.pools[0]!.sockets[0]!.queued).toBe(4);
  });
});
