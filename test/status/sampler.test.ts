import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FastCGIConnectError,
  FpmkitInvalidOptionError,
  FpmkitListenerNotFoundError,
  FpmStatusNoAnswerError,
} from '../../src/errors.js';
import { listenQueueReader } from '../../src/host/net.js';
import {
  gapAsError,
  type ListenQueueReading,
  type PoolReading,
  StatusSampler,
  samplePool,
  statusGapReason,
} from '../../src/status/sampler.js';
import { jsonAnswer, type ScriptedFpm, startScriptedFpm } from './scripted-fpm.js';

const page = (accepted: number) =>
  JSON.stringify({
    pool: 'www',
    'process manager': 'static',
    'start time': 1795250421,
    'start since': 100,
    'accepted conn': accepted,
    'listen queue': 0,
    'max listen queue': 0,
    'listen queue len': 0,
    'idle processes': 1,
    'active processes': 1,
    'total processes': 2,
    'max active processes': 2,
    'max children reached': 0,
    'slow requests': 0,
  });

/** A socket that accepts and never answers, as a pool whose workers are all busy would not. */
async function startSilentPeer(): Promise<{
  target: string;
  connections: () => number;
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-silent-'));
  const path = join(dir, 'fpm.sock');
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    target: `unix:${path}`,
    connections: () => count,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe('statusGapReason', () => {
  it.each([
    ['EAGAIN', 'EAGAIN'],
    ['ECONNREFUSED', 'refused'],
    ['ENOENT', 'no-socket'],
    ['EACCES', 'permission'],
    ['EHOSTUNREACH', 'connect'],
  ])('maps a connect error with %s to %s', (errno, reason) => {
    expect(statusGapReason(new FastCGIConnectError('x', { errno }))).toBe(reason);
  });
  it('maps anything that is not an fpmkit error to error', () => {
    expect(statusGapReason(new TypeError('x'))).toBe('error');
    expect(statusGapReason(undefined)).toBe('error');
  });
});

describe('StatusSampler', () => {
  let fpm: ScriptedFpm | undefined;
  let silent: Awaited<ReturnType<typeof startSilentPeer>> | undefined;
  afterEach(async () => {
    await fpm?.close();
    await silent?.close();
    fpm = undefined;
    silent = undefined;
  });

  it('reads the queue before the page and diffs consecutive pages', async () => {
    const order: string[] = [];
    fpm = await startScriptedFpm((n) => {
      order.push('status');
      return jsonAnswer(page(10 + n * 5));
    });
    const sampler = new StatusSampler(fpm.target, {
      readQueue: async () => {
        order.push('queue');
        return { queued: 3, backlog: 16, capacity: 17, source: 'proc-net-unix' };
      },
    });
    const first = await sampler.sample();
    const second = await sampler.sample();
    sampler.close();
    expect(order).toEqual(['queue', 'status', 'queue', 'status']);
    expect(first.gap).toBeUndefined();
    expect(first.queue).toMatchObject({ queued: 3, capacity: 17 });
    expect(second.increments?.acceptedConn).toBe(5);
    expect(second.elapsedMs).toBeGreaterThan(0);
  });

  it('keeps one request in flight: later samples report it pending, then its timeout', async () => {
    silent = await startSilentPeer();
    const sampler = new StatusSampler(silent.target, {
      timeoutMs: 300,
      readQueue: async () => ({ queued: 17, backlog: 16, capacity: 17, source: 'proc-net-unix' }),
    });
    const readings: PoolReading[] = [];
    for (let i = 0; i < 3; i++) readings.push(await sampler.sample({ waitMs: 20 }));
    expect(readings.map((r) => r.gap?.reason)).toEqual(['pending', 'pending', 'pending']);
    // A pending gap has no error of its own; as an error it is a typed one, never the base class.
    expect(gapAsError(readings[0]!.gap!)).toBeInstanceOf(FpmStatusNoAnswerError);
    expect(readings.every((r) => r.queue?.queued === 17)).toBe(true);
    expect(silent.connections()).toBe(1);
    expect(sampler.inFlight).toBe(true);
    // Its outcome comes with a later sample.
    const late = await sampler.sample();
    expect(late.gap?.reason).toBe('timeout');
    expect(sampler.inFlight).toBe(false);
    // Then a new request goes out.
    await sampler.sample({ waitMs: 20 });
    expect(silent.connections()).toBe(2);
    sampler.close();
  });

  it('records why the queue could not be read and still asks for the page', async () => {
    fpm = await startScriptedFpm(() => jsonAnswer(page(1)));
    const sampler = new StatusSampler(fpm.target, {
      readQueue: async () => {
        throw new Error('no listening socket');
      },
    });
    const r = await sampler.sample();
    sampler.close();
    expect(r.queueError).toBe('no listening socket');
    expect(r.status?.acceptedConn).toBe(1);
  });

  it('turns a missing socket into a gap, never a throw', async () => {
    const sampler = new StatusSampler('/nonexistent/fpmkit-sampler.sock');
    const r = await sampler.sample();
    sampler.close();
    expect(r.status).toBeUndefined();
    expect(r.gap?.reason).toBe('no-socket');
    expect(r.gap?.error).toBeInstanceOf(FastCGIConnectError);
  });

  it('checks its options when made', () => {
    expect(() => new StatusSampler('/x.sock', { timeoutMs: -1 })).toThrow(FpmkitInvalidOptionError);
    expect(
      () => new StatusSampler('/x.sock', { readQueue: 'no' as unknown as () => never }),
    ).toThrow(FpmkitInvalidOptionError);
  });

  it('ends within waitMs of its start even when the queue read is slow', async () => {
    fpm = await startScriptedFpm(() => jsonAnswer(page(1)));
    let bound: number | undefined;
    const sampler = new StatusSampler(fpm.target, {
      readQueue: (options) => {
        bound = options?.timeoutMs;
        // As a first `ss` run on a loaded machine: far longer than the sample may take.
        return new Promise((resolve) =>
          setTimeout(() => resolve({ queued: 0, source: 'proc-net-unix' }), 4_000).unref(),
        );
      },
    });
    const started = performance.now();
    const r = await sampler.sample({ waitMs: 600 });
    const took = performance.now() - started;
    sampler.close();
    expect(bound).toBe(300);
    expect(r.queue).toBeUndefined();
    expect(r.queueError).toMatch(/not read within 300 ms/);
    // The page still had the rest of the wait.
    expect(r.status?.acceptedConn).toBe(1);
    // The wait, not the queue read plus the wait; the margin is for a loaded machine.
    expect(took).toBeLessThan(2_000);
  });

  it('samplePool keeps its pace while the page does not answer', async () => {
    silent = await startSilentPeer();
    const controller = new AbortController();
    const readings: PoolReading[] = [];
    const started = Date.now();
    for await (const r of samplePool(silent.target, {
      intervalMs: 50,
      timeoutMs: 10_000,
      signal: controller.signal,
      readQueue: async () => ({ queued: 0, source: 'proc-net-unix' }),
    })) {
      readings.push(r);
      if (readings.length === 5) controller.abort();
    }
    expect(readings).toHaveLength(5);
    expect(readings.every((r) => r.gap?.reason === 'pending')).toBe(true);
    expect(silent.connections()).toBe(1);
    // Five intervals of 50 ms, not five timeouts of 10 s.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('listenQueueReader', () => {
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'proc-net-unix');
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function procRoot(files: Record<string, string>): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-proc-'));
    await mkdir(join(dir, 'net'));
    for (const [name, from] of Object.entries(files))
      await copyFile(join(fixture, from), join(dir, 'net', name));
    return dir;
  }

  it('reads a UNIX listener queue from /proc/net/unix and its capacity from ss, once per socket', async () => {
    const root = await procRoot({ unix: 'unix-saturated/proc-net-unix.txt' });
    const ss = await readFile(join(fixture, 'unix-saturated', 'ss-xl.txt'), 'utf8');
    let ssRuns = 0;
    const read = listenQueueReader('/run/php/fixture-lab/sat.sock', {
      procRoot: root,
      listListeners: async () => {
        ssRuns++;
        return ss;
      },
    });
    const first: ListenQueueReading = await read();
    expect(first).toMatchObject({
      queued: 9,
      backlog: 8,
      capacity: 9,
      source: 'proc-net-unix',
      inode: 1720980,
    });
    await read();
    expect(ssRuns).toBe(1);
  });

  it('reads a TCP listener queue from /proc/net/tcp', async () => {
    const root = await procRoot({
      tcp: 'tcp-ipv4-saturated/proc-net-tcp.txt',
      tcp6: 'tcp-ipv4-saturated/proc-net-tcp6.txt',
    });
    const ss = await readFile(join(fixture, 'tcp-ipv4-saturated', 'ss-tln.txt'), 'utf8');
    const read = listenQueueReader('127.0.0.1:18090', {
      procRoot: root,
      listListeners: async () => ss,
    });
    expect(await read()).toMatchObject({
      queued: 8,
      backlog: 16,
      capacity: 17,
      source: 'proc-net-tcp',
    });
  });

  it('stops a backlog look-up that outlasts the read bound, and does not retry it every read', async () => {
    const root = await procRoot({ unix: 'unix-saturated/proc-net-unix.txt' });
    let runs = 0;
    let aborted = false;
    const read = listenQueueReader('/run/php/fixture-lab/sat.sock', {
      procRoot: root,
      listListeners: (signal) => {
        runs++;
        return new Promise((resolve) => {
          const timer = setTimeout(() => resolve(undefined), 5_000);
          signal?.addEventListener('abort', () => {
            aborted = true;
            clearTimeout(timer);
            resolve(undefined);
          });
        });
      },
    });
    const started = performance.now();
    const r = await read({ timeoutMs: 200 });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.queued).toBe(9);
    expect(r.capacity).toBeUndefined();
    expect(aborted).toBe(true);
    await read({ timeoutMs: 200 });
    expect(runs).toBe(1);
  });

  it('says so when the listener is not in the table, and leaves the capacity out without ss', async () => {
    const root = await procRoot({ unix: 'unix-saturated/proc-net-unix.txt' });
    const missing = listenQueueReader('/run/php/nowhere.sock', { procRoot: root });
    await expect(missing()).rejects.toThrow(/no listening socket \/run\/php\/nowhere\.sock/);
    await expect(missing()).rejects.toBeInstanceOf(FpmkitListenerNotFoundError);
    await expect(missing()).rejects.toMatchObject({
      code: 'FPMKIT_LISTENER_NOT_FOUND',
      listen: '/run/php/nowhere.sock',
    });
    const noSs = listenQueueReader('/run/php/fixture-lab/sat.sock', {
      procRoot: root,
      listListeners: async () => undefined,
    });
    const r = await noSs();
    expect(r.queued).toBe(9);
    expect(r.capacity).toBeUndefined();
  });
});
