import { FpmkitParseError } from '../errors.js';
import { parseTarget } from '../fastcgi/target.js';
import { parseListen } from '../fpm/listen.js';
import type { FpmProcess, FpmStatus, StatusFormat } from './model.js';

/**
 * Shared mapping from FPM's field labels to the model. Every format parser reduces its page to
 * records keyed by the JSON key spelling (`'accepted conn'`, `'request uri'`) and hands them
 * here, so units, limits and the clamping rule live in one place.
 */

/** 2^63: printed unsigned values at or above it are negative differences that wrapped. */
const WRAP_THRESHOLD = 2n ** 63n;
/** Digit strings shorter than this always fit a safe integer (2^53 has 16 digits). */
const SAFE_DIGITS = 15;

/** What the mapper needs to know about the page being mapped. */
export interface MapContext {
  format: StatusFormat;
  /** Label used as `source` in parse errors. */
  source: string;
  /** `'epoch'` for json/xml (seconds), `'text'` for text/html (`%d/%b/%Y:%H:%M:%S %z`). */
  timeKind: 'epoch' | 'text';
  /** The pool's `listen` value when the caller knows it. */
  listen?: string | undefined;
  /** Clock used to derive the OpenMetrics start time. */
  now: () => Date;
  /** The last local-time text parsed on this page and its instant. */
  lastTimeText?: string;
  lastTimeMs?: number;
}

/** Thrown by the fast JSON path when a number lost precision, so the lenient path reruns. */
export class NeedsExactDigits extends Error {}

export function parseError(ctx: MapContext, reason: string): FpmkitParseError {
  return new FpmkitParseError(reason, { source: ctx.source });
}

/**
 * Clamping rule for FPM's unsigned counters. FPM prints differences of two clock readings with
 * `%lu`; when the later reading is the smaller one (a worker's clock raced the master's, or the
 * wall clock stepped back) the result wraps to just under 2^64. Such values (at or above 2^63)
 * become 0, the nearest true value; values between 2^53 and 2^63, which no real counter reaches,
 * become `Number.MAX_SAFE_INTEGER`. Either way the digits FPM printed are kept in `clamped`.
 */
export function clampCounter(digits: string): number {
  const big = BigInt(digits);
  if (big >= WRAP_THRESHOLD) return 0;
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  return Number(big);
}

const DIGITS = /^\d+$/;
const DECIMAL = /^\d+(?:\.\d+)?$/;

export function toCount(
  value: unknown,
  field: string,
  ctx: MapContext,
  clamped: Record<string, string>,
): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    if (Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) throw new NeedsExactDigits();
    throw parseError(ctx, `field '${field}': expected a non-negative integer, got ${value}`);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (DIGITS.test(text)) {
      if (text.length <= SAFE_DIGITS) return Number(text);
      const result = clampCounter(text);
      if (String(result) !== text.replace(/^0+(?=\d)/, '')) clamped[field] = text;
      return result;
    }
  }
  if (value === undefined) throw parseError(ctx, `missing field '${field}'`);
  throw parseError(
    ctx,
    `field '${field}': expected a non-negative integer, got ${JSON.stringify(value)}`,
  );
}

function toPercent(value: unknown, field: string, ctx: MapContext): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) return Number(value.trim());
  if (value === undefined) throw parseError(ctx, `missing field '${field}'`);
  throw parseError(ctx, `field '${field}': expected a percentage, got ${JSON.stringify(value)}`);
}

function toText(value: unknown, field: string, ctx: MapContext): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value === undefined) throw parseError(ctx, `missing field '${field}'`);
  throw parseError(ctx, `field '${field}': expected text, got ${JSON.stringify(value)}`);
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const LOCAL_TIME =
  /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/**
 * Parses FPM's `strftime("%d/%b/%Y:%H:%M:%S %z")` text, e.g. `21/Nov/2026:08:40:21 +0000`, into
 * the instant it names (the offset is applied, so the result does not depend on the reader's zone).
 */
export function parseFpmLocalTime(text: string): Date | undefined {
  const m = LOCAL_TIME.exec(text.trim());
  if (!m) return undefined;
  const month = MONTHS[m[2]!];
  if (month === undefined) return undefined;
  const [day, year, hour, minute, second] = [m[1], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(year, month, day, hour, minute, second) - offsetMinutes * 60_000;
  const date = new Date(utc);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function toTime(
  value: unknown,
  field: string,
  ctx: MapContext,
  clamped: Record<string, string>,
): Date {
  if (ctx.timeKind === 'text') {
    if (typeof value === 'string') {
      // Workers started together share one start time; parse each distinct text once.
      if (value === ctx.lastTimeText && ctx.lastTimeMs !== undefined)
        return new Date(ctx.lastTimeMs);
      const date = parseFpmLocalTime(value);
      if (date) {
        ctx.lastTimeText = value;
        ctx.lastTimeMs = date.getTime();
        return date;
      }
    }
    if (value === undefined) throw parseError(ctx, `missing field '${field}'`);
    throw parseError(
      ctx,
      `field '${field}': expected a time like 21/Nov/2026:08:40:21 +0000, got ${JSON.stringify(value)}`,
    );
  }
  const seconds = toCount(value, field, ctx, clamped);
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) {
    throw parseError(ctx, `field '${field}': epoch ${seconds} is out of range`);
  }
  return date;
}

/**
 * Whether the pool listens on a UNIX socket: the value as FPM reads `listen`, else as a FastCGI
 * target (`unix:PATH`); a value neither reads is taken as not UNIX.
 */
function listensOnUnix(listen: string): boolean {
  try {
    return parseListen(listen.trim()).kind === 'unix';
  } catch {
    try {
      return parseTarget(listen).type === 'unix';
    } catch {
      return false;
    }
  }
}

/** 8.2 prints `(null)` for the stage it has no name for; 8.4 calls it `Creating`. */
function normalizeState(state: string): string {
  return state === '(null)' ? 'Creating' : state;
}

/** Maps one process record (keys spelled as in FPM's JSON) to the model. */
export function mapProcess(rec: Record<string, unknown>, ctx: MapContext): FpmProcess {
  const clamped: Record<string, string> = {};
  const process: FpmProcess = {
    pid: toCount(rec.pid, 'pid', ctx, clamped),
    state: normalizeState(toText(rec.state, 'state', ctx)),
    startTime: toTime(rec['start time'], 'startTime', ctx, clamped),
    startSinceSeconds: toCount(rec['start since'], 'startSinceSeconds', ctx, clamped),
    requests: toCount(rec.requests, 'requests', ctx, clamped),
    requestDurationMicros: toCount(rec['request duration'], 'requestDurationMicros', ctx, clamped),
    requestMethod: toText(rec['request method'], 'requestMethod', ctx),
    requestUri: toText(rec['request uri'], 'requestUri', ctx),
    contentLength: toCount(rec['content length'], 'contentLength', ctx, clamped),
    user: toText(rec.user, 'user', ctx),
    script: toText(rec.script, 'script', ctx),
    lastRequestMemoryBytes: toCount(
      rec['last request memory'],
      'lastRequestMemoryBytes',
      ctx,
      clamped,
    ),
  };
  // Older FPM built without listen-queue support left the CPU column out of some formats.
  if (rec['last request cpu'] !== undefined) {
    process.lastRequestCpuPercent = toPercent(
      rec['last request cpu'],
      'lastRequestCpuPercent',
      ctx,
    );
  }
  if (process.pid === 0) {
    // A slot FPM is still creating: no child yet, start time 0, and times counted from the
    // clock's origin (seen live: a 931-second "request" at startup). Report them as 0.
    for (const field of ['startSinceSeconds', 'requestDurationMicros'] as const) {
      if (process[field] !== 0) {
        clamped[field] ??= String(process[field]);
        process[field] = 0;
      }
    }
  }
  for (const _ in clamped) {
    process.clamped = clamped;
    break;
  }
  return process;
}

/** The page keys of the listen-queue lines, which FPM prints together or not at all. */
const QUEUE_KEYS = ['listen queue', 'max listen queue', 'listen queue len'] as const;

/**
 * The three listen-queue fields, or undefined when the page has none of them: early FPM
 * releases printed them only when built with listen-queue support (HAVE_FPM_LQ), and left all
 * three out elsewhere. Some but not all is a damaged page.
 */
function listenQueueFields(
  rec: Record<string, unknown>,
  ctx: MapContext,
  clamped: Record<string, string>,
): { listenQueue: number; maxListenQueue: number; listenQueueLen: number } | undefined {
  const present = QUEUE_KEYS.filter((key) => rec[key] !== undefined);
  if (present.length === 0) return undefined;
  if (present.length < QUEUE_KEYS.length) {
    const missing = QUEUE_KEYS.filter((key) => rec[key] === undefined);
    throw parseError(
      ctx,
      `missing field '${missing[0]}': FPM prints the listen-queue lines together or not at all`,
    );
  }
  return {
    listenQueue: toCount(rec['listen queue'], 'listenQueue', ctx, clamped),
    maxListenQueue: toCount(rec['max listen queue'], 'maxListenQueue', ctx, clamped),
    listenQueueLen: toCount(rec['listen queue len'], 'listenQueueLen', ctx, clamped),
  };
}

/**
 * Maps the pool record (and the process records of a `?full` page) to the model. With
 * `derivedStartTime` (OpenMetrics) the start time is computed from `start since`.
 */
export function mapStatus(
  rec: Record<string, unknown>,
  processes: Record<string, unknown>[] | undefined,
  ctx: MapContext,
  derivedStartTime = false,
): FpmStatus {
  const clamped: Record<string, string> = {};
  const startSinceSeconds = toCount(rec['start since'], 'startSinceSeconds', ctx, clamped);
  const queue = listenQueueFields(rec, ctx, clamped);
  const status: FpmStatus = {
    pool: toText(rec.pool, 'pool', ctx),
    processManager: toText(rec['process manager'], 'processManager', ctx),
    startTime: derivedStartTime
      ? new Date(Math.floor(ctx.now().getTime() / 1000 - startSinceSeconds) * 1000)
      : toTime(rec['start time'], 'startTime', ctx, clamped),
    startSinceSeconds,
    acceptedConn: toCount(rec['accepted conn'], 'acceptedConn', ctx, clamped),
    // FPM only writes a non-zero backlog after a successful TCP_INFO read; see the model.
    listenQueueMeasured:
      queue !== undefined &&
      queue.listenQueueLen > 0 &&
      !(ctx.listen !== undefined && listensOnUnix(ctx.listen)),
    idleProcesses: toCount(rec['idle processes'], 'idleProcesses', ctx, clamped),
    activeProcesses: toCount(rec['active processes'], 'activeProcesses', ctx, clamped),
    totalProcesses: toCount(rec['total processes'], 'totalProcesses', ctx, clamped),
    maxActiveProcesses: toCount(rec['max active processes'], 'maxActiveProcesses', ctx, clamped),
    maxChildrenReached: toCount(rec['max children reached'], 'maxChildrenReached', ctx, clamped),
    format: ctx.format,
  };
  if (queue !== undefined) {
    status.listenQueue = queue.listenQueue;
    status.maxListenQueue = queue.maxListenQueue;
    status.listenQueueLen = queue.listenQueueLen;
  }
  if (rec['slow requests'] !== undefined) {
    status.slowRequests = toCount(rec['slow requests'], 'slowRequests', ctx, clamped);
  }
  if (rec['memory peak'] !== undefined) {
    status.memoryPeakBytes = toCount(rec['memory peak'], 'memoryPeakBytes', ctx, clamped);
  }
  if (processes !== undefined) {
    const list: FpmProcess[] = new Array(processes.length);
    for (let i = 0; i < processes.length; i++) list[i] = mapProcess(processes[i]!, ctx);
    status.processes = list;
  }
  if (derivedStartTime) status.startTimeDerived = true;
  for (const _ in clamped) {
    status.clamped = clamped;
    break;
  }
  return status;
}
