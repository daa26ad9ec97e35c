import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { ParsedTarget } from './target.js';

/*
 * Socket plumbing of the FastCGI client: how a socket is made, who receives its events, and how
 * it is thrown away. Nothing here knows about requests.
 */

/** What a person can do about a socket error, by errno. */
export function connectHint(errno: string | undefined, target: ParsedTarget): string | undefined {
  const unix = target.type === 'unix';
  const where = unix ? target.socketPath : target.label;
  switch (errno) {
    case 'ENOENT':
      return `socket path ${where} does not exist: is php-fpm running, and does the pool's listen = name this path?`;
    case 'EACCES':
    case 'EPERM':
      return unix
        ? `permission denied on ${where}: the socket's owner and mode (listen.owner, listen.group, listen.mode) must let this user write to it, and every parent directory must be searchable`
        : `permission denied connecting to ${where}: a firewall or security policy blocks it`;
    case 'ECONNREFUSED':
      return unix
        ? `nothing is listening on ${where}: the file exists but no process accepts on it (a stale socket left by a stopped php-fpm, or not a socket)`
        : `nothing is listening on ${where}: is php-fpm running with listen = ${where}?`;
    case 'EAGAIN':
      return `the accept queue of ${where} is full: every worker is busy and listen.backlog (capped by net.core.somaxconn) connections already wait; raise pm.max_children or listen.backlog, or find what holds the workers`;
    case 'ECONNRESET':
      return `${where} reset the connection: FPM does this when it rejects a request (malformed records, listen.allowed_clients) or a worker died; see the FPM error log`;
    case 'EPIPE':
      return `${where} closed the connection while the request was being sent; see the FPM error log`;
    case 'EPROTOTYPE':
      return `${where} is not a stream socket`;
    case 'ENOTSOCK':
      return `${where} is not a socket`;
    case 'ENAMETOOLONG':
    case 'EINVAL':
      return unix
        ? `socket path ${where} is too long: UNIX socket paths hold at most 107 bytes`
        : undefined;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name of ${where} does not resolve`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${where}`;
    case 'EADDRNOTAVAIL':
      return `${where} is not a usable address, or the local ports are exhausted`;
    default:
      return undefined;
  }
}

/** Receives a socket's events: the exchange using it, or the pool holding it idle. */
export interface SocketOwner {
  onConnect(): void;
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(error: NodeJS.ErrnoException): void;
}
export const kOwner = Symbol('fpmkit.fastcgi.owner');
export type OwnedSocket = Socket & { [kOwner]?: SocketOwner | undefined };

// Module-level listeners: attached once per socket, they forward to whoever owns it now, so a
// request allocates no listener closures.
function socketConnect(this: OwnedSocket): void {
  this[kOwner]?.onConnect();
}
/**
 * The socket's `onread` callback: bytes arrive in one buffer shared by every socket, which the
 * next read overwrites, so the owner gets a copy (from Node's small-buffer pool for a status
 * page). Cheaper than stream reads, which allocate a 64 KiB buffer and emit 'data' per read.
 */
function socketRead(this: OwnedSocket, bytes: number, buf: Buffer): boolean {
  const owner = this[kOwner];
  if (owner !== undefined) {
    const chunk = Buffer.allocUnsafe(bytes);
    buf.copy(chunk, 0, 0, bytes);
    owner.onData(chunk);
  }
  return true;
}
/** Read buffer of every socket (reads are handled synchronously); made on first use. */
let readBuffer: Buffer | undefined;
const READ_BUFFER_BYTES = 64 * 1024;

/** Where and how a client's sockets connect: built once per client. */
export type ConnectOptions = ({ path: string } | { host: string; port: number }) & {
  onread: { buffer: Buffer; callback: typeof socketRead };
};

export function connectOptions(target: ParsedTarget): ConnectOptions {
  readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const onread = { buffer: readBuffer, callback: socketRead };
  return target.type === 'unix'
    ? { path: target.socketPath, onread }
    : { host: target.host, port: target.port, onread };
}
function socketEnd(this: OwnedSocket): void {
  this[kOwner]?.onEnd();
}
function socketError(this: OwnedSocket, error: NodeJS.ErrnoException): void {
  this[kOwner]?.onError(error);
}

export function newSocket(options: ConnectOptions): OwnedSocket {
  const socket = connect(options as NetConnectOpts) as OwnedSocket;
  socket.on('connect', socketConnect);
  // 'close' and not 'end': Node closes the socket after the server's EOF anyway
  // (allowHalfOpen is off), and a second 'end' listener would cost a listener array per socket.
  socket.on('close', socketEnd);
  socket.on('error', socketError);
  return socket;
}

export function dispose(socket: OwnedSocket): void {
  // The module-level listeners stay: with no owner they ignore whatever a closing socket still
  // emits (a late error included), and they hold nothing, so the socket is simply garbage.
  socket[kOwner] = undefined;
  socket.destroy();
}
