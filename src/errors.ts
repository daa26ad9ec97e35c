/**
 * The fpmkit error family, all in one module. Every error thrown by fpmkit is an `FpmkitError`
 * with a stable `code`; callers branch on the code (or on `isFpmkitError`), never on the message
 * text. Each concrete class carries exactly one code. docs/errors.md lists every code.
 *
 * `instanceof` holds across copies of fpmkit loaded in one process (the ESM and the CommonJS
 * build, or two installed versions): every class brands its prototype with a registered symbol,
 * `Symbol.for('fpmkit.error')` for the family and `Symbol.for('fpmkit.error.<ClassName>')` for
 * each class, and answers `Symbol.hasInstance` by looking for its brand instead of comparing
 * prototypes. The same technique is used by undici (lib/core/errors.js).
 */

import type { Finding } from './findings.js';

/** Stable error codes. Add new codes, never rename one. */
export const ERROR_CODES = [
  'FPMKIT_ERROR',
  'FPMKIT_PARSE',
  'FPMKIT_INVALID_OPTION',
  'FPMKIT_ABORTED',
  'FPMKIT_CONNECT',
  'FPMKIT_SOCKET',
  'FPMKIT_CONNECT_TIMEOUT',
  'FPMKIT_READ_TIMEOUT',
  'FPMKIT_TOTAL_TIMEOUT',
  'FPMKIT_PROTOCOL',
  'FPMKIT_RESPONSE_TOO_LARGE',
  'FPMKIT_IO',
  'FPMKIT_FASTCGI_REJECTED',
  'FPMKIT_STATUS_MISCONFIGURED',
  'FPMKIT_STATUS_HTTP',
  'FPMKIT_SIZING_INFEASIBLE',
  'FPMKIT_APPLY_LOCKED',
  'FPMKIT_APPLY_STALE',
  'FPMKIT_APPLY_REJECTED',
  'FPMKIT_APPLY_FAILED',
  'FPMKIT_MISSING_DEPENDENCY',
  'FPMKIT_LISTENER_NOT_FOUND',
  'FPMKIT_STATUS_NO_ANSWER',
  'FPMKIT_SYSCTL_APPLY',
] as const;

/** Every code an fpmkit error can carry (docs/errors.md). */
export type FpmkitErrorCode = (typeof ERROR_CODES)[number];

/** Options every fpmkit error accepts. */
export interface FpmkitErrorOptions {
  /** The error behind this one, kept on `cause`. */
  cause?: unknown;
}

/** Brand symbol of each fpmkit class, keyed by the class of this copy of fpmkit. */
const BRANDS = new WeakMap<object, symbol>();

/**
 * Marks `cls` as an fpmkit error class named `name`: its prototype carries the registered symbol
 * `fpmkit.error.<name>` (or `fpmkit.error` for the base), which instances of this class and of
 * its subclasses inherit, in whichever copy of fpmkit they were made.
 */
function brand(
  cls: abstract new (...args: never[]) => FpmkitError,
  name: string | undefined,
): void {
  const key = Symbol.for(name === undefined ? 'fpmkit.error' : `fpmkit.error.${name}`);
  Object.defineProperty(cls.prototype, key, { value: true });
  BRANDS.set(cls, key);
}

/** Base class of every error fpmkit throws. Not thrown on its own by fpmkit. */
export class FpmkitError extends Error {
  /** Stable machine-readable code, e.g. `FPMKIT_PARSE`. */
  readonly code: FpmkitErrorCode;

  constructor(
    message: string,
    code: FpmkitErrorCode = 'FPMKIT_ERROR',
    options: FpmkitErrorOptions = {},
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
  }

  /** The class name, e.g. `FastCGIConnectError`. */
  override get name(): string {
    return this.constructor.name;
  }

  /**
   * `value instanceof SomeFpmkitError` is true when `value` carries that class's brand, so it
   * holds for an error made by another copy of fpmkit. A class defined outside fpmkit (a caller's
   * own subclass) keeps the ordinary prototype check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // `this` is the class on the right of `instanceof`, a subclass as often as not.
    // biome-ignore lint/complexity/noThisInStatic: the brand is looked up per subclass
    const key = BRANDS.get(this);
    // biome-ignore lint/complexity/noThisInStatic: the ordinary check, for the same class
    if (key === undefined) return Function.prototype[Symbol.hasInstance].call(this, value);
    return (
      (typeof value === 'object' || typeof value === 'function') &&
      value !== null &&
      (value as Record<symbol, unknown>)[key] === true
    );
  }
}
brand(FpmkitError, undefined);

/**
 * True for any fpmkit error, including one thrown by another copy of fpmkit in the same
 * process (the check is on the code, not on the class identity).
 */
export function isFpmkitError(error: unknown): error is FpmkitError {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('FPMKIT_');
}

/** Where a parse error happened, for {@link FpmkitParseError}. */
export interface FpmkitParseErrorDetails extends FpmkitErrorOptions {
  /** File name or a label for the input (e.g. `'status body'`). */
  source?: string | undefined;
  /** 1-based line number in `source`. */
  line?: number | undefined;
  /** The text of that line, without its newline. */
  lineText?: string | undefined;
}

/** Input that cannot be parsed. Carries where: `source`, `line`, `lineText`. */
export class FpmkitParseError extends FpmkitError {
  declare readonly code: 'FPMKIT_PARSE';
  readonly source: string | undefined;
  readonly line: number | undefined;
  readonly lineText: string | undefined;
  /** The reason without the location prefix. */
  readonly reason: string;

  constructor(reason: string, details: FpmkitParseErrorDetails = {}) {
    const where =
      details.source !== undefined && details.line !== undefined
        ? `[${details.source}:${details.line}] `
        : details.line !== undefined
          ? `[line ${details.line}] `
          : details.source !== undefined
            ? `[${details.source}] `
            : '';
    super(`${where}${reason}`, 'FPMKIT_PARSE', details);
    this.reason = reason;
    this.source = details.source;
    this.line = details.line;
    this.lineText = details.lineText;
  }
}
brand(FpmkitParseError, 'FpmkitParseError');

/** A caller-supplied option or model value breaks a rule. Names the option and the rule. */
export class FpmkitInvalidOptionError extends FpmkitError {
  declare readonly code: 'FPMKIT_INVALID_OPTION';
  /** Dotted path of the offending option, e.g. `pools[0].listen.address`. */
  readonly option: string;
  /** The rule that was broken, in words. */
  readonly rule: string;

  constructor(option: string, rule: string, options: FpmkitErrorOptions = {}) {
    super(`invalid option '${option}': ${rule}`, 'FPMKIT_INVALID_OPTION', options);
    this.option = option;
    this.rule = rule;
  }
}
brand(FpmkitInvalidOptionError, 'FpmkitInvalidOptionError');

/**
 * `renderFpmConfig` was given a model that `php-fpm -t` would refuse (spare servers above
 * `pm.max_children`, no pool at all): nothing was rendered. `option` names the field of the
 * first refusal (`pools[0].pm.maxSpareServers`, `pools` when there is no pool) and `rule` is
 * FPM's message; `refusals` lists them all, as `checkFpmConfig` finds them. Code
 * `FPMKIT_INVALID_OPTION`, like every refused model value.
 */
export class FpmkitFpmRefusedError extends FpmkitInvalidOptionError {
  /** Every error finding `checkFpmConfig` gives for the model, FPM's first one first. */
  readonly refusals: readonly Finding[];

  constructor(option: string, refusals: readonly Finding[], options: FpmkitErrorOptions = {}) {
    const first = refusals[0]?.message ?? 'php-fpm -t would refuse the configuration';
    const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more)` : '';
    super(option, `php-fpm -t would refuse the configuration: ${first}${more}`, options);
    this.refusals = refusals;
  }
}
brand(FpmkitFpmRefusedError, 'FpmkitFpmRefusedError');

/** The operation was aborted through its `AbortSignal`. */
export class FpmkitAbortError extends FpmkitError {
  declare readonly code: 'FPMKIT_ABORTED';

  constructor(message = 'the operation was aborted', options: FpmkitErrorOptions = {}) {
    super(message, 'FPMKIT_ABORTED', options);
  }
}
brand(FpmkitAbortError, 'FpmkitAbortError');

/** Reading a file or directory failed (host readers and injected `readFile`). */
export class FpmkitIoError extends FpmkitError {
  declare readonly code: 'FPMKIT_IO';
  readonly path: string;
  /** errno code such as `ENOENT` or `EACCES`, when there is one. */
  readonly errno: string | undefined;

  constructor(
    path: string,
    message: string,
    options: FpmkitErrorOptions & { errno?: string } = {},
  ) {
    super(`${path}: ${message}`, 'FPMKIT_IO', options);
    this.path = path;
    this.errno = options.errno;
  }
}
brand(FpmkitIoError, 'FpmkitIoError');

/**
 * Thrown by `writeFilesAtomically` without `force` when files exist: nothing was written.
 * `path` is the first of them, `paths` all of them; `errno` is `EEXIST`, the code `FPMKIT_IO`.
 */
export class FpmkitFileExistsError extends FpmkitIoError {
  /** Every existing file, as the directory given joined with its relative path. */
  readonly paths: readonly string[];

  constructor(paths: readonly string[]) {
    super(paths[0] ?? '', `not replacing existing files without force: ${paths.join(', ')}`, {
      errno: 'EEXIST',
    });
    this.paths = paths;
  }
}
brand(FpmkitFileExistsError, 'FpmkitFileExistsError');

/** Phases of a FastCGI exchange, used by timeout and socket errors. */
export type FastCGIPhase = 'connect' | 'write' | 'read' | 'total';

/** Context shared by the FastCGI errors. */
export interface FastCGIErrorDetails extends FpmkitErrorOptions {
  /** The target as given, e.g. `unix:/run/php/php8.2-fpm.sock` or `127.0.0.1:9000`. */
  target?: string | undefined;
  /** Response bytes read before the failure. */
  bytesRead?: number | undefined;
}

/**
 * Connecting to the FastCGI target failed: no connection was made, so the request never reached
 * the server and may be sent again. `errno` is the system code (ENOENT, EACCES, ECONNREFUSED,
 * EAGAIN, ...). A failure after the connection was made is a {@link FastCGISocketError}.
 */
export class FastCGIConnectError extends FpmkitError {
  declare readonly code: 'FPMKIT_CONNECT';
  readonly target: string | undefined;
  /** Always `'connect'`. */
  readonly phase: 'connect';
  readonly errno: string | undefined;
  /** What a person can do about it. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    details: FpmkitErrorOptions & {
      target?: string | undefined;
      errno?: string | undefined;
      hint?: string | undefined;
    } = {},
  ) {
    super(message, 'FPMKIT_CONNECT', details);
    this.target = details.target;
    this.phase = 'connect';
    this.errno = details.errno;
    this.hint = details.hint;
  }
}
brand(FastCGIConnectError, 'FastCGIConnectError');

/**
 * The connection failed after it was made, while the request was being sent (`phase: 'write'`)
 * or the response read (`phase: 'read'`). The server may have received the request and run it:
 * do not send a request again on this error unless running it twice does no harm.
 */
export class FastCGISocketError extends FpmkitError {
  declare readonly code: 'FPMKIT_SOCKET';
  readonly target: string | undefined;
  readonly phase: 'write' | 'read';
  /** The system code, e.g. `ECONNRESET` or `EPIPE`. */
  readonly errno: string | undefined;
  /** What a person can do about it. */
  readonly hint: string | undefined;
  /** Request bytes handed to the socket on this connection before the failure. */
  readonly bytesWritten: number;
  /** Response bytes read on this connection before the failure. */
  readonly bytesRead: number;

  constructor(
    message: string,
    details: FastCGIErrorDetails & {
      phase: 'write' | 'read';
      errno?: string | undefined;
      hint?: string | undefined;
      bytesWritten?: number | undefined;
    },
  ) {
    super(message, 'FPMKIT_SOCKET', details);
    this.target = details.target;
    this.phase = details.phase;
    this.errno = details.errno;
    this.hint = details.hint;
    this.bytesWritten = details.bytesWritten ?? 0;
    this.bytesRead = details.bytesRead ?? 0;
  }
}
brand(FastCGISocketError, 'FastCGISocketError');

/** Codes of the three timeout classes. */
export type FastCGITimeoutCode =
  | 'FPMKIT_CONNECT_TIMEOUT'
  | 'FPMKIT_READ_TIMEOUT'
  | 'FPMKIT_TOTAL_TIMEOUT';

/**
 * A per-phase timeout elapsed. Abstract: what is thrown is one of its three subclasses,
 * {@link FastCGIConnectTimeoutError}, {@link FastCGIReadTimeoutError} or
 * {@link FastCGITotalTimeoutError}; `phase` says which.
 */
export abstract class FastCGITimeoutError extends FpmkitError {
  declare readonly code: FastCGITimeoutCode;
  readonly target: string | undefined;
  readonly phase: 'connect' | 'read' | 'total';
  /** The bound that elapsed, in milliseconds. */
  readonly timeoutMs: number;
  readonly bytesRead: number | undefined;

  constructor(
    message: string,
    timeoutMs: number,
    code: FastCGITimeoutCode,
    phase: 'connect' | 'read' | 'total',
    details: FastCGIErrorDetails,
  ) {
    super(message, code, details);
    this.target = details.target;
    this.phase = phase;
    this.timeoutMs = timeoutMs;
    this.bytesRead = details.bytesRead;
  }
}
brand(FastCGITimeoutError, 'FastCGITimeoutError');

/** The connect timeout elapsed before the connection was made. */
export class FastCGIConnectTimeoutError extends FastCGITimeoutError {
  declare readonly code: 'FPMKIT_CONNECT_TIMEOUT';
  declare readonly phase: 'connect';

  constructor(message: string, timeoutMs: number, details: FastCGIErrorDetails = {}) {
    super(message, timeoutMs, 'FPMKIT_CONNECT_TIMEOUT', 'connect', details);
  }
}
brand(FastCGIConnectTimeoutError, 'FastCGIConnectTimeoutError');

/** The peer sent nothing for the read (idle) timeout. */
export class FastCGIReadTimeoutError extends FastCGITimeoutError {
  declare readonly code: 'FPMKIT_READ_TIMEOUT';
  declare readonly phase: 'read';

  constructor(message: string, timeoutMs: number, details: FastCGIErrorDetails = {}) {
    super(message, timeoutMs, 'FPMKIT_READ_TIMEOUT', 'read', details);
  }
}
brand(FastCGIReadTimeoutError, 'FastCGIReadTimeoutError');

/** The whole call took longer than its total timeout. */
export class FastCGITotalTimeoutError extends FastCGITimeoutError {
  declare readonly code: 'FPMKIT_TOTAL_TIMEOUT';
  declare readonly phase: 'total';

  constructor(message: string, timeoutMs: number, details: FastCGIErrorDetails = {}) {
    super(message, timeoutMs, 'FPMKIT_TOTAL_TIMEOUT', 'total', details);
  }
}
brand(FastCGITotalTimeoutError, 'FastCGITotalTimeoutError');

/** The peer broke the FastCGI protocol (bad version, bad lengths, unexpected record). */
export class FastCGIProtocolError extends FpmkitError {
  declare readonly code: 'FPMKIT_PROTOCOL';
  readonly target: string | undefined;
  readonly recordType: number | undefined;
  readonly requestId: number | undefined;
  /** Byte offset in the response stream where the problem was seen. */
  readonly offset: number | undefined;

  constructor(
    message: string,
    details: FastCGIErrorDetails & {
      recordType?: number | undefined;
      requestId?: number | undefined;
      offset?: number | undefined;
    } = {},
  ) {
    super(message, 'FPMKIT_PROTOCOL', details);
    this.target = details.target;
    this.recordType = details.recordType;
    this.requestId = details.requestId;
    this.offset = details.offset;
  }
}
brand(FastCGIProtocolError, 'FastCGIProtocolError');

/** @internal True when `bytes` start the way an HTTP server's answer does (`HTTP/1.1 400 ...`). */
export function looksLikeHttp(bytes: Uint8Array): boolean {
  // 'H' 'T' 'T' 'P' '/': the first byte, 72, is what a FastCGI reader takes for the version.
  return (
    bytes[0] === 0x48 &&
    bytes[1] === 0x54 &&
    bytes[2] === 0x54 &&
    bytes[3] === 0x50 &&
    bytes[4] === 0x2f
  );
}

/** @internal The first line of `bytes` as printable ASCII, at most 80 characters, for messages. */
export function firstLinePreview(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length && out.length < 80; i++) {
    const c = bytes[i]!;
    if (c === 0x0d || c === 0x0a) break;
    out += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return out;
}

/**
 * The target answered like an HTTP server, not a FastCGI responder: its first bytes are an
 * HTTP status line (`HTTP/1.1 400 Bad Request`), typically because the address is a web
 * server's port (nginx, Apache) rather than PHP-FPM's `listen`. Code `FPMKIT_PROTOCOL`, like
 * every protocol error; `peerProtocol` is `'http'` so callers can tell this case apart without
 * `instanceof`.
 */
export class FastCGIHttpPeerError extends FastCGIProtocolError {
  readonly peerProtocol = 'http' as const;
  /**
   * The start of the first line the peer sent, printable ASCII, e.g. `HTTP/1.1 400 Bad
   * Request`: as much of it as had arrived (at least `HTTP/` and three more bytes).
   */
  readonly statusLine: string;

  constructor(
    firstBytes: Uint8Array,
    details: { target?: string | undefined; offset?: number | undefined } = {},
  ) {
    const line = firstLinePreview(firstBytes);
    super(
      `${details.target ? `${details.target}: ` : ''}the target answered '${line}': it looks like an HTTP server (a web server's port), not a FastCGI responder; use the address in the pool's listen directive (a UNIX socket path or host:port of PHP-FPM)`,
      { target: details.target, offset: details.offset ?? 0 },
    );
    this.statusLine = line;
  }
}
brand(FastCGIHttpPeerError, 'FastCGIHttpPeerError');

/** The response grew past `maxResponseBytes`; the connection was closed. */
export class FastCGIResponseTooLargeError extends FpmkitError {
  declare readonly code: 'FPMKIT_RESPONSE_TOO_LARGE';
  readonly target: string | undefined;
  readonly limitBytes: number;
  readonly bytesRead: number;

  constructor(limitBytes: number, bytesRead: number, details: FastCGIErrorDetails = {}) {
    super(
      `response exceeded maxResponseBytes (${limitBytes} bytes) after ${bytesRead} bytes`,
      'FPMKIT_RESPONSE_TOO_LARGE',
      details,
    );
    this.target = details.target;
    this.limitBytes = limitBytes;
    this.bytesRead = bytesRead;
  }
}
brand(FastCGIResponseTooLargeError, 'FastCGIResponseTooLargeError');

/** Why an application refused a request, from END_REQUEST's `protocolStatus`. */
export type FastCGIRejectReason = 'cant-mpx-conn' | 'overloaded' | 'unknown-role' | 'unknown';

const REJECT_REASONS: Record<number, { reason: FastCGIRejectReason; text: string }> = {
  1: {
    reason: 'cant-mpx-conn',
    text: 'the application cannot multiplex connections (FCGI_CANT_MPX_CONN)',
  },
  2: {
    reason: 'overloaded',
    text: 'the application is overloaded (FCGI_OVERLOADED); retry later or add capacity',
  },
  3: {
    reason: 'unknown-role',
    text: 'the application does not serve this role (FCGI_UNKNOWN_ROLE)',
  },
};

/**
 * The application ended the request with a `protocolStatus` other than REQUEST_COMPLETE.
 * PHP-FPM never does this; other FastCGI servers may. Code `FPMKIT_FASTCGI_REJECTED`.
 */
export class FastCGIRequestRejectedError extends FpmkitError {
  declare readonly code: 'FPMKIT_FASTCGI_REJECTED';
  readonly target: string | undefined;
  readonly protocolStatus: number;
  readonly appStatus: number;
  readonly reason: FastCGIRejectReason;

  constructor(
    protocolStatus: number,
    appStatus: number,
    details: FpmkitErrorOptions & { target?: string | undefined } = {},
  ) {
    const known = REJECT_REASONS[protocolStatus];
    super(
      `${details.target ?? 'the FastCGI server'} rejected the request: ${known?.text ?? `unknown protocolStatus ${protocolStatus}`}`,
      'FPMKIT_FASTCGI_REJECTED',
      details,
    );
    this.target = details.target;
    this.protocolStatus = protocolStatus;
    this.appStatus = appStatus;
    this.reason = known?.reason ?? 'unknown';
  }
}
brand(FastCGIRequestRejectedError, 'FastCGIRequestRejectedError');

/** Why a status or ping request did not return the page. */
export type FpmStatusErrorKind =
  /** FPM ran the path as a script and found none ("File not found.", "Primary script unknown"). */
  | 'path-not-configured'
  /** FPM ran the path as a script and security.limit_extensions refused it ("Access denied."). */
  | 'access-denied'
  /** `Status: 404` without FPM's script-not-found body. */
  | 'not-found'
  /** A 200 answer that is not FPM's status page (a PHP script or a web server page). */
  | 'not-status-page'
  /** `Status: 500` (FPM could not read its scoreboard), after the one retry. */
  | 'server-error'
  /** Any other non-200 status. */
  | 'unexpected-status';

/** Kinds that mean the pool or the request path is misconfigured. */
const MISCONFIGURED: ReadonlySet<FpmStatusErrorKind> = new Set([
  'path-not-configured',
  'access-denied',
  'not-found',
  'not-status-page',
]);

/** @internal True when `kind` is a configuration mistake ({@link FpmStatusMisconfiguredError}). */
export function isMisconfiguredKind(kind: FpmStatusErrorKind): boolean {
  return MISCONFIGURED.has(kind);
}

/** What a status error carries; see the properties of {@link FpmStatusError}. */
export interface FpmStatusErrorDetails extends FpmkitErrorOptions {
  kind: FpmStatusErrorKind;
  target: string;
  path: string;
  httpStatus: number;
  directive?: string | undefined;
  fix: string;
  body: string;
  stderr: string;
}

/** Longest body and stderr excerpt kept on the error. */
const EXCERPT_CHARS = 200;

/**
 * The status or ping endpoint answered, but not with what was asked for. Abstract: what is
 * thrown is {@link FpmStatusMisconfiguredError} (`FPMKIT_STATUS_MISCONFIGURED`) when the answer
 * shows a configuration mistake (the `directive` and `fix` say which and what to do), or
 * {@link FpmStatusHttpError} (`FPMKIT_STATUS_HTTP`) for a server error.
 */
export abstract class FpmStatusError extends FpmkitError {
  declare readonly code: 'FPMKIT_STATUS_MISCONFIGURED' | 'FPMKIT_STATUS_HTTP';
  readonly kind: FpmStatusErrorKind;
  /** The FastCGI target, e.g. `unix:/run/php/www.sock`. */
  readonly target: string;
  /** The status or ping path that was requested. */
  readonly path: string;
  /** HTTP status from FPM's `Status:` header (200 when it sent none). */
  readonly httpStatus: number;
  /** The FPM directive most likely at fault, e.g. `pm.status_path`. */
  readonly directive: string | undefined;
  /** What to change, in words. */
  readonly fix: string;
  /** The start of the response body (at most 200 characters). */
  readonly body: string;
  /** The start of what FPM wrote to FCGI_STDERR (at most 200 characters). */
  readonly stderr: string;

  constructor(
    message: string,
    code: 'FPMKIT_STATUS_MISCONFIGURED' | 'FPMKIT_STATUS_HTTP',
    details: FpmStatusErrorDetails,
  ) {
    super(`${message}. Fix: ${details.fix}`, code, details);
    this.kind = details.kind;
    this.target = details.target;
    this.path = details.path;
    this.httpStatus = details.httpStatus;
    this.directive = details.directive;
    this.fix = details.fix;
    this.body = details.body.slice(0, EXCERPT_CHARS);
    this.stderr = details.stderr.slice(0, EXCERPT_CHARS);
  }
}
brand(FpmStatusError, 'FpmStatusError');

/**
 * The status or ping answer shows a configuration mistake: the path is not configured, refused
 * by `security.limit_extensions`, not found, or answered by something other than FPM's page.
 */
export class FpmStatusMisconfiguredError extends FpmStatusError {
  declare readonly code: 'FPMKIT_STATUS_MISCONFIGURED';

  constructor(message: string, details: FpmStatusErrorDetails) {
    super(message, 'FPMKIT_STATUS_MISCONFIGURED', details);
  }
}
brand(FpmStatusMisconfiguredError, 'FpmStatusMisconfiguredError');

/** The status page answered `Status: 500` twice (after one retry) or another unexpected status. */
export class FpmStatusHttpError extends FpmStatusError {
  declare readonly code: 'FPMKIT_STATUS_HTTP';

  constructor(message: string, details: FpmStatusErrorDetails) {
    super(message, 'FPMKIT_STATUS_HTTP', details);
  }
}
brand(FpmStatusHttpError, 'FpmStatusHttpError');

/** Why a plan cannot be made; `pool` is absent for host-wide reasons. */
export interface InfeasibleReason {
  /**
   * `cpu-saturated`: the pools' CPU work exceeds the cores; `cpu-bound-target`: the target
   * needs more children than the cores can run; `memory`: the children needed do not fit the
   * memory budget.
   */
  code: 'cpu-saturated' | 'cpu-bound-target' | 'memory';
  pool?: string;
  message: string;
  /** The figures behind the reason. */
  evidence: Record<string, number | string>;
}

/**
 * The demand cannot be met with the resources given. A plan is refused rather than squeezed;
 * `reasons` lists every cause, not the first. Code `FPMKIT_SIZING_INFEASIBLE`.
 */
export class FpmkitInfeasiblePlanError extends FpmkitError {
  declare readonly code: 'FPMKIT_SIZING_INFEASIBLE';
  readonly reasons: InfeasibleReason[];

  constructor(reasons: InfeasibleReason[], options: FpmkitErrorOptions = {}) {
    super(
      `no feasible plan: ${reasons.map((r) => (r.pool ? `[${r.pool}] ${r.message}` : r.message)).join('; ')}`,
      'FPMKIT_SIZING_INFEASIBLE',
      options,
    );
    this.reasons = reasons;
  }
}
brand(FpmkitInfeasiblePlanError, 'FpmkitInfeasiblePlanError');

/**
 * Another apply holds the lock of this configuration and did not release it within the wait.
 * `holderPid` is the process that holds it, `lockPath` the lock file. Nothing was changed.
 */
export class FpmkitApplyLockedError extends FpmkitError {
  declare readonly code: 'FPMKIT_APPLY_LOCKED';
  readonly lockPath: string;
  readonly holderPid: number | undefined;
  constructor(lockPath: string, holderPid: number | undefined, waitedMs: number) {
    super(
      `another apply (pid ${holderPid ?? 'unknown'}) holds ${lockPath}; waited ${waitedMs} ms`,
      'FPMKIT_APPLY_LOCKED',
    );
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}
brand(FpmkitApplyLockedError, 'FpmkitApplyLockedError');

/**
 * A file of the configuration is not what the plan was made from: it changed on disk since.
 * `path` names it. Nothing was written.
 */
export class FpmkitApplyStaleError extends FpmkitError {
  declare readonly code: 'FPMKIT_APPLY_STALE';
  readonly path: string;
  constructor(path: string) {
    super(`${path} changed on disk since the plan was made; plan again`, 'FPMKIT_APPLY_STALE');
    this.path = path;
  }
}
brand(FpmkitApplyStaleError, 'FpmkitApplyStaleError');

/**
 * The staged configuration was refused by `php-fpm -t` (or by fpmkit's own check where no
 * binary was found). `output` is what the check printed, `validator` which check ran. Nothing
 * was written and no signal sent.
 */
export class FpmkitApplyRejectedError extends FpmkitError {
  declare readonly code: 'FPMKIT_APPLY_REJECTED';
  readonly output: string;
  readonly validator: 'php-fpm' | 'fpmkit';
  constructor(validator: 'php-fpm' | 'fpmkit', output: string) {
    super(
      `the changed configuration was refused by ${validator === 'php-fpm' ? 'php-fpm -t' : "fpmkit's check"}: ${output.trim().split('\n').slice(-3).join(' | ')}`,
      'FPMKIT_APPLY_REJECTED',
    );
    this.output = output;
    this.validator = validator;
  }
}
brand(FpmkitApplyRejectedError, 'FpmkitApplyRejectedError');

/**
 * The change was written and signalled but did not verify; the previous files were put back.
 * `problems` says what failed (first the new configuration, then the restored one);
 * `restoredVerified` is true when the restored configuration verified.
 */
export class FpmkitApplyFailedError extends FpmkitError {
  declare readonly code: 'FPMKIT_APPLY_FAILED';
  readonly problems: readonly string[];
  readonly restoredVerified: boolean;
  constructor(
    problems: readonly string[],
    restoredVerified: boolean,
    options: { cause?: unknown } = {},
  ) {
    super(
      `the change did not verify and was rolled back (${restoredVerified ? 'the previous configuration verified' : 'the previous configuration did NOT verify'}): ${problems.join('; ')}`,
      'FPMKIT_APPLY_FAILED',
      options,
    );
    this.problems = problems;
    this.restoredVerified = restoredVerified;
  }
}
brand(FpmkitApplyFailedError, 'FpmkitApplyFailedError');

/** One key of a sysctl.d file whose value the kernel reports otherwise after `sysctl -p`. */
export interface SysctlMismatch {
  /** The sysctl key, dotted (`net.core.somaxconn`). */
  key: string;
  /** The value the file sets. */
  value: string;
  /** The value read back from /proc/sys. */
  live: string;
}

/**
 * `applySysctlFile` wrote the file but the kernel did not take it: `sysctl -p` failed
 * (`mismatched` is empty; `output` is what it printed), or it ran and a key reads back
 * otherwise (`mismatched` says which; a value above the kernel's limit, or a setting of
 * another network namespace). The file stays as written; `path` names it.
 */
export class FpmkitSysctlApplyError extends FpmkitError {
  declare readonly code: 'FPMKIT_SYSCTL_APPLY';
  readonly path: string;
  readonly output: string;
  readonly mismatched: readonly SysctlMismatch[];
  constructor(
    path: string,
    output: string,
    mismatched: readonly SysctlMismatch[],
    options: FpmkitErrorOptions = {},
  ) {
    super(
      mismatched.length === 0
        ? `${path} was written, but sysctl -p failed: ${output.trim()}`
        : `${path} was written and loaded, but ${mismatched.map((m) => `${m.key} reads ${m.live}, not ${m.value}`).join('; ')}`,
      'FPMKIT_SYSCTL_APPLY',
      options,
    );
    this.path = path;
    this.output = output;
    this.mismatched = mismatched;
  }
}
brand(FpmkitSysctlApplyError, 'FpmkitSysctlApplyError');

/**
 * A function needs an optional peer dependency that is not installed (`registerPromClientMetrics`
 * without `prom-client`). `dependency` names the package. Code `FPMKIT_MISSING_DEPENDENCY`.
 */
export class FpmkitMissingDependencyError extends FpmkitError {
  declare readonly code: 'FPMKIT_MISSING_DEPENDENCY';
  /** The npm package to install. */
  readonly dependency: string;

  constructor(dependency: string, message: string, options: FpmkitErrorOptions = {}) {
    super(message, 'FPMKIT_MISSING_DEPENDENCY', options);
    this.dependency = dependency;
  }
}
brand(FpmkitMissingDependencyError, 'FpmkitMissingDependencyError');

/**
 * The kernel's socket tables (`/proc/net/unix`, `/proc/net/tcp{,6}`) of this network namespace
 * list no listener for the address: FPM is not listening there, runs on another host, or in
 * another network namespace. `listen` names the address as FPM's `listen` would. Code
 * `FPMKIT_LISTENER_NOT_FOUND`.
 */
export class FpmkitListenerNotFoundError extends FpmkitError {
  declare readonly code: 'FPMKIT_LISTENER_NOT_FOUND';
  /** The listen address looked for: an absolute socket path or `host:port`. */
  readonly listen: string;

  constructor(listen: string, message: string, options: FpmkitErrorOptions = {}) {
    super(message, 'FPMKIT_LISTENER_NOT_FOUND', options);
    this.listen = listen;
  }
}
brand(FpmkitListenerNotFoundError, 'FpmkitListenerNotFoundError');

/**
 * A status request was sent but neither its answer nor its own error came within the wait: it is
 * still in flight (usually queued behind busy workers, or a worker hangs). `waitedMs` is how long
 * it had waited, in milliseconds. Code `FPMKIT_STATUS_NO_ANSWER`.
 */
export class FpmStatusNoAnswerError extends FpmkitError {
  declare readonly code: 'FPMKIT_STATUS_NO_ANSWER';
  /** Milliseconds the request had waited when the wait ended. */
  readonly waitedMs: number | undefined;

  constructor(message: string, waitedMs?: number, options: FpmkitErrorOptions = {}) {
    super(message, 'FPMKIT_STATUS_NO_ANSWER', options);
    this.waitedMs = waitedMs;
  }
}
brand(FpmStatusNoAnswerError, 'FpmStatusNoAnswerError');
