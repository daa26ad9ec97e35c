import { z } from 'zod';
import {
  entryOrUnknown,
  type LocalTime,
  type LogParseOptions,
  localTimeSchema,
  localTimeToDate,
  makeLocalTime,
  type ResolvedLogOptions,
  recordsOf,
  resolveLogOptions,
  streamRecordsOf,
} from './common.js';
import type { LineSource } from './lines.js';

/** nginx's error log levels, most severe last. */
export const NGINX_LOG_LEVELS = [
  'debug',
  'info',
  'notice',
  'warn',
  'error',
  'crit',
  'alert',
  'emerg',
] as const;
/** An nginx error log level (see {@link NGINX_LOG_LEVELS}). */
export type NginxLogLevel = (typeof NGINX_LOG_LEVELS)[number];

/**
 * What went wrong between nginx and its upstream, by errno and phase:
 * - `backlog_full`: `connect() to unix:... failed (11: Resource temporarily unavailable)`, the
 *   socket's accept queue is full (every FPM worker busy and the backlog used up).
 * - `connection_refused`: errno 111, nothing listens (TCP) or a stale socket file (UNIX).
 * - `socket_missing`: errno 2, the UNIX socket file does not exist (FPM down or wrong path).
 * - `permission_denied`: errno 13, the nginx user may not open the socket (`listen.owner/mode`).
 * - `connect_timeout`, `send_timeout`, `read_timeout`: `upstream timed out (110: ...)` while
 *   connecting, sending the request, or reading the response (`fastcgi_read_timeout`).
 * - `connection_reset`: errno 104, FPM's worker died or dropped the connection
 *   (`request_terminate_timeout`, a crash, `listen.allowed_clients`).
 * - `premature_close`: `upstream prematurely closed connection`, the worker exited with the
 *   request fully read (clean EOF instead of a reset).
 * - `no_live_upstreams`: every server of the upstream group is marked failed.
 * - `other`: another upstream failure; read `message`.
 */
export const UPSTREAM_ERROR_CLASSES = [
  'backlog_full',
  'connection_refused',
  'socket_missing',
  'permission_denied',
  'connect_timeout',
  'send_timeout',
  'read_timeout',
  'connection_reset',
  'premature_close',
  'no_live_upstreams',
  'other',
] as const;
/** What went wrong with the upstream (see {@link UPSTREAM_ERROR_CLASSES}). */
export type UpstreamErrorClass = (typeof UPSTREAM_ERROR_CLASSES)[number];

/** The step of the upstream exchange, from nginx's `while ...` action text. */
export const UPSTREAM_PHASES = ['connect', 'send', 'read', 'unknown'] as const;
/** The step of the upstream exchange that failed (see {@link UPSTREAM_PHASES}). */
export type UpstreamPhase = (typeof UPSTREAM_PHASES)[number];

/** Schema of {@link NginxErrorEvent}. */
export const nginxErrorEventSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('upstream_error'),
    class: z.enum(UPSTREAM_ERROR_CLASSES),
    phase: z.enum(UPSTREAM_PHASES),
    /** The failing system call: `connect`, `recv`, `send`, `writev`, `readv`, ... */
    syscall: z.string().optional(),
    /** errno number as logged, e.g. 11. */
    errno: z.number().int().optional(),
    /** Symbolic errno on Linux, e.g. `EAGAIN`, when fpmkit knows the number. */
    errnoName: z.string().optional(),
    /** strerror text as logged, e.g. `Resource temporarily unavailable`. */
    errnoText: z.string().optional(),
    /** The UNIX socket path of `connect() to unix:PATH failed`. */
    socketPath: z.string().optional(),
  }),
  z.object({
    kind: z.literal('fastcgi_stderr'),
    /** Everything FPM sent on FCGI_STDERR for this line, unquoted. */
    text: z.string(),
    /** The `PHP message: ...` parts, without that prefix. */
    phpMessages: z.array(z.string()),
    /** No closing quote: nginx cut the line at its 2048-byte limit. */
    truncated: z.boolean(),
  }),
  z.object({
    kind: z.literal('signal'),
    signal: z.number().int(),
    signalName: z.string(),
    fromPid: z.number().int().optional(),
  }),
  z.object({ kind: z.literal('other') }),
]);
/** What an nginx error log entry reports about the FastCGI upstream, by `kind`. */
export type NginxErrorEvent = z.infer<typeof nginxErrorEventSchema>;

/** Schema of {@link NginxErrorEntry}. */
export const nginxErrorEntrySchema = z.object({
  kind: z.literal('entry'),
  /** 1-based line number in the input. */
  line: z.number().int(),
  raw: z.string(),
  time: localTimeSchema,
  /** `time` read in the zone given by `utcOffsetMinutes`. */
  date: z.date(),
  level: z.enum(NGINX_LOG_LEVELS),
  pid: z.number().int(),
  /** Thread id; equal to `pid` on Linux builds without thread pools. */
  tid: z.number().int(),
  /** Connection number from `*N`, absent on lines about no connection. */
  connection: z.number().int().optional(),
  /** The message without its `while ...` action and request context. */
  message: z.string(),
  /** nginx's action text after `while`, e.g. `connecting to upstream`. */
  action: z.string().optional(),
  client: z.string().optional(),
  server: z.string().optional(),
  /** Request line, e.g. `GET /x.php HTTP/1.1`. */
  request: z.string().optional(),
  subrequest: z.string().optional(),
  /** e.g. `fastcgi://unix:/run/php/php8.2-fpm.sock:` or `fastcgi://127.0.0.1:9000`. */
  upstream: z.string().optional(),
  host: z.string().optional(),
  referrer: z.string().optional(),
  event: nginxErrorEventSchema,
});
/** One parsed entry of an nginx error log. */
export type NginxErrorEntry = z.infer<typeof nginxErrorEntrySchema>;

/** Schema of {@link NginxErrorUnknown}. */
export const nginxErrorUnknownSchema = z.object({
  kind: z.literal('unknown'),
  line: z.number().int(),
  raw: z.string(),
});
/** An nginx error log line that does not fit the format (only without `strict`). */
export type NginxErrorUnknown = z.infer<typeof nginxErrorUnknownSchema>;

/** Schema of {@link NginxErrorRecord}. */
export const nginxErrorRecordSchema = z.discriminatedUnion('kind', [
  nginxErrorEntrySchema,
  nginxErrorUnknownSchema,
]);
/** A line of an nginx error log: a parsed entry, or an unknown line (only without `strict`). */
export type NginxErrorRecord = z.infer<typeof nginxErrorRecordSchema>;

/** Options of {@link parseNginxErrorLog} and {@link streamNginxErrorLog}. */
export type NginxErrorLogOptions = LogParseOptions;

/** Linux errno numbers nginx prints beside upstream failures. */
const ERRNO_NAMES = new Map<number, string>([
  [1, 'EPERM'],
  [2, 'ENOENT'],
  [11, 'EAGAIN'],
  [13, 'EACCES'],
  [24, 'EMFILE'],
  [32, 'EPIPE'],
  [98, 'EADDRINUSE'],
  [99, 'EADDRNOTAVAIL'],
  [101, 'ENETUNREACH'],
  [103, 'ECONNABORTED'],
  [104, 'ECONNRESET'],
  [110, 'ETIMEDOUT'],
  [111, 'ECONNREFUSED'],
  [113, 'EHOSTUNREACH'],
]);

// Sticky: matched in place at the candidate offset, without slicing the line.
const CONTEXT =
  /, client: ([^,]*), server: ([^,]*)(?:, request: "(.*?)")?(?:, subrequest: "(.*?)")?(?:, upstream: "(.*?)")?(?:, host: "(.*?)")?(?:, referrer: "(.*?)")?$/sy;
const SYSCALL_FAILED = /^(\w+)\(\)(?: to (\S+))? failed \((\d+): ([^)]*)\)/;
const TIMED_OUT = /^upstream timed out \((\d+): ([^)]*)\)/;
const SIGNAL = /^signal (\d+) \((\w+)\) received(?: from (\d+))?/;
const FASTCGI_STDERR = 'FastCGI sent in stderr: "';
const PHP_MESSAGE = 'PHP message: ';

const int = (s: string | undefined): number => Number.parseInt(s ?? '', 10);

function phaseOf(action: string | undefined): UpstreamPhase {
  if (action === undefined) return 'unknown';
  if (action.startsWith('connecting')) return 'connect';
  if (action.startsWith('sending')) return 'send';
  if (action.startsWith('reading')) return 'read';
  return 'unknown';
}

/**
 * The class of a failed system call on the upstream: by call and errno.
 * @internal
 */
export function syscallClass(syscall: string, errno: number): UpstreamErrorClass {
  if (errno === 104) return 'connection_reset';
  if (syscall !== 'connect') return 'other';
  if (errno === 11) return 'backlog_full';
  if (errno === 111) return 'connection_refused';
  if (errno === 2) return 'socket_missing';
  if (errno === 13) return 'permission_denied';
  if (errno === 110) return 'connect_timeout';
  return 'other';
}

/**
 * The class of an upstream timeout, by the phase nginx was in.
 * @internal
 */
export function timeoutClass(phase: UpstreamPhase): UpstreamErrorClass {
  return phase === 'connect'
    ? 'connect_timeout'
    : phase === 'send'
      ? 'send_timeout'
      : 'read_timeout';
}

function classify(message: string, action: string | undefined): NginxErrorEvent {
  if (message.startsWith(FASTCGI_STDERR)) return fastcgiStderr(message);
  const aboutUpstream = action?.includes('upstream') === true;
  const m = SYSCALL_FAILED.exec(message);
  if (m) {
    if (!aboutUpstream) return { kind: 'other' };
    const syscall = m[1] ?? '';
    const errno = int(m[3]);
    const phase = phaseOf(action);
    const cls = syscallClass(syscall, errno);
    const event: NginxErrorEvent = {
      kind: 'upstream_error',
      class: cls,
      phase,
      syscall,
      errno,
      errnoText: m[4] ?? '',
    };
    const name = ERRNO_NAMES.get(errno);
    if (name !== undefined) event.errnoName = name;
    const target = m[2];
    if (target?.startsWith('unix:')) event.socketPath = target.slice(5);
    return event;
  }
  const t = TIMED_OUT.exec(message);
  if (t) {
    const phase = phaseOf(action);
    const errno = int(t[1]);
    const event: NginxErrorEvent = {
      kind: 'upstream_error',
      class: timeoutClass(phase),
      phase,
      errno,
      errnoText: t[2] ?? '',
    };
    const name = ERRNO_NAMES.get(errno);
    if (name !== undefined) event.errnoName = name;
    return event;
  }
  if (message.startsWith('upstream prematurely closed connection')) {
    return { kind: 'upstream_error', class: 'premature_close', phase: phaseOf(action) };
  }
  if (message.startsWith('no live upstreams')) {
    return { kind: 'upstream_error', class: 'no_live_upstreams', phase: phaseOf(action) };
  }
  const g = SIGNAL.exec(message);
  if (g) {
    const event: NginxErrorEvent = {
      kind: 'signal',
      signal: int(g[1]),
      signalName: g[2] ?? '',
    };
    if (g[3] !== undefined) event.fromPid = int(g[3]);
    return event;
  }
  if (aboutUpstream || message.startsWith('upstream ')) {
    return { kind: 'upstream_error', class: 'other', phase: phaseOf(action) };
  }
  return { kind: 'other' };
}

function fastcgiStderr(message: string): NginxErrorEvent {
  let text = message.slice(FASTCGI_STDERR.length);
  const truncated = !text.endsWith('"');
  if (!truncated) text = text.slice(0, -1);
  const phpMessages: string[] = [];
  let at = text.indexOf(PHP_MESSAGE);
  while (at !== -1) {
    const next = text.indexOf(PHP_MESSAGE, at + PHP_MESSAGE.length);
    let part = text.slice(at + PHP_MESSAGE.length, next === -1 ? text.length : next);
    // PHP separates several messages in one record by a newline or by "; ".
    part = part.replace(/(?:;\s*|\s+)$/, '');
    phpMessages.push(part);
    at = next;
  }
  return { kind: 'fastcgi_stderr', text, phpMessages, truncated };
}

/** The number written in `s` from `from` to `to`, or -1 if a character there is not a digit. */
function digitsAt(s: string, from: number, to: number): number {
  if (to > s.length) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** End of the run of digits starting at `from` (equal to `from` when there is none). */
function digitsEnd(s: string, from: number): number {
  let i = from;
  // At most 15 digits keep the number exact; a longer run is not a pid.
  const max = Math.min(s.length, from + 15);
  while (i < max) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    i++;
  }
  return i;
}

/** nginx's frame of one line, by position: where the level, pid, tid and message are. */
interface Frame {
  /** Index of the `]` after the level. */
  close: number;
  pidEnd: number;
  tidEnd: number;
  /** Where the message starts (after `*CONN ` when there is one). */
  start: number;
  connection: number;
  time: LocalTime;
}

// Where `frameStart` found the frame's parts in the last line it read: kept in module scope so
// that checking a frame allocates no object per line.
let lastClose = 0;
let lastPidEnd = 0;
let lastTidEnd = 0;
let lastConnection = -1;

/** Whether `text` from 21 to `close` is one of nginx's levels, without slicing it. */
function isLevelAt(text: string, close: number): boolean {
  for (const level of NGINX_LOG_LEVELS)
    if (level.length === close - 21 && text.startsWith(level, 21)) return true;
  return false;
}

/** Whether the digits at 0..19 are a date and time `makeLocalTime` accepts. */
function validTime(text: string): boolean {
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = digitsAt(text, 17, 19);
  return (
    digitsAt(text, 0, 4) >= 0 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= 31 &&
    hour >= 0 &&
    hour <= 23 &&
    minute >= 0 &&
    minute <= 59 &&
    second >= 0 &&
    second <= 60
  );
}

/**
 * Reads nginx's fixed frame `YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CONN ]` by position rather
 * than with a regular expression: this runs once per line of files of gigabytes, and scanning
 * allocates nothing but the level string. Returns where the message starts, or -1 when the
 * line is not in that frame; the parts' positions are left in `lastClose` and its neighbours.
 */
function frameStart(text: string): number {
  if (
    text.length < 27 ||
    text.charCodeAt(4) !== 47 ||
    text.charCodeAt(7) !== 47 ||
    text.charCodeAt(10) !== 32 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58 ||
    text.charCodeAt(19) !== 32 ||
    text.charCodeAt(20) !== 91
  ) {
    return -1;
  }
  const close = text.indexOf('] ', 21);
  if (close === -1 || close > 28) return -1;
  if (!isLevelAt(text, close)) return -1;
  const pidEnd = digitsEnd(text, close + 2);
  if (pidEnd === close + 2 || text.charCodeAt(pidEnd) !== 35) return -1;
  const tidEnd = digitsEnd(text, pidEnd + 1);
  if (
    tidEnd === pidEnd + 1 ||
    text.charCodeAt(tidEnd) !== 58 ||
    text.charCodeAt(tidEnd + 1) !== 32
  ) {
    return -1;
  }
  if (!validTime(text)) return -1;
  let start = tidEnd + 2;
  let connection = -1;
  if (text.charCodeAt(start) === 42) {
    const connEnd = digitsEnd(text, start + 1);
    if (connEnd > start + 1 && text.charCodeAt(connEnd) === 32) {
      connection = digitsAt(text, start + 1, connEnd);
      start = connEnd + 1;
    }
  }
  lastClose = close;
  lastPidEnd = pidEnd;
  lastTidEnd = tidEnd;
  lastConnection = connection;
  return start;
}

/** The frame of a line with its time, for the full parse; undefined when not in the frame. */
function scanFrame(text: string): Frame | undefined {
  const start = frameStart(text);
  if (start < 0) return undefined;
  const time = makeLocalTime(
    digitsAt(text, 0, 4),
    digitsAt(text, 5, 7),
    digitsAt(text, 8, 10),
    digitsAt(text, 11, 13),
    digitsAt(text, 14, 16),
    digitsAt(text, 17, 19),
    0,
  );
  if (time === undefined) return undefined;
  return {
    close: lastClose,
    pidEnd: lastPidEnd,
    tidEnd: lastTidEnd,
    start,
    connection: lastConnection,
    time,
  };
}

/** Parses one line in nginx's frame into an entry; undefined when it is not in the frame. */
function parseLine(
  text: string,
  line: number,
  opts: ResolvedLogOptions,
): NginxErrorEntry | undefined {
  const frame = scanFrame(text);
  if (frame === undefined) return undefined;
  const { close, pidEnd, tidEnd, start, connection, time } = frame;
  const level = text.slice(21, close);
  let body = text.slice(start);
  const entry: NginxErrorEntry = {
    kind: 'entry',
    line,
    raw: text,
    time,
    date: localTimeToDate(time, opts.offsetMs),
    level: level as NginxLogLevel,
    pid: digitsAt(text, close + 2, pidEnd),
    tid: digitsAt(text, pidEnd + 1, tidEnd),
    message: body,
    event: { kind: 'other' },
  };
  if (connection !== -1) entry.connection = connection;
  // The context is appended last; a message (e.g. PHP's stderr) may itself contain
  // ", client: ", so try from the last occurrence backwards.
  let at = body.lastIndexOf(', client: ');
  while (at !== -1) {
    CONTEXT.lastIndex = at;
    const c = CONTEXT.exec(body);
    if (c) {
      entry.client = c[1] ?? '';
      entry.server = c[2] ?? '';
      if (c[3] !== undefined) entry.request = c[3];
      if (c[4] !== undefined) entry.subrequest = c[4];
      if (c[5] !== undefined) entry.upstream = c[5];
      if (c[6] !== undefined) entry.host = c[6];
      if (c[7] !== undefined) entry.referrer = c[7];
      body = body.slice(0, at);
      break;
    }
    at = at === 0 ? -1 : body.lastIndexOf(', client: ', at - 1);
  }
  const w = body.lastIndexOf(' while ');
  let action: string | undefined;
  if (w !== -1 && !(body.startsWith(FASTCGI_STDERR) && !body.slice(0, w).endsWith('"'))) {
    action = body.slice(w + 7);
    body = body.slice(0, w);
    entry.action = action;
  }
  entry.message = body;
  entry.event = classify(body, action);
  return entry;
}

function recordOf(text: string, line: number, opts: ResolvedLogOptions): NginxErrorRecord {
  return entryOrUnknown(parseLine(text, line, opts), 'the nginx error log', opts, line, text);
}

/**
 * Parses nginx's error log (`error_log`, e.g. `/var/log/nginx/error.log`), whose format is
 * fixed by `ngx_log_error_core` (https://nginx.org/en/docs/ngx_core_module.html#error_log):
 *
 * ```
 * 2026/11/21 08:47:32 [error] 2799#2799: *722 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: example.com, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com"
 * 2026/11/21 08:47:29 [error] 2799#2799: *699 upstream prematurely closed connection while reading response header from upstream, client: ...
 * 2026/11/21 08:48:05 [notice] 18437#18437: signal 1 (SIGHUP) received from 2932, reconfiguring
 * ```
 *
 * Upstream failures are classified by errno and phase (`event.class`), FPM's stderr lines are
 * split into PHP messages. Lines not in nginx's format come back as `unknown`, or throw
 * `FpmkitParseError` with `strict: true`. Times are local and zone-less; `date` reads them
 * with `utcOffsetMinutes` (default 0, UTC).
 */
export function parseNginxErrorLog(
  text: string,
  options?: NginxErrorLogOptions,
): NginxErrorRecord[] {
  const opts = resolveLogOptions(options, 'nginx error log');
  return recordsOf(text, opts, (l, n) => recordOf(l, n, opts));
}

/**
 * {@link parseNginxErrorLog} over a stream of lines (see `readLines`), one record per non-empty
 * line, in constant memory.
 */
export async function* streamNginxErrorLog(
  lines: LineSource,
  options?: NginxErrorLogOptions,
): AsyncGenerator<NginxErrorRecord, void, undefined> {
  const opts = resolveLogOptions(options, 'nginx error log');
  yield* streamRecordsOf(lines, opts, (l, n) => recordOf(l, n, opts));
}

/** What `classifyNginxErrorLine` says a line is: an upstream error class, or its kind. */
export type NginxErrorLineClass = UpstreamErrorClass | 'fastcgi_stderr' | 'signal' | 'other';

let slowOptions: ResolvedLogOptions | undefined;

/**
 * The class `parseNginxErrorLog` gives a line (`event.class` for an upstream error, else
 * `event.kind`), or undefined for a line not in nginx's frame: the plain reference of
 * `classifyNginxErrorLine`, which falls back to it for the shapes its quick test leaves open.
 * @internal
 */
export function parsedLineClass(text: string): NginxErrorLineClass | undefined {
  slowOptions ??= resolveLogOptions(undefined, 'nginx error log');
  const entry = parseLine(text, 1, slowOptions);
  if (entry === undefined) return undefined;
  return entry.event.kind === 'upstream_error' ? entry.event.class : entry.event.kind;
}
