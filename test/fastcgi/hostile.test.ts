import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  encodeRecord,
  FastCGIClient,
  type FastCGIClientOptions,
  RecordType,
} from '../../src/fastcgi/index.js';

/**
 * Scripted FastCGI peers that misbehave on purpose. Each is a real net.Server on a real UNIX
 * socket or TCP port; the client must end every exchange in its typed error within its bound.
 */

const END_OK = encodeRecord(RecordType.END_REQUEST, 1, Buffer.alloc(8));
const endWith = (protocolStatus: number) => {
  const body = Buffer.alloc(8);
  body[4] = protocolStatus;
  return encodeRecord(RecordType.END_REQUEST, 1, body);
};
const stdout = (text: string | Buffer, id = 1) =>
  encodeRecord(RecordType.STDOUT, id, typeof text === 'string' ? Buffer.from(text) : text);
const GOOD = Buffer.concat([stdout('Content-type: text/plain\r\n\r\nok'), END_OK]);
const EMPTY_STDIN = Buffer.from('0105000100000000', 'hex');

interface Scenario {
  /** Runs once the whole request has arrived . */
  serve(socket: Socket): void;
}

const timers = new Set<NodeJS.Timeout>();
function later(ms: number, fn: () => void): void {
  const t = setTimeout(() => {
    timers.delete(t);
    fn();
  }, ms);
  timers.add(t);
}

const scenarios = {
  silent: { serve() {} },
  halfHeaderThenClose: {
    serve(s) {
      s.end(stdout('Content-type: x\r\n\r\n').subarray(0, 4));
    },
  },
  flood: {
    serve(s) {
      const chunk = stdout(Buffer.alloc(60_000, 0x61));
      const pump = () => {
        while (!s.destroyed && s.write(chunk)) {}
        if (!s.destroyed) s.once('drain', pump);
      };
      s.write(stdout('Content-type: text/plain\r\n\r\n'));
      pump();
    },
  },
  wrongVersion: {
    serve(s) {
      const bad = stdout('Content-type: x\r\n\r\n');
      bad[0] = 2;
      s.end(bad);
    },
  },
  cantMpxConn: { serve: (s) => s.end(Buffer.concat([stdout('A: b\r\n\r\n'), endWith(1)])) },
  overloaded: { serve: (s) => s.end(endWith(2)) },
  unknownRole: { serve: (s) => s.end(endWith(3)) },
  unknownProtocolStatus: { serve: (s) => s.end(endWith(200)) },
  otherRequestId: {
    serve: (s) => s.end(Buffer.concat([stdout('A: b\r\n\r\nx', 2), END_OK])),
  },
  paddingTooLong: {
    serve(s) {
      // Claims 255 padding bytes and sends none: END_REQUEST is swallowed as padding.
      const rec = stdout('Content-type: x\r\n\r\nbody');
      rec[6] = 255;
      s.end(Buffer.concat([rec.subarray(0, 8 + 22), END_OK]));
    },
  },
  paddingTooShort: {
    serve(s) {
      // Claims no padding but sends 5 bytes of it: the next header starts misaligned.
      const rec = stdout('Content-type: x\r\n\r\nok!');
      rec[6] = 0;
      s.end(Buffer.concat([rec, END_OK]));
    },
  },
  stderrOnly: {
    serve: (s) =>
      s.end(
        Buffer.concat([
          encodeRecord(RecordType.STDERR, 1, Buffer.from('Primary script unknown')),
          END_OK,
        ]),
      ),
  },
  resetMidRecord: {
    serve(s) {
      const half = stdout('Content-type: text/plain\r\n\r\nhello').subarray(0, 20);
      // TCP: a RST once the client has read the partial record. UNIX sockets have no RST;
      // libuv reports the kernel's ECONNRESET on a pipe as end of stream, so a close it is.
      if (s.remoteAddress) s.write(half, () => later(50, () => s.resetAndDestroy()));
      else s.end(half);
    },
  },
  dribble: {
    serve(s) {
      const bytes = Buffer.concat([stdout('Content-type: text/plain\r\n\r\n'.padEnd(200)), END_OK]);
      let at = 0;
      const tick = () => {
        if (s.destroyed || at >= bytes.length) return;
        s.write(bytes.subarray(at, ++at));
        later(100, tick);
      };
      tick();
    },
  },
  splitHeader: {
    serve(s) {
      s.write(GOOD.subarray(0, 3));
      later(30, () => s.end(GOOD.subarray(3)));
    },
  },
  endRequestTooShort: {
    serve: (s) =>
      s.end(Buffer.concat([stdout('A: b\r\n\r\n'), encodeRecord(3, 1, Buffer.alloc(4))])),
  },
  unexpectedType: {
    serve: (s) => s.end(encodeRecord(RecordType.BEGIN_REQUEST, 1, Buffer.alloc(8))),
  },
  badCgiHeaders: {
    serve: (s) => s.end(Buffer.concat([stdout('this is not a header\r\n\r\n'), END_OK])),
  },
  closeAtOnce: { serve: (s) => s.end() },
} satisfies Record<string, Scenario>;
type Kind = keyof typeof scenarios;

interface Peer {
  server: Server;
  target: string;
  sockets: Set<Socket>;
}

function listen(kind: Kind, transport: 'unix' | 'tcp', dir: string): Promise<Peer> {
  const scenario: Scenario = scenarios[kind];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      if (seen.length >= 8 && seen.subarray(-8).equals(EMPTY_STDIN)) {
        socket.removeListener('data', onData);
        scenario.serve(socket);
      }
    };
    socket.on('data', onData);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      const address = server.address();
      const target =
        transport === 'unix'
          ? `unix:${address as string}`
          : `127.0.0.1:${(address as { port: number }).port}`;
      resolve({ server, target, sockets });
    };
    if (transport === 'unix') server.listen(join(dir, `${kind}.sock`), done);
    else server.listen(0, '127.0.0.1', done);
  });
}

const PARAMS = { SCRIPT_FILENAME: '/status', SCRIPT_NAME: '/status', REQUEST_METHOD: 'GET' };
const OPTIONS: FastCGIClientOptions = {
  connectTimeoutMs: 2_000,
  readTimeoutMs: 300,
  totalTimeoutMs: 3_000,
  maxResponseBytes: 256 * 1024,
};

/** What each scenario must end in: the error code and a property check. */
type Expectation = { code: string; check?: (e: Record<string, unknown>) => void };
const expectations: Record<Kind | 'halfHeaderThenClose20', Expectation> = {
  halfHeaderThenClose20: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/before END_REQUEST \(20 bytes read\)/),
  },
  silent: { code: 'FPMKIT_READ_TIMEOUT', check: (e) => expect(e.phase).toBe('read') },
  halfHeaderThenClose: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/before END_REQUEST \(4 bytes read\)/),
  },
  flood: {
    code: 'FPMKIT_RESPONSE_TOO_LARGE',
    check: (e) => expect(e.limitBytes).toBe(256 * 1024),
  },
  wrongVersion: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/version 2/),
  },
  cantMpxConn: {
    code: 'FPMKIT_FASTCGI_REJECTED',
    check: (e) => expect(e.reason).toBe('cant-mpx-conn'),
  },
  overloaded: {
    code: 'FPMKIT_FASTCGI_REJECTED',
    check: (e) => expect(e.reason).toBe('overloaded'),
  },
  unknownRole: {
    code: 'FPMKIT_FASTCGI_REJECTED',
    check: (e) => expect(e.reason).toBe('unknown-role'),
  },
  unknownProtocolStatus: {
    code: 'FPMKIT_FASTCGI_REJECTED',
    check: (e) => expect([e.reason, e.protocolStatus]).toEqual(['unknown', 200]),
  },
  otherRequestId: { code: 'FPMKIT_PROTOCOL', check: (e) => expect(e.requestId).toBe(2) },
  paddingTooLong: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/before END_REQUEST/),
  },
  paddingTooShort: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/version 0/),
  },
  stderrOnly: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/STDOUT was empty.*Primary script unknown/),
  },
  resetMidRecord: {
    code: 'FPMKIT_SOCKET',
    check: (e) => {
      expect([e.errno, e.phase]).toEqual(['ECONNRESET', 'read']);
      expect(String(e.message)).toMatch(/\(20 bytes read\)/);
      expect(String(e.hint)).toMatch(/reset the connection/);
    },
  },
  dribble: { code: 'FPMKIT_TOTAL_TIMEOUT', check: (e) => expect(e.bytesRead).toBeGreaterThan(0) },
  splitHeader: { code: 'none' },
  endRequestTooShort: { code: 'FPMKIT_PROTOCOL', check: (e) => expect(e.recordType).toBe(3) },
  unexpectedType: { code: 'FPMKIT_PROTOCOL', check: (e) => expect(e.recordType).toBe(1) },
  badCgiHeaders: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/malformed CGI header/),
  },
  closeAtOnce: {
    code: 'FPMKIT_PROTOCOL',
    check: (e) => expect(String(e.message)).toMatch(/without answering/),
  },
};

let dir: string;
const peers = new Map<string, Peer>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-hostile-'));
  for (const transport of ['unix', 'tcp'] as const) {
    for (const kind of Object.keys(scenarios) as Kind[]) {
      peers.set(`${transport}:${kind}`, await listen(kind, transport, dir));
    }
  }
});

afterAll(async () => {
  for (const t of timers) clearTimeout(t);
  for (const peer of peers.values()) {
    for (const s of peer.sockets) s.destroy();
    await new Promise((r) => peer.server.close(r));
  }
  await rm(dir, { recursive: true, force: true });
});

async function outcome(kind: Kind, transport: 'unix' | 'tcp', options = OPTIONS) {
  const client = new FastCGIClient(peers.get(`${transport}:${kind}`)!.target, options);
  try {
    const response = await client.request({ params: PARAMS });
    return { response, error: undefined };
  } catch (error) {
    return { response: undefined, error: error as Error & Record<string, unknown> };
  } finally {
    client.close();
  }
}

describe.each(['unix', 'tcp'] as const)('hostile peers over %s', (transport) => {
  it.each(Object.keys(scenarios) as Kind[])('%s', async (kind) => {
    // The dribbler sends a byte every 100 ms: a generous idle bound keeps a busy machine from
    // turning its total timeout into an idle one.
    const options =
      kind === 'dribble' ? { ...OPTIONS, readTimeoutMs: 1_000, totalTimeoutMs: 1_500 } : OPTIONS;
    const { response, error } = await outcome(kind, transport, options);
    const want =
      kind === 'resetMidRecord' && transport === 'unix'
        ? expectations.halfHeaderThenClose20
        : expectations[kind];
    if (want.code === 'none') {
      expect(error).toBeUndefined();
      expect(response!.body.toString()).toBe('ok');
      return;
    }
    expect(isFpmkitError(error)).toBe(true);
    expect(error!.code, String(error)).toBe(want.code);
    expect(error!.target).toBe(
      peers.get(`${transport}:${kind}`)!.target.replace(/^unix:/, 'unix:'),
    );
    want.check?.(error!);
  });
});

function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

async function settle(before: Record<string, number>): Promise<Record<string, number>> {
  // Sockets close asynchronously; poll (bounded) until the counts come back.
  let now = handleCounts();
  for (let i = 0; i < 150 && JSON.stringify(now) !== JSON.stringify(before); i++) {
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    now = handleCounts();
  }
  return now;
}

describe('resource hygiene', () => {
  it('leaves as many open handles as before after 1,000 failing requests of mixed kinds', async () => {
    const kinds: Kind[] = [
      'silent',
      'halfHeaderThenClose',
      'flood',
      'wrongVersion',
      'overloaded',
      'otherRequestId',
      'paddingTooShort',
      'stderrOnly',
      'resetMidRecord',
      'endRequestTooShort',
      'closeAtOnce',
    ];
    const clients = new Map<string, FastCGIClient>();
    for (const [key, peer] of peers) {
      clients.set(
        key,
        new FastCGIClient(peer.target, {
          ...OPTIONS,
          readTimeoutMs: 50,
          maxResponseBytes: 100_000,
        }),
      );
    }
    // Earlier tests' peers may still be closing sockets: wait until nothing but listeners is left.
    const baseline = handleCounts();
    delete baseline.TCPSocketWrap;
    delete baseline.Timeout;
    const before = await settle(baseline);
    const codes = new Map<string, number>();
    let failures = 0;
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const n = batch * 50 + i;
          const key = `${n % 2 ? 'tcp' : 'unix'}:${kinds[n % kinds.length]}`;
          const abort = n % 7 === 0 ? AbortSignal.timeout(5) : undefined;
          try {
            await clients.get(key)!.request({ params: PARAMS, signal: abort });
          } catch (error) {
            expect(isFpmkitError(error)).toBe(true);
            const code = (error as { code: string }).code;
            codes.set(code, (codes.get(code) ?? 0) + 1);
            failures++;
          }
        }),
      );
    }
    expect(failures).toBe(1000);
    for (const code of [
      'FPMKIT_READ_TIMEOUT',
      'FPMKIT_PROTOCOL',
      'FPMKIT_SOCKET',
      'FPMKIT_RESPONSE_TOO_LARGE',
      'FPMKIT_FASTCGI_REJECTED',
      'FPMKIT_ABORTED',
    ]) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    for (const client of clients.values())
      expect(client.pending).toEqual({ active: 0, queued: 0, idleConnections: 0 });
    const after = await settle(before);
    expect(after).toEqual(before);
    console.log(
      `1,000 failing requests: ${JSON.stringify(Object.fromEntries(codes))}; handles before ${JSON.stringify(before)} after ${JSON.stringify(after)}`,
    );
  });
});
