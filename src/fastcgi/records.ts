/**
 * FastCGI 1.0 record codec: record headers, BEGIN_REQUEST, name-value pairs, PARAMS streams and
 * an incremental decoder that accepts chunks split anywhere.
 *
 * Specification: https://fastcgi-archives.github.io/FastCGI_Specification.html (sections 3 and 5).
 * What PHP-FPM accepts in practice is in `main/fastcgi.c` of php-src.
 */
import { FastCGIProtocolError, FpmkitInvalidOptionError } from '../errors.js';
import { FastCGIHttpPeerError, firstLinePreview, looksLikeHttp } from './errors.js';

/** The only protocol version there is. */
export const FCGI_VERSION = 1;
/** Every record starts with an 8-byte header. */
export const FCGI_HEADER_LENGTH = 8;
/** contentLength is a 16-bit field. */
export const FCGI_MAX_CONTENT_LENGTH = 0xffff;
/** Records we write carry at most this much content: the largest multiple of 8 that fits. */
export const FCGI_CHUNK_LENGTH = 0xfff8;
/** BEGIN_REQUEST flag asking the application to keep the connection open after the request. */
export const FCGI_KEEP_CONN = 1;
/** Request id of management records (GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE). */
export const FCGI_NULL_REQUEST_ID = 0;

/** Record types (`type` byte of the header). */
export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;
/** One of the {@link RecordType} numbers, the `type` byte of a record header. */
export type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

/** Roles of BEGIN_REQUEST. FPM serves all three as a responder. */
export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;
/** One of the {@link Role} numbers, the `role` field of BEGIN_REQUEST. */
export type RoleValue = (typeof Role)[keyof typeof Role];

/** `protocolStatus` of END_REQUEST. FPM only ever sends REQUEST_COMPLETE. */
export const ProtocolStatus = {
  REQUEST_COMPLETE: 0,
  CANT_MPX_CONN: 1,
  OVERLOADED: 2,
  UNKNOWN_ROLE: 3,
} as const;
/** One of the {@link ProtocolStatus} numbers (FastCGI 1.0, section 5.5). */
export type ProtocolStatusValue = (typeof ProtocolStatus)[keyof typeof ProtocolStatus];

/** Name of a record type for messages, e.g. `STDOUT (6)`. */
export function recordTypeName(type: number): string {
  for (const [name, value] of Object.entries(RecordType)) {
    if (value === type) return `${name} (${type})`;
  }
  return `unknown type ${type}`;
}

/** One decoded record. `content` excludes the padding. */
export interface FastCGIRecord {
  version: number;
  type: number;
  requestId: number;
  content: Buffer;
  paddingLength: number;
  /** Byte offset of the record header in the decoded stream. */
  offset: number;
}

/** A name-value pair list: a plain record of strings or any iterable of pairs. */
export type NameValuePairs = Readonly<Record<string, string>> | Iterable<readonly [string, string]>;

function pairsOf(pairs: NameValuePairs): Iterable<readonly [string, string]> {
  return Symbol.iterator in pairs
    ? (pairs as Iterable<readonly [string, string]>)
    : Object.entries(pairs as Record<string, string>);
}

const zeroPadding = Buffer.alloc(8);

function paddingFor(contentLength: number): number {
  return (8 - (contentLength & 7)) & 7;
}

/*
 * Record header (8 bytes), then content, then padding:
 *
 *   0         1         2         3         4         5         6         7
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *  | version |  type   | requestIdB1 (hi)  requestIdB0 | contentLenB1  contentLenB0 |
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *  | paddingLength     | reserved |
 *  +---------+---------+
 *  | content: contentLength bytes (0..65535)         | padding: paddingLength bytes |
 *  +-------------------------------------------------+------------------------------+
 *
 * Lengths and the request id are big-endian. Padding keeps records 8-byte aligned; its bytes
 * are ignored by the reader.
 */
function writeHeader(
  target: Buffer,
  at: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): void {
  target[at] = FCGI_VERSION;
  target[at + 1] = type;
  target[at + 2] = (requestId >> 8) & 0xff;
  target[at + 3] = requestId & 0xff;
  target[at + 4] = (contentLength >> 8) & 0xff;
  target[at + 5] = contentLength & 0xff;
  target[at + 6] = paddingLength;
  target[at + 7] = 0;
}

function checkRequestId(requestId: number): void {
  if (!Number.isInteger(requestId) || requestId < 0 || requestId > 0xffff) {
    throw new FpmkitInvalidOptionError('requestId', 'must be an integer from 0 to 65535');
  }
}

/**
 * Encodes one record: header, `content` (at most 65535 bytes) and zero padding to a multiple
 * of 8 bytes. Throws `FpmkitInvalidOptionError` for an oversized content or a bad request id.
 */
export function encodeRecord(
  type: number,
  requestId: number,
  content: Uint8Array = zeroPadding.subarray(0, 0),
): Buffer {
  checkRequestId(requestId);
  if (!Number.isInteger(type) || type < 0 || type > 0xff) {
    throw new FpmkitInvalidOptionError('type', 'must be an integer from 0 to 255');
  }
  if (content.length > FCGI_MAX_CONTENT_LENGTH) {
    throw new FpmkitInvalidOptionError(
      'content',
      `a record holds at most ${FCGI_MAX_CONTENT_LENGTH} bytes, got ${content.length}`,
    );
  }
  const padding = paddingFor(content.length);
  const out = Buffer.allocUnsafe(FCGI_HEADER_LENGTH + content.length + padding);
  writeHeader(out, 0, type, requestId, content.length, padding);
  out.set(content, FCGI_HEADER_LENGTH);
  out.fill(0, FCGI_HEADER_LENGTH + content.length);
  return out;
}

/*
 * BEGIN_REQUEST body (8 bytes):
 *
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *  | roleB1  | roleB0  |  flags  |              reserved (5 bytes)                  |
 *  +---------+---------+---------+---------+---------+---------+---------+---------+
 *
 * flags bit 0 is FCGI_KEEP_CONN.
 */
/** Encodes a complete BEGIN_REQUEST record (16 bytes). */
export function encodeBeginRequest(
  requestId: number,
  role: number = Role.RESPONDER,
  keepConn = false,
): Buffer {
  checkRequestId(requestId);
  const out = Buffer.alloc(16);
  writeBeginRequest(out, 0, requestId, role, keepConn);
  return out;
}

function writeBeginRequest(
  target: Buffer,
  at: number,
  requestId: number,
  role: number,
  keepConn: boolean,
): void {
  writeHeader(target, at, RecordType.BEGIN_REQUEST, requestId, 8, 0);
  target[at + 8] = (role >> 8) & 0xff;
  target[at + 9] = role & 0xff;
  target[at + 10] = keepConn ? FCGI_KEEP_CONN : 0;
  target.fill(0, at + 11, at + 16);
}

/*
 * Name-value pair: each length is 1 byte when below 128, otherwise 4 bytes big-endian with
 * the top bit set, then the name bytes, then the value bytes:
 *
 *  +----------------+-----------------+--------------+---------------+
 *  | nameLength     | valueLength     | name         | value         |
 *  | 0lllllll       | 0lllllll        | nameLength   | valueLength   |
 *  |   or 1lll llll llll llll llll llll llll llll (4 bytes, max 2^31-1) |
 *  +----------------+-----------------+--------------+---------------+
 */
function lengthSize(length: number): number {
  return length < 0x80 ? 1 : 4;
}

function writeLength(target: Buffer, at: number, length: number): number {
  if (length < 0x80) {
    target[at] = length;
    return at + 1;
  }
  target.writeUInt32BE((length | 0x80000000) >>> 0, at);
  return at + 4;
}

/** Scratch space for pair sizes, reused across calls so encoding allocates only its output. */
let scratch: Int32Array = new Int32Array(64);

/**
 * Measures pairs: fills `scratch` with [nameBytes, valueBytes] per pair and returns the strings
 * in `strings`. Throws when a pair cannot fit in one record (FPM resets the connection when a
 * pair is split across PARAMS records).
 */
function measurePairs(pairs: NameValuePairs, strings: string[]): number {
  let count = 0;
  for (const [name, value] of pairsOf(pairs)) {
    if (typeof name !== 'string' || typeof value !== 'string') {
      throw new FpmkitInvalidOptionError(
        `params.${String(name)}`,
        'names and values must be strings',
      );
    }
    const nameBytes = Buffer.byteLength(name, 'utf8');
    const valueBytes = Buffer.byteLength(value, 'utf8');
    const size = lengthSize(nameBytes) + lengthSize(valueBytes) + nameBytes + valueBytes;
    if (size > FCGI_MAX_CONTENT_LENGTH) {
      throw new FpmkitInvalidOptionError(
        `params.${name}`,
        `a name-value pair must fit in one PARAMS record (${FCGI_MAX_CONTENT_LENGTH} bytes); this one needs ${size}`,
      );
    }
    if (scratch.length < (count + 1) * 2) {
      const bigger = new Int32Array(scratch.length * 2);
      bigger.set(scratch);
      scratch = bigger;
    }
    scratch[count * 2] = nameBytes;
    scratch[count * 2 + 1] = valueBytes;
    strings.push(name, value);
    count++;
  }
  return count;
}

function pairSize(i: number): number {
  const n = scratch[i * 2]!;
  const v = scratch[i * 2 + 1]!;
  return lengthSize(n) + lengthSize(v) + n + v;
}

function writePair(target: Buffer, at: number, i: number, name: string, value: string): number {
  const n = scratch[i * 2]!;
  const v = scratch[i * 2 + 1]!;
  at = writeLength(target, at, n);
  at = writeLength(target, at, v);
  at += target.write(name, at, n, 'utf8');
  at += target.write(value, at, v, 'utf8');
  return at;
}

/** Encodes name-value pairs back to back, without any record framing (a GET_VALUES body). */
export function encodeNameValuePairs(pairs: NameValuePairs): Buffer {
  const strings: string[] = [];
  const count = measurePairs(pairs, strings);
  let total = 0;
  for (let i = 0; i < count; i++) total += pairSize(i);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < count; i++) at = writePair(out, at, i, strings[i * 2]!, strings[i * 2 + 1]!);
  return out;
}

/** Bytes of the PARAMS stream for `count` measured pairs, including the closing empty record. */
function paramsStreamSize(count: number): number {
  let total = 0;
  let content = 0;
  for (let i = 0; i < count; i++) {
    const size = pairSize(i);
    if (content + size > FCGI_MAX_CONTENT_LENGTH) {
      total += FCGI_HEADER_LENGTH + content + paddingFor(content);
      content = 0;
    }
    content += size;
  }
  if (content > 0) total += FCGI_HEADER_LENGTH + content + paddingFor(content);
  return total + FCGI_HEADER_LENGTH;
}

/** Writes the PARAMS stream (pairs packed whole into records, then an empty record). */
function writeParamsStream(
  target: Buffer,
  at: number,
  requestId: number,
  count: number,
  strings: readonly string[],
): number {
  let i = 0;
  while (i < count) {
    let content = 0;
    let end = i;
    while (end < count && content + pairSize(end) <= FCGI_MAX_CONTENT_LENGTH) {
      content += pairSize(end);
      end++;
    }
    const padding = paddingFor(content);
    writeHeader(target, at, RecordType.PARAMS, requestId, content, padding);
    at += FCGI_HEADER_LENGTH;
    for (; i < end; i++) at = writePair(target, at, i, strings[i * 2]!, strings[i * 2 + 1]!);
    target.fill(0, at, at + padding);
    at += padding;
  }
  writeHeader(target, at, RecordType.PARAMS, requestId, 0, 0);
  return at + FCGI_HEADER_LENGTH;
}

/**
 * Encodes a PARAMS stream: the pairs packed into as few records as possible, each pair whole
 * inside one record, followed by the empty PARAMS record that ends the stream.
 */
export function encodeParams(pairs: NameValuePairs, requestId = 1): Buffer {
  checkRequestId(requestId);
  const strings: string[] = [];
  const count = measurePairs(pairs, strings);
  const out = Buffer.allocUnsafe(paramsStreamSize(count));
  writeParamsStream(out, 0, requestId, count, strings);
  return out;
}

/** What {@link encodeRequest} puts on the wire. */
export interface EncodeRequestInput {
  /** @default 1 */
  requestId?: number | undefined;
  /** @default Role.RESPONDER */
  role?: number | undefined;
  /** Sets FCGI_KEEP_CONN. @default false */
  keepConn?: boolean | undefined;
  params: NameValuePairs;
  /** Request body; sent as STDIN records of at most 65528 bytes. @default empty */
  stdin?: Uint8Array | undefined;
}

/**
 * Encodes a whole request into one buffer: BEGIN_REQUEST, the PARAMS stream, the STDIN stream
 * (data records, then the empty STDIN record). One allocation, written with one `write()`.
 */
export function encodeRequest(input: EncodeRequestInput): Buffer {
  const requestId = input.requestId ?? 1;
  checkRequestId(requestId);
  const strings: string[] = [];
  const count = measurePairs(input.params, strings);
  const stdin = input.stdin;
  let stdinSize = FCGI_HEADER_LENGTH;
  if (stdin && stdin.length > 0) {
    const full = Math.floor(stdin.length / FCGI_CHUNK_LENGTH);
    const rest = stdin.length - full * FCGI_CHUNK_LENGTH;
    stdinSize += full * (FCGI_HEADER_LENGTH + FCGI_CHUNK_LENGTH);
    if (rest > 0) stdinSize += FCGI_HEADER_LENGTH + rest + paddingFor(rest);
  }
  const out = Buffer.allocUnsafe(16 + paramsStreamSize(count) + stdinSize);
  writeBeginRequest(out, 0, requestId, input.role ?? Role.RESPONDER, input.keepConn ?? false);
  let at = writeParamsStream(out, 16, requestId, count, strings);
  if (stdin && stdin.length > 0) {
    for (let from = 0; from < stdin.length; from += FCGI_CHUNK_LENGTH) {
      const piece = stdin.subarray(from, Math.min(from + FCGI_CHUNK_LENGTH, stdin.length));
      const padding = paddingFor(piece.length);
      writeHeader(out, at, RecordType.STDIN, requestId, piece.length, padding);
      out.set(piece, at + FCGI_HEADER_LENGTH);
      at += FCGI_HEADER_LENGTH + piece.length;
      out.fill(0, at, at + padding);
      at += padding;
    }
  }
  writeHeader(out, at, RecordType.STDIN, requestId, 0, 0);
  return out;
}

function readLength(buf: Buffer, at: number): { length: number; next: number } | undefined {
  if (at >= buf.length) return undefined;
  const first = buf[at]!;
  if (first < 0x80) return { length: first, next: at + 1 };
  if (at + 4 > buf.length) return undefined;
  return { length: buf.readUInt32BE(at) & 0x7fffffff, next: at + 4 };
}

/**
 * Decodes a body of name-value pairs (PARAMS, GET_VALUES or GET_VALUES_RESULT content).
 * Names and values are read as UTF-8. Throws `FastCGIProtocolError` when a pair is truncated.
 */
export function decodeNameValuePairs(content: Buffer): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let at = 0;
  while (at < content.length) {
    const start = at;
    const name = readLength(content, at);
    const value = name && readLength(content, name.next);
    if (!name || !value || value.next + name.length + value.length > content.length) {
      throw new FastCGIProtocolError(`truncated name-value pair at byte ${start}`, {
        offset: start,
      });
    }
    const nameEnd = value.next + name.length;
    out.push([
      content.toString('utf8', value.next, nameEnd),
      content.toString('utf8', nameEnd, nameEnd + value.length),
    ]);
    at = nameEnd + value.length;
  }
  return out;
}

/**
 * Called for each complete record: type, request id and the content (a view, valid as long as
 * the chunk it came from is not reused). Return `true` to stop decoding this chunk.
 */
export type RecordHandler = (
  type: number,
  requestId: number,
  content: Buffer,
) => boolean | undefined;

/** @internal A {@link RecordHandler} given the content as a range of `buf`. */
export type RangeHandler = (
  type: number,
  requestId: number,
  buf: Buffer,
  start: number,
  end: number,
) => boolean | undefined;

/**
 * Incremental record decoder. Feed it chunks exactly as the socket delivers them; a record may
 * be split anywhere, even inside its header. Complete records reach the handler as views into
 * the chunk (no copy); only a record that spans chunks is copied, once.
 *
 * Throws `FastCGIProtocolError` (with `offset` in the stream) for a version other than 1.
 */
export class RecordDecoder {
  /** Pending bytes of an incomplete record; allocated only when a record spans chunks. */
  #parts: Buffer[] | undefined;
  #partsLength = 0;
  /** Bytes needed before the pending parts can be decoded further. */
  #need = FCGI_HEADER_LENGTH;
  /** Stream offset of the first pending byte. */
  #offset = 0;

  /** Bytes received but not yet part of a complete record. */
  get pendingBytes(): number {
    return this.#partsLength;
  }

  /** Bytes consumed as complete records so far. */
  get offset(): number {
    return this.#offset;
  }

  /**
   * Decodes `chunk`, calling `onRecord` (with `thisArg` as `this`) per complete record. Returns
   * how many bytes of it were left unread because the handler asked to stop (0 when every
   * complete record was delivered).
   */
  push(chunk: Buffer, onRecord: RecordHandler, thisArg?: unknown): number {
    return this.pushRanges(chunk, (type, requestId, buf, start, end) =>
      onRecord.call(thisArg, type, requestId, buf.subarray(start, end)),
    );
  }

  /**
   * @internal `push` for the client: each record's content arrives as `buf` with `start` and
   * `end` instead of a view, so records the client reads in place (END_REQUEST) cost no view.
   */
  pushRanges(chunk: Buffer, onRecord: RangeHandler, thisArg?: unknown): number {
    let buf: Buffer;
    if (this.#partsLength === 0) {
      buf = chunk;
    } else {
      const parts = this.#parts!;
      parts.push(chunk);
      this.#partsLength += chunk.length;
      if (this.#partsLength < this.#need) return 0;
      buf = Buffer.concat(parts, this.#partsLength);
      this.#parts = undefined;
      this.#partsLength = 0;
    }
    let at = 0;
    const length = buf.length;
    while (length - at >= FCGI_HEADER_LENGTH) {
      const version = buf[at]!;
      if (version !== FCGI_VERSION) throw this.#badVersion(buf, at);
      const contentLength = (buf[at + 4]! << 8) | buf[at + 5]!;
      const total = FCGI_HEADER_LENGTH + contentLength + buf[at + 6]!;
      if (length - at < total) {
        this.#need = total;
        break;
      }
      const type = buf[at + 1]!;
      const requestId = (buf[at + 2]! << 8) | buf[at + 3]!;
      const start = at + FCGI_HEADER_LENGTH;
      at += total;
      this.#offset += total;
      if (onRecord.call(thisArg, type, requestId, buf, start, start + contentLength) === true) {
        return length - at;
      }
    }
    if (at < length) {
      const rest = at === 0 ? buf : buf.subarray(at);
      this.#parts = [rest];
      this.#partsLength = rest.length;
      if (rest.length < FCGI_HEADER_LENGTH) this.#need = FCGI_HEADER_LENGTH;
    } else {
      this.#need = FCGI_HEADER_LENGTH;
    }
    return 0;
  }

  /**
   * The error for a record header whose version is not 1. At the start of the stream the peer
   * is probably not a FastCGI server at all: an HTTP server's status line gets its own error,
   * anything else is quoted so the reader can see what answered.
   */
  #badVersion(buf: Buffer, at: number): FastCGIProtocolError {
    const offset = this.#offset;
    if (offset === 0 && at === 0 && looksLikeHttp(buf)) {
      return new FastCGIHttpPeerError(buf.subarray(0, 256), { offset });
    }
    const quoted = offset === 0 && at === 0 ? ` (the peer sent '${firstLinePreview(buf)}')` : '';
    return new FastCGIProtocolError(
      `unsupported FastCGI version ${buf[at]} in record header at byte ${offset}${quoted}`,
      { offset, recordType: buf[at + 1], requestId: buf.readUInt16BE(at + 2) },
    );
  }

  /** Forgets any partial record (e.g. before reusing a kept-alive connection). */
  reset(): void {
    this.#parts = undefined;
    this.#partsLength = 0;
    this.#need = FCGI_HEADER_LENGTH;
    this.#offset = 0;
  }
}

/**
 * Decodes a complete byte stream into records. Throws `FastCGIProtocolError` for a bad version
 * or when the stream ends inside a record.
 */
export function decodeRecords(bytes: Uint8Array): FastCGIRecord[] {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new RecordDecoder();
  const records: FastCGIRecord[] = [];
  let offset = 0;
  decoder.push(buf, (type, requestId, content) => {
    const paddingLength = buf[offset + 6]!;
    records.push({ version: FCGI_VERSION, type, requestId, content, paddingLength, offset });
    offset += FCGI_HEADER_LENGTH + content.length + paddingLength;
    return false;
  });
  if (decoder.pendingBytes > 0) {
    throw new FastCGIProtocolError(
      `stream ends inside a record: ${decoder.pendingBytes} bytes left at byte ${decoder.offset}`,
      { offset: decoder.offset },
    );
  }
  return records;
}
