import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { FpmkitIoError } from '../errors.js';
import type { ListenAddress } from '../fpm/listen.js';
import { type NetstatCounters, parseProcNetNetstat } from '../kernel/proc-net-netstat.js';
import { parseProcNetTcp, type TcpListenQueue, tcpListenQueues } from '../kernel/proc-net-tcp.js';
import { type UnixListenQueue, unixListenQueues } from '../kernel/proc-net-unix.js';
import { parseSs, type SsSocket } from '../kernel/ss.js';
import { type ReadOptions, readText, readTextIfExists, roots } from './io.js';

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

/** Bound on one run of `ss`, milliseconds: it reads netlink, which answers at once. */
const SS_TIMEOUT_MS = 3_000;

/**
 * The listening UNIX stream and TCP sockets as `ss -lnxt` (iproute2) shows them: for a
 * listener, Recv-Q is the queue now and Send-Q the backlog listen(2) was given, capped by
 * somaxconn when it was called. That is the backlog in force, which a reload does not change.
 * Rejects with `FpmkitIoError` when `ss` cannot run.
 */
export function readSsListeners(): Promise<SsSocket[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'ss',
      ['-lnxt'],
      { timeout: SS_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        if (error) {
          const errno = typeof error.code === 'string' ? error.code : undefined;
          reject(
            new FpmkitIoError('ss', `cannot run ss -lnxt: ${error.message}`, {
              cause: error,
              ...(errno === undefined ? {} : { errno }),
            }),
          );
          return;
        }
        try {
          resolve(parseSs(stdout));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

/**
 * The `ss` row of the socket a `listen` address binds: by path for a UNIX socket, by port and
 * host for TCP (a wildcard listener serves every host). Undefined when nothing listens there.
 */
export function ssListenerFor(
  address: ListenAddress,
  sockets: readonly SsSocket[],
): SsSocket | undefined {
  const listening = sockets.filter((s) => s.state === 'LISTEN');
  if (address.kind === 'unix')
    return listening.find((s) => s.netid === 'u_str' && s.localAddress === address.path);
  const port = String(address.port);
  const tcp = listening.filter((s) => s.netid === 'tcp' && s.localPort === port);
  const host = (h: string) => h.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const exact = tcp.find(
    (s) => address.host !== undefined && host(s.localAddress) === address.host,
  );
  return exact ?? tcp[0];
}
