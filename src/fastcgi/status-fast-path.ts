import { type CgiMemo, memoBodyStart } from './cgi.js';
import type { FastCGIResponse } from './options.js';
import { encodeRequest } from './records.js';

/*
 * The two shortcuts that make polling a status page cheap. A poller sends the same body-less
 * request again and again, and FPM answers each with the same CGI header block in one STDOUT
 * record; both facts are used here, and nothing else in the client depends on them. Each
 * shortcut checks its precondition exactly and falls back to the general path when it does not
 * hold, so a response is the same with or without them.
 */

/**
 * Encoded bytes of the last body-less request, reused when the next one has the same param
 * names and values in the same order: comparing a few strings is cheaper than encoding and
 * allocating again.
 */
export class RequestBytesCache {
  readonly #requestId: number;
  readonly #keepConn: boolean;
  /** The last params as name, value, name, value, ... */
  #params: string[] | undefined;
  #bytes: Buffer | undefined;

  constructor(requestId: number, keepConn: boolean) {
    this.#requestId = requestId;
    this.#keepConn = keepConn;
  }

  /** The encoded request (BEGIN_REQUEST, PARAMS, empty STDIN) for `params`. */
  encode(params: Readonly<Record<string, string>>): Buffer {
    const cached = this.#params;
    if (cached && this.#bytes) {
      let i = 0;
      let same = true;
      for (const name in params) {
        if (!Object.hasOwn(params, name)) continue;
        if (cached[i] !== name || cached[i + 1] !== params[name]) {
          same = false;
          break;
        }
        i += 2;
      }
      if (same && i === cached.length) return this.#bytes;
    }
    const bytes = encodeRequest({ requestId: this.#requestId, keepConn: this.#keepConn, params });
    const flat: string[] = [];
    for (const name in params) if (Object.hasOwn(params, name)) flat.push(name, params[name]!);
    this.#params = flat;
    this.#bytes = bytes;
    return bytes;
  }
}

/**
 * The usual poll answer without parsing: when the whole STDOUT is the one record
 * `buf[start, end)` and it starts with the header block of the previous response (kept in
 * `memo` by `parseCgi`), the response is the memo's status and headers (copied) with a view of
 * the body. Returns undefined when that does not hold; the caller then parses as usual.
 */
export function memoResponse(
  memo: CgiMemo,
  buf: Buffer,
  start: number,
  end: number,
  stderr: string,
  appStatus: number,
  protocolStatus: number,
): FastCGIResponse | undefined {
  if (memo.block === undefined) return undefined;
  const bodyStart = memoBodyStart(buf, start, end, memo.block);
  if (bodyStart < 0) return undefined;
  return {
    status: memo.status,
    headers: { ...memo.headers },
    body: buf.subarray(bodyStart, end),
    stderr,
    appStatus,
    protocolStatus,
  };
}
