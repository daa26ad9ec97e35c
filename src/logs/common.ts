import { z } from 'zod';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { lines as splitLines } from '../kernel/internal.js';
import type { LineSource } from './lines.js';

/**
 * A wall-clock time as a log wrote it, without a zone: FPM and nginx error logs print local time
 * and never say which zone. `microsecond` is 0 when the log has whole seconds only.
 */
export const localTimeSchema = z.object({
  year: z.number().int(),
  /** 1 to 12. */
  month: z.number().int().min(1).max(12),
  day: z.number().int().min(1).max(31),
  hour: z.number().int().min(0).max(23),
  minute: z.number().int().min(0).max(59),
  second: z.number().int().min(0).max(60),
  microsecond: z.number().int().min(0).max(999_999),
});
/** A timestamp as written in a log, without a time zone: its fields as local wall-clock time. */
export type LocalTime = z.infer<typeof localTimeSchema>;

/** Schema of a line that does not fit a log's format (only without `strict`). */
export const unknownLogLineSchema = z.object({
  kind: z.literal('unknown'),
  /** 1-based line number in the input. */
  line: z.number().int(),
  raw: z.string(),
});

/** Options every log parser takes. */
export interface LogParseOptions {
  /**
   * Throw `FpmkitParseError` on the first line that is not in the log's format instead of
   * returning it as an `unknown` record.
   * @default false
   */
  strict?: boolean | undefined;
  /**
   * Offset of the log's local time from UTC, in minutes east of Greenwich (CET is 60, New York in
   * winter is -300), used to compute each record's `date` from its zone-less `time`. Logs do not
   * say their zone, so pass the zone of the server that wrote them.
   * @default 0 (the log is read as UTC)
   */
  utcOffsetMinutes?: number | undefined;
  /**
   * Name of the input for error messages, e.g. the file name.
   * @default the parser's source name, e.g. `'php-fpm error log'`
   */
  source?: string | undefined;
  /**
   * Line number of the first line, for inputs that are a window of a larger file.
   * @default 1
   */
  firstLine?: number | undefined;
}

/** Largest UTC offset in use on Earth is +14:00; anything past a day is certainly a mistake. */
export const MAX_UTC_OFFSET_MINUTES = 24 * 60;

/** The options after defaults, validated once per parse. */
export interface ResolvedLogOptions {
  strict: boolean;
  offsetMs: number;
  source: string;
  firstLine: number;
}

export function resolveLogOptions(
  options: LogParseOptions | undefined,
  defaultSource: string,
): ResolvedLogOptions {
  const offset = options?.utcOffsetMinutes ?? 0;
  if (!Number.isInteger(offset) || Math.abs(offset) > MAX_UTC_OFFSET_MINUTES) {
    throw new FpmkitInvalidOptionError(
      'utcOffsetMinutes',
      `must be an integer number of minutes between -${MAX_UTC_OFFSET_MINUTES} and ${MAX_UTC_OFFSET_MINUTES}`,
    );
  }
  const firstLine = options?.firstLine ?? 1;
  if (!Number.isSafeInteger(firstLine) || firstLine < 0) {
    throw new FpmkitInvalidOptionError('firstLine', 'must be a non-negative integer');
  }
  return {
    strict: options?.strict ?? false,
    offsetMs: offset * 60_000,
    source: options?.source ?? defaultSource,
    firstLine,
  };
}

export function unrecognisedLine(
  what: string,
  opts: ResolvedLogOptions,
  line: number,
  text: string,
): FpmkitParseError {
  return new FpmkitParseError(`not a line of ${what}`, {
    source: opts.source,
    line,
    lineText: text,
  });
}

const MONTHS: Record<string, number> = {
  Jan: 1,
  Feb: 2,
  Mar: 3,
  Apr: 4,
  May: 5,
  Jun: 6,
  Jul: 7,
  Aug: 8,
  Sep: 9,
  Oct: 10,
  Nov: 11,
  Dec: 12,
};

/** `Nov` → 11; undefined for anything else. */
export function monthNumber(name: string): number | undefined {
  return MONTHS[name];
}

const CLF_TIME = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/**
 * The instant of an access log's `21/Nov/2026:08:47:16 +0000` (nginx's `$time_local`, FPM's
 * `%t`: the common log format's time, which carries its zone); undefined when malformed.
 */
export function parseClfTime(v: string): Date | undefined {
  const m = CLF_TIME.exec(v);
  if (!m) return undefined;
  const month = monthNumber(m[2] ?? '');
  if (month === undefined) return undefined;
  const offsetMin = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  const ms = Date.UTC(
    Number(m[3]),
    month - 1,
    Number(m[1]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  const d = new Date(ms - offsetMin * 60_000);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Builds a LocalTime from already-matched digits, or undefined when a field is out of range
 * (a regex accepts `99-Nov-2026 25:61:00`; the calendar does not).
 */
export function makeLocalTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  microsecond: number,
): LocalTime | undefined {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  return { year, month, day, hour, minute, second, microsecond };
}

/** The instant a LocalTime names in a zone `offsetMs` east of UTC. */
export function localTimeToDate(time: LocalTime, offsetMs: number): Date {
  const ms = Date.UTC(
    time.year,
    time.month - 1,
    time.day,
    time.hour,
    time.minute,
    time.second,
    Math.floor(time.microsecond / 1000),
  );
  return new Date(ms - offsetMs);
}

/** Microseconds from a fraction written after the decimal point (`555886`, `5`, `1234567`). */
export function fractionToMicros(fraction: string | undefined): number {
  if (!fraction) return 0;
  return Number.parseInt(`${fraction}000000`.slice(0, 6), 10);
}

/** Rejects a non-string input (JavaScript callers, a Buffer passed by mistake) with a parse error. */
export function requireText(text: unknown, opts: ResolvedLogOptions): asserts text is string {
  if (typeof text !== 'string') {
    throw new FpmkitParseError(
      `expected the log as a string, got ${text === null ? 'null' : typeof text}`,
      {
        source: opts.source,
      },
    );
  }
}

/** Rejects a line of a stream that is not a string, naming its line number. */
export function requireLine(
  line: unknown,
  n: number,
  opts: ResolvedLogOptions,
): asserts line is string {
  if (typeof line !== 'string') {
    throw new FpmkitParseError(
      `expected each line as a string, got ${line === null ? 'null' : typeof line}`,
      {
        source: opts.source,
        line: n,
      },
    );
  }
}

/** Splits a whole text into lines (LF or CRLF); a final newline does not make an empty line. */
export { splitLines };

/** Reads every non-empty line of a whole text into a record, numbering lines from `firstLine`. */
export function recordsOf<R>(
  text: unknown,
  opts: ResolvedLogOptions,
  record: (line: string, n: number) => R,
): R[] {
  requireText(text, opts);
  const lines = splitLines(text);
  const out: R[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l !== '') out.push(record(l, opts.firstLine + i));
  }
  return out;
}

/** {@link recordsOf} over a stream of lines: one record per non-empty line, in constant memory. */
export async function* streamRecordsOf<R>(
  lines: LineSource,
  opts: ResolvedLogOptions,
  record: (line: string, n: number) => R,
): AsyncGenerator<R, void, undefined> {
  let n = opts.firstLine - 1;
  for await (const l of lines) {
    n++;
    requireLine(l, n, opts);
    if (l !== '') yield record(l, n);
  }
}

/** Sets a logged field by name; a field named `__proto__` stays a field, not the prototype. */
export function setLogField(fields: Record<string, string>, name: string, value: string): void {
  if (name === '__proto__') {
    Object.defineProperty(fields, name, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    fields[name] = value;
  }
}

/** A line's entry, or what a line nobody recognised becomes: `unknown`, or an error in strict mode. */
export function entryOrUnknown<E>(
  entry: E | undefined,
  what: string,
  opts: ResolvedLogOptions,
  line: number,
  raw: string,
): E | { kind: 'unknown'; line: number; raw: string } {
  if (entry) return entry;
  if (opts.strict) throw unrecognisedLine(what, opts, line, raw);
  return { kind: 'unknown', line, raw };
}

/** Fills an access-log entry: every matched value in `fields` by name, then its typed setter. */
export function fillAccessEntry<E extends { fields: Record<string, string> }>(
  entry: E,
  names: readonly string[],
  values: readonly (string | undefined)[],
  setters: readonly (((entry: E, value: string) => void) | undefined)[],
): E {
  for (let i = 0; i < names.length; i++) {
    const value = values[i] ?? '';
    setLogField(entry.fields, names[i]!, value);
    setters[i]?.(entry, value);
  }
  return entry;
}

/** A compiled access-log format: reads one line into an entry, or undefined when it does not fit. */
export interface AccessLineParser<E> {
  parseLine(text: string, line?: number): E | undefined;
}

/** The options of an access log parser: the common ones and the `format` it was written with. */
export interface AccessLogOptions extends LogParseOptions {
  format?: string | undefined;
}

/** How one kind of access log is read: its source name, what a bad line is not, its compiler. */
export interface AccessLogKind<E> {
  source: string;
  what: string;
  defaultFormat: string;
  compile(format: string): AccessLineParser<E>;
}

/** A line nobody recognised. */
export type UnknownLogLine = z.infer<typeof unknownLogLineSchema>;

function accessReader<E>(
  kind: AccessLogKind<E>,
  options: AccessLogOptions | undefined,
): { opts: ResolvedLogOptions; record: (line: string, n: number) => E | UnknownLogLine } {
  const opts = resolveLogOptions(options, kind.source);
  const parser = kind.compile(options?.format ?? kind.defaultFormat);
  return {
    opts,
    record: (line, n) => entryOrUnknown(parser.parseLine(line, n), kind.what, opts, n, line),
  };
}

/** Reads a whole access log, its format compiled once. */
export function readAccessLog<E>(
  kind: AccessLogKind<E>,
  text: string,
  options: AccessLogOptions | undefined,
): (E | UnknownLogLine)[] {
  const { opts, record } = accessReader(kind, options);
  return recordsOf(text, opts, record);
}

/** {@link readAccessLog} over a stream of lines. */
export async function* streamAccessLog<E>(
  kind: AccessLogKind<E>,
  lines: LineSource,
  options: AccessLogOptions | undefined,
): AsyncGenerator<E | UnknownLogLine, void, undefined> {
  const { opts, record } = accessReader(kind, options);
  yield* streamRecordsOf(lines, opts, record);
}
