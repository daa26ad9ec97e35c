/**
 * A FastCGI responder on real UNIX sockets that records which socket each request reached and
 * the parameters the web server sent, and answers with them as JSON. It stands where FPM would,
 * so a test sees exactly what nginx or Apache read from its configuration.
 */
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import {
  decodeNameValuePairs,
  encodeRecord,
  RecordDecoder,
  RecordType,
} from '../../src/fastcgi/records.js';

/** One request as the responder saw it. */
export interface RecordedRequest {
  /** Index of the socket path (in the list given to `startFastcgiRecorder`) it arrived on. */
  socket: number;
  params: Record<string, string>;
}

export interface FastcgiRecorder {
  /** Requests in arrival order. */
  readonly requests: RecordedRequest[];
  /** Connections per socket index, including ones closed before a full request. */
  readonly connections: number[];
  stop(): Promise<void>;
}

function answer(socket: Socket, requestId: number, body: string): void {
  const stdout = Buffer.from(`Status: 200 OK\r\nContent-Type: application/json\r\n\r\n${body}`);
  const parts: Buffer[] = [];
  for (let at = 0; at < stdout.length; at += 0xfff8) {
    parts.push(encodeRecord(RecordType.STDOUT, requestId, stdout.subarray(at, at + 0xfff8)));
  }
  parts.push(encodeRecord(RecordType.STDOUT, requestId));
  parts.push(encodeRecord(RecordType.END_REQUEST, requestId, Buffer.alloc(8)));
  socket.end(Buffer.concat(parts));
}

/** Listens on every path (removing stale files first); answers each request with its params. */
export async function startFastcgiRecorder(paths: readonly string[]): Promise<FastcgiRecorder> {
  const requests: RecordedRequest[] = [];
  const connections = paths.map(() => 0);
  const servers: Server[] = [];
  const open = new Set<Socket>();
  for (const [index, path] of paths.entries()) {
    rmSync(path, { force: true });
    const server = createServer((socket) => {
      connections[index]!++;
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('error', () => {});
      const decoder = new RecordDecoder();
      let params = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk, (type, requestId, content) => {
          if (type === RecordType.PARAMS && content.length > 0) {
            params = Buffer.concat([params, content]);
          } else if (type === RecordType.STDIN && content.length === 0) {
            const request = {
              socket: index,
              params: Object.fromEntries(decodeNameValuePairs(params)),
            };
            requests.push(request);
            answer(socket, requestId, JSON.stringify(request));
            return true;
          }
          return undefined;
        });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    // Apache's children run as another user when the tests run as root.
    chmodSync(path, 0o777);
    servers.push(server);
  }
  return {
    requests,
    connections,
    async stop() {
      for (const socket of open) socket.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
