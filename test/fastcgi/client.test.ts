import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeNameValuePairs,
  decodeRecords,
  encodeRecord,
  FastCGIClient,
  RecordType,
} from '../../src/fastcgi/index.js';

/** A scripted FastCGI server on a real TCP port that answers each request with `answer`. */
interface Script {
  server: Server;
  target: string;
  /** Every request received: its params and whether BEGIN_REQUEST asked to keep the conn. */
  requests: Array<{ params: Record<string, string>; keepConn: boolean; connection: number }>;
  sockets: Set<Socket>;
}

const servers: Script[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    for (const socket of s.sockets) socket.destroy();
    await new Promise((r) => s.server.close(r));
  }
});

function reply(body: string): Buffer {
  return Buffer.concat([
    encodeRecord(RecordType.STDOUT, 1, Buffer.from(`Content-type: text/plain\r\n\r\n${body}`)),
    encodeRecord(RecordType.END_REQUEST, 1, Buffer.alloc(8)),
  ]);
}

async function script(
  answer: (socket: Socket, n: number, keepConn: boolean) => void,
): Promise<Script> {
  const requests: Script['requests'] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      // A request is complete at its empty STDIN record.
      const end = buffered.indexOf(Buffer.from('0105000100000000', 'hex'));
      if (end < 0) return;
      const records = decodeRecords(buffered.subarray(0, end + 8));
      buffered = buffered.subarray(end + 8);
      const keepConn = (records[0]!.content[2]! & 1) === 1;
      const params = Object.fromEntries(
        records
          .filter((r) => r.type === RecordType.PARAMS)
          .flatMap((r) => decodeNameValuePairs(r.content)),
      );
      requests.push({ params, keepConn, connection });
      answer(socket, requests.length, keepConn);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const s = { server, target: `127.0.0.1:${port}`, requests, sockets };
  servers.push(s);
  return s;
}

describe('FastCGIClient', () => {
  it('sends params whole, closes after END_REQUEST, and reuses bytes only for equal params', async () => {
    const s = await script((socket, n) => socket.write(reply(`r${n}`)));
    const client = new FastCGIClient(s.target);
    const a = { SCRIPT_NAME: '/status', QUERY_STRING: 'json' };
    expect((await client.request({ params: a })).body.toString()).toBe('r1');
    expect((await client.request({ params: { ...a } })).body.toString()).toBe('r2');
    expect((await client.request({ params: { ...a, QUERY_STRING: 'xml' } })).body.toString()).toBe(
      'r3',
    );
    expect(
      (
        await client.request({ params: { QUERY_STRING: 'json', SCRIPT_NAME: '/status' } })
      ).body.toString(),
    ).toBe('r4');
    expect(s.requests.map((r) => r.params.QUERY_STRING)).toEqual(['json', 'json', 'xml', 'json']);
    expect(s.requests.map((r) => [r.keepConn, r.connection])).toEqual([
      [false, 1],
      [false, 2],
      [false, 3],
      [false, 4],
    ]);
  });

  it('reuses a kept connection and retries once on a fresh one when the server dropped it', async () => {
    const s = await script((socket, n) => {
      socket.write(reply(`r${n}`));
      // The server drops the connection after its second request, as pm.max_requests would.
      if (n === 2) socket.end();
    });
    const client = new FastCGIClient(s.target, { keepAlive: true });
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) {
      bodies.push((await client.request({ params: { N: String(i) } })).body.toString());
      // Let a close from the server arrive while the connection sits idle.
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(bodies).toEqual(['r1', 'r2', 'r3']);
    expect(s.requests.map((r) => [r.keepConn, r.connection])).toEqual([
      [true, 1],
      [true, 1],
      [true, 2],
    ]);
    expect(client.pending.idleConnections).toBe(1);
    client.close();
    expect(client.pending.idleConnections).toBe(0);
  });

  it('counts time spent waiting for a slot against the total bound', async () => {
    const s = await script(() => {});
    const client = new FastCGIClient(s.target, { maxConcurrency: 1, readTimeoutMs: 10_000 });
    const first = client.request({ params: {}, timeoutMs: 5_000 });
    const second = client.request({ params: {}, timeoutMs: 100 });
    expect(client.pending).toMatchObject({ active: 1, queued: 1 });
    await expect(second).rejects.toMatchObject({ code: 'FPMKIT_TOTAL_TIMEOUT', bytesRead: 0 });
    expect(client.pending).toMatchObject({ active: 1, queued: 0 });
    client.close();
    await expect(first).rejects.toMatchObject({ code: 'FPMKIT_ABORTED' });
    expect(client.pending).toEqual({ active: 0, queued: 0, idleConnections: 0 });
    await expect(client.request({ params: {} })).rejects.toMatchObject({ code: 'FPMKIT_ABORTED' });
  });

  it('applies a read bound shorter than the connect bound from the moment of connecting', async () => {
    const s = await script(() => {});
    const client = new FastCGIClient(s.target, { connectTimeoutMs: 5_000, readTimeoutMs: 50 });
    await expect(client.request({ params: {} })).rejects.toMatchObject({
      code: 'FPMKIT_READ_TIMEOUT',
      phase: 'read',
      timeoutMs: 50,
    });
  });

  it('rejects at once when the signal is already aborted, and validates options', async () => {
    const s = await script((socket) => socket.write(reply('x')));
    const client = new FastCGIClient(s.target);
    await expect(
      client.request({ params: {}, signal: AbortSignal.abort('stop') }),
    ).rejects.toMatchObject({ code: 'FPMKIT_ABORTED', cause: 'stop' });
    expect(s.requests).toHaveLength(0);
    expect(() => new FastCGIClient(s.target, { readTimeoutMs: 0 })).toThrow(/readTimeoutMs/);
    expect(() => new FastCGIClient(s.target, { maxConcurrency: 0 })).toThrow(/maxConcurrency/);
    expect(() => new FastCGIClient(s.target, { maxResponseBytes: -1 })).toThrow(/maxResponseBytes/);
    await expect(client.request({ params: { A: 'x'.repeat(70_000) } })).rejects.toMatchObject({
      code: 'FPMKIT_INVALID_OPTION',
    });
  });
});

describe('FastCGIClient option errors name the option the caller gave', () => {
  it.each<[string, Record<string, unknown>]>([
    ['params', { params: null }],
    ['params', { params: 'SCRIPT_NAME=/status' }],
    ['stdin', { params: {}, stdin: 42 }],
    ['stdin', { params: {}, stdin: { length: 3 } }],
    ['signal', { params: {}, signal: 'stop' }],
    ['timeoutMs', { params: {}, timeoutMs: '5' }],
    ['params.A', { params: { A: 1 } }],
  ])('request names %s and sends nothing', async (option, options) => {
    const s = await script((socket) => socket.write(reply('x')));
    const client = new FastCGIClient(s.target);
    const error = await client.request(options as never).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FPMKIT_INVALID_OPTION', option });
    client.close();
    expect(s.requests).toHaveLength(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ['keepAlive', { keepAlive: 'yes' }],
    ['connectTimeoutMs', { connectTimeoutMs: -5 }],
    ['totalTimeoutMs', { totalTimeoutMs: 2 ** 31 }],
    ['getValuesTimeoutMs', { getValuesTimeoutMs: 0 }],
    ['getValuesTimeoutMs', { getValuesTimeoutMs: Number.NaN }],
  ])('the constructor names %s', (option, options) => {
    expect(() => new FastCGIClient('127.0.0.1:9000', options as never)).toThrow(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION', option }),
    );
  });

  it.each<[string, unknown, Record<string, unknown>]>([
    ['names', 'FCGI_MPXS_CONNS', {}],
    ['names', [1], {}],
    ['signal', ['FCGI_MPXS_CONNS'], { signal: {} }],
    ['timeoutMs', ['FCGI_MPXS_CONNS'], { timeoutMs: 0 }],
  ])('getValues names %s', async (option, names, options) => {
    const client = new FastCGIClient('127.0.0.1:9000');
    await expect(client.getValues(names as never, options as never)).rejects.toMatchObject({
      code: 'FPMKIT_INVALID_OPTION',
      option,
    });
    client.close();
  });
});
