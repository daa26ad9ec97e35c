import { createServer, type Server, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  decodeNameValuePairs,
  decodeRecords,
  encodeRecord,
  FastCGIClient,
  RecordType,
} from '../../src/fastcgi/index.js';

/**
 * When may a request that failed on a kept connection be sent again on a new one? A worker that
 * dies mid-request without writing anything looks, to the client, like a connection the server
 * closed while it sat idle; only the second is safe to retry for a request that charges a card.
 */

/** The empty STDIN record that ends every request the client sends. */
const END_OF_REQUEST = Buffer.from('0105000100000000', 'hex');

function reply(body: string): Buffer {
  return Buffer.concat([
    encodeRecord(RecordType.STDOUT, 1, Buffer.from(`Content-type: text/plain\r\n\r\n${body}`)),
    encodeRecord(RecordType.END_REQUEST, 1, Buffer.alloc(8)),
  ]);
}

interface Scripted {
  target: string;
  /** `conn<n>:<ID param>` for every request received. */
  seen: string[];
}

const open: Array<{ server: Server; sockets: Set<Socket> }> = [];
afterEach(async () => {
  for (const { server, sockets } of open.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((r) => server.close(r));
  }
});

/** A server whose second request on its first connection kills the "worker" as `death` says. */
async function dyingWorker(death: 'close' | 'reset' | 'partial-then-close'): Promise<Scripted> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    const connection = ++connections;
    let onThisConnection = 0;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(END_OF_REQUEST);
      if (end < 0) return;
      const records = decodeRecords(buffered.subarray(0, end + 8));
      buffered = buffered.subarray(end + 8);
      const params = Object.fromEntries(
        records
          .filter((r) => r.type === RecordType.PARAMS)
          .flatMap((r) => decodeNameValuePairs(r.content)),
      );
      seen.push(`conn${connection}:${params.ID}`);
      onThisConnection++;
      if (connection === 1 && onThisConnection === 2) {
        if (death === 'close') socket.destroy();
        else if (death === 'reset') socket.resetAndDestroy();
        else {
          socket.write(encodeRecord(RecordType.STDOUT, 1, Buffer.from('Status: 200\r\n')));
          socket.end();
        }
        return;
      }
      socket.write(reply(`ok ${params.ID}`));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ server, sockets });
  return { target: `127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

interface Case {
  name: string;
  method?: string;
  stdin?: string;
  death: 'close' | 'reset' | 'partial-then-close';
  /** Resent on a second connection (and answered), or rejected with this code. */
  expected: 'resent' | string;
}

const cases: Case[] = [
  {
    name: 'POST with a body, worker closes',
    method: 'POST',
    stdin: 'amount=5',
    death: 'close',
    expected: 'FPMKIT_PROTOCOL',
  },
  {
    name: 'POST with a body, worker resets',
    method: 'POST',
    stdin: 'amount=5',
    death: 'reset',
    expected: 'FPMKIT_SOCKET',
  },
  { name: 'no REQUEST_METHOD, worker closes', death: 'close', expected: 'FPMKIT_PROTOCOL' },
  {
    name: 'PUT without a body, worker closes',
    method: 'PUT',
    death: 'close',
    expected: 'FPMKIT_PROTOCOL',
  },
  {
    name: 'GET with a body, worker closes',
    method: 'GET',
    stdin: 'x',
    death: 'close',
    expected: 'FPMKIT_PROTOCOL',
  },
  {
    name: 'lower-case get (not an HTTP method), worker closes',
    method: 'get',
    death: 'close',
    expected: 'FPMKIT_PROTOCOL',
  },
  {
    name: 'GET, worker wrote part of an answer',
    method: 'GET',
    death: 'partial-then-close',
    expected: 'FPMKIT_PROTOCOL',
  },
  { name: 'GET, worker closes', method: 'GET', death: 'close', expected: 'resent' },
  {
    name: 'GET with an empty body, worker resets',
    method: 'GET',
    stdin: '',
    death: 'reset',
    expected: 'resent',
  },
  { name: 'HEAD, worker closes', method: 'HEAD', death: 'close', expected: 'resent' },
];

describe('FastCGIClient keep-alive: a request is resent only when that is safe', () => {
  it.each(cases)('$name → $expected', async ({ method, stdin, death, expected }) => {
    const s = await dyingWorker(death);
    const client = new FastCGIClient(s.target, { keepAlive: true });
    try {
      const call = (id: string) =>
        client.request({
          params: {
            SCRIPT_FILENAME: '/charge.php',
            ID: id,
            ...(method ? { REQUEST_METHOD: method } : {}),
          },
          ...(stdin === undefined ? {} : { stdin }),
        });
      expect((await call('charge-card-1')).body.toString()).toBe('ok charge-card-1');
      const second = call('charge-card-2');
      if (expected === 'resent') {
        expect((await second).body.toString()).toBe('ok charge-card-2');
        expect(s.seen).toEqual([
          'conn1:charge-card-1',
          'conn1:charge-card-2',
          'conn2:charge-card-2',
        ]);
      } else {
        const error = await second.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isFpmkitError(error)).toBe(true);
        expect(error).toMatchObject({ code: expected });
        expect(s.seen).toEqual(['conn1:charge-card-1', 'conn1:charge-card-2']);
        if (death !== 'partial-then-close') {
          expect((error as Error).message).toMatch(/not resent on a new connection/);
        }
      }
      // The client is still usable: the next call opens a fresh connection.
      expect((await call('charge-card-3')).body.toString()).toBe('ok charge-card-3');
    } finally {
      client.close();
    }
  });

  it('a connection closed while idle is never written to, so any request goes to a new one', async () => {
    const s = await dyingWorker('close');
    const client = new FastCGIClient(s.target, { keepAlive: true });
    try {
      const post = (id: string) =>
        client.request({ params: { REQUEST_METHOD: 'POST', ID: id }, stdin: 'amount=5' });
      await post('a');
      // The server drops the idle connection; its close arrives before the next call.
      for (const { sockets } of open) for (const socket of sockets) socket.end();
      while (client.pending.idleConnections > 0) await new Promise((r) => setTimeout(r, 5));
      expect((await post('b')).body.toString()).toBe('ok b');
      expect(s.seen).toEqual(['conn1:a', 'conn2:b']);
    } finally {
      client.close();
    }
  });
});

/**
 * The server runs in a worker thread so that it can reset the kept connection while this thread
 * is blocked: the reset then sits in the kernel, unseen by the client, when the next request is
 * written, which is the race a stale idle socket is about.
 */
const SERVER_THREAD = `
const { workerData: flag, parentPort } = require('node:worker_threads');
const { createServer } = require('node:net');
const END = Buffer.from('0105000100000000', 'hex');
const body = Buffer.from('Content-type: text/plain\\r\\n\\r\\nok');
const stdout = Buffer.alloc(8 + body.length);
stdout.writeUInt8(1, 0); stdout.writeUInt8(6, 1); stdout.writeUInt16BE(1, 2);
stdout.writeUInt16BE(body.length, 4); body.copy(stdout, 8);
const end = Buffer.from('0103000100080000' + '0000000000000000', 'hex');
const seen = [];
const sockets = [];
let connections = 0;
const server = createServer((socket) => {
  const connection = ++connections;
  sockets.push(socket);
  socket.on('error', () => {});
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    let at;
    while ((at = buffered.indexOf(END)) >= 0) {
      buffered = buffered.subarray(at + 8);
      seen.push('conn' + connection);
      socket.write(Buffer.concat([stdout, end]));
    }
  });
});
parentPort.on('message', (m) => {
  if (m === 'seen') parentPort.postMessage(seen);
  if (m === 'reset') {
    const socket = sockets[0];
    socket.on('close', () => { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); });
    socket.resetAndDestroy();
  }
  if (m === 'stop') { for (const s of sockets) s.destroy(); server.close(); parentPort.close(); }
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
`;

describe('FastCGIClient keep-alive: a stale socket the kernel refuses', () => {
  it('resends even a POST when the server had reset the kept connection before the write', async () => {
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(SERVER_THREAD, { eval: true, workerData: flag });
    const ask = <T>(message: string) =>
      new Promise<T>((resolve) => {
        worker.once('message', resolve);
        worker.postMessage(message);
      });
    const port = await new Promise<number>((resolve) => worker.once('message', resolve));
    const client = new FastCGIClient(`127.0.0.1:${port}`, { keepAlive: true });
    try {
      const post = () => client.request({ params: { REQUEST_METHOD: 'POST' }, stdin: 'amount=5' });
      expect((await post()).body.toString()).toBe('ok');
      expect(client.pending.idleConnections).toBe(1);
      worker.postMessage('reset');
      // Block this thread until the server thread has reset the connection (bounded wait).
      expect(Atomics.wait(flag, 0, 0, 10_000)).not.toBe('timed-out');
      // Still idle: this thread has not yet seen the reset.
      expect(client.pending.idleConnections).toBe(1);
      expect((await post()).body.toString()).toBe('ok');
      expect(await ask<string[]>('seen')).toEqual(['conn1', 'conn2']);
    } finally {
      client.close();
      worker.postMessage('stop');
      await worker.terminate();
    }
  });
});
