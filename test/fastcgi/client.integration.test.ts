import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient, type FastCGIResponse } from '../../src/fastcgi/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const req = phpFpmBinary();

const SCRIPTS = {
  'echo.php': `<?php
header('X-Method: ' . $_SERVER['REQUEST_METHOD']);
echo strlen(file_get_contents('php://input')), ':', $_SERVER['CONTENT_LENGTH'] ?? '-', ':', md5(file_get_contents('php://input'));`,
  'big.php': `<?php error_log('to stderr'); echo str_repeat('0123456789', 30000);`,
  'pid.php': `<?php echo getmypid();`,
  'fill.php': `<?php echo str_repeat($_GET['c'] ?? 'x', (int)($_GET['n'] ?? 1000));`,
  // Records each run, then dies without a byte of answer while die-once.flag exists (removed
  // first, so only one run dies), the way a segfault or an OOM kill ends a worker mid-request.
  'charge.php': `<?php
file_put_contents(__DIR__ . '/charges.log', $_SERVER['REQUEST_METHOD'] . ' ' . ($_GET['id'] ?? '') . "\n", FILE_APPEND);
if (@unlink(__DIR__ . '/die-once.flag')) posix_kill(getmypid(), 9);
echo 'charged';`,
  'sleep.php': `<?php $t = microtime(true); usleep((int)($_GET['ms'] ?? 100) * 1000); echo $t, ' ', microtime(true);`,
};

function params(script: string, fpm: StartedFpm, extra: Record<string, string> = {}) {
  return {
    SCRIPT_FILENAME: `${fpm.wwwDir}/${script}`,
    SCRIPT_NAME: `/${script}`,
    REQUEST_METHOD: 'GET',
    ...extra,
  };
}

const STATUS = {
  SCRIPT_FILENAME: '/status',
  SCRIPT_NAME: '/status',
  REQUEST_METHOD: 'GET',
  QUERY_STRING: 'json&full',
};

describe.skipIf(!req.available)(`FastCGIClient against php-fpm${req.reason}`, () => {
  let fpm: StartedFpm;

  beforeAll(async () => {
    const directives =
      'pm = static\npm.max_children = 4\npm.status_path = /status\nping.path = /ping';
    fpm = await startPhpFpm({
      pools: [
        { name: 'unix', listen: 'unix', directives },
        { name: 'tcp', listen: 'tcp', directives },
        { name: 'tcp6', listen: 'tcp6', directives },
      ],
      scripts: SCRIPTS,
    });
  });

  afterAll(async () => {
    await fpm?.stop();
  });

  it.each(['unix', 'tcp', 'tcp6'])('reads the JSON status page over %s', async (pool) => {
    const client = new FastCGIClient(fpm.pool(pool).target);
    const res = await client.request({ params: STATUS });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.appStatus).toBe(0);
    expect(res.protocolStatus).toBe(0);
    expect(res.stderr).toBe('');
    const body = JSON.parse(res.body.toString()) as { pool: string; processes: unknown[] };
    expect(body.pool).toBe(pool);
    expect(body.processes).toHaveLength(4);
  });

  it.each(['unix', 'tcp6'])(
    'answers FCGI_GET_VALUES over %s with FCGI_MPXS_CONNS only',
    async (pool) => {
      const client = new FastCGIClient(fpm.pool(pool).target);
      expect(
        await client.getValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']),
      ).toEqual({
        FCGI_MPXS_CONNS: '0',
      });
    },
  );

  it('keeps STDERR apart from a body spread over many records', async () => {
    const res = await new FastCGIClient(fpm.pool('unix').target).request({
      params: params('big.php', fpm),
    });
    expect(res.body.toString()).toBe('0123456789'.repeat(30000));
    expect(res.stderr).toMatch(/PHP message: to stderr/);
  });

  it('keeps concurrent responses apart, each larger than a socket read', async () => {
    // Every socket reads into one shared buffer; a view kept into it would be overwritten by the
    // next read of any socket.
    const client = new FastCGIClient(fpm.pool('unix').target);
    const letters = [...'abcdefgh'];
    const bodies = await Promise.all(
      letters.map((c) =>
        client.request({ params: params('fill.php', fpm, { QUERY_STRING: `c=${c}&n=150000` }) }),
      ),
    );
    expect(bodies.map((r) => r.body.toString())).toEqual(letters.map((c) => c.repeat(150_000)));
  });

  it('sends a body on STDIN and fills in CONTENT_LENGTH', async () => {
    const body = Buffer.alloc(200_000, 'abc');
    const res = await new FastCGIClient(fpm.pool('tcp').target).request({
      params: params('echo.php', fpm, { REQUEST_METHOD: 'POST' }),
      stdin: body,
    });
    const { createHash } = await import('node:crypto');
    expect(res.body.toString()).toBe(
      `200000:200000:${createHash('md5').update(body).digest('hex')}`,
    );
    expect(res.headers['x-method']).toBe('POST');
  });

  it('reports a missing script as FPM does: Status 404 and "Primary script unknown"', async () => {
    const res = await new FastCGIClient(fpm.pool('unix').target).request({
      params: params('nope.php', fpm),
    });
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('File not found.\n');
    expect(res.stderr).toBe('Primary script unknown');
    expect(res.protocolStatus).toBe(0);
  });

  it('keeps the connection with keepAlive, which pins one worker in "Reading headers"', async () => {
    const client = new FastCGIClient(fpm.pool('unix').target, { keepAlive: true });
    const pids = new Set<string>();
    for (let i = 0; i < 3; i++) {
      pids.add((await client.request({ params: params('pid.php', fpm) })).body.toString());
    }
    expect(pids.size).toBe(1);
    expect(client.pending.idleConnections).toBe(1);
    const status = await new FastCGIClient(fpm.pool('unix').target).request({ params: STATUS });
    const procs = (
      JSON.parse(status.body.toString()) as { processes: Array<{ pid: number; state: string }> }
    ).processes;
    const pinned = procs.find((p) => String(p.pid) === [...pids][0]);
    expect(pinned?.state).toBe('Reading headers');
    client.close();
    expect(client.pending.idleConnections).toBe(0);
  });

  it('closes right after END_REQUEST without keepAlive, so no worker stays "Finishing"', async () => {
    const client = new FastCGIClient(fpm.pool('tcp').target);
    await client.request({ params: params('pid.php', fpm) });
    // The worker notices the close a moment later; a client that kept the socket open would
    // hold it in "Finishing" for as long as it kept it, so a bounded poll tells them apart.
    let busy: string[] = [];
    for (let i = 0; i < 20; i++) {
      const status = await client.request({ params: STATUS });
      const procs = (JSON.parse(status.body.toString()) as { processes: Array<{ state: string }> })
        .processes;
      busy = procs.map((p) => p.state).filter((s) => s !== 'Idle');
      if (busy.length === 1) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(busy).toEqual(['Running']);
  });

  it('limits requests in flight to maxConcurrency', async () => {
    const client = new FastCGIClient(fpm.pool('unix').target, { maxConcurrency: 2 });
    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        client.request({ params: params('sleep.php', fpm, { QUERY_STRING: 'ms=80' }) }),
      ),
    );
    const spans = runs.map((r: FastCGIResponse) => r.body.toString().split(' ').map(Number));
    const most = Math.max(
      ...spans.map(([start]) => spans.filter(([s, e]) => s! <= start! && start! < e!).length),
    );
    expect(most).toBeLessThanOrEqual(2);
    expect(client.pending).toEqual({ active: 0, queued: 0, idleConnections: 0 });
  });

  it('ends a slow request with a read timeout and an aborted one with FpmkitAbortError', async () => {
    const client = new FastCGIClient(fpm.pool('unix').target, { readTimeoutMs: 100 });
    await expect(
      client.request({ params: params('sleep.php', fpm, { QUERY_STRING: 'ms=2000' }) }),
    ).rejects.toMatchObject({ code: 'FPMKIT_READ_TIMEOUT', phase: 'read', bytesRead: 0 });
    const other = new FastCGIClient(fpm.pool('tcp').target);
    await expect(
      other.request({
        params: params('sleep.php', fpm, { QUERY_STRING: 'ms=2000' }),
        signal: AbortSignal.timeout(100),
      }),
    ).rejects.toMatchObject({ code: 'FPMKIT_ABORTED' });
    await expect(
      other.request({
        params: params('sleep.php', fpm, { QUERY_STRING: 'ms=2000' }),
        timeoutMs: 100,
      }),
    ).rejects.toMatchObject({ code: 'FPMKIT_TOTAL_TIMEOUT', phase: 'total' });
  });

  it.each([
    ['POST', 'amount=5', 'rejects: the worker may have run it', ['POST a1', 'POST a2']],
    ['GET', undefined, 'is resent once on a new connection', ['GET g1', 'GET g2', 'GET g2']],
  ] as const)(
    'with keepAlive, a %s (body %s) whose worker is killed mid-request %s',
    async (method, stdin, _what, runs) => {
      const log = join(fpm.wwwDir, 'charges.log');
      writeFileSync(log, '');
      const client = new FastCGIClient(fpm.pool('unix').target, { keepAlive: true });
      const id = method === 'POST' ? 'a' : 'g';
      const call = (n: number) =>
        client.request({
          params: params('charge.php', fpm, {
            REQUEST_METHOD: method,
            QUERY_STRING: `id=${id}${n}`,
          }),
          ...(stdin === undefined ? {} : { stdin }),
        });
      try {
        expect((await call(1)).body.toString()).toBe('charged');
        expect(client.pending.idleConnections).toBe(1);
        writeFileSync(join(fpm.wwwDir, 'die-once.flag'), '');
        const second = call(2);
        if (method === 'POST') {
          // FPM's socket is reset when the dead worker left the body unread, else just closed.
          await expect(second).rejects.toMatchObject({
            code: expect.stringMatching(/^FPMKIT_(SOCKET|PROTOCOL)$/),
            message: expect.stringMatching(/not resent on a new connection/),
          });
        } else {
          expect((await second).body.toString()).toBe('charged');
        }
        expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(runs);
      } finally {
        client.close();
      }
    },
  );
});
