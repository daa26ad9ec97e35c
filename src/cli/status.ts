import { resolve } from 'node:path';
import { isFpmkitError } from '../errors.js';
import { parseTarget } from '../fastcgi/target.js';
import { readUnixListenQueues } from '../host/net.js';
import { fetchStatus } from '../status/fetch.js';
import type { FpmStatus } from '../status/model.js';
import { STATUS_FORMATS, type StatusFormat } from '../status/names.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, type Style, styleFor } from './io.js';

export const STATUS_HELP = `Usage: fpmkit status TARGET [options]

Fetches a pool's status page over FastCGI (no web server needed) and prints it.
TARGET is the pool's listen address: /run/php/php8.2-fpm.sock, unix:PATH,
127.0.0.1:9000 or [::1]:9000. For a UNIX socket, whose queue FPM reports as 0,
the accept queue is read from /proc/net/unix as well.

Options:
  --path P        the pool's pm.status_path (default /status)
  --format F      ask FPM for text, json, xml, html or openmetrics (default json)
  --full          include every worker
  --timeout MS    bound on the request (default 5000)
  --json          print the status as JSON
  --help          show this help

Exit status: 0 page read, 1 FPM answered but not with its status page (the
message names the directive to fix), 2 bad command line, 3 no answer
(connection refused, no socket, permission, timeout).
`;

/** Shared by status and watch: the options that name a status page. */
export function statusOptions(args: ReturnType<typeof parseArgs>): {
  format?: StatusFormat;
  path?: string;
  timeoutMs?: number;
} {
  const format = args.options.format;
  if (format !== undefined && !(STATUS_FORMATS as readonly unknown[]).includes(format))
    throw new UsageError(`--format must be one of ${STATUS_FORMATS.join(', ')}`);
  const path = args.options.path;
  if (typeof path === 'string' && !path.startsWith('/'))
    throw new UsageError('--path must start with /');
  const timeoutMs = intOption(args, 'timeout');
  if (timeoutMs !== undefined && timeoutMs <= 0) throw new UsageError('--timeout must be > 0');
  return {
    ...(typeof format === 'string' ? { format: format as StatusFormat } : {}),
    ...(typeof path === 'string' ? { path } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

/** The kernel's accept queue for a UNIX socket path, or undefined when it cannot be read. */
export async function kernelQueue(target: string, procRoot?: string): Promise<number | undefined> {
  let path: string;
  try {
    const parsed = parseTarget(target);
    if (parsed.type !== 'unix') return undefined;
    // The kernel lists the path the socket was bound to, which FPM makes absolute.
    path = resolve(parsed.socketPath);
  } catch {
    return undefined;
  }
  try {
    const queues = await readUnixListenQueues(procRoot === undefined ? {} : { procRoot });
    return queues.find((q) => q.path === path)?.queued;
  } catch {
    return undefined;
  }
}

function formatStatus(s: FpmStatus, kernelQueued: number | undefined, style: Style): string {
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

/** `fpmkit status TARGET`: returns the exit code. */
export async function runStatus(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, {
    flags: ['json', 'full', 'help'],
    valued: ['format', 'path', 'timeout'],
  });
  if (args.options.help) {
    io.stdout(STATUS_HELP);
    return EXIT.ok;
  }
  const [target, ...extra] = args.positionals;
  if (!target) throw new UsageError('status needs a TARGET (socket path or host:port)');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  const options = statusOptions(args);
  let status: FpmStatus;
  try {
    status = await fetchStatus(target, { ...options, full: args.options.full === true });
  } catch (error) {
    return reportError('status', error, io, args.options.json === true);
  }
  const queued = status.listenQueueMeasured ? undefined : await kernelQueue(target);
  if (args.options.json)
    io.stdout(
      jsonDocument('status', true, {
        target,
        status,
        ...(queued === undefined ? {} : { kernelQueue: queued }),
      }),
    );
  else io.stdout(prose(io, formatStatus(status, queued, styleFor(io)), 22));
  return EXIT.ok;
}
