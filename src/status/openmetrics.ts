import { mapStatus, parseError } from './fields.js';
import type { FpmStatus } from './model.js';
import { mapContext, type ParseFormatOptions } from './options.js';

/** Metric name → the JSON key spelling the mapper uses. */
const METRICS: Record<string, string> = {
  phpfpm_start_since: 'start since',
  phpfpm_accepted_connections: 'accepted conn',
  phpfpm_listen_queue: 'listen queue',
  phpfpm_max_listen_queue: 'max listen queue',
  phpfpm_listen_queue_length: 'listen queue len',
  phpfpm_idle_processes: 'idle processes',
  phpfpm_active_processes: 'active processes',
  phpfpm_total_processes: 'total processes',
  phpfpm_max_active_processes: 'max active processes',
  phpfpm_max_children_reached: 'max children reached',
  phpfpm_slow_requests: 'slow requests',
  phpfpm_memory_peak: 'memory peak',
};
/** The only place the page names the pool and its process manager. */
const UP_HELP = /^# HELP phpfpm_up Could pool (.*) using a (\S+) PM on PHP-FPM be reached\?$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})? (\S+)(?: \S+)?$/;

/**
 * Parses FPM's OpenMetrics page (`GET /status?openmetrics`; `fpm_status.c`, FPM 8.1+):
 *
 * ```
 * # HELP phpfpm_up Could pool www using a dynamic PM on PHP-FPM be reached?
 * phpfpm_up 1
 * phpfpm_accepted_connections 12
 * ```
 *
 * The page has no process list (`full` adds nothing) and no start time: `startTime` is derived
 * from `phpfpm_start_since` and flagged with `startTimeDerived`. Pool and process manager come
 * from the `phpfpm_up` help text. Counters lack the `_total` suffix, so strict OpenMetrics
 * parsers reject this page; this parser accepts it as FPM writes it.
 */
export function parseStatusOpenMetrics(body: string, options: ParseFormatOptions = {}): FpmStatus {
  const ctx = mapContext('openmetrics', 'openmetrics', options);
  const rec: Record<string, string> = {};
  let up = false;
  for (const rawLine of body.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('#')) {
      const help = UP_HELP.exec(line);
      if (help) {
        rec.pool = help[1]!;
        rec['process manager'] = help[2]!;
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw parseError(ctx, `unexpected line ${JSON.stringify(line.slice(0, 80))}`);
    if (m[1] === 'phpfpm_up') {
      up = true;
      continue;
    }
    const key = METRICS[m[1]!];
    if (key !== undefined && !(key in rec)) rec[key] = m[2]!;
  }
  if (!up) throw parseError(ctx, 'not an FPM OpenMetrics page: no phpfpm_up sample');
  if (rec.pool === undefined) {
    throw parseError(ctx, 'the phpfpm_up HELP line naming the pool and process manager is missing');
  }
  return mapStatus(rec, undefined, ctx, true);
}
