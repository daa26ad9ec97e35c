import {
  assertOneLineValue,
  type EditLine,
  finishEdits,
  insertLinesAfter,
  type LineEnding,
  removeLineAt,
  splitEditLines,
} from '../edit-lines.js';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { formatFpmTime, formatOctalMode, parseFpmBoolean, parseFpmInteger } from '../units.js';
import {
  FPM_ARRAY_DIRECTIVES,
  FPM_GLOBAL_DIRECTIVES,
  FPM_POOL_DIRECTIVES,
  type FpmDirective,
  findScalarDirective,
} from './directives.js';
import { type IniScanContext, type IniStatement, scanIniLine } from './ini-line.js';
import { phpConstantValue } from './php-constants.js';
import { LOG_LEVELS, PM_MODES, SYSLOG_FACILITIES } from './schema.js';

/**
 * In-place editing of one FPM configuration file. The file is split into physical lines as FPM
 * reads it (on `\n`; a `\r` before it is kept with the line ending), each line is scanned with
 * the same INI scanner the parser uses, and only the lines an edit names are rewritten or
 * inserted; every other byte is copied through.
 */

/** A value to write: text as FPM should read it, a number, a boolean, or a list (csv, extensions). */
export type FpmEditValue = string | number | boolean | readonly string[];

/**
 * One change to a file. `section` is `global` or a pool name (compared without case, as FPM
 * merges sections). `directive` is FPM's name (`pm.max_children`, `php_admin_value[memory_limit]`,
 * `env[APP_ENV]`, `access.suppress_path[]`) or the model path (`pm.maxChildren`,
 * `phpAdminValue.memory_limit`).
 */
export type FpmEdit =
  | { section: string; directive: string; value: FpmEditValue; remove?: false }
  | {
      section: string;
      directive: string;
      remove: true;
      /** For `access.suppress_path[]` only: remove just the entries with this path. */
      value?: string;
    };

/** What one edit did, with 1-based line numbers in the text before and after all edits. */
export interface FpmEditChange {
  /** Index of the edit in the list given. */
  edit: number;
  /** The section as the edit named it. */
  section: string;
  /** FPM's name of the directive, e.g. `pm.max_children` or `php_value[memory_limit]`. */
  directive: string;
  /**
   * `set`: an existing line was rewritten; `add`: a line was inserted; `add-section`: a new
   * section was appended with the line; `remove`: lines were deleted; `unchanged`: the value
   * was already in force; `absent`: nothing to remove.
   */
  action: 'set' | 'add' | 'add-section' | 'remove' | 'unchanged' | 'absent';
  /** Lines before the edit (the line rewritten, or each line removed). */
  linesBefore: number[];
  /** Lines after all edits (the line rewritten or inserted). */
  linesAfter: number[];
  /** The line text before and after (without line endings) for `set`, `add` and `remove`. */
  oldText?: string[];
  newText?: string;
  /**
   * Other lines of this file that set the same directive in the same section and that FPM
   * ignores (earlier ones for scalars, later ones for array keys), numbered as before the edit.
   */
  shadowed?: number[];
  /** A sentence for people, e.g. why this line and not another. */
  note?: string;
}

/** The edited text of {@link editFpmConfig}, with what each edit did. */
export interface EditFpmConfigResult {
  /** The edited text; identical to the input when there were no edits or all were no-ops. */
  text: string;
  changes: FpmEditChange[];
}

/** Options of {@link editFpmConfig}. */
export interface EditFpmConfigOptions {
  /** Name of the file for messages. @default 'php-fpm.conf' */
  path?: string | undefined;
  /**
   * The section in force at the top of the file: `global` for the main file, or the section
   * an `include` line is in for an included file. @default 'global'
   */
  initialSection?: string | undefined;
  /**
   * The section in force after each `include` line (by 1-based line number), as the files it
   * includes leave it. Lines after an include the map does not cover belong to no known
   * section and are never edited. @default none
   */
  sectionsAfterInclude?: ReadonlyMap<number, string> | undefined;
  /**
   * Append a new section at the end of the file for a section the file lacks. Only safe for
   * the main file: in an included file the new header would change the section of whatever
   * follows the include. @default false
   */
  createSections?: boolean | undefined;
  /** Environment for `${NAME}` in section names and values, as the master has it. @default {} */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Let values contain `$pool`, which FPM replaces with the pool name. @default false */
  allowPoolVariable?: boolean | undefined;
}

// ---------------------------------------------------------------------------------------------
// Directive names

/** What an edit names, resolved against FPM's directive table. */
export type FpmEditTarget =
  | { kind: 'scalar'; directive: FpmDirective; name: string }
  | { kind: 'array'; directive: FpmDirective; name: string; key: string }
  | { kind: 'list'; directive: FpmDirective; name: 'access.suppress_path' };

const ARRAY_MODEL_NAMES: Record<string, string> = {
  env: 'env',
  phpValue: 'php_value',
  phpAdminValue: 'php_admin_value',
  phpFlag: 'php_flag',
  phpAdminFlag: 'php_admin_flag',
};
const POOL_NAME_RE = /^[A-Za-z0-9_.@+-]+$/;
const INI_KEY_RE = /^[A-Za-z0-9_.-]+$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** True for the `[global]` section name, which FPM compares without case. */
export function isGlobalSection(name: string): boolean {
  return name.toLowerCase() === 'global';
}

/** FPM's name for a target: `pm.max_children`, `php_value[memory_limit]`, `access.suppress_path[]`. */
export function targetName(target: FpmEditTarget): string {
  if (target.kind === 'scalar') return target.name;
  if (target.kind === 'list') return 'access.suppress_path[]';
  return `${target.name}[${target.key}]`;
}

/**
 * Resolves a directive name (FPM's, or the model path) for a section; throws
 * `FpmkitInvalidOptionError` naming `option` for an unknown one.
 */
export function resolveFpmEditTarget(
  section: string,
  directive: string,
  option = 'directive',
): FpmEditTarget {
  const global = isGlobalSection(section);
  const kind = global ? 'global' : 'pool';
  const arrayMatch = /^([A-Za-z_.]+)\[(.*)\]$/s.exec(directive);
  const array = (name: string, key: string): FpmEditTarget => {
    const row = FPM_ARRAY_DIRECTIVES.find((d) => d.name === name);
    if (!row) throw new FpmkitInvalidOptionError(option, `unknown array directive '${name}[]'`);
    if (global) {
      throw new FpmkitInvalidOptionError(
        option,
        `'${name}[...]' belongs in a pool section, not [global]`,
      );
    }
    if (name === 'access.suppress_path') {
      if (key !== '') {
        throw new FpmkitInvalidOptionError(
          option,
          "access.suppress_path takes no key: write 'access.suppress_path[]'",
        );
      }
      return { kind: 'list', directive: row, name };
    }
    if (key === '') throw new FpmkitInvalidOptionError(option, `'${name}[]' needs a key`);
    return { kind: 'array', directive: row, name, key };
  };
  if (arrayMatch) return array(arrayMatch[1]!, arrayMatch[2]!);
  const scalar = findScalarDirective(kind, directive);
  if (scalar) return { kind: 'scalar', directive: scalar, name: scalar.name };
  const table = global ? FPM_GLOBAL_DIRECTIVES : FPM_POOL_DIRECTIVES;
  const byPath = table.find((d) => d.path.join('.') === directive);
  if (byPath) return { kind: 'scalar', directive: byPath, name: byPath.name };
  if (!global) {
    if (directive === 'access.suppressPaths') return array('access.suppress_path', '');
    const dot = directive.indexOf('.');
    const arrayName = dot > 0 ? ARRAY_MODEL_NAMES[directive.slice(0, dot)] : undefined;
    if (arrayName) return array(arrayName, directive.slice(dot + 1));
  }
  const other = findScalarDirective(global ? 'pool' : 'global', directive);
  throw new FpmkitInvalidOptionError(
    option,
    other
      ? `'${other.name}' belongs in ${global ? 'a pool section' : 'the [global] section'}`
      : `unknown ${global ? '[global]' : 'pool'} directive '${directive}'`,
  );
}

/** Whether a scanned statement sets the target (array siblings php_value/php_flag count with `family`). */
export function statementMatches(
  st: IniStatement,
  target: FpmEditTarget,
  kind: 'global' | 'pool',
  family = false,
): boolean {
  if (target.kind === 'scalar') {
    return st.kind === 'entry' && findScalarDirective(kind, st.name)?.name === target.name;
  }
  if (st.kind !== 'array') return false;
  if (target.kind === 'list') return st.name === 'access.suppress_path';
  if (st.key !== target.key) return false;
  if (st.name === target.name) return true;
  return (
    family &&
    arrayFamily(st.name) !== undefined &&
    arrayFamily(st.name) === arrayFamily(target.name)
  );
}

/** php_value and php_flag set the same ini entry; so do the admin pair. */
function arrayFamily(name: string): string | undefined {
  if (name === 'php_value' || name === 'php_flag') return 'php';
  if (name === 'php_admin_value' || name === 'php_admin_flag') return 'php_admin';
  if (name === 'env') return 'env';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Values

/** A bare value FPM reads back as itself: no INI syntax, not a boolean word, not a constant. */
const BARE_RE = /^[A-Za-z0-9_./:@%+,-]+$/;
const BOOL_WORDS = new Set(['true', 'on', 'yes', 'false', 'off', 'no', 'none', 'null']);
const CONSTANT_LIKE = /^[A-Z_][A-Z0-9_]*$/;

function checkText(option: string, text: string, options: EditFpmConfigOptions): void {
  assertOneLineValue(option, text);
  if (!options.allowPoolVariable && text.includes('$pool')) {
    throw new FpmkitInvalidOptionError(
      option,
      "FPM replaces '$pool' with the pool name; pass allowPoolVariable to write it on purpose",
    );
  }
}

/** A string in FPM's dialect: bare when that reads back unchanged, else double-quoted. */
export function formatFpmString(text: string): string {
  if (
    BARE_RE.test(text) &&
    !BOOL_WORDS.has(text.toLowerCase()) &&
    !CONSTANT_LIKE.test(text) &&
    !text.includes('$')
  ) {
    return text;
  }
  return `"${text.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

const NO_ENV: IniScanContext = {
  variable: () => '',
  constant: (name) => phpConstantValue(name),
};

/** What FPM's INI scanner makes of `name = text` (undefined on a syntax error). */
function scannedValue(text: string): string | null | undefined {
  const r = scanIniLine(`x = ${text}`, NO_ENV);
  if (r.syntaxError || r.statements.length !== 1) return undefined;
  const st = r.statements[0]!;
  return st.kind === 'entry' ? st.value : undefined;
}

function typeError(option: string, rule: string): never {
  throw new FpmkitInvalidOptionError(option, rule);
}

/**
 * Formats a value for a directive in FPM's dialect and checks that FPM would accept it for
 * that directive's type (a number, a time, a boolean, one of the modes ...). Cross-directive
 * rules (spare servers within max children ...) are `checkFpmConfig`'s job.
 */
export function formatFpmEditValue(
  target: FpmEditTarget,
  value: FpmEditValue,
  option: string,
  options: EditFpmConfigOptions = {},
): string {
  const type = target.directive.type;
  const asText = (v: FpmEditValue): string => {
    if (typeof v === 'string') return v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) typeError(option, 'must be a finite number');
      return String(v);
    }
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
    return typeError(option, 'must be a string, number, boolean or list of strings');
  };
  let text: string;
  switch (type) {
    case 'integer': {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) {
        typeError(option, 'must be a whole number');
      }
      text = asText(value).trim();
      const r = parseFpmInteger(text);
      if (!r.ok || !/^[-+]?\d+$/.test(text)) typeError(option, `'${text}' is not an integer`);
      break;
    }
    case 'time':
      if (typeof value === 'number') {
        if (!Number.isSafeInteger(value)) typeError(option, 'must be whole seconds');
        text = formatFpmTime(value);
      } else {
        text = asText(value).trim();
        if (!/^-?\d+[smhd]?$/.test(text)) {
          typeError(option, `'${text}' is not an FPM time (digits with an optional s, m, h or d)`);
        }
      }
      break;
    case 'boolean':
    case 'flag_array': {
      if (typeof value === 'boolean')
        text = target.kind === 'scalar' ? (value ? 'yes' : 'no') : value ? 'on' : 'off';
      else {
        text = asText(value).trim();
        const scanned = scannedValue(text);
        if (scanned === undefined || scanned === null || !parseFpmBoolean(scanned).ok) {
          typeError(
            option,
            `'${text}' is not a boolean FPM reads (yes/no, on/off, true/false, 1/0)`,
          );
        }
      }
      break;
    }
    case 'octal':
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < 0 || value > 0o7777)
          typeError(option, 'must be a mode from 0 to 07777');
        text = formatOctalMode(value);
      } else {
        text = asText(value).trim();
        if (!/^[0-7]{1,5}$/.test(text)) typeError(option, `'${text}' is not an octal mode`);
      }
      break;
    case 'pm':
    case 'log_level':
    case 'syslog_facility': {
      text = asText(value).trim().toLowerCase();
      const allowed: readonly string[] =
        type === 'pm'
          ? PM_MODES
          : type === 'log_level'
            ? [...LOG_LEVELS, 'warn']
            : SYSLOG_FACILITIES;
      if (!allowed.includes(text)) typeError(option, `must be one of ${allowed.join(', ')}`);
      break;
    }
    case 'rlimit_core':
      text = asText(value).trim();
      if (text.toLowerCase() !== 'unlimited' && !/^\d+$/.test(text)) {
        typeError(option, "must be 'unlimited' or a whole number of bytes");
      }
      break;
    case 'extensions':
      text = Array.isArray(value) ? value.join(' ') : asText(value);
      break;
    default:
      text = asText(value);
  }
  checkText(option, text, options);
  if (type === 'array' && target.kind === 'array' && target.name === 'env' && text === '') {
    typeError(option, 'FPM refuses an empty env value');
  }
  if (target.kind === 'list' && !text.startsWith('/')) {
    typeError(option, "FPM requires a path starting with '/'");
  }
  const plainTypes = [
    'integer',
    'time',
    'boolean',
    'flag_array',
    'octal',
    'pm',
    'log_level',
    'syslog_facility',
    'rlimit_core',
  ];
  const formatted = plainTypes.includes(type) && BARE_RE.test(text) ? text : formatFpmString(text);
  const back = scannedValue(formatted);
  if (back === undefined)
    typeError(option, `cannot be written so that FPM reads it back: '${text}'`);
  if (!plainTypes.includes(type) && back !== text) {
    typeError(option, `cannot be written so that FPM reads it back unchanged: '${text}'`);
  }
  return formatted;
}

// ---------------------------------------------------------------------------------------------
// The document: lines, their scans and the sections they are in

interface Line extends EditLine {
  scan?: { statements: IniStatement[]; syntaxError?: string };
}

/** Section keys: `global`, a pool name in lower case, or UNKNOWN after an unmapped include. */
const UNKNOWN = '\u0000unknown';

interface Analysis {
  /** Per line: the section in force after the line. */
  after: string[];
  /** Per line: the section of each statement on it. */
  sections: string[][];
  /** Lines of each section's headers and statements. */
  present: Set<string>;
}

const BOM = '\uFEFF';

/** Splits text into lines as FPM does (on `\n`), keeping each line's ending. */
export function splitFpmLines(text: string): { text: string; eol: LineEnding }[] {
  return splitEditLines(text).map(({ text: t, eol }) => ({ text: t, eol }));
}

function envContext(env: Readonly<Record<string, string | undefined>>): IniScanContext {
  return {
    variable: (name) => (Object.hasOwn(env, name) ? (env[name] ?? '') : ''),
    constant: NO_ENV.constant,
  };
}

/**
 * Scans one physical line. PHP's INI scanner eats a UTF-8 byte order mark at the start of the
 * string it is given, and FPM gives it one line at a time.
 */
export function scanFpmLine(
  text: string,
  ctx: IniScanContext,
): { statements: IniStatement[]; syntaxError?: string } {
  return scanIniLine(text.startsWith(BOM) ? text.slice(1) : text, ctx);
}

const sectionKey = (name: string) => (isGlobalSection(name) ? 'global' : name.toLowerCase());

class Doc {
  lines: Line[];
  readonly ctx: IniScanContext;
  constructor(
    text: string,
    readonly options: EditFpmConfigOptions,
  ) {
    this.lines = splitEditLines(text);
    this.ctx = envContext(options.env ?? {});
  }
  scan(line: Line) {
    line.scan ??= scanFpmLine(line.text, this.ctx);
    return line.scan;
  }
  analyze(): Analysis {
    let current = sectionKey(this.options.initialSection ?? 'global');
    const after: string[] = [];
    const sections: string[][] = [];
    const present = new Set<string>();
    for (const line of this.lines) {
      const { statements } = this.scan(line);
      const own: string[] = [];
      for (const st of statements) {
        if (st.kind === 'section') {
          current = sectionKey(st.name);
          present.add(current);
        } else {
          present.add(current);
          if (st.kind === 'entry' && st.name === 'include') {
            own.push(current);
            const next =
              line.before !== undefined
                ? this.options.sectionsAfterInclude?.get(line.before)
                : undefined;
            current = next === undefined ? UNKNOWN : sectionKey(next);
            continue;
          }
        }
        own.push(current);
      }
      sections.push(own);
      after.push(current);
    }
    return { after, sections, present };
  }
  /** Inserts lines after index `at` (-1: at the top), keeping a missing final newline missing. */
  insertAfter(at: number, texts: string[]): Line[] {
    return insertLinesAfter(this.lines, at, texts);
  }
}

// ---------------------------------------------------------------------------------------------
// Rewriting one line

/** End of the key of `name[key]` starting at `open` (the `[`), honouring quotes and escapes. */
function closeBracket(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close > i) i = close;
    } else if (c === ']') return i;
  }
  return -1;
}

/** Start of a trailing `;` comment in a value, outside quotes; -1 when none. */
function commentStart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === ';') return i;
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close > i) i = close;
    }
  }
  return -1;
}

/**
 * The line with its value replaced, keeping indentation, the name as written, the spacing
 * around `=` and a trailing comment; undefined when the line's shape is not that simple.
 */
function replaceValue(text: string, isArray: boolean, formatted: string): string | undefined {
  let eq: number;
  if (isArray) {
    const open = text.indexOf('[');
    const close = open < 0 ? -1 : closeBracket(text, open);
    if (close < 0) return undefined;
    eq = text.indexOf('=', close);
  } else {
    eq = text.indexOf('=');
  }
  if (eq < 0) return undefined;
  let start = eq + 1;
  while (text[start] === ' ' || text[start] === '\t') start++;
  const comment = commentStart(text, start);
  let end = comment < 0 ? text.length : comment;
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  const tail = text.slice(end);
  // A comment right after the value needs a blank between them to stay a comment.
  const sep = tail.startsWith(';') ? ' ' : '';
  return `${text.slice(0, start)}${formatted}${sep}${tail}`;
}

function indentOf(text: string): string {
  return /^[ \t]*/.exec(text.startsWith(BOM) ? text.slice(1) : text)![0];
}

/** The file's spacing around `=`, taken from a directive line near `at`. */
function assignStyle(doc: Doc, at: number): string {
  for (let d = 0; d < doc.lines.length; d++) {
    for (const i of [at - d, at + d]) {
      const line = doc.lines[i];
      if (!line) continue;
      const sts = doc.scan(line).statements;
      if (sts.length !== 1 || sts[0]!.kind === 'section') continue;
      const m = /^[ \t]*[^=;[ \t]+(?:\[[^\]]*\])?([ \t]*)=([ \t]*)\S/.exec(
        line.text.replace(BOM, ''),
      );
      if (m) return `${m[1]}=${m[2]}`;
    }
  }
  return ' = ';
}

/** The group a directive belongs to for placement: `pm` for `pm.*`, `php` for `php_value[...]`. */
function groupOf(name: string): string {
  return /^[a-z]+/i.exec(name)?.[0]?.toLowerCase() ?? name;
}

// ---------------------------------------------------------------------------------------------
// The editor

interface Pending {
  change: FpmEditChange;
  after: Line[];
}

function syntaxCheck(doc: Doc, path: string): void {
  for (const line of doc.lines) {
    const { syntaxError } = doc.scan(line);
    if (syntaxError) {
      throw new FpmkitParseError(`${syntaxError}; fix the file before editing it`, {
        source: path,
        line: line.before,
        lineText: line.text,
      });
    }
  }
}

/** Where a new directive goes in a section, or undefined when the file does not hold it. */
function insertionPoint(
  doc: Doc,
  analysis: Analysis,
  section: string,
  target: FpmEditTarget,
): { at: number; indentFrom: number } | undefined {
  let example = -1;
  let group = -1;
  let last = -1;
  let lastDirective = -1;
  const bare = targetName(target);
  const escaped = bare.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const exampleRe = new RegExp(
    `^[ \\t]*;+[ \\t]*${escaped}[ \\t]*=`,
    target.kind === 'scalar' ? 'i' : '',
  );
  // An example of the same array with another key (`;env[TMP] = /tmp`) is the next best spot.
  let sibling = -1;
  const siblingRe =
    target.kind === 'array'
      ? new RegExp(`^[ \\t]*;+[ \\t]*${target.name}\\[[^\\]]*\\][ \\t]*=`)
      : undefined;
  const wanted = groupOf(target.name);
  let previous = sectionKey(doc.options.initialSection ?? 'global');
  for (const [i, line] of doc.lines.entries()) {
    const sts = doc.scan(line).statements;
    const start = previous;
    const now = analysis.after[i]!;
    previous = now;
    if (sts.length === 0) {
      if (start !== section) continue;
      const text = line.text.replace(BOM, '');
      if (exampleRe.test(text)) example = i;
      else if (siblingRe?.test(text)) sibling = i;
      continue;
    }
    if (now !== section) continue;
    last = i;
    const own = analysis.sections[i]!;
    const directives = sts.filter(
      (st, k) =>
        st.kind !== 'section' &&
        own[k] === section &&
        !(st.kind === 'entry' && st.name === 'include'),
    );
    if (directives.length === 0) continue;
    lastDirective = i;
    if (directives.some((st) => st.kind !== 'section' && groupOf(st.name) === wanted)) group = i;
  }
  if (example >= 0) return { at: example, indentFrom: group >= 0 ? group : lastDirective };
  if (group >= 0) return { at: group, indentFrom: group };
  if (sibling >= 0) return { at: sibling, indentFrom: lastDirective };
  if (last >= 0) return { at: last, indentFrom: lastDirective };
  return undefined;
}

function applySet(
  doc: Doc,
  index: number,
  edit: FpmEdit & { remove?: false },
  target: FpmEditTarget,
  section: string,
  options: EditFpmConfigOptions,
): Pending {
  const name = targetName(target);
  const option = `${edit.section}.${name}`;
  const formatted = formatFpmEditValue(target, edit.value, option, options);
  const lineText = `${target.kind === 'list' ? 'access.suppress_path[]' : name}`;
  if (target.kind === 'array') {
    const keyRe = target.name === 'env' ? ENV_KEY_RE : INI_KEY_RE;
    if (!keyRe.test(target.key)) {
      throw new FpmkitInvalidOptionError(option, `the key must match ${keyRe} to be written`);
    }
  }
  const kind = section === 'global' ? 'global' : 'pool';
  const analysis = doc.analyze();
  const occurrences: number[] = [];
  for (const [i, line] of doc.lines.entries()) {
    const sts = doc.scan(line).statements;
    sts.forEach((st, k) => {
      if (analysis.sections[i]![k] === section && statementMatches(st, target, kind, true)) {
        if (occurrences[occurrences.length - 1] !== i) occurrences.push(i);
      }
    });
  }
  const change: FpmEditChange = {
    edit: index,
    section: edit.section,
    directive: name,
    action: 'set',
    linesBefore: [],
    linesAfter: [],
  };
  const wantedValue = scannedValue(formatted);
  if (target.kind === 'list') {
    const same = occurrences.find((i) =>
      doc
        .scan(doc.lines[i]!)
        .statements.some(
          (st) =>
            st.kind === 'array' && st.name === 'access.suppress_path' && st.value === wantedValue,
        ),
    );
    if (same !== undefined) {
      change.action = 'unchanged';
      change.linesBefore = doc.lines[same]!.before ? [doc.lines[same]!.before!] : [];
      return { change, after: [doc.lines[same]!] };
    }
    occurrences.length = 0;
  }
  if (occurrences.length > 0) {
    // FPM keeps the last value of a scalar and the first entry of an array key.
    const effective =
      target.kind === 'scalar' ? occurrences[occurrences.length - 1]! : occurrences[0]!;
    const line = doc.lines[effective]!;
    const sts = doc.scan(line).statements;
    change.linesBefore = line.before ? [line.before] : [];
    const others = occurrences.filter((i) => i !== effective).map((i) => doc.lines[i]!.before);
    if (others.length > 0) {
      change.shadowed = others.filter((n): n is number => n !== undefined);
      change.note =
        target.kind === 'scalar'
          ? `set ${occurrences.length} times in [${edit.section}]; changed the last one, which FPM uses`
          : `set ${occurrences.length} times in [${edit.section}]; changed the first one, which FPM uses`;
    }
    if (sts.length !== 1) {
      throw new FpmkitInvalidOptionError(
        option,
        `line ${line.before ?? '?'} holds more than one statement; edit it by hand first`,
      );
    }
    const st = sts[0]!;
    const sameName = st.kind === 'array' ? st.name === (target as { name: string }).name : true;
    if (sameName && st.kind !== 'section' && st.value === wantedValue) {
      change.action = 'unchanged';
      return { change, after: [line] };
    }
    const replaced = sameName ? replaceValue(line.text, st.kind === 'array', formatted) : undefined;
    const fresh = `${line.text.startsWith(BOM) ? BOM : ''}${indentOf(line.text)}${lineText}${assignStyle(doc, effective)}${formatted}`;
    let next = replaced;
    if (next === undefined || !sameStatement(doc, next, st, target, wantedValue)) next = fresh;
    if (!sameStatement(doc, next, st, target, wantedValue)) {
      throw new FpmkitInvalidOptionError(
        option,
        `cannot rewrite line ${line.before ?? '?'} safely`,
      );
    }
    change.oldText = [line.text];
    change.newText = next;
    line.text = next;
    delete line.scan;
    return { change, after: [line] };
  }
  const point = analysis.present.has(section)
    ? insertionPoint(doc, analysis, section, target)
    : undefined;
  const newLine = (indentFrom: number, styleAt: number) =>
    `${indentFrom >= 0 ? indentOf(doc.lines[indentFrom]!.text) : ''}${lineText}${assignStyle(doc, styleAt)}${formatted}`;
  if (point) {
    const text = newLine(point.indentFrom, point.at);
    const added = doc.insertAfter(point.at, [text]);
    change.action = 'add';
    change.newText = text;
    return { change, after: added };
  }
  if (!options.createSections) {
    throw new FpmkitInvalidOptionError(
      `${edit.section}`,
      `section [${edit.section}] is not in ${options.path ?? 'the file'}; pass createSections to append it`,
    );
  }
  if (section !== 'global' && !POOL_NAME_RE.test(edit.section)) {
    throw new FpmkitInvalidOptionError(
      'section',
      'a new pool name is letters, digits and _ . @ + - only',
    );
  }
  const last = doc.lines.length - 1;
  const lastLine = doc.lines[last];
  const blank = lastLine && lastLine.text.trim() !== '' ? [''] : [];
  const text = `${lineText}${assignStyle(doc, last)}${formatted}`;
  const lines = [...blank, `[${edit.section}]`, text];
  const added = doc.insertAfter(last, lines);
  change.action = 'add-section';
  change.newText = text;
  return { change, after: added.slice(-1) };
}

function sameStatement(
  doc: Doc,
  text: string,
  old: IniStatement,
  target: FpmEditTarget,
  wantedValue: string | null | undefined,
): boolean {
  const r = scanFpmLine(text, doc.ctx);
  if (r.syntaxError || r.statements.length !== 1) return false;
  const st = r.statements[0]!;
  if (st.kind === 'section' || st.value !== wantedValue) return false;
  if (target.kind === 'scalar')
    return st.kind === 'entry' && old.kind === 'entry' && st.name === old.name;
  return (
    st.kind === 'array' &&
    st.name === target.name &&
    (target.kind === 'list' || st.key === target.key)
  );
}

function applyRemove(
  doc: Doc,
  index: number,
  edit: FpmEdit,
  target: FpmEditTarget,
  section: string,
): Pending {
  const name = targetName(target);
  const kind = section === 'global' ? 'global' : 'pool';
  const analysis = doc.analyze();
  const change: FpmEditChange = {
    edit: index,
    section: edit.section,
    directive: name,
    action: 'remove',
    linesBefore: [],
    linesAfter: [],
    oldText: [],
  };
  const removeValue = target.kind === 'list' && edit.remove ? edit.value : undefined;
  const doomed: number[] = [];
  for (const [i, line] of doc.lines.entries()) {
    const sts = doc.scan(line).statements;
    const hits = sts.filter(
      (st, k) =>
        analysis.sections[i]![k] === section &&
        statementMatches(st, target, kind) &&
        (removeValue === undefined || (st.kind === 'array' && st.value === removeValue)),
    );
    if (hits.length === 0) continue;
    if (sts.length !== 1) {
      throw new FpmkitInvalidOptionError(
        `${edit.section}.${name}`,
        `line ${line.before ?? '?'} holds more than one statement; edit it by hand first`,
      );
    }
    doomed.push(i);
  }
  if (doomed.length === 0) {
    change.action = 'absent';
    delete change.oldText;
    return { change, after: [] };
  }
  for (const i of doomed) {
    const line = doc.lines[i]!;
    if (line.before !== undefined) change.linesBefore.push(line.before);
    change.oldText!.push(line.text);
  }
  for (const i of doomed.reverse()) removeLineAt(doc.lines, i);
  return { change, after: [] };
}

/**
 * Sets, adds or removes directives in one FPM configuration file, keeping every other byte:
 * comments, blank lines, order, quoting, `include` lines, CRLF or LF endings, a missing final
 * newline and a byte order mark.
 *
 * - Setting a directive rewrites the line FPM uses (the last one of a scalar, the first one of
 *   an array key) in place: indentation, spacing and a trailing comment stay. Other lines that
 *   set it are left alone and listed in `shadowed`.
 * - A directive the section lacks is added after a commented-out example of it (`;pm.max_requests
 *   = 500`), else after the last directive of its group (`pm.*` with `pm.*`), else after the
 *   section's last directive, before trailing comments and blank lines. A section the file
 *   lacks is appended when `createSections` is set.
 * - Removing deletes every line that sets the directive in that section.
 *
 * Values are written in FPM's dialect (bare when safe, else double-quoted with `\`, `"` and `$`
 * escaped). Unknown directives, values FPM would refuse for the directive's type, line breaks,
 * NUL bytes and unpaired surrogates throw `FpmkitInvalidOptionError` naming the directive; a
 * file with an INI syntax error throws `FpmkitParseError`. Pure: no I/O.
 *
 * @example
 * const { text, changes } = editFpmConfig(stock, [
 *   { section: 'www', directive: 'pm.max_children', value: 20 },
 *   { section: 'www', directive: 'php_admin_value[memory_limit]', value: '256M' },
 * ]);
 */
export function editFpmConfig(
  text: string,
  edits: readonly FpmEdit[],
  options: EditFpmConfigOptions = {},
): EditFpmConfigResult {
  if (typeof text !== 'string') {
    throw new FpmkitInvalidOptionError('text', 'must be the configuration text as a string');
  }
  if (!Array.isArray(edits)) throw new FpmkitInvalidOptionError('edits', 'must be an array');
  if (edits.length === 0) return { text, changes: [] };
  const doc = new Doc(text, options);
  syntaxCheck(doc, options.path ?? 'php-fpm.conf');
  const seen = new Set<string>();
  const resolved = edits.map((edit, i) => {
    if (
      edit === null ||
      typeof edit !== 'object' ||
      typeof edit.section !== 'string' ||
      typeof edit.directive !== 'string'
    ) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}]`,
        'must be { section, directive, value } or { section, directive, remove: true }',
      );
    }
    if (edit.section === '' || /[\n\r\0\]]/.test(edit.section)) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}].section`,
        'must be a section name on one line without ]',
      );
    }
    const target = resolveFpmEditTarget(edit.section, edit.directive, `edits[${i}].directive`);
    if (!edit.remove && edit.value === undefined) {
      throw new FpmkitInvalidOptionError(`edits[${i}].value`, 'is required unless remove is true');
    }
    const key = `${sectionKey(edit.section)}\u0000${target.kind === 'scalar' ? target.name : targetName(target)}\u0000${target.kind === 'list' ? String(edit.value) : ''}`;
    if (seen.has(key)) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}]`,
        `edits ${targetName(target)} in [${edit.section}] twice`,
      );
    }
    seen.add(key);
    return { edit, target, section: sectionKey(edit.section) };
  });
  const pending: Pending[] = [];
  for (const [i, { edit, target, section }] of resolved.entries()) {
    pending.push(
      edit.remove
        ? applyRemove(doc, i, edit, target, section)
        : applySet(doc, i, edit as FpmEdit & { remove?: false }, target, section, options),
    );
  }
  return finishEdits(text, doc.lines, pending);
}
