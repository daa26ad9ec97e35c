import { z } from 'zod';
import { parseError } from './internal.js';

const SOURCE = '/proc/net/unix';

/** `__SO_ACCEPTCON`: the only flag the kernel prints, set on listening sockets. */
export const UNIX_FLAG_LISTENING = 0x10000;
/** `SOCK_STREAM`, the type FPM listens with. */
export const UNIX_TYPE_STREAM = 1;
/** `SS_UNCONNECTED`: a listener, or a client blocked in connect() on a full queue. */
export const UNIX_STATE_UNCONNECTED = 1;
/** `SS_CONNECTING` without a `struct socket`: an embryo waiting in a listener's accept queue. */
export const UNIX_STATE_CONNECTING = 2;
/** `SS_CONNECTED`: an established socket (accepted server side or connected client). */
export const UNIX_STATE_CONNECTED = 3;
/** `SS_DISCONNECTING`: an orphan whose owner closed it. */
export const UNIX_STATE_DISCONNECTING = 4;

/** Hex fields wider than this cannot be a kernel u32 and would lose precision. */
const MAX_HEX_DIGITS = 12;
/** The shortest row the kernel prints (8-digit address on 32-bit kernels, no path). */
const MIN_ROW_CHARS = 40;
/** Beyond this V8 would make a pre-sized array slow (dictionary mode); it grows instead. */
const MAX_PRESIZE_ROWS = 1 << 24;
/**
 * Tables this long (about 250,000 rows) build their rows at separate literal sites; see scan().
 * Large enough that collections run while such a table is being parsed, so those sites learn
 * that its rows survive.
 */
const BULK_TABLE_CHARS = 1 << 24;
/** Inodes are unsigned long; 15 decimal digits stay exact in a double. */
const MAX_INODE_DIGITS = 15;

/** One row of /proc/net/unix. */
export const unixSocketSchema = z.object({
  /** Reference count (`RefCount`). */
  refCount: z.number().int().nonnegative(),
  /** `Flags`: `0x10000` (`__SO_ACCEPTCON`) on listeners, else 0. */
  flags: z.number().int().nonnegative(),
  /** True when `flags` has `__SO_ACCEPTCON`. */
  listening: z.boolean(),
  /** `Type`: 1 stream, 2 datagram, 5 seqpacket. */
  type: z.number().int().nonnegative(),
  /** `St`: 1 unconnected, 2 connecting (embryo), 3 connected, 4 disconnecting. */
  state: z.number().int().nonnegative(),
  /** `Inode` of the socket; 0 for an embryo that has no `struct socket` yet. */
  inode: z.number().int().nonnegative(),
  /** Bound name: a file path, or `@name` for an abstract name. Absent for unnamed sockets. */
  path: z.string().optional(),
});
export type UnixSocket = z.infer<typeof unixSocketSchema>;

/** Queue depth of one listening stream socket. */
export const unixListenQueueSchema = z.object({
  /** The listener's name (`@name` for abstract sockets). */
  path: z.string(),
  /** True for abstract names (leading `@`), which have no file. */
  abstract: z.boolean(),
  /** The listener's inode, to join with /proc/PID/fd links. */
  inode: z.number().int().nonnegative(),
  /** Connections in the accept queue: rows with this path in state 02 (embryos). */
  queued: z.number().int().nonnegative(),
  /** Accepted server-side connections still open: rows with this path in state 03. */
  accepted: z.number().int().nonnegative(),
  /**
   * True when several listeners share the path (a stale socket was replaced while the old one
   * was still open): embryos carry only the path, so the counts are those of all of them.
   */
  ambiguous: z.boolean(),
});
export type UnixListenQueue = z.infer<typeof unixListenQueueSchema>;

/** Hex digit values by UTF-16 code unit (so any charCodeAt result indexes it); -1 for others. */
const HEX_VALUE = new Int8Array(0x10000).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

// Position after the last field read; set by the readers so the scanner allocates nothing.
let cursor = 0;

/** Eight hex digits at `p`, unrolled; -1 when any is not a hex digit. */
function readHex8(text: string, p: number, table: Int8Array): number {
  const a = table[text.charCodeAt(p)]!;
  const b = table[text.charCodeAt(p + 1)]!;
  const c = table[text.charCodeAt(p + 2)]!;
  const d = table[text.charCodeAt(p + 3)]!;
  const e = table[text.charCodeAt(p + 4)]!;
  const f = table[text.charCodeAt(p + 5)]!;
  const g = table[text.charCodeAt(p + 6)]!;
  const h = table[text.charCodeAt(p + 7)]!;
  if ((a | b | c | d | e | f | g | h) < 0) return -1;
  return (
    ((a << 28) | (b << 24) | (c << 20) | (d << 16) | (e << 12) | (f << 8) | (g << 4) | h) >>> 0
  );
}

/** Reads exactly `n` hex digits at `p`; -1 when any of them is not a hex digit. */
function readHexFixed(text: string, p: number, n: number, table: Int8Array): number {
  // 32-bit integer arithmetic (n <= 8); `>>> 0` reads the bits back as unsigned.
  let value = 0;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const d = table[text.charCodeAt(p + i)]!;
    bad |= d;
    value = (value << 4) | d;
  }
  return bad < 0 ? -1 : value >>> 0;
}

/**
 * Offsets from the colon in the kernel's fixed layout `: %08X %08X %08X %04X %02X %5lu`:
 * RefCount at +2, Protocol +11, Flags +20, Type +29, St +34, then a space at +36.
 */
const FIXED_MIN_LENGTH = 38;

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
 * skipped, and `Protocol` (always 0 on Linux) is checked but not kept. The path is everything after the single space that follows the inode, so paths
 * with spaces survive; abstract names keep their leading `@`. The header is optional and
 * blank lines are ignored. Malformed rows throw `FpmkitParseError` with the line.
 *
 * Written as one scan over the string (no split, no regular expression) because the table
 * can hold hundreds of thousands of rows on a busy host.
 */
export function parseProcNetUnix(text: string): UnixSocket[] {
  // Sized up front (rows are at least ~40 characters) so a large table is not copied as it grows.
  const out: UnixSocket[] = new Array(
    Math.min(Math.ceil(text.length / MIN_ROW_CHARS), MAX_PRESIZE_ROWS),
  );
  out.length = scan(text, out, null);
  return out;
}

/** What the queue-only scan gathers: listeners, and [queued, accepted] per path. */
interface QueueTally {
  listeners: { path: string; inode: number }[];
  counts: Map<string, [number, number]>;
}

/**
 * The scanner behind `parseProcNetUnix` (rows into `out`) and `unixListenQueues(text)` (only
 * listeners and per-path counts into `tally`, without an object per row). Returns the row count.
 */
function scan(text: string, out: UnixSocket[] | null, tally: QueueTally | null): number {
  let count = 0;
  const paths: (string | undefined)[] = new Array(PATH_CACHE_SLOTS);
  // Module-level bindings cost a TDZ check on every read in unbundled ESM; the hot loop uses locals.
  const table = HEX_VALUE;
  const minLength = FIXED_MIN_LENGTH;
  const maxInodeDigits = MAX_INODE_DIGITS;
  const listeningFlag = UNIX_FLAG_LISTENING;
  const streamType = UNIX_TYPE_STREAM;
  const connecting = UNIX_STATE_CONNECTING;
  const connected = UNIX_STATE_CONNECTED;
  const bulk = text.length >= BULK_TABLE_CHARS;
  const len = text.length;
  let pos = 0;
  let lineNo = 0;
  if (text.startsWith('Num')) {
    const nl = text.indexOf('\n');
    pos = nl === -1 ? len : nl + 1;
    lineNo = 1;
  }
  while (pos < len) {
    lineNo++;
    let next = text.indexOf('\n', pos);
    if (next === -1) next = len;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end === pos) {
      pos = next + 1;
      continue;
    }
    // The kernel address is not interpreted: finding its colon is all that is needed.
    const colon = text.indexOf(':', pos);
    if (colon < 0 || colon >= end || colon === pos) {
      throw fail('expected a kernel address followed by ":"', lineNo, text, pos, end);
    }
    let refCount = -1;
    let protocol = -1;
    let flags = -1;
    let type = -1;
    let state = -1;
    let inode = -1;
    let p = 0;
    const c = colon;
    // Fast path for the layout the kernel prints; anything else goes through the general path.
    if (
      end - c >= minLength &&
      text.charCodeAt(c + 1) === 32 &&
      text.charCodeAt(c + 10) === 32 &&
      text.charCodeAt(c + 19) === 32 &&
      text.charCodeAt(c + 28) === 32 &&
      text.charCodeAt(c + 33) === 32 &&
      text.charCodeAt(c + 36) === 32
    ) {
      refCount = readHex8(text, c + 2, table);
      protocol = readHex8(text, c + 11, table);
      flags = readHex8(text, c + 20, table);
      type = readHexFixed(text, c + 29, 4, table);
      state = readHexFixed(text, c + 34, 2, table);
      if (refCount >= 0 && protocol >= 0 && flags >= 0 && type >= 0 && state >= 0) {
        // Inode: padding spaces after the one at c + 36, then decimal digits.
        let q = c + 37;
        while (q < end && text.charCodeAt(q) === 32) q++;
        const digitsStart = q;
        let value = 0;
        while (q < end) {
          const d = text.charCodeAt(q) - 48;
          if (d < 0 || d > 9) break;
          value = value * 10 + d;
          q++;
        }
        if (q > digitsStart && q - digitsStart <= maxInodeDigits) {
          inode = value;
          p = q;
        }
      }
    }
    if (inode < 0) {
      refCount = readHex(text, c + 1, end);
      protocol = refCount < 0 ? -1 : readHex(text, cursor, end);
      flags = protocol < 0 ? -1 : readHex(text, cursor, end);
      type = flags < 0 ? -1 : readHex(text, cursor, end);
      state = type < 0 ? -1 : readHex(text, cursor, end);
      inode = state < 0 ? -1 : readInode(text, cursor, end);
      if (inode < 0) {
        throw fail('expected RefCount Protocol Flags Type St Inode', lineNo, text, pos, end);
      }
      p = cursor;
    }
    const listening = (flags & listeningFlag) !== 0;
    let pathStart = -1;
    if (p + 1 < end && text.charCodeAt(p) === 32) pathStart = p + 1;
    else if (p !== end && !(p + 1 === end && text.charCodeAt(p) === 32)) {
      throw fail('unexpected text after the inode', lineNo, text, pos, end);
    }
    if (out !== null) {
      // Two copies of the same literals: V8 decides per literal site whether its objects are
      // allocated straight into the old generation. Small tables (rows soon dropped) would teach
      // a shared site to allocate young, and a later large table would then have every row copied
      // by the collector; large tables get sites of their own that learn to allocate old.
      if (bulk) {
        out[count] =
          pathStart < 0
            ? { refCount, flags, listening, type, state, inode }
            : {
                refCount,
                flags,
                listening,
                type,
                state,
                inode,
                path: intern(text, pathStart, end, paths),
              };
      } else {
        out[count] =
          pathStart < 0
            ? { refCount, flags, listening, type, state, inode }
            : {
                refCount,
                flags,
                listening,
                type,
                state,
                inode,
                path: intern(text, pathStart, end, paths),
              };
      }
    } else if (tally !== null && pathStart >= 0 && type === streamType) {
      if (listening) {
        tally.listeners.push({ path: intern(text, pathStart, end, paths), inode });
      } else if (state === connecting || state === connected) {
        const path = intern(text, pathStart, end, paths);
        let c = tally.counts.get(path);
        if (c === undefined) {
          c = [0, 0];
          tally.counts.set(path, c);
        }
        c[state === connecting ? 0 : 1]++;
      }
    }
    count++;
    pos = next + 1;
  }
  return count;
}

/** Slots in the path cache: a power of two, far more than the distinct paths of a busy host. */
const PATH_CACHE_SLOTS = 1024;
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

function fail(reason: string, lineNo: number, text: string, start: number, end: number) {
  return parseError(SOURCE, reason, lineNo, text.slice(start, end));
}

/**
 * The accept queue of every listening stream socket that has a name, from /proc/net/unix text
 * or parsed rows. `queued` counts the embryo rows (state 02) carrying the listener's path:
 * connections the kernel accepted on the application's behalf that no worker has taken yet.
 * It equals `ss -xl` Recv-Q for the listener, and is what FPM's status page cannot show
 * (it reports `listen queue: 0` for every UNIX socket).
 */
export function unixListenQueues(input: string | readonly UnixSocket[]): UnixListenQueue[] {
  if (typeof input === 'string') {
    // Text goes through a scan that keeps only what the queues need.
    const tally: QueueTally = { listeners: [], counts: new Map() };
    scan(input, null, tally);
    return joinQueues(tally);
  }
  const tally: QueueTally = { listeners: [], counts: new Map() };
  for (const s of input) {
    if (s.path === undefined || s.type !== UNIX_TYPE_STREAM) continue;
    if (s.listening) {
      tally.listeners.push({ path: s.path, inode: s.inode });
    } else if (s.state === UNIX_STATE_CONNECTING || s.state === UNIX_STATE_CONNECTED) {
      let c = tally.counts.get(s.path);
      if (c === undefined) {
        c = [0, 0];
        tally.counts.set(s.path, c);
      }
      c[s.state === UNIX_STATE_CONNECTING ? 0 : 1]++;
    }
  }
  return joinQueues(tally);
}

function joinQueues(tally: QueueTally): UnixListenQueue[] {
  const seen = new Map<string, number>();
  for (const l of tally.listeners) seen.set(l.path, (seen.get(l.path) ?? 0) + 1);
  return tally.listeners.map((l) => {
    const c = tally.counts.get(l.path);
    return {
      path: l.path,
      abstract: l.path.startsWith('@'),
      inode: l.inode,
      queued: c?.[0] ?? 0,
      accepted: c?.[1] ?? 0,
      ambiguous: (seen.get(l.path) ?? 0) > 1,
    };
  });
}
