/**
 * Watches a pool once a second and prints requests per second, busy workers and the listen
 * queue: the kernel's (from /proc, with the live socket's capacity) when the pool runs on this
 * host. A reload or restart of FPM shows as "restart" instead of a negative rate, and a sample
 * whose page did not come (EAGAIN, timeout) is printed as a gap while the watch goes on.
 *
 *   node --import tsx examples/watch.ts unix:/run/php/php8.2-fpm.sock --interval 1000
 *   node --import tsx examples/watch.ts 127.0.0.1:9000 --count 10
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isFpmkitError } from 'fpmkit';
import { listenQueueReader } from 'fpmkit/host';
import { type StatusSample, statusGapReason, watchStatus } from 'fpmkit/status';

export interface WatchOptions {
  intervalMs?: number;
  /** Stop after this many samples. @default unlimited */
  count?: number;
  signal?: AbortSignal;
  path?: string;
}

/** One line per sample. */
export function formatSample(s: StatusSample): string {
  const time = s.time.toISOString().slice(11, 19);
  const queue =
    s.queue === undefined
      ? 'n/a'
      : `${s.queue.queued}${s.queue.capacity === undefined ? '' : `/${s.queue.capacity}`}`;
  const busy = `${s.status.activeProcesses}/${s.status.totalProcesses} busy`;
  if (s.restarted) return `${time}  restart: FPM was reloaded, rates start again  ${busy}`;
  if (s.rates === undefined) return `${time}  first sample  ${busy}  queue ${queue}`;
  return `${time}  ${s.rates.acceptedConnPerSecond.toFixed(1).padStart(7)} req/s  ${busy}  queue ${queue}  +${s.increments!.slowRequests ?? '-'} slow  +${s.increments!.maxChildrenReached} max-children`;
}

/** Watches `target`, calling `print` with one line per sample, until `count` or `signal`. */
export async function watch(
  target: string,
  options: WatchOptions,
  print: (line: string) => void,
): Promise<number> {
  let n = 0;
  // The kernel's queue of a UNIX socket or a TCP listener on this host.
  let readQueue: ReturnType<typeof listenQueueReader> | undefined;
  try {
    readQueue = listenQueueReader(target.replace(/^unix:/, ''));
  } catch {
    readQueue = undefined;
  }
  for await (const sample of watchStatus(target, {
    intervalMs: options.intervalMs ?? 1000,
    path: options.path ?? '/status',
    ...(readQueue ? { readQueue } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onError: (error) =>
      print(`${new Date().toISOString().slice(11, 19)}  no page: ${statusGapReason(error)}`),
  })) {
    print(formatSample(sample));
    if (++n === options.count) break;
  }
  return n;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      interval: { type: 'string', default: '1000' },
      count: { type: 'string' },
      path: { type: 'string', default: '/status' },
    },
  });
  const target = positionals[0];
  if (!target) {
    console.error('usage: watch.ts <target> [--interval ms] [--count n] [--path /status]');
    process.exitCode = 2;
    return;
  }
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    await watch(
      target,
      {
        intervalMs: Number(values.interval),
        ...(values.count ? { count: Number(values.count) } : {}),
        path: values.path,
        signal: controller.signal,
      },
      (line) => console.log(line),
    );
  } catch (error) {
    console.error(isFpmkitError(error) ? `${error.code}: ${error.message}` : error);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
