import { FpmkitInvalidOptionError } from './errors.js';

/**
 * Characters no renderer writes into a configuration file. A line break ends a line for
 * every reader, and each reader has more: systemd ends a line at NUL and at a lone CR
 * (`read_line_full` in systemd's `src/basic/fileio.c`), PHP's INI scanner at CR, FPM's C
 * strings at NUL. The other C0 and C1 controls and DEL mean nothing in a file a person
 * reads, and U+2028/U+2029 and U+0085 are line breaks to editors and to many other readers.
 * Tab is allowed only where the caller says the reader keeps it as it is.
 */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/;
const TAB = /\t/;
/** A UTF-16 surrogate without its pair: UTF-8 cannot encode it, Node writes U+FFFD instead. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface TextSafetyOptions {
  /** Let the value hold a tab (where the reader keeps it as written). @default false */
  allowTab?: boolean | undefined;
}

function codePoint(ch: string): string {
  return `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A readable name for a refused character, for the rule text of an error. */
export function describeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code === 0x0a) return 'a newline';
  if (code === 0x0d) return 'a carriage return';
  if (code === 0x00) return 'NUL';
  if (code === 0x09) return 'a tab';
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `control character ${codePoint(ch)}`;
  if (code === 0x2028 || code === 0x2029) return `line separator ${codePoint(ch)}`;
  return `'${ch}'`;
}

/**
 * Why `value` cannot be written into a configuration file as it is, or undefined when it can:
 * it holds a control character, a Unicode line or paragraph separator, or an unpaired
 * surrogate. The text starts with "must not contain", to follow an option's name.
 */
export function unsafeTextReason(
  value: string,
  options: TextSafetyOptions = {},
): string | undefined {
  const surrogate = LONE_SURROGATE.exec(value);
  if (surrogate) {
    return `must not contain a lone surrogate ${codePoint(surrogate[0])} (at index ${surrogate.index}; it has no UTF-8 form and would be written as U+FFFD)`;
  }
  const control = CONTROL.exec(value) ?? (options.allowTab ? null : TAB.exec(value));
  if (control) {
    return `must not contain ${describeChar(control[0])} (at index ${control.index}; it could end the value, add a line or hide text in a configuration file)`;
  }
  return undefined;
}

/** Throws `FpmkitInvalidOptionError` naming `option` when `unsafeTextReason` finds a reason. */
export function assertSafeText(option: string, value: string, options: TextSafetyOptions = {}) {
  const reason = unsafeTextReason(value, options);
  if (reason !== undefined) throw new FpmkitInvalidOptionError(option, reason);
}
