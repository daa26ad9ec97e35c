/**
 * Reads an nginx configuration, the main file and every file it includes, into the JSON shape
 * of nginx's crossplane (https://github.com/nginxinc/crossplane, `crossplane parse`), so tools
 * written for crossplane read fpmkit's payload too:
 *
 * ```
 * { status: 'ok', errors: [], config: [
 *   { file: '/etc/nginx/nginx.conf', status: 'ok', errors: [], parsed: [
 *     { directive: 'events', line: 8, args: [], block: [
 *       { directive: 'worker_connections', line: 9, args: ['768'] } ] },
 *     { directive: 'include', line: 14, args: ['/etc/nginx/conf.d/*.conf'], includes: [1, 2] } ] },
 *   ... ] }
 * ```
 *
 * The words are nginx's own (see nginx-config-lexer.ts). An `include` is resolved as
 * `ngx_conf_include()` does: a relative pattern is taken from the directory of the main file;
 * a pattern with `*`, `?` or `[` is a glob whose matches are read in byte order and may match
 * nothing; any other name must be readable. Each file appears once in `config`, and
 * `includes` holds the indexes of the files an `include` read. Files are read only through the
 * injected `readFile` and `glob`; `parseNginxDump` reads the text that `nginx -T` prints.
 *
 * This checks what nginx's reader checks (syntax, braces, `include`); it does not know which
 * directives exist or where they are allowed.
 */
import { posix } from 'node:path';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { globNames, hasGlobMagic, sortByBytes } from './nginx-config-glob.js';
import { lexNginxConfig, type NginxToken, nginxSyntaxError } from './nginx-config-lexer.js';

/** One statement of a parsed file, as crossplane writes it. */
export interface NginxDirective {
  /** The directive name, or `'#'` for a comment. */
  directive: string;
  /** 1-based line of the directive name in its file. */
  line: number;
  /** The arguments with nginx's escapes applied; `if` loses its parentheses, as in crossplane. */
  args: string[];
  /** For `include`: indexes into `config` of the files it read, in the order nginx reads them. */
  includes?: number[];
  /** The statements between the braces, for a block directive. */
  block?: NginxDirective[];
  /** For a comment (`directive: '#'`): the text after `#`. */
  comment?: string;
  /** The file the statement comes from; set by `combineNginxConfig`. */
  file?: string;
}

/** A problem recorded instead of thrown (`catchErrors: true`). */
export interface NginxConfigError {
  /** The message, with no location prefix. */
  error: string;
  /** 1-based line, when known. */
  line: number | null;
}

/** One file of the configuration. */
export interface NginxConfigFile {
  /** The path as nginx opens it (relative includes joined to the prefix). */
  file: string;
  /** `'failed'` when an error was recorded for this file (`catchErrors`). */
  status: 'ok' | 'failed';
  /** The errors recorded for this file. */
  errors: NginxConfigError[];
  /** Its statements, in file order. */
  parsed: NginxDirective[];
}

/** What `parseNginxConfig` and `parseNginxDump` return: crossplane's payload. */
export interface NginxConfigPayload {
  /** `'failed'` when any file recorded an error (`catchErrors`). */
  status: 'ok' | 'failed';
  /** Every recorded error with its file. */
  errors: (NginxConfigError & { file: string })[];
  /** The main file first, then each included file once, in the order they were met. */
  config: NginxConfigFile[];
}

/** Reads a file; may return a string (UTF-8 text) or the bytes. Throw when it cannot. */
export type NginxReadFile = (path: string) => string | Uint8Array;
/** Expands a glob pattern to the paths that exist (any order; fpmkit sorts them). */
export type NginxGlob = (pattern: string) => readonly string[];

/** Options of `parseNginxConfig`. */
export interface ParseNginxConfigOptions {
  /**
   * Reads the main file (when given by path) and included files. Without it, `include` is
   * recorded but not followed.
   */
  readFile?: NginxReadFile | undefined;
  /** Expands `include` patterns holding `*`, `?` or `[`; needed when such a pattern appears. */
  glob?: NginxGlob | undefined;
  /**
   * The directory relative `include` paths start from (nginx's configuration prefix).
   * @default the directory of the main file, as nginx without `-p` does
   */
  prefix?: string | undefined;
  /** Keep comments as `{ directive: '#', comment }` statements. @default false */
  comments?: boolean | undefined;
  /** Record syntax errors in the payload (status `'failed'`) instead of throwing. @default false */
  catchErrors?: boolean | undefined;
  /** Do not follow `include`. @default false */
  single?: boolean | undefined;
  /** Most files read in one parse. @default NGINX_MAX_CONFIG_FILES (10,000) */
  maxFiles?: number | undefined;
}

/**
 * Where `parseNginxConfig` reads from: a path (read through `readFile`), or text with the path
 * it came from, for errors and relative includes (`'nginx.conf'` when left out).
 */
export type NginxConfigSource = { path: string } | { text: string; path?: string };

/** Most files one parse reads (a guard against include explosions). */
export const NGINX_MAX_CONFIG_FILES = 10_000;
/** Deepest block nesting read; deeper input is refused so nothing recurses without bound. */
export const NGINX_MAX_BLOCK_DEPTH = 200;

const decoder = new TextDecoder('utf-8');
const toText = (data: string | Uint8Array) =>
  typeof data === 'string' ? data : decoder.decode(data);

/** Removes the parentheses of `if (...)`, as crossplane's `_prepare_if_args` does. */
export function prepareIfArgs(args: string[]): void {
  if (args.length === 0) return;
  const first = args[0]!;
  const last = args[args.length - 1]!;
  if (!first.startsWith('(') || !last.endsWith(')')) return;
  args[0] = first.slice(1).trimStart();
  args[args.length - 1] = args[args.length - 1]!.slice(0, -1).trimEnd();
  const start = args[0] === '' ? 1 : 0;
  const end = args.length - (args[args.length - 1] === '' ? 1 : 0);
  args.splice(0, args.length, ...args.slice(start, Math.max(start, end)));
}

/** A file queued for parsing, with where it was first included from (for errors). */
interface Pending {
  file: string;
  text: string;
}

/** How the parse reaches files: a real (injected) file system, or the files of a dump. */
interface FileAccess {
  /** Text of a file, or throws. */
  read(path: string): string;
  /** Paths matching a glob pattern, sorted as nginx reads them. */
  glob(pattern: string): string[];
}

interface EngineOptions {
  prefix: string;
  comments: boolean;
  catchErrors: boolean;
  single: boolean;
  maxFiles: number;
}

/** Parses the statements of one file from its tokens; `include` calls `onInclude`. */
function parseTokens(
  tokens: readonly NginxToken[],
  source: { file: string; text: string },
  options: EngineOptions,
  onInclude: (stmt: NginxDirective) => void,
): NginxDirective[] {
  const root: NginxDirective[] = [];
  const stack: NginxDirective[][] = [root];
  let i = 0;
  while (i < tokens.length) {
    const token = tokens[i]!;
    const current = stack[stack.length - 1]!;
    if (token.kind === 'comment') {
      if (options.comments) {
        current.push({ directive: '#', line: token.line, args: [], comment: token.text });
      }
      i++;
      continue;
    }
    if (token.kind === '}') {
      if (stack.length === 1) throw nginxSyntaxError(source, token.line, 'unexpected "}"');
      stack.pop();
      i++;
      continue;
    }
    // The lexer only lets a word start a statement.
    if (token.kind !== 'word')
      throw nginxSyntaxError(source, token.line, `unexpected "${token.kind}"`);
    const stmt: NginxDirective = { directive: token.value, line: token.line, args: [] };
    const inlineComments: string[] = [];
    i++;
    let end: NginxToken | undefined;
    for (; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === 'word' || t.kind === 'lua') stmt.args.push(t.value);
      else if (t.kind === 'comment') inlineComments.push(t.text);
      else {
        end = t;
        i++;
        break;
      }
    }
    // The lexer refuses a file that ends inside a statement.
    if (end === undefined) {
      throw nginxSyntaxError(source, stmt.line, 'unexpected end of file, expecting ";" or "}"');
    }
    if (stmt.directive === 'if') prepareIfArgs(stmt.args);
    if (stmt.directive === 'include' && end.kind === ';') {
      if (stmt.args.length !== 1) {
        throw nginxSyntaxError(
          source,
          stmt.line,
          'invalid number of arguments in "include" directive',
        );
      }
      if (!options.single) onInclude(stmt);
    } else if (stmt.directive === 'include') {
      throw nginxSyntaxError(source, stmt.line, 'directive "include" is not terminated by ";"');
    }
    current.push(stmt);
    if (options.comments) {
      for (const comment of inlineComments) {
        current.push({ directive: '#', line: stmt.line, args: [], comment });
      }
    }
    if (end.kind === '{') {
      if (stack.length > NGINX_MAX_BLOCK_DEPTH) {
        throw nginxSyntaxError(
          source,
          stmt.line,
          `blocks nested deeper than ${NGINX_MAX_BLOCK_DEPTH} levels`,
        );
      }
      stmt.block = [];
      stack.push(stmt.block);
    } else if (end.kind === '}') {
      throw nginxSyntaxError(source, end.line, 'unexpected "}"');
    }
  }
  if (stack.length > 1) {
    const last = tokens[tokens.length - 1];
    const line = source.text.split('\n').length;
    throw nginxSyntaxError(
      source,
      Math.max(line, last?.line ?? 1),
      'unexpected end of file, expecting "}"',
    );
  }
  return root;
}

/** Turns anything thrown while parsing into an `FpmkitParseError` for `file`. */
function asParseError(error: unknown, file: string, line: number | undefined): FpmkitParseError {
  if (error instanceof FpmkitParseError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new FpmkitParseError(reason, { source: file, line, cause: error });
}

/** The parse shared by files on disk and `nginx -T` dumps. */
function parseFiles(
  first: Pending,
  access: FileAccess,
  options: EngineOptions,
): NginxConfigPayload {
  const payload: NginxConfigPayload = { status: 'ok', errors: [], config: [] };
  const indexOf = new Map<string, number>([[first.file, 0]]);
  const queue: (Pending | { file: string; text?: undefined })[] = [first];
  const record = (entry: NginxConfigFile, error: FpmkitParseError) => {
    const line = error.line ?? null;
    entry.status = 'failed';
    entry.errors.push({ error: error.reason, line });
    payload.status = 'failed';
    payload.errors.push({ file: entry.file, error: error.reason, line });
  };
  // Included files are read when the include is met, so a read error points at its line.
  const texts = new Map<string, string>();
  for (let q = 0; q < queue.length; q++) {
    const pending = queue[q]!;
    const entry: NginxConfigFile = { file: pending.file, status: 'ok', errors: [], parsed: [] };
    payload.config.push(entry);
    const onInclude = (stmt: NginxDirective) => {
      const arg = stmt.args[0]!;
      const pattern = posix.isAbsolute(arg) ? arg : posix.join(options.prefix, arg);
      stmt.includes = [];
      try {
        const files = hasGlobMagic(pattern) ? access.glob(pattern) : [pattern];
        for (const file of files) {
          let index = indexOf.get(file);
          if (index === undefined) {
            if (indexOf.size >= options.maxFiles) {
              throw new FpmkitParseError(
                `more than ${options.maxFiles} configuration files are included`,
                { source: pending.file, line: stmt.line },
              );
            }
            texts.set(file, access.read(file));
            index = indexOf.size;
            indexOf.set(file, index);
            queue.push({ file });
          }
          stmt.includes.push(index);
        }
      } catch (error) {
        if (error instanceof FpmkitInvalidOptionError) throw error;
        const failure =
          error instanceof FpmkitParseError
            ? error
            : new FpmkitParseError(
                `open() "${pattern}" failed: ${error instanceof Error ? error.message : String(error)}`,
                { source: pending.file, line: stmt.line, cause: error },
              );
        if (!options.catchErrors) throw failure;
        record(entry, failure);
      }
    };
    try {
      const text = pending.text ?? texts.get(pending.file) ?? access.read(pending.file);
      texts.delete(pending.file);
      const source = { file: pending.file, text };
      entry.parsed = parseTokens(lexNginxConfig(source), source, options, onInclude);
    } catch (error) {
      if (error instanceof FpmkitInvalidOptionError) throw error;
      const failure = asParseError(error, pending.file, undefined);
      if (!options.catchErrors) throw failure;
      record(entry, failure);
    }
  }
  return payload;
}

function engineOptions(
  options: ParseNginxConfigOptions,
  mainFile: string,
  follow: boolean,
): EngineOptions {
  const maxFiles = options.maxFiles ?? NGINX_MAX_CONFIG_FILES;
  if (!Number.isInteger(maxFiles) || maxFiles < 1) {
    throw new FpmkitInvalidOptionError('maxFiles', 'must be a whole number of at least 1');
  }
  return {
    prefix: options.prefix ?? posix.dirname(mainFile),
    comments: options.comments === true,
    catchErrors: options.catchErrors === true,
    single: options.single === true || !follow,
    maxFiles,
  };
}

/**
 * Parses an nginx configuration and every file it includes into crossplane's payload. Give
 * `{ path }` to read the main file through `readFile`, or `{ text, path? }`. A plain string is
 * a path when `readFile` is given and the string holds no newline, `;`, `{` or `#`, and
 * configuration text otherwise. Syntax errors, unreadable includes and include explosions
 * throw `FpmkitParseError` with the file and line (or, with `catchErrors`, are recorded in
 * `errors` and the file's `status` is `'failed'`). Bad options throw `FpmkitInvalidOptionError`.
 */
export function parseNginxConfig(
  input: NginxConfigSource | string,
  options: ParseNginxConfigOptions = {},
): NginxConfigPayload {
  const source: NginxConfigSource | null =
    typeof input === 'string'
      ? options.readFile !== undefined && !/[\n;{#]/.test(input)
        ? { path: input }
        : { text: input }
      : input;
  if (source === null || typeof source !== 'object') {
    throw new FpmkitInvalidOptionError('source', 'must be a string, { path } or { text, path? }');
  }
  const readFile = options.readFile;
  const path = 'text' in source ? (source.path ?? 'nginx.conf') : source.path;
  if (typeof path !== 'string' || path === '') {
    throw new FpmkitInvalidOptionError('source.path', 'must be a non-empty string');
  }
  let text: string;
  if ('text' in source) {
    if (typeof source.text !== 'string') {
      throw new FpmkitInvalidOptionError('source.text', 'must be a string');
    }
    text = source.text;
  } else {
    if (!readFile) {
      throw new FpmkitInvalidOptionError('readFile', 'is needed to read a configuration by path');
    }
    text = toText(readFile(path));
  }
  const engine = engineOptions(options, path, readFile !== undefined);
  const glob = options.glob;
  const access: FileAccess = {
    read: (p) => {
      if (!readFile) throw new FpmkitInvalidOptionError('readFile', 'is needed to follow include');
      return toText(readFile(p));
    },
    glob: (pattern) => {
      if (!glob) {
        throw new FpmkitInvalidOptionError('glob', `is needed to expand the pattern ${pattern}`);
      }
      return sortByBytes(glob(pattern));
    },
  };
  return parseFiles({ file: path, text }, access, engine);
}

/** The line `nginx -T` prints before each file (`ngx_dump_config` in src/core/nginx.c). */
const DUMP_HEADER = /^# configuration file (.+):$/;

/** Options of `parseNginxDump`. */
export interface ParseNginxDumpOptions {
  /** Keep comments as `{ directive: '#', comment }` statements. @default false */
  comments?: boolean | undefined;
  /** Record syntax errors in the payload instead of throwing. @default false */
  catchErrors?: boolean | undefined;
  /** nginx's configuration prefix. @default the directory of the first file in the dump */
  prefix?: string | undefined;
}

interface DumpSection {
  file: string;
  /** 1-based line of the header in the dump. */
  headerLine: number;
  lines: string[];
}

/** Splits `nginx -T` output at the lines that look like file headers. */
function splitDump(text: string): DumpSection[] {
  const lines = text.split('\n');
  const sections: DumpSection[] = [];
  let before = true;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const header = DUMP_HEADER.exec(line);
    if (header) {
      before = false;
      sections.push({ file: header[1]!, headerLine: n + 1, lines: [] });
      continue;
    }
    if (before) {
      // `nginx -T 2>&1` puts nginx's own messages ("nginx: the configuration file ...") first.
      if (line === '' || line.startsWith('nginx: ')) continue;
      throw new FpmkitParseError('text before the first "# configuration file NAME:" line', {
        source: 'nginx -T',
        line: n + 1,
        lineText: line,
      });
    }
    sections[sections.length - 1]!.lines.push(line);
  }
  if (sections.length === 0) {
    throw new FpmkitParseError('no "# configuration file NAME:" line: not nginx -T output', {
      source: 'nginx -T',
    });
  }
  return sections;
}

/** Each file's text: nginx writes the file, then one newline. */
function sectionText(section: DumpSection, isLast: boolean): string {
  const lines = [...section.lines];
  // The newline nginx adds after each file; a trailing newline of the whole output too.
  if (isLast && lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.join('\n') + (lines.length > 0 ? '\n' : '');
}

/** The files reachable from the first through `include`, by name. */
function reachable(payload: NginxConfigPayload): Set<string> {
  const seen = new Set<string>();
  const visit = (index: number) => {
    const file = payload.config[index];
    if (!file || seen.has(file.file)) return;
    seen.add(file.file);
    const walk = (stmts: readonly NginxDirective[]) => {
      for (const s of stmts) {
        for (const i of s.includes ?? []) visit(i);
        if (s.block) walk(s.block);
      }
    };
    walk(file.parsed);
  };
  visit(0);
  return seen;
}

/**
 * Parses the output of `nginx -T` (every file nginx read, each after a `# configuration file
 * NAME:` line) into crossplane's payload, with `include` resolved against the dumped files.
 * A header line that no `include` reaches is taken as text of the file before it (a file may
 * contain such a line); a name dumped twice is refused as ambiguous. Throws `FpmkitParseError`
 * with the file and its own line numbers.
 */
export function parseNginxDump(
  text: string,
  options: ParseNginxDumpOptions = {},
): NginxConfigPayload {
  if (typeof text !== 'string') throw new FpmkitInvalidOptionError('text', 'must be a string');
  let sections = splitDump(text);
  for (;;) {
    const files = new Map<string, string>();
    for (let s = 0; s < sections.length; s++) {
      const section = sections[s]!;
      if (files.has(section.file)) {
        throw new FpmkitParseError(`${section.file} is dumped twice: the output is ambiguous`, {
          source: 'nginx -T',
          line: section.headerLine,
        });
      }
      files.set(section.file, sectionText(section, s === sections.length - 1));
    }
    const main = sections[0]!.file;
    const access: FileAccess = {
      read: (p) => {
        const found = files.get(p);
        if (found === undefined) throw new Error(`${p} is not in the nginx -T output`);
        return found;
      },
      glob: (pattern) => globNames(pattern, files.keys()),
    };
    // Errors are collected while deciding which headers are real: a forged header cuts a file.
    const engine = { ...engineOptions(options, main, true), catchErrors: true };
    const payload = parseFiles({ file: main, text: files.get(main)! }, access, engine);
    const reached = reachable(payload);
    const merged: DumpSection[] = [];
    for (const section of sections) {
      if (merged.length === 0 || reached.has(section.file)) merged.push(section);
      else {
        const previous = merged[merged.length - 1]!;
        previous.lines.push(`# configuration file ${section.file}:`, ...section.lines);
      }
    }
    if (merged.length === sections.length) {
      const first = payload.errors[0];
      if (first && options.catchErrors !== true) {
        const source = files.get(first.file) ?? '';
        throw new FpmkitParseError(first.error, {
          source: first.file,
          line: first.line ?? undefined,
          lineText: first.line ? source.split('\n')[first.line - 1] : undefined,
        });
      }
      return payload;
    }
    sections = merged;
  }
}
