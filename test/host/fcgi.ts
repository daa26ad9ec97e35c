import { connect, type Socket } from 'node:net';

/** One FastCGI record: version 1, type, request id 1, content, no padding. */
function record(type: number, content: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = 1;
  header[1] = type;
  header.writeUInt16BE(1, 2);
  header.writeUInt16BE(content.length, 4);
  return Buffer.concat([header, content]);
}

function pair(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  if (n.length > 127 || v.length > 127) throw new Error('test helper supports short params only');
  return Buffer.concat([Buffer.from([n.length, v.length]), n, v]);
}

/** A complete responder request (BEGIN_REQUEST, PARAMS, empty PARAMS, empty STDIN). */
export function fastcgiRequest(params: Record<string, string>): Buffer {
  const begin = Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]);
  const body = Buffer.concat(Object.entries(params).map(([k, v]) => pair(k, v)));
  return Buffer.concat([
    record(1, begin),
    record(4, body),
    record(4, Buffer.alloc(0)),
    record(5, Buffer.alloc(0)),
  ]);
}

export interface Client {
  socket?: Socket;
  /** Connect failures seen (EAGAIN when a UNIX accept queue is full). */
  errors: string[];
  stop(): void;
}

/**
 * A blocking-style client: connects, sends the request and holds the connection until
 * stopped. A UNIX connect refused with EAGAIN (full queue) is retried every `retryMs`, the way
 * a blocking connect() would wait for a slot.
 */
export function startClient(
  target: { path: string } | { host: string; port: number },
  request: Buffer,
  retryMs = 25,
): Client {
  const client: Client = { errors: [], stop: () => {} };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const attempt = () => {
    if (stopped) return;
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    client.socket = socket;
    socket.on('connect', () => socket.write(request));
    socket.on('data', () => {});
    socket.on('error', (e: NodeJS.ErrnoException) => {
      client.errors.push(e.code ?? e.message);
      socket.destroy();
      if (e.code === 'EAGAIN' && !stopped) timer = setTimeout(attempt, retryMs);
    });
  };
  client.stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    client.socket?.destroy();
  };
  attempt();
  return client;
}
