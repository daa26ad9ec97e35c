import { z } from 'zod';
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

/** nginx's built-in `combined` format (https://nginx.org/en/docs/http/ngx_http_log_module.html). */
export const NGINX_COMBINED_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/**
 * Values of an `$upstream_*` variable: one inner list per upstream group tried (nginx writes
 * ` : ` between groups, e.g. after an internal redirect) holding one value per server tried in
 * that group (`, ` between them). `null` is nginx's `-`: no value for that try, e.g. no connect
 * time when connect() failed.
 */
const upstreamList = <T extends z.ZodType>(item: T) => z.array(z.array(item.nullable()));

/** Schema of {@link NginxAccessEntry}. */
export const nginxAccessEntrySchema = z.object({
  kind: z.literal('entry'),
  /** 1-based line number in the input. */
  line: z.number().int(),
  raw: z.string(),
  /** Every variable of the format by name (without `$`), as logged, `-` included. */
  fields: z.record(z.string(), z.string()),
  remoteAddr: z.string().optional(),
  remoteUser: z.string().optional(),
  /** From `$time_local`, `$time_iso8601` or `$msec` (these carry their zone). */
  time: z.date().optional(),
  /** The request line, `\xHH` escapes decoded. */
  request: z.string().optional(),
  /** Method, URI and protocol of `$request` (or `$request_method` / `$request_uri`). */
  method: z.string().optional(),
  uri: z.string().optional(),
  protocol: z.string().optional(),
  status: z.number().int().optional(),
  bodyBytesSent: z.number().int().optional(),
  bytesSent: z.number().int().optional(),
  requestLengthBytes: z.number().int().optional(),
  requestTimeSeconds: z.number().optional(),
  upstreamConnectTimeSeconds: upstreamList(z.number()).optional(),
  upstreamHeaderTimeSeconds: upstreamList(z.number()).optional(),
  upstreamResponseTimeSeconds: upstreamList(z.number()).optional(),
  upstreamStatus: upstreamList(z.number().int()).optional(),
  upstreamAddr: upstreamList(z.string()).optional(),
  httpReferer: z.string().optional(),
  httpUserAgent: z.string().optional(),
  connection: z.number().int().optional(),
  connectionRequests: z.number().int().optional(),
});
/** One parsed line of an nginx access log. */
export type NginxAccessEntry = z.infer<typeof nginxAccessEntrySchema>;

/** Schema of {@link NginxAccessUnknown}. */
export const nginxAccessUnknownSchema = unknownLogLineSchema;
/** An nginx access log line that does not fit the format (only without `strict`). */
export type NginxAccessUnknown = z.infer<typeof nginxAccessUnknownSchema>;

/** Schema of {@link NginxAccessRecord}. */
export const nginxAccessRecordSchema = z.discriminatedUnion('kind', [
  nginxAccessEntrySchema,
  nginxAccessUnknownSchema,
]);
/** A line of an nginx access log: a parsed entry, or an unknown line (only without `strict`). */
export type NginxAccessRecord = z.infer<typeof nginxAccessRecordSchema>;

/**
 * Values of an `$upstream_*` variable: one list per upstream group (split at `:`), one value per
 * server tried (split at `,`); `null` for `-`.
 */
export type UpstreamValues<T> = Array<Array<T | null>>;

/** Options of {@link parseNginxAccessLog} and {@link streamNginxAccessLog}. */
export interface NginxAccessLogOptions extends LogParseOptions {
  /**
   * The `log_format` the log was written with: the format string itself
   * (`'$remote_addr - ... $request_time'`), the quoted pieces as written in nginx.conf
   * (`'$remote_addr ' '$status'`), a whole `log_format name '...';` directive, or `'combined'`.
   * @default 'combined'
   */
  format?: string | undefined;
}

/** A parser compiled from one `log_format`; reuse it for many lines. */
export interface NginxAccessLogParser {
  /** Variable names of the format, in order, without `$`. */
  readonly variables: readonly string[];
  /** Parses one line; undefined when the line does not fit the format. */
  parseLine(text: string, line?: number): NginxAccessEntry | undefined;
}

/** Longest format accepted, in characters; real ones are a few hundred. */
export const MAX_LOG_FORMAT_LENGTH = 16 * 1024;

/**
 * @deprecated No longer a limit: lines of any length are matched in linear time, strictly and
 * then leniently. It bounded an earlier backtracking pattern and stays exported for existing
 * imports.
 */
export const MAX_LENIENT_LINE_LENGTH = 4096;

type Setter = (e: NginxAccessEntry, v: string) => void;

const intOrAbsent = (v: string): number | undefined =>
  /^\d+$/.test(v) ? Number.parseInt(v, 10) : undefined;
const numOrAbsent = (v: string): number | undefined =>
  /^\d+(?:\.\d+)?$/.test(v) ? Number(v) : undefined;

/** Splits `0.001, 0.002 : 0.003` into `[[0.001, 0.002], [0.003]]`. */
export function parseUpstreamList<T>(
  value: string,
  item: (text: string) => T | undefined,
): UpstreamValues<T> {
  return value.split(' : ').map((group) =>
    group.split(', ').map((v) => {
      const t = v.trim();
      return t === '-' || t === '' ? null : (item(t) ?? null);
    }),
  );
}

/** Decodes nginx's `\xHH` escapes (bytes of a UTF-8 string) in a logged value. */
export function decodeNginxEscapes(value: string): string {
  if (!value.includes('\\x')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; ) {
    if (
      value.charCodeAt(i) === 92 &&
      value[i + 1] === 'x' &&
      /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 2, i + 4))
    ) {
      bytes.push(Number.parseInt(value.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      const cp = value.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      i += ch.length;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function setRequest(e: NginxAccessEntry, v: string): void {
  if (v === '-' || v === '') return;
  const request = decodeNginxEscapes(v);
  e.request = request;
  const first = request.indexOf(' ');
  if (first === -1) return;
  e.method = request.slice(0, first);
  const last = request.lastIndexOf(' ');
  if (last > first && request.startsWith('HTTP/', last + 1)) {
    e.uri = request.slice(first + 1, last);
    e.protocol = request.slice(last + 1);
  } else {
    e.uri = request.slice(first + 1);
  }
}

const str =
  (key: 'remoteAddr' | 'remoteUser' | 'httpReferer' | 'httpUserAgent' | 'method' | 'uri'): Setter =>
  (e, v) => {
    if (v !== '-') e[key] = decodeNginxEscapes(v);
  };
const int =
  (
    key:
      | 'status'
      | 'bodyBytesSent'
      | 'bytesSent'
      | 'requestLengthBytes'
      | 'connection'
      | 'connectionRequests',
  ): Setter =>
  (e, v) => {
    const n = intOrAbsent(v);
    if (n !== undefined) e[key] = n;
  };
const times =
  (
    key: 'upstreamConnectTimeSeconds' | 'upstreamHeaderTimeSeconds' | 'upstreamResponseTimeSeconds',
  ): Setter =>
  (e, v) => {
    if (v !== '-') e[key] = parseUpstreamList(v, numOrAbsent);
  };

/** How known variables land in typed fields. Others stay in `fields` only. */
const SETTERS = new Map<string, Setter>([
  ['remote_addr', str('remoteAddr')],
  ['remote_user', str('remoteUser')],
  [
    'time_local',
    (e, v) => {
      const d = parseClfTime(v);
      if (d) e.time = d;
    },
  ],
  [
    'time_iso8601',
    (e, v) => {
      const d = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})$/.test(v)
        ? new Date(v)
        : undefined;
      if (d && !Number.isNaN(d.getTime())) e.time = d;
    },
  ],
  [
    'msec',
    (e, v) => {
      const n = numOrAbsent(v);
      if (n !== undefined) e.time = new Date(Math.round(n * 1000));
    },
  ],
  ['request', setRequest],
  ['request_method', str('method')],
  ['request_uri', str('uri')],
  ['status', int('status')],
  ['body_bytes_sent', int('bodyBytesSent')],
  ['bytes_sent', int('bytesSent')],
  ['request_length', int('requestLengthBytes')],
  ['connection', int('connection')],
  ['connection_requests', int('connectionRequests')],
  [
    'request_time',
    (e, v) => {
      const n = numOrAbsent(v);
      if (n !== undefined) e.requestTimeSeconds = n;
    },
  ],
  ['upstream_connect_time', times('upstreamConnectTimeSeconds')],
  ['upstream_header_time', times('upstreamHeaderTimeSeconds')],
  ['upstream_response_time', times('upstreamResponseTimeSeconds')],
  [
    'upstream_status',
    (e, v) => {
      if (v !== '-') e.upstreamStatus = parseUpstreamList(v, intOrAbsent);
    },
  ],
  [
    'upstream_addr',
    (e, v) => {
      if (v !== '-') e.upstreamAddr = parseUpstreamList(v, (t) => t);
    },
  ],
  ['http_referer', str('httpReferer')],
  ['http_user_agent', str('httpUserAgent')],
]);

/** Turns what a user pasted (`log_format x '...' '...';`, quoted pieces, or bare) into the format. */
function normalizeFormat(input: string): string {
  let s = input.trim();
  if (s === 'combined') return NGINX_COMBINED_FORMAT;
  const directive = /^log_format\s+\S+\s+(?:escape=\S+\s+)?([\s\S]*?);?$/.exec(s);
  if (directive) s = (directive[1] ?? '').trim();
  if (s.startsWith("'") || s.startsWith('"')) {
    const pieces = s.match(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g) ?? [];
    const rest = s.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '').trim();
    if (pieces.length > 0 && rest === '') {
      s = pieces.map((p) => p.slice(1, -1).replace(/\\(.)/g, '$1')).join('');
    }
  }
  return s;
}

/**
 * Compiles an nginx `log_format` into a line parser once. Throws `FpmkitInvalidOptionError` for a
 * format with no variable.
 *
 * A line is split field by field in time linear in its length (see `field-matcher.ts`): first
 * strictly, where a value between two double quotes holds no quote (nginx writes `\x22`) and a
 * value directly followed by another variable holds no space; then, when that does not fit, with
 * any character in any value, for `escape=none` logs whose quoted values may contain `"`.
 */
export function compileNginxLogFormat(format: string): NginxAccessLogParser {
  if (typeof format !== 'string' || format.length > MAX_LOG_FORMAT_LENGTH) {
    throw new FpmkitInvalidOptionError(
      'format',
      `must be a log_format string of at most ${MAX_LOG_FORMAT_LENGTH} characters`,
    );
  }
  const text = normalizeFormat(format);
  const literals: string[] = [];
  const variables: string[] = [];
  const token = /\$(?:\{(\w+)\}|(\w+))/g;
  let last = 0;
  for (let m = token.exec(text); m !== null; m = token.exec(text)) {
    literals.push(text.slice(last, m.index));
    variables.push(m[1] ?? m[2] ?? '');
    last = m.index + m[0].length;
  }
  literals.push(text.slice(last));
  if (variables.length === 0) {
    throw new FpmkitInvalidOptionError('format', 'must contain at least one $variable');
  }
  const strictFields: FieldSpec[] = [];
  const lenientFields: FieldSpec[] = [];
  for (let i = 0; i < variables.length; i++) {
    const before = literals[i] ?? '';
    const after = literals[i + 1] ?? '';
    const isLast = i === variables.length - 1;
    const quoted = before.endsWith('"') && after.startsWith('"');
    // The last value runs to the end of the line (or to the format's closing literal).
    const chars =
      isLast && after === '' ? 'any' : quoted ? 'noQuote' : after === '' ? 'noSpace' : 'any';
    strictFields.push({ chars, prefer: chars === 'noQuote' ? 'longest' : 'shortest', after });
    lenientFields.push({ chars: 'any', prefer: 'shortest', after });
  }
  const prefix = literals[0] ?? '';
  const strictMatcher = compileFieldMatcher({ prefix, fields: strictFields });
  const lenientMatcher = strictFields.every((f) => f.chars === 'any')
    ? undefined
    : compileFieldMatcher({ prefix, fields: lenientFields });
  const setters = variables.map((v) => SETTERS.get(v));
  return {
    variables,
    parseLine(line: string, lineNumber = 1): NginxAccessEntry | undefined {
      const values = strictMatcher.match(line) ?? lenientMatcher?.match(line);
      if (!values) return undefined;
      const entry: NginxAccessEntry = { kind: 'entry', line: lineNumber, raw: line, fields: {} };
      return fillAccessEntry(entry, variables, values, setters);
    },
  };
}

const NGINX_ACCESS_LOG: AccessLogKind<NginxAccessEntry> = {
  source: 'nginx access log',
  what: 'this nginx access log format',
  defaultFormat: 'combined',
  compile: compileNginxLogFormat,
};

/**
 * Parses an nginx access log (`access_log`, e.g. `/var/log/nginx/access.log`) written with the
 * given `log_format` (https://nginx.org/en/docs/http/ngx_http_log_module.html#log_format):
 *
 * ```
 * 127.0.0.1 - - [21/Nov/2026:08:47:16 +0000] "GET /index.php HTTP/1.1" 200 31 "-" "curl/7.88.1"
 * 127.0.0.1 - - [21/Nov/2026:08:47:20 +0000] "GET /x.php HTTP/1.1" 502 157 "-" "curl/7.88.1" rt=0.002 urt="0.001, 0.002 : 0.003"
 * ```
 *
 * Known variables are typed (`status`, `requestTimeSeconds`, upstream lists, `time`), `-` is
 * absent, and every variable is also in `fields` as logged. Lines that do not fit come back as
 * `unknown`, or throw `FpmkitParseError` with `strict: true`.
 */
export function parseNginxAccessLog(
  text: string,
  options?: NginxAccessLogOptions,
): NginxAccessRecord[] {
  return readAccessLog(NGINX_ACCESS_LOG, text, options);
}

/** {@link parseNginxAccessLog} over a stream of lines; the format is compiled once. */
export async function* streamNginxAccessLog(
  lines: LineSource,
  options?: NginxAccessLogOptions,
): AsyncGenerator<NginxAccessRecord, void, undefined> {
  yield* streamAccessLog(NGINX_ACCESS_LOG, lines, options);
}
