import { type PoolReading, type StatusGapReason, samplePool } from '../status/sampler.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, styleFor } from './io.js';
import { cliSamplerArgs, gapError, reportError, statusOptions } from './status.js';

export const WATCH_HELP = `Usage: fpmkit watch TARGET [options]

Samples a pool again and again and shows what changed: accepted connections per
second, busy and idle workers, the kernel's accept queue of the listener and its
capacity (from /proc/net/unix or /proc/net/tcp, and ss), and new max-children
and slow-request events. The queue is read at every interval whether or not the
status page answers; a sample without the page says why (EAGAIN: queue full,
timeout, refused, pending: the previous request still waits; never more than
one request is in flight). On a terminal the view is redrawn in place;
otherwise one line per sample.

Options:
  --interval MS       milliseconds between samples (default 1000, at least 100)
  --count N           stop after N samples (default: run until interrupted)
  --path P            the pool's pm.status_path (default /status)
  --status-listen A   ask for the page at the pool's pm.status_listen address A;
                      the queue is still read for TARGET
  --format F          ask FPM for text, json, xml, html or openmetrics
                      (default json)
  --timeout MS        bound on each request (default 5000)
  --json              one JSON object per sample and line
  --help              show this help

Exit status: 0 done (or interrupted), 1 FPM answered but not with its status
page before any page was read, 2 bad command line, 3 neither the page nor the
queue could be read at the first sample. Once the pool has been seen, EAGAIN,
timeouts, refusals and reloads are shown as gaps, never as an exit.
`;

/** What `--json` prints per sample. */
export interface WatchLine {
  time: string;
  /** The pool's name from its last status page ('' before any). */
  pool: string;
  restarted: boolean;
  acceptedConn?: number;
  acceptedPerSecond?: number;
  active?: number;
  idle?: number;
  total?: number;
  /** Connections in the accept queue: the kernel's (UNIX and local TCP), or FPM's for remote TCP. */
  queue?: number;
  /** Where `queue` came from: `proc-net-unix`, `proc-net-tcp` or `status-page`. */
  queueSource?: string;
  /** The backlog in force on the live socket (`ss` Send-Q). */
  backlog?: number;
  /** Connections the queue holds: backlog + 1. */
  capacity?: number;
  /** Why the queue could not be read. */
  queueError?: string;
  maxChildrenReachedIncrement?: number;
  slowRequestsIncrement?: number;
  /** Present exactly when the sample has no status page: why. */
  statusUnavailable?: { reason: StatusGapReason; message: string };
}

function lineOf(r: PoolReading, pool: string): WatchLine {
  const s = r.status;
  const line: WatchLine = {
    time: r.time.toISOString(),
    pool: s?.pool ?? pool,
    restarted: r.restarted,
  };
  if (s) {
    line.acceptedConn = s.acceptedConn;
    if (r.rates) line.acceptedPerSecond = Number(r.rates.acceptedConnPerSecond.toFixed(2));
    line.active = s.activeProcesses;
    line.idle = s.idleProcesses;
    line.total = s.totalProcesses;
  }
  if (r.queue) {
    line.queue = r.queue.queued;
    line.queueSource = r.queue.source;
    if (r.queue.backlog !== undefined) line.backlog = r.queue.backlog;
    if (r.queue.capacity !== undefined) line.capacity = r.queue.capacity;
  } else if (r.queueError !== undefined) line.queueError = r.queueError;
  if (r.increments) {
    line.maxChildrenReachedIncrement = r.increments.maxChildrenReached;
    if (r.increments.slowRequests !== undefined)
      line.slowRequestsIncrement = r.increments.slowRequests;
  }
  if (r.gap) line.statusUnavailable = { reason: r.gap.reason, message: r.gap.message };
  return line;
}

/** Columns fit an 80-column terminal: the status column takes what is left. */
const HEADER = 'time      req/s  active  idle  total  queue/cap  +maxch  +slow  status';
const WIDTH = 80;

function clip(text: string, width = WIDTH): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function textOf(l: WatchLine, pendingMs: number | undefined): string {
  const col = (v: number | undefined, w: number) => (v === undefined ? '-' : String(v)).padStart(w);
  const queue =
    l.queue === undefined
      ? '-'
      : l.capacity === undefined
        ? String(l.queue)
        : `${l.queue}/${l.capacity}`;
  const gap = l.statusUnavailable;
  const state =
    gap === undefined
      ? l.restarted
        ? 'restarted'
        : 'ok'
      : gap.reason === 'pending' && pendingMs !== undefined
        ? `pending ${(pendingMs / 1000).toFixed(1)}s`
        : gap.reason;
  return clip(
    `${l.time.slice(11, 19)}  ${col(l.acceptedPerSecond, 5)}  ${col(l.active, 6)}  ${col(l.idle, 4)}  ${col(l.total, 5)}  ${queue.padStart(9)}  ${col(l.maxChildrenReachedIncrement, 6)}  ${col(l.slowRequestsIncrement, 5)}  ${state}`,
  );
}

/** How many sample lines the redrawn view keeps: title, header and two footer lines fit 24 rows. */
const HISTORY_ROWS = 19;

/** What the redrawn view says under the rows while the page is missing: the reason, and a way out. */
function footerOf(r: PoolReading, statusListen: boolean): string {
  const gap = r.gap;
  if (!gap) return '';
  const q = r.queue;
  const queue = q ? `${q.queued}${q.capacity === undefined ? '' : `/${q.capacity}`} queued` : '';
  let why: string;
  if (gap.reason === 'EAGAIN')
    why = `EAGAIN: the accept queue is full (${queue}); new connections fail now`;
  else if (gap.reason === 'pending')
    why = `pending ${((gap.pendingMs ?? 0) / 1000).toFixed(1)} s: the status request waits in the queue; no other is sent`;
  else if (gap.reason === 'timeout')
    why = `timeout: no page in time${queue ? `, ${queue}` : ''}; the request waited behind the others`;
  else why = `${gap.reason}: ${gap.message}`;
  const busy = gap.reason === 'EAGAIN' || gap.reason === 'pending' || gap.reason === 'timeout';
  const hint =
    busy && !statusListen
      ? '\nhint: pm.status_listen (FPM 8.0+) answers status while the pool is busy'
      : '';
  return `\n${clip(why)}${hint}`;
}

/** `fpmkit watch TARGET`: returns the exit code. `signal` ends the watch (Ctrl-C in the command). */
export async function runWatch(
  argv: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'help'],
    valued: ['interval', 'count', 'format', 'path', 'timeout', 'status-listen'],
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
  let pool = '';
  let pageRead = false;
  let contact = false;
  try {
    const [statusTarget, samplerOptions] = cliSamplerArgs(target, options);
    for await (const r of samplePool(statusTarget, {
      ...samplerOptions,
      intervalMs,
      ...(signal ? { signal } : {}),
    })) {
      if (r.status) pageRead = true;
      if (r.status || r.queue) contact = true;
      // A wrong TARGET or --path is a mistake on the command line, not a gap in the series.
      const code = (r.gap?.error as { code?: unknown } | undefined)?.code;
      if (
        r.gap &&
        r.gap.reason !== 'pending' &&
        (!contact || (!pageRead && code === 'FPMKIT_STATUS_MISCONFIGURED'))
      )
        return reportError('watch', gapError(r), io, json);
      const line = lineOf(r, pool);
      pool = line.pool;
      const text = textOf(line, r.gap?.pendingMs);
      if (json) io.stdout(jsonDocument('watch', true, { ...line }, 0));
      else if (redraw) {
        history.push(text);
        if (history.length > HISTORY_ROWS) history.shift();
        const title = clip(`fpmkit watch ${target}  pool ${line.pool || '?'}`);
        const footer = footerOf(r, options.statusListen !== undefined);
        io.stdout(
          `\u001b[H\u001b[2J${style.bold(title)}\n${style.dim(HEADER)}\n${history.join('\n')}${footer}\n`,
        );
      } else {
        if (seen === 0) io.stdout(`${HEADER}\n`);
        io.stdout(`${text}\n`);
      }
      seen++;
      if (count !== undefined && seen >= count) break;
    }
  } catch (error) {
    return reportError('watch', error, io, json);
  }
  return EXIT.ok;
}
