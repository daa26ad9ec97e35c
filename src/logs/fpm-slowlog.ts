import { z } from 'zod';
import {
  type LogParseOptions,
  localTimeSchema,
  localTimeToDate,
  makeLocalTime,
  monthNumber,
  type ResolvedLogOptions,
  requireLine,
  requireText,
  resolveLogOptions,
  splitLines,
  unrecognisedLine,
} from './common.js';
import type { LineSource } from './lines.js';

/** One PHP stack frame as FPM's tracer read it from the stopped worker. */
export const slowlogFrameSchema = z.object({
  /** Address of the frame's execute_data, e.g. `0x00007f79bde13210`. */
  address: z.string(),
  /** Function name without `()`, e.g. `sleep`, `include`, `__call`. */
  function: z.string(),
  /** Source file; `unknown` for frames of internal functions. */
  file: z.string(),
  /** 1-based line in `file`; 0 when unknown. */
  line: z.number().int(),
});
/** One stack frame of a slowlog entry: function, file and line. */
export type SlowlogFrame = z.infer<typeof slowlogFrameSchema>;

/** One slowlog entry: a header, `script_filename`, then the innermost frame first. */
export const slowlogEntrySchema = z.object({
  kind: z.literal('entry'),
  /** 1-based line number of the header. */
  line: z.number().int(),
  time: localTimeSchema,
  /** `time` read in the zone given by `utcOffsetMinutes`. */
  date: z.date(),
  pool: z.string(),
  /** The traced worker. */
  pid: z.number().int(),
  scriptFilename: z.string().optional(),
  frames: z.array(slowlogFrameSchema),
  /** The trace ended with `+++ dump failed` (the tracer could not read the worker's memory). */
  dumpFailed: z.boolean(),
  /** Address printed before `+++ dump failed`, when there was one. */
  dumpFailedAddress: z.string().optional(),
});
/** One slowlog entry: a header, `script_filename`, then the innermost frame first. */
export type SlowlogEntry = z.infer<typeof slowlogEntrySchema>;

/** A line that fits no part of an entry (only without `strict`). */
export const slowlogUnknownSchema = z.object({
  kind: z.literal('unknown'),
  line: z.number().int(),
  raw: z.string(),
});
/** A slowlog line that fits no part of an entry (only without `strict`). */
export type SlowlogUnknown = z.infer<typeof slowlogUnknownSchema>;

/** Schema of {@link SlowlogRecord}. */
export const slowlogRecordSchema = z.discriminatedUnion('kind', [
  slowlogEntrySchema,
  slowlogUnknownSchema,
]);
/** A slowlog record: an entry, or a line that fits none (only without `strict`). */
export type SlowlogRecord = z.infer<typeof slowlogRecordSchema>;

/** Options of {@link parseFpmSlowlog} and {@link streamFpmSlowlog}. */
export type FpmSlowlogOptions = LogParseOptions;

/**
 * Most frames kept per entry. FPM stops at `request_slowlog_trace_depth` (default 20); a larger
 * setting or a corrupted file should not let one entry grow without bound.
 */
export const MAX_SLOWLOG_FRAMES = 1000;

const HEADER =
  /^\[(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})\] {1,2}\[pool ([^\]]*)\] pid (\d+)$/;
const SCRIPT = /^script_filename = (.*)$/s;
const FRAME = /^\[(0x[0-9a-fA-F]+)\] (.*?)\(\) (.*):(\d+)$/s;
const DUMP_FAILED = /^(?:\[(0x[0-9a-fA-F]+)\] )?\+\+\+ dump failed$/;

const int = (s: string | undefined): number => Number.parseInt(s ?? '', 10);

/** Reads lines into entries, holding only the entry being built. */
class SlowlogReader {
  private current: SlowlogEntry | undefined;

  constructor(private readonly opts: ResolvedLogOptions) {}

  /** Feeds one line; returns the records it completed (usually none). */
  push(text: string, line: number): SlowlogRecord[] {
    if (text === '') return this.flush();
    let m = HEADER.exec(text);
    if (m) {
      const month = monthNumber(m[2] ?? '');
      const time =
        month === undefined
          ? undefined
          : makeLocalTime(int(m[3]), month, int(m[1]), int(m[4]), int(m[5]), int(m[6]), 0);
      if (time) {
        const out = this.flush();
        this.current = {
          kind: 'entry',
          line,
          time,
          date: localTimeToDate(time, this.opts.offsetMs),
          pool: m[7] ?? '',
          pid: int(m[8]),
          frames: [],
          dumpFailed: false,
        };
        return out;
      }
    }
    const entry = this.current;
    if (entry) {
      if (entry.scriptFilename === undefined && entry.frames.length === 0) {
        m = SCRIPT.exec(text);
        if (m) {
          entry.scriptFilename = m[1] ?? '';
          return [];
        }
      }
      m = FRAME.exec(text);
      if (m) {
        if (entry.frames.length < MAX_SLOWLOG_FRAMES) {
          entry.frames.push({
            address: m[1] ?? '',
            function: m[2] ?? '',
            file: m[3] ?? '',
            line: int(m[4]),
          });
        }
        return [];
      }
      m = DUMP_FAILED.exec(text);
      if (m) {
        entry.dumpFailed = true;
        if (m[1] !== undefined) entry.dumpFailedAddress = m[1];
        return [];
      }
    }
    if (this.opts.strict) throw unrecognisedLine('the php-fpm slowlog', this.opts, line, text);
    return [...this.flush(), { kind: 'unknown', line, raw: text }];
  }

  /** Completes the entry being built, if any. */
  flush(): SlowlogRecord[] {
    const entry = this.current;
    this.current = undefined;
    return entry ? [entry] : [];
  }
}

/**
 * Parses PHP-FPM's slowlog (the pool's `slowlog` file, e.g. `/var/log/php8.2-fpm.slow.log`),
 * written by `sapi/fpm/fpm/fpm_php_trace.c` when a request runs past
 * `request_slowlog_timeout` (https://www.php.net/manual/en/install.fpm.configuration.php):
 *
 * ```
 * [21-Nov-2026 08:47:18]  [pool logs] pid 2985
 * script_filename = /var/www/app/slow.php
 * [0x00007f79bde13210] sleep() /var/www/app/slow.php:4
 * ```
 *
 * Returns one `entry` per header with its frames, innermost first. A line that belongs to no
 * entry is returned as `unknown` (it also ends the entry before it), or throws
 * `FpmkitParseError` with `strict: true`.
 */
export function parseFpmSlowlog(text: string, options?: FpmSlowlogOptions): SlowlogRecord[] {
  const opts = resolveLogOptions(options, 'php-fpm slowlog');
  const reader = new SlowlogReader(opts);
  requireText(text, opts);
  const lines = splitLines(text);
  const out: SlowlogRecord[] = [];
  for (let i = 0; i < lines.length; i++) {
    for (const r of reader.push(lines[i]!, opts.firstLine + i)) out.push(r);
  }
  for (const r of reader.flush()) out.push(r);
  return out;
}

/**
 * {@link parseFpmSlowlog} over a stream of lines. Only the entry being read is held in memory;
 * each is yielded when the next one starts, a blank line ends it, or the input ends.
 */
export async function* streamFpmSlowlog(
  lines: LineSource,
  options?: FpmSlowlogOptions,
): AsyncGenerator<SlowlogRecord, void, undefined> {
  const opts = resolveLogOptions(options, 'php-fpm slowlog');
  const reader = new SlowlogReader(opts);
  let n = opts.firstLine - 1;
  for await (const l of lines) {
    n++;
    requireLine(l, n, opts);
    yield* reader.push(l, n);
  }
  yield* reader.flush();
}
