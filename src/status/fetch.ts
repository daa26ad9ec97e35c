import { performance } from 'node:perf_hooks';
import {
  FastCGITotalTimeoutError,
  FpmkitInvalidOptionError,
  FpmStatusHttpError,
  FpmStatusMisconfiguredError,
  isMisconfiguredKind,
} from '../errors.js';
import { FastCGIClient, type FastCGIResponse, type FastCGITarget } from '../fastcgi/index.js';
import { checkSignal } from '../fastcgi/options.js';
import { MAX_TIMER_MS } from '../fastcgi/timers.js';
import type { FpmStatusError, FpmStatusErrorDetails, FpmStatusErrorKind } from './errors.js';
import type { FpmStatus } from './model.js';
import { STATUS_FORMATS, type StatusFormat } from './names.js';
import { detectStatusFormat, parseStatus } from './parse.js';

/** Defaults of `fetchStatus`, `ping` and `watchStatus`, applied in one place. */
export const STATUS_DEFAULTS = {
  format: 'json',
  full: false,
  path: '/status',
  pingPath: '/ping',
  pingResponse: 'pong',
  timeoutMs: 5_000,
  /** `watchStatus`: milliseconds from the start of one fetch to the start of the next. */
  intervalMs: 1_000,
} as const;

/** Longest status page accepted: ~1,000 bytes per worker, far beyond any pool's size. */
export const MAX_STATUS_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Options of `fetchStatus`. */
export interface FetchStatusOptions {
  /** Format to ask FPM for. @default 'json' */
  format?: StatusFormat | undefined;
  /** Ask for the per-worker list (`?full`). @default false */
  full?: boolean | undefined;
  /** The pool's `pm.status_path`. @default '/status' */
  path?: string | undefined;
  /** Bound on the whole call in milliseconds, the one retry included. @default 5000 */
  timeoutMs?: number | undefined;
  /** Aborts the call with `FpmkitAbortError`. */
  signal?: AbortSignal | undefined;
  /**
   * The pool's `listen` address, when it differs from the target (pm.status_listen). A UNIX
   * path marks the listen-queue fields as not measured. The target itself is not used for this,
   * since a status socket on a UNIX path may report a TCP pool's real queue.
   * @default undefined (decided from the page)
   */
  listen?: string | undefined;
  /** A client to send through (its limits apply); otherwise one is made for this call. */
  client?: FastCGIClient | undefined;
}

/** Options of `ping`. */
export interface PingOptions {
  /** The pool's `ping.path`. @default '/ping' */
  path?: string | undefined;
  /** The pool's `ping.response`. @default 'pong' */
  response?: string | undefined;
  /** Bound on the whole call in milliseconds. @default 5000 */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  client?: FastCGIClient | undefined;
}

/** What `ping` measured. */
export interface PingResult {
  /** True when FPM answered 200 with the expected response text. */
  ok: boolean;
  /** Milliseconds from sending the request to the end of the answer. */
  latencyMs: number;
  /** The body FPM sent (`pong` by default). */
  body: string;
}

/** The query string selecting a format: `json&full`, `full`, `` (text without full), ... */
export function statusQueryString(format: StatusFormat, full: boolean): string {
  const keys: string[] = format === 'text' ? [] : [format];
  if (full) keys.push('full');
  return keys.join('&');
}

/**
 * The FastCGI params FPM needs to serve its status or ping page: `SCRIPT_FILENAME` must be
 * non-empty (FPM matches nothing without it; the file need not exist), `SCRIPT_NAME` must equal
 * the configured path exactly, and `QUERY_STRING` selects the format.
 */
export function statusRequestParams(path: string, query = ''): Record<string, string> {
  return {
    SCRIPT_FILENAME: path,
    SCRIPT_NAME: path,
    REQUEST_METHOD: 'GET',
    QUERY_STRING: query,
    REQUEST_URI: query === '' ? path : `${path}?${query}`,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
}

/** @internal Checks a path option (`path`): FPM compares SCRIPT_NAME with it exactly. */
export function checkPathOption(name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    throw new FpmkitInvalidOptionError(name, "must be a string starting with '/'");
  }
  return value;
}

/** @internal Checks a duration option in milliseconds against `[min, MAX_TIMER_MS]`. */
export function checkMsOption(name: string, value: unknown, min?: number): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (min === undefined ? value > 0 : value >= min) &&
    value <= MAX_TIMER_MS;
  if (!ok) {
    throw new FpmkitInvalidOptionError(
      name,
      `must be a number of milliseconds in ${min === undefined ? '(0' : `[${min}`}, ${MAX_TIMER_MS}]`,
    );
  }
  return value;
}

/** @internal Checks an optional option of a primitive type; `undefined` passes. */
export function checkTypeOption<T>(
  name: string,
  value: T | undefined,
  type: 'string' | 'boolean' | 'function',
): T | undefined {
  if (value !== undefined && typeof value !== type) {
    throw new FpmkitInvalidOptionError(name, `must be a ${type}`);
  }
  return value;
}

/** A status request's options with the defaults applied and every value checked. */
export interface ResolvedStatusOptions {
  format: StatusFormat;
  full: boolean;
  path: string;
  timeoutMs: number;
  listen: string | undefined;
  signal: AbortSignal | undefined;
}

/**
 * @internal Applies `STATUS_DEFAULTS` to the options `fetchStatus` and `watchStatus` share and
 * checks each one, so that a bad value is reported under the name the caller used (never as the
 * FastCGI client option it is forwarded to) before anything is sent.
 */
export function resolveStatusOptions(options: FetchStatusOptions): ResolvedStatusOptions {
  const format = options.format ?? STATUS_DEFAULTS.format;
  if (!STATUS_FORMATS.includes(format)) {
    throw new FpmkitInvalidOptionError('format', `must be one of ${STATUS_FORMATS.join(', ')}`);
  }
  return {
    format,
    full: checkTypeOption('full', options.full, 'boolean') ?? STATUS_DEFAULTS.full,
    path: checkPathOption('path', options.path ?? STATUS_DEFAULTS.path),
    timeoutMs: checkMsOption('timeoutMs', options.timeoutMs ?? STATUS_DEFAULTS.timeoutMs),
    listen: checkTypeOption('listen', options.listen, 'string'),
    signal: checkSignal(options.signal),
  };
}

/** @internal A client bounded as a status request is: every phase by `timeoutMs`. */
export function makeStatusClient(target: FastCGITarget, timeoutMs: number): FastCGIClient {
  return new FastCGIClient(target, {
    connectTimeoutMs: timeoutMs,
    readTimeoutMs: timeoutMs,
    totalTimeoutMs: timeoutMs,
    maxResponseBytes: MAX_STATUS_RESPONSE_BYTES,
  });
}

/** Marks errors that no single directive explains. */
const NO_DIRECTIVE = '';

/** The parts of a FastCGI response `assertStatusResponse` looks at. */
export interface StatusResponseLike {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
  stderr: string;
}

/** The error for a `kind`: a configuration mistake or an HTTP failure. */
function statusError(message: string, details: FpmStatusErrorDetails): FpmStatusError {
  return isMisconfiguredKind(details.kind)
    ? new FpmStatusMisconfiguredError(message, details)
    : new FpmStatusHttpError(message, details);
}

/**
 * Turns an answer that is not the requested page into an `FpmStatusError` naming the likely
 * directive and the fix; returns the body text when the answer is fine. `endpoint` says which
 * page was asked for, since ping and status are configured by different directives.
 */
export function assertStatusResponse(
  response: StatusResponseLike,
  request: { target: string; path: string; endpoint: 'status' | 'ping' },
): string {
  const raw = response.body;
  // Decoded in place: `Buffer.from(view)` would copy the bytes first.
  const body =
    typeof raw === 'string'
      ? raw
      : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  const { stderr, status } = response;
  const directive = request.endpoint === 'status' ? 'pm.status_path' : 'ping.path';
  const what = request.endpoint === 'status' ? 'status page' : 'ping page';
  const fail = (
    kind: FpmStatusErrorKind,
    message: string,
    fix: string,
    dir: string | undefined = directive,
  ): never => {
    throw statusError(message, {
      kind,
      target: request.target,
      path: request.path,
      httpStatus: status,
      directive: dir === NO_DIRECTIVE ? undefined : dir,
      fix,
      body,
      stderr,
    });
  };
  const setIt = `set \`${directive} = ${request.path}\` in the pool (the match is exact: '/status/' is not '/status') and reload FPM, or pass the path the pool has`;
  const text = body.trimStart();
  if (
    stderr.includes('Primary script unknown') ||
    text.startsWith('File not found.') ||
    text.startsWith('No input file specified.')
  ) {
    fail(
      'path-not-configured',
      `${request.target} has no ${what} at '${request.path}': FPM ran the path as a PHP script and found no such file (${directive} is unset or different)`,
      setIt,
    );
  }
  if (text.startsWith('Access denied.') || stderr.includes('security.limit_extensions')) {
    fail(
      'access-denied',
      `${request.target} refused '${request.path}' with "Access denied.": FPM treated it as a PHP script and security.limit_extensions blocked it, so it is not the pool's ${directive}`,
      setIt,
    );
  }
  if (status === 500) {
    fail(
      'server-error',
      `${request.target} answered Status: 500 for '${request.path}': FPM could not read the pool's scoreboard (its error log says why, e.g. "unable to find or access status shared memory")`,
      'retry; if it persists, check the FPM error log and restart the pool',
      NO_DIRECTIVE,
    );
  }
  if (status === 404) {
    fail('not-found', `${request.target} answered Status: 404 for '${request.path}'`, setIt);
  }
  if (status !== 200) {
    fail(
      'unexpected-status',
      `${request.target} answered Status: ${status} for '${request.path}'`,
      `check what serves '${request.path}' on this pool`,
      NO_DIRECTIVE,
    );
  }
  if (request.endpoint === 'status') {
    const contentType = response.headers['content-type'];
    const format = detectStatusFormat(body, contentType);
    const fpmHtml = format !== 'html' || body.includes('<title>PHP-FPM Status Page</title>');
    if (format === undefined || !fpmHtml) {
      fail(
        'not-status-page',
        `${request.target} answered '${request.path}' with something other than FPM's status page (${contentType ?? 'no Content-Type'}): a PHP script or front controller served the path, so it is not the pool's pm.status_path`,
        setIt,
      );
    }
  }
  return body;
}

/**
 * Fetches and parses a pool's status page over FastCGI, straight from FPM (no web server):
 *
 * ```ts
 * const status = await fetchStatus('unix:/run/php/php8.2-fpm.sock', { full: true });
 * ```
 *
 * FPM occasionally answers `Status: 500` when two status requests overlap (its scoreboard is
 * locked); such an answer is retried once, within the same `timeoutMs`. Misconfiguration throws
 * `FpmStatusError`; socket trouble throws the FastCGI errors (`FastCGIConnectError`, ...).
 */
export async function fetchStatus(
  target: FastCGITarget,
  options: FetchStatusOptions = {},
): Promise<FpmStatus> {
  const resolved = resolveStatusOptions(options);
  const client = options.client ?? makeStatusClient(target, resolved.timeoutMs);
  try {
    return await requestStatus(client, resolved, statusParams(resolved));
  } finally {
    if (options.client === undefined) client.close();
  }
}

/** @internal The FastCGI parameters of the status request `options` describe. */
export function statusParams(options: ResolvedStatusOptions): Record<string, string> {
  return statusRequestParams(options.path, statusQueryString(options.format, options.full));
}

/**
 * @internal `fetchStatus`' work once its options are resolved and its parameters made (a caller
 * that asks the same pool again and again keeps both): the request through `client`, retried
 * once after `Status: 500` while time is left, the answer checked and parsed.
 */
export async function requestStatus(
  client: FastCGIClient,
  options: ResolvedStatusOptions,
  params: Record<string, string>,
): Promise<FpmStatus> {
  const { format, path, timeoutMs, listen, signal } = options;
  const deadline = performance.now() + timeoutMs;
  let response = await client.request({ params, signal, timeoutMs });
  if (response.status === 500) {
    const left = deadline - performance.now();
    if (left < 1) {
      throw new FastCGITotalTimeoutError(
        `status retry after Status: 500 had no time left of ${timeoutMs} ms`,
        timeoutMs,
        { target: client.target.label },
      );
    }
    response = await client.request({ params, signal, timeoutMs: left });
  }
  const body = assertStatusResponse(response, {
    target: client.target.label,
    path,
    endpoint: 'status',
  });
  return parseStatus(body, { format, ...(listen === undefined ? {} : { listen }) });
}

/**
 * Sends FPM's ping request and times it. `ok` is false when FPM answers 200 with a body other
 * than `response`; a missing ping path throws `FpmStatusError` (directive `ping.path`).
 *
 * ```ts
 * const { ok, latencyMs } = await ping('127.0.0.1:9000');
 * ```
 */
export async function ping(target: FastCGITarget, options: PingOptions = {}): Promise<PingResult> {
  const path = checkPathOption('path', options.path ?? STATUS_DEFAULTS.pingPath);
  const expected =
    checkTypeOption('response', options.response, 'string') ?? STATUS_DEFAULTS.pingResponse;
  const timeoutMs = checkMsOption('timeoutMs', options.timeoutMs ?? STATUS_DEFAULTS.timeoutMs);
  const signal = checkSignal(options.signal);
  const client = options.client ?? makeStatusClient(target, timeoutMs);
  try {
    const start = performance.now();
    const response: FastCGIResponse = await client.request({
      params: statusRequestParams(path),
      signal,
      timeoutMs,
    });
    const latencyMs = performance.now() - start;
    const body = assertStatusResponse(response, {
      target: client.target.label,
      path,
      endpoint: 'ping',
    });
    return { ok: body.trimEnd() === expected, latencyMs, body };
  } finally {
    if (options.client === undefined) client.close();
  }
}

/**
 * @deprecated Use {@link assertStatusResponse}: it throws or returns the body, like the other
 * `assert*` functions, while `check*` functions return findings.
 */
export const checkStatusResponse = assertStatusResponse;
