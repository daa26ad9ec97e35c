import { type StatusSample, watchStatus } from '../status/watch.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, prose, styleFor } from './io.js';
import { kernelQueue, reportError, statusOptions } from './status.js';

export const WATCH_HELP = `Usage: fpmkit watch TARGET [options]

Fetches a pool's status page again and again and shows what changed: accepted
connections per second, busy and idle workers, the accept queue (from
/proc/net/unix for a UNIX socket), and new max-children and slow-request events.
On a terminal the view is redrawn in place; otherwise one line per sample.

Options:
  --interval MS   milliseconds between samples (default 1000, at least 100)
  --count N       stop after N samples (default: run until interrupted)
  --path P        the pool's pm.status_path (default /status)
  --format F      ask FPM for text, json, xml, html or openmetrics (default json)
  --timeout MS    bound on each request (default 5000)
  --json          one JSON object per sample and line
  --help          show this help

Exit status: 0 done, 1 FPM answered but not with its status page, 2 bad
command line, 3 no answer.
`;

/** What `--json` prints per sample. */
export interface WatchLine {
  time: string;
  pool: string;
  restarted: boolean;
  acceptedConn: number;
  acceptedPerSecond?: number;
  active: number;
  idle: number;
  total: number;
  /** FPM's listen queue (TCP), or the kernel's queue from /proc/net/unix (UNIX sockets). */
  queue?: number;
  maxChildrenReachedIncrement?: number;
  slowRequestsIncrement?: number;
}

function lineOf(sample: StatusSample, queue: number | undefined): WatchLine {
  const s = sample.status;
  return {
    time: sample.time.toISOString(),
    pool: s.pool,
    restarted: sample.restarted,
    acceptedConn: s.acceptedConn,
    ...(sample.rates
      ? { acceptedPerSecond: Number(sample.rates.acceptedConnPerSecond.toFixed(2)) }
      : {}),
    active: s.activeProcesses,
    idle: s.idleProcesses,
    total: s.totalProcesses,
    ...(queue === undefined ? {} : { queue }),
    ...(sample.increments
      ? {
          maxChildrenReachedIncrement: sample.increments.maxChildrenReached,
          slowRequestsIncrement: sample.increments.slowRequests,
        }
      : {}),
  };
}

const HEADER = 'time                      req/s  active  idle  total  queue  +maxch  +slow';

function textOf(l: WatchLine): string {
  const col = (v: number | undefined, w: number) => (v === undefined ? '-' : String(v)).padStart(w);
  return `${l.time.padEnd(24)}  ${col(l.acceptedPerSecond, 5)}  ${col(l.active, 6)}  ${col(l.idle, 4)}  ${col(l.total, 5)}  ${col(l.queue, 5)}  ${col(l.maxChildrenReachedIncrement, 6)}  ${col(l.slowRequestsIncrement, 5)}${l.restarted ? '  (restarted)' : ''}`;
}

/** `fpmkit watch TARGET`: returns the exit code. `signal` ends the watch (Ctrl-C in the command). */
export async function runWatch(
  argv: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'help'],
    valued: ['interval', 'count', 'format', 'path', 'timeout'],
  });
  if (args.options.help) {
    io.stdout(WATCH_HELP);
    return EXIT.ok;
  }
  const [target, ...extra] = args.positionals;
  if (!target) throw new UsageError('watch needs a TARGET (socket path or host:port)');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  const intervalMs = intOption(args, 'interval') ?? 1000;
  if (intervalMs < 100) throw new UsageError('--interval must be at least 100 (milliseconds)');
  const count = intOption(args, 'count');
  if (count !== undefined && count < 1) throw new UsageError('--count must be at least 1');
  const options = statusOptions(args);
  const json = args.options.json === true;
  const redraw = io.isTTY && !json;
  const style = styleFor(io);
  const history: string[] = [];
  let seen = 0;
  try {
    for await (const sample of watchStatus(target, {
      ...options,
      intervalMs,
      ...(signal ? { signal } : {}),
    })) {
      const queue = sample.status.listenQueueMeasured
        ? sample.status.listenQueue
        : await kernelQueue(target);
      const line = lineOf(sample, queue);
      if (json) io.stdout(jsonDocument('watch', true, { ...line }, 0));
      else if (redraw) {
        history.push(prose(io, textOf(line), 26));
        if (history.length > 20) history.shift();
        io.stdout(
          `\u001b[H\u001b[2J${style.bold(`fpmkit watch ${target}  pool ${line.pool}`)}\n${style.dim(HEADER)}\n${history.join('\n')}\n`,
        );
      } else {
        if (seen === 0) io.stdout(`${HEADER}\n`);
        io.stdout(`${prose(io, textOf(line), 26)}\n`);
      }
      seen++;
      if (count !== undefined && seen >= count) break;
    }
  } catch (error) {
    return reportError('watch', error, io, json);
  }
  return EXIT.ok;
}
