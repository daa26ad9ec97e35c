/**
 * The nginx configuration tokenizer: the same decisions as `ngx_conf_read_token()` in nginx's
 * `src/core/ngx_conf_file.c`, so that a file splits into the words nginx sees.
 *
 * - Words end at a space, tab, CR or LF, and at `;` or `{`; `}` ends nothing inside a word.
 * - `"..."` and `'...'` quote a word (newlines included); after the closing quote only a space,
 *   `;`, `{` or `)` may follow.
 * - `\` protects the next character; in the value, `\"`, `\'` and `\\` become the character and
 *   `\t`, `\r`, `\n` a tab, CR and LF; any other `\x` stays as written.
 * - `${` inside a word does not end it (variables such as `${host}`).
 * - `#` starts a comment only where a word could start; `a#b` is one word.
 * - A word of 4096 bytes or more is refused ("too long parameter"), as nginx's 4 KiB read
 *   buffer does.
 *
 * OpenResty's `*_by_lua_block { ... }` bodies are Lua, not nginx syntax: the body between the
 * braces is kept verbatim as one word, as crossplane does.
 *
 * Sample input:
 *
 * ```
 * location ~ \.php$ {            # words: location, ~, \.php$ then a block
 *     fastcgi_param HTTPS "on";  # a quoted word
 * }
 * ```
 */
import { FpmkitParseError } from '../errors.js';

/** nginx's configuration read buffer (`NGX_CONF_BUFFER`, 4096 bytes): the longest word + 1. */
export const NGINX_CONF_BUFFER_BYTES = 4096;

/** One token of an nginx configuration file. */
export type NginxToken =
  | {
      kind: 'word';
      /** The value with nginx's escapes applied and the quotes removed. */
      value: string;
      /** 1-based line where the word starts. */
      line: number;
      /** Whether it was written between quotes. */
      quoted: boolean;
    }
  /** The body of a `*_by_lua_block`, verbatim, between its braces (the braces excluded). */
  | { kind: 'lua'; value: string; line: number }
  | { kind: ';' | '{' | '}'; line: number }
  /** A `#` comment: the text after `#` up to the end of the line. */
  | { kind: 'comment'; text: string; line: number };

const isSpace = (ch: string) => ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';

/** Applies nginx's escapes to the raw characters of a word (quotes already removed). */
export function unescapeNginxWord(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[i + 1]!;
      if (next === '"' || next === "'" || next === '\\') {
        out += next;
        i++;
        continue;
      }
      if (next === 't' || next === 'r' || next === 'n') {
        out += next === 't' ? '\t' : next === 'r' ? '\r' : '\n';
        i++;
        continue;
      }
    }
    out += ch;
  }
  return out;
}

/** True for a directive whose block is Lua code (`content_by_lua_block`, ...). */
export function isLuaBlockDirective(name: string): boolean {
  return name.endsWith('_by_lua_block');
}

/** Where a parse error points: the file label and the text of its lines. */
export interface LexSource {
  /** File name or label, for errors. */
  file: string;
  text: string;
}

function lineTextAt(text: string, line: number): string {
  let start = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf('\n', start);
    if (next === -1) return '';
    start = next + 1;
  }
  const end = text.indexOf('\n', start);
  return text.slice(start, end === -1 ? text.length : end).replace(/\r$/, '');
}

/** An `FpmkitParseError` at `line` of `source`. */
export function nginxSyntaxError(
  source: LexSource,
  line: number,
  reason: string,
): FpmkitParseError {
  return new FpmkitParseError(reason, {
    source: source.file,
    line,
    lineText: lineTextAt(source.text, line),
  });
}

/** UTF-8 length of `text.slice(start, end)` without allocating when it is clearly short. */
function byteLengthAtLeast(text: string, start: number, end: number, limit: number): boolean {
  if ((end - start) * 3 < limit) return false;
  return Buffer.byteLength(text.slice(start, end)) >= limit;
}

/**
 * Splits nginx configuration text into tokens. Throws `FpmkitParseError` with the file and line
 * for what `ngx_conf_read_token()` refuses: an unexpected character after a quoted word, `;` or
 * `{` with no directive before it, `}` after arguments, a word of 4096 bytes or more, and the
 * end of the file inside a directive. Brace balance is the parser's business.
 */
export function lexNginxConfig(source: LexSource): NginxToken[] {
  const { text } = source;
  const tokens: NginxToken[] = [];
  const fail = (line: number, reason: string): never => {
    throw nginxSyntaxError(source, line, reason);
  };
  let line = 1;
  let i = 0;
  // Words in the current statement; a `*_by_lua_block` is recognized as its first word.
  let wordsInStatement = 0;
  let firstWord = '';
  const n = text.length;

  while (i < n) {
    const ch = text[i]!;
    if (isSpace(ch)) {
      if (ch === '\n') line++;
      i++;
      continue;
    }
    if (ch === ';' || ch === '{') {
      if (wordsInStatement === 0) fail(line, `unexpected "${ch}"`);
      if (ch === '{' && isLuaBlockDirective(firstWord)) {
        const start = line;
        const { body, end, endLine } = readLuaBody(source, i + 1, line);
        tokens.push({ kind: 'lua', value: body, line: start });
        tokens.push({ kind: ';', line: endLine });
        i = end;
        line = endLine;
      } else {
        tokens.push({ kind: ch, line });
        i++;
      }
      wordsInStatement = 0;
      firstWord = '';
      continue;
    }
    if (ch === '}') {
      if (wordsInStatement !== 0) fail(line, 'unexpected "}"');
      tokens.push({ kind: '}', line });
      i++;
      continue;
    }
    if (ch === '#') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      if (byteLengthAtLeast(text, i, stop, NGINX_CONF_BUFFER_BYTES)) {
        fail(line, `too long parameter "${text.slice(i, i + 10)}..." started`);
      }
      tokens.push({ kind: 'comment', text: text.slice(i + 1, stop), line });
      i = stop;
      continue;
    }
    // A word starts here.
    const startLine = line;
    const quote = ch === '"' || ch === "'" ? ch : undefined;
    const rawStart = quote ? i + 1 : i;
    let j = rawStart;
    let variable = false;
    let end = -1;
    while (j < n) {
      const c = text[j]!;
      if (c === '\n') line++;
      if (c === '{' && variable) {
        j++;
        continue;
      }
      variable = false;
      if (c === '\\') {
        if (text[j + 1] === '\n') line++;
        j += 2;
        continue;
      }
      if (c === '$') {
        variable = true;
        j++;
        continue;
      }
      if (quote ? c === quote : isSpace(c) || c === ';' || c === '{') {
        end = j;
        break;
      }
      j++;
    }
    if (end === -1) {
      // nginx counts the escaped LF it skipped, but the lines after it belong to no word.
      fail(line, 'unexpected end of file, expecting ";" or "}"');
    }
    if (byteLengthAtLeast(text, rawStart, end, NGINX_CONF_BUFFER_BYTES)) {
      fail(
        startLine,
        quote
          ? `too long parameter, probably missing terminating "${quote}" character`
          : `too long parameter "${text.slice(rawStart, rawStart + 10)}..." started`,
      );
    }
    const value = unescapeNginxWord(text.slice(rawStart, end));
    tokens.push({ kind: 'word', value, line: startLine, quoted: quote !== undefined });
    if (wordsInStatement === 0) firstWord = value;
    wordsInStatement++;
    if (quote) {
      // After a closing quote: a space, `;`, `{`, or `)` (which starts the next word).
      i = end + 1;
      const next = text[i];
      if (next !== undefined && !isSpace(next) && next !== ';' && next !== '{' && next !== ')') {
        fail(line, `unexpected "${next}"`);
      }
    } else {
      i = end;
    }
  }
  if (wordsInStatement > 0) fail(line, 'unexpected end of file, expecting ";" or "}"');
  return tokens;
}

/**
 * Reads a Lua block body from just after its `{` to the matching `}`, skipping Lua strings
 * (`'...'`, `"..."`, `[[...]]`, `[==[...]==]`) and comments (`-- ...`, `--[[...]]`) so that
 * braces inside them do not count. Returns the body and the index after the closing brace.
 */
function readLuaBody(
  source: LexSource,
  from: number,
  line: number,
): { body: string; end: number; endLine: number } {
  const { text } = source;
  const startLine = line;
  let depth = 1;
  let i = from;
  const countLines = (a: number, b: number) => {
    for (let k = a; k < b; k++) if (text.charCodeAt(k) === 10) line++;
  };
  const longBracket = (at: number): number => {
    // `[`, zero or more `=`, `[`: returns the level, or -1.
    if (text[at] !== '[') return -1;
    let k = at + 1;
    while (text[k] === '=') k++;
    return text[k] === '[' ? k - at - 1 : -1;
  };
  const skipLong = (at: number, level: number): number => {
    const close = `]${'='.repeat(level)}]`;
    const endAt = text.indexOf(close, at + level + 2);
    if (endAt === -1) {
      throw nginxSyntaxError(source, startLine, 'unterminated long string in Lua block');
    }
    countLines(at, endAt + close.length);
    return endAt + close.length;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === '-' && text[i + 1] === '-') {
      const level = longBracket(i + 2);
      if (level >= 0) i = skipLong(i + 2, level);
      else {
        const endAt = text.indexOf('\n', i);
        i = endAt === -1 ? text.length : endAt;
      }
    } else if (c === '"' || c === "'") {
      let k = i + 1;
      while (k < text.length && text[k] !== c && text[k] !== '\n') k += text[k] === '\\' ? 2 : 1;
      if (k >= text.length || text[k] !== c) {
        throw nginxSyntaxError(source, line, 'unterminated string in Lua block');
      }
      countLines(i, k);
      i = k + 1;
    } else if (c === '[' && longBracket(i) >= 0) {
      i = skipLong(i, longBracket(i));
    } else if (c === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) return { body: text.slice(from, i), end: i + 1, endLine: line };
      i++;
    } else i++;
  }
  throw nginxSyntaxError(source, startLine, 'unexpected end of file in Lua block, expecting "}"');
}
