import { parseError } from './internal.js';
import type { UnixListenQueue, UnixSocket } from './schemas.js';

export type { UnixListenQueue, UnixSocket } from './schemas.js';

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

/** `UNIX_PATH_MAX`: bytes in `sun_path`, the most a printed name can hold (linux/un.h). */
const UNIX_PATH_MAX = 108;

/** Hex fields wider than this cannot be a kernel u32 and would lose precision. */
const MAX_HEX_DIGITS = 12;
/** Inodes are unsigned long; 15 decimal digits stay exact in a double. */
const MAX_INODE_DIGITS = 15;

/**
 * Reads the fields of one line at a time. It lives for one parse (no state outlives it), and
 * notes whether the line has the kernel's exact layout, `ADDR: %08X %08X %08X %04X %02X %5lu`.
 */
class RowReader {
  /** Where the last field read ended (the space before the next one); -1 after a bad field. */
  pos = 0;
  end = 0;
  /** Every field so far had the kernel's width and a single space before it. */
  kernelLayout = true;
  /** Why the line is not a row, when a read returned -1. */
  reason = '';

  constructor(readonly text: string) {}

  /** Reads `[start, end)` as a row; undefined (with `reason`) when it is not one. */
  row(start: number, end: number): UnixSocket | undefined {
    const colon = this.text.indexOf(':', start);
    if (colon <= start || colon >= end) {
      this.reason = 'expected a kernel address followed by ":"';
      return undefined;
    }
    this.pos = colon + 1;
    this.end = end;
    this.kernelLayout = true;
    const refCount = this.hex(8);
    const protocol = this.hex(8);
    const flags = this.hex(8);
    const type = this.hex(4);
    const state = this.hex(2);
    const inode = this.inode();
    if (refCount < 0 || protocol < 0 || flags < 0 || type < 0 || state < 0 || inode < 0) {
      this.reason = 'expected RefCount Protocol Flags Type St Inode';
      return undefined;
    }
    if (this.pos < end && this.text.charCodeAt(this.pos) !== 32) {
      this.reason = 'unexpected text after the inode';
      return undefined;
    }
    return { refCount, flags, listening: (flags & UNIX_FLAG_LISTENING) !== 0, type, state, inode };
  }

  /** One space, optional padding, then hex digits (the kernel prints `width`); -1 if malformed. */
  private hex(width: number): number {
    const { text, end } = this;
    let p = this.pos;
    if (p < 0 || p >= end || text.charCodeAt(p) !== 32) {
      this.pos = -1;
      return -1;
    }
    p++;
    while (p < end && text.charCodeAt(p) === 32) p++;
    const start = p;
    let value = 0;
    for (; p < end; p++) {
      const c = text.charCodeAt(p);
      const digit =
        c >= 48 && c <= 57
          ? c - 48
          : c >= 65 && c <= 70
            ? c - 55
            : c >= 97 && c <= 102
              ? c - 87
              : -1;
      if (digit < 0) break;
      value = value * 16 + digit;
    }
    if (p === start || p - start > MAX_HEX_DIGITS) {
      this.pos = -1;
      return -1;
    }
    if (start !== this.pos + 1 || p - start !== width) this.kernelLayout = false;
    this.pos = p;
    return value;
  }

  /** One space, padding (the kernel's `%5lu`), then decimal digits; -1 if malformed. */
  private inode(): number {
    const { text, end } = this;
    let p = this.pos;
    if (p < 0 || p >= end || text.charCodeAt(p) !== 32) return -1;
    p++;
    while (p < end && text.charCodeAt(p) === 32) p++;
    const start = p;
    let value = 0;
    for (; p < end; p++) {
      const digit = text.charCodeAt(p) - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (p === start || p - start > MAX_INODE_DIGITS) return -1;
    this.pos = p;
    return value;
  }
}

/** The last row whose name may go on over the next lines, and where that name starts. */
interface OpenName {
  row: UnixSocket;
  /** Offset in the text of the name's first character (after the space that follows the inode). */
  start: number;
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
 * keep their leading `@`. The header is optional, blank lines are ignored and a trailing CR is
 * dropped. Fields may have other widths and padding than the kernel's. Malformed rows throw
 * `FpmkitParseError` with the line.
 *
 * The kernel prints names raw, so any local user can bind a socket whose name holds newlines
 * and spreads over several lines. A line that is not a row in the kernel's fixed layout, after
 * a row with a name, is read as the rest of that name (blank lines between are its newlines)
 * while the whole name fits in `sun_path` (108 bytes, counted as UTF-16 code units); the row
 * then carries the whole name. A line in the kernel's layout is always a row, so such a name can
 * never hide a real socket; a name that itself prints a line in that layout is cut there (the
 * only reading that cannot lose a row). A name's trailing newlines read as blank lines and are
 * not kept.
 *
 * One pass over the text; paths are slices of `text`.
 */
export function parseProcNetUnix(text: string): UnixSocket[] {
  const rows: UnixSocket[] = [];
  const reader = new RowReader(text);
  let open: OpenName | undefined;
  let pos = 0;
  let lineNo = 0;
  if (text.startsWith('Num')) {
    const nl = text.indexOf('\n');
    pos = nl === -1 ? text.length : nl + 1;
    lineNo = 1;
  }
  while (pos < text.length) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = text.length;
    lineNo++;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === 13) end--;
    if (end > pos) {
      const row = reader.row(pos, end);
      if (row !== undefined && reader.kernelLayout) {
        // A line in the kernel's layout is always a row.
        open = addRow(rows, text, row, reader.pos, end);
      } else if (open !== undefined && end - open.start <= UNIX_PATH_MAX) {
        // More of the name above: everything from its start, newlines (and CRs) included.
        open.row.path = text.slice(open.start, end);
      } else if (row !== undefined) {
        open = addRow(rows, text, row, reader.pos, end);
      } else {
        throw parseError(SOURCE, reader.reason, lineNo, text.slice(pos, end));
      }
    }
    pos = next + 1;
  }
  return rows;
}

/**
 * Appends `row`, whose inode ends at `afterInode` on a line that ends at `end`, with its name
 * when the line goes on. Returns where that name starts, as later lines may continue it.
 */
function addRow(
  rows: UnixSocket[],
  text: string,
  row: UnixSocket,
  afterInode: number,
  end: number,
): OpenName | undefined {
  rows.push(row);
  if (afterInode === end) return undefined;
  const start = afterInode + 1;
  // A line that ends in the space after the inode starts a name with a newline.
  if (start < end) row.path = text.slice(start, end);
  return { row, start };
}

/**
 * The accept queue of every listening stream socket that has a name, from /proc/net/unix text
 * or parsed rows. `queued` counts the embryo rows (state 02) carrying the listener's path:
 * connections the kernel accepted on the application's behalf that no worker has taken yet.
 * It equals `ss -xl` Recv-Q for the listener, and is what FPM's status page cannot show
 * (it reports `listen queue: 0` for every UNIX socket). Listeners come in table order;
 * `ambiguous` marks a path that more than one listener carries.
 */
export function unixListenQueues(input: string | readonly UnixSocket[]): UnixListenQueue[] {
  const rows = typeof input === 'string' ? parseProcNetUnix(input) : input;
  const listeners: UnixSocket[] = [];
  const byPath = new Map<string, { queued: number; accepted: number; listeners: number }>();
  for (const row of rows) {
    if (row.path === undefined || row.type !== UNIX_TYPE_STREAM) continue;
    const counted =
      row.listening || row.state === UNIX_STATE_CONNECTING || row.state === UNIX_STATE_CONNECTED;
    if (!counted) continue;
    let c = byPath.get(row.path);
    if (c === undefined) {
      c = { queued: 0, accepted: 0, listeners: 0 };
      byPath.set(row.path, c);
    }
    if (row.listening) {
      listeners.push(row);
      c.listeners++;
    } else if (row.state === UNIX_STATE_CONNECTING) {
      c.queued++;
    } else {
      c.accepted++;
    }
  }
  return listeners.map(({ path, inode }) => {
    const c = byPath.get(path!)!;
    return {
      path: path!,
      abstract: path!.startsWith('@'),
      inode,
      queued: c.queued,
      accepted: c.accepted,
      ambiguous: c.listeners > 1,
    };
  });
}
