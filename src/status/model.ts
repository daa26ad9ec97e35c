import { z } from 'zod';
import { STATUS_FORMATS, type StatusFormat } from './names.js';

export type { FpmProcessState, ProcessManager, StatusFormat } from './names.js';
export { PROCESS_MANAGERS, PROCESS_STATES, STATUS_FIELD_KEYS, STATUS_FORMATS } from './names.js';

/**
 * Fields whose printed value was replaced by a documented rule, keyed by model field name, with
 * FPM's text as value: counters past 2^53 (see `clampCounter`), and the times of a slot FPM is
 * still creating (pid 0), which count from the clock's origin and are reported as 0.
 */
const clampedSchema = z.record(z.string(), z.string());

const count = z.number().int().nonnegative();

/** One worker of the pool, from a `?full` page. */
export const fpmProcessSchema = z.object({
  pid: count,
  /**
   * One of `PROCESS_STATES` for every FPM released so far; kept as text so a state added by a
   * later FPM still parses.
   */
  state: z.string(),
  startTime: z.date(),
  startSinceSeconds: count,
  requests: count,
  /**
   * Microseconds: the last request's duration when Idle, time since accept otherwise (it keeps
   * growing while Finishing). Clamped by the documented rule; see `clamped`.
   */
  requestDurationMicros: count,
  /** `-` when the worker has served nothing yet. */
  requestMethod: z.string(),
  /** Script name plus `?query` when there is one, unescaped. */
  requestUri: z.string(),
  contentLength: count,
  /** Basic-auth user of the request, `-` when none. */
  user: z.string(),
  /** SCRIPT_FILENAME as PHP translated it, `-` when none (the status page itself). */
  script: z.string(),
  /**
   * Percent of one CPU over the last request; FPM prints 0 unless the state is Idle. Absent (not
   * 0) when the page has no `last request cpu` column: early FPM releases (PHP 5.3 era) left
   * it out of the HTML, XML and JSON pages of builds without listen-queue support.
   */
  lastRequestCpuPercent: z.number().nonnegative().optional(),
  /** Peak allocator memory of the last request; FPM prints 0 unless the state is Idle. */
  lastRequestMemoryBytes: count,
  /** Present only when a field was clamped: field name → the digits FPM printed. */
  clamped: clampedSchema.optional(),
});
/** One worker of FPM's full status page. */
export type FpmProcess = z.infer<typeof fpmProcessSchema>;

/** The pool summary of FPM's status page, with the workers when `?full` was asked for. */
export const fpmStatusSchema = z.object({
  /** Pool name as FPM stores it in the scoreboard (truncated to 31 bytes). */
  pool: z.string(),
  processManager: z.string(),
  /**
   * When the pool's scoreboard was created: master start or last reload. The OpenMetrics page
   * does not carry it; there it is computed as parse time minus `startSinceSeconds` (±1 s) and
   * `startTimeDerived` is true.
   */
  startTime: z.date(),
  startSinceSeconds: count,
  /** Requests accepted (keep-alive requests, status and ping requests included). */
  acceptedConn: count,
  /**
   * Connections in the accept queue at the last 1 Hz sample. 0 and meaningless when
   * `listenQueueMeasured` is false. Absent (not 0) when the page has no listen-queue lines:
   * early FPM releases (PHP 5.3 era) built without listen-queue support (HAVE_FPM_LQ 0, e.g.
   * on macOS and some BSDs) printed none of the three; see docs/status.md.
   */
  listenQueue: count.optional(),
  /** Highest `listenQueue` sample since (re)start. 0 and meaningless when not measured; absent with `listenQueue`. */
  maxListenQueue: count.optional(),
  /** Effective backlog of the listening socket. 0 and meaningless when not measured; absent with `listenQueue`. */
  listenQueueLen: count.optional(),
  /**
   * False when FPM did not measure the listen queue: UNIX-socket pools (FPM samples TCP_INFO,
   * which only TCP listeners have), platforms without TCP_INFO, and pages without the
   * listen-queue lines. Then the three listen-queue fields hold FPM's structural 0 (or are
   * absent), not an observation; read the kernel queue instead.
   */
  listenQueueMeasured: z.boolean(),
  idleProcesses: count,
  /** Includes the worker answering this status request (unless served via pm.status_listen). */
  activeProcesses: count,
  totalProcesses: count,
  maxActiveProcesses: count,
  /** Never moves for pm = static. */
  maxChildrenReached: count,
  /**
   * Requests that hit `request_slowlog_timeout`. Absent (not 0) on pages of FPM releases from
   * before the counter existed (added in 2012), which print no `slow requests` line.
   */
  slowRequests: count.optional(),
  /** FPM 8.4 and later only; absent on older versions. */
  memoryPeakBytes: count.optional(),
  /** Present when the page was fetched with `full` (never on OpenMetrics pages). */
  processes: z.array(fpmProcessSchema).optional(),
  /** The format the page was parsed from. */
  format: z.enum(STATUS_FORMATS),
  /** True when `startTime` was computed rather than read (OpenMetrics). */
  startTimeDerived: z.boolean().optional(),
  /** Present only when a field was clamped: field name → the digits FPM printed. */
  clamped: clampedSchema.optional(),
});
/** FPM's status page: the pool summary, with the workers when `?full` was asked for. */
export type FpmStatus = z.infer<typeof fpmStatusSchema>;

// Compile-time checks that the literal lists and the schema's enum agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _formatsMatch: Same<FpmStatus['format'], StatusFormat> = true;
void _formatsMatch;
