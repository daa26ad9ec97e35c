import { performance } from 'node:perf_hooks';
import {
  FastCGIConnectError,
  FastCGIConnectTimeoutError,
  FastCGIProtocolError,
  FastCGIReadTimeoutError,
  FastCGIResponseTooLargeError,
  FastCGISocketError,
  FastCGITotalTimeoutError,
  FpmkitAbortError,
  type FpmkitError,
} from '../errors.js';
import type { CgiMemo } from './cgi.js';
import { parseCgi } from './cgi.js';
import {
  type ConnectOptions,
  connectHint,
  dispose,
  kOwner,
  newSocket,
  type OwnedSocket,
  type SocketOwner,
} from './connection.js';
import { FastCGIHttpPeerError, FastCGIRequestRejectedError } from './errors.js';
import { type FastCGIResponse, REQUEST_ID } from './options.js';
import {
  decodeNameValuePairs,
  FCGI_NULL_REQUEST_ID,
  ProtocolStatus,
  RecordDecoder,
  RecordType,
  recordTypeName,
} from './records.js';
import { memoResponse } from './status-fast-path.js';
import type { ParsedTarget } from './target.js';
import type { Deadlined } from './timers.js';

/*
 * One request/response exchange: the state machine from a held concurrency slot to a settled
 * promise. It owns its socket while it runs and hands it back (park) or throws it away.
 */

/** `request`: a FastCGI request; `values`: an FCGI_GET_VALUES query. */
export type Mode = 'request' | 'values';
export type Settle = (value: FastCGIResponse | Record<string, string>) => void;

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

/** The client internals an exchange needs. */
export interface ClientCore {
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
export class Exchange implements SocketOwner, Deadlined {
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
  prevInFlight: Deadlined | undefined;
  nextInFlight: Deadlined | undefined;
  inFlight = false;
  #lastActivity = 0;
  #bytesRead = 0;
  /** `bytesWritten` of a kept socket when this exchange took it (earlier requests' bytes). */
  #writtenBase = 0;
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
      this.#writtenBase = kept.bytesWritten;
      this.#reused = true;
      this.#connected = true;
    } else {
      socket = newSocket(core.connectOptions);
      this.#writtenBase = 0;
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
        new FastCGITotalTimeoutError(
          this.#mode === 'values' && this.#connected && bytesRead === 0
            ? `${this.#label} did not answer FCGI_GET_VALUES within ${this.#totalMs} ms; some FastCGI servers never answer it (fcgiwrap leaves a query naming FCGI_MAX_CONNS or several names unanswered)`
            : `no complete response from ${this.#label} within ${this.#totalMs} ms (${bytesRead} bytes read)`,
          this.#totalMs,
          { target: this.#label, bytesRead },
        ),
      );
      return;
    }
    if (this.#socket && !this.#connected && now >= this.#lastActivity + core.connectTimeoutMs) {
      this.fail(
        new FastCGIConnectTimeoutError(
          `could not connect to ${this.#label} within ${core.connectTimeoutMs} ms`,
          core.connectTimeoutMs,
          { target: this.#label, bytesRead: 0 },
        ),
      );
      return;
    }
    if (this.#socket && this.#connected && now >= this.#lastActivity + core.readTimeoutMs) {
      this.fail(
        new FastCGIReadTimeoutError(
          `${this.#label} sent nothing for ${core.readTimeoutMs} ms (${bytesRead} bytes read so far); the worker may be stuck or the pool saturated`,
          core.readTimeoutMs,
          { target: this.#label, bytesRead },
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
    this.fail(this.#connected ? this.#socketError(error) : this.#connectError(error));
  }

  /** No connection was made: the request never reached the server. */
  #connectError(error: NodeJS.ErrnoException): FastCGIConnectError {
    const errno = error.code;
    const hint = connectHint(errno, this.#core.target);
    return new FastCGIConnectError(
      `could not connect to ${this.#label}: ${errno ?? error.message}${hint ? ` (${hint})` : ''}`,
      { target: this.#label, errno, hint, cause: error },
    );
  }

  /**
   * The connection failed after it was made: the server may have the request. `EPIPE` means
   * the failure came while sending; anything else is reported as a read failure.
   */
  #socketError(error: NodeJS.ErrnoException): FastCGISocketError {
    const errno = error.code;
    const hint = connectHint(errno, this.#core.target);
    const phase = errno === 'EPIPE' ? 'write' : 'read';
    const bytesWritten = this.#socket ? this.#socket.bytesWritten - this.#writtenBase : 0;
    const doing = phase === 'write' ? 'sending the request' : 'reading the response';
    return new FastCGISocketError(
      `connection to ${this.#label} failed while ${doing} (${this.#bytesRead} bytes read): ${errno ?? error.message}${hint ? ` (${hint})` : ''}${this.#notRetried()}`,
      {
        target: this.#label,
        phase,
        errno,
        hint,
        bytesRead: this.#bytesRead,
        bytesWritten,
        cause: error,
      },
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
    // The usual poll: one STDOUT record whose headers are the memo's (status-fast-path.ts).
    const memo = this.#core.cgiMemo;
    const buf = this.#stdoutBuf;
    if (buf !== undefined && this.#stdoutMore === undefined) {
      const fast = memoResponse(
        memo,
        buf,
        this.#stdoutStart,
        this.#stdoutEnd,
        stderr,
        appStatus,
        protocolStatus,
      );
      if (fast !== undefined) {
        this.#cleanup(keepSocket);
        this.#resolve(fast);
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
