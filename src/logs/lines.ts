import { StringDecoder } from 'node:string_decoder';
import { FpmkitInvalidOptionError } from '../errors.js';

/**
 * Longest line kept whole, in UTF-16 code units. FPM caps its lines at `log_limit` (1024 bytes by
 * default) and nginx its error lines at 2048 bytes, so a longer line is garbage or a binary file;
 * keeping its first 64 KiB bounds memory without losing anything a real log holds.
 */
export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024;

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /**
   * Longest line returned, in characters. A longer line is cut to this length and the rest of it,
   * up to the next newline, is dropped, so memory stays bounded whatever the input.
   * @default DEFAULT_MAX_LINE_LENGTH (65536)
   */
  maxLineLength?: number | undefined;
  /**
   * Text encoding of byte chunks. Ignored for string chunks.
   * @default 'utf8'
   */
  encoding?: BufferEncoding | undefined;
}

/**
 * Turns a byte or text stream (a `fs.createReadStream`, a socket, `process.stdin`, or any async
 * iterable of chunks) into an async iterable of lines without their `\n` or `\r\n`. Memory is
 * one chunk plus one partial line (at most `maxLineLength`), whatever the size of the input;
 * a multi-byte character split across chunks is decoded correctly.
 *
 * ```ts
 * for await (const line of readLines(createReadStream('/var/log/nginx/error.log'))) { ... }
 * ```
 */
export async function* readLines(
  input: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  options: ReadLinesOptions = {},
): AsyncGenerator<string, void, undefined> {
  const maxLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  if (!Number.isSafeInteger(maxLength) || maxLength < 1) {
    throw new FpmkitInvalidOptionError('maxLineLength', 'must be a positive integer');
  }
  const encoding = options.encoding ?? 'utf8';
  if (!Buffer.isEncoding(encoding)) {
    throw new FpmkitInvalidOptionError('encoding', 'must be a Node.js Buffer encoding, e.g. utf8');
  }
  const decoder = new StringDecoder(encoding);
  let carry = '';
  // True while dropping the tail of a line that was already cut at maxLength.
  let skipping = false;
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      if (skipping) {
        skipping = false;
      } else {
        let line = carry.length > 0 ? carry + text.slice(start, nl) : text.slice(start, nl);
        carry = '';
        if (line.length > maxLength) line = line.slice(0, maxLength);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        yield line;
      }
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (skipping || start >= text.length) continue;
    const rest = text.slice(start);
    if (carry.length + rest.length > maxLength) {
      yield (carry + rest).slice(0, maxLength);
      carry = '';
      skipping = true;
    } else {
      carry += rest;
    }
  }
  const tail = carry + decoder.end();
  if (!skipping && tail.length > 0) {
    yield tail.endsWith('\r') ? tail.slice(0, -1) : tail;
  }
}

/** Any source of lines a `streamX` function reads: an async or sync iterable of strings. */
export type LineSource = AsyncIterable<string> | Iterable<string>;
