import { type MapContext, mapStatus, NeedsExactDigits, parseError } from './fields.js';
import type { FpmStatus } from './model.js';
import { mapContext, type ParseFormatOptions } from './options.js';

/**
 * Where FPM's unescaped string fields end: at the exact text FPM writes before the next key.
 * Searching for it (rather than for the first quote) lets a `"` or `\` inside a user name or
 * script path stay part of it. Older FPM (before 8.2.7) also wrote the query string raw.
 */
const END_MARKERS: Record<string, readonly string[]> = {
  pool: ['","process manager":'],
  'request method': ['","request uri":'],
  'request uri': ['","content length":'],
  user: ['","script":'],
  // Pages of early FPM built without listen-queue support have no CPU field after the script.
  script: ['","last request cpu":', '","last request memory":'],
};
/**
 * How far to look for an end marker: FPM's scoreboard holds at most 255 bytes of script, 31 of
 * user or pool, and 639 of request URI and query, which JSON escaping can grow sixfold. The
 * bound keeps hostile input from making every string scan the rest of the page.
 */
const MARKER_WINDOW_CHARS = 4096;
/** Fields FPM writes without escaping (`fpm_status.c`): taken verbatim on the lenient path. */
const RAW_FIELDS = new Set(['pool', 'user', 'script', 'process manager', 'state']);
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SUSPICIOUS = /["\\\u0000-\u001f]/;
/** Deepest nesting the lenient scanner follows; FPM's page nests two levels. */
const MAX_DEPTH = 8;
/**
 * Bytes of page per object or array, at least: FPM writes one object per process, and its keys
 * alone take over 190 bytes (`{"pid":1,"state":"Idle",...}`), plus the page and its process
 * list. A page with more containers than `2 + length / 64` is not FPM's.
 */
const MIN_BYTES_PER_CONTAINER = 64;

type Json = string | boolean | null | Json[] | { [key: string]: Json };

/**
 * Parses FPM's JSON status page (`GET /status?json`, `?json&full`; `fpm_status.c`):
 *
 * ```
 * {"pool":"www","process manager":"dynamic","start time":1795250421,"start since":4,
 *  "accepted conn":7, ... "slow requests":0, "processes":[{"pid":18424,"state":"Running",...}]}
 * ```
 *
 * FPM does not escape `pool`, `user` and `script` (and, before 8.2.7, the query string), so a
 * `"` or `\` there makes the page invalid JSON, and a backslash can silently change the string
 * `JSON.parse` returns. The fast path is `JSON.parse`; when it fails, when one of those fields
 * holds a character only an escape could have produced, or when a number is past 2^53, the page
 * is re-read by a lenient scanner that keeps those fields verbatim and numbers as exact digits.
 */
export function parseStatusJson(body: string, options: ParseFormatOptions = {}): FpmStatus {
  const ctx = mapContext('json', 'json', options);
  // JSON.parse of 16 MiB of '[' peaks at gigabytes before any check could run: pages shaped
  // unlike FPM's go to the lenient scanner, which gives up at the first level too deep.
  if (!shapedLikeStatus(body)) return fromLenient(body, ctx);
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return fromLenient(body, ctx);
  }
  const pool = asObject(data, ctx, 'the page');
  const processes = processList(pool.processes, ctx);
  if (needsRawStrings(pool, processes)) return fromLenient(body, ctx);
  try {
    return mapStatus(pool, processes, ctx);
  } catch (error) {
    if (error instanceof NeedsExactDigits) return fromLenient(body, ctx);
    throw error;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * A scan of the brackets outside strings, by JSON's own string rules (which `JSON.parse`
 * follows too): false when they nest deeper than `MAX_DEPTH` allows or are more than FPM's page
 * can hold. FPM's raw quotes can mislead the scan; the lenient scanner then decides.
 */
function shapedLikeStatus(body: string): boolean {
  const maxContainers = 2 + Math.floor(body.length / MIN_BYTES_PER_CONTAINER);
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c === QUOTE) {
      for (i++; i < body.length; i++) {
        const d = body.charCodeAt(i);
        if (d === BACKSLASH) i++;
        else if (d === QUOTE) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      containers++;
      if (depth > MAX_DEPTH + 1 || containers > maxContainers) return false;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return true;
}

function fromLenient(body: string, ctx: MapContext): FpmStatus {
  const data = new LenientScanner(body, ctx).document();
  const pool = asObject(data, ctx, 'the page');
  return mapStatus(pool, processList(pool.processes, ctx), ctx);
}

function asObject(value: unknown, ctx: MapContext, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw parseError(ctx, `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function processList(value: unknown, ctx: MapContext): Record<string, unknown>[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw parseError(ctx, "'processes' is not an array");
  for (const item of value) asObject(item, ctx, 'a process entry');
  return value as Record<string, unknown>[];
}

function needsRawStrings(
  pool: Record<string, unknown>,
  processes: Record<string, unknown>[] | undefined,
): boolean {
  if (typeof pool.pool === 'string' && SUSPICIOUS.test(pool.pool)) return true;
  if (processes === undefined) return false;
  for (const p of processes) {
    if (typeof p.user === 'string' && SUSPICIOUS.test(p.user)) return true;
    if (typeof p.script === 'string' && SUSPICIOUS.test(p.script)) return true;
  }
  return false;
}

/**
 * A forgiving reader for FPM's JSON: strings end where the next known key begins rather than at
 * the first unescaped quote, and numbers stay digit strings so nothing is rounded.
 */
class LenientScanner {
  private pos = 0;
  private containers = 0;

  constructor(
    private readonly text: string,
    private readonly ctx: MapContext,
  ) {}

  document(): Json {
    const value = this.value(0, undefined);
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the JSON object');
    return value;
  }

  private fail(reason: string): never {
    throw parseError(this.ctx, `${reason} at offset ${this.pos}`);
  }

  private skipSpace(): void {
    const { text } = this;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.pos++;
    }
  }

  private value(depth: number, key: string | undefined): Json {
    if (depth > MAX_DEPTH) this.fail('JSON nested too deeply');
    this.skipSpace();
    const c = this.text[this.pos];
    if (c === '{') return this.object(depth);
    if (c === '[') return this.array(depth);
    if (c === '"') return this.string(key);
    for (const [word, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length;
        return result;
      }
    }
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) this.fail('expected a JSON value');
    this.pos += m[0].length;
    return m[0];
  }

  /** Counts an object or array against the bound on how many FPM's page can hold. */
  private container(): void {
    this.containers++;
    if (this.containers > 2 + this.text.length / MIN_BYTES_PER_CONTAINER) {
      this.fail('more objects and arrays than a status page of this size holds');
    }
  }

  private object(depth: number): Json {
    this.container();
    this.pos++;
    const result: Record<string, Json> = {};
    this.skipSpace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const end = this.text.indexOf('"', this.pos + 1);
      if (end < 0) this.fail('unterminated key');
      const key = this.text.slice(this.pos + 1, end);
      this.pos = end + 1;
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after key '${key}'`);
      this.pos++;
      result[key] = this.value(depth + 1, key);
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === '}') return result;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(depth: number): Json {
    this.container();
    this.pos++;
    const result: Json[] = [];
    this.skipSpace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return result;
    }
    for (;;) {
      result.push(this.value(depth + 1, undefined));
      this.skipSpace();
      const c = this.text[this.pos++];
      if (c === ']') return result;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private string(key: string | undefined): string {
    const start = this.pos + 1;
    const markers = key === undefined ? undefined : END_MARKERS[key];
    let quote = -1;
    if (markers !== undefined) {
      for (const marker of markers) {
        const at = this.text
          .slice(start, start + MARKER_WINDOW_CHARS + marker.length)
          .indexOf(marker);
        if (at >= 0) {
          quote = start + at;
          break;
        }
      }
    }
    if (quote < 0) quote = this.closingQuote(start);
    const content = this.text.slice(start, quote);
    this.pos = quote + 1;
    if (key !== undefined && RAW_FIELDS.has(key)) return content;
    if (!content.includes('\\') && !content.includes('"')) return content;
    try {
      return JSON.parse(`"${content}"`) as string;
    } catch {
      // Older FPM wrote the query string unescaped: keep what it printed.
      return content;
    }
  }

  /** The quote that ends a normally escaped JSON string starting at `from`. */
  private closingQuote(from: number): number {
    const { text } = this;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x5c) i++;
      else if (c === 0x22) return i;
    }
    return this.fail('unterminated string');
  }
}
