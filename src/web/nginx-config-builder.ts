/**
 * Writes crossplane-shaped nginx statements back to configuration text (crossplane's `build`
 * and `build_files`), and joins a multi-file payload into one tree (`combine`).
 *
 * An argument is written bare when nginx would read it back unchanged, and between double
 * quotes otherwise, with `\"`, `\\` and `\t`, `\r`, `\n` escapes. Every statement is read back
 * with nginx's rules before it is written, so the text parses to the same statements or the
 * build throws: a comment holding a newline, or a Lua body whose braces do not balance, could
 * otherwise add directives.
 */
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { isLuaBlockDirective, lexNginxConfig } from './nginx-config-lexer.js';
import {
  NGINX_MAX_BLOCK_DEPTH,
  type NginxConfigFile,
  type NginxConfigPayload,
  type NginxDirective,
  prepareIfArgs,
} from './nginx-config-parser.js';

/** Options of `buildNginxConfig` and `buildNginxConfigFiles`. */
export interface BuildNginxConfigOptions {
  /** Spaces per nesting level. @default 4 */
  indent?: number | undefined;
  /** Indent with one tab per level instead. @default false */
  tabs?: boolean | undefined;
}

/** Most statements `combineNginxConfig` produces: includes repeated in many places multiply. */
export const NGINX_MAX_COMBINED_STATEMENTS = 1_000_000;

/** Characters that need a backslash inside a quoted nginx word. */
function escapeWord(value: string, quoted: boolean): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '\\') {
      const next = value[i + 1];
      // nginx rewrites `\"`, `\'`, `\\`, `\t`, `\r`, `\n`; a last `\` would protect the end.
      // Between quotes the next character may itself be written as an escape: always double.
      out += quoted || next === undefined || '"\'\\trn'.includes(next) ? '\\\\' : '\\';
    } else if (quoted && ch === '"') out += '\\"';
    else if (quoted && ch === '\n') out += '\\n';
    else if (quoted && ch === '\t') out += '\\t';
    else if (quoted && ch === '\r') out += '\\r';
    else out += ch;
  }
  return out;
}

/** Reads `text` back as one statement's words; undefined when it is not exactly that. */
function readBack(text: string): string[] | undefined {
  try {
    const tokens = lexNginxConfig({ file: '(build)', text });
    const words: string[] = [];
    for (const [i, t] of tokens.entries()) {
      if (t.kind === 'word' || t.kind === 'lua') words.push(t.value);
      else if (t.kind !== ';' || i !== tokens.length - 1) return undefined;
    }
    return words;
  } catch {
    return undefined;
  }
}

const sameWords = (a: readonly string[] | undefined, b: readonly string[]) =>
  a !== undefined && a.length === b.length && a.every((w, i) => w === b[i]);

/**
 * Words nginx reads back bare as themselves without a doubt: no white space, quote, backslash,
 * `;`, `{`, `}` or `#`. The common case, written without reading it back.
 */
const PLAIN_WORD = /^[A-Za-z0-9_/.:=+*?^$()|~,@%!&<>[\]-]+$/;

/** One argument as text: bare when nginx reads it back as itself, else double-quoted. */
export function quoteNginxArg(value: string): string {
  if (PLAIN_WORD.test(value)) return value;
  if (value !== '' && !/[\s;{}#"']/.test(value[0]!)) {
    const bare = escapeWord(value, false);
    // `x` is a harmless directive name in front; `;` ends the statement.
    if (sameWords(readBack(`x ${bare};`), ['x', value])) return bare;
  }
  return `"${escapeWord(value, true)}"`;
}

function invalid(path: string, rule: string): never {
  throw new FpmkitInvalidOptionError(path, rule);
}

function checkStatement(stmt: unknown, path: string): asserts stmt is NginxDirective {
  if (stmt === null || typeof stmt !== 'object') invalid(path, 'must be a statement object');
  const s = stmt as Partial<NginxDirective>;
  if (typeof s.directive !== 'string') invalid(`${path}.directive`, 'must be a string');
  if (!Array.isArray(s.args) || s.args.some((a) => typeof a !== 'string')) {
    invalid(`${path}.args`, 'must be an array of strings');
  }
  if (s.block !== undefined && !Array.isArray(s.block))
    invalid(`${path}.block`, 'must be an array');
  if (s.directive === '#' && typeof s.comment !== 'string') {
    invalid(`${path}.comment`, 'must be a string for a comment statement');
  }
}

/** The head of a statement (`name args`), checked by reading it back. */
function buildHead(stmt: NginxDirective, path: string): string {
  const { directive, args } = stmt;
  // Statements nginx's reader itself refuses (the parser would not read them back).
  if (directive === 'include' && (args.length !== 1 || stmt.block !== undefined)) {
    invalid(path, 'include takes exactly one argument and no block');
  }
  if (isLuaBlockDirective(directive) && (args.length === 0 || stmt.block !== undefined)) {
    invalid(path, `${directive} takes its Lua code as the last argument, not a block`);
  }
  if (isLuaBlockDirective(directive) && stmt.block === undefined && args.length > 0) {
    const body = args[args.length - 1]!;
    const lead = [directive, ...args.slice(0, -1)].map(quoteNginxArg).join(' ');
    const text = `${lead} {${body}}`;
    if (!sameWords(readBack(text), [directive, ...args])) {
      invalid(
        `${path}.args`,
        'the Lua block body does not read back as itself (unbalanced braces or an open string)',
      );
    }
    return text;
  }
  let text: string;
  if (directive === 'if') {
    const inner = args.map(quoteNginxArg).join(' ');
    text = `if (${inner})`;
    const words = readBack(`${text};`);
    if (words) {
      const rest = words.slice(1);
      prepareIfArgs(rest);
      if (words[0] === 'if' && sameWords(rest, args)) return text;
    }
    text = `if ( ${inner} )`;
    const spaced = readBack(`${text};`);
    if (spaced) {
      const rest = spaced.slice(1);
      prepareIfArgs(rest);
      if (spaced[0] === 'if' && sameWords(rest, args)) return text;
    }
    invalid(`${path}.args`, 'these if arguments cannot be written so that nginx reads them back');
  }
  text = [directive, ...args].map(quoteNginxArg).join(' ');
  if (PLAIN_WORD.test(directive) && args.every((a) => PLAIN_WORD.test(a))) return text;
  if (!sameWords(readBack(`${text};`), [directive, ...args])) {
    invalid(path, 'the statement cannot be written so that nginx reads it back');
  }
  return text;
}

function buildBlock(
  stmts: readonly NginxDirective[],
  depth: number,
  padding: string,
  lastLine: number,
  path: string,
): string {
  if (depth > NGINX_MAX_BLOCK_DEPTH)
    invalid(path, `must not nest deeper than ${NGINX_MAX_BLOCK_DEPTH} blocks`);
  const margin = padding.repeat(depth);
  let out = '';
  for (const [i, stmt] of stmts.entries()) {
    const at = `${path}[${i}]`;
    checkStatement(stmt, at);
    const line = typeof stmt.line === 'number' ? stmt.line : 0;
    if (stmt.directive === '#') {
      const comment = stmt.comment!;
      if (comment.includes('\n')) invalid(`${at}.comment`, 'must not contain a newline');
      if (line === lastLine && line !== 0 && (out !== '' || depth > 0)) {
        out += ` #${comment}`;
        continue;
      }
      out += `${out === '' && depth === 0 ? '' : '\n'}${margin}#${comment}`;
      lastLine = line;
      continue;
    }
    let built = buildHead(stmt, at);
    if (stmt.block === undefined) {
      if (!(isLuaBlockDirective(stmt.directive) && stmt.args.length > 0)) built += ';';
    } else {
      built += ' {';
      built += buildBlock(stmt.block, depth + 1, padding, line, `${at}.block`);
      built += `\n${margin}}`;
    }
    out += `${out === '' && depth === 0 ? '' : '\n'}${margin}${built}`;
    lastLine = line;
  }
  return out;
}

function paddingOf(options: BuildNginxConfigOptions): string {
  const indent = options.indent ?? 4;
  if (!Number.isInteger(indent) || indent < 0 || indent > 16) {
    throw new FpmkitInvalidOptionError('indent', 'must be a whole number from 0 to 16');
  }
  return options.tabs === true ? '\t' : ' '.repeat(indent);
}

function isPayload(input: unknown): input is NginxConfigPayload {
  return (
    input !== null &&
    typeof input === 'object' &&
    Array.isArray((input as NginxConfigPayload).config)
  );
}

/**
 * Writes statements back to nginx configuration text, ending with a newline. Takes a list of
 * statements (crossplane's `build`), one file of a payload, or a whole payload, whose files
 * are then joined into one text with every `include` replaced by what it read
 * (`combineNginxConfig`). Throws `FpmkitInvalidOptionError` naming the statement when it
 * cannot be written so that nginx reads the same words back.
 */
export function buildNginxConfig(
  input: readonly NginxDirective[] | NginxConfigFile | NginxConfigPayload,
  options: BuildNginxConfigOptions = {},
): string {
  const padding = paddingOf(options);
  let stmts: unknown;
  if (isPayload(input)) stmts = combineNginxConfig(input).config[0]?.parsed ?? [];
  else if (Array.isArray(input)) stmts = input;
  else if (input !== null && typeof input === 'object') stmts = (input as NginxConfigFile).parsed;
  if (!Array.isArray(stmts)) invalid('input', 'must be statements, a file or a payload');
  const body = buildBlock(stmts as NginxDirective[], 0, padding, 0, 'parsed');
  return body === '' ? '' : `${body}\n`;
}

/** Writes each file of a payload back to text (crossplane's `build_files`, without writing). */
export function buildNginxConfigFiles(
  payload: NginxConfigPayload,
  options: BuildNginxConfigOptions = {},
): { file: string; text: string }[] {
  if (!isPayload(payload)) invalid('payload', 'must have a config array');
  return payload.config.map((file, i) => {
    if (file === null || typeof file !== 'object' || typeof file.file !== 'string') {
      invalid(`config[${i}].file`, 'must be a string');
    }
    return { file: file.file, text: buildNginxConfig(file.parsed, options) };
  });
}

/**
 * Joins a payload's files into one: each `include` is replaced by the statements of the files
 * it read, and every statement carries its `file` (crossplane's `combine`). Throws
 * `FpmkitParseError` for an include cycle (nginx would recurse until it fails) and when the
 * result would pass `NGINX_MAX_COMBINED_STATEMENTS`.
 */
export function combineNginxConfig(payload: NginxConfigPayload): NginxConfigPayload {
  if (!isPayload(payload) || payload.config.length === 0) {
    invalid('payload', 'must have a config array with at least one file');
  }
  let count = 0;
  const active = new Set<number>();
  const expand = (index: number, depth: number): NginxDirective[] => {
    const file = payload.config[index];
    if (!file) invalid(`includes`, `index ${index} is not in config`);
    active.add(index);
    const out: NginxDirective[] = [];
    const walk = (stmts: readonly NginxDirective[], into: NginxDirective[], level: number) => {
      if (level > NGINX_MAX_BLOCK_DEPTH) {
        invalid(`config[${index}]`, `must not nest deeper than ${NGINX_MAX_BLOCK_DEPTH} blocks`);
      }
      for (const stmt of stmts) {
        if (stmt.includes !== undefined) {
          for (const i of stmt.includes) {
            if (active.has(i)) {
              throw new FpmkitParseError(
                `include cycle: ${payload.config[i]?.file ?? i} includes itself`,
                { source: file.file, line: stmt.line },
              );
            }
            into.push(...expand(i, level));
          }
          continue;
        }
        if (++count > NGINX_MAX_COMBINED_STATEMENTS) {
          throw new FpmkitParseError(
            `the combined configuration has more than ${NGINX_MAX_COMBINED_STATEMENTS} statements`,
            { source: file.file, line: stmt.line },
          );
        }
        const copy: NginxDirective = { ...stmt, args: [...stmt.args], file: file.file };
        if (stmt.block) {
          copy.block = [];
          walk(stmt.block, copy.block, level + 1);
        }
        into.push(copy);
      }
    };
    walk(file.parsed, out, depth);
    active.delete(index);
    return out;
  };
  const first = payload.config[0]!;
  const errors = payload.config.flatMap((f) => f.errors);
  return {
    status: payload.status,
    errors: payload.errors,
    config: [
      {
        file: first.file,
        status: payload.config.some((f) => f.status === 'failed') ? 'failed' : 'ok',
        errors,
        parsed: expand(0, 0),
      },
    ],
  };
}
