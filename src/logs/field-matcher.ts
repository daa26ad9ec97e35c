/**
 * Splits a log line into the values of a format (`prefix v0 after0 v1 after1 ... vN afterN`, the
 * whole line) in time linear in the line's length, without regular expressions.
 *
 * The access-log parsers used to compile a format into one regular expression of lazy groups. On a
 * line that does not fit, such a pattern tries every way of cutting the line before it gives up:
 * roughly the cube of the line's length (a 16 KB line took a minute). This matcher gives the same
 * answer as that pattern did, found in two passes at most:
 *
 * 1. the first path: each value ends at the first (or, for `longest`, last) place where the
 *    literal after it fits; when that reaches the end of the line it is the pattern's answer,
 *    because it is the first thing the pattern would have tried;
 * 2. otherwise, one pass from the end of the line marks, for every field and position, whether
 *    the rest of the line can still fit from there, and a pass from the start then takes the
 *    first possible cut in the pattern's order of preference. Both are O(line length × fields).
 */

/** Which characters a value may hold. `uriPath` is a path before its query: no `?`, `"` or space. */
export type FieldChars = 'any' | 'noQuote' | 'noSpace' | 'uriPath' | 'questionMark';

export interface FieldSpec {
  /** Characters the value may hold; whitespace is what JavaScript's `\s` calls whitespace. */
  readonly chars: FieldChars;
  /**
   * Which cut wins when a line can be cut several ways: the shortest value first (a lazy group)
   * or the longest (a greedy one).
   */
  readonly prefer: 'shortest' | 'longest';
  /** Most characters the value may hold; no limit when absent. */
  readonly maxLength?: number;
  /** Literal text that follows the value (the last field's runs to the end of the line). */
  readonly after: string;
}

export interface LineLayout {
  /** Literal text before the first value. */
  readonly prefix: string;
  readonly fields: readonly FieldSpec[];
}

/** A layout compiled once; `match` returns one value per field, or undefined. */
export interface FieldMatcher {
  match(line: string): string[] | undefined;
}

/** JavaScript's `\s`: WhiteSpace and LineTerminator code units. */
export function isJsWhitespace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return (
    c === 160 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

type CharTest = (c: number) => boolean;

const CHAR_TESTS: Record<FieldChars, CharTest> = {
  any: () => true,
  noQuote: (c) => c !== 34,
  noSpace: (c) => !isJsWhitespace(c),
  uriPath: (c) => c !== 63 && c !== 34 && !isJsWhitespace(c),
  questionMark: (c) => c === 63,
};

interface CompiledField {
  readonly after: string;
  readonly allows: CharTest;
  readonly any: boolean;
  readonly longest: boolean;
  readonly maxLength: number;
  /** Knuth-Morris-Pratt failure table of `after`, to find all its places in linear time. */
  readonly failure: Int32Array;
}

function failureTable(s: string): Int32Array {
  const t = new Int32Array(s.length);
  for (let i = 1, k = 0; i < s.length; i++) {
    while (k > 0 && s.charCodeAt(i) !== s.charCodeAt(k)) k = t[k - 1]!;
    if (s.charCodeAt(i) === s.charCodeAt(k)) k++;
    t[i] = k;
  }
  return t;
}

/** Compiles a layout once; the returned matcher is pure and may be shared. */
export function compileFieldMatcher(layout: LineLayout): FieldMatcher {
  const prefix = layout.prefix;
  const fields: CompiledField[] = layout.fields.map((f) => ({
    after: f.after,
    allows: CHAR_TESTS[f.chars],
    any: f.chars === 'any',
    longest: f.prefer === 'longest',
    maxLength: f.maxLength ?? Number.POSITIVE_INFINITY,
    failure: failureTable(f.after),
  }));
  // With only unlimited lazy `any` values (the last one's length is fixed by the end of the
  // line), taking the first place of each literal leaves every later value the most room, so
  // when the first path fails no other cut can succeed.
  const firstPathDecides = fields.every(
    (f, i) =>
      f.any && f.maxLength === Number.POSITIVE_INFINITY && (!f.longest || i === fields.length - 1),
  );

  /** Where the value starting at `p` may end at the latest: the first disallowed character. */
  function runEnd(line: string, f: CompiledField, p: number, limit: number): number {
    if (f.any) return limit;
    let q = p;
    while (q < limit && f.allows(line.charCodeAt(q))) q++;
    return q;
  }

  function firstPath(line: string): string[] | undefined {
    const n = line.length;
    const values: string[] = [];
    let p = prefix.length;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const limit = Math.min(n, p + f.maxLength);
      let q: number;
      if (i === fields.length - 1) {
        q = n - f.after.length;
        if (q < p || q > limit || !line.startsWith(f.after, q)) return undefined;
        if (runEnd(line, f, p, q) !== q) return undefined;
      } else if (f.longest) {
        q = line.lastIndexOf(f.after, runEnd(line, f, p, limit));
        if (q < p) return undefined;
      } else {
        q = line.indexOf(f.after, p);
        if (q === -1 || q > limit || runEnd(line, f, p, q) !== q) return undefined;
      }
      values.push(line.slice(p, q));
      p = q + f.after.length;
    }
    return values;
  }

  /** Marks `ends[q]` where `f.after` starts at q and the rest of the line can fit after it. */
  function markEnds(line: string, f: CompiledField, restFits: Uint8Array): Uint8Array {
    const n = line.length;
    const a = f.after;
    const m = a.length;
    const ends = new Uint8Array(n + 1);
    if (m === 0) {
      ends.set(restFits);
      return ends;
    }
    for (let i = 0, k = 0; i < n; i++) {
      const c = line.charCodeAt(i);
      while (k > 0 && c !== a.charCodeAt(k)) k = f.failure[k - 1]!;
      if (c === a.charCodeAt(k)) k++;
      if (k === m) {
        const start = i - m + 1;
        if (restFits[i + 1] === 1) ends[start] = 1;
        k = f.failure[k - 1]!;
      }
    }
    return ends;
  }

  function everyCut(line: string): string[] | undefined {
    const n = line.length;
    const ends: Uint8Array[] = new Array(fields.length);
    // restFits[p] = 1 when fields i.. and their literals can fill line[p..n) exactly.
    let restFits = new Uint8Array(n + 1);
    restFits[n] = 1;
    const nextEnd = new Int32Array(n + 1);
    const run = new Int32Array(n + 1);
    for (let i = fields.length - 1; i >= 0; i--) {
      const f = fields[i]!;
      const e = markEnds(line, f, restFits);
      ends[i] = e;
      const fits = new Uint8Array(n + 1);
      nextEnd[n] = e[n] === 1 ? n : n + 1;
      run[n] = n;
      for (let p = n - 1; p >= 0; p--) {
        nextEnd[p] = e[p] === 1 ? p : nextEnd[p + 1]!;
        run[p] = f.allows(line.charCodeAt(p)) ? run[p + 1]! : p;
      }
      for (let p = 0; p <= n; p++) {
        if (nextEnd[p]! <= Math.min(run[p]!, p + f.maxLength)) fits[p] = 1;
      }
      restFits = fits;
    }
    if (restFits[prefix.length] !== 1) return undefined;
    const values: string[] = [];
    let p = prefix.length;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      const e = ends[i]!;
      let q: number;
      if (f.longest) {
        q = runEnd(line, f, p, Math.min(n, p + f.maxLength));
        while (e[q] !== 1) q--;
      } else {
        q = p;
        while (e[q] !== 1) q++;
      }
      values.push(line.slice(p, q));
      p = q + f.after.length;
    }
    return values;
  }

  return {
    match(line: string): string[] | undefined {
      if (!line.startsWith(prefix)) return undefined;
      return firstPath(line) ?? (firstPathDecides ? undefined : everyCut(line));
    },
  };
}
