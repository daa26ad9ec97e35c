import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  FastCGIConnectError,
  FastCGISocketError,
  FpmkitError,
  isFpmkitError,
} from '../../src/errors.js';
import { FastCGIClient } from '../../src/fastcgi/index.js';

/**
 * A caller that retries "connect errors" must never send again a request the server already
 * received. Before FPMKIT_SOCKET existed, a connection reset after the request was written was
 * reported as FastCGIConnectError, so such a caller charged a card twice.
 */

const END_OF_REQUEST = Buffer.from('0105000100000000', 'hex');
const servers: Array<{ server: Server; sockets: Set<Socket> }> = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A server that reads each whole request, counts it as run, then resets the connection. */
async function runsThenResets(
  where: 'tcp' | 'unix',
): Promise<{ target: string; runs: () => number }> {
  let runs = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let got = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.indexOf(END_OF_REQUEST) < 0) return;
      runs++;
      socket.resetAndDestroy();
    });
  });
  servers.push({ server, sockets });
  if (where === 'tcp') {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { target: `127.0.0.1:${(server.address() as { port: number }).port}`, runs: () => runs };
  }
  const dir = mkdtempSync(join(tmpdir(), 'fpmkit-socket-'));
  dirs.push(dir);
  const path = join(dir, 'fpm.sock');
  await new Promise<void>((r) => server.listen(path, r));
  return { target: `unix:${path}`, runs: () => runs };
}

/** What a careful caller writes: try again while the failure says nothing reached the server. */
async function retryOnConnectError(client: FastCGIClient, attempts: number): Promise<unknown> {
  for (let i = 1; ; i++) {
    try {
      return await client.request({
        params: { REQUEST_METHOD: 'POST', SCRIPT_FILENAME: '/charge.php' },
        stdin: 'amount=5',
      });
    } catch (error) {
      if (!(error instanceof FastCGIConnectError) || i === attempts) throw error;
    }
  }
}

describe('a failure after the connection was made is not a connect error', () => {
  // TCP only: a reset on a UNIX stream socket reads as a plain close (FPMKIT_PROTOCOL).
  it('a reset after the request was received: FastCGISocketError, and the request ran once', async () => {
    const server = await runsThenResets('tcp');
    const client = new FastCGIClient(server.target);
    const error = await retryOnConnectError(client, 3).catch((e: unknown) => e);
    expect(server.runs()).toBe(1);
    expect(error).toBeInstanceOf(FastCGISocketError);
    expect(error).not.toBeInstanceOf(FastCGIConnectError);
    expect(error).toBeInstanceOf(FpmkitError);
    expect(error).toMatchObject({ code: 'FPMKIT_SOCKET', phase: 'read', errno: 'ECONNRESET' });
    const { bytesWritten, bytesRead } = error as FastCGISocketError;
    expect(bytesRead).toBe(0);
    // The whole request was handed to the socket: params and the 8-byte body record.
    expect(bytesWritten).toBeGreaterThan(16);
  });

  it('nothing listening: FastCGIConnectError with phase connect, retried, and nothing ran', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpmkit-socket-'));
    dirs.push(dir);
    const client = new FastCGIClient(`unix:${join(dir, 'missing.sock')}`);
    const error = await retryOnConnectError(client, 3).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FastCGIConnectError);
    expect(error).not.toBeInstanceOf(FastCGISocketError);
    expect(error).toMatchObject({ code: 'FPMKIT_CONNECT', phase: 'connect', errno: 'ENOENT' });
  });

  it('FPMKIT_SOCKET is a documented code; isFpmkitError knows it', () => {
    expect(ERROR_CODES).toContain('FPMKIT_SOCKET');
    expect(isFpmkitError(new FastCGISocketError('x', { phase: 'write' }))).toBe(true);
  });
});

describe('brands', () => {
  it('instanceof reads the registered brand, so a copy made elsewhere is recognised', () => {
    const foreign = Object.create(Error.prototype) as Record<symbol, unknown>;
    foreign[Symbol.for('fpmkit.error')] = true;
    foreign[Symbol.for('fpmkit.error.FastCGISocketError')] = true;
    expect(foreign instanceof FpmkitError).toBe(true);
    expect(foreign instanceof FastCGISocketError).toBe(true);
    expect(foreign instanceof FastCGIConnectError).toBe(false);
  });
});
