import { lines, parseDecimal, parseError } from './internal.js';
import type { SsProcess, SsSocket } from './schemas.js';

export type { SsProcess, SsSocket } from './schemas.js';

const SOURCE = 'ss';

const NETIDS = new Set([
  'u_str',
  'u_dgr',
  'u_seq',
  'tcp',
  'udp',
  'raw',
  'sctp',
  'mptcp',
  'p_raw',
  'p_dgr',
  'nl',
  'v_str',
  'v_dgr',
  'tipc',
  'xdp',
  '???',
]);

function splitHostPort(text: string): [string, string] {
  const at = text.lastIndexOf(':');
  if (at < 0) return [text, ''];
  return [text.slice(0, at), text.slice(at + 1)];
}

/** Parses `users:((...),(...))` into processes; undefined when the text has none. */
export function parseSsUsers(text: string): SsProcess[] | undefined {
  const start = text.indexOf('users:(');
  if (start < 0) return undefined;
  const out: SsProcess[] = [];
  const list = text.slice(start);
  const re = /\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=(\d+)\)/g;
  for (let m = re.exec(list); m !== null; m = re.exec(list)) {
    out.push({ name: m[1]!, pid: Number(m[2]), fd: Number(m[3]) });
  }
  return out;
}

/**
 * Parses `ss` socket listings: `ss -xl`, `ss -xlp`, `ss -ltn`, `ss -ltnp`, `ss -lt` (service
 * names) and their `-a` forms (iproute2 `misc/ss.c`; https://man7.org/linux/man-pages/man8/ss.8.html):
 *
 * ```text
 * Netid State  Recv-Q Send-Q                Local Address:Port    Peer Address:PortProcess
 * u_str LISTEN 9      8     /run/php/php8.2-fpm.sock 1720980            * 0    users:(("php-fpm8.2",pid=21978,fd=6))
 * LISTEN 5      4              [::1]:18092         [::]:*
 * ```
 *
 * For LISTEN rows Recv-Q is the accept-queue length and Send-Q the backlog limit; for other
 * states both are byte counts. For TCP rows, columns after the peer that are not a process
 * list (`-e`, `-m`, `-i` details) are ignored. UNIX paths with runs of spaces come back with single spaces
 * (ss separates columns with spaces too).
 */
export function parseSs(text: string): SsSocket[] {
  const out: SsSocket[] = [];
  const all = lines(text);
  let hasNetid: boolean | undefined;
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    const trimmed = lineText.trim();
    if (trimmed === '') continue;
    if (/^(Netid|State)\s+/.test(trimmed)) {
      hasNetid = trimmed.startsWith('Netid');
      continue;
    }
    const usersAt = trimmed.indexOf(' users:(');
    const processes = usersAt >= 0 ? parseSsUsers(trimmed.slice(usersAt)) : undefined;
    const body = (usersAt >= 0 ? trimmed.slice(0, usersAt) : trimmed).trim();
    const f = body.split(/\s+/);
    const withNetid = hasNetid ?? NETIDS.has(f[0]!);
    const netidGiven = withNetid ? f.shift()! : undefined;
    const [state, recv, send, ...rest] = f;
    const recvQ = parseDecimal(recv ?? '');
    const sendQ = parseDecimal(send ?? '');
    if (state === undefined || recvQ === undefined || sendQ === undefined || rest.length < 2) {
      throw parseError(SOURCE, 'expected State Recv-Q Send-Q Local Peer', i + 1, lineText);
    }
    let localAddress: string;
    let localPort: string;
    let peerAddress: string;
    let peerPort: string;
    let netid = netidGiven;
    const unixLike = netid?.startsWith('u_') ?? !rest[0]!.includes(':');
    if (unixLike) {
      // UNIX rows: `path inode peer peer-inode`; the path may contain spaces.
      if (rest.length < 4) {
        throw parseError(SOURCE, 'expected path, inode, peer and peer inode', i + 1, lineText);
      }
      peerPort = rest.pop()!;
      peerAddress = rest.pop()!;
      localPort = rest.pop()!;
      localAddress = rest.join(' ');
      netid ??= 'u_str';
    } else {
      if (rest.length < 2) {
        throw parseError(
          SOURCE,
          'expected Local Address:Port and Peer Address:Port',
          i + 1,
          lineText,
        );
      }
      [localAddress, localPort] = splitHostPort(rest[0]!);
      [peerAddress, peerPort] = splitHostPort(rest[1]!);
      netid ??= 'tcp';
    }
    const row: SsSocket = {
      netid,
      state,
      recvQ,
      sendQ,
      localAddress,
      localPort,
      peerAddress,
      peerPort,
    };
    if (processes !== undefined) row.processes = processes;
    out.push(row);
  }
  return out;
}
