/**
 * Shell wildcards as glibc's `glob(3)` and `fnmatch(3)` read them, for `include` patterns that
 * are resolved against a list of names instead of a file system (the files of an `nginx -T`
 * dump, an in-memory tree). nginx calls `glob(pattern, 0, ...)` and Apache `apr_fnmatch(...,
 * APR_FNM_PERIOD)`: `*`, `?` and `[...]` never match `/`, a leading `.` of a name must be
 * written, `\` quotes the next character, and the matches are sorted by bytes (the C locale).
 *
 * References: glob(3) and fnmatch(3) (glibc), nginx `src/os/unix/ngx_files.c`
 * (`ngx_open_glob`), httpd `server/config.c` (`ap_process_fnmatch_configs`).
 */

/** True when `pattern` holds a wildcard nginx treats as a glob (`*`, `?` or `[`). */
export function hasGlobMagic(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Sorts names as `glob(3)` in the C locale and `strcmp` do: by their UTF-8 bytes. */
export function sortByBytes(names: readonly string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * Matches one bracket expression at `pattern[start]` (which is `[`) against `ch`. Returns the
 * index after `]` and whether it matched, or undefined when the bracket is not closed (then
 * `[` is an ordinary character).
 */
function matchBracket(
  pattern: readonly string[],
  start: number,
  ch: string,
): { next: number; matched: boolean } | undefined {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  let matched = false;
  let first = true;
  while (i < pattern.length) {
    let c = pattern[i]!;
    if (c === ']' && !first) return { next: i + 1, matched: matched !== negate };
    first = false;
    if (c === '\\' && i + 1 < pattern.length) c = pattern[++i]!;
    let hi = c;
    if (pattern[i + 1] === '-' && pattern[i + 2] !== undefined && pattern[i + 2] !== ']') {
      i += 2;
      if (pattern[i] === '\\' && i + 1 < pattern.length) i++;
      hi = pattern[i]!;
    }
    const code = ch.codePointAt(0)!;
    if (c.codePointAt(0)! <= code && code <= hi.codePointAt(0)!) matched = true;
    i++;
  }
  return undefined;
}

/** `fnmatch(3)` of one path component, with a leading `.` matched only by a written `.`. */
export function matchGlobComponent(patternText: string, name: string): boolean {
  if (name.startsWith('.') && !(patternText.startsWith('.') || patternText.startsWith('\\.'))) {
    return false;
  }
  const pattern = Array.from(patternText);
  const chars = Array.from(name);
  // Iterative matcher with one backtrack point: the last `*` seen.
  let p = 0;
  let n = 0;
  let starP = -1;
  let starN = 0;
  while (n < chars.length) {
    const c = pattern[p];
    let advanced = false;
    if (c === '*') {
      starP = ++p;
      starN = n;
      continue;
    }
    if (c === '?') {
      advanced = true;
      p++;
    } else if (c === '[') {
      const r = matchBracket(pattern, p, chars[n]!);
      if (r === undefined) {
        advanced = chars[n] === '[';
        p++;
      } else if (r.matched) {
        advanced = true;
        p = r.next;
      }
    } else if (c !== undefined) {
      const escaped = c === '\\' && p + 1 < pattern.length;
      if ((escaped ? pattern[p + 1] : c) === chars[n]) {
        advanced = true;
        p += escaped ? 2 : 1;
      }
    }
    if (advanced) n++;
    else {
      if (starP === -1) return false;
      p = starP;
      n = ++starN;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** True when the path `name` matches the glob `pattern`, component by component. */
export function matchGlob(pattern: string, name: string): boolean {
  const ps = pattern.split('/');
  const ns = name.split('/');
  if (ps.length !== ns.length) return false;
  return ps.every((p, i) =>
    hasGlobMagic(p) ? matchGlobComponent(p, ns[i]!) : p.replace(/\\(.)/gsu, '$1') === ns[i],
  );
}

/** The names in `names` that `pattern` matches, sorted as `glob(3)` returns them. */
export function globNames(pattern: string, names: Iterable<string>): string[] {
  const out: string[] = [];
  for (const name of names) if (matchGlob(pattern, name)) out.push(name);
  return sortByBytes(out);
}
