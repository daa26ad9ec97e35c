import { finiteAtLeast, finitePositive } from './check.js';

/**
 * Seconds each layer of the timeout corridor stays above the one inside it: FPM's
 * `request_terminate_timeout` above PHP's `max_execution_time`, and the web server's timeout
 * above `request_terminate_timeout`. One rule shared by the planner (`timeoutCorridor`) and
 * `checkStack`, so every plan passes the check.
 *
 * Why a fixed margin and not a share of the timeout: `max_execution_time` counts CPU time on
 * Linux, so how much later than its wall-clock value it fires depends on the script's CPU share
 * and on contention, which no proportion bounds; what the margin must cover is PHP's own
 * unwinding after the limit (the fatal error, shutdown functions, the log line), a few seconds
 * whatever the timeout. FPM's late detection of `request_terminate_timeout` (up to a third of it)
 * is proportional, and the planner adds it to `fastcgi_read_timeout` as a separate term.
 */
export const TIMEOUT_CORRIDOR_MARGIN_SECONDS = 5;

/** FPM checks `request_terminate_timeout` at least this often, seconds (FPM_PCTL_MIN_HEARTBEAT). */
export const FPM_MIN_HEARTBEAT_SECONDS = 0.13;

/**
 * How late FPM may kill a request past `request_terminate_timeout`, seconds: its heartbeat runs
 * every timeout/3, at least every 130 ms.
 */
export function terminateDetectionLagSeconds(requestTerminateTimeoutSeconds: number): number {
  const t = finiteAtLeast('requestTerminateTimeoutSeconds', requestTerminateTimeoutSeconds, 0);
  return Math.max(FPM_MIN_HEARTBEAT_SECONDS, t / 3);
}

/**
 * The timeout corridor: PHP's `max_execution_time` ≤ FPM's `request_terminate_timeout` ≤ the
 * web server's `fastcgi_read_timeout`, each with a margin, so the innermost layer that can stop
 * a runaway request does so and reports why, and no outer layer gives up on a request an inner
 * one still lets run.
 */

export interface TimeoutCorridorInput {
  /** Longest legitimate request, wall-clock seconds. */
  longestRequestSeconds: number;
  /** Margin between layers as a share of the inner timeout. @default 0 */
  marginFraction?: number | undefined;
  /** Smallest margin between layers, seconds. @default TIMEOUT_CORRIDOR_MARGIN_SECONDS (5) */
  minMarginSeconds?: number | undefined;
}

/** PHP, FPM and nginx timeouts (seconds) that nest so the innermost fires first. */
export interface TimeoutCorridor {
  /** PHP `max_execution_time`. On Linux it counts CPU time (ITIMER_PROF), not sleeps or I/O. */
  maxExecutionTimeSeconds: number;
  /** FPM `request_terminate_timeout`: the wall-clock backstop. */
  requestTerminateTimeoutSeconds: number;
  /**
   * nginx `fastcgi_read_timeout`. FPM checks timeouts every terminate/3 seconds (at least every
   * 130 ms), so a kill can come up to a third late; nginx must still be waiting then.
   */
  fastcgiReadTimeoutSeconds: number;
  /** FPM `process_control_timeout`: lets in-flight requests finish on reload. */
  processControlTimeoutSeconds: number;
  text: {
    maxExecutionTimeSeconds: string;
    requestTerminateTimeoutSeconds: string;
    fastcgiReadTimeoutSeconds: string;
    processControlTimeoutSeconds: string;
  };
}

/** Builds the corridor from the longest legitimate request. All values are whole seconds. */
export function timeoutCorridor(input: TimeoutCorridorInput): TimeoutCorridor {
  const longest = finitePositive('longestRequestSeconds', input.longestRequestSeconds);
  const fraction = finiteAtLeast('marginFraction', input.marginFraction ?? 0, 0);
  const minMargin = finiteAtLeast(
    'minMarginSeconds',
    input.minMarginSeconds ?? TIMEOUT_CORRIDOR_MARGIN_SECONDS,
    0,
  );
  const margin = (t: number) => Math.max(minMargin, t * fraction);
  const maxExec = Math.ceil(longest);
  const terminate = Math.ceil(maxExec + margin(maxExec));
  const lateness = terminateDetectionLagSeconds(terminate);
  const read = Math.ceil(terminate + lateness + margin(terminate));
  return {
    maxExecutionTimeSeconds: maxExec,
    requestTerminateTimeoutSeconds: terminate,
    fastcgiReadTimeoutSeconds: read,
    processControlTimeoutSeconds: terminate,
    text: {
      maxExecutionTimeSeconds: `the longest legitimate request (${longest} s), rounded up; PHP counts CPU time here, so sleeps and I/O need the FPM backstop`,
      requestTerminateTimeoutSeconds: `max_execution_time ${maxExec} s + margin ${margin(maxExec).toFixed(1)} s: FPM kills by wall clock just after PHP would have stopped`,
      fastcgiReadTimeoutSeconds: `request_terminate_timeout ${terminate} s + up to ${lateness.toFixed(2)} s detection lag (FPM checks every timeout/3) + margin ${margin(terminate).toFixed(1)} s, so FPM's kill reaches nginx before nginx gives up`,
      processControlTimeoutSeconds: `equal to request_terminate_timeout (${terminate} s), so a reload lets every in-flight request finish instead of killing it (0, the default, kills them)`,
    },
  };
}
