import { lines, parseDecimal, parseError, parseHex } from './internal.js';
import type { TcpListenQueue, TcpSocket } from './schemas.js';

export type { TcpListenQueue, TcpSocket } from './schemas.js';

const SOURCE = '/proc/net/tcp';

/** TCP states as `include/net/tcp_states.h` numbers them. */
export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
] as const;
/** A TCP state name from `include/net/tcp_states.h`, or `UNKNOWN` for a number not listed. */
export type TcpStateName = (typeof TCP_STATES)[number] | 'UNKNOWN';

/** `TCP_LISTEN` (0x0A). */
export const TCP_STATE_LISTEN = 0x0a;

/** The kernel prints each 32-bit word of an address in host order; this assumes little-endian hosts (x86, arm64). */
function wordBytes(hex: string): number[] {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Formats 16 bytes as RFC 5952 text: lower case, longest zero run as `::`, v4-mapped dotted. */
export function formatIpv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12, 16).join('.')}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function parseAddress(
  text: string,
  line: number,
  lineText: string,
): { family: 4 | 6; address: string; port: number } {
  const colon = text.indexOf(':');
  const hex = text.slice(0, colon);
  const port = parseHex(text.slice(colon + 1));
  if (colon < 0 || port === undefined || port > 0xffff || !/^[0-9A-Fa-f]+$/.test(hex)) {
    throw parseError(SOURCE, `malformed address '${text}'`, line, lineText);
  }
  if (hex.length === 8) return { family: 4, address: wordBytes(hex).join('.'), port };
  if (hex.length === 32) {
    const bytes: number[] = [];
    for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
    return { family: 6, address: formatIpv6(bytes), port };
  }
  throw parseError(SOURCE, `address '${hex}' is neither 8 nor 32 hex digits`, line, lineText);
}

/**
 * Parses `/proc/net/tcp` or `/proc/net/tcp6` (kernel `net/ipv4/tcp_ipv4.c` `get_tcp4_sock`,
 * `net/ipv6/tcp_ipv6.c`; https://docs.kernel.org/networking/proc_net_tcp.html):
 *
 * ```text
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
 *    2: 0100007F:46AA 00000000:0000 0A 00000000:00000008 00:00000000 00000000     0        0 28215 ...
 *    1: 00000000000000000000000001000000:46AC 00000000000000000000000000000000:0000 0A ...
 * ```
 *
 * Addresses are hex words in host byte order (decoded as little-endian); ports are big-endian
 * hex. The header is optional.
 */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    const trimmed = lineText.trim();
    if (trimmed === '' || (i === 0 && trimmed.startsWith('sl'))) continue;
    const f = trimmed.split(/\s+/);
    const line = i + 1;
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) {
      throw parseError(
        SOURCE,
        'expected sl, addresses, st, queues, uid, timeout, inode',
        line,
        lineText,
      );
    }
    const local = parseAddress(f[1]!, line, lineText);
    const remote = parseAddress(f[2]!, line, lineText);
    const state = parseHex(f[3]!);
    const queues = /^([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{1,8})$/.exec(f[4]!);
    const uid = parseDecimal(f[7]!);
    const inode = parseDecimal(f[9]!);
    if (state === undefined || queues === null || uid === undefined || inode === undefined) {
      throw parseError(SOURCE, 'malformed st, tx_queue:rx_queue, uid or inode', line, lineText);
    }
    if (local.family !== remote.family) {
      throw parseError(SOURCE, 'local and remote addresses of different families', line, lineText);
    }
    out.push({
      family: local.family,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state,
      stateName: TCP_STATES[state - 1] ?? 'UNKNOWN',
      txQueue: Number.parseInt(queues[1]!, 16),
      rxQueue: Number.parseInt(queues[2]!, 16),
      uid,
      inode,
    });
  }
  return out;
}

/**
 * The accept queue of every TCP listener: the LISTEN row's `rx_queue` is the number of
 * established connections waiting for accept() (`sk_ack_backlog`). The limit is not in this
 * file; `ss -ltn` Send-Q shows it.
 */
export function tcpListenQueues(input: string | readonly TcpSocket[]): TcpListenQueue[] {
  const sockets = typeof input === 'string' ? parseProcNetTcp(input) : input;
  return sockets
    .filter((s) => s.state === TCP_STATE_LISTEN)
    .map((s) => ({
      family: s.family,
      address: s.localAddress,
      port: s.localPort,
      inode: s.inode,
      queued: s.rxQueue,
    }));
}
