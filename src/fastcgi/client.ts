import { connect, type NetConnectOpts, type Socket } from 'node:net';
// Imported rather than the global, which Node 20 serves through a lazy getter on every access.
import { performance } from 'node:perf_hooks';
import {
  FastCGIConnectError,
  type FastCGIPhase,
  FastCGIProtocolError,
  FastCGIResponseTooLargeError,
  FastCGITimeoutError,
  FpmkitAbortError,
  type FpmkitError,
  FpmkitInvalidOptionError,
} from '../errors.js';
import { type CgiMemo, memoBodyStart, parseCgi } from './cgi.js';
import { FastCGIHttpPeerError, FastCGIRequestRejectedError } from './errors.js';
import {
  decodeNameValuePairs,
  encodeNameValuePairs,
  encodeRecord,
  encodeRequest,
  FCGI_MAX_CONTENT_LENGTH,
  FCGI_NULL_REQUEST_ID,
  ProtocolStatus,
  RecordDecoder,
  RecordType,
  recordTypeName,
} from './records.js';
import { type FastCGITarget, type ParsedTarget, parseTarget } from './target.js';

/** Options of {@link FastCGIClient}. Every duration is in milliseconds. */
export interface FastCGIClientOptions {
  /** Longest wait for the connection to be established. @default 5000 */
  connectTimeoutMs?: number;
  /**
   * Longest silence while waiting for response bytes (an idle timer, restarted by every chunk).
   * @default 30000
   */
  readTimeoutMs?: number;
  /**
   * Bound on a whole call, from `request()` to the parsed response, including time spent
   * waiting for a free slot under `maxConcurrency`. `request({ timeoutMs })` overrides it.
   * @default 60000
   */
  totalTimeoutMs?: number;
  /** Most STDOUT + STDERR bytes buffered for one response; more fails the call. @default 8 MiB */
  maxResponseBytes?: number;
  /**
   * Reuse connections (FCGI_KEEP_CONN). Off by default because on PHP-FPM every kept
   * connection pins one worker in state "Reading headers" between requests, counted as active
   * and killed by `request_terminate_timeout`. A request that fails on a kept connection is
   * sent again on a new one only when that cannot run it twice: the connection was dead before
   * the request was written, or the request is GET/HEAD without a body and nothing was read.
   * @default false
   */
  keepAlive?: boolean;
  /** Most requests in flight at once on this client; more wait in FIFO order. @default 16 */
  maxConcurrency?: number;
  /**
   * Bound on a whole `getValues()` call, replacing `totalTimeoutMs` there; its own
   * `timeoutMs` overrides it. Short because some servers never answer FCGI_GET_VALUES (see
   * {@link GET_VALUES_TIMEOUT_MS}).
   * @default 2000
   */
  getValuesTimeoutMs?: number;
}

/**
 * Default bound on `getValues()`, in milliseconds. PHP-FPM answers FCGI_GET_VALUES at once (a
 * few milliseconds on loopback), but some FastCGI servers leave it unanswered and keep the
 * connection open (fcgiwrap 1.1, through libfcgi, answers a query naming FCGI_MPXS_CONNS or
 * FCGI_MAX_REQS alone but never one naming FCGI_MAX_CONNS or several names), which would otherwise hold the caller for the whole read timeout. Two
 * seconds leaves room for a loaded host without that wait.
 */
export const GET_VALUES_TIMEOUT_MS = 2_000;

/** One request. */
export interface FastCGIRequestOptions {
  /** CGI params, e.g. `SCRIPT_FILENAME`, `SCRIPT_NAME`, `REQUEST_METHOD`, `QUERY_STRING`. */
  params: Readonly<Record<string, string>>;
  /** Request body. `CONTENT_LENGTH` is added to the params when they lack it. */
  stdin?: string | Uint8Array | undefined;
  /** Aborts the call with `FpmkitAbortError`. */
  signal?: AbortSignal | undefined;
  /** Total bound for this call, replacing `totalTimeoutMs`. */
  timeoutMs?: number | undefined;
}

/** Options of {@link FastCGIClient.getValues}. */
export interface GetValuesOptions {
  /** Aborts the call with `FpmkitAbortError`. */
  signal?: AbortSignal | undefined;
  /**
   * Bound on this call in milliseconds, replacing the client's `getValuesTimeoutMs`.
   * @default 2000 (the client's `getValuesTimeoutMs`)
   */
  timeoutMs?: number | undefined;
}

/** A complete response. */
export interface FastCGIResponse {
  /** HTTP status from the `Status:` header; 200 when there is none (FPM omits it for 200). */
  status: number;
  /** Header names in lower case (`content-type`); `Status` itself is not repeated here. */
  headers: Record<string, string>;
  body: Buffer;
  /** Everything the application wrote to FCGI_STDERR, as UTF-8, kept apart from the body. */
  stderr: string;
  /** END_REQUEST `appStatus` (PHP-FPM always sends 0). */
  appStatus: number;
  /** END_REQUEST `protocolStatus`; always 0 (REQUEST_COMPLETE) here, other values throw. */
  protocolStatus: number;
}

/** Defaults, applied once in the constructor. */
export const FASTCGI_CLIENT_DEFAULTS = {
  connectTimeoutMs: 5_000,
  readTimeoutMs: 30_000,
  totalTimeoutMs: 60_000,
  maxResponseBytes: 8 * 1024 * 1024,
  keepAlive: false,
  maxConcurrency: 16,
  getValuesTimeoutMs: GET_VALUES_TIMEOUT_MS,
} as const satisfies Required<FastCGIClientOptions>;

/** setTimeout's ceiling; larger delays fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Request id used for every request: FPM serves one request per connection at a time. */
const REQUEST_ID = 1;

function checkMs(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new FpmkitInvalidOptionError(
      name,
      `must be a number of milliseconds in (0, ${MAX_TIMER_MS}]`,
    );
  }
  return value;
}

/** @internal Checks `signal`: anything with `aborted` and `addEventListener`, or undefined. */
export function checkSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  const signal = value as Partial<AbortSignal> | null;
  if (
    typeof signal !== 'object' ||
    signal === null ||
    typeof signal.aborted !== 'boolean' ||
    typeof signal.addEventListener !== 'function'
  ) {
    throw new FpmkitInvalidOptionError('signal', 'must be an AbortSignal');
  }
  return value as AbortSignal;
}

/** Checks a request's `params` and `stdin` under those names, before anything encodes them. */
function checkRequestBody(options: FastCGIRequestOptions): void {
  const { params, stdin } = options as { params: unknown; stdin: unknown };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new FpmkitInvalidOptionError('params', 'must be an object of string names and values');
  }
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) {
    throw new FpmkitInvalidOptionError('stdin', 'must be a string or a Uint8Array');
  }
}

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

function noop(): void {}

type Mode = 'request' | 'values';
type Settle = (value: FastCGIResponse | Record<string, string>) => void;

/** Receives a socket's events: the exchange using it, or the pool holding it idle. */
interface SocketOwner {
  onConnect(): void;
  onData(chunk: Buffer): void;
  onEnd(): void;
  onError(error: NodeJS.ErrnoException): void;
}
const kOwner = Symbol('fpmkit.fastcgi.owner');
type OwnedSocket = Socket & { [kOwner]?: SocketOwner | undefined };

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
type ConnectOptions = ({ path: string } | { host: string; port: number }) & {
  onread: { buffer: Buffer; callback: typeof socketRead };
};

function connectOptions(target: ParsedTarget): ConnectOptions {
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

function exchangeRecord(
  this: Exchange,
  type: number,
  requestId: number,
  buf: Buffer,
  start: number,
  end: number,
): boolean {
  return this.record(type, requestId, buf, start, end);
}

function newSocket(options: ConnectOptions): OwnedSocket {
  const socket = connect(options as NetConnectOpts) as OwnedSocket;
  socket.on('connect', socketConnect);
  // 'close' and not 'end': Node closes the socket after the server's EOF anyway
  // (allowHalfOpen is off), and a second 'end' listener would cost a listener array per socket.
  socket.on('close', socketEnd);
  socket.on('error', socketError);
  return socket;
}

function dispose(socket: OwnedSocket): void {
  // The module-level listeners stay: with no owner they ignore whatever a closing socket still
  // emits (a late error included), and they hold nothing, so the socket is simply garbage.
  socket[kOwner] = undefined;
  socket.destroy();
}

/** The client internals an exchange needs. */
interface ClientCore {
  readonly target: ParsedTarget;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxResponseBytes: number;
  /** The last response's parsed CGI headers, reused when the next header block is the same. */
  readonly cgiMemo: CgiMemo;
  readonly connectOptions: ConnectOptions;
  takeIdle(): OwnedSocket | undefined;
  park(socket: OwnedSocket): void;
  release(exchange: Exchange): void;
  /** Makes sure the deadline timer fires no later than `deadline` (performance.now() ms). */
  watch(deadline: number): void;
}

/**
 * One request/response on one connection. It keeps its deadlines as numbers (total from the
 * call, connect from the dial, idle from the last chunk); the client's single deadline timer
 * checks them, so a request creates no timer and a chunk costs one clock read.
 */
class Exchange implements SocketOwner {
  readonly #core: ClientCore;
  readonly #bytes: Buffer;
  readonly #mode: Mode;
  readonly #keepAlive: boolean;
  /** GET or HEAD without a body: running it twice does no harm, so it may be resent. */
  readonly #idempotent: boolean;
  readonly #totalMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: Settle;
  readonly #reject: (error: FpmkitError) => void;
  readonly #startedAt: number;
  #socket: OwnedSocket | undefined;
  #reused = false;
  #connected = false;
  /** True once settled: nothing may happen after. */
  finished = false;
  /** True while the exchange holds one of the client's concurrency slots. */
  holdsSlot = false;
  /** Neighbours in the client's {@link InFlight} list, and whether it is in that list. */
  prevInFlight: Exchange | undefined;
  nextInFlight: Exchange | undefined;
  inFlight = false;
  #lastActivity = 0;
  #bytesRead = 0;
  #stdoutBytes = 0;
  #stderrBytes = 0;
  /**
   * STDOUT contents: the first record as a range of the buffer it arrived in (the usual case,
   * made a view only once the socket is closed), every record as views in `#stdoutMore` once
   * there are several.
   */
  #stdoutBuf: Buffer | undefined;
  #stdoutStart = 0;
  #stdoutEnd = 0;
  #stdoutMore: Buffer[] | undefined;
  #stderr: Buffer[] | undefined;
  #decoder = new RecordDecoder();
  #ended = false;
  #appStatus = 0;
  #protocolStatus = 0;

  constructor(
    core: ClientCore,
    bytes: Buffer,
    mode: Mode,
    keepAlive: boolean,
    idempotent: boolean,
    totalMs: number,
    signal: AbortSignal | undefined,
    resolve: Settle,
    reject: (error: FpmkitError) => void,
  ) {
    this.#core = core;
    this.#bytes = bytes;
    this.#mode = mode;
    this.#keepAlive = keepAlive;
    this.#idempotent = idempotent;
    this.#totalMs = totalMs;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#startedAt = performance.now();
    signal?.addEventListener('abort', this, { once: true });
  }

  get #label(): string {
    return this.#core.target.label;
  }

  /** Starts sending; called once a concurrency slot is held. */
  start(immediate: boolean): void {
    this.holdsSlot = true;
    // Started by request() itself: the clock read in the constructor is still current.
    this.#open(immediate ? this.#startedAt : performance.now());
  }

  #open(now: number): void {
    const core = this.#core;
    const kept = this.#keepAlive ? core.takeIdle() : undefined;
    let socket: OwnedSocket;
    if (kept) {
      socket = kept;
      this.#reused = true;
      this.#connected = true;
    } else {
      socket = newSocket(core.connectOptions);
      this.#reused = false;
      this.#connected = false;
    }
    socket[kOwner] = this;
    this.#socket = socket;
    this.#lastActivity = now;
    this.arm();
    // A new connection gets the request from onConnect, the moment it is up (what Node would do
    // with a write queued now, minus the two one-off listeners it adds per socket to do so).
    if (!kept) return;
    socket.write(this.#bytes);
    // A kept socket the server had already reset makes the kernel refuse the first write
    // outright, which Node records before write() returns: not one byte reached the server, so
    // starting over on another connection is safe whatever the request is.
    if (socket.errored) {
      dispose(socket);
      this.#socket = undefined;
      this.#open(now);
    }
  }

  /** Tells the client's deadline timer when this exchange next needs a look. */
  arm(): void {
    this.#core.watch(this.nextDeadline());
  }

  /** The nearest of the total, connect and idle deadlines (performance.now() milliseconds). */
  nextDeadline(): number {
    const core = this.#core;
    const total = this.#startedAt + this.#totalMs;
    const phase = this.#socket
      ? this.#lastActivity + (this.#connected ? core.readTimeoutMs : core.connectTimeoutMs)
      : total;
    return Math.min(total, phase);
  }

  /** Called by the client's deadline timer at or after `nextDeadline()`. */
  onTimer(now: number): void {
    if (this.finished) return;
    const core = this.#core;
    const bytesRead = this.#bytesRead;
    if (now >= this.#startedAt + this.#totalMs) {
      this.fail(
        new FastCGITimeoutError(
          this.#mode === 'values' && this.#connected && bytesRead === 0
            ? `${this.#label} did not answer FCGI_GET_VALUES within ${this.#totalMs} ms; some FastCGI servers never answer it (fcgiwrap leaves a query naming FCGI_MAX_CONNS or several names unanswered)`
            : `no complete response from ${this.#label} within ${this.#totalMs} ms (${bytesRead} bytes read)`,
          this.#totalMs,
          { target: this.#label, phase: 'total', bytesRead },
        ),
      );
      return;
    }
    if (this.#socket && !this.#connected && now >= this.#lastActivity + core.connectTimeoutMs) {
      this.fail(
        new FastCGITimeoutError(
          `could not connect to ${this.#label} within ${core.connectTimeoutMs} ms`,
          core.connectTimeoutMs,
          { target: this.#label, phase: 'connect', bytesRead: 0 },
        ),
      );
      return;
    }
    if (this.#socket && this.#connected && now >= this.#lastActivity + core.readTimeoutMs) {
      this.fail(
        new FastCGITimeoutError(
          `${this.#label} sent nothing for ${core.readTimeoutMs} ms (${bytesRead} bytes read so far); the worker may be stuck or the pool saturated`,
          core.readTimeoutMs,
          { target: this.#label, phase: 'read', bytesRead },
        ),
      );
      return;
    }
  }

  /** AbortSignal listener. */
  handleEvent(): void {
    this.fail(
      new FpmkitAbortError(`request to ${this.#label} aborted`, { cause: this.#signal?.reason }),
    );
  }

  onConnect(): void {
    if (this.finished) return;
    this.#connected = true;
    this.#lastActivity = performance.now();
    // Rarely needed: only when the read bound is nearer than the connect bound was.
    if (this.#core.readTimeoutMs < this.#core.connectTimeoutMs) this.arm();
    this.#socket!.write(this.#bytes);
  }

  onData(chunk: Buffer): void {
    if (this.finished) return;
    this.#bytesRead += chunk.length;
    let rest: number;
    try {
      rest = this.#decoder.pushRanges(chunk, exchangeRecord, this);
    } catch (error) {
      this.fail(
        error instanceof FastCGIHttpPeerError
          ? new FastCGIHttpPeerError(Buffer.from(error.statusLine, 'latin1'), {
              target: this.#label,
            })
          : error instanceof FastCGIProtocolError
            ? new FastCGIProtocolError(`${this.#label}: ${error.message}`, {
                target: this.#label,
                recordType: error.recordType,
                requestId: error.requestId,
                offset: error.offset,
              })
            : this.#protocolError(String(error)),
      );
      return;
    }
    if (this.finished) return;
    // The chunk that ends the response goes straight to closing the socket: FPM's worker waits
    // for that close, so nothing (not even a clock read) comes before it.
    if (this.#ended) this.#finishResponse(rest);
    else this.#lastActivity = performance.now();
  }

  onEnd(): void {
    if (this.finished) return;
    if (this.#retryable()) {
      this.#restart();
      return;
    }
    this.fail(
      this.#protocolError(
        (this.#bytesRead === 0
          ? 'the server closed the connection without answering (FPM does so when the request is malformed, when listen.allowed_clients rejects the client, or when nothing arrives within 5 s); see the FPM error log'
          : `the server closed the connection before END_REQUEST (${this.#bytesRead} bytes read)`) +
          this.#notRetried(),
      ),
    );
  }

  onError(error: NodeJS.ErrnoException): void {
    if (this.finished) return;
    if (this.#retryable()) {
      this.#restart();
      return;
    }
    const phase: FastCGIPhase = !this.#connected
      ? 'connect'
      : error.code === 'EPIPE'
        ? 'write'
        : 'read';
    const errno = error.code;
    const hint = connectHint(errno, this.#core.target);
    const what =
      phase === 'connect'
        ? `could not connect to ${this.#label}`
        : `connection to ${this.#label} failed while ${phase === 'write' ? 'sending the request' : 'reading the response'} (${this.#bytesRead} bytes read)`;
    this.fail(
      new FastCGIConnectError(
        `${what}: ${errno ?? error.message}${hint ? ` (${hint})` : ''}${this.#notRetried()}`,
        {
          target: this.#label,
          phase,
          errno,
          hint,
          bytesRead: this.#bytesRead,
          cause: error,
        },
      ),
    );
  }

  /**
   * Whether a kept connection that failed after the request was written may be given up for a
   * fresh one. The server may have received the request and run it before closing (a worker that
   * died mid-request looks exactly like a connection closed while idle), so only a request that
   * can safely run twice is resent, and only when nothing of the answer was read. Connections
   * known to be dead before the write never get here: `#open` and `takeIdle` skip them.
   */
  #retryable(): boolean {
    return this.#reused && this.#idempotent && this.#bytesRead === 0;
  }

  /** Why a failure on a kept connection was not retried, for the error message. */
  #notRetried(): string {
    return this.#reused && this.#bytesRead === 0 && !this.#idempotent
      ? '; not resent on a new connection because the server may already have run it (only GET or HEAD without a body is resent)'
      : '';
  }

  #restart(): void {
    if (this.#socket) dispose(this.#socket);
    this.#socket = undefined;
    this.#decoder.reset();
    this.#open(performance.now());
  }

  #protocolError(message: string, recordType?: number, requestId?: number): FastCGIProtocolError {
    return new FastCGIProtocolError(`${this.#label}: ${message}`, {
      target: this.#label,
      recordType,
      requestId,
      offset: this.#decoder.offset,
    });
  }

  #tooLarge(): true {
    const max = this.#core.maxResponseBytes;
    this.fail(
      new FastCGIResponseTooLargeError(max, this.#stdoutBytes + this.#stderrBytes, {
        target: this.#label,
        phase: 'read',
        bytesRead: this.#bytesRead,
      }),
    );
    return true;
  }

  /** @internal Handles one decoded record; true stops decoding. */
  record(type: number, requestId: number, buf: Buffer, start: number, end: number): boolean {
    if (this.#mode === 'values') {
      return this.#valuesRecord(type, requestId, buf.subarray(start, end));
    }
    if (requestId !== REQUEST_ID) {
      this.fail(
        this.#protocolError(
          `${recordTypeName(type)} record for request id ${requestId}, expected ${REQUEST_ID}`,
          type,
          requestId,
        ),
      );
      return true;
    }
    const length = end - start;
    if (type === RecordType.STDOUT) {
      if (length === 0) return false;
      this.#stdoutBytes += length;
      if (this.#stdoutBytes + this.#stderrBytes > this.#core.maxResponseBytes) {
        return this.#tooLarge();
      }
      if (this.#stdoutBuf === undefined) {
        this.#stdoutBuf = buf;
        this.#stdoutStart = start;
        this.#stdoutEnd = end;
      } else if (this.#stdoutMore) {
        this.#stdoutMore.push(buf.subarray(start, end));
      } else {
        this.#stdoutMore = [
          this.#stdoutBuf.subarray(this.#stdoutStart, this.#stdoutEnd),
          buf.subarray(start, end),
        ];
      }
      return false;
    }
    if (type === RecordType.STDERR) {
      if (length === 0) return false;
      const content = buf.subarray(start, end);
      this.#stderrBytes += length;
      if (this.#stdoutBytes + this.#stderrBytes > this.#core.maxResponseBytes) {
        return this.#tooLarge();
      }
      if (this.#stderr) this.#stderr.push(content);
      else this.#stderr = [content];
      return false;
    }
    if (type === RecordType.END_REQUEST) {
      if (length < 8) {
        this.fail(
          this.#protocolError(`END_REQUEST body is ${length} bytes, expected 8`, type, requestId),
        );
        return true;
      }
      // FPM sends no empty STDOUT record: END_REQUEST alone ends the response.
      this.#ended = true;
      // Read in place: the content is not kept.
      this.#appStatus = buf.readUInt32BE(start);
      this.#protocolStatus = buf[start + 4]!;
      return true;
    }
    this.fail(this.#protocolError(`unexpected ${recordTypeName(type)} record`, type, requestId));
    return true;
  }

  #valuesRecord(type: number, requestId: number, content: Buffer): boolean {
    if (type === RecordType.GET_VALUES_RESULT && requestId === FCGI_NULL_REQUEST_ID) {
      let values: Array<[string, string]>;
      try {
        values = decodeNameValuePairs(content);
      } catch (error) {
        this.fail(this.#protocolError((error as Error).message, type, requestId));
        return true;
      }
      this.#cleanup(false);
      this.#resolve(Object.fromEntries(values));
      return true;
    }
    const reason =
      type === RecordType.UNKNOWN_TYPE
        ? 'the server does not support FCGI_GET_VALUES'
        : `unexpected ${recordTypeName(type)} record`;
    this.fail(this.#protocolError(reason, type, requestId));
    return true;
  }

  #finishResponse(leftover: number): void {
    // Without keep-alive the connection is finished: close it before parsing anything, since FPM
    // keeps the worker in "Finishing" until the client closes.
    if (!this.#keepAlive && this.#socket) {
      dispose(this.#socket);
      this.#socket = undefined;
    }
    const appStatus = this.#appStatus;
    const protocolStatus = this.#protocolStatus;
    if (protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) {
      this.fail(
        new FastCGIRequestRejectedError(protocolStatus, appStatus, { target: this.#label }),
      );
      return;
    }
    const stderr = this.#stderr
      ? Buffer.concat(this.#stderr, this.#stderrBytes).toString('utf8')
      : '';
    // Stray bytes after END_REQUEST make the connection unusable for another request.
    const keepSocket = this.#keepAlive && leftover === 0 && this.#decoder.pendingBytes === 0;
    // The usual poll: one STDOUT record whose headers are the memo's. Only the body view and a
    // copy of the headers are made.
    const memo = this.#core.cgiMemo;
    const buf = this.#stdoutBuf;
    if (buf !== undefined && this.#stdoutMore === undefined && memo.block !== undefined) {
      const bodyStart = memoBodyStart(buf, this.#stdoutStart, this.#stdoutEnd, memo.block);
      if (bodyStart >= 0) {
        this.#cleanup(keepSocket);
        this.#resolve({
          status: memo.status,
          headers: { ...memo.headers },
          body: buf.subarray(bodyStart, this.#stdoutEnd),
          stderr,
          appStatus,
          protocolStatus,
        });
        return;
      }
    }
    // One copy at most: a single chunk is used as is, several are joined once.
    const stdout = this.#stdoutMore
      ? Buffer.concat(this.#stdoutMore, this.#stdoutBytes)
      : this.#stdoutBuf
        ? this.#stdoutBuf.subarray(this.#stdoutStart, this.#stdoutEnd)
        : Buffer.alloc(0);
    let parsed: ReturnType<typeof parseCgi>;
    try {
      parsed = parseCgi(stdout, undefined, memo);
    } catch (error) {
      const reason = (error as Error).message;
      this.fail(
        this.#protocolError(
          stderr ? `${reason}; STDERR said: ${stderr.slice(0, 200)}` : reason,
          RecordType.STDOUT,
          REQUEST_ID,
        ),
      );
      return;
    }
    this.#cleanup(keepSocket);
    this.#resolve({
      status: parsed.status,
      headers: parsed.headers,
      body: parsed.body,
      stderr,
      appStatus,
      protocolStatus,
    });
  }

  fail(error: FpmkitError): void {
    if (this.finished) return;
    this.#cleanup(false);
    this.#reject(error);
  }

  /** The one cleanup path: the timer, the abort listener, the socket and the slot. */
  #cleanup(keepSocket: boolean): void {
    this.finished = true;
    this.#signal?.removeEventListener('abort', this);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      if (keepSocket) this.#core.park(socket);
      else dispose(socket);
    }
    this.#core.release(this);
  }
}

/**
 * The exchanges in flight, linked through the exchanges themselves. A Set did the same job, but
 * its long-lived table holding each short-lived exchange doubled the collector's time per
 * request under load (measured with 16 requests in flight).
 */
class InFlight {
  head: Exchange | undefined;

  add(exchange: Exchange): void {
    exchange.inFlight = true;
    exchange.prevInFlight = undefined;
    exchange.nextInFlight = this.head;
    if (this.head !== undefined) this.head.prevInFlight = exchange;
    this.head = exchange;
  }

  delete(exchange: Exchange): void {
    if (!exchange.inFlight) return;
    exchange.inFlight = false;
    const { prevInFlight: prev, nextInFlight: next } = exchange;
    if (prev !== undefined) prev.nextInFlight = next;
    else this.head = next;
    if (next !== undefined) next.prevInFlight = prev;
    exchange.prevInFlight = undefined;
    exchange.nextInFlight = undefined;
  }

  /** A copy, for loops that may remove exchanges as they go. */
  toArray(): Exchange[] {
    const list: Exchange[] = [];
    for (let e = this.head; e !== undefined; e = e.nextInFlight) list.push(e);
    return list;
  }
}

/**
 * A FastCGI client for PHP-FPM (and any FastCGI 1.0 responder) over UNIX sockets and TCP
 * (IPv4 and IPv6). One connection per request unless `keepAlive` is set; the socket is closed
 * as soon as END_REQUEST arrives, because FPM holds the worker in state "Finishing" until the
 * client closes. Every call is bounded by connect, idle-read and total timeouts and by
 * `maxResponseBytes`, and can be aborted with an `AbortSignal`.
 *
 * ```ts
 * const client = new FastCGIClient('unix:/run/php/php8.2-fpm.sock');
 * const res = await client.request({
 *   params: { SCRIPT_FILENAME: '/status', SCRIPT_NAME: '/status', REQUEST_METHOD: 'GET', QUERY_STRING: 'json' },
 * });
 * ```
 */
export class FastCGIClient {
  /** The parsed target. */
  readonly target: ParsedTarget;
  readonly #core: ClientCore;
  readonly #totalTimeoutMs: number;
  readonly #getValuesTimeoutMs: number;
  readonly #keepAlive: boolean;
  readonly #maxConcurrency: number;
  #active = 0;
  #waiting: Exchange[] = [];
  #waitingHead = 0;
  /** Kept-alive connections waiting for a request. */
  #idle = new Set<OwnedSocket>();
  #inFlight = new InFlight();
  #closed = false;
  /** One timer for every exchange of this client, aimed at the earliest deadline. */
  #sweeper: NodeJS.Timeout | undefined;
  #sweepAt = Number.POSITIVE_INFINITY;
  /** The last body-less request's params (name, value, ...) and its encoded bytes. */
  #cachedParams: string[] | undefined;
  #cachedBytes: Buffer | undefined;

  constructor(target: FastCGITarget, options: FastCGIClientOptions = {}) {
    this.target = parseTarget(target);
    const d = FASTCGI_CLIENT_DEFAULTS;
    const connectTimeoutMs = checkMs(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? d.connectTimeoutMs,
    );
    const readTimeoutMs = checkMs('readTimeoutMs', options.readTimeoutMs ?? d.readTimeoutMs);
    this.#totalTimeoutMs = checkMs('totalTimeoutMs', options.totalTimeoutMs ?? d.totalTimeoutMs);
    this.#getValuesTimeoutMs = checkMs(
      'getValuesTimeoutMs',
      options.getValuesTimeoutMs ?? d.getValuesTimeoutMs,
    );
    const maxResponseBytes = options.maxResponseBytes ?? d.maxResponseBytes;
    if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
      throw new FpmkitInvalidOptionError('maxResponseBytes', 'must be a non-negative integer');
    }
    const keepAlive: unknown = options.keepAlive ?? d.keepAlive;
    if (typeof keepAlive !== 'boolean') {
      throw new FpmkitInvalidOptionError('keepAlive', 'must be a boolean');
    }
    this.#keepAlive = keepAlive;
    const concurrency = options.maxConcurrency ?? d.maxConcurrency;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new FpmkitInvalidOptionError('maxConcurrency', 'must be an integer of at least 1');
    }
    this.#maxConcurrency = concurrency;
    const parsed = this.target;
    const idle = this.#idle;
    const self = this;
    const dropIdle = function (this: void, socket: OwnedSocket) {
      idle.delete(socket);
      dispose(socket);
    };
    this.#core = {
      target: parsed,
      connectTimeoutMs,
      readTimeoutMs,
      maxResponseBytes,
      cgiMemo: { block: undefined, status: 0, statusText: '', headers: {} },
      connectOptions: connectOptions(parsed),
      takeIdle() {
        for (const socket of idle) {
          idle.delete(socket);
          // Ended or failed while idle but not yet dropped: no request was written to it.
          if (socket.destroyed || socket.readableEnded || !socket.writable || socket.errored) {
            dispose(socket);
            continue;
          }
          socket.ref();
          return socket;
        }
        return undefined;
      },
      park(socket) {
        if (self.#closed || idle.size >= self.#maxConcurrency) {
          dispose(socket);
          return;
        }
        const owner: SocketOwner = {
          onConnect: noop,
          onData: () => dropIdle(socket),
          onEnd: () => dropIdle(socket),
          onError: () => dropIdle(socket),
        };
        socket[kOwner] = owner;
        socket.unref();
        idle.add(socket);
      },
      watch(deadline) {
        if (deadline < self.#sweepAt) self.#schedule(deadline);
      },
      release(exchange) {
        self.#inFlight.delete(exchange);
        if (!exchange.holdsSlot) return;
        exchange.holdsSlot = false;
        self.#active--;
        self.#startWaiting();
      },
    };
  }

  /** Requests in flight and waiting for a slot, and kept-alive connections. */
  get pending(): { active: number; queued: number; idleConnections: number } {
    let queued = 0;
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      if (!this.#waiting[i]!.finished) queued++;
    }
    return { active: this.#active, queued, idleConnections: this.#idle.size };
  }

  /** A call's total timeout: its own `timeoutMs`, checked, or the client's `totalTimeoutMs`. */
  #callTimeoutMs(timeoutMs: number | undefined): number {
    return timeoutMs === undefined ? this.#totalTimeoutMs : checkMs('timeoutMs', timeoutMs);
  }

  /**
   * Sends one request and resolves with the whole response once END_REQUEST arrives.
   * Rejects with `FastCGIConnectError`, `FastCGITimeoutError`, `FastCGIProtocolError`,
   * `FastCGIResponseTooLargeError`, `FastCGIRequestRejectedError` or `FpmkitAbortError`.
   */
  request(options: FastCGIRequestOptions): Promise<FastCGIResponse> {
    let bytes: Buffer;
    let totalMs: number;
    let signal: AbortSignal | undefined;
    try {
      totalMs = this.#callTimeoutMs(options.timeoutMs);
      signal = checkSignal(options.signal);
      checkRequestBody(options);
      let params = options.params;
      if (options.stdin === undefined) {
        bytes = this.#encodeCached(params);
      } else {
        const stdin =
          typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin;
        if (params.CONTENT_LENGTH === undefined) {
          params = { ...params, CONTENT_LENGTH: String(stdin.length) };
        }
        bytes = encodeRequest({ requestId: REQUEST_ID, keepConn: this.#keepAlive, params, stdin });
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const method = options.params.REQUEST_METHOD;
    const idempotent =
      (method === 'GET' || method === 'HEAD') &&
      (options.stdin === undefined || options.stdin.length === 0);
    return this.#run(bytes, 'request', idempotent, totalMs, signal) as Promise<FastCGIResponse>;
  }

  /**
   * Asks the server for management variables with FCGI_GET_VALUES, e.g.
   * `['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']`. Returns only the variables the
   * server answered (PHP-FPM knows only `FCGI_MPXS_CONNS`, which it reports as `'0'`).
   * Bounded by `getValuesTimeoutMs` (2 s) rather than `totalTimeoutMs`: a server that leaves
   * the record unanswered (fcgiwrap, for FCGI_MAX_CONNS or several names) fails with
   * `FastCGITimeoutError` (phase `total`) after that time.
   */
  getValues(
    names: readonly string[],
    options: GetValuesOptions = {},
  ): Promise<Record<string, string>> {
    let bytes: Buffer;
    let totalMs: number;
    let signal: AbortSignal | undefined;
    try {
      totalMs =
        options.timeoutMs === undefined
          ? this.#getValuesTimeoutMs
          : checkMs('timeoutMs', options.timeoutMs);
      signal = checkSignal(options.signal);
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
        throw new FpmkitInvalidOptionError('names', 'must be an array of strings');
      }
      const body = encodeNameValuePairs(names.map((n) => [n, ''] as const));
      if (body.length > FCGI_MAX_CONTENT_LENGTH) {
        throw new FpmkitInvalidOptionError(
          'names',
          'the names must fit in one record (65535 bytes)',
        );
      }
      bytes = encodeRecord(RecordType.GET_VALUES, FCGI_NULL_REQUEST_ID, body);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run(bytes, 'values', true, totalMs, signal) as Promise<Record<string, string>>;
  }

  /**
   * Closes kept-alive connections, rejects queued and in-flight calls with `FpmkitAbortError`
   * and makes later calls fail the same way.
   */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#sweeper);
    this.#sweeper = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    for (const socket of [...this.#idle]) {
      this.#idle.delete(socket);
      dispose(socket);
    }
    for (const exchange of this.#inFlight.toArray()) {
      exchange.fail(new FpmkitAbortError('the FastCGI client was closed'));
    }
  }

  /**
   * Encodes a body-less request, reusing the previous bytes when the params are the same names
   * and values in the same order (the usual case for status polling): comparing a few strings
   * is cheaper than encoding and allocating again.
   */
  #encodeCached(params: Readonly<Record<string, string>>): Buffer {
    const cached = this.#cachedParams;
    if (cached && this.#cachedBytes) {
      let i = 0;
      let same = true;
      for (const name in params) {
        if (!Object.hasOwn(params, name)) continue;
        if (cached[i] !== name || cached[i + 1] !== params[name]) {
          same = false;
          break;
        }
        i += 2;
      }
      if (same && i === cached.length) return this.#cachedBytes;
    }
    const bytes = encodeRequest({ requestId: REQUEST_ID, keepConn: this.#keepAlive, params });
    const flat: string[] = [];
    for (const name in params) if (Object.hasOwn(params, name)) flat.push(name, params[name]!);
    this.#cachedParams = flat;
    this.#cachedBytes = bytes;
    return bytes;
  }

  #schedule(deadline: number): void {
    clearTimeout(this.#sweeper);
    this.#sweepAt = deadline;
    const delay = Math.max(1, Math.ceil(deadline - performance.now()));
    this.#sweeper = setTimeout(this.#sweep, delay);
    // In-flight sockets keep the process alive; the timer alone must not.
    this.#sweeper.unref();
  }

  readonly #sweep = (): void => {
    this.#sweeper = undefined;
    this.#sweepAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    // Half a millisecond of slack: timers run on the loop's clock, which lags performance.now().
    for (const exchange of this.#inFlight.toArray()) {
      if (exchange.nextDeadline() <= now + 0.5) exchange.onTimer(now + 0.5);
    }
    let next = Number.POSITIVE_INFINITY;
    for (let e = this.#inFlight.head; e !== undefined; e = e.nextInFlight) {
      next = Math.min(next, e.nextDeadline());
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
  };

  #startWaiting(): void {
    const waiting = this.#waiting;
    while (this.#waitingHead < waiting.length && this.#active < this.#maxConcurrency) {
      const next = waiting[this.#waitingHead++]!;
      if (next.finished) continue;
      this.#active++;
      next.start(false);
    }
    // Setting an array's length is a runtime call; skip it when the queue is already empty.
    if (this.#waitingHead === waiting.length && waiting.length !== 0) {
      waiting.length = 0;
      this.#waitingHead = 0;
    }
  }

  #run(
    bytes: Buffer,
    mode: Mode,
    idempotent: boolean,
    totalMs: number,
    signal: AbortSignal | undefined,
  ): Promise<FastCGIResponse | Record<string, string>> {
    const label = this.target.label;
    if (this.#closed) return Promise.reject(new FpmkitAbortError('the FastCGI client was closed'));
    if (signal?.aborted) {
      return Promise.reject(
        new FpmkitAbortError(`request to ${label} aborted`, { cause: signal.reason }),
      );
    }
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(
        this.#core,
        bytes,
        mode,
        this.#keepAlive && mode === 'request',
        idempotent,
        totalMs,
        signal,
        resolve as Settle,
        reject,
      );
      this.#inFlight.add(exchange);
      if (this.#active < this.#maxConcurrency) {
        this.#active++;
        exchange.start(true);
      } else {
        // Waiting for a slot counts against the total bound.
        exchange.arm();
        this.#waiting.push(exchange);
      }
    });
  }
}
