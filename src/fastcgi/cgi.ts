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

/**
 * Where the header block ends: the index of the newline that ends the last header line, 0 when
 * there are no headers (STDOUT starts with the empty line), or -1 when there is no empty line
 * within the limit. The body starts after the empty line, which {@link bodyStartAfter} finds.
 */
function headerEnd(stdout: Buffer): number {
  // An empty header block: PHP's CGI and FPM SAPIs write a bare CRLF before the body when a
  // script sent no header at all (`default_mimetype` empty and every header removed). RFC 3875
  // section 6.2 requires a header, but web servers serve it as 200, and so does this parser.
  if (stdout[0] === 0x0d && stdout[1] === 0x0a) return 0;
  const limit = Math.min(stdout.length, MAX_CGI_HEADER_BYTES + 4);
  // Headers end at the first empty line; FPM writes CRLF, scripts may write bare LF.
  for (let i = 0; i < limit; i++) {
    if (stdout[i] !== 0x0a) continue;
    if (i === 0 || stdout[i + 1] === 0x0a) return i;
    if (stdout[i + 1] === 0x0d && stdout[i + 2] === 0x0a) return i;
  }
  return -1;
}

/**
 * Where the body starts when `buf[start, end)` begins with the memo's header block followed by
 * the empty line, as an index into `buf`; else -1. The block was the start of an earlier
 * response up to its first empty line, so it holds no empty line itself and the same bytes here
 * end the headers at the same place. Compared in a loop: for a few hundred bytes that is
 * cheaper than Buffer#compare's checks.
 */
export function memoBodyStart(buf: Buffer, start: number, end: number, block: Buffer): number {
  const n = block.length;
  const at = start + n;
  if (end - start <= n || buf[at] !== 0x0a) return -1;
  // Bytes past `end` belong to padding or the next record, never to this response.
  const b1 = at + 1 < end ? buf[at + 1] : -1;
  const b2 = at + 2 < end ? buf[at + 2] : -1;
  if (n !== 0 && b1 !== 0x0a && !(b1 === 0x0d && b2 === 0x0a)) return -1;
  for (let i = 0; i < n; i++) if (buf[start + i] !== block[i]) return -1;
  return n === 0 ? at + 1 : b1 === 0x0a ? at + 2 : at + 3;
}

function bodyStartAfter(stdout: Buffer, end: number): number {
  if (end === 0) return stdout[0] === 0x0d ? 2 : 1;
  return stdout[end + 1] === 0x0a ? end + 2 : end + 3;
}

/** JavaScript's trim() whitespace within Latin-1: tab, LF, VT, FF, CR, space, NBSP. */
function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0;
}

/** True when `text` has an ASCII or Latin-1 capital, i.e. when toLowerCase would change it. */
function hasCapital(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0xde && c !== 0xd7)) return true;
  }
  return false;
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
 * An empty header block (STDOUT starting with the empty line) is a response without headers:
 * status 200, no headers. Throws `FastCGIProtocolError` when there is no empty line at all or a
 * line is not `Name: value`.
 */
export function parseCgiResponse(stdout: Buffer): CgiResponse {
  return parseCgi(stdout, []);
}

/**
 * The last header block a client parsed and what it meant. A status poller gets the same few
 * header bytes on every response; comparing them (one native call) is cheaper than parsing.
 * Holds one copy of at most {@link MAX_MEMO_HEADER_BYTES} bytes.
 */
export interface CgiMemo {
  block: Buffer | undefined;
  status: number;
  statusText: string;
  headers: Readonly<Record<string, string>>;
}

/** Longest header block a {@link CgiMemo} keeps. */
export const MAX_MEMO_HEADER_BYTES = 1024;

/** The response when `stdout` starts with the memo's header block, else undefined. */
function fromMemo(stdout: Buffer, memo: CgiMemo): CgiResponse | undefined {
  if (memo.block === undefined) return undefined;
  const hit = memoBodyStart(stdout, 0, stdout.length, memo.block);
  if (hit < 0) return undefined;
  return {
    status: memo.status,
    statusText: memo.statusText,
    headers: { ...memo.headers },
    rawHeaders: [],
    body: stdout.subarray(hit),
  };
}

/** Keeps the header block `stdout[0, end)` and what it parsed to, for the next response. */
function remember(
  memo: CgiMemo,
  stdout: Buffer,
  end: number,
  status: number,
  statusText: string,
  headers: Record<string, string>,
): void {
  // A copy: `stdout` may be a view into a larger chunk that must not stay alive.
  memo.block = Buffer.from(stdout.subarray(0, end));
  memo.status = status;
  memo.statusText = statusText;
  memo.headers = { ...headers };
}

/**
 * The parser behind {@link parseCgiResponse}; `rawHeaders` is filled only when given. With
 * `memo` (and no `rawHeaders`), a header block identical to the memo's is not parsed again; the
 * caller still gets its own `headers` object.
 */
export function parseCgi(
  stdout: Buffer,
  rawHeaders: Array<[string, string]> | undefined,
  memo?: CgiMemo,
): CgiResponse {
  if (memo !== undefined && rawHeaders === undefined) {
    const hit = fromMemo(stdout, memo);
    if (hit !== undefined) return hit;
  }
  const end = headerEnd(stdout);
  if (end < 0) {
    throw new FastCGIProtocolError(
      stdout.length === 0
        ? 'the response has no CGI headers (STDOUT was empty)'
        : `the response has no CGI header block (no empty line in the first ${Math.min(stdout.length, MAX_CGI_HEADER_BYTES)} bytes)`,
      { offset: 0 },
    );
  }
  // One decode of the header block only (never the body); names and values are then cut out of
  // it by index, trimmed by scanning rather than by slicing twice.
  const block = stdout.toString('latin1', 0, end);
  const headers: Record<string, string> = {};
  let status = 200;
  let statusText = '';
  let sawStatus = false;
  let start = 0;
  const length = block.length;
  while (start <= length) {
    let lineEnd = block.indexOf('\n', start);
    if (lineEnd < 0) lineEnd = length;
    const lineStart = start;
    start = lineEnd + 1;
    if (lineEnd > lineStart && block.charCodeAt(lineEnd - 1) === 13) lineEnd--;
    if (lineEnd === lineStart) continue;
    const colon = block.indexOf(':', lineStart);
    if (colon < 0 || colon >= lineEnd || colon === lineStart) {
      throw new FastCGIProtocolError(
        `malformed CGI header line '${block.slice(lineStart, Math.min(lineEnd, lineStart + 80))}'`,
        { offset: start },
      );
    }
    let nameStart = lineStart;
    let nameEnd = colon;
    while (nameStart < nameEnd && isSpace(block.charCodeAt(nameStart))) nameStart++;
    while (nameEnd > nameStart && isSpace(block.charCodeAt(nameEnd - 1))) nameEnd--;
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isSpace(block.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isSpace(block.charCodeAt(valueEnd - 1))) valueEnd--;
    const name = block.slice(nameStart, nameEnd);
    const value = block.slice(valueStart, valueEnd);
    rawHeaders?.push([name, value]);
    const key = hasCapital(name) ? name.toLowerCase() : name;
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
  if (memo && end <= MAX_MEMO_HEADER_BYTES)
    remember(memo, stdout, end, status, statusText, headers);
  return {
    status,
    statusText,
    headers,
    rawHeaders: rawHeaders ?? [],
    body: stdout.subarray(bodyStartAfter(stdout, end)),
  };
}
