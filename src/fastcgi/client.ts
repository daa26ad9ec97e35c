import { connect, type Socket } from 'node:net';
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
import { parseCgiResponse } from './cgi.js';
import { FastCGIRequestRejectedError } from './errors.js';
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
   * and killed by `request_terminate_timeout`. @default false
   */
  keepAlive?: boolean;
  /** Most requests in flight at once on this client; more wait in FIFO order. @default 16 */
  maxConcurrency?: number;
}

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

interface Waiter {
  start: () => void;
  cancelled: boolean;
}

type Mode = 'request' | 'values';

/**
 * A FastCGI client for PHP-FPM (and any FastCGI 1.0 responder) over UNIX sockets and TCP
 * (IPv4 and IPv6). One connection per request unless `keepAlive` is set; the socket is closed
 * as soon as END_REQUEST arrives, because FPM holds the worker in state "Finishing" until the
 * client closes. Every call is bounded by connect, idle-read and total timeouts and by
 * `maxResponseBytes`, and can be aborted with an `AbortSignal`.
 *
 * ```ts
 * const client = new FastCGIClient('unix:/run/php/php8.2-fpm.sock');
 * const res = await client.request({ params: { SCRIPT_FILENAME: '/status', SCRIPT_NAME: '/status', REQUEST_METHOD: 'GET', QUERY_STRING: 'json' } });
 * ```
 */
export class FastCGIClient {
  /** The parsed target. */
  readonly target: ParsedTarget;
  readonly #connectTimeoutMs: number;
  readonly #readTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #keepAlive: boolean;
  readonly #maxConcurrency: number;
  readonly #connectOptions: { path: string } | { host: string; port: number };
  #active = 0;
  #waiters: Waiter[] = [];
  /** Kept-alive connections waiting for a request, with the listener that drops each. */
  #idle = new Map<Socket, () => void>();
  #inFlight = new Set<(error: FpmkitError) => void>();
  #closed = false;

  constructor(target: FastCGITarget, options: FastCGIClientOptions = {}) {
    this.target = parseTarget(target);
    const d = FASTCGI_CLIENT_DEFAULTS;
    this.#connectTimeoutMs = checkMs(
      'connectTimeoutMs',
      options.connectTimeoutMs ?? d.connectTimeoutMs,
    );
    this.#readTimeoutMs = checkMs('readTimeoutMs', options.readTimeoutMs ?? d.readTimeoutMs);
    this.#totalTimeoutMs = checkMs('totalTimeoutMs', options.totalTimeoutMs ?? d.totalTimeoutMs);
    const max = options.maxResponseBytes ?? d.maxResponseBytes;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new FpmkitInvalidOptionError('maxResponseBytes', 'must be a non-negative integer');
    }
    this.#maxResponseBytes = max;
    this.#keepAlive = options.keepAlive ?? d.keepAlive;
    const concurrency = options.maxConcurrency ?? d.maxConcurrency;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new FpmkitInvalidOptionError('maxConcurrency', 'must be an integer of at least 1');
    }
    this.#maxConcurrency = concurrency;
    this.#connectOptions =
      this.target.type === 'unix'
        ? { path: this.target.socketPath }
        : { host: this.target.host, port: this.target.port };
  }

  /** Requests in flight and waiting for a slot. */
  get pending(): { active: number; queued: number; idleConnections: number } {
    return {
      active: this.#active,
      queued: this.#waiters.length,
      idleConnections: this.#idle.size,
    };
  }

  /**
   * Sends one request and resolves with the whole response once END_REQUEST arrives.
   * Rejects with `FastCGIConnectError`, `FastCGITimeoutError`, `FastCGIProtocolError`,
   * `FastCGIResponseTooLargeError`, `FastCGIRequestRejectedError` or `FpmkitAbortError`.
   */
  request(options: FastCGIRequestOptions): Promise<FastCGIResponse> {
    let bytes: Buffer;
    let totalMs: number;
    try {
      totalMs =
        options.timeoutMs === undefined
          ? this.#totalTimeoutMs
          : checkMs('timeoutMs', options.timeoutMs);
      let params = options.params;
      let stdin: Uint8Array | undefined;
      if (options.stdin !== undefined) {
        stdin =
          typeof options.stdin === 'string' ? Buffer.from(options.stdin, 'utf8') : options.stdin;
        if (params.CONTENT_LENGTH === undefined) {
          params = { ...params, CONTENT_LENGTH: String(stdin.length) };
        }
      }
      bytes = encodeRequest({ requestId: REQUEST_ID, keepConn: this.#keepAlive, params, stdin });
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#run(bytes, 'request', totalMs, options.signal) as Promise<FastCGIResponse>;
  }

  /**
   * Asks the server for management variables with FCGI_GET_VALUES, e.g.
   * `['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']`. Returns only the variables the
   * server answered (PHP-FPM knows only `FCGI_MPXS_CONNS`, which it reports as `'0'`).
   */
  getValues(
    names: readonly string[],
    options: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined } = {},
  ): Promise<Record<string, string>> {
    let bytes: Buffer;
    let totalMs: number;
    try {
      totalMs =
        options.timeoutMs === undefined
          ? this.#totalTimeoutMs
          : checkMs('timeoutMs', options.timeoutMs);
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
    return this.#run(bytes, 'values', totalMs, options.signal) as Promise<Record<string, string>>;
  }

  /**
   * Closes kept-alive connections, rejects queued and in-flight calls with `FpmkitAbortError`
   * and makes later calls fail the same way.
   */
  close(): void {
    this.#closed = true;
    for (const drop of [...this.#idle.values()]) drop();
    for (const fail of [...this.#inFlight])
      fail(new FpmkitAbortError('the FastCGI client was closed'));
  }

  #release(): void {
    this.#active--;
    while (this.#waiters.length > 0 && this.#active < this.#maxConcurrency) {
      const next = this.#waiters.shift()!;
      if (next.cancelled) continue;
      this.#active++;
      next.start();
    }
  }

  #park(socket: Socket): void {
    if (this.#closed || this.#idle.size >= this.#maxConcurrency) {
      socket.destroy();
      return;
    }
    const drop = () => {
      this.#idle.delete(socket);
      socket.removeListener('data', drop);
      socket.removeListener('end', drop);
      socket.removeListener('close', drop);
      socket.removeListener('error', drop);
      socket.destroy();
    };
    // Anything from the server while no request runs (a close, stray bytes) ends the reuse.
    socket.on('data', drop);
    socket.on('end', drop);
    socket.on('close', drop);
    socket.on('error', drop);
    socket.unref();
    this.#idle.set(socket, drop);
  }

  #takeIdle(): Socket | undefined {
    let last: [Socket, () => void] | undefined;
    for (const entry of this.#idle) last = entry;
    if (!last) return undefined;
    const [socket, drop] = last;
    this.#idle.delete(socket);
    socket.removeListener('data', drop);
    socket.removeListener('end', drop);
    socket.removeListener('close', drop);
    socket.removeListener('error', drop);
    socket.ref();
    return socket;
  }

  #run(
    bytes: Buffer,
    mode: Mode,
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
      const maxBytes = this.#maxResponseBytes;
      const readMs = this.#readTimeoutMs;
      const keepAlive = this.#keepAlive && mode === 'request';
      let socket: Socket | undefined;
      let reused = false;
      let connected = false;
      let finished = false;
      let holdsSlot = false;
      let waiter: Waiter | undefined;
      let connectTimer: NodeJS.Timeout | undefined;
      let idleTimer: NodeJS.Timeout | undefined;
      let bytesRead = 0;
      let stdoutBytes = 0;
      let stderrBytes = 0;
      const stdoutParts: Buffer[] = [];
      let stderrParts: Buffer[] | undefined;
      const decoder = new RecordDecoder();

      const detachSocket = (s: Socket) => {
        s.removeListener('connect', onConnect);
        s.removeListener('data', onData);
        s.removeListener('end', onEnd);
        s.removeListener('error', onError);
        s.removeListener('close', onClose);
      };

      // The one cleanup path: every timer, listener, socket and slot is released here.
      const cleanup = (keepSocket: boolean) => {
        finished = true;
        clearTimeout(totalTimer);
        if (connectTimer) clearTimeout(connectTimer);
        if (idleTimer) clearTimeout(idleTimer);
        signal?.removeEventListener('abort', onAbort);
        this.#inFlight.delete(fail);
        if (waiter) waiter.cancelled = true;
        if (socket) {
          detachSocket(socket);
          if (keepSocket) {
            this.#park(socket);
          } else {
            // A late error from a socket being torn down has nobody left to hear it.
            socket.on('error', noop);
            socket.destroy();
          }
          socket = undefined;
        }
        if (holdsSlot) {
          holdsSlot = false;
          this.#release();
        }
      };

      function fail(error: FpmkitError): void {
        if (finished) return;
        cleanup(false);
        reject(error);
      }

      const onAbort = () => {
        fail(new FpmkitAbortError(`request to ${label} aborted`, { cause: signal?.reason }));
      };

      const totalTimer = setTimeout(() => {
        fail(
          new FastCGITimeoutError(
            `no complete response from ${label} within ${totalMs} ms (${bytesRead} bytes read)`,
            totalMs,
            { target: label, phase: 'total', bytesRead },
          ),
        );
      }, totalMs);

      const onConnectTimeout = () => {
        fail(
          new FastCGITimeoutError(
            `could not connect to ${label} within ${this.#connectTimeoutMs} ms`,
            this.#connectTimeoutMs,
            { target: label, phase: 'connect', bytesRead: 0 },
          ),
        );
      };

      const onIdleTimeout = () => {
        fail(
          new FastCGITimeoutError(
            `${label} sent nothing for ${readMs} ms (${bytesRead} bytes read so far); the worker may be stuck or the pool saturated`,
            readMs,
            { target: label, phase: 'read', bytesRead },
          ),
        );
      };

      const protocolError = (message: string, recordType?: number, requestId?: number) =>
        new FastCGIProtocolError(`${label}: ${message}`, {
          target: label,
          recordType,
          requestId,
          offset: decoder.offset,
        });

      const finishRequest = (appStatus: number, protocolStatus: number, leftover: number) => {
        if (protocolStatus !== ProtocolStatus.REQUEST_COMPLETE) {
          fail(new FastCGIRequestRejectedError(protocolStatus, appStatus, { target: label }));
          return;
        }
        const stdout =
          stdoutParts.length === 1 ? stdoutParts[0]! : Buffer.concat(stdoutParts, stdoutBytes);
        const stderr = stderrParts ? Buffer.concat(stderrParts, stderrBytes).toString('utf8') : '';
        let parsed: ReturnType<typeof parseCgiResponse>;
        try {
          parsed = parseCgiResponse(stdout);
        } catch (error) {
          const reason = (error as Error).message;
          fail(
            protocolError(
              stderr ? `${reason}; STDERR said: ${stderr.slice(0, 200)}` : reason,
              RecordType.STDOUT,
              REQUEST_ID,
            ),
          );
          return;
        }
        // Stray bytes after END_REQUEST make the connection unusable for another request.
        cleanup(keepAlive && leftover === 0 && decoder.pendingBytes === 0);
        resolve({
          status: parsed.status,
          headers: parsed.headers,
          body: parsed.body,
          stderr,
          appStatus,
          protocolStatus,
        });
      };

      let ended = false;
      let endAppStatus = 0;
      let endProtocolStatus = 0;
      const tooLarge = () => {
        fail(
          new FastCGIResponseTooLargeError(maxBytes, stdoutBytes + stderrBytes, {
            target: label,
            phase: 'read',
            bytesRead,
          }),
        );
        return true;
      };
      const onRecord = (type: number, requestId: number, content: Buffer): boolean => {
        if (mode === 'values') {
          if (type === RecordType.GET_VALUES_RESULT && requestId === FCGI_NULL_REQUEST_ID) {
            let values: Array<[string, string]>;
            try {
              values = decodeNameValuePairs(content);
            } catch (error) {
              fail(protocolError((error as Error).message, type, requestId));
              return true;
            }
            cleanup(false);
            resolve(Object.fromEntries(values));
            return true;
          }
          if (type === RecordType.UNKNOWN_TYPE) {
            fail(protocolError('the server does not support FCGI_GET_VALUES', type, requestId));
            return true;
          }
          fail(protocolError(`unexpected ${recordTypeName(type)} record`, type, requestId));
          return true;
        }
        if (requestId !== REQUEST_ID) {
          fail(
            protocolError(
              `${recordTypeName(type)} record for request id ${requestId}, expected ${REQUEST_ID}`,
              type,
              requestId,
            ),
          );
          return true;
        }
        if (type === RecordType.STDOUT) {
          if (content.length === 0) return false;
          stdoutBytes += content.length;
          if (stdoutBytes + stderrBytes > maxBytes) return tooLarge();
          stdoutParts.push(content);
          return false;
        }
        if (type === RecordType.STDERR) {
          if (content.length === 0) return false;
          stderrBytes += content.length;
          if (stdoutBytes + stderrBytes > maxBytes) return tooLarge();
          if (stderrParts) stderrParts.push(content);
          else stderrParts = [content];
          return false;
        }
        if (type === RecordType.END_REQUEST) {
          if (content.length < 8) {
            fail(
              protocolError(
                `END_REQUEST body is ${content.length} bytes, expected 8`,
                type,
                requestId,
              ),
            );
            return true;
          }
          // FPM sends no empty STDOUT record: END_REQUEST alone ends the response.
          ended = true;
          endAppStatus = content.readUInt32BE(0);
          endProtocolStatus = content[4]!;
          return true;
        }
        fail(protocolError(`unexpected ${recordTypeName(type)} record`, type, requestId));
        return true;
      };

      function onData(chunk: Buffer): void {
        bytesRead += chunk.length;
        idleTimer?.refresh();
        let rest: number;
        try {
          rest = decoder.push(chunk, onRecord);
        } catch (error) {
          fail(
            error instanceof FastCGIProtocolError
              ? new FastCGIProtocolError(`${label}: ${error.message}`, {
                  target: label,
                  recordType: error.recordType,
                  requestId: error.requestId,
                  offset: error.offset,
                })
              : protocolError(String(error)),
          );
          return;
        }
        if (ended && !finished) finishRequest(endAppStatus, endProtocolStatus, rest);
      }

      const socketError = (phase: FastCGIPhase, errno: string | undefined, cause: unknown) => {
        const hint = connectHint(errno, this.target);
        const what =
          phase === 'connect'
            ? `could not connect to ${label}`
            : `connection to ${label} failed while ${phase === 'write' ? 'sending the request' : 'reading the response'} (${bytesRead} bytes read)`;
        return new FastCGIConnectError(
          `${what}: ${errno ?? (cause as Error)?.message ?? 'error'}${hint ? ` (${hint})` : ''}`,
          {
            target: label,
            phase,
            errno,
            hint,
            bytesRead,
            cause,
          },
        );
      };

      function retryable(): boolean {
        // A kept connection the server closed while it sat idle: start over on a fresh one.
        return reused && bytesRead === 0;
      }

      function onError(error: NodeJS.ErrnoException): void {
        if (finished) return;
        if (retryable()) {
          restart();
          return;
        }
        const phase: FastCGIPhase = !connected
          ? 'connect'
          : error.code === 'EPIPE'
            ? 'write'
            : 'read';
        fail(socketError(phase, error.code, error));
      }

      function onEnd(): void {
        if (finished) return;
        if (retryable()) {
          restart();
          return;
        }
        fail(
          protocolError(
            bytesRead === 0
              ? 'the server closed the connection without answering (FPM does so when the request is malformed, when listen.allowed_clients rejects the client, or when nothing arrives within 5 s); see the FPM error log'
              : `the server closed the connection before END_REQUEST (${bytesRead} bytes read)`,
          ),
        );
      }

      function onClose(): void {
        if (finished) return;
        onEnd();
      }

      const onConnect = () => {
        connected = true;
        if (connectTimer) {
          clearTimeout(connectTimer);
          connectTimer = undefined;
        }
        idleTimer = setTimeout(onIdleTimeout, readMs);
      };

      const attach = (s: Socket) => {
        s.on('data', onData);
        s.on('end', onEnd);
        s.on('error', onError);
        s.on('close', onClose);
      };

      const open = () => {
        const kept = keepAlive ? this.#takeIdle() : undefined;
        if (kept) {
          socket = kept;
          reused = true;
          attach(kept);
          onConnect();
        } else {
          reused = false;
          connected = false;
          const s = connect(this.#connectOptions as { path: string });
          socket = s;
          attach(s);
          s.once('connect', onConnect);
          if (this.#connectTimeoutMs < totalMs) {
            connectTimer = setTimeout(onConnectTimeout, this.#connectTimeoutMs);
          }
        }
        // Written at once: Node queues it until the connection is up, saving a round trip.
        socket.write(bytes);
      };

      function restart(): void {
        if (socket) {
          detachSocket(socket);
          socket.on('error', noop);
          socket.destroy();
          socket = undefined;
        }
        if (idleTimer) {
          clearTimeout(idleTimer);
          idleTimer = undefined;
        }
        decoder.reset();
        open();
      }

      const start = () => {
        waiter = undefined;
        holdsSlot = true;
        open();
      };

      signal?.addEventListener('abort', onAbort, { once: true });
      this.#inFlight.add(fail);
      if (this.#active < this.#maxConcurrency) {
        this.#active++;
        start();
      } else {
        waiter = { start, cancelled: false };
        this.#waiters.push(waiter);
      }
    });
  }
}
