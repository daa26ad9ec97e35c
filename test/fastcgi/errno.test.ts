import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { isRoot } from '../support/integration.js';
import { freePort, run } from '../support/process.js';

/**
 * Every errno a UNIX-socket client meets, produced for real: a missing path, a socket file
 * nobody listens on, a socket this user may not open, and a full accept queue.
 */

const PARAMS = { SCRIPT_FILENAME: '/ping', SCRIPT_NAME: '/ping', REQUEST_METHOD: 'GET' };
const here = dirname(fileURLToPath(import.meta.url));
const fastcgiIndex = join(here, '../../src/fastcgi/index.ts');

let dir: string;
const children: ChildProcess[] = [];
const servers: Server[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-errno-'));
  await chmod(dir, 0o755);
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
  }
  for (const server of servers) await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

/** A node child that listens on `path` with `backlog` and then never runs its event loop again. */
async function frozenListener(path: string, backlog: number): Promise<ChildProcess> {
  const code = `require('net').createServer().listen({ path: ${JSON.stringify(path)}, backlog: ${backlog} }, () => {
    process.stdout.write('up\\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000);
  });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`listener exited with ${c}`)));
  });
  return child;
}

async function failure(target: string) {
  const client = new FastCGIClient(target, { connectTimeoutMs: 2000, totalTimeoutMs: 5000 });
  try {
    await client.request({ params: PARAMS });
    return undefined;
  } catch (error) {
    return error as Record<string, unknown>;
  } finally {
    client.close();
  }
}

describe('UNIX-socket connect errors, produced for real', () => {
  it('ENOENT: the socket path does not exist', async () => {
    const path = join(dir, 'missing.sock');
    const e = await failure(`unix:${path}`);
    expect(e).toMatchObject({
      code: 'FPMKIT_CONNECT',
      errno: 'ENOENT',
      phase: 'connect',
      target: `unix:${path}`,
    });
    expect(e!.hint).toMatch(/does not exist/);
    expect(e!.hint).toContain(path);
  });

  it('ECONNREFUSED: a socket file left behind by a listener that was killed', async () => {
    const path = join(dir, 'stale.sock');
    const child = await frozenListener(path, 8);
    process.kill(child.pid!, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await stat(path)).isSocket()).toBe(true);
    const e = await failure(path);
    expect(e).toMatchObject({ code: 'FPMKIT_CONNECT', errno: 'ECONNREFUSED', phase: 'connect' });
    expect(e!.hint).toMatch(/nothing is listening/);
  });

  it('ECONNREFUSED over TCP: a port nobody listens on', async () => {
    const port = await freePort();
    const e = await failure(`127.0.0.1:${port}`);
    expect(e).toMatchObject({ code: 'FPMKIT_CONNECT', errno: 'ECONNREFUSED', phase: 'connect' });
    expect(e!.hint).toMatch(/nothing is listening on 127\.0\.0\.1/);
  });

  it('EAGAIN: the accept queue of a listener that never accepts is full', async () => {
    const path = join(dir, 'full.sock');
    await frozenListener(path, 1);
    // backlog 1 holds two connections (the kernel queues backlog + 1); fill it.
    let filled = 0;
    for (let i = 0; i < 10; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(path);
        sockets.push(s);
        s.once('connect', () => resolve(true));
        s.once('error', () => resolve(false));
      });
      if (!ok) break;
      filled++;
    }
    expect(filled).toBe(2);
    const e = await failure(`unix:${path}`);
    expect(e).toMatchObject({ code: 'FPMKIT_CONNECT', errno: 'EAGAIN', phase: 'connect' });
    expect(e!.hint).toMatch(/accept queue .* is full/);
    expect(e!.hint).toMatch(/listen\.backlog/);
  });

  describe.skipIf(!isRoot())('EACCES (as an unprivileged child process)', () => {
    it('socket mode 0600 owned by root, and a socket in a directory without search permission', async () => {
      const open = join(dir, 'private.sock');
      const closedDir = join(dir, 'closed');
      await mkdir(closedDir, { mode: 0o700 });
      const hidden = join(closedDir, 'hidden.sock');
      for (const path of [open, hidden]) {
        const server = createServer((s) => s.destroy());
        servers.push(server);
        await new Promise<void>((r) => server.listen(path, r));
      }
      await chmod(open, 0o600);
      const script = `
        const { FastCGIClient } = await import(${JSON.stringify(fastcgiIndex)});
        const out = [];
        for (const target of ${JSON.stringify([`unix:${open}`, `unix:${hidden}`])}) {
          try { await new FastCGIClient(target).request({ params: {} }); out.push(null); }
          catch (e) { out.push({ code: e.code, errno: e.errno, phase: e.phase, hint: e.hint }); }
        }
        console.log(JSON.stringify({ uid: process.getuid(), out }));`;
      const uid = Number((await run('id', ['-u', 'nobody'])).stdout.trim());
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
        (resolve) => {
          const child = spawn(
            process.execPath,
            ['--import', 'tsx', '--input-type=module', '-e', script],
            {
              uid,
              gid: uid,
              cwd: join(here, '../..'),
              env: { PATH: process.env.PATH ?? '', HOME: dir },
            },
          );
          children.push(child);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          child.on('close', (code) => resolve({ code, stdout, stderr }));
        },
      );
      expect(result.stderr).toBe('');
      const { uid: childUid, out } = JSON.parse(result.stdout) as {
        uid: number;
        out: Array<Record<string, string>>;
      };
      expect(childUid).toBe(uid);
      for (const e of out) {
        expect(e).toMatchObject({ code: 'FPMKIT_CONNECT', errno: 'EACCES', phase: 'connect' });
        expect(e.hint).toMatch(/listen\.owner, listen\.group, listen\.mode/);
        expect(e.hint).toMatch(/parent directory must be searchable/);
      }
    });
  });
});
