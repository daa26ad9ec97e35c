/**
 * Reads an Apache httpd configuration, the main file and every file `Include` and
 * `IncludeOptional` read, into a tree in the shape of fpmkit's nginx payload (crossplane's):
 * `{ status, errors, config: [{ file, status, errors, parsed }] }`, each statement
 * `{ directive, line, args, block?, includes? }`.
 *
 * Lines are read as httpd's `ap_cfg_getline()` and `ap_build_config()` read them
 * (server/util.c, server/config.c):
 *
 * - a `\` right before the end of a line joins the next line (comments too); the line number
 *   of a statement is that of its last physical line, as httpd reports it;
 * - leading and trailing white space is dropped; a line starting with `#` is a comment (a `#`
 *   later on the line is an ordinary argument);
 * - `${NAME}` is replaced on the whole line by a `Define`d value or an environment variable
 *   before the words are split (an undefined name stays as written);
 * - words split as `ap_getword_conf()` does: `"..."` or `'...'` quote (only `\\` and `\` + the
 *   quote are escapes), anything else ends at white space;
 * - `<Name args>` opens a section and `</Name>` closes it (names compared without case).
 *
 * Like httpd, the reader evaluates what httpd evaluates while reading: `Define`/`UnDefine`,
 * `ServerRoot`, `LoadModule`, `<IfModule>`, `<IfDefine>` (a false section is skipped unread,
 * its includes not followed) and `Include`/`IncludeOptional` (relative to ServerRoot;
 * wildcards per path component, `.` names matched only by a written `.`; a directory reads
 * every file below it; matches in byte order; a wildcard that matches nothing is an error
 * for `Include`). It does not know which directives exist or where they are allowed.
 *
 * Sample input:
 *
 * ```
 * <FilesMatch \.php$>
 *     SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
 * </FilesMatch>
 * ```
 */
import { posix } from 'node:path';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { hasGlobMagic, matchGlobComponent, sortByBytes } from './nginx-config-glob.js';

/** One statement; sections carry `block`, includes carry the indexes of the files read. */
export interface ApacheDirective {
  /** The name as written (`SetHandler`); sections keep their `<` (`<VirtualHost`). */
  directive: string;
  /** 1-based line of the statement's last physical line, as httpd numbers it. */
  line: number;
  /** The words after the name; a section's closing `>` removed. */
  args: string[];
  /** The statements of a section. */
  block?: ApacheDirective[];
  /** A conditional section httpd skipped (`<IfModule>`, `<IfDefine>` that is false). */
  skipped?: boolean;
  /** For `Include`/`IncludeOptional`: indexes into `config` of the files read here. */
  includes?: number[];
  /** The file the statement comes from; set by `combineApacheConfig`. */
  file?: string;
}

/** One file as read at one `Include` (a file included twice appears twice). */
export interface ApacheConfigFile {
  /** The path as httpd opens it. */
  file: string;
  /** `'failed'` when an error was recorded (`catchErrors`). */
  status: 'ok' | 'failed';
  /** The errors recorded for this file. */
  errors: { error: string; line: number | null }[];
  /** Its statements, in file order. */
  parsed: ApacheDirective[];
}

/** What `parseApacheConfig` returns. */
export interface ApacheConfigPayload {
  /** `'failed'` when any file recorded an error (`catchErrors`). */
  status: 'ok' | 'failed';
  /** Every recorded error with its file. */
  errors: { file: string; error: string; line: number | null }[];
  /** The files in the order httpd reads them (`-D DUMP_INCLUDES`), one entry per Include. */
  config: ApacheConfigFile[];
  /** `Define`s in force at the end of reading (from `defines` and `Define`). */
  defines: Record<string, string>;
  /** Modules loaded: the static ones and every `LoadModule`, by identifier (`proxy_module`). */
  modules: string[];
  /** ServerRoot at the end of reading. */
  serverRoot: string;
}

/** A directory entry for `readDir`. */
export interface ApacheDirEntry {
  /** The entry's name, without its directory. */
  name: string;
  /** Whether it is a directory (after following a symbolic link). */
  isDirectory: boolean;
}

/** Options of `parseApacheConfig`. */
export interface ParseApacheConfigOptions {
  /** Reads a file as text or bytes; throws when it cannot (its `code` `ENOENT` means absent). */
  readFile?: ((path: string) => string | Uint8Array) | undefined;
  /** Lists a directory; undefined when `path` is not a directory (or does not exist). */
  readDir?: ((path: string) => readonly ApacheDirEntry[] | undefined) | undefined;
  /** httpd's ServerRoot (`-d`), for relative `Include` paths. @default '/etc/apache2' (Debian) */
  serverRoot?: string | undefined;
  /** Names given with `-D` (Debian's apache2ctl passes none by default). @default {} */
  defines?: Record<string, string> | undefined;
  /** Environment for `${NAME}` (Debian's /etc/apache2/envvars exports APACHE_RUN_USER ...). */
  env?: Record<string, string> | undefined;
  /** Modules compiled in (`apache2 -l`), by identifier. @default APACHE_DEBIAN_STATIC_MODULES */
  staticModules?: readonly string[] | undefined;
  /** Record errors in the payload instead of throwing. @default false */
  catchErrors?: boolean | undefined;
}

/** Where `parseApacheConfig` reads from: a path (through `readFile`) or text. */
export type ApacheConfigSource = { path: string } | { text: string; path?: string };

/** Debian 12's compiled-in modules (`apache2 -l`: core.c, mod_so.c, ... mod_unixd.c). */
export const APACHE_DEBIAN_STATIC_MODULES = [
  'core_module',
  'so_module',
  'watchdog_module',
  'http_module',
  'log_config_module',
  'logio_module',
  'version_module',
  'unixd_module',
] as const;

/** httpd's include nesting limit (`AP_MAX_INCLUDE_DEPTH`, 128). */
export const APACHE_MAX_INCLUDE_DEPTH = 128;
/** Most files one parse reads. */
export const APACHE_MAX_CONFIG_FILES = 10_000;

const decoder = new TextDecoder('utf-8');
const toText = (d: string | Uint8Array) => (typeof d === 'string' ? d : decoder.decode(d));

/** Splits the rest of a line into words as `ap_getword_conf()` does. */
export function splitApacheWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
  for (;;) {
    while (isSpace(line[i])) i++;
    if (i >= line.length) return words;
    const quote = line[i];
    let word = '';
    if (quote === '"' || quote === "'") {
      i++;
      while (i < line.length && line[i] !== quote) {
        if (line[i] === '\\' && (line[i + 1] === quote || line[i + 1] === '\\')) {
          word += line[i + 1];
          i += 2;
        } else word += line[i++];
      }
      if (line[i] === quote) i++;
    } else {
      while (i < line.length && !isSpace(line[i])) {
        if (line[i] === '\\' && line[i + 1] === '\\') {
          word += '\\';
          i += 2;
        } else word += line[i++];
      }
    }
    words.push(word);
  }
}

/** The logical lines of a file: continuations joined, trimmed, with the last line number. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const physical = text.split('\n');
  let buffer = '';
  for (let n = 0; n < physical.length; n++) {
    let l = physical[n]!;
    const last = n === physical.length - 1;
    if (!last || l !== '') {
      const body = l.endsWith('\r') && !last ? l.slice(0, -1) : l;
      if (!last && body.endsWith('\\')) {
        buffer += body.slice(0, -1);
        continue;
      }
      l = buffer + (last ? l : body);
      buffer = '';
      out.push({ text: l.trim(), line: n + 1 });
    } else if (buffer !== '') {
      out.push({ text: buffer.trim(), line: n });
      buffer = '';
    }
  }
  return out;
}

/** `${NAME}` replaced by a define or an environment variable (`ap_resolve_env`). */
function resolveVariables(
  line: string,
  defines: Map<string, string>,
  env: Record<string, string>,
): string {
  return line.replace(
    /\$\{([^}]+)\}/g,
    (all, name: string) => defines.get(name) ?? env[name] ?? all,
  );
}

/** Module identifiers a `<IfModule>` argument may name: `proxy_module` or `mod_proxy.c`. */
function moduleKey(name: string): string {
  const m = /^mod_(.+)\.c$/.exec(name);
  return m
    ? `${m[1]}_module`
    : name === 'http_core.c'
      ? 'http_module'
      : name === 'core.c'
        ? 'core_module'
        : name;
}

interface State {
  defines: Map<string, string>;
  modules: Set<string>;
  serverRoot: string;
  depth: number;
}

class Reader {
  readonly payload: ApacheConfigPayload;
  private readonly state: State;
  constructor(
    private readonly options: ParseApacheConfigOptions,
    serverRoot: string,
  ) {
    this.state = {
      defines: new Map(Object.entries(options.defines ?? {})),
      modules: new Set(options.staticModules ?? APACHE_DEBIAN_STATIC_MODULES),
      serverRoot,
      depth: 0,
    };
    this.payload = { status: 'ok', errors: [], config: [], defines: {}, modules: [], serverRoot };
  }

  finish(): ApacheConfigPayload {
    this.payload.defines = Object.fromEntries(this.state.defines);
    this.payload.modules = [...this.state.modules];
    this.payload.serverRoot = this.state.serverRoot;
    return this.payload;
  }

  private fail(
    file: string,
    line: number | undefined,
    reason: string,
    lineText?: string,
  ): FpmkitParseError {
    return new FpmkitParseError(reason, { source: file, line, lineText });
  }

  /** Reads one file into a new `config` entry; returns its index. */
  readFile(file: string, text: string): number {
    const index = this.payload.config.length;
    if (index >= APACHE_MAX_CONFIG_FILES) {
      throw this.fail(
        file,
        undefined,
        `more than ${APACHE_MAX_CONFIG_FILES} configuration files are read`,
      );
    }
    const entry: ApacheConfigFile = { file, status: 'ok', errors: [], parsed: [] };
    this.payload.config.push(entry);
    try {
      entry.parsed = this.parseLines(file, logicalLines(text));
    } catch (error) {
      if (!(error instanceof FpmkitParseError) || this.options.catchErrors !== true) throw error;
      entry.status = 'failed';
      entry.errors.push({ error: error.reason, line: error.line ?? null });
      this.payload.status = 'failed';
      this.payload.errors.push({ file, error: error.reason, line: error.line ?? null });
    }
    return index;
  }

  private parseLines(
    file: string,
    lines: readonly { text: string; line: number }[],
  ): ApacheDirective[] {
    const root: ApacheDirective[] = [];
    const stack: { stmt?: ApacheDirective; into: ApacheDirective[] }[] = [{ into: root }];
    for (let i = 0; i < lines.length; i++) {
      const { text: raw, line } = lines[i]!;
      if (raw === '' || raw.startsWith('#')) continue;
      const text = resolveVariables(raw, this.state.defines, this.options.env ?? {});
      const words = splitApacheWords(text);
      let name = words[0] ?? '';
      if (name === '') continue;
      const top = stack[stack.length - 1]!;
      if (name.startsWith('</')) {
        const closing = name.endsWith('>') ? name.slice(2, -1) : name.slice(2);
        if (!top.stmt) {
          throw this.fail(file, line, `${name} without matching <${closing}> section`, raw);
        }
        const open = top.stmt.directive.slice(1);
        if (closing.toLowerCase() !== open.toLowerCase()) {
          throw this.fail(file, line, `Expected </${open}> but saw </${closing}>`, raw);
        }
        stack.pop();
        continue;
      }
      let args: string[];
      if (name.startsWith('<')) {
        // The words after the name, up to the last `>` of the line (section handlers).
        const rest = text.slice(text.indexOf(name) + name.length);
        let argText: string;
        if (name.endsWith('>') && rest.trim() === '') {
          name = name.slice(0, -1);
          argText = '';
        } else {
          const close = rest.lastIndexOf('>');
          if (close === -1)
            throw this.fail(file, line, `${name}> directive missing closing '>'`, raw);
          argText = rest.slice(0, close);
        }
        args = splitApacheWords(argText);
        const stmt: ApacheDirective = { directive: name, line, args, block: [] };
        top.into.push(stmt);
        const lower = name.toLowerCase();
        if ((lower === '<ifmodule' || lower === '<ifdefine') && !this.condition(lower, args)) {
          stmt.skipped = true;
          i = this.soak(file, lines, i, name);
          continue;
        }
        if (stack.length > 200)
          throw this.fail(file, line, 'sections nested deeper than 200 levels', raw);
        stack.push({ stmt, into: stmt.block! });
        continue;
      }
      args = words.slice(1);
      const stmt: ApacheDirective = { directive: name, line, args };
      top.into.push(stmt);
      this.execOnRead(file, stmt, raw);
    }
    if (stack.length > 1) {
      const open = stack[stack.length - 1]!.stmt!;
      throw this.fail(file, open.line, `${open.directive}> was not closed.`);
    }
    return root;
  }

  /** Skips a false conditional section as `ap_soak_end_container` does; returns the index of its end. */
  private soak(
    file: string,
    lines: readonly { text: string; line: number }[],
    from: number,
    name: string,
  ): number {
    const stack = [name];
    for (let i = from + 1; i < lines.length; i++) {
      const first = splitApacheWords(lines[i]!.text)[0] ?? '';
      if (!first.startsWith('<')) continue;
      if (first.startsWith('</')) {
        const closing = first.endsWith('>') ? first.slice(2, -1) : first.slice(2);
        const open = stack[stack.length - 1]!.slice(1);
        if (closing.toLowerCase() !== open.toLowerCase()) {
          throw this.fail(
            file,
            lines[i]!.line,
            `Expected </${open}> but saw </${closing}>`,
            lines[i]!.text,
          );
        }
        stack.pop();
        if (stack.length === 0) return i;
      } else stack.push(first.endsWith('>') ? first.slice(0, -1) : first);
    }
    throw this.fail(
      file,
      lines[lines.length - 1]?.line ?? 1,
      `Expected </${stack[stack.length - 1]!.slice(1)}> before end of configuration`,
    );
  }

  private condition(kind: string, args: readonly string[]): boolean {
    const arg = args[0] ?? '';
    const negate = arg.startsWith('!');
    const name = negate ? arg.slice(1) : arg;
    const holds =
      kind === '<ifmodule' ? this.state.modules.has(moduleKey(name)) : this.state.defines.has(name);
    return holds !== negate;
  }

  /** What httpd does while reading: Define, ServerRoot, LoadModule, Include. */
  private execOnRead(file: string, stmt: ApacheDirective, raw: string): void {
    const name = stmt.directive.toLowerCase();
    const [a, b] = stmt.args;
    if (name === 'define' && a !== undefined) this.state.defines.set(a, b ?? '');
    else if (name === 'undefine' && a !== undefined) this.state.defines.delete(a);
    else if (name === 'serverroot' && a !== undefined) this.state.serverRoot = a;
    else if (name === 'loadmodule' && a !== undefined) this.state.modules.add(a);
    else if (name === 'include' || name === 'includeoptional') {
      if (stmt.args.length !== 1)
        throw this.fail(
          file,
          stmt.line,
          `${stmt.directive} takes one argument, Name of the config file to be included`,
          raw,
        );
      this.include(file, stmt, name === 'includeoptional', raw);
    }
  }

  private readDir(path: string): readonly ApacheDirEntry[] | undefined {
    const readDir = this.options.readDir;
    if (!readDir)
      throw new FpmkitInvalidOptionError(
        'readDir',
        'is needed for an Include of a directory or a wildcard',
      );
    return readDir(path);
  }

  private include(file: string, stmt: ApacheDirective, optional: boolean, raw: string): void {
    const readFile = this.options.readFile;
    if (!readFile) return;
    const arg = stmt.args[0]!;
    const pattern = posix.isAbsolute(arg) ? arg : posix.join(this.state.serverRoot, arg);
    stmt.includes = [];
    if (++this.state.depth > APACHE_MAX_INCLUDE_DEPTH) {
      throw this.fail(
        file,
        stmt.line,
        `Exceeded the maximum include directory nesting level of ${APACHE_MAX_INCLUDE_DEPTH}. You have probably a recursion somewhere.`,
        raw,
      );
    }
    try {
      for (const path of this.expand(pattern, optional, file, stmt, raw)) {
        let text: string;
        try {
          text = toText(readFile(path));
        } catch (error) {
          const e = error as { code?: unknown; errno?: unknown } | null;
          if (optional && (e?.errno === 'ENOENT' || e?.code === 'ENOENT')) continue;
          throw this.fail(
            file,
            stmt.line,
            `Could not open configuration file ${path}: ${error instanceof Error ? error.message : String(error)}`,
            raw,
          );
        }
        stmt.includes.push(this.readFile(path, text));
      }
    } finally {
      this.state.depth--;
    }
  }

  /** The files an Include pattern reads, in httpd's order (`ap_dir_fnmatch`, `ap_dir_nofnmatch`). */
  private expand(
    pattern: string,
    optional: boolean,
    file: string,
    stmt: ApacheDirective,
    raw: string,
  ): string[] {
    const out: string[] = [];
    const walkAll = (path: string, depth: number) => {
      const entries = this.options.readDir ? this.readDir(path) : undefined;
      if (entries === undefined) {
        out.push(path);
        return;
      }
      if (depth > APACHE_MAX_INCLUDE_DEPTH)
        throw this.fail(
          file,
          stmt.line,
          `Directory '${path}' exceeds the maximum include directory nesting level`,
          raw,
        );
      for (const name of sortByBytes(entries.map((e) => e.name)))
        walkAll(posix.join(path, name), depth + 1);
    };
    if (!hasGlobMagic(pattern)) {
      walkAll(pattern, 0);
      return out;
    }
    const parts = pattern.split('/').filter((p) => p !== '');
    const walk = (base: string, index: number) => {
      const part = parts[index]!;
      const last = index === parts.length - 1;
      if (!hasGlobMagic(part)) {
        const next = posix.join(base, part);
        if (last) walkAll(next, 0);
        else walk(next, index + 1);
        return;
      }
      const entries = this.readDir(base);
      if (entries === undefined) {
        if (optional) return;
        throw this.fail(
          file,
          stmt.line,
          `Include/IncludeOptional: Could not open directory ${base}: No such file or directory`,
          raw,
        );
      }
      const matched = entries.filter(
        (e) =>
          e.name !== '.' &&
          e.name !== '..' &&
          matchGlobComponent(part, e.name) &&
          (last || e.isDirectory),
      );
      if (matched.length === 0 && !optional) {
        throw this.fail(
          file,
          stmt.line,
          `Include/IncludeOptional: No matches for the wildcard '${part}' in '${base}', failing`,
          raw,
        );
      }
      for (const name of sortByBytes(matched.map((e) => e.name))) {
        if (last) walkAll(posix.join(base, name), 0);
        else walk(posix.join(base, name), index + 1);
      }
    };
    walk('/', 0);
    return out;
  }
}

/**
 * Parses an Apache configuration and what it includes, evaluating what httpd evaluates while
 * reading (see the module comment). Give `{ path }` to read through `readFile`, or
 * `{ text, path? }`. Syntax errors and unreadable includes throw `FpmkitParseError` with the
 * file and line httpd names (or are recorded with `catchErrors`).
 */
export function parseApacheConfig(
  source: ApacheConfigSource,
  options: ParseApacheConfigOptions = {},
): ApacheConfigPayload {
  if (source === null || typeof source !== 'object') {
    throw new FpmkitInvalidOptionError('source', 'must be { path } or { text, path? }');
  }
  const path = 'text' in source ? (source.path ?? 'httpd.conf') : source.path;
  if (typeof path !== 'string' || path === '') {
    throw new FpmkitInvalidOptionError('source.path', 'must be a non-empty string');
  }
  let text: string;
  if ('text' in source) {
    if (typeof source.text !== 'string')
      throw new FpmkitInvalidOptionError('source.text', 'must be a string');
    text = source.text;
  } else {
    if (!options.readFile)
      throw new FpmkitInvalidOptionError('readFile', 'is needed to read a configuration by path');
    text = toText(options.readFile(path));
  }
  const reader = new Reader(options, options.serverRoot ?? '/etc/apache2');
  reader.readFile(path, text);
  return reader.finish();
}

/**
 * Joins the files into one tree: each `Include` replaced by the statements it read, each
 * statement with its `file`; skipped conditional sections are dropped and the others opened
 * (httpd applies their content in place).
 */
export function combineApacheConfig(payload: ApacheConfigPayload): ApacheDirective[] {
  const expand = (index: number): ApacheDirective[] => {
    const file = payload.config[index];
    if (!file) throw new FpmkitInvalidOptionError('includes', `index ${index} is not in config`);
    const walk = (stmts: readonly ApacheDirective[]): ApacheDirective[] => {
      const out: ApacheDirective[] = [];
      for (const s of stmts) {
        if (s.includes) {
          for (const i of s.includes) out.push(...expand(i));
          continue;
        }
        const lower = s.directive.toLowerCase();
        if (lower === '<ifmodule' || lower === '<ifdefine') {
          if (!s.skipped) out.push(...walk(s.block ?? []));
          continue;
        }
        const copy: ApacheDirective = {
          directive: s.directive,
          line: s.line,
          args: [...s.args],
          file: file.file,
        };
        if (s.block) copy.block = walk(s.block);
        out.push(copy);
      }
      return out;
    };
    return walk(file.parsed);
  };
  return payload.config.length === 0 ? [] : expand(0);
}
