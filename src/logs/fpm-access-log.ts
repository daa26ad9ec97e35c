import { z } from 'zod';
import { FPM_DEFAULT_ACCESS_FORMAT } from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import {
  type AccessLogKind,
  fillAccessEntry,
  type LogParseOptions,
  parseClfTime,
  readAccessLog,
  streamAccessLog,
  unknownLogLineSchema,
} from './common.js';
import { compileFieldMatcher, type FieldSpec } from './field-matcher.js';
import type { LineSource } from './lines.js';

export { FPM_DEFAULT_ACCESS_FORMAT };

/** Schema of {@link FpmAccessEntry}. */
export const fpmAccessEntrySchema = z.object({
  kind: z.literal('entry'),
  /** 1-based line number in the input. */
  line: z.number().int(),
  raw: z.string(),
  /** Every `%` token of the format by its text (`%R`, `%{mili}d`, `%{HTTP_HOST}e`), as logged. */
  fields: z.record(z.string(), z.string()),
  /** `%R`. */
  remoteAddr: z.string().optional(),
  /** `%u`. */
  remoteUser: z.string().optional(),
  /** `%t`/`%T` in FPM's default `%d/%b/%Y:%H:%M:%S %z` layout (other layouts stay in fields). */
  time: z.date().optional(),
  /** `%m`. */
  method: z.string().optional(),
  /** `%r`: the request URI, without the query. */
  uri: z.string().optional(),
  /** `%q`: the query string. */
  query: z.string().optional(),
  /** `%s`: the HTTP status FPM sent. */
  status: z.number().int().optional(),
  /** `%f`: SCRIPT_FILENAME. */
  script: z.string().optional(),
  /** `%d` in any unit, converted to seconds. */
  durationSeconds: z.number().optional(),
  /** `%M` in any unit, converted to bytes: the peak memory of the request. */
  memoryBytes: z.number().optional(),
  /** `%C`: CPU used by the request, in percent of one CPU. */
  cpuPercent: z.number().optional(),
  /** `%l`: CONTENT_LENGTH. */
  contentLength: z.number().int().optional(),
  /** `%n`. */
  pool: z.string().optional(),
  /** `%p`: the worker's pid. */
  pid: z.number().int().optional(),
});
/** One parsed line of an FPM access log. */
export type FpmAccessEntry = z.infer<typeof fpmAccessEntrySchema>;

/** Schema of a line that does not fit the access log format (only without `strict`). */
export const fpmAccessUnknownSchema = unknownLogLineSchema;

/** Schema of {@link FpmAccessRecord}. */
export const fpmAccessRecordSchema = z.discriminatedUnion('kind', [
  fpmAccessEntrySchema,
  fpmAccessUnknownSchema,
]);
/** A line of an FPM access log: a parsed entry, or an unknown line (only without `strict`). */
export type FpmAccessRecord = z.infer<typeof fpmAccessRecordSchema>;

/** Options of {@link parseFpmAccessLog} and {@link streamFpmAccessLog}. */
export interface FpmAccessLogOptions extends LogParseOptions {
  /**
   * The pool's `access.format`, with or without its surrounding double quotes and with `\"`
   * as written in the pool file.
   * @default FPM_DEFAULT_ACCESS_FORMAT (`%R - %u %t "%m %r" %s`)
   */
  format?: string | undefined;
}

/** A parser compiled from one `access.format`. */
export interface FpmAccessLogParser {
  /** The tokens of the format, e.g. `['%R', '%u', '%t', '%{mili}d']`. */
  readonly tokens: readonly string[];
  /**
   * Reads one line; `undefined` when it does not fit the format. `line` (1-based, default 1)
   * is the line number recorded in the entry.
   */
  parseLine(text: string, line?: number): FpmAccessEntry | undefined;
}

/** Longest format accepted, in characters. */
export const MAX_ACCESS_FORMAT_LENGTH = 4096;

type Setter = (e: FpmAccessEntry, v: string) => void;

const NUMBER = /^\d+(?:\.\d+)?$/;
/** `%t` in FPM's default layout, with or without the brackets a format puts around it. */
function parseTime(v: string): Date | undefined {
  return parseClfTime(v.trim().replace(/^\[(.*)\]$/, '$1'));
}

const DURATION_SCALE: Record<string, number> = {
  '': 1,
  seconds: 1,
  milli: 1e-3,
  milliseconds: 1e-3,
  mili: 1e-3,
  miliseconds: 1e-3,
  micro: 1e-6,
  microseconds: 1e-6,
};
const MEMORY_SCALE: Record<string, number> = {
  '': 1,
  bytes: 1,
  kilo: 1024,
  kilobytes: 1024,
  mega: 1024 * 1024,
  megabytes: 1024 * 1024,
};

const text =
  (key: 'remoteAddr' | 'remoteUser' | 'method' | 'uri' | 'query' | 'script' | 'pool'): Setter =>
  (e, v) => {
    if (v !== '-' && v !== '') e[key] = v;
  };
const integer =
  (key: 'status' | 'contentLength' | 'pid'): Setter =>
  (e, v) => {
    if (/^\d+$/.test(v)) e[key] = Number.parseInt(v, 10);
  };

/** Tokens logged as text and as whole numbers, by their letter. */
const TEXT_TOKENS: Record<string, Parameters<typeof text>[0]> = {
  R: 'remoteAddr',
  u: 'remoteUser',
  m: 'method',
  r: 'uri',
  q: 'query',
  f: 'script',
  n: 'pool',
};
const INTEGER_TOKENS: Record<string, Parameters<typeof integer>[0]> = {
  s: 'status',
  l: 'contentLength',
  p: 'pid',
};

function setterFor(letter: string, arg: string): Setter | undefined {
  const textKey = Object.hasOwn(TEXT_TOKENS, letter) ? TEXT_TOKENS[letter] : undefined;
  if (textKey) return text(textKey);
  const integerKey = Object.hasOwn(INTEGER_TOKENS, letter) ? INTEGER_TOKENS[letter] : undefined;
  if (integerKey) return integer(integerKey);
  switch (letter) {
    case 't':
    case 'T':
      if (arg !== '') return undefined;
      return (e, v) => {
        const d = parseTime(v);
        if (d) e.time = d;
      };
    case 'd': {
      const scale = DURATION_SCALE[arg];
      if (scale === undefined) return undefined;
      return (e, v) => {
        if (NUMBER.test(v)) e.durationSeconds = Number(v) * scale;
      };
    }
    case 'M': {
      const scale = MEMORY_SCALE[arg];
      if (scale === undefined) return undefined;
      return (e, v) => {
        if (NUMBER.test(v)) e.memoryBytes = Math.round(Number(v) * scale);
      };
    }
    case 'C':
      if (arg !== '' && arg !== 'total') return undefined;
      return (e, v) => {
        const n = v.endsWith('%') ? v.slice(0, -1) : v;
        if (NUMBER.test(n)) e.cpuPercent = Number(n);
      };
    default:
      return undefined;
  }
}

/**
 * Compiles a pool's `access.format` into a line parser once. Throws `FpmkitInvalidOptionError`
 * for a format without a `%` token or with an unknown one. A line is split field by field in time
 * linear in its length (see `field-matcher.ts`); numeric tokens hold no space.
 */
export function compileFpmAccessFormat(format: string): FpmAccessLogParser {
  if (typeof format !== 'string' || format.length > MAX_ACCESS_FORMAT_LENGTH) {
    throw new FpmkitInvalidOptionError(
      'format',
      `must be an access.format string of at most ${MAX_ACCESS_FORMAT_LENGTH} characters`,
    );
  }
  let f = format.trim();
  if (f.length >= 2 && f.startsWith('"') && f.endsWith('"')) f = f.slice(1, -1);
  f = f.replace(/\\"/g, '"');
  const literals: string[] = [''];
  const tokens: string[] = [];
  const setters: (Setter | undefined)[] = [];
  for (let i = 0; i < f.length; i++) {
    const ch = f[i]!;
    if (ch !== '%') {
      literals[literals.length - 1] += ch;
      continue;
    }
    let arg = '';
    let j = i + 1;
    if (f[j] === '{') {
      const close = f.indexOf('}', j);
      if (close === -1) throw new FpmkitInvalidOptionError('format', `unclosed '{' at ${j}`);
      arg = f.slice(j + 1, close);
      j = close + 1;
    }
    const letter = f[j];
    if (letter === '%' && arg === '') {
      literals[literals.length - 1] += '%';
      i = j;
      continue;
    }
    if (letter === undefined || !/^[CdefilmMnopPqQrRstTu]$/.test(letter)) {
      throw new FpmkitInvalidOptionError(
        'format',
        `unknown token '%${arg ? `{${arg}}` : ''}${letter ?? ''}'`,
      );
    }
    tokens.push(f.slice(i, j + 1));
    setters.push(setterFor(letter, arg));
    literals.push('');
    i = j;
  }
  if (tokens.length === 0) {
    throw new FpmkitInvalidOptionError('format', 'must contain at least one % token');
  }
  const specs: FieldSpec[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const after = literals[i + 1] ?? '';
    const letter = tokens[i]!.slice(-1);
    if (letter === 'Q') {
      // `%Q` is `?` when there is a query, nothing otherwise.
      specs.push({ chars: 'questionMark', prefer: 'longest', maxLength: 1, after });
    } else if (letter === 'r' && after === '' && tokens[i + 1] === '%Q') {
      // `%r%Q%q` (the manual's way to log the query) has no separator: the URI ends at `?`.
      specs.push({ chars: 'uriPath', prefer: 'longest', after });
    } else if (/^[sSpPldMC]$/.test(letter)) {
      specs.push({ chars: 'noSpace', prefer: 'shortest', after });
    } else {
      specs.push({ chars: 'any', prefer: 'shortest', after });
    }
  }
  const matcher = compileFieldMatcher({ prefix: literals[0] ?? '', fields: specs });
  return {
    tokens,
    parseLine(line: string, lineNumber = 1): FpmAccessEntry | undefined {
      const values = matcher.match(line);
      if (!values) return undefined;
      const entry: FpmAccessEntry = { kind: 'entry', line: lineNumber, raw: line, fields: {} };
      return fillAccessEntry(entry, tokens, values, setters);
    },
  };
}

const FPM_ACCESS_LOG: AccessLogKind<FpmAccessEntry> = {
  source: 'php-fpm access log',
  what: 'this php-fpm access log format',
  defaultFormat: FPM_DEFAULT_ACCESS_FORMAT,
  compile: compileFpmAccessFormat,
};

/**
 * Parses a PHP-FPM pool access log (`access.log`, written by `sapi/fpm/fpm/fpm_log.c` with the
 * pool's `access.format`, https://www.php.net/manual/en/install.fpm.configuration.php):
 *
 * ```
 * - -  21/Nov/2026:08:47:16 +0000 "GET /busy/hello.php" 200
 * - -  21/Nov/2026:08:47:16 +0000 "GET /logs/hello.php" 200 /var/www/app/hello.php 0.434 2048 0.00%
 * ```
 *
 * Known tokens are typed (`%s` status, `%d` duration in seconds whatever its unit, `%M` memory in
 * bytes, `%C` CPU percent, `%t` time), and every token is in `fields` as logged. Lines that do not
 * fit come back as `unknown`, or throw `FpmkitParseError` with `strict: true`.
 */
export function parseFpmAccessLog(text: string, options?: FpmAccessLogOptions): FpmAccessRecord[] {
  return readAccessLog(FPM_ACCESS_LOG, text, options);
}

/** {@link parseFpmAccessLog} over a stream of lines; the format is compiled once. */
export async function* streamFpmAccessLog(
  lines: LineSource,
  options?: FpmAccessLogOptions,
): AsyncGenerator<FpmAccessRecord, void, undefined> {
  yield* streamAccessLog(FPM_ACCESS_LOG, lines, options);
}
