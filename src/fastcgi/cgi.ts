import { FastCGIProtocolError } from '../errors.js';

/** A CGI response split into its status, headers and body. */
export interface CgiResponse {
  /** HTTP status: the `Status:` header's code, 302 for a bare `Location:`, otherwise 200. */
  status: number;
  /** Reason phrase from `Status:` (e.g. `Not Found`), empty when there was none. */
  statusText: string;
  /** Header names in lower case; repeated headers joined with `, ` (`set-cookie` with `\n`). */
  headers: Record<string, string>;
  /** Headers as sent, in order, names as written. */
  rawHeaders: Array<[string, string]>;
  /** The body: a view into the buffer that was parsed. */
  body: Buffer;
}

/** Longest header block accepted; FPM's headers are a few hundred bytes. */
export const MAX_CGI_HEADER_BYTES = 64 * 1024;

function headerEnd(stdout: Buffer): { end: number; bodyStart: number } | undefined {
  const limit = Math.min(stdout.length, MAX_CGI_HEADER_BYTES + 4);
  // Headers end at the first empty line; FPM writes CRLF, scripts may write bare LF.
  for (let i = 0; i < limit; i++) {
    if (stdout[i] !== 0x0a) continue;
    if (i === 0) return { end: 0, bodyStart: 1 };
    if (stdout[i + 1] === 0x0a) return { end: i, bodyStart: i + 2 };
    if (stdout[i + 1] === 0x0d && stdout[i + 2] === 0x0a) return { end: i, bodyStart: i + 3 };
  }
  return undefined;
}

/**
 * Parses the CGI header block a FastCGI responder writes at the start of STDOUT (RFC 3875
 * section 6), e.g. from PHP-FPM's status page:
 *
 * ```
 * Status: 404 Not Found
 * Content-type: text/plain;charset=UTF-8
 *
 * File not found.
 * ```
 *
 * Throws `FastCGIProtocolError` when there is no header block or a line is not `Name: value`.
 */
export function parseCgiResponse(stdout: Buffer): CgiResponse {
  return parseCgi(stdout, []);
}

/** The parser behind {@link parseCgiResponse}; `rawHeaders` is filled only when given. */
export function parseCgi(
  stdout: Buffer,
  rawHeaders: Array<[string, string]> | undefined,
): CgiResponse {
  const found = headerEnd(stdout);
  if (!found) {
    throw new FastCGIProtocolError(
      stdout.length === 0
        ? 'the response has no CGI headers (STDOUT was empty)'
        : `the response has no CGI header block (no empty line in the first ${Math.min(stdout.length, MAX_CGI_HEADER_BYTES)} bytes)`,
      { offset: 0 },
    );
  }
  const block = stdout.toString('latin1', 0, found.end);
  const headers: Record<string, string> = {};
  let status = 200;
  let statusText = '';
  let sawStatus = false;
  let start = 0;
  while (start <= block.length) {
    let end = block.indexOf('\n', start);
    if (end < 0) end = block.length;
    const line =
      block.charCodeAt(end - 1) === 13 ? block.slice(start, end - 1) : block.slice(start, end);
    start = end + 1;
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      throw new FastCGIProtocolError(`malformed CGI header line '${line.slice(0, 80)}'`, {
        offset: start,
      });
    }
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    rawHeaders?.push([name, value]);
    const key = name.toLowerCase();
    if (key === 'status') {
      const match = /^(\d{3})(?:\s+(.*))?$/.exec(value);
      if (!match) {
        throw new FastCGIProtocolError(`malformed Status header '${value.slice(0, 80)}'`, {
          offset: 0,
        });
      }
      status = Number(match[1]);
      statusText = match[2] ?? '';
      sawStatus = true;
      continue;
    }
    const previous = headers[key];
    headers[key] =
      previous === undefined ? value : `${previous}${key === 'set-cookie' ? '\n' : ', '}${value}`;
  }
  if (!sawStatus && headers.location !== undefined) status = 302;
  return {
    status,
    statusText,
    headers,
    rawHeaders: rawHeaders ?? [],
    body: stdout.subarray(found.bodyStart),
  };
}
