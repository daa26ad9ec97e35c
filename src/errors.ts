/**
 * The fpmkit error family. Every error thrown by fpmkit is an `FpmkitError` with a stable
 * `code`; callers branch on the code (or on `isFpmkitError`), never on the message text.
 * docs/errors.md lists every code.
 */

/** Stable error codes. Add new codes, never rename one. */
export const ERROR_CODES = [
  'FPMKIT_ERROR',
  'FPMKIT_PARSE',
  'FPMKIT_INVALID_OPTION',
  'FPMKIT_ABORTED',
  'FPMKIT_CONNECT',
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
  'FPMKIT_MISSING_DEPENDENCY',
] as const;

export type FpmkitErrorCode = (typeof ERROR_CODES)[number];

export interface FpmkitErrorOptions {
  cause?: unknown;
}

/** Base class of every error fpmkit throws. */
export class FpmkitError extends Error {
  /** Stable machine-readable code, e.g. `FPMKIT_PARSE`. */
  readonly code: string;

  constructor(message: string, code: string = 'FPMKIT_ERROR', options: FpmkitErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * True for any fpmkit error, including one thrown by another copy of fpmkit in the same
 * process (the check is on the code, not on the class identity).
 */
export function isFpmkitError(error: unknown): error is FpmkitError {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  return error instanceof Error && typeof code === 'string' && code.startsWith('FPMKIT_');
}

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

/** A caller-supplied option or model value breaks a rule. Names the option and the rule. */
export class FpmkitInvalidOptionError extends FpmkitError {
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

/** The operation was aborted through its `AbortSignal`. */
export class FpmkitAbortError extends FpmkitError {
  constructor(message = 'the operation was aborted', options: FpmkitErrorOptions = {}) {
    super(message, 'FPMKIT_ABORTED', options);
  }
}

/** Reading a file or directory failed (host readers and injected `readFile`). */
export class FpmkitIoError extends FpmkitError {
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

/** Phases of a FastCGI exchange, used by timeout and socket errors. */
export type FastCGIPhase = 'connect' | 'write' | 'read' | 'total';

export interface FastCGIErrorDetails extends FpmkitErrorOptions {
  /** The target as given, e.g. `unix:/run/php/php8.2-fpm.sock` or `127.0.0.1:9000`. */
  target?: string | undefined;
  phase?: FastCGIPhase | undefined;
  /** Response bytes read before the failure. */
  bytesRead?: number | undefined;
}

/** Connecting to the FastCGI target failed. `errno` is the system code (ENOENT, EACCES, ...). */
export class FastCGIConnectError extends FpmkitError {
  readonly target: string | undefined;
  readonly phase: FastCGIPhase;
  readonly errno: string | undefined;
  /** What a person can do about it. */
  readonly hint: string | undefined;

  constructor(
    message: string,
    details: FastCGIErrorDetails & { errno?: string | undefined; hint?: string | undefined } = {},
  ) {
    super(message, 'FPMKIT_CONNECT', details);
    this.target = details.target;
    this.phase = details.phase ?? 'connect';
    this.errno = details.errno;
    this.hint = details.hint;
  }
}

/** A per-phase timeout elapsed. `phase` says which: connect, read (idle) or total. */
export class FastCGITimeoutError extends FpmkitError {
  readonly target: string | undefined;
  readonly phase: FastCGIPhase;
  readonly timeoutMs: number;
  readonly bytesRead: number | undefined;

  constructor(message: string, timeoutMs: number, details: FastCGIErrorDetails = {}) {
    const phase = details.phase ?? 'total';
    const code =
      phase === 'connect'
        ? 'FPMKIT_CONNECT_TIMEOUT'
        : phase === 'total'
          ? 'FPMKIT_TOTAL_TIMEOUT'
          : 'FPMKIT_READ_TIMEOUT';
    super(message, code, details);
    this.target = details.target;
    this.phase = phase;
    this.timeoutMs = timeoutMs;
    this.bytesRead = details.bytesRead;
  }
}

/** The peer broke the FastCGI protocol (bad version, bad lengths, unexpected record). */
export class FastCGIProtocolError extends FpmkitError {
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

/** The response grew past `maxResponseBytes`; the connection was closed. */
export class FastCGIResponseTooLargeError extends FpmkitError {
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
