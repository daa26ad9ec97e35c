import { Buffer } from 'node:buffer';
import { parseError } from './internal.js';
import type { UnixListenQueue, UnixSocket } from './schemas.js';

const SOURCE = '/proc/net/unix';

const UNIX_FLAG_LISTENING = 0x10000;
const UNIX_TYPE_STREAM = 1;

/** Hex fields wider than this cannot be a kernel u32 and would lose precision. */
const MAX_HEX_DIGITS = 12;
/**
 * Characters per row assumed when sizing the result up front: a row without a path is 59 or more
 * on 64-bit kernels (16-digit address, `%5lu` inode, newline) and 51 on 32-bit ones. Shorter rows
 * only make the array grow once; a generous guess costs a large-object allocation on mid-size
 * tables (10,000 rows at 40 characters would ask for 133 KB).
 */
const ROW_CHARS_GUESS = 52;
/** Beyond this V8 would make a pre-sized array slow (dictionary mode); it grows instead. */
const MAX_PRESIZE_ROWS = 1 << 24;
/**
 * Tables this long (about 250,000 rows) build their rows at separate literal sites; see addRow().
 * Large enough that collections run while such a table is being parsed, so those sites learn
 * that its rows survive.
 */
const BULK_TABLE_CHARS = 1 << 24;
/** Inodes are unsigned long; 15 decimal digits stay exact in a double. */
const MAX_INODE_DIGITS = 15;
/** `UNIX_PATH_MAX`: bytes in `sun_path`, the most a printed name can hold (linux/un.h). */
const UNIX_PATH_MAX = 108;

/** Hex digit values by UTF-16 code unit (so any charCodeAt result indexes it); -1 for others. */
const HEX_VALUE = new Int8Array(0x10000).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

// Position after the last field read; set by the readers so the scanner allocates nothing.
let cursor = 0;

/** Reads one space, optional padding spaces, then hex digits; -1 when malformed. */
function readHex(text: string, p: number, end: number): number {
  if (p >= end || text.charCodeAt(p) !== 32) return -1;
  p++;
  while (p < end && text.charCodeAt(p) === 32) p++;
  const start = p;
  let value = 0;
  while (p < end) {
    const c = text.charCodeAt(p);
    const d = HEX_VALUE[c]!;
    if (d < 0) break;
    value = value * 16 + d;
    p++;
  }
  if (p === start || p - start > MAX_HEX_DIGITS) return -1;
  cursor = p;
  return value;
}

/** Reads one space, padding spaces, then decimal digits (the `%5lu` inode); -1 when malformed. */
function readInode(text: string, p: number, end: number): number {
  if (p >= end || text.charCodeAt(p) !== 32) return -1;
  p++;
  while (p < end && text.charCodeAt(p) === 32) p++;
  const start = p;
  let value = 0;
  while (p < end) {
    const d = text.charCodeAt(p) - 48;
    if (d < 0 || d > 9) break;
    value = value * 10 + d;
    p++;
  }
  if (p === start || p - start > MAX_INODE_DIGITS) return -1;
  cursor = p;
  return value;
}

/**
 * Parses `/proc/net/unix` (kernel `net/unix/af_unix.c`, `unix_seq_show`; see
 * https://man7.org/linux/man-pages/man5/proc_net.5.html). Each row is
 * `Num: RefCount Protocol Flags Type St Inode [Path]`:
 *
 * ```text
 * Num       RefCount Protocol Flags    Type St Inode Path
 * 000000007b284b50: 0000000B 00000000 00010000 0001 01 1720980 /run/php/php8.2-fpm.sock
 * 0000000073c5b299: 00000003 00000000 00000000 0001 02     0 /run/php/php8.2-fpm.sock
 * 0000000043791d23: 00000003 00000000 00000000 0001 03 1820681
 * ```
 *
 * `Num` (a kernel address printed as zeros or hashed, depending on `kptr_restrict`) is
 * skipped, and `Protocol` (always 0 on Linux) is checked but not kept. The path is everything
 * after the single space that follows the inode, so paths with spaces survive; abstract names
 * keep their leading `@`. The header is optional and blank lines are ignored. Malformed rows
 * throw `FpmkitParseError` with the line.
 *
 * The kernel prints names raw, so any local user can bind a socket whose name holds newlines
 * and spreads over several lines. A line that is not a row in the kernel's fixed layout, after
 * a row with a name, is read as the rest of that name (blank lines between are its newlines)
 * while the whole name fits in `sun_path` (108 bytes); the row then carries the whole name. A
 * line in the kernel's layout is always a row, so such a name can never hide a real socket; a
 * name that itself prints a line in that layout is cut there (the only reading that cannot
 * lose a row). A name's trailing newlines read as blank lines and are not kept.
 *
 * Written as one scan (no split, no regular expression per line) because the table can hold
 * hundreds of thousands of rows on a busy host: rows in the kernel's fixed layout are read from
 * bytes (the text is copied 64 KiB at a time into a reused buffer), every other row from the
 * text. A 64 KiB stretch that holds a character beyond Latin-1 (only possible in a path) is read
 * from the text, as a byte copy would not keep it.
 */
export function scanProcNetUnix(text: string): UnixSocket[] {
  // Sized up front so a large table is not copied as it grows.
  const out: UnixSocket[] = new Array(
    Math.min(Math.ceil(text.length / ROW_CHARS_GUESS), MAX_PRESIZE_ROWS),
  );
  out.length = scan(text, out, null);
  return out;
}

/** What the queue-only scan gathers: listeners, and [queued, accepted, listeners] per path. */
interface QueueTally {
  listeners: { path: string; inode: number }[];
  counts: Map<string, [number, number, number]>;
}

/** Counts one stream row with a path: a listener, an embryo (state 2) or an accepted one (3). */
function tallyRow(
  tally: QueueTally,
  path: string,
  listening: boolean,
  state: number,
  inode: number,
): void {
  if (!listening && state !== 2 && state !== 3) return;
  let c = tally.counts.get(path);
  if (c === undefined) {
    c = [0, 0, 0];
    tally.counts.set(path, c);
  }
  if (listening) {
    tally.listeners.push({ path, inode });
    c[2]++;
  } else {
    c[state === 2 ? 0 : 1]++;
  }
}

/** Takes back what tallyRow() counted for the last row (its name turned out to go on). */
function untallyRow(tally: QueueTally, path: string, listening: boolean, state: number): void {
  const c = tally.counts.get(path);
  if (c === undefined || (!listening && state !== 2 && state !== 3)) return;
  if (listening) {
    tally.listeners.pop();
    c[2]--;
  } else {
    c[state === 2 ? 0 : 1]--;
  }
}

/** One scan's input, where its rows go, and its progress. */
interface Scan {
  readonly text: string;
  /** Rows go here (parseProcNetUnix)... */
  readonly out: UnixSocket[] | null;
  /** ...or only listeners and per-path counts (unixListenQueues(text)). */
  readonly tally: QueueTally | null;
  /** Large table: rows are built at literal sites of their own; see addRow(). */
  readonly bulk: boolean;
  /** Path strings made so far, by hash; see intern(). */
  readonly paths: (string | undefined)[];
  /** The same for the byte reader, with each path's bytes; see internBytes(). */
  readonly bytePaths: ByteCache;
  /** The last row whose name went on over more lines, and where its last line starts. */
  named: { row: TextRow; path: string | undefined; lastLine: number } | null;
  /** Where the rows start (after the header). */
  body: number;
  count: number;
}

/** Paths read from bytes by hash slot, each with a copy of its bytes. */
interface ByteCache {
  paths: (string | undefined)[];
  /** The bytes of every path cached so far, end to end, read four at a time when compared. */
  keys: DataView;
  /** The same bytes, for copying a new path in. */
  keyBytes: Uint8Array;
  used: number;
  /** Where each slot's path starts in `keys`, and its length (-1: empty slot). */
  offsets: Int32Array;
  lengths: Int32Array;
  /** How many more new paths to make as old-generation strings (large tables only). */
  tenured: number;
}

/** Characters copied to bytes at a time; a line longer than this is read from the text. */
const BYTE_WINDOW = 1 << 16;
/**
 * Bytes after a window: the fixed-layout checks read up to 16 bytes past a row's start and 36
 * past its colon before they know whether the row was that long; these reads must stay inside
 * the buffer.
 */
const BYTE_SLACK = 64;
/** Reused by every scan (scans are synchronous); made on first use. */
let byteWindow: Buffer | undefined;
/** A view of the same bytes, for reading four at a time. */
let byteView: DataView | undefined;
/** Hex digit values by byte; -1 for others. */
const HEX_BYTE = HEX_VALUE.slice(0, 256);
/** Matches text that a Latin-1 copy would change. For one-byte strings V8 answers at once. */
const BEYOND_LATIN1 = /[\u0100-\uffff]/;

/**
 * The scanner behind `parseProcNetUnix` (rows into `out`) and `unixListenQueues(text)` (only
 * listeners and per-path counts into `tally`, without an object per row). Returns the row count.
 */
function scan(text: string, out: UnixSocket[] | null, tally: QueueTally | null): number {
  const bulk = text.length >= BULK_TABLE_CHARS;
  const keyBytes = new Uint8Array(PATH_KEY_BYTES);
  const s: Scan = {
    text,
    out,
    tally,
    bulk,
    paths: new Array(PATH_CACHE_SLOTS),
    bytePaths: {
      paths: new Array(PATH_CACHE_SLOTS),
      keys: new DataView(keyBytes.buffer),
      keyBytes,
      used: 0,
      offsets: new Int32Array(PATH_CACHE_SLOTS),
      lengths: new Int32Array(PATH_CACHE_SLOTS).fill(-1),
      tenured: bulk && out !== null ? PATH_CACHE_SLOTS : 0,
    },
    named: null,
    body: 0,
    count: 0,
  };
  const len = text.length;
  let pos = 0;
  let lineNo = 0;
  if (text.startsWith('Num')) {
    const nl = text.indexOf('\n');
    pos = nl === -1 ? len : nl + 1;
    lineNo = 1;
    s.body = pos;
  }
  // One-byte strings answer at once; only text that has a character beyond Latin-1 somewhere
  // (only possible in paths) has each window checked.
  const mixed = BEYOND_LATIN1.test(text);
  if (byteWindow === undefined) {
    byteWindow = Buffer.alloc(BYTE_WINDOW + BYTE_SLACK);
    byteView = new DataView(byteWindow.buffer, byteWindow.byteOffset, byteWindow.length);
  }
  while (pos < len) {
    const n = Math.min(BYTE_WINDOW, len - pos);
    const window = text.slice(pos, pos + n);
    if (mixed && BEYOND_LATIN1.test(window)) {
      // A byte copy would not keep these characters: the lines that start here are read from
      // the text.
      const stop = pos + n;
      while (pos < stop) {
        let next = text.indexOf('\n', pos);
        if (next === -1) next = len;
        textRow(s, pos, next, ++lineNo);
        pos = next + 1;
      }
      continue;
    }
    byteWindow.write(window, 0, n, 'latin1');
    let last = n - 1;
    while (last >= 0 && byteWindow[last] !== 10) last--;
    if (last >= 0) {
      lineNo = scanBytes(s, byteWindow, byteView!, pos, last + 1, lineNo);
      pos += last + 1;
    } else {
      // No newline in the window: a line longer than it, or the last line without one.
      let next = text.indexOf('\n', pos);
      if (next === -1) next = len;
      textRow(s, pos, next, ++lineNo);
      pos = next + 1;
    }
  }
  return s.count;
}

/** Eight hex digits at `p`; -1 when any is not a hex digit. */
function readHex8(b: Uint8Array, dv: DataView, p: number, table: Int8Array): number {
  const w0 = dv.getUint32(p);
  const w1 = dv.getUint32(p + 4);
  if (
    (w0 & 0xf0f0f0f0) === 0x30303030 &&
    ((w0 + 0x06060606) & 0xf0f0f0f0) === 0x30303030 &&
    (w1 & 0xf0f0f0f0) === 0x30303030 &&
    ((w1 + 0x06060606) & 0xf0f0f0f0) === 0x30303030
  ) {
    const n0 = w0 & 0x0f0f0f0f;
    const n1 = w1 & 0x0f0f0f0f;
    const t0 = (n0 | (n0 >>> 4)) & 0x00ff00ff;
    const t1 = (n1 | (n1 >>> 4)) & 0x00ff00ff;
    return ((t0 | (t0 >>> 8)) & 0xffff) * 65536 + ((t1 | (t1 >>> 8)) & 0xffff);
  }
  return readHex8Table(b, p, table);
}

/** Eight hex digits at `p`, read through the table; -1 when any is not a hex digit. */
function readHex8Table(b: Uint8Array, p: number, table: Int8Array): number {
  const hi = readHex4(b, p, table);
  const lo = readHex4(b, p + 4, table);
  return (hi | lo) < 0 ? -1 : hi * 65536 + lo;
}

/** Four hex digits at `p`; -1 when any is not a hex digit. */
function readHex4(b: Uint8Array, p: number, table: Int8Array): number {
  const d0 = table[b[p]!]!;
  const d1 = table[b[p + 1]!]!;
  const d2 = table[b[p + 2]!]!;
  const d3 = table[b[p + 3]!]!;
  return (d0 | d1 | d2 | d3) < 0 ? -1 : (d0 << 12) | (d1 << 8) | (d2 << 4) | d3;
}

/**
 * True when none of the 16 bytes at `p` is a colon or a newline, four at a time: for a row with
 * a colon at `p + 16` (the kernel's 64-bit address width) that colon is then the first.
 * Each word is tested for a zero byte after XOR with the byte looked for.
 */
function plainAddress(dv: DataView, p: number): boolean {
  let t = 0;
  for (let k = 0; k < 16; k += 4) {
    const w = dv.getUint32(p + k);
    const x = w ^ 0x3a3a3a3a;
    const y = w ^ 0x0a0a0a0a;
    t |= ((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y);
  }
  return (t & 0x80808080) === 0;
}

/**
 * Rows of `b[0, n)`, a copy of the text from `base` that ends with a newline. Rows in the
 * kernel's layout `ADDR: %08X %08X %08X %04X %02X %5lu[ PATH]` are read here; any other line
 * (blank, CR, other widths, malformed) goes to textRow(), which has the last word. Returns the
 * number of the last line read.
 */
function scanBytes(
  s: Scan,
  b: Uint8Array,
  dv: DataView,
  base: number,
  n: number,
  lineNo: number,
): number {
  const table = HEX_BYTE;
  const maxInodeDigits = MAX_INODE_DIGITS;
  const bytePaths = s.bytePaths;
  const text = s.text;
  // The colon of the last row whose fixed fields were read, and those fields.
  let last = -1;
  let refCount = 0;
  let flags = 0;
  let type = 0;
  let state = 0;
  let i = 0;
  while (i < n) {
    lineNo++;
    // The kernel address is not interpreted: finding its colon is all that is needed.
    let c = i + 16;
    let ch = b[c]!;
    if (ch !== 58 || !plainAddress(dv, i)) {
      c = i;
      ch = b[c]!;
      while (ch !== 58 && ch !== 10) ch = b[++c]!;
    }
    // Each byte from c + 1 to c + 36 is checked to be a space or a hex digit, so a row shorter
    // than that (whose newline would be among them) fails here before any field is used. A row
    // whose 36 bytes equal those of the last row read here (most do) takes that row's fields.
    let fixed = false;
    if (ch === 58 && c > i) {
      if (
        last >= 0 &&
        // Eight bytes at a time as doubles: the last row's bytes are spaces and hex digits, so
        // each of its doubles is a finite, normal, positive number, and only the same eight
        // bytes compare equal to it (no NaN, no -0 case can arise).
        dv.getFloat64(c + 1) === dv.getFloat64(last + 1) &&
        dv.getFloat64(c + 9) === dv.getFloat64(last + 9) &&
        dv.getFloat64(c + 17) === dv.getFloat64(last + 17) &&
        dv.getFloat64(c + 25) === dv.getFloat64(last + 25) &&
        dv.getUint32(c + 33) === dv.getUint32(last + 33)
      ) {
        fixed = true;
      } else if (
        b[c + 1] === 32 &&
        b[c + 10] === 32 &&
        b[c + 19] === 32 &&
        b[c + 28] === 32 &&
        b[c + 33] === 32 &&
        b[c + 36] === 32
      ) {
        const r = readHex8(b, dv, c + 2, table);
        const p = readHex8(b, dv, c + 11, table);
        const f = readHex8(b, dv, c + 20, table);
        const t = readHex4(b, c + 29, table);
        const s0 = table[b[c + 34]!]!;
        const s1 = table[b[c + 35]!]!;
        if (r >= 0 && p >= 0 && f >= 0 && (t | s0 | s1) >= 0) {
          fixed = true;
          last = c;
          refCount = r;
          flags = f;
          type = t;
          state = (s0 << 4) | s1;
        }
      }
    }
    if (fixed) {
      let q = c + 37;
      while (b[q] === 32) q++;
      const digitsStart = q;
      let inode = 0;
      for (;;) {
        const d = b[q]! - 48;
        if (d < 0 || d > 9) break;
        inode = inode * 10 + d;
        q++;
      }
      const digits = q - digitsStart;
      if (digits > 0 && digits <= maxInodeDigits) {
        ch = b[q]!;
        if (ch === 10) {
          addRow(s, refCount, flags, type, state, inode);
          i = q + 1;
          continue;
        }
        if (ch === 32) {
          const start = q + 1;
          let end = start;
          let h = 0;
          // Four bytes at a time up to the word that holds the newline, then bytes.
          for (;;) {
            const w = dv.getUint32(end);
            const x = w ^ 0x0a0a0a0a;
            if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
            h = Math.imul(h ^ w, 16777619);
            end += 4;
          }
          ch = b[end]!;
          while (ch !== 10) {
            h = Math.imul(h ^ ch, 16777619);
            ch = b[++end]!;
          }
          // An empty path or a CR before the newline: textRow() decides.
          if (end > start && b[end - 1] !== 13) {
            addRow(
              s,
              refCount,
              flags,
              type,
              state,
              inode,
              internBytes(text, b, dv, base, start, end, h, bytePaths),
            );
            i = end + 1;
            continue;
          }
        }
      }
    }
    let next = c;
    while (b[next] !== 10) next++;
    textRow(s, base + i, base + next, lineNo);
    i = next + 1;
  }
  return lineNo;
}

/** Fields of one row read from the text by readTextRow(). */
interface TextRow {
  refCount: number;
  flags: number;
  type: number;
  state: number;
  inode: number;
  /**
   * Where the row's name starts: after the space that follows the inode. Equal to the line's
   * end when the line ends in that space (a name that starts with a newline); -1 when the line
   * ends at the inode (an unnamed socket).
   */
  pathStart: number;
}

/** Reads `[pos, end)` as a row with fields of any width; a reason when it is not one. */
function readTextRow(text: string, pos: number, end: number): TextRow | string {
  const colon = text.indexOf(':', pos);
  if (colon < 0 || colon >= end || colon === pos) {
    return 'expected a kernel address followed by ":"';
  }
  const refCount = readHex(text, colon + 1, end);
  const protocol = refCount < 0 ? -1 : readHex(text, cursor, end);
  const flags = protocol < 0 ? -1 : readHex(text, cursor, end);
  const type = flags < 0 ? -1 : readHex(text, cursor, end);
  const state = type < 0 ? -1 : readHex(text, cursor, end);
  const inode = state < 0 ? -1 : readInode(text, cursor, end);
  if (inode < 0) return 'expected RefCount Protocol Flags Type St Inode';
  const p = cursor;
  let pathStart: number;
  if (p === end) pathStart = -1;
  else if (text.charCodeAt(p) === 32) pathStart = p + 1;
  else return 'unexpected text after the inode';
  return { refCount, flags, type, state, inode, pathStart };
}

/**
 * True when `[pos, end)` has the kernel's fixed layout up to the inode (`ADDR: %08X %08X %08X
 * %04X %02X `), as every row the kernel prints does and as scanBytes() requires.
 */
function fixedLayout(text: string, pos: number, end: number): boolean {
  const c = text.indexOf(':', pos);
  if (c <= pos || c + 37 >= end) return false;
  for (let k = 1; k <= 36; k++) {
    const ch = text.charCodeAt(c + k);
    const space = k === 1 || k === 10 || k === 19 || k === 28 || k === 33 || k === 36;
    if (space ? ch !== 32 : HEX_VALUE[ch]! < 0) return false;
  }
  return true;
}

/**
 * One line of the text, `[pos, next)` without its newline: blank lines are skipped, a trailing
 * CR is dropped, fields may have any width and padding. A line that is not a row in the
 * kernel's layout, right after a row with a name, is the rest of that name (see continueName());
 * any other bad line throws FpmkitParseError.
 */
function textRow(s: Scan, pos: number, next: number, lineNo: number): void {
  const text = s.text;
  let end = next;
  if (end > pos && text.charCodeAt(end - 1) === 13) end--;
  if (end === pos) return;
  const row = readTextRow(text, pos, end);
  if (typeof row === 'object' && fixedLayout(text, pos, end)) {
    addTextRow(s, row, end);
    return;
  }
  if (continueName(s, pos, end)) return;
  if (typeof row === 'string') throw fail(row, lineNo, text, pos, end);
  addTextRow(s, row, end);
}

function addTextRow(s: Scan, row: TextRow, end: number): void {
  const { refCount, flags, type, state, inode, pathStart } = row;
  if (pathStart >= 0 && pathStart < end) {
    addRow(s, refCount, flags, type, state, inode, intern(s.text, pathStart, end, s.paths));
  } else {
    addRow(s, refCount, flags, type, state, inode);
  }
}

/**
 * The kernel prints a socket's name raw (`unix_seq_show`), so a name holding newlines spans
 * several lines: `[pos, end)` may be the rest of the name of the row above it (blank lines
 * between them are newlines of that name). It is taken as such when that row ended in a name
 * (or in the space that precedes one) and the whole name fits in `sun_path`
 * (`UNIX_PATH_MAX`, 108 bytes, so at most 108 characters). The row is then replaced by one
 * with the whole name. Returns false when the line cannot continue a name.
 */
function continueName(s: Scan, pos: number, end: number): boolean {
  const text = s.text;
  // The previous line that is not blank.
  let lineEnd = pos - 1;
  let lineStart: number;
  for (;;) {
    if (lineEnd < s.body) return false;
    lineStart = lineEnd === 0 ? 0 : text.lastIndexOf('\n', lineEnd - 1) + 1;
    let e = lineEnd;
    if (e > lineStart && text.charCodeAt(e - 1) === 13) e--;
    if (e > lineStart) break;
    lineEnd = lineStart - 1;
  }
  let owner = s.named;
  if (owner === null || owner.lastLine !== lineStart) {
    let e = lineEnd;
    if (e > lineStart && text.charCodeAt(e - 1) === 13) e--;
    const row = readTextRow(text, lineStart, e);
    if (typeof row === 'string' || row.pathStart < 0) return false;
    owner = {
      row,
      path: row.pathStart < e ? text.slice(row.pathStart, e) : undefined,
      lastLine: lineStart,
    };
  }
  const { row } = owner;
  if (end - row.pathStart > UNIX_PATH_MAX) return false;
  const path = text.slice(row.pathStart, end);
  // The row was counted with the first part of its name: take it back.
  s.count--;
  if (s.tally !== null && owner.path !== undefined && row.type === UNIX_TYPE_STREAM) {
    untallyRow(s.tally, owner.path, (row.flags & UNIX_FLAG_LISTENING) !== 0, row.state);
  }
  addRow(s, row.refCount, row.flags, row.type, row.state, row.inode, path);
  s.named = { row, path, lastLine: pos };
  return true;
}

/** Adds one row to the scan's rows, or to its tally. */
function addRow(
  s: Scan,
  refCount: number,
  flags: number,
  type: number,
  state: number,
  inode: number,
  path?: string,
): void {
  const listening = (flags & 0x10000) !== 0; // UNIX_FLAG_LISTENING
  const out = s.out;
  if (out !== null) {
    // Two copies of the same literals: V8 decides per literal site whether its objects are
    // allocated straight into the old generation. Small tables (rows soon dropped) would teach
    // a shared site to allocate young, and a later large table would then have every row copied
    // by the collector; large tables get sites of their own that learn to allocate old.
    if (s.bulk) {
      out[s.count] =
        path === undefined
          ? { refCount, flags, listening, type, state, inode }
          : { refCount, flags, listening, type, state, inode, path };
    } else {
      out[s.count] =
        path === undefined
          ? { refCount, flags, listening, type, state, inode }
          : { refCount, flags, listening, type, state, inode, path };
    }
  } else if (s.tally !== null && path !== undefined && type === 1) {
    // type 1 is UNIX_TYPE_STREAM.
    tallyRow(s.tally, path, listening, state, inode);
  }
  s.count++;
}

/** Slots in the path cache: a power of two, far more than the distinct paths of a busy host. */
const PATH_CACHE_SLOTS = 1024;
/** Initial room for the bytes of cached paths; grows by doubling. */
const PATH_KEY_BYTES = 4096;
/** Characters hashed from the end of a path (where pool names differ); the rest is compared. */
const PATH_HASH_CHARS = 16;

/**
 * `text.slice(start, end)`, or an equal string already made during this scan. Paths repeat:
 * every accepted or queued connection carries its listener's path. Reusing one string per path
 * saves a string per row (and the collector's time copying it), and the Map lookups in
 * unixListenQueues hash each distinct string once. The cache lives for one scan, so no string
 * (which refers to the whole input) outlives the caller's result.
 */
function intern(text: string, start: number, end: number, cache: (string | undefined)[]): string {
  const n = end - start;
  let h = n;
  for (let i = n > PATH_HASH_CHARS ? end - PATH_HASH_CHARS : start; i < end; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  }
  const slot = (h ^ (h >>> 15)) & (PATH_CACHE_SLOTS - 1);
  const cached = cache[slot];
  if (cached !== undefined && cached.length === n) {
    // Compared in place: a call to startsWith costs more than these few characters.
    let i = 0;
    while (i < n && cached.charCodeAt(i) === text.charCodeAt(start + i)) i++;
    if (i === n) return cached;
  }
  const path = text.slice(start, end);
  cache[slot] = path;
  return path;
}

/**
 * intern() for a path read from bytes: `b[start, end)` copies `text` from `base + start`, and
 * `hash` covers all of its bytes. Compares four bytes at a time with a copy of the cached path's
 * bytes, which is several times cheaper than reading the cached string's characters.
 */
function internBytes(
  text: string,
  b: Uint8Array,
  dv: DataView,
  base: number,
  start: number,
  end: number,
  hash: number,
  cache: ByteCache,
): string {
  const n = end - start;
  // Multiplying moves differences only towards the high bits: mix them back before the slot.
  let h = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  const slot = (h ^ (h >>> 16)) & (PATH_CACHE_SLOTS - 1);
  if (cache.lengths[slot] === n) {
    const keys = cache.keys;
    const at = cache.offsets[slot]!;
    let i = 0;
    while (i + 4 <= n && keys.getUint32(at + i) === dv.getUint32(start + i)) i += 4;
    while (i < n && keys.getUint8(at + i) === b[start + i]) i++;
    if (i === n) return cache.paths[slot]!;
  }
  let path = text.slice(base + start, base + end);
  if (cache.tenured > 0) {
    // Property keys are internalized, and V8 keeps internalized strings in the old generation.
    // Rows of a large table are allocated old (see addRow()); a young path in each would cost
    // the next minor collection a remembered slot per row (about 10 ms per 300,000 rows).
    // Bounded, as this costs about a microsecond per path and not every table repeats paths.
    cache.tenured--;
    path = Object.keys({ [path]: 0 })[0]!;
  }
  cache.paths[slot] = path;
  if (cache.used + n > cache.keyBytes.length) {
    const grown = new Uint8Array(Math.max(2 * cache.keyBytes.length, cache.used + n));
    grown.set(cache.keyBytes.subarray(0, cache.used));
    cache.keyBytes = grown;
    cache.keys = new DataView(grown.buffer);
  }
  const keyBytes = cache.keyBytes;
  for (let i = 0, at = cache.used; i < n; i++) keyBytes[at + i] = b[start + i]!;
  cache.offsets[slot] = cache.used;
  cache.lengths[slot] = n;
  cache.used += n;
  return path;
}

function fail(reason: string, lineNo: number, text: string, start: number, end: number) {
  return parseError(SOURCE, reason, lineNo, text.slice(start, end));
}

/** unixListenQueues() over text, by a scan that keeps only listeners and per-path counts. */
export function scanListenQueues(text: string): UnixListenQueue[] {
  const tally: QueueTally = { listeners: [], counts: new Map() };
  scan(text, null, tally);
  return joinQueues(tally);
}

function joinQueues(tally: QueueTally): UnixListenQueue[] {
  const out: UnixListenQueue[] = new Array(tally.listeners.length);
  for (let i = 0; i < out.length; i++) {
    const { path, inode } = tally.listeners[i]!;
    const c = tally.counts.get(path)!;
    out[i] = {
      path,
      abstract: path.charCodeAt(0) === 64, // '@'
      inode,
      queued: c[0],
      accepted: c[1],
      ambiguous: c[2] > 1,
    };
  }
  return out;
}
