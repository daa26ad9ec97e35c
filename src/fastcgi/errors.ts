import { FastCGIProtocolError, FpmkitError, type FpmkitErrorOptions } from '../errors.js';

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
