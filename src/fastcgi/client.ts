import { FpmkitAbortError, type FpmkitError, FpmkitInvalidOptionError } from '../errors.js';
import type { CgiMemo } from './cgi.js';
import { type ConnectOptions, connectOptions, type OwnedSocket } from './connection.js';
import { type ClientCore, Exchange, type Mode, type Settle } from './exchange.js';
import {
  checkMs,
  checkRequestBody,
  checkSignal,
  FASTCGI_CLIENT_DEFAULTS,
  type FastCGIClientOptions,
  type FastCGIRequestOptions,
  type FastCGIResponse,
  type GetValuesOptions,
  REQUEST_ID,
} from './options.js';
import { IdleSockets, Slots } from './pool.js';
import {
  encodeNameValuePairs,
  encodeRecord,
  encodeRequest,
  FCGI_MAX_CONTENT_LENGTH,
  FCGI_NULL_REQUEST_ID,
  RecordType,
} from './records.js';
import { RequestBytesCache } from './status-fast-path.js';
import { type FastCGITarget, type ParsedTarget, parseTarget } from './target.js';
import { type Deadlined, DeadlineSweeper, InFlight } from './timers.js';

/*
 * The FastCGI client is split by role: options.ts (options, defaults, their checks),
 * connection.ts (sockets), exchange.ts (one request's state machine), pool.ts (kept-alive
 * sockets and the concurrency limit), timers.ts (the in-flight list and its one deadline timer)
 * and status-fast-path.ts (the shortcuts for repeated status polls). This file wires them.
 */

export { connectHint } from './connection.js';
export {
  checkSignal,
  FASTCGI_CLIENT_DEFAULTS,
  type FastCGIClientOptions,
  type FastCGIRequestOptions,
  type FastCGIResponse,
  GET_VALUES_TIMEOUT_MS,
  type GetValuesOptions,
} from './options.js';

/** Checked limits of a client, from its options and the defaults. */
interface Limits {
  connectTimeoutMs: number;
  readTimeoutMs: number;
  totalTimeoutMs: number;
  getValuesTimeoutMs: number;
  maxResponseBytes: number;
  keepAlive: boolean;
  maxConcurrency: number;
}

function checkLimits(options: FastCGIClientOptions): Limits {
  const d = FASTCGI_CLIENT_DEFAULTS;
  const maxResponseBytes = options.maxResponseBytes ?? d.maxResponseBytes;
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
    throw new FpmkitInvalidOptionError('maxResponseBytes', 'must be a non-negative integer');
  }
  const keepAlive: unknown = options.keepAlive ?? d.keepAlive;
  if (typeof keepAlive !== 'boolean') {
    throw new FpmkitInvalidOptionError('keepAlive', 'must be a boolean');
  }
  const maxConcurrency = options.maxConcurrency ?? d.maxConcurrency;
  if (!Number.isSafeInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new FpmkitInvalidOptionError('maxConcurrency', 'must be an integer of at least 1');
  }
  return {
    connectTimeoutMs: checkMs('connectTimeoutMs', options.connectTimeoutMs ?? d.connectTimeoutMs),
    readTimeoutMs: checkMs('readTimeoutMs', options.readTimeoutMs ?? d.readTimeoutMs),
    totalTimeoutMs: checkMs('totalTimeoutMs', options.totalTimeoutMs ?? d.totalTimeoutMs),
    getValuesTimeoutMs: checkMs(
      'getValuesTimeoutMs',
      options.getValuesTimeoutMs ?? d.getValuesTimeoutMs,
    ),
    maxResponseBytes,
    keepAlive,
    maxConcurrency,
  };
}

/** What the exchanges of one client share: its limits, its sockets, its slots and its timer. */
class Core implements ClientCore {
  readonly target: ParsedTarget;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly cgiMemo: CgiMemo = { block: undefined, status: 0, statusText: '', headers: {} };
  readonly connectOptions: ConnectOptions;
  readonly idle: IdleSockets;
  readonly slots: Slots<Exchange>;
  readonly inFlight = new InFlight<Exchange>();
  readonly sweeper = new DeadlineSweeper(this.inFlight as InFlight<Deadlined>);

  constructor(target: ParsedTarget, limits: Limits) {
    this.target = target;
    this.connectTimeoutMs = limits.connectTimeoutMs;
    this.readTimeoutMs = limits.readTimeoutMs;
    this.maxResponseBytes = limits.maxResponseBytes;
    this.connectOptions = connectOptions(target);
    this.idle = new IdleSockets(limits.maxConcurrency);
    this.slots = new Slots(limits.maxConcurrency);
  }

  takeIdle(): OwnedSocket | undefined {
    return this.idle.take();
  }

  park(socket: OwnedSocket): void {
    this.idle.park(socket);
  }

  watch(deadline: number): void {
    this.sweeper.watch(deadline);
  }

  release(exchange: Exchange): void {
    this.inFlight.delete(exchange);
    this.slots.release(exchange);
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
  readonly #core: Core;
  readonly #totalTimeoutMs: number;
  readonly #getValuesTimeoutMs: number;
  readonly #keepAlive: boolean;
  readonly #requestBytes: RequestBytesCache;
  #closed = false;

  constructor(target: FastCGITarget, options: FastCGIClientOptions = {}) {
    this.target = parseTarget(target);
    const limits = checkLimits(options);
    this.#totalTimeoutMs = limits.totalTimeoutMs;
    this.#getValuesTimeoutMs = limits.getValuesTimeoutMs;
    this.#keepAlive = limits.keepAlive;
    this.#requestBytes = new RequestBytesCache(REQUEST_ID, limits.keepAlive);
    this.#core = new Core(this.target, limits);
  }

  /** Requests in flight and waiting for a slot, and kept-alive connections. */
  get pending(): { active: number; queued: number; idleConnections: number } {
    const { slots, idle } = this.#core;
    return { active: slots.active, queued: slots.queued, idleConnections: idle.size };
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
        bytes = this.#requestBytes.encode(params);
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
    const core = this.#core;
    core.sweeper.stop();
    core.idle.close();
    for (const exchange of core.inFlight.toArray()) {
      exchange.fail(new FpmkitAbortError('the FastCGI client was closed'));
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
    return new Promise((resolve, reject: (error: FpmkitError) => void) => {
      const core = this.#core;
      const exchange = new Exchange(
        core,
        bytes,
        mode,
        this.#keepAlive && mode === 'request',
        idempotent,
        totalMs,
        signal,
        resolve as Settle,
        reject,
      );
      core.inFlight.add(exchange);
      // Waiting for a slot counts against the total bound.
      if (!core.slots.enter(exchange)) exchange.arm();
    });
  }
}
