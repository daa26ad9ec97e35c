import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import {
  type FpmStatus,
  FpmStatusError,
  fetchStatus,
  ping,
  STATUS_FORMATS,
  type StatusFormat,
} from '../../src/status/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll } from '../support/process.js';

const req = phpFpmBinary();

const STATUS_DIRECTIVES = 'pm.status_path = /status\nping.path = /ping\n';

/** Fields that must agree across formats of one idle pool (acceptedConn and startSince tick). */
const STABLE_FIELDS = [
  'pool',
  'processManager',
  'listenQueue',
  'maxListenQueue',
  'listenQueueLen',
  'listenQueueMeasured',
  'idleProcesses',
  'activeProcesses',
  'totalProcesses',
  'maxActiveProcesses',
  'maxChildrenReached',
  'slowRequests',
] as const;

function stable(status: FpmStatus): Record<string, unknown> {
  return Object.fromEntries(STABLE_FIELDS.map((f) => [f, status[f]]));
}

describe.skipIf(!req.available)(`fetchStatus and ping against php-fpm${req.reason}`, () => {
  let fpm: StartedFpm;
  let statusDir: string;

  beforeAll(async () => {
    statusDir = await mkdtemp(join(tmpdir(), 'fpmkit-status-'));
    fpm = await startPhpFpm({
      pools: [
        { name: 'unixpool', listen: 'unix', directives: STATUS_DIRECTIVES },
        { name: 'tcppool', listen: 'tcp', directives: STATUS_DIRECTIVES },
        {
          name: 'busy',
          listen: 'tcp',
          directives: `pm = static\npm.max_children = 1\nlisten.backlog = 16\n${STATUS_DIRECTIVES}pm.status_listen = ${join(statusDir, 'busy-status.sock')}\n`,
        },
      ],
      scripts: {
        'sleep.php': '<?php usleep((int)($_GET["ms"] ?? 100) * 1000); echo "slept";',
        'page.php':
          '<?php header("Content-Type: text/html"); echo "<!DOCTYPE html><html><head><title>Shop</title></head></html>";',
        'notes.txt': 'not php',
      },
    });
  });

  afterAll(async () => {
    await fpm?.stop();
    await rm(statusDir, { recursive: true, force: true });
  });

  for (const poolName of ['unixpool', 'tcppool']) {
    it(`${poolName}: every format, with and without full, gives the same numbers while idle`, async () => {
      const target = fpm.pool(poolName).target;
      // FPM's own counters race when a request lands while the previous worker is still
      // Finishing, so pages are taken a moment apart and a pass with such a race is retaken.
      const takePass = async () => {
        const pass: { format: StatusFormat; full: boolean; status: FpmStatus }[] = [];
        for (const full of [false, true]) {
          for (const format of STATUS_FORMATS) {
            await new Promise((r) => setTimeout(r, 50));
            pass.push({ format, full, status: await fetchStatus(target, { format, full }) });
          }
        }
        return pass;
      };
      const agree = (pass: { status: FpmStatus }[]) =>
        pass.every(
          (p) => JSON.stringify(stable(p.status)) === JSON.stringify(stable(pass[0]!.status)),
        );
      let pages = await takePass();
      let passes = 1;
      for (; passes < 4 && !agree(pages); passes++) pages = await takePass();
      console.log(
        `${poolName}: 10 pages agreed after ${passes} pass(es); accepted conn ${pages[0]!.status.acceptedConn}..${pages[9]!.status.acceptedConn}, listenQueueLen ${pages[0]!.status.listenQueueLen}`,
      );
      const first = pages[0]!.status;
      expect(first.pool).toBe(poolName);
      expect(first.listenQueueMeasured).toBe(poolName === 'tcppool');
      if (poolName === 'tcppool') expect(first.listenQueueLen).toBeGreaterThan(0);
      for (const [i, page] of pages.entries()) {
        expect({ format: page.format, ...stable(page.status) }).toEqual({
          format: page.format,
          ...stable(first),
        });
        // Every status request is one accepted request, counted before the page is written.
        expect(page.status.acceptedConn).toBe(first.acceptedConn + i);
        if (page.format === 'openmetrics') {
          expect(page.status.startTimeDerived).toBe(true);
          expect(
            Math.abs(page.status.startTime.getTime() - first.startTime.getTime()),
          ).toBeLessThanOrEqual(2000);
          expect(page.status.processes).toBeUndefined();
        } else {
          expect(page.status.startTime.getTime()).toBe(first.startTime.getTime());
          expect(page.status.processes === undefined).toBe(!page.full);
        }
      }
      const full = pages.filter((p) => p.full && p.format !== 'openmetrics');
      const workers = (s: FpmStatus) =>
        (s.processes ?? [])
          .map((p) => ({ pid: p.pid, startTime: p.startTime.getTime() }))
          .sort((a, b) => a.pid - b.pid);
      for (const page of full) {
        expect(page.status.processes).toHaveLength(first.totalProcesses);
        expect(workers(page.status)).toEqual(workers(full[0]!.status));
        const self = page.status.processes!.filter((p) => p.state === 'Running');
        expect(self).toHaveLength(1);
        expect(self[0]!.requestUri).toBe(
          page.format === 'text' ? '/status?full' : `/status?${page.format}&full`,
        );
      }
    });

    it(`${poolName}: ping answers pong`, async () => {
      const result = await ping(fpm.pool(poolName).target);
      expect(result).toMatchObject({ ok: true, body: 'pong' });
      expect(result.latencyMs).toBeGreaterThan(0);
      expect((await ping(fpm.pool(poolName).target, { response: 'PONG' })).ok).toBe(false);
    });
  }

  it('reports a missing status path as pm.status_path, not as a parse error', async () => {
    const error = await fetchStatus(fpm.pool('unixpool').target, { path: '/stats' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FpmStatusError);
    expect(error).toMatchObject({
      code: 'FPMKIT_STATUS_MISCONFIGURED',
      kind: 'path-not-configured',
      directive: 'pm.status_path',
      httpStatus: 404,
    });
    expect((error as Error).message).toContain('pm.status_path = /stats');
  });

  it('reports a missing ping path as ping.path', async () => {
    const error = await ping(fpm.pool('tcppool').target, { path: '/health' }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ kind: 'path-not-configured', directive: 'ping.path' });
  });

  it('reports "Access denied." as security.limit_extensions refusing a non-status path', async () => {
    const error = await fetchStatus(fpm.pool('unixpool').target, {
      path: join(fpm.wwwDir, 'notes.txt'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'access-denied', httpStatus: 403 });
    expect((error as Error).message).toContain('security.limit_extensions');
  });

  it('reports a PHP page answering the status path as not the status page', async () => {
    const error = await fetchStatus(fpm.pool('unixpool').target, {
      path: join(fpm.wwwDir, 'page.php'),
      format: 'html',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'not-status-page', directive: 'pm.status_path' });
  });

  it('shows listenQueue above 0 on a TCP pool with connections queued behind a busy worker', async () => {
    const busy = fpm.pool('busy');
    const clients: FastCGIClient[] = [];
    const requests: Promise<unknown>[] = [];
    for (let i = 0; i < 6; i++) {
      const client = new FastCGIClient(busy.target, { totalTimeoutMs: 30_000 });
      clients.push(client);
      requests.push(
        client
          .request({
            params: {
              SCRIPT_FILENAME: join(fpm.wwwDir, 'sleep.php'),
              SCRIPT_NAME: '/sleep.php',
              REQUEST_METHOD: 'GET',
              QUERY_STRING: 'ms=4000',
            },
          })
          .catch(() => undefined),
      );
    }
    try {
      const statusTarget = `unix:${join(statusDir, 'busy-status.sock')}`;
      const queued = await poll(
        async () => {
          const status = await fetchStatus(statusTarget, { format: 'json' });
          return (status.listenQueue ?? 0) > 0 ? status : undefined;
        },
        10_000,
        200,
      );
      expect(queued).toBeDefined();
      console.log(
        `busy TCP pool: listenQueue ${queued!.listenQueue}, maxListenQueue ${queued!.maxListenQueue}, listenQueueLen ${queued!.listenQueueLen}`,
      );
      expect(queued!.listenQueueMeasured).toBe(true);
      expect(queued!.listenQueue).toBeGreaterThan(0);
      expect(queued!.maxListenQueue).toBeGreaterThanOrEqual(queued!.listenQueue!);
      expect(queued!.listenQueueLen).toBe(16);
      expect(queued!.activeProcesses).toBe(1);
    } finally {
      for (const client of clients) client.close();
      await Promise.all(requests);
    }
  });
});
