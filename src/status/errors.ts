import { FpmkitError, type FpmkitErrorOptions } from '../errors.js';

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
 * The status or ping endpoint answered, but not with what was asked for. Code
 * `FPMKIT_STATUS_MISCONFIGURED` when the answer shows a configuration mistake (the `directive`
 * and `fix` say which and what to do), `FPMKIT_STATUS_HTTP` for a server error.
 */
export class FpmStatusError extends FpmkitError {
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
  /** The start of the response body. */
  readonly body: string;
  /** The start of what FPM wrote to FCGI_STDERR. */
  readonly stderr: string;

  constructor(message: string, details: FpmStatusErrorDetails) {
    super(
      `${message}. Fix: ${details.fix}`,
      MISCONFIGURED.has(details.kind) ? 'FPMKIT_STATUS_MISCONFIGURED' : 'FPMKIT_STATUS_HTTP',
      details,
    );
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
