import { FpmkitInvalidOptionError } from './errors.js';

/**
 * The line-editing core the in-place editors share (FPM files in `fpm/edit.ts`, sysctl.d files
 * and systemd drop-ins in `kernel/edit-sysctl.ts`): a text split into physical lines that keep
 * their own endings, inserts and removals that keep a missing final newline missing, and the
 * renumbering of what each edit touched. Internal: not exported from any entry point.
 */

/** A line ending as found: none (the last line of a file without a final newline), LF or CRLF. */
export type LineEnding = '' | '\n' | '\r\n';

/** One physical line. */
export interface EditLine {
  /** Text without the line ending (a `\r` before `\n` belongs to the ending). */
  text: string;
  eol: LineEnding;
  /** 1-based line number in the input; undefined for inserted lines. */
  before?: number;
}

/** Splits text into physical lines on `\n`, keeping each line's ending and its input number. */
export function splitEditLines(text: string): EditLine[] {
  const out: EditLine[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      out.push({ text: text.slice(start), eol: '', before: out.length + 1 });
      break;
    }
    const crlf = nl > start && text.charCodeAt(nl - 1) === 13;
    out.push({
      text: text.slice(start, crlf ? nl - 1 : nl),
      eol: crlf ? '\r\n' : '\n',
      before: out.length + 1,
    });
    start = nl + 1;
  }
  return out;
}

/** The ending new lines get: the file's most common one, `\n` when it has none. */
export function dominantLineEnding(lines: readonly EditLine[]): '\n' | '\r\n' {
  let crlf = 0;
  let lf = 0;
  for (const l of lines) {
    if (l.eol === '\r\n') crlf++;
    else if (l.eol === '\n') lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
}

/**
 * Inserts lines after index `at` (-1: at the top) and returns them. New lines end as the line
 * they follow does; after a last line without an ending, the file's usual ending is added to it
 * and the last new line goes without one, so a missing final newline stays missing.
 */
export function insertLinesAfter<L extends EditLine>(
  lines: L[],
  at: number,
  texts: readonly string[],
): EditLine[] {
  const anchor = lines[at];
  if (!anchor && at >= 0) throw new FpmkitInvalidOptionError('at', 'internal: no such line');
  const eol = anchor?.eol || dominantLineEnding(lines);
  const added: EditLine[] = texts.map((text) => ({ text, eol }));
  if (anchor && anchor.eol === '') {
    anchor.eol = eol;
    added[added.length - 1]!.eol = '';
  }
  lines.splice(at + 1, 0, ...(added as L[]));
  return added;
}

/** Removes the line at `index`; when it was the last line without an ending, so is the new last. */
export function removeLineAt(lines: EditLine[], index: number): void {
  if (lines[index]!.eol === '' && index > 0 && lines[index - 1]) lines[index - 1]!.eol = '';
  lines.splice(index, 1);
}

/** What every editor's change records: its action and the lines it left, numbered after all edits. */
export interface EditedChange {
  action: 'set' | 'add' | 'add-section' | 'remove' | 'unchanged' | 'absent';
  linesAfter: number[];
}

/**
 * Numbers each change's lines as they stand after all edits and joins the lines back into text;
 * the input comes back as it was (the same string) when every edit was a no-op.
 */
export function finishEdits<C extends EditedChange>(
  text: string,
  lines: readonly EditLine[],
  pending: readonly { change: C; after: readonly EditLine[] }[],
): { text: string; changes: C[] } {
  const numbers = new Map<EditLine, number>();
  for (const [i, l] of lines.entries()) numbers.set(l, i + 1);
  for (const p of pending) {
    p.change.linesAfter = p.after
      .map((l) => numbers.get(l))
      .filter((n): n is number => n !== undefined);
  }
  const changed = pending.some(
    (p) => p.change.action !== 'unchanged' && p.change.action !== 'absent',
  );
  return {
    text: changed ? lines.map((l) => l.text + l.eol).join('') : text,
    changes: pending.map((p) => p.change),
  };
}

/** An unpaired UTF-16 surrogate: UTF-8 cannot encode it, Node writes U+FFFD instead. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses a value no line-based reader reads back as written: a line break or NUL ends the line,
 * an unpaired surrogate becomes U+FFFD. Throws `FpmkitInvalidOptionError` naming `option`.
 */
export function assertOneLineValue(option: string, value: string): void {
  if (/[\n\r\0]/.test(value)) {
    throw new FpmkitInvalidOptionError(option, 'a value cannot contain a line break or NUL byte');
  }
  if (LONE_SURROGATE.test(value)) {
    throw new FpmkitInvalidOptionError(
      option,
      'a value cannot contain an unpaired UTF-16 surrogate',
    );
  }
}
