import {
  assertOneLineValue,
  type EditLine,
  finishEdits,
  insertLinesAfter,
  removeLineAt,
  splitEditLines,
} from '../edit-lines.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import { normalizeSysctlKey } from './sysctl.js';

/**
 * In-place editing of the two kinds of file fpmkit writes beside FPM's own: sysctl.d files
 * (`key = value`, `#` and `;` comments, a `-` prefix that tells sysctl to ignore a failure) and
 * systemd drop-ins (`[Service]` sections, `Key=Value`, `#`/`;` comments, `\` continuations).
 * Every byte an edit does not name is kept, line endings and a missing final newline included.
 */

type Line = EditLine;

/** A value every reader here reads back as written: one line, no NUL, no surrounding blanks. */
function checkValue(option: string, value: string): void {
  assertOneLineValue(option, value);
  if (value !== value.trim() || value === '') {
    throw new FpmkitInvalidOptionError(
      option,
      'the value must be non-empty without leading or trailing white space (the reader strips it)',
    );
  }
}

/** The lines of `text` to edit, or undefined when there is no edit; refuses other types. */
function linesToEdit(text: unknown, edits: unknown): Line[] | undefined {
  if (typeof text !== 'string') throw new FpmkitInvalidOptionError('text', 'must be a string');
  if (!Array.isArray(edits)) throw new FpmkitInvalidOptionError('edits', 'must be an array');
  return edits.length === 0 ? undefined : splitEditLines(text);
}

/** What one edit did, with 1-based line numbers before and after all edits. */
export interface KeyValueEditChange {
  edit: number;
  key: string;
  /** As for FPM files: `set`, `add`, `add-section`, `remove`, `unchanged`, `absent`. */
  action: 'set' | 'add' | 'add-section' | 'remove' | 'unchanged' | 'absent';
  linesBefore: number[];
  linesAfter: number[];
  oldText?: string[];
  newText?: string;
  /** Earlier lines for the same key that the later one overrides. */
  shadowed?: number[];
}

/** The edited text of a `key = value` file, with each change made. */
export interface KeyValueEditResult {
  text: string;
  changes: KeyValueEditChange[];
}

// ---------------------------------------------------------------------------------------------
// sysctl.d

/** One change to a sysctl.d file: set `key` to `value`, or remove every line for it. */
export type SysctlEdit =
  | { key: string; value: string | number; remove?: false }
  | { key: string; remove: true };

/** A key sysctl.d accepts: dotted or slashed, no blanks, no `=`, not starting a comment. */
const SYSCTL_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_./:@+-]*$/;

interface SysctlLine {
  key: string;
  /** Offsets of the value within the line text. */
  valueStart: number;
  valueEnd: number;
  value: string;
}

function scanSysctlLine(text: string): SysctlLine | undefined {
  const trimmed = text.trimStart();
  if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return undefined;
  const eq = text.indexOf('=');
  if (eq < 0) return undefined;
  let key = text.slice(0, eq).trim();
  if (key.startsWith('-')) key = key.slice(1).trim();
  if (key === '' || /\s/.test(key)) return undefined;
  let valueStart = eq + 1;
  while (valueStart < text.length && /\s/.test(text[valueStart]!)) valueStart++;
  let valueEnd = text.length;
  while (valueEnd > valueStart && /\s/.test(text[valueEnd - 1]!)) valueEnd--;
  return {
    key: normalizeSysctlKey(key),
    valueStart,
    valueEnd,
    value: text.slice(valueStart, valueEnd),
  };
}

/** The first dotted component pair (`net.core`), which groups related settings. */
const sysctlGroup = (key: string) => key.split('.').slice(0, 2).join('.');

/**
 * Sets, adds or removes keys in a sysctl.d file (sysctl.d(5)), keeping every other byte.
 * Setting rewrites the last line for the key (the one that wins), keeping its `-` prefix and
 * spacing; a new key goes after a commented-out example of it, else after the last key of the
 * same group (`net.core.*`), else after the last setting. Keys are compared after the `/` to
 * `.` normalisation sysctl applies. Values with a line break, NUL, an unpaired surrogate or
 * surrounding white space, and malformed keys, throw `FpmkitInvalidOptionError`.
 *
 * @example
 * editSysctlConf(text, [{ key: 'net.core.somaxconn', value: 4096 }]);
 */
export function editSysctlConf(text: string, edits: readonly SysctlEdit[]): KeyValueEditResult {
  const lines = linesToEdit(text, edits);
  if (lines === undefined) return { text, changes: [] };
  const pending: { change: KeyValueEditChange; after: Line[] }[] = [];
  const seen = new Set<string>();
  for (const [i, edit] of edits.entries()) {
    if (
      edit === null ||
      typeof edit !== 'object' ||
      typeof edit.key !== 'string' ||
      !SYSCTL_KEY_RE.test(edit.key)
    ) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}].key`,
        'must be a sysctl name such as net.core.somaxconn',
      );
    }
    const key = normalizeSysctlKey(edit.key);
    if (seen.has(key)) throw new FpmkitInvalidOptionError(`edits[${i}]`, `edits ${key} twice`);
    seen.add(key);
    const change: KeyValueEditChange = {
      edit: i,
      key,
      action: 'set',
      linesBefore: [],
      linesAfter: [],
    };
    const hits = lines.flatMap((l, n) => (scanSysctlLine(l.text)?.key === key ? [n] : []));
    if (edit.remove) {
      if (hits.length === 0) change.action = 'absent';
      else {
        change.action = 'remove';
        change.linesBefore = hits
          .map((n) => lines[n]!.before)
          .filter((n): n is number => n !== undefined);
        change.oldText = hits.map((n) => lines[n]!.text);
        for (const n of [...hits].reverse()) removeLineAt(lines, n);
      }
      pending.push({ change, after: [] });
      continue;
    }
    if (typeof edit.value === 'number' && !Number.isFinite(edit.value)) {
      throw new FpmkitInvalidOptionError(key, 'must be a finite number');
    }
    const value = String(edit.value);
    checkValue(key, value);
    if (hits.length > 0) {
      const n = hits[hits.length - 1]!;
      const line = lines[n]!;
      const scanned = scanSysctlLine(line.text)!;
      change.linesBefore = line.before ? [line.before] : [];
      if (hits.length > 1) {
        change.shadowed = hits
          .slice(0, -1)
          .map((h) => lines[h]!.before)
          .filter((b): b is number => b !== undefined);
      }
      if (scanned.value === value) change.action = 'unchanged';
      else {
        change.oldText = [line.text];
        line.text = `${line.text.slice(0, scanned.valueStart)}${value}${line.text.slice(scanned.valueEnd)}`;
        change.newText = line.text;
      }
      pending.push({ change, after: [line] });
      continue;
    }
    let example = -1;
    let group = -1;
    let last = -1;
    const escaped = key.replace(/[.*+?^${}()|[\]\\/]/g, (c) =>
      c === '.' || c === '/' ? '[./]' : `\\${c}`,
    );
    const exampleRe = new RegExp(`^\\s*[#;]+\\s*-?${escaped}\\s*=`);
    for (const [n, l] of lines.entries()) {
      const s = scanSysctlLine(l.text);
      if (!s) {
        if (exampleRe.test(l.text)) example = n;
        continue;
      }
      last = n;
      if (sysctlGroup(s.key) === sysctlGroup(key)) group = n;
    }
    const at = example >= 0 ? example : group >= 0 ? group : last >= 0 ? last : lines.length - 1;
    const style = lines.find((l) => scanSysctlLine(l.text))?.text.match(/(\s*)=(\s*)/);
    const newText = `${key}${style ? `${style[1]}=${style[2]}` : ' = '}${value}`;
    change.action = 'add';
    change.newText = newText;
    pending.push({ change, after: insertLinesAfter(lines, at, [newText]) });
  }
  return finishEdits(text, lines, pending);
}

// ---------------------------------------------------------------------------------------------
// systemd drop-ins

/** One change to a systemd unit or drop-in: `[section] key=value`, or remove the key there. */
export type SystemdEdit =
  | {
      /** @default 'Service' */
      section?: string;
      key: string;
      value: string | number;
      remove?: false;
    }
  | { section?: string; key: string; remove: true };

const SYSTEMD_KEY_RE = /^[A-Za-z][A-Za-z0-9_-]*$/;
const SYSTEMD_SECTION_RE = /^[A-Za-z][A-Za-z0-9 _.-]*$/;

interface UnitEntry {
  /** Index of the first physical line and how many lines (continuations) it spans. */
  index: number;
  span: number;
  section: string | undefined;
  key: string;
  value: string;
}

/** The entries of a unit file with their sections (systemd.syntax(7)). */
function scanUnit(lines: readonly Line[]): {
  entries: UnitEntry[];
  headers: Map<string, number[]>;
} {
  const entries: UnitEntry[] = [];
  const headers = new Map<string, number[]>();
  let section: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.text.trim();
    if (text === '' || text.startsWith('#') || text.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(text);
    if (header) {
      section = header[1]!;
      headers.set(section, [...(headers.get(section) ?? []), i]);
      continue;
    }
    let span = 1;
    let full = text;
    while (full.endsWith('\\') && i + span < lines.length) {
      full = `${full.slice(0, -1)} ${lines[i + span]!.text.trim()}`;
      span++;
    }
    const eq = full.indexOf('=');
    if (eq > 0) {
      entries.push({
        index: i,
        span,
        section,
        key: full.slice(0, eq).trim(),
        value: full.slice(eq + 1).trim(),
      });
    }
    i += span - 1;
  }
  return { entries, headers };
}

/** `LimitNOFILE` → `Limit`: keys of one family go together. */
const unitGroup = (key: string) => /^[A-Z][a-z]+/.exec(key)?.[0] ?? key;

/**
 * Sets, adds or removes keys in a systemd unit file or drop-in (`[Service]` by default),
 * keeping every other byte. Setting rewrites the last assignment of the key in that section
 * (the one systemd keeps for single-value settings such as `LimitNOFILE=`), joining a
 * `\`-continued value onto one line; a new key goes after the last key of its family
 * (`Limit*`), else at the end of the section; a missing section is appended. Values with a
 * line break, NUL, an unpaired surrogate, surrounding white space or a trailing backslash throw
 * `FpmkitInvalidOptionError`, as do malformed keys and section names.
 *
 * @example
 * editSystemdDropIn(text, [{ key: 'LimitNOFILE', value: 65536 }]);
 */
export function editSystemdDropIn(text: string, edits: readonly SystemdEdit[]): KeyValueEditResult {
  const lines = linesToEdit(text, edits);
  if (lines === undefined) return { text, changes: [] };
  const pending: { change: KeyValueEditChange; after: Line[] }[] = [];
  const seen = new Set<string>();
  for (const [i, edit] of edits.entries()) {
    const section = edit?.section ?? 'Service';
    if (typeof section !== 'string' || !SYSTEMD_SECTION_RE.test(section)) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}].section`,
        'must be a section name such as Service',
      );
    }
    if (typeof edit.key !== 'string' || !SYSTEMD_KEY_RE.test(edit.key)) {
      throw new FpmkitInvalidOptionError(
        `edits[${i}].key`,
        'must be a setting name such as LimitNOFILE',
      );
    }
    const id = `${section}\u0000${edit.key}`;
    if (seen.has(id)) throw new FpmkitInvalidOptionError(`edits[${i}]`, `edits ${edit.key} twice`);
    seen.add(id);
    const change: KeyValueEditChange = {
      edit: i,
      key: edit.key,
      action: 'set',
      linesBefore: [],
      linesAfter: [],
    };
    const { entries, headers } = scanUnit(lines);
    const hits = entries.filter((e) => e.section === section && e.key === edit.key);
    const numbersOf = (e: UnitEntry) =>
      lines
        .slice(e.index, e.index + e.span)
        .map((l) => l.before)
        .filter((n): n is number => n !== undefined);
    if (edit.remove) {
      if (hits.length === 0) change.action = 'absent';
      else {
        change.action = 'remove';
        for (const e of hits) {
          change.linesBefore.push(...numbersOf(e));
          change.oldText = [
            ...(change.oldText ?? []),
            ...lines.slice(e.index, e.index + e.span).map((l) => l.text),
          ];
        }
        for (const e of [...hits].reverse())
          for (let k = e.span - 1; k >= 0; k--) removeLineAt(lines, e.index + k);
      }
      pending.push({ change, after: [] });
      continue;
    }
    const option = `${section}.${edit.key}`;
    if (typeof edit.value === 'number' && !Number.isFinite(edit.value)) {
      throw new FpmkitInvalidOptionError(option, 'must be a finite number');
    }
    const value = String(edit.value);
    checkValue(option, value);
    if (value.endsWith('\\')) {
      throw new FpmkitInvalidOptionError(option, 'a trailing backslash would continue the line');
    }
    if (hits.length > 0) {
      const e = hits[hits.length - 1]!;
      change.linesBefore = numbersOf(e);
      if (hits.length > 1) change.shadowed = hits.slice(0, -1).flatMap(numbersOf);
      if (e.value === value) {
        change.action = 'unchanged';
        pending.push({ change, after: [lines[e.index]!] });
        continue;
      }
      const first = lines[e.index]!;
      change.oldText = lines.slice(e.index, e.index + e.span).map((l) => l.text);
      const eq = first.text.indexOf('=');
      let start = eq + 1;
      while (first.text[start] === ' ' || first.text[start] === '\t') start++;
      first.text = `${first.text.slice(0, start)}${value}`;
      change.newText = first.text;
      if (e.span > 1) {
        const lastEol = lines[e.index + e.span - 1]!.eol;
        lines.splice(e.index + 1, e.span - 1);
        first.eol = lastEol;
      }
      pending.push({ change, after: [first] });
      continue;
    }
    const newText = `${edit.key}=${value}`;
    change.newText = newText;
    const inSection = entries.filter((e) => e.section === section);
    const family = inSection.filter((e) => unitGroup(e.key) === unitGroup(edit.key));
    const anchor = family[family.length - 1] ?? inSection[inSection.length - 1];
    const header = headers.get(section);
    if (anchor || header) {
      const at = anchor ? anchor.index + anchor.span - 1 : header![header!.length - 1]!;
      change.action = 'add';
      pending.push({ change, after: insertLinesAfter(lines, at, [newText]) });
      continue;
    }
    const last = lines[lines.length - 1];
    const blank = last && last.text.trim() !== '' ? [''] : [];
    change.action = 'add-section';
    const added = insertLinesAfter(lines, lines.length - 1, [...blank, `[${section}]`, newText]);
    pending.push({ change, after: added.slice(-1) });
  }
  return finishEdits(text, lines, pending);
}
