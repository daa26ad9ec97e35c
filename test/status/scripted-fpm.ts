import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeNameValuePairs,
  encodeRecord,
  RecordDecoder,
  RecordType,
} from '../../src/fastcgi/index.js';

/** One scripted answer: CGI headers + body on STDOUT, and optional STDERR text. */
export interface ScriptedAnswer {
  stdout: string;
  stderr?: string;
}

export interface ScriptedFpm {
  target: string;
  /** The params of every request received, in order. */
  requests: Record<string, string>[];
  close(): Promise<void>;
}

/**
 * A stand-in for FPM on a UNIX socket in a fresh temporary directory: answers each request with
 * the next answer from `answer(n)` (n counts from 0), framed as FPM frames it (STDOUT, optional
 * STDERR, END_REQUEST, then close).
 */
export async function startScriptedFpm(
  answer: (n: number, params: Record<string, string>) => ScriptedAnswer,
): Promise<ScriptedFpm> {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-scripted-'));
  const socketPath = join(dir, 'fpm.sock');
  const requests: Record<string, string>[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const params: Record<string, string> = {};
    let paramBytes: Buffer[] = [];
    const decoder = new RecordDecoder();
    const onRecord = (type: number, _id: number, content: Buffer): undefined => {
      if (type === RecordType.PARAMS) {
        if (content.length > 0) paramBytes.push(Buffer.from(content));
        else {
          for (const [k, v] of decodeNameValuePairs(Buffer.concat(paramBytes))) params[k] = v;
          paramBytes = [];
        }
      } else if (type === RecordType.STDIN && content.length === 0) {
        const n = requests.length;
        requests.push(params);
        const { stdout, stderr } = answer(n, params);
        const end = Buffer.alloc(8);
        const out = [encodeRecord(RecordType.STDOUT, 1, Buffer.from(stdout))];
        if (stderr) out.push(encodeRecord(RecordType.STDERR, 1, Buffer.from(stderr)));
        out.push(encodeRecord(RecordType.END_REQUEST, 1, end));
        socket.end(Buffer.concat(out));
      }
      return undefined;
    };
    socket.on('data', (chunk: Buffer) => decoder.push(chunk, onRecord));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    target: `unix:${socketPath}`,
    requests,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A CGI answer as FPM writes it for a JSON status page. */
export function jsonAnswer(body: string): ScriptedAnswer {
  return {
    stdout: `Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Type: application/json\r\n\r\n${body}`,
  };
}

export const INTERNAL_ERROR: ScriptedAnswer = {
  stdout:
    'Status: 500 Internal Server Error\r\nContent-type: text/plain;charset=UTF-8\r\n\r\nInternal error. Please review log file for errors.',
};
