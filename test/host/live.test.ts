import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FpmConfig } from '../../src/fpm/index.js';
import {
  discoverFpm,
  measureWorkerMemory,
  readCgroupMemory,
  readKernelSettings,
  readNetstat,
  readSysctl,
  readTcpListenQueues,
  readUnixListenQueues,
} from '../../src/host/index.js';
import { effectiveBacklog, parseSs, type SsSocket } from '../../src/kernel/index.js';
import { phpFpmBinary, requireBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll } from '../support/process.js';
import { type Client, fastcgiRequest, startClient } from './fcgi.js';

const fpmReq = phpFpmBinary();
const ssReq = requireBinary('ss', 'iproute2');
const available = fpmReq.available && ssReq.available;
const reason = `${fpmReq.reason}${ssReq.reason}`;

const SLEEP_PHP = '<?php usleep(1000 * (int)($_GET["ms"] ?? 1000)); echo "slept";';
const CLIENTS = 20;
const DEADLINE_MS = 15_000;

function ss(args: string[]): SsSocket[] {
  const r = spawnSync(ssReq.path!, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  if (r.status !== 0) throw new Error(`ss ${args.join(' ')} failed: ${r.stderr}`);
  return parseSs(r.stdout);
}

/** `listen.backlog` of a pool, read from the config text this test wrote (no FPM parser here). */
function listenBacklogOf(configText: string, pool: string): number {
  const section = configText.split(/^\[/m).find((s) => s.startsWith(`${pool}]`)) ?? '';
  return Number(/^listen\.backlog\s*=\s*(-?\d+)/m.exec(section)![1]);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const value = await poll(probe, DEADLINE_MS);
  if (value === undefined) throw new Error(`timed out waiting for ${what}`);
  return value;
}

describe.skipIf(!available)(
  `live php-fpm: accept queues seen from /proc agree with ss${reason}`,
  () => {
    let fpm: StartedFpm;
    const clients: Client[] = [];
    let somaxconn: number;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          { name: 'sat', directives: 'pm = static\npm.max_children = 2\nlisten.backlog = 8' },
          {
            name: 'tcp',
            listen: 'tcp',
            directives: 'pm = static\npm.max_children = 2\nlisten.backlog = 4',
          },
        ],
        scripts: { 'sleep.php': SLEEP_PHP },
      });
      somaxconn = Number((await readSysctl(['net.core.somaxconn']))['net.core.somaxconn']);
    });
    afterAll(async () => {
      for (const c of clients) c.stop();
      await fpm?.stop();
    });

    const request = (ms: number) =>
      fastcgiRequest({
        SCRIPT_FILENAME: join(fpm.wwwDir, 'sleep.php'),
        SCRIPT_NAME: '/sleep.php',
        REQUEST_METHOD: 'GET',
        QUERY_STRING: `ms=${ms}`,
      });

    it('UNIX pool: readUnixListenQueues equals ss -xl Recv-Q at the same moment; effectiveBacklog equals Send-Q', async () => {
      const pool = fpm.pool('sat');
      for (let i = 0; i < CLIENTS; i++)
        clients.push(startClient({ path: pool.socketPath! }, request(6000)));
      const [queued, row] = await until(
        'a saturated queue read the same by /proc and ss',
        async () => {
          const before = ss(['-xl']).find((r) => r.localAddress === pool.socketPath);
          const q = (await readUnixListenQueues()).find((x) => x.path === pool.socketPath);
          const after = ss(['-xl']).find((r) => r.localAddress === pool.socketPath);
          if (!before || !after || !q) return undefined;
          if (before.recvQ !== q.queued || after.recvQ !== q.queued || q.queued < 9)
            return undefined;
          return [q.queued, after] as const;
        },
      );
      const discovered = await discoverFpm();
      const master = discovered.masters.find((m) => m.pid === fpm.pid)!;
      const backlog = effectiveBacklog({
        listenBacklog: listenBacklogOf(master.configText!, 'sat'),
        somaxconn,
      });
      console.log(
        `unix: /proc/net/unix queued=${queued}, ss -xl Recv-Q=${row.recvQ} Send-Q=${row.sendQ}, effectiveBacklog=${backlog}, somaxconn=${somaxconn}`,
      );
      expect(queued).toBe(row.recvQ);
      expect(row.sendQ).toBe(backlog);
      expect(backlog).toBe(8);
      // A UNIX listener holds backlog + 1 connections.
      expect(queued).toBe(backlog + 1);
      // The pool's socket as discovery sees it carries the same queue.
      const sat = master.pools.find((p) => p.name === 'sat')!;
      expect(sat.sockets[0]).toMatchObject({ kind: 'unix', path: pool.socketPath });
      for (const c of clients.splice(0)) c.stop();
    });

    it('TCP pool: readTcpListenQueues equals ss -ltn Recv-Q, Send-Q is the effective backlog, ListenOverflows rises on overflow', async () => {
      const pool = fpm.pool('tcp');
      const before = (await readNetstat()).TcpExt!.ListenOverflows!;
      // backlog 4 holds 5, 2 workers take 2: 7 fit, the rest overflow.
      const count = 14;
      for (let i = 0; i < count; i++)
        clients.push(startClient({ host: pool.host!, port: pool.port! }, request(6000)));
      const [queued, row] = await until(
        'a saturated TCP queue read the same by /proc and ss',
        async () => {
          const a = ss(['-ltn']).find(
            (r) => r.localPort === String(pool.port) && r.localAddress === '127.0.0.1',
          );
          const q = (await readTcpListenQueues()).find(
            (x) => x.port === pool.port && x.address === '127.0.0.1',
          );
          const b = ss(['-ltn']).find(
            (r) => r.localPort === String(pool.port) && r.localAddress === '127.0.0.1',
          );
          if (!a || !b || !q || a.recvQ !== q.queued || b.recvQ !== q.queued || q.queued < 5)
            return undefined;
          return [q.queued, b] as const;
        },
      );
      const after = await until('ListenOverflows to rise', async () => {
        const n = (await readNetstat()).TcpExt!.ListenOverflows!;
        return n > before ? n : undefined;
      });
      const discovered = await discoverFpm();
      const master = discovered.masters.find((m) => m.pid === fpm.pid)!;
      const backlog = effectiveBacklog({
        listenBacklog: listenBacklogOf(master.configText!, 'tcp'),
        somaxconn,
      });
      console.log(
        `tcp: /proc/net/tcp rx_queue=${queued}, ss -ltn Recv-Q=${row.recvQ} Send-Q=${row.sendQ}, effectiveBacklog=${backlog}, ListenOverflows ${before} -> ${after}`,
      );
      expect(queued).toBe(row.recvQ);
      expect(row.sendQ).toBe(backlog);
      expect(queued).toBe(backlog + 1);
      expect(after).toBeGreaterThan(before);
      for (const c of clients.splice(0)) c.stop();
    });
  },
);

describe.skipIf(!fpmReq.available)(
  `discoverFpm with two masters that both have a pool named www${fpmReq.reason}`,
  () => {
    let a: StartedFpm;
    let b: StartedFpm;
    beforeAll(async () => {
      [a, b] = await Promise.all([
        startPhpFpm({ pools: [{ name: 'www' }] }),
        startPhpFpm({ pools: [{ name: 'www', listen: 'tcp' }] }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
    });

    it('returns both masters, each with its own www pool, workers, socket and config', async () => {
      const found = await discoverFpm({
        parseConfig: (text, path) => ({ path, sections: text.match(/^\[[^\]]+\]/gm) }),
      });
      const ma = found.masters.find((m) => m.pid === a.pid)!;
      const mb = found.masters.find((m) => m.pid === b.pid)!;
      expect(ma.configPath).toBe(a.confPath);
      expect(mb.configPath).toBe(b.confPath);
      expect(ma.configText).toContain('[www]');
      expect(ma.config).toEqual({ path: a.confPath, sections: ['[global]', '[www]'] });
      const wa = ma.pools.find((p) => p.name === 'www')!;
      const wb = mb.pools.find((p) => p.name === 'www')!;
      expect(wa.workerPids).toHaveLength(2);
      expect(wb.workerPids).toHaveLength(2);
      expect(new Set([...wa.workerPids, ...wb.workerPids]).size).toBe(4);
      expect(wa.sockets).toEqual([
        expect.objectContaining({ kind: 'unix', path: a.pool('www').socketPath, queued: 0 }),
      ]);
      expect(wb.sockets).toEqual([
        expect.objectContaining({ kind: 'tcp', address: '127.0.0.1', port: b.pool('www').port }),
      ]);
      expect(
        found.pools.filter(
          (p) => p.name === 'www' && (p.masterPid === a.pid || p.masterPid === b.pid),
        ),
      ).toHaveLength(2);

      // By default each master's configuration is read the way FPM reads it.
      const parsed = await discoverFpm();
      const configOf = (pid: number) =>
        parsed.masters.find((m) => m.pid === pid)!.config as FpmConfig | undefined;
      expect(configOf(a.pid)?.pools.map((p) => [p.name, p.listen.address])).toEqual([
        ['www', a.pool('www').socketPath],
      ]);
      expect(configOf(b.pid)?.pools[0]?.listen.address).toBe(`127.0.0.1:${b.pool('www').port}`);

      // Worker memory: PSS from smaps_rollup, shared and private apart.
      const mem = await measureWorkerMemory(wa.workerPids);
      expect(mem).toMatchObject({ count: 2, source: 'pss', missing: [] });
      expect(mem.minBytes).toBeGreaterThan(0);
      expect(mem.samples[0]!.pssBytes!).toBeLessThanOrEqual(mem.samples[0]!.rssBytes);
      expect(mem.samples[0]!.sharedBytes + mem.samples[0]!.privateBytes).toBe(
        mem.samples[0]!.rssBytes,
      );
      console.log(`worker memory: ${JSON.stringify({ ...mem, samples: mem.samples.length })}`);
    });

    it('reads the cgroup memory limit of a master and the host kernel settings', async () => {
      const cg = await readCgroupMemory(a.pid);
      if (cg !== undefined) {
        expect([1, 2]).toContain(cg.version);
        expect(cg.limitBytes === 'unlimited' || cg.limitBytes > 0).toBe(true);
      }
      const settings = await readKernelSettings();
      expect(settings.somaxconn).toBeGreaterThan(0);
    });
  },
);
