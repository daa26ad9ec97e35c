import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { FpmkitIoError, FpmkitListenerNotFoundError } from '../errors.js';
import {
  formatListen,
  type ListenAddress,
  parseListen,
  type TcpListenAddress,
} from '../fpm/listen.js';
import { type NetstatCounters, parseProcNetNetstat } from '../kernel/proc-net-netstat.js';
import { parseProcNetTcp, type TcpListenQueue, tcpListenQueues } from '../kernel/proc-net-tcp.js';
import { type UnixListenQueue, unixListenQueues } from '../kernel/proc-net-unix.js';
import { parseSs, type SsSocket } from '../kernel/ss.js';
import type { ListenQueueReader, ListenQueueReading } from '../status/sampler.js';
import { type ReadOptions, readPseudoFileSync, readText, readTextIfExists, roots } from './io.js';

/**
 * The accept queue of every listening UNIX stream socket with a name, from
 * `{procRoot}/net/unix` (read to its end, however large). This is the queue depth FPM's status
 * page reports as 0 for UNIX-socket pools. /proc/net is per network namespace: the reader sees
 * the namespace of the process that reads it.
 */
export async function readUnixListenQueues(options: ReadOptions = {}): Promise<UnixListenQueue[]> {
  const { procRoot } = roots(options);
  return unixListenQueues(await readText(join(procRoot, 'net', 'unix')));
}

/**
 * `readUnixListenQueues` read in one synchronous call (see `readPseudoFileSync`): for a caller
 * that samples it often, such as the exporter at every scrape.
 */
export function readUnixListenQueuesSync(options: ReadOptions = {}): UnixListenQueue[] {
  const { procRoot } = roots(options);
  return unixListenQueues(readPseudoFileSync(join(procRoot, 'net', 'unix')));
}

/** `readNetstat` read in one synchronous call (see `readPseudoFileSync`). */
export function readNetstatSync(options: ReadOptions = {}): NetstatCounters {
  const { procRoot } = roots(options);
  return parseProcNetNetstat(readPseudoFileSync(join(procRoot, 'net', 'netstat')));
}

/**
 * The accept queue of every TCP listener from `{procRoot}/net/tcp` and `net/tcp6` (the latter
 * skipped when IPv6 is disabled).
 */
export async function readTcpListenQueues(options: ReadOptions = {}): Promise<TcpListenQueue[]> {
  const { procRoot } = roots(options);
  const v4 = await readText(join(procRoot, 'net', 'tcp'));
  const v6 = await readTextIfExists(join(procRoot, 'net', 'tcp6'));
  return [
    ...tcpListenQueues(parseProcNetTcp(v4)),
    ...(v6 === undefined ? [] : tcpListenQueues(parseProcNetTcp(v6))),
  ];
}

/**
 * Kernel network counters from `{procRoot}/net/netstat` (`TcpExt.ListenOverflows`,
 * `TcpExt.ListenDrops` ...). They are machine-wide (per network namespace) and cumulative:
 * compare two readings.
 */
export async function readNetstat(options: ReadOptions = {}): Promise<NetstatCounters> {
  const { procRoot } = roots(options);
  return parseProcNetNetstat(await readText(join(procRoot, 'net', 'netstat')));
}

/** Bound on one `ss` run, milliseconds. */
export const SS_TIMEOUT_MS = 3_000;
/** How long a failed or fruitless backlog look-up waits before `ss` is asked again. */
const BACKLOG_RETRY_MS = 30_000;

/** Bound on the output of one `ss` run, bytes: a host with a million listeners stays below. */
const SS_MAX_BYTES = 64 * 1024 * 1024;

/** Runs `ss -lnxt` once; rejects with `FpmkitIoError` when it cannot run or fails. */
function ssText(signal?: AbortSignal): Promise<string> {
  return new Promise((done, reject) => {
    execFile(
      'ss',
      ['-lnxt'],
      { timeout: SS_TIMEOUT_MS, maxBuffer: SS_MAX_BYTES, ...(signal ? { signal } : {}) },
      (error, stdout) => {
        if (!error) {
          done(stdout);
          return;
        }
        const errno = typeof error.code === 'string' ? error.code : undefined;
        reject(
          new FpmkitIoError('ss', `cannot run ss -lnxt: ${error.message}`, {
            cause: error,
            ...(errno === undefined ? {} : { errno }),
          }),
        );
      },
    );
  });
}

/**
 * Every listening UNIX stream and TCP socket with its backlog, as `ss -lnxt` (iproute2) prints
 * it (Send-Q of a listener is its backlog); undefined when `ss` is missing or fails. The
 * backlog is not in /proc: only the kernel's socket diagnostics (what `ss` reads) carry it.
 * `signal` stops `ss` early (the result is then undefined).
 */
export function runSsListeners(signal?: AbortSignal): Promise<string | undefined> {
  return ssText(signal).catch(() => undefined);
}

/**
 * The listening UNIX stream and TCP sockets as `ss -lnxt` (iproute2) shows them: for a
 * listener, Recv-Q is the queue now and Send-Q the backlog listen(2) was given, capped by
 * somaxconn when it was called. That is the backlog in force, which a reload does not change.
 * Rejects with `FpmkitIoError` when `ss` cannot run.
 */
export async function readSsListeners(): Promise<SsSocket[]> {
  return parseSs(await ssText());
}

/** `ss` and /proc spell an address differently: `[::1]`, `*` versus `::1`, `0.0.0.0`. */
function bare(address: string): string {
  return address
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
}

/**
 * The TCP listeners in the kernel's tables that take connections for `address`: its own host,
 * for a bare port the wildcard sockets of both families, for `0.0.0.0` or `::` the wildcard
 * socket of that family only (another family's belongs to another process), and for
 * `localhost` the loopback ones.
 */
export function matchTcpListeners<T extends { address: string; port: number }>(
  address: TcpListenAddress,
  listeners: readonly T[],
): T[] {
  const host = address.host === undefined ? '' : bare(address.host);
  return listeners.filter((l) => {
    if (l.port !== address.port) return false;
    const a = bare(l.address);
    // A bare port binds `::` (or `0.0.0.0` without IPv6); `0.0.0.0` and `::` bind only theirs.
    const wildcard =
      a === '*' ||
      (a === '0.0.0.0' && address.family !== 'ipv6') ||
      (a === '::' && address.family !== 'ipv4');
    return (
      a === host ||
      a === `::ffff:${host}` ||
      (address.wildcard && wildcard) ||
      (host === 'localhost' && (a.startsWith('127.') || a === '::1'))
    );
  });
}

/** Options of {@link listenQueueReader}. */
export interface ListenQueueReaderOptions extends ReadOptions {
  /**
   * Lists the listeners with their backlog (`ss -lnxt` output), or undefined when unavailable.
   * Called when the listener is first seen and again when its inode changes (a restart made a
   * new socket), so its cost does not recur every sample. A read given `timeoutMs` aborts
   * `signal` when its time is up. @default {@link runSsListeners}
   */
  listListeners?: ((signal?: AbortSignal) => Promise<string | undefined>) | undefined;
}

/** The backlog `ss` prints for the listener, when it lists it. */
function backlogOf(text: string, address: ListenAddress, inode: number): number | undefined {
  const rows = parseSs(text).filter((s) => s.state === 'LISTEN');
  if (address.kind === 'unix') {
    const unix = rows.filter((s) => s.netid === 'u_str' && s.localAddress === address.path);
    return (unix.find((s) => s.localPort === String(inode)) ?? unix[0])?.sendQ;
  }
  const tcp = rows.filter((s) => s.netid === 'tcp');
  return matchTcpListeners(
    address,
    tcp.map((s) => ({ address: s.localAddress, port: Number(s.localPort), sendQ: s.sendQ })),
  )[0]?.sendQ;
}

/**
 * A reader of one listener's accept queue for `StatusSampler` and `watchStatus`: each call reads
 * `{procRoot}/net/unix` (a UNIX path) or `net/tcp` and `net/tcp6` (a TCP address) and returns
 * the connections waiting, with the backlog in force on the live socket and the capacity
 * (backlog + 1) from `ss`, looked up once per socket. Throws `FpmkitListenerNotFoundError` naming
 * what is missing when the listener is not in this network namespace's tables.
 *
 * ```ts
 * const read = listenQueueReader('/run/php/www.sock');
 * const { queued, capacity } = await read();
 * ```
 */
export function listenQueueReader(
  listen: string | ListenAddress,
  options: ListenQueueReaderOptions = {},
): ListenQueueReader {
  const parsed = typeof listen === 'string' ? parseListen(listen, { option: 'listen' }) : listen;
  const address: ListenAddress =
    parsed.kind === 'unix' ? { ...parsed, path: resolve(parsed.path), relative: false } : parsed;
  const listListeners = options.listListeners ?? runSsListeners;
  const read: ReadOptions = {};
  if (options.procRoot !== undefined) read.procRoot = options.procRoot;
  let known: { inode: number; backlog: number | undefined; at: number } | undefined;
  const backlogFor = async (inode: number, timeoutMs?: number): Promise<number | undefined> => {
    const now = Date.now();
    const fresh = known?.inode === inode;
    if (fresh && (known?.backlog !== undefined || now - known!.at < BACKLOG_RETRY_MS))
      return known?.backlog;
    // A look-up that outlasts the read's bound is stopped and counts as fruitless.
    const abort = new AbortController();
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), Math.max(0, timeoutMs));
    let text: string | undefined;
    try {
      text = await Promise.race([
        listListeners(abort.signal).catch(() => undefined),
        new Promise<undefined>((done) =>
          abort.signal.addEventListener('abort', () => done(undefined)),
        ),
      ]);
    } finally {
      clearTimeout(timer);
    }
    const backlog = text === undefined ? undefined : backlogOf(text, address, inode);
    known = { inode, backlog, at: now };
    return backlog;
  };
  return async (readOptions = {}) => {
    const started = performance.now();
    let queued: number;
    let inode: number;
    let source: ListenQueueReading['source'];
    let time: Date;
    if (address.kind === 'unix') {
      const queues = await readUnixListenQueues(read);
      time = new Date();
      const found = queues.find((q) => q.path === address.path);
      if (!found)
        throw new FpmkitListenerNotFoundError(
          address.path,
          `no listening socket ${address.path} in /proc/net/unix: FPM is not listening there, or it runs in another network namespace`,
        );
      ({ queued, inode } = found);
      source = 'proc-net-unix';
    } else {
      const listeners = await readTcpListenQueues(read);
      time = new Date();
      const found = matchTcpListeners(address, listeners);
      if (found.length === 0)
        throw new FpmkitListenerNotFoundError(
          formatListen(address),
          `no TCP listener for ${formatListen(address)} in /proc/net/tcp or tcp6: FPM is not listening there, runs on another host, or in another network namespace`,
        );
      queued = found.reduce((sum, l) => sum + l.queued, 0);
      inode = found[0]!.inode;
      source = 'proc-net-tcp';
    }
    const left =
      readOptions.timeoutMs === undefined
        ? undefined
        : readOptions.timeoutMs - (performance.now() - started);
    const backlog = await backlogFor(inode, left);
    return {
      queued,
      ...(backlog === undefined ? {} : { backlog, capacity: backlog + 1 }),
      source,
      inode,
      time,
    };
  };
}

/**
 * The `ss` row of the socket a `listen` address binds: by path for a UNIX socket, by port and
 * host for TCP as `matchTcpListeners` matches them (the exact address first). Undefined when
 * nothing listens there: a listener on the same port but another address belongs to someone
 * else and is never taken for the pool's.
 */
export function ssListenerFor(
  address: ListenAddress,
  sockets: readonly SsSocket[],
): SsSocket | undefined {
  const listening = sockets.filter((s) => s.state === 'LISTEN');
  if (address.kind === 'unix')
    return listening.find((s) => s.netid === 'u_str' && s.localAddress === address.path);
  const tcp = listening
    .filter((s) => s.netid === 'tcp')
    .map((s) => ({ address: s.localAddress, port: Number(s.localPort), socket: s }));
  const found = matchTcpListeners(address, tcp);
  const host = address.host === undefined ? undefined : bare(address.host);
  return (found.find((l) => bare(l.address) === host) ?? found[0])?.socket;
}
