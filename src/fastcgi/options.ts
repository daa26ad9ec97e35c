import { FpmkitInvalidOptionError } from '../errors.js';
import { MAX_TIMER_MS } from './timers.js';

/** Options of {@link FastCGIClient}. Every duration is in milliseconds. */
export interface FastCGIClientOptions {
  /** Longest wait for the connection to be established. @default 5000 */
  connectTimeoutMs?: number | undefined;
  /**
   * Longest silence while waiting for response bytes (an idle timer, restarted by every chunk).
   * @default 30000
   */
  readTimeoutMs?: number | undefined;
  /**
   * Bound on a whole call, from `request()` to the parsed response, including time spent
   * waiting for a free slot under `maxConcurrency`. `request({ timeoutMs })` overrides it.
   * @default 60000
   */
  totalTimeoutMs?: number | undefined;
  /** Most STDOUT + STDERR bytes buffered for one response; more fails the call. @default 8 MiB */
  maxResponseBytes?: number | undefined;
  /**
   * Reuse connections (FCGI_KEEP_CONN). Off by default because on PHP-FPM every kept
   * connection pins one worker in state "Reading headers" between requests, counted as active
   * and killed by `request_terminate_timeout`. A request that fails on a kept connection is
   * sent again on a new one only when that cannot run it twice: the connection was dead before
   * the request was written, or the request is GET/HEAD without a body and nothing was read.
   * @default false
   */
  keepAlive?: boolean | undefined;
  /** Most requests in flight at once on this client; more wait in FIFO order. @default 16 */
  maxConcurrency?: number | undefined;
  /**
   * Bound on a whole `getValues()` call, replacing `totalTimeoutMs` there; its own
   * `timeoutMs` overrides it. Short because some servers never answer FCGI_GET_VALUES (see
   * {@link GET_VALUES_TIMEOUT_MS}).
   * @default 2000
   */
  getValuesTimeoutMs?: number | undefined;
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

/** Request id used for every request: FPM serves one request per connection at a time. */
export const REQUEST_ID = 1;

/** @internal Checks a duration option in milliseconds against `(0, MAX_TIMER_MS]`. */
export function checkMs(name: string, value: number): number {
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

/** @internal Checks a request's `params` and `stdin` under those names, before anything encodes them. */
export function checkRequestBody(options: FastCGIRequestOptions): void {
  const { params, stdin } = options as { params: unknown; stdin: unknown };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new FpmkitInvalidOptionError('params', 'must be an object of string names and values');
  }
  if (stdin !== undefined && typeof stdin !== 'string' && !(stdin instanceof Uint8Array)) {
    throw new FpmkitInvalidOptionError('stdin', 'must be a string or a Uint8Array');
  }
}
