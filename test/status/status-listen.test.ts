import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { discoverFpm, listenQueueReader } from '../../src/host/index.js';
import { fetchStatus } from '../../src/status/fetch.js';
import { StatusSampler } from '../../src/status/sampler.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll, run } from '../support/process.js';

/**
 * `pm.status_listen` on a real php-fpm 8.2: with both workers busy and the main socket's accept
 * queue full (backlog 4 + 1), the main socket turns connections away with EAGAIN while the
 * status socket, served by FPM's hidden `www_status` pool, still answers with the main pool's
 * numbers. Discovery attaches that socket to the pool, and the built `fpmkit status
 * --status-listen` reads the page there and the queue of the main socket.
 */

const fpmReq = phpFpmBinary();
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const BACKLOG = 4;

describe.skipIf(!fpmReq.available)(
  `pm.status_listen answers while the pool is saturated${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let mainPath = '';
    let statusPath = '';
    const held: Socket[] = [];
    const busy: Promise<unknown>[] = [];

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            directives: `pm = static\npm.max_children = 2\nlisten.backlog = ${BACKLOG}\npm.status_path = /status\npm.status_listen = www-status.sock\n`,
          },
        ],
        scripts: { 'slow.php': '<?php usleep(6000000); echo "ok";' },
      });
      mainPath = fpm.pool('www').socketPath!;
      statusPath = join(fpm.dir, 'www-status.sock');
      await poll(async () => (existsSync(statusPath) ? true : undefined), 10_000);
      // Both workers busy for 6 s.
      for (let i = 0; i < 2; i++) {
        const client = new FastCGIClient(`unix:${mainPath}`, { totalTimeoutMs: 30_000 });
        busy.push(
          client
            .request({
              params: {
                SCRIPT_FILENAME: `${fpm.wwwDir}/slow.php`,
                SCRIPT_NAME: '/slow.php',
                REQUEST_METHOD: 'GET',
              },
            })
            .catch(() => undefined)
            .finally(() => client.close()),
        );
      }
      const read = listenQueueReader(mainPath);
      await poll(async () => {
        const s = await fpmStatusActive();
        return s === 2 ? true : undefined;
      }, 10_000);
      // Fill the queue: connections nobody accepts, until the kernel refuses one.
      for (let i = 0; i < BACKLOG + 1; i++) {
        const s = connect(mainPath);
        s.on('error', () => {});
        held.push(s);
      }
      await poll(async () => ((await read()).queued >= BACKLOG + 1 ? true : undefined), 10_000);
    }, 60_000);

    /** Active workers as the status socket reports them. */
    async function fpmStatusActive(): Promise<number> {
      const s = await fetchStatus(`unix:${statusPath}`, { timeoutMs: 3000, listen: mainPath });
      return s.activeProcesses;
    }

    afterAll(async () => {
      for (const s of held) s.destroy();
      await fpm?.stop();
      await Promise.allSettled(busy);
    });

    it('the main socket is full (EAGAIN) while the status socket answers with the main pool', async () => {
      const main = new StatusSampler(`unix:${mainPath}`, {
        timeoutMs: 2000,
        readQueue: listenQueueReader(mainPath),
      });
      const viaMain = await main.sample();
      main.close();
      expect(viaMain.status).toBeUndefined();
      expect(viaMain.gap?.reason).toBe('EAGAIN');
      expect(viaMain.queue).toMatchObject({ queued: BACKLOG + 1, capacity: BACKLOG + 1 });

      const sampler = new StatusSampler(`unix:${statusPath}`, {
        timeoutMs: 2000,
        listen: mainPath,
        readQueue: listenQueueReader(mainPath),
      });
      const r = await sampler.sample();
      sampler.close();
      console.log(
        `status socket while the main queue holds ${r.queue?.queued}/${r.queue?.capacity}: pool ${r.status?.pool}, active ${r.status?.activeProcesses}, idle ${r.status?.idleProcesses}, gap ${r.gap?.reason ?? 'none'}`,
      );
      expect(r.gap).toBeUndefined();
      // The main pool's scoreboard, not the hidden pool's.
      expect(r.status?.pool).toBe('www');
      expect(r.status?.activeProcesses).toBe(2);
      expect(r.status?.totalProcesses).toBe(2);
      expect(r.queue).toMatchObject({ queued: BACKLOG + 1, backlog: BACKLOG });
    });

    it('discovery attaches the status socket to its pool', async () => {
      const found = await discoverFpm();
      const master = found.masters.find((m) => m.pid === fpm!.pid);
      expect(master, JSON.stringify(found.untrustedMasters)).toBeDefined();
      const pool = master!.pools.find((p) => p.name === 'www');
      expect(pool?.statusSocket).toMatchObject({ kind: 'unix', path: statusPath });
    });

    it('fpmkit status --status-listen reads the page there and the queue of TARGET', async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      const r = await run(
        process.execPath,
        [bin, 'status', mainPath, '--status-listen', statusPath, '--timeout', '2000', '--json'],
        { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 30_000 },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.status.pool).toBe('www');
      expect(out.queue).toMatchObject({ queued: BACKLOG + 1, capacity: BACKLOG + 1 });
    });
  },
);
