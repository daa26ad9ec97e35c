import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FpmStatusNoAnswerError, isFpmkitError } from '../errors.js';
import { parseTarget } from '../fastcgi/target.js';
import { type ListenAddress, parseListen } from '../fpm/listen.js';
import { listenQueueReader } from '../host/net.js';
import type { FpmStatus } from '../status/model.js';
import { STATUS_FORMATS, type StatusFormat } from '../status/names.js';
import {
  gapAsError,
  type ListenQueueReader,
  type ListenQueueReading,
  type PoolReading,
  StatusSampler,
  type StatusSamplerOptions,
} from '../status/sampler.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, type Style, styleFor } from './io.js';

export const STATUS_HELP = `Usage: fpmkit status TARGET [options]

Fetches a pool's status page over FastCGI (no web server needed) and prints it,
with the kernel's accept queue of the pool's listener (from /proc/net/unix or
/proc/net/tcp, and its capacity from ss) read whether or not FPM answers.
TARGET is the pool's listen address: /run/php/php8.2-fpm.sock, unix:PATH,
127.0.0.1:9000 or [::1]:9000.

Options:
  --path P            the pool's pm.status_path (default /status)
  --status-listen A   ask for the page at the pool's pm.status_listen address A,
                      which answers while the pool is busy; the queue is still
                      read for TARGET
  --format F          ask FPM for text, json, xml, html or openmetrics
                      (default json)
  --full              include every worker
  --timeout MS        bound on the request (default 5000)
  --json              print the status as JSON
  --help              show this help

Exit status: 0 page read, 1 FPM answered but not with its status page (the
message names the directive to fix), 2 bad command line, 3 no answer
(connection refused, no socket, permission, or a timeout with no queue to
show), 4 saturated: the status request got EAGAIN or timed out while the
kernel queue was read (the output shows the queue depth and capacity).
`;

/**
 * Exit status of `fpmkit status` when the pool is saturated: the status request got EAGAIN or
 * timed out, and the kernel's queue of the listener was read and printed.
 */
export const EXIT_SATURATED = 4;

/** Shared by status and watch: the options that name a status page. */
export function statusOptions(args: ReturnType<typeof parseArgs>): {
  format?: StatusFormat;
  path?: string;
  timeoutMs?: number;
  statusListen?: string;
} {
  const format = args.options.format;
  if (format !== undefined && !(STATUS_FORMATS as readonly unknown[]).includes(format))
    throw new UsageError(`--format must be one of ${STATUS_FORMATS.join(', ')}`);
  const path = args.options.path;
  if (typeof path === 'string' && !path.startsWith('/'))
    throw new UsageError('--path must start with /');
  const timeoutMs = intOption(args, 'timeout');
  if (timeoutMs !== undefined && timeoutMs <= 0) throw new UsageError('--timeout must be > 0');
  const statusListen = args.options['status-listen'];
  return {
    ...(typeof format === 'string' ? { format: format as StatusFormat } : {}),
    ...(typeof path === 'string' ? { path } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(typeof statusListen === 'string' ? { statusListen } : {}),
  };
}

/** The listen address a command-line TARGET names, or undefined when it is not one. */
export function targetListen(target: string): ListenAddress | undefined {
  try {
    const parsed = parseTarget(target);
    if (parsed.type === 'unix') return parseListen(resolve(parsed.socketPath));
    const host = parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
    return parseListen(`${host}:${parsed.port}`);
  } catch {
    return undefined;
  }
}

/**
 * Where `fpmkit status` and `fpmkit watch` ask for the page (TARGET, or `--status-listen`) and
 * the sampler options: the kernel queue is read for TARGET's listener.
 */
export function cliSamplerArgs(
  target: string,
  options: ReturnType<typeof statusOptions> & { full?: boolean },
  readQueue: ListenQueueReader | undefined = defaultQueueReader(target),
): [string, StatusSamplerOptions] {
  const { statusListen, ...rest } = options;
  const listen = targetListen(target);
  return [
    statusListen ?? target,
    {
      ...rest,
      ...(statusListen !== undefined && listen?.kind === 'unix' ? { listen: listen.path } : {}),
      ...(readQueue ? { readQueue } : {}),
    },
  ];
}

/** A reader of TARGET's kernel queue, or undefined when TARGET is not a listen address. */
export function defaultQueueReader(target: string): ListenQueueReader | undefined {
  const listen = targetListen(target);
  return listen === undefined ? undefined : listenQueueReader(listen);
}

/** `17 of 17 (backlog 16 + 1), full` or `3` when the capacity is unknown. */
export function queueText(q: ListenQueueReading): string {
  if (q.capacity === undefined) return `${q.queued} waiting`;
  const full = q.queued >= q.capacity ? ', full' : '';
  return `${q.queued} of ${q.capacity} waiting (backlog ${q.backlog} + 1)${full}`;
}

/** The error behind a sample's missing page, for `reportError`. */
export function gapError(reading: PoolReading): unknown {
  return reading.gap === undefined
    ? new FpmStatusNoAnswerError('no status page')
    : gapAsError(reading.gap);
}

/**
 * True when a missing page means the pool is saturated rather than absent or hung: the kernel
 * turned the request away (EAGAIN), or it timed out while connections wait in the queue. A
 * timeout with nothing queued is a worker that does not answer, not saturation.
 */
export function saturatedGap(reading: PoolReading): boolean {
  const reason = reading.gap?.reason;
  if (reading.queue === undefined) return false;
  if (reason === 'EAGAIN') return true;
  return (reason === 'timeout' || reason === 'pending') && reading.queue.queued > 0;
}

function formatStatus(
  s: FpmStatus,
  kernelQueued: number | undefined,
  style: Style,
  queue?: ListenQueueReading,
): string {
  const rows: [string, string][] = [
    ['pool', s.pool],
    ['process manager', s.processManager],
    ['start time', `${s.startTime.toISOString()} (${s.startSinceSeconds} s ago)`],
    ['accepted conn', String(s.acceptedConn)],
    [
      'listen queue',
      s.listenQueueMeasured
        ? `${s.listenQueue} (max ${s.maxListenQueue}, len ${s.listenQueueLen})`
        : `${s.listenQueue === undefined ? 'not reported by this FPM build' : 'not measured by FPM for a UNIX socket'}${kernelQueued === undefined ? '' : `; kernel queue now ${kernelQueued}`}`,
    ],
    ...(queue && queue.source !== 'status-page'
      ? [['kernel queue', queueText(queue)] as [string, string]]
      : []),
    [
      'processes',
      `${s.activeProcesses} active, ${s.idleProcesses} idle, ${s.totalProcesses} total (max active ${s.maxActiveProcesses})`,
    ],
    ['max children reached', String(s.maxChildrenReached)],
    [
      'slow requests',
      s.slowRequests === undefined ? 'not reported by this FPM version' : String(s.slowRequests),
    ],
  ];
  if (s.memoryPeakBytes !== undefined) rows.push(['memory peak', `${s.memoryPeakBytes} bytes`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  let out = rows.map(([k, v]) => `${style.dim(k.padEnd(width))}  ${v}`).join('\n');
  if (s.processes) {
    out += `\n\n${style.bold('pid      state          requests  duration ms  method  uri')}`;
    for (const p of s.processes)
      out += `\n${String(p.pid).padEnd(8)} ${p.state.padEnd(14)} ${String(p.requests).padStart(8)}  ${(p.requestDurationMicros / 1000).toFixed(1).padStart(11)}  ${p.requestMethod.padEnd(6)}  ${p.requestUri}`;
  }
  return `${out}\n`;
}

/** Reports an expected error: a message (and its fix) without a stack trace. */
export function reportError(command: string, error: unknown, io: CliIo, json: boolean): number {
  if (!isFpmkitError(error)) throw error;
  const fix = (error as { fix?: unknown }).fix;
  const hint = (error as { hint?: unknown }).hint;
  const advice = typeof fix === 'string' ? fix : typeof hint === 'string' ? hint : undefined;
  // Connect errors already end their message with the hint.
  const extra = advice !== undefined && !error.message.includes(advice) ? advice : undefined;
  if (json)
    io.stdout(
      jsonError(
        command,
        { code: error.code, message: error.message, ...(extra ? { fix: extra } : {}) },
        {},
      ),
    );
  else
    io.stderr(
      prose(io, `fpmkit ${command}: ${error.message}${extra ? `\n  fix: ${extra}` : ''}\n`, 2),
    );
  return error.code === 'FPMKIT_STATUS_MISCONFIGURED' ? EXIT.problems : EXIT.input;
}

/** What `fpmkit status` prints when the page is missing but the queue was read. */
function formatUnavailable(target: string, reading: PoolReading, style: Style): string {
  const rows: [string, string][] = [
    ['target', target],
    ['status page', `unavailable (${reading.gap?.reason}): ${reading.gap?.message}`],
  ];
  if (reading.queue) rows.push(['kernel queue', queueText(reading.queue)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return `${rows.map(([k, v]) => `${style.dim(k.padEnd(width))}  ${v}`).join('\n')}\n`;
}

/** `fpmkit status TARGET`: returns the exit code. */
export async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'full', 'help'],
    valued: ['format', 'path', 'timeout', 'status-listen'],
  });
  if (args.options.help) {
    io.stdout(STATUS_HELP);
    return EXIT.ok;
  }
  const [target, ...extra] = args.positionals;
  if (!target) throw new UsageError('status needs a TARGET (socket path or host:port)');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  const options = statusOptions(args);
  const json = args.options.json === true;
  // --timeout bounds the whole answer, the queue read included.
  const started = performance.now();
  let reading: PoolReading;
  let sampler: StatusSampler | undefined;
  try {
    sampler = new StatusSampler(
      ...cliSamplerArgs(target, { ...options, full: args.options.full === true }),
    );
    reading = await sampler.sample({
      waitMs: Math.max(1, sampler.timeoutMs - (performance.now() - started)),
    });
  } catch (error) {
    return reportError('status', error, io, json);
  } finally {
    sampler?.close();
  }
  const status = reading.status;
  if (status === undefined) {
    if (!saturatedGap(reading)) return reportError('status', gapError(reading), io, json);
    if (json) {
      const error = gapError(reading) as { code?: string; message?: string } | undefined;
      io.stdout(
        jsonDocument('status', false, {
          target,
          saturated: true,
          reason: reading.gap?.reason,
          message: reading.gap?.message,
          queue: reading.queue,
          error: { code: error?.code ?? 'FPMKIT_ERROR', message: reading.gap?.message ?? '' },
        }),
      );
    } else io.stdout(prose(io, formatUnavailable(target, reading, styleFor(io)), 14));
    return EXIT_SATURATED;
  }
  const kernel = reading.queue?.source === 'status-page' ? undefined : reading.queue;
  const queued = status.listenQueueMeasured ? undefined : kernel?.queued;
  if (json)
    io.stdout(
      jsonDocument('status', true, {
        target,
        status,
        ...(queued === undefined ? {} : { kernelQueue: queued }),
        ...(reading.queue ? { queue: reading.queue } : {}),
      }),
    );
  else io.stdout(prose(io, formatStatus(status, queued, styleFor(io), kernel), 22));
  return EXIT.ok;
}
