import { join } from 'node:path';
import { type NetstatCounters, parseProcNetNetstat } from '../kernel/proc-net-netstat.js';
import { parseProcNetTcp, type TcpListenQueue, tcpListenQueues } from '../kernel/proc-net-tcp.js';
import { type UnixListenQueue, unixListenQueues } from '../kernel/proc-net-unix.js';
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
