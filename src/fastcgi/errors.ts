import { FpmkitError, type FpmkitErrorOptions } from '../errors.js';

/** Why an application refused a request, from END_REQUEST's `protocolStatus`. */
export type FastCGIRejectReason = 'cant-mpx-conn' | 'overloaded' | 'unknown-role' | 'unknown';

const REASONS: Record<number, { reason: FastCGIRejectReason; text: string }> = {
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
  readonly target: string | undefined;
  readonly protocolStatus: number;
  readonly appStatus: number;
  readonly reason: FastCGIRejectReason;

  constructor(
    protocolStatus: number,
    appStatus: number,
    details: FpmkitErrorOptions & { target?: string | undefined } = {},
  ) {
    const known = REASONS[protocolStatus];
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
