import { cAtoi } from '../units.js';

/**
 * FPM hands every physical line of its configuration, with a newline appended, to PHP's INI
 * parser on its own (`fpm_conf_load_ini_file` in `sapi/fpm/fpm/fpm_conf.c`, then
 * `zend_parse_ini_string` in normal mode, `Zend/zend_ini_scanner.l` and
 * `Zend/zend_ini_parser.y`). This module reproduces what that parser makes of one line: the
 * statements it reports back (sections, entries, array entries) in order, and the syntax error
 * it stops at, worded as PHP words it. Behaviour was checked against php-fpm 8.2.
 *
 *     [www]                               → section "www"
 *     pm.max_children = ${CHILDREN}       → entry pm.max_children = value of $CHILDREN
 *     php_value[error_reporting] = E_ALL & ~E_NOTICE   → array entry, value "32759"
 */

export type IniStatement =
  | { kind: 'section'; name: string }
  | { kind: 'entry'; name: string; value: string | null }
  | { kind: 'array'; name: string; key: string; value: string };

export interface IniLineResult {
  statements: IniStatement[];
  /** PHP's message, e.g. `syntax error, unexpected '=' in Unknown on line 1`. */
  syntaxError?: string;
}

export interface IniScanContext {
  /** `${NAME}`: FPM looks in php.ini's directives, then the master's environment; else empty. */
  variable(name: string): string;
  /** A bare word that names a PHP constant becomes the constant's value. */
  constant(name: string): string | undefined;
}

/** PHP's E_* constants, the ones pool files use (`php_value[error_reporting] = E_ALL & ~E_NOTICE`). */
export const PHP_ERROR_CONSTANTS: Readonly<Record<string, string>> = {
  E_ERROR: '1',
  E_WARNING: '2',
  E_PARSE: '4',
  E_NOTICE: '8',
  E_CORE_ERROR: '16',
  E_CORE_WARNING: '32',
  E_COMPILE_ERROR: '64',
  E_COMPILE_WARNING: '128',
  E_USER_ERROR: '256',
  E_USER_WARNING: '512',
  E_USER_NOTICE: '1024',
  E_STRICT: '2048',
  E_RECOVERABLE_ERROR: '4096',
  E_DEPRECATED: '8192',
  E_USER_DEPRECATED: '16384',
  E_ALL: '32767',
};

enum C {
  Tab = 9,
  Nl = 10,
  Cr = 13,
  Space = 32,
}

/** Characters a label (directive name) cannot contain. */
const NOT_LABEL = new Set([...'=\n\r\t;&|^$~(){}!"[']);
/** Characters that end a bare value run (a `$` is handled on its own). */
const NOT_VALUE = new Set([...'$= \t\n\r;&|^~()!"\'']);
/** Characters that end a bare section or offset run (`$` and `\` are handled on their own). */
const NOT_SECTION = new Set([...'$\n\r;"\']\\']);
/** Characters the scanner returns as single tokens outside values. */
const TOKEN_CHARS = new Set([...'=]"\'()&|^$!~{}:,.+-/*%<>?@']);
const OPERATORS = new Set([...'&|^~()!']);

const BOOL_RE = /^(?:(true|on|yes)|(false|off|none|no)|(null))[ \t]*/i;
const CONSTANT_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NUMBER_RE = /^(?:-?[0-9]+|[0-9]*\.[0-9]+|[0-9]+\.[0-9]*)$/;

class SyntaxError_ {
  constructor(readonly message: string) {}
}

/** Value tokens of one statement's right-hand side. */
type Tok = { line: number } & (
  | { t: 'str'; v: string; name: string }
  | { t: 'op'; v: string }
  | { t: 'bool'; v: string; name: string }
  | { t: 'dq'; v: string }
);

const isBlank = (c: number) => c === C.Space || c === C.Tab;
const isNewline = (c: number) => c === C.Nl || c === C.Cr;

/*
 * Fast paths for the shapes nearly every line has. Each accepts only input on which PHP's
 * scanner has a single reading, and gives the same statements the full scanner below would:
 * plain characters only (no quotes, operators, `${`, `;` or `=` in the value).
 */
const PLAIN = '[A-Za-z0-9_./:@,+%*?<>#-]|\\$[A-Za-z0-9_./]';
const FAST_ENTRY = new RegExp(
  `^[ \\t]*([A-Za-z0-9_.-]+)[ \\t]*=[ \\t]*((?:${PLAIN})*)[ \\t]*\\r?$`,
);
const FAST_ARRAY = new RegExp(
  `^[ \\t]*([A-Za-z_.]+)\\[([A-Za-z0-9_.-]*)\\][ \\t]*=[ \\t]*((?:${PLAIN})*)[ \\t]*\\r?$`,
);
const FAST_SECTION = /^[ \t]*\[([A-Za-z0-9_.@+-]+)\][ \t]*\r?$/;
const FAST_COMMENT = /^[ \t]*(?:;.*)?$/;
const BOOL_WORDS = new Set(['true', 'on', 'yes', 'false', 'off', 'no', 'none', 'null']);
const TRUE_WORDS = new Set(['true', 'on', 'yes']);

/** The value of a plain run as PHP reads it: a boolean word, a defined constant, or itself. */
function plainValue(run: string, ctx: IniScanContext): string {
  if (run.length <= 5) {
    const lower = run.toLowerCase();
    if (BOOL_WORDS.has(lower)) return TRUE_WORDS.has(lower) ? '1' : '';
  }
  if (CONSTANT_RE.test(run)) return ctx.constant(run) ?? run;
  return run;
}

/**
 * The text FPM's INI scanner puts in place of a bare word that makes up a whole array key
 * (`env[E_ALL]` is read as `env[32767]`): the grammar takes a key's words through
 * `zend_ini_get_constant` (`Zend/zend_ini_parser.y`), so a defined constant becomes its value,
 * and `zend_get_special_const` finds `true` ('1'), `false` and `null` ('') in any case. Section
 * names are not looked up. Words that name no constant stay as they are.
 */
export function arrayKeyConstant(word: string, ctx: IniScanContext): string | undefined {
  if (word.length === 4 || word.length === 5) {
    const lower = word.toLowerCase();
    if (lower === 'true') return '1';
    if (lower === 'false' || lower === 'null') return '';
  }
  return ctx.constant(word);
}

function fastScan(line: string, ctx: IniScanContext): IniLineResult | undefined {
  if (FAST_COMMENT.test(line)) return { statements: [] };
  let m = FAST_ENTRY.exec(line);
  if (m) {
    if (BOOL_WORDS.has(m[1]!.toLowerCase())) return undefined;
    return { statements: [{ kind: 'entry', name: m[1]!, value: plainValue(m[2]!, ctx) }] };
  }
  m = FAST_SECTION.exec(line);
  if (m) return { statements: [{ kind: 'section', name: m[1]! }] };
  m = FAST_ARRAY.exec(line);
  if (m) {
    const key = CONSTANT_RE.test(m[2]!) ? (arrayKeyConstant(m[2]!, ctx) ?? m[2]!) : m[2]!;
    return { statements: [{ kind: 'array', name: m[1]!, key, value: plainValue(m[3]!, ctx) }] };
  }
  return undefined;
}

/** Scans one physical line (without its newline) as FPM's INI parser does. */
export function scanIniLine(physicalLine: string, ctx: IniScanContext): IniLineResult {
  const fast = fastScan(physicalLine, ctx);
  if (fast) return fast;
  const nul = physicalLine.indexOf('\0');
  // FPM passes a C string: whatever follows a NUL byte is never seen.
  const s = `${nul >= 0 ? physicalLine.slice(0, nul) : physicalLine}\n`;
  const out: IniStatement[] = [];
  let pos = 0;
  let lineNo = 1;

  const fail = (what: string, expecting?: string, line = lineNo): never => {
    const exp = expecting ? `, expecting ${expecting}` : '';
    throw new SyntaxError_(`syntax error, unexpected ${what}${exp} in Unknown on line ${line}`);
  };

  /** Consumes one newline sequence at pos if there is one. */
  const eatNewline = (): boolean => {
    const c = s.charCodeAt(pos);
    if (c === C.Cr) {
      pos += s.charCodeAt(pos + 1) === C.Nl ? 2 : 1;
      lineNo++;
      return true;
    }
    if (c === C.Nl) {
      pos++;
      lineNo++;
      return true;
    }
    return false;
  };
  const skipBlanks = () => {
    while (pos < s.length && isBlank(s.charCodeAt(pos))) pos++;
  };

  /** `${NAME}` starting at pos (pointing at `$`). */
  const readVariable = (): string => {
    pos += 2;
    let end = pos;
    while (end < s.length && !NOT_LABEL.has(s[end]!) && s[end] !== '}') end++;
    if (end === pos) {
      const c = s[pos];
      if (c === undefined || isNewline(s.charCodeAt(pos))) fail('end of file', 'TC_VARNAME');
      fail(c === '}' ? "'}'" : `'${c}'`, 'TC_VARNAME');
    }
    const name = s.slice(pos, end).trim();
    pos = end;
    if (s[pos] !== '}') fail('end of file', "'}'");
    pos++;
    return ctx.variable(name);
  };

  /** A double-quoted string starting after its opening quote; returns the unescaped text. */
  const readDoubleQuoted = (): string => {
    let text = '';
    for (;;) {
      const start = pos;
      let closed = false;
      while (pos < s.length) {
        const ch = s[pos]!;
        if (ch === '"') {
          closed = true;
          break;
        }
        if (ch === '$' && s[pos + 1] === '{') break;
        if (ch === '\\' && pos + 1 < s.length) {
          // A backslash before the closing quote at the end of a line stays literal
          // (PHP keeps Windows paths such as "C:\dir\" working).
          if (s[pos + 1] === '"' && (pos + 2 >= s.length || isNewline(s.charCodeAt(pos + 2)))) {
            pos++;
            closed = true;
            break;
          }
          pos += 2;
          continue;
        }
        pos++;
      }
      for (let i = start; i < pos; i++) if (s[i] === '\n') lineNo++;
      text += unescapeDoubleQuoted(s.slice(start, pos));
      if (closed) {
        pos++;
        skipBlanks();
        return text;
      }
      if (pos < s.length) {
        text += readVariable();
        continue;
      }
      return fail('end of file', `TC_DOLLAR_CURLY or TC_QUOTED_STRING or '"'`);
    }
  };

  /** `'raw'` starting at pos; undefined when it is not a complete raw string. */
  const readRaw = (): string | undefined => {
    const close = s.indexOf("'", pos + 1);
    if (close <= pos + 1) return undefined;
    const text = s.slice(pos + 1, close);
    for (const ch of text) if (ch === '\n') lineNo++;
    pos = close + 1;
    return text;
  };

  /**
   * Section names and array keys: literal runs (a backslash keeps the character after it),
   * `${VAR}`, quoted and raw strings, and blanks, up to `]`. In an array key a run that is a
   * whole word token (no blanks joined to it) may name a constant.
   */
  const readBracketed = (arrayKey = false): string => {
    let text = '';
    let afterBlanks = false;
    for (;;) {
      const ch = s[pos];
      if (ch === undefined) return fail('end of file', "']'");
      if (ch === ']') {
        pos++;
        return text;
      }
      if (ch === '$' && s[pos + 1] === '{') {
        text += readVariable();
        afterBlanks = false;
        continue;
      }
      if (ch === "'") {
        const raw = readRaw();
        if (raw === undefined) return fail('end of file', "']'");
        text += raw;
        afterBlanks = false;
        continue;
      }
      if (isBlank(s.charCodeAt(pos))) {
        let end = pos;
        while (isBlank(s.charCodeAt(end))) end++;
        if (s[end] === '"') {
          pos = end + 1;
          text += readDoubleQuoted();
        } else {
          text += s.slice(pos, end);
          pos = end;
          afterBlanks = true;
        }
        continue;
      }
      if (ch === '"') {
        pos++;
        text += readDoubleQuoted();
        afterBlanks = false;
        continue;
      }
      const start = pos;
      for (;;) {
        const c = s[pos];
        if (c === undefined) break;
        if (c === '\\' && pos + 1 < s.length) {
          pos += 2;
          continue;
        }
        if (c === '$') {
          if (s[pos + 1] === '{' || pos + 1 >= s.length) break;
          pos += 2;
          continue;
        }
        if (NOT_SECTION.has(c) || isBlank(s.charCodeAt(pos))) break;
        pos++;
      }
      if (pos === start) return fail('end of file', "']'");
      const run = s.slice(start, pos);
      // Blanks on either side join the run into one string token, which is not looked up.
      const word = arrayKey && !afterBlanks && !isBlank(s.charCodeAt(pos)) && CONSTANT_RE.test(run);
      text += word ? (arrayKeyConstant(run, ctx) ?? run) : run;
      afterBlanks = false;
    }
  };

  /** Tokens of a value up to what ends it. */
  const readValueTokens = (): { tokens: Tok[]; end: 'eol' | 'eof' | 'equals'; endLine: number } => {
    const tokens: Tok[] = [];
    const push = (tok: Tok) => tokens.push(tok);
    for (;;) {
      const line = lineNo;
      let look = pos;
      while (look < s.length && isBlank(s.charCodeAt(look))) look++;
      const c = s[look];
      if (c === undefined) {
        pos = look;
        return { tokens, end: 'eof', endLine: lineNo };
      }
      if (isNewline(s.charCodeAt(look))) {
        pos = look;
        eatNewline();
        return { tokens, end: 'eol', endLine: lineNo };
      }
      if (c === ';') {
        const nl = s.indexOf('\n', look);
        pos = nl < 0 ? s.length : nl;
        eatNewline();
        return { tokens, end: 'eol', endLine: lineNo };
      }
      if (c === '"') {
        pos = look + 1;
        push({ t: 'dq', v: readDoubleQuoted(), line });
        continue;
      }
      if (look > pos) {
        push({ t: 'str', v: s.slice(pos, look), name: 'TC_WHITESPACE', line });
        pos = look;
        continue;
      }
      if (c === '=') return { tokens, end: 'equals', endLine: lineNo };
      if (c === '$' && s[pos + 1] === '{') {
        push({ t: 'str', v: readVariable(), name: 'TC_DOLLAR_CURLY', line });
        continue;
      }
      if (OPERATORS.has(c)) {
        pos++;
        skipBlanks();
        push({ t: 'op', v: c, line });
        continue;
      }
      if (c === "'") {
        const raw = readRaw();
        if (raw === undefined) return { tokens, end: 'eof', endLine: lineNo };
        push({ t: 'str', v: raw, name: 'TC_RAW', line });
        continue;
      }
      let end = pos;
      for (;;) {
        const v = s[end];
        if (v === undefined) break;
        if (v === '$') {
          if (s[end + 1] === '{' || end + 1 >= s.length) break;
          end += s[end + 1] === '\\' && end + 2 < s.length ? 3 : 2;
          continue;
        }
        if (NOT_VALUE.has(v)) break;
        end++;
      }
      const run = s.slice(pos, end);
      const bool = BOOL_RE.exec(s.slice(pos, pos + Math.max(run.length, 5) + 64));
      if (bool && bool[0].length >= run.length) {
        pos += bool[0].length;
        if (bool[1]) push({ t: 'bool', v: '1', name: 'BOOL_TRUE', line });
        else if (bool[2]) push({ t: 'bool', v: '', name: 'BOOL_FALSE', line });
        else push({ t: 'bool', v: '', name: 'NULL_NULL', line });
        continue;
      }
      if (run.length === 0) return { tokens, end: 'eof', endLine: lineNo };
      pos = end;
      if (CONSTANT_RE.test(run)) {
        push({ t: 'str', v: ctx.constant(run) ?? run, name: 'TC_CONSTANT', line });
      } else if (NUMBER_RE.test(run)) {
        push({ t: 'str', v: run, name: 'TC_NUMBER', line });
      } else {
        push({ t: 'str', v: run, name: 'TC_STRING', line });
      }
    }
  };

  /** Evaluates `string_or_value` of PHP's INI grammar over the tokens of one value. */
  const evaluate = ({
    tokens,
    end,
    endLine,
  }: {
    tokens: Tok[];
    end: 'eol' | 'eof' | 'equals';
    endLine: number;
  }): string | null => {
    const endName = end === 'eof' ? 'end of file' : 'END_OF_LINE';
    const failAtEnd = (expecting?: string): never => fail(endName, expecting, endLine);
    const failAt = (tok: Tok, expecting?: string): never =>
      fail(tokenName(tok), expecting, tok.line);
    if (tokens.length === 0) return end === 'eof' ? null : '';
    const first = tokens[0]!;
    if (first.t === 'bool') {
      const next = tokens[1];
      if (next) failAt(next);
      return first.v;
    }
    let i = 0;
    const peek = () => tokens[i];
    const primary = (): string => {
      const tok = peek();
      if (!tok) return failAtEnd();
      if (tok.t === 'op') {
        if (tok.v === '~' || tok.v === '!') {
          i++;
          const operand = cAtoi(primary());
          return String(tok.v === '~' ? ~operand : operand === 0 ? 1 : 0);
        }
        if (tok.v === '(') {
          i++;
          const inner = expr();
          const close = peek();
          if (close?.t !== 'op' || close.v !== ')') {
            const expecting = "'^' or '|' or '&' or ')'";
            return close ? failAt(close, expecting) : failAtEnd(expecting);
          }
          i++;
          return inner;
        }
        return failAt(tok);
      }
      if (tok.t === 'bool') return failAt(tok);
      let text = '';
      let any = false;
      for (let t = peek(); t && (t.t === 'str' || t.t === 'dq'); t = peek()) {
        text += t.v;
        any = true;
        i++;
      }
      if (!any) return failAtEnd();
      return text;
    };
    const expr = (): string => {
      let left = primary();
      for (
        let t = peek();
        t && t.t === 'op' && (t.v === '|' || t.v === '&' || t.v === '^');
        t = peek()
      ) {
        i++;
        const right = primary();
        const a = cAtoi(left);
        const b = cAtoi(right);
        left = String(t.v === '|' ? a | b : t.v === '&' ? a & b : a ^ b);
      }
      return left;
    };
    const value = expr();
    const rest = peek();
    if (rest) failAt(rest);
    return value;
  };

  try {
    for (;;) {
      skipBlanks();
      if (pos >= s.length) break;
      const code = s.charCodeAt(pos);
      if (isNewline(code)) {
        eatNewline();
        continue;
      }
      const ch = s[pos]!;
      if (ch === ';') {
        const nl = s.indexOf('\n', pos);
        pos = nl < 0 ? s.length : nl;
        eatNewline();
        continue;
      }
      if (ch === '[') {
        pos++;
        const name = readBracketed();
        skipBlanks();
        eatNewline();
        out.push({ kind: 'section', name });
        continue;
      }
      if (!NOT_LABEL.has(ch)) {
        let end = pos;
        while (end < s.length && !NOT_LABEL.has(s[end]!)) end++;
        const label = s.slice(pos, end);
        const bool = BOOL_RE.exec(s.slice(pos, end + 1));
        if (bool && bool[0].length >= label.length) {
          fail(bool[1] ? 'BOOL_TRUE' : bool[2] ? 'BOOL_FALSE' : 'NULL_NULL');
        }
        pos = end;
        if (s[pos] === '[') {
          pos++;
          skipBlanks();
          const key = readBracketed(true);
          skipBlanks();
          if (s[pos] !== '=') {
            if (isNewline(s.charCodeAt(pos))) {
              eatNewline();
              fail('END_OF_LINE', "'='");
            }
            fail(pos >= s.length ? 'end of file' : describeChar(s[pos]!), "'='");
          }
          pos++;
          skipBlanks();
          const tokens = readValueTokens();
          out.push({ kind: 'array', name: label.trim(), key, value: evaluate(tokens) ?? '' });
          // A byte PHP's scanner has no rule for ends its input: nothing after it is read.
          if (tokens.end === 'eof') break;
          continue;
        }
        skipBlanks();
        if (s[pos] === '=') {
          pos++;
          skipBlanks();
          const tokens = readValueTokens();
          out.push({ kind: 'entry', name: label.trim(), value: evaluate(tokens) });
          if (tokens.end === 'eof') break;
          continue;
        }
        out.push({ kind: 'entry', name: label.trim(), value: null });
        continue;
      }
      if (TOKEN_CHARS.has(ch)) fail(`'${ch}'`);
      // Any other byte ends PHP's scanner as if the input had ended.
      break;
    }
  } catch (error) {
    if (error instanceof SyntaxError_) return { statements: out, syntaxError: error.message };
    throw error;
  }
  return { statements: out };
}

function tokenName(tok: Tok): string {
  if (tok.t === 'op') return `'${tok.v}'`;
  if (tok.t === 'dq') return `'"'`;
  return tok.name;
}

function describeChar(ch: string): string {
  if (!NOT_LABEL.has(ch)) return 'TC_LABEL';
  return `'${ch}'`;
}

/** PHP's escapes inside double quotes: `\"`, `\\` and `\$` lose their backslash; others keep it. */
function unescapeDoubleQuoted(raw: string): string {
  if (!raw.includes('\\')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\\' && i + 1 < raw.length) {
      const next = raw[i + 1]!;
      if (next === '"' || next === '\\' || next === '$') {
        out += next;
        i++;
        continue;
      }
    }
    out += ch;
  }
  return out;
}
