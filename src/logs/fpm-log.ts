import { z } from 'zod';
import {
  fractionToMicros,
  type LogParseOptions,
  localTimeSchema,
  localTimeToDate,
  makeLocalTime,
  monthNumber,
  type ResolvedLogOptions,
  recordsOf,
  resolveLogOptions,
  streamRecordsOf,
  unrecognisedLine,
} from './common.js';
import type { LineSource } from './lines.js';

/** Levels FPM's `zlog` writes (SYSERROR is written as ERROR). */
export const FPM_LOG_LEVELS = ['DEBUG', 'NOTICE', 'WARNING', 'ERROR', 'ALERT'] as const;
/** A level FPM writes in its error log (see {@link FPM_LOG_LEVELS}). */
export type FpmLogLevel = (typeof FPM_LOG_LEVELS)[number];

const childRequest = {
  childPid: z.number().int(),
  /** SCRIPT_FILENAME as FPM saw it; empty for a worker idle on a kept-alive connection. */
  script: z.string(),
  /** Request method; empty for a worker idle on a kept-alive connection. */
  method: z.string(),
  /** SCRIPT_NAME-derived URI plus `?query`, not nginx's REQUEST_URI. */
  uri: z.string(),
  elapsedSeconds: z.number(),
};

/** Every classified FPM message, keyed by a stable `kind`. */
export const fpmLogEventSchema = z.discriminatedUnion('kind', [
  /** `server reached pm.max_children setting (12), consider raising it` (dynamic) or `server reached max_children setting (2)` (ondemand). */
  z.object({
    kind: z.literal('max_children_reached'),
    maxChildren: z.number().int(),
    processManager: z.enum(['dynamic', 'ondemand']),
  }),
  /** `seems busy (...), spawning 8 children, there are 0 idle, and 7 total children`. */
  z.object({
    kind: z.literal('seems_busy'),
    /** The spawn rate at that tick (1, 2, 4, 8, ...), not how many children were forked. */
    spawnRate: z.number().int(),
    idle: z.number().int(),
    total: z.number().int(),
  }),
  /** `child N, script '...' (request: "GET /x") executing too slow (1.32 sec), logging`. */
  z.object({ kind: z.literal('slow_request'), ...childRequest }),
  /** `child N, script '...' (request: "GET /x") execution timed out (2.16 sec), terminating`. */
  z.object({ kind: z.literal('request_timed_out'), ...childRequest }),
  /** `child N exited with code 0 after ...` or `exited on signal 9 (SIGKILL) after ...`. */
  z.object({
    kind: z.literal('child_exited'),
    childPid: z.number().int(),
    /** Present when the child called exit(). */
    exitCode: z.number().int().optional(),
    /** Present when a signal ended the child. */
    signal: z.number().int().optional(),
    signalName: z.string().optional(),
    coreDumped: z.boolean(),
    uptimeSeconds: z.number(),
  }),
  /** `child N started` (NOTICE for respawns, DEBUG for initial and on-demand spawns). */
  z.object({ kind: z.literal('child_started'), childPid: z.number().int() }),
  /** DEBUG `child N has been killed by the process management after S seconds from start`. */
  z.object({
    kind: z.literal('child_reaped'),
    childPid: z.number().int(),
    uptimeSeconds: z.number(),
  }),
  /** `child N stopped for tracing`, `about to trace N`, `finished trace of N` around a slowlog dump. */
  z.object({
    kind: z.literal('trace'),
    childPid: z.number().int(),
    phase: z.enum(['stopped', 'started', 'finished']),
  }),
  /** `Reloading in progress ...` (SIGUSR2 or an emergency restart). */
  z.object({ kind: z.literal('reload_started') }),
  /** `reloading: execvp("/usr/sbin/php-fpm8.2", {...})`: all children gone, the master re-executes. */
  z.object({ kind: z.literal('reload_exec'), executable: z.string() }),
  /** `error log file re-opened` / `access log file re-opened` (SIGUSR1). */
  z.object({ kind: z.literal('log_reopened'), log: z.enum(['error', 'access']) }),
  /** `failed processes threshold (T in I sec) is reached, initiating reload`. */
  z.object({
    kind: z.literal('emergency_restart'),
    threshold: z.number().int(),
    intervalSeconds: z.number().int(),
  }),
  /** `child N said into stderr: "..."` with `catch_workers_output = yes`. */
  z.object({
    kind: z.literal('worker_output'),
    childPid: z.number().int(),
    stream: z.enum(['stderr', 'stdout']),
    text: z.string(),
    /** `, pipe is closed` followed the text: the worker closed that stream. */
    pipeClosed: z.boolean(),
    /** The closing quote was missing: FPM cut the line at `log_limit`. */
    truncated: z.boolean(),
  }),
  /** `fpm is running, pid N`. */
  z.object({ kind: z.literal('master_started'), masterPid: z.number().int() }),
  /** `ready to handle connections`. */
  z.object({ kind: z.literal('ready') }),
  /** `Terminating ...` (SIGTERM/SIGINT: children are killed at once). */
  z.object({ kind: z.literal('terminating') }),
  /** `Finishing ...` (SIGQUIT: graceful stop). */
  z.object({ kind: z.literal('finishing') }),
  /** `exiting, bye-bye!`. */
  z.object({ kind: z.literal('master_exited') }),
  /** `using inherited socket fd=11, "/run/php/x.sock"` after a reload. */
  z.object({ kind: z.literal('inherited_socket'), fd: z.number().int(), address: z.string() }),
  /** `The maximum number of processes has been reached. ... 'process.max'`. */
  z.object({ kind: z.literal('process_max_reached') }),
  /** `systemd monitor interval set to 10000ms`. */
  z.object({ kind: z.literal('systemd_interval'), intervalMs: z.number().int() }),
  /** DEBUG `received SIGUSR2`. */
  z.object({ kind: z.literal('signal_received'), signalName: z.string() }),
  /** DEBUG `currently 1 active children, 2 spare children, 3 running children. Spawning rate 4`. */
  z.object({
    kind: z.literal('pm_state'),
    active: z.number().int(),
    idle: z.number().int(),
    total: z.number().int(),
    spawnRate: z.number().int(),
  }),
  /** `Connection disallowed: IP address '10.0.0.9' has been dropped.` (`listen.allowed_clients`). */
  z.object({ kind: z.literal('connection_disallowed'), address: z.string() }),
  /** `Another FPM instance seems to already listen on /run/php/x.sock`. */
  z.object({ kind: z.literal('address_in_use'), address: z.string() }),
  /** A well-formed FPM line whose message fpmkit does not classify; read `message`. */
  z.object({ kind: z.literal('other') }),
  /** A line without FPM's `[date] LEVEL:` frame, e.g. worker output with `decorate_workers_output = no`. */
  z.object({ kind: z.literal('raw') }),
]);
/** What one FPM error log line reports, by `kind`. */
export type FpmLogEvent = z.infer<typeof fpmLogEventSchema>;
/** The `kind` of an {@link FpmLogEvent}. */
export type FpmLogEventKind = FpmLogEvent['kind'];

/** Every `event.kind` of an FPM log record, for callers that count or filter by kind. */
export const FPM_LOG_EVENT_KINDS = [
  'max_children_reached',
  'seems_busy',
  'slow_request',
  'request_timed_out',
  'child_exited',
  'child_started',
  'child_reaped',
  'trace',
  'reload_started',
  'reload_exec',
  'log_reopened',
  'emergency_restart',
  'worker_output',
  'master_started',
  'ready',
  'terminating',
  'finishing',
  'master_exited',
  'inherited_socket',
  'process_max_reached',
  'systemd_interval',
  'signal_received',
  'pm_state',
  'connection_disallowed',
  'address_in_use',
  'other',
  'raw',
] as const;

type SameUnion<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// Fails to compile when the list and the schema's union drift apart.
true satisfies SameUnion<(typeof FPM_LOG_EVENT_KINDS)[number], FpmLogEventKind>;

/** One line of FPM's error log. */
export const fpmLogRecordSchema = z.object({
  /** 1-based line number in the input. */
  line: z.number().int(),
  /** The line as read, without its newline. */
  raw: z.string(),
  /** Local time as written; absent for `raw` lines. */
  time: localTimeSchema.optional(),
  /** `time` read in the zone given by `utcOffsetMinutes`. */
  date: z.date().optional(),
  level: z.enum(FPM_LOG_LEVELS).optional(),
  /** From a `[pool name]` prefix. */
  pool: z.string().optional(),
  /** The worker the message is about, when it names one. */
  childPid: z.number().int().optional(),
  /** With `log_level = debug`: the logging process, C function and source line. */
  debug: z
    .object({ pid: z.number().int(), function: z.string(), sourceLine: z.number().int() })
    .optional(),
  /** For ERROR/ALERT lines ending in `: strerror (errno)`. */
  systemError: z.object({ message: z.string(), errno: z.number().int() }).optional(),
  /** The message after level, debug prefix and pool prefix; the whole line for `raw`. */
  message: z.string(),
  event: fpmLogEventSchema,
});
/** One line of an FPM error log: time, level, pool and event. */
export type FpmLogRecord = z.infer<typeof fpmLogRecordSchema>;

/** Options of {@link parseFpmLog} and {@link streamFpmLog}. */
export type FpmLogOptions = LogParseOptions;

// The `s` flag on patterns with `.`: a line may hold a lone CR or U+2028, which `.` would not match.
const FRAME =
  /^\[(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\] ([A-Z]+): ?(.*)$/s;
const DEBUG_PREFIX = /^pid (\d+), (\w+)\(\), line (\d+): (.*)$/s;
const POOL_PREFIX = /^\[pool ([^\]]*)\] (.*)$/s;
const SYSTEM_ERROR = /: ([^:()]+) \((\d+)\)$/;

const MAX_CHILDREN =
  /^server reached (pm\.)?max_children setting \((-?\d+)\), consider raising it$/;
const SEEMS_BUSY =
  /^seems busy \(.*\), spawning (\d+) children, there are (\d+) idle, and (\d+) total children$/s;
const CHILD_REQUEST =
  /^child (\d+), script '(.*)' \(request: "(.*)"\) (executing too slow|execution timed out) \(([\d.]+) sec\), (?:logging|terminating)$/s;
const EXITED_CODE = /^child (\d+) exited with code (-?\d+) after ([\d.]+) seconds from start$/;
const EXITED_SIGNAL =
  /^child (\d+) exited on signal (\d+) \((\w*)( - core dumped)?\) after ([\d.]+) seconds from start$/;
const STARTED = /^child (\d+) started$/;
const REAPED =
  /^child (\d+) has been killed by the process management after ([\d.]+) seconds from start$/;
const STOPPED_TRACING = /^child (\d+) stopped for tracing$/;
const ABOUT_TO_TRACE = /^about to trace (\d+)$/;
const FINISHED_TRACE = /^finished trace of (\d+)$/;
const EXECVP = /^reloading: execvp\("((?:[^"\\]|\\.)*)"/s;
const EMERGENCY =
  /^failed processes threshold \((\d+) in (\d+) sec\) is reached, initiating reload$/;
const SAID_INTO = /^child (\d+) said into (stderr|stdout): "(.*)$/s;
const RUNNING = /^fpm is running, pid (\d+)$/;
const INHERITED = /^using inherited socket fd=(\d+), "(.*)"$/s;
const SYSTEMD = /^systemd monitor interval set to (\d+)ms$/;
const RECEIVED = /^received (SIG\w+)$/;
const PM_STATE =
  /^currently (\d+) active children, (\d+) spare children, (\d+) running children\. Spawning rate (\d+)$/;
const DISALLOWED = /^Connection disallowed: IP address '(.*)' has been dropped\.$/s;
const ANOTHER = /^Another FPM instance seems to already listen on (.*)$/s;

const FIXED = new Map<string, FpmLogEvent>(
  Object.entries({
    'Reloading in progress ...': { kind: 'reload_started' },
    'error log file re-opened': { kind: 'log_reopened', log: 'error' },
    'access log file re-opened': { kind: 'log_reopened', log: 'access' },
    'ready to handle connections': { kind: 'ready' },
    'Terminating ...': { kind: 'terminating' },
    'Finishing ...': { kind: 'finishing' },
    'exiting, bye-bye!': { kind: 'master_exited' },
    "The maximum number of processes has been reached. Please review your configuration and consider raising 'process.max'":
      { kind: 'process_max_reached' },
  } satisfies Record<string, FpmLogEvent>),
);

const int = (s: string | undefined): number => Number.parseInt(s ?? '', 10);
const num = (s: string | undefined): number => Number(s);

type Rule = readonly [RegExp, (m: RegExpExecArray) => FpmLogEvent];

function requestEvent(m: RegExpExecArray): FpmLogEvent {
  const request = m[3] ?? '';
  const space = request.indexOf(' ');
  return {
    kind: m[4] === 'executing too slow' ? 'slow_request' : 'request_timed_out',
    childPid: int(m[1]),
    script: m[2] ?? '',
    method: space === -1 ? request : request.slice(0, space),
    uri: space === -1 ? '' : request.slice(space + 1),
    elapsedSeconds: num(m[5]),
  };
}

/** Messages that start with `child `, most frequent first. */
const CHILD_RULES: readonly Rule[] = [
  [STARTED, (m) => ({ kind: 'child_started', childPid: int(m[1]) })],
  [
    EXITED_CODE,
    (m) => ({
      kind: 'child_exited',
      childPid: int(m[1]),
      exitCode: int(m[2]),
      coreDumped: false,
      uptimeSeconds: num(m[3]),
    }),
  ],
  [
    EXITED_SIGNAL,
    (m) => ({
      kind: 'child_exited',
      childPid: int(m[1]),
      signal: int(m[2]),
      signalName: m[3] ?? '',
      coreDumped: m[4] !== undefined,
      uptimeSeconds: num(m[5]),
    }),
  ],
  [SAID_INTO, (m) => workerOutput(m)],
  [CHILD_REQUEST, requestEvent],
  [STOPPED_TRACING, (m) => ({ kind: 'trace', childPid: int(m[1]), phase: 'stopped' })],
  [REAPED, (m) => ({ kind: 'child_reaped', childPid: int(m[1]), uptimeSeconds: num(m[2]) })],
];

/** Every other classified message. */
const OTHER_RULES: readonly Rule[] = [
  [
    MAX_CHILDREN,
    (m) => ({
      kind: 'max_children_reached',
      maxChildren: int(m[2]),
      processManager: m[1] ? 'dynamic' : 'ondemand',
    }),
  ],
  [
    SEEMS_BUSY,
    (m) => ({ kind: 'seems_busy', spawnRate: int(m[1]), idle: int(m[2]), total: int(m[3]) }),
  ],
  [
    PM_STATE,
    (m) => ({
      kind: 'pm_state',
      active: int(m[1]),
      idle: int(m[2]),
      total: int(m[3]),
      spawnRate: int(m[4]),
    }),
  ],
  [ABOUT_TO_TRACE, (m) => ({ kind: 'trace', childPid: int(m[1]), phase: 'started' })],
  [FINISHED_TRACE, (m) => ({ kind: 'trace', childPid: int(m[1]), phase: 'finished' })],
  [EXECVP, (m) => ({ kind: 'reload_exec', executable: m[1] ?? '' })],
  [
    EMERGENCY,
    (m) => ({ kind: 'emergency_restart', threshold: int(m[1]), intervalSeconds: int(m[2]) }),
  ],
  [RUNNING, (m) => ({ kind: 'master_started', masterPid: int(m[1]) })],
  [INHERITED, (m) => ({ kind: 'inherited_socket', fd: int(m[1]), address: m[2] ?? '' })],
  [SYSTEMD, (m) => ({ kind: 'systemd_interval', intervalMs: int(m[1]) })],
  [RECEIVED, (m) => ({ kind: 'signal_received', signalName: m[1] ?? '' })],
  [DISALLOWED, (m) => ({ kind: 'connection_disallowed', address: m[1] ?? '' })],
  [ANOTHER, (m) => ({ kind: 'address_in_use', address: m[1] ?? '' })],
];

/**
 * Classifies one FPM message (the text after the level and any `[pool x]` prefix). Exported for
 * callers that read messages from elsewhere, e.g. syslog.
 */
export function classifyFpmMessage(message: string): FpmLogEvent {
  const fixed = FIXED.get(message);
  if (fixed !== undefined) return { ...fixed };
  // Most lines are about a child; checking the prefix first keeps them to few regex tests.
  const rules = message.startsWith('child ') ? CHILD_RULES : OTHER_RULES;
  for (const [re, build] of rules) {
    const m = re.exec(message);
    if (m) return build(m);
  }
  return { kind: 'other' };
}

function workerOutput(m: RegExpExecArray): FpmLogEvent {
  let rest = m[3] ?? '';
  let pipeClosed = false;
  let truncated = false;
  if (rest.endsWith('", pipe is closed')) {
    rest = rest.slice(0, -'", pipe is closed'.length);
    pipeClosed = true;
  } else if (rest.endsWith('"')) {
    rest = rest.slice(0, -1);
  } else {
    truncated = true;
  }
  return {
    kind: 'worker_output',
    childPid: int(m[1]),
    stream: m[2] === 'stdout' ? 'stdout' : 'stderr',
    text: rest,
    pipeClosed,
    truncated,
  };
}

const LEVELS = new Set<string>(FPM_LOG_LEVELS);

/** Parses one line; undefined when it does not have FPM's frame. */
function parseLine(text: string, line: number, opts: ResolvedLogOptions): FpmLogRecord | undefined {
  const f = FRAME.exec(text);
  if (!f) return undefined;
  const level = f[8] ?? '';
  const month = monthNumber(f[2] ?? '');
  if (!LEVELS.has(level) || month === undefined) return undefined;
  const time = makeLocalTime(
    int(f[3]),
    month,
    int(f[1]),
    int(f[4]),
    int(f[5]),
    int(f[6]),
    fractionToMicros(f[7]),
  );
  if (!time) return undefined;
  let message = f[9] ?? '';
  const record: FpmLogRecord = {
    line,
    raw: text,
    time,
    date: localTimeToDate(time, opts.offsetMs),
    level: level as FpmLogLevel,
    message,
    event: { kind: 'other' },
  };
  if (message.startsWith('pid ')) {
    const d = DEBUG_PREFIX.exec(message);
    if (d) {
      record.debug = { pid: int(d[1]), function: d[2] ?? '', sourceLine: int(d[3]) };
      message = d[4] ?? '';
    }
  }
  if (message.startsWith('[pool ')) {
    const p = POOL_PREFIX.exec(message);
    if (p) {
      record.pool = p[1] ?? '';
      message = p[2] ?? '';
    }
  }
  record.message = message;
  const event = classifyFpmMessage(message);
  record.event = event;
  if ('childPid' in event) record.childPid = event.childPid;
  if (level === 'ERROR' || level === 'ALERT') {
    const s = SYSTEM_ERROR.exec(message);
    if (s) record.systemError = { message: s[1] ?? '', errno: int(s[2]) };
  }
  return record;
}

function recordOf(text: string, line: number, opts: ResolvedLogOptions): FpmLogRecord {
  const record = parseLine(text, line, opts);
  if (record) return record;
  if (opts.strict) throw unrecognisedLine('the php-fpm error log', opts, line, text);
  return { line, raw: text, message: text, event: { kind: 'raw' } };
}

/**
 * Parses PHP-FPM's error log (the global `error_log` file, e.g. `/var/log/php8.2-fpm.log`),
 * written by `sapi/fpm/fpm/zlog.c`
 * (https://github.com/php/php-src/blob/master/sapi/fpm/fpm/zlog.c):
 *
 * ```
 * [21-Nov-2026 08:47:15] NOTICE: fpm is running, pid 2984
 * [21-Nov-2026 08:47:42] WARNING: [pool busy] server reached pm.max_children setting (12), consider raising it
 * [21-Nov-2026 08:48:14.565592] DEBUG: pid 3874, fpm_children_make(), line 460: [pool dbg] child 3875 started
 * ```
 *
 * One record per line, each with a classified `event`. Lines without FPM's frame (worker output
 * with `decorate_workers_output = no`, a line from another program) come back with event
 * `raw`, or throw `FpmkitParseError` with `strict: true`. Times are local and zone-less in the
 * file; `date` reads them with `utcOffsetMinutes` (default 0, UTC).
 */
export function parseFpmLog(text: string, options?: FpmLogOptions): FpmLogRecord[] {
  const opts = resolveLogOptions(options, 'php-fpm error log');
  return recordsOf(text, opts, (l, n) => recordOf(l, n, opts));
}

/**
 * {@link parseFpmLog} over a stream of lines (see `readLines`), yielding one record per
 * non-empty line, for logs of any size in constant memory.
 */
export async function* streamFpmLog(
  lines: LineSource,
  options?: FpmLogOptions,
): AsyncGenerator<FpmLogRecord, void, undefined> {
  const opts = resolveLogOptions(options, 'php-fpm error log');
  yield* streamRecordsOf(lines, opts, (l, n) => recordOf(l, n, opts));
}
