import { FpmkitInvalidOptionError } from './errors.js';

/**
 * Units as FPM and PHP read them: FPM integers and time values (with FPM's quirks), PHP byte
 * sizes, and octal socket modes. Each parser returns a result object rather than throwing, so
 * callers can report FPM's own reason text at the right file and line.
 */

/** Outcome of parsing one value. `reason` is FPM's or PHP's own wording where it has one. */
export type UnitResult<T> = { ok: true; value: T } | { ok: false; reason: string };

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * C's `atoi` as glibc implements it (strtol then a cast to int): leading white space, an
 * optional sign, digits up to the first non-digit; out-of-range values clamp to the long range
 * and then keep their low 32 bits, exactly as FPM stores them.
 */
export function cAtoi(text: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d*)/.exec(text);
  const digits = m?.[2] ?? '';
  if (digits === '') return 0;
  let n = BigInt(digits);
  if (m?.[1] === '-') n = -n;
  if (n > INT64_MAX) n = INT64_MAX;
  if (n < INT64_MIN) n = INT64_MIN;
  return Number(BigInt.asIntN(32, n));
}

const INT_REASON = 'is not a valid number (greater or equal than zero)';

/**
 * An FPM integer directive value (`fpm_conf_set_integer`): an optional leading `-` then digits
 * only; empty is 0. `+5`, `10k` and `0x10` are rejected; overflow wraps as in C.
 */
export function parseFpmInteger(text: string): UnitResult<number> {
  if (!/^-?\d*$/.test(text)) return { ok: false, reason: INT_REASON };
  return { ok: true, value: cAtoi(text) };
}

/** Multipliers of FPM's time suffixes (`fpm_conf_set_time`); the suffix is case-sensitive. */
const TIME_SUFFIX_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * An FPM time value in seconds (`fpm_conf_set_time`). Only the last character is a unit
 * (`s`, `m`, `h`, `d`, or a digit for seconds); the rest goes through `atoi`. Hence FPM's
 * quirks, kept on purpose: `5ms` is 5 s, `1.5m` is 60 s, `-5` is -5 s, `s` is 0.
 */
export function parseFpmTime(text: string): UnitResult<number> {
  if (text.length === 0) return { ok: false, reason: 'invalid time value' };
  const last = text[text.length - 1]!;
  const multiplier = TIME_SUFFIX_SECONDS[last];
  if (multiplier !== undefined) {
    return { ok: true, value: Math.imul(multiplier, cAtoi(text.slice(0, -1))) };
  }
  if (last < '0' || last > '9') return { ok: false, reason: 'unknown suffix used in time value' };
  return { ok: true, value: cAtoi(text) };
}

/**
 * Whether FPM reads a time value the way it looks: the text before the unit (the whole text
 * when it ends in a digit) is a whole number, so nothing is dropped by `atoi`. False for `5ms`
 * (5 s), `1.5m` (60 s), `1h30m` (60 s), `x5` and `s` (0).
 */
export function fpmTimeReadAsWritten(text: string): boolean {
  const last = text[text.length - 1];
  const number = last !== undefined && TIME_SUFFIX_SECONDS[last] ? text.slice(0, -1) : text;
  return /^[ \t]*[+-]?\d+[ \t]*$/.test(number);
}

/** Formats seconds as an FPM time value FPM reads back unchanged, e.g. `30s`. */
export function formatFpmTime(seconds: number): string {
  if (!Number.isInteger(seconds))
    throw new FpmkitInvalidOptionError('seconds', `must be whole seconds, got ${seconds}`);
  return `${seconds}s`;
}

const BOOL_TRUE = new Set(['1', 'yes', 'true', 'on']);
const BOOL_FALSE = new Set(['', '0', 'no', 'none', 'false', 'off']);

/**
 * An FPM boolean after INI pre-processing (`fpm_conf_set_boolean`, PHP 8.2.19+): exact
 * lower-case words. Bare words were already turned into `1`/empty by the INI scanner.
 */
export function parseFpmBoolean(text: string): UnitResult<boolean> {
  if (BOOL_TRUE.has(text)) return { ok: true, value: true };
  if (BOOL_FALSE.has(text)) return { ok: true, value: false };
  return { ok: false, reason: 'invalid boolean value' };
}

/**
 * An octal mode as FPM reads `listen.mode` (`strtoul(value, NULL, 8)`): leading octal digits,
 * stopping at the first other character, so `0660` and `660` are equal and `0899` is 0.
 */
export function parseOctalMode(text: string): number {
  const m = /^[ \t\n\v\f\r]*\+?([0-7]*)/.exec(text);
  const digits = m?.[1] ?? '';
  return digits === '' ? 0 : Number.parseInt(digits, 8);
}

/** Formats a mode as four octal digits, e.g. `0660`. */
export function formatOctalMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new FpmkitInvalidOptionError('mode', `must be an integer from 0 to 0o7777, got ${mode}`);
  }
  return mode.toString(8).padStart(4, '0');
}

/** PHP's size multipliers (`zend_ini_parse_quantity`): K, M, G, case-insensitive. */
const SIZE_MULTIPLIERS: Record<string, bigint> = { k: 1024n, m: 1024n ** 2n, g: 1024n ** 3n };

/**
 * A PHP size such as `128M`, `512k`, `2G` or `-1` in bytes. Negative values (PHP's "no
 * limit" for `memory_limit` and friends) are returned as `'unlimited'`.
 */
export function parsePhpSize(text: string): UnitResult<number | 'unlimited'> {
  const m = /^\s*([+-]?)(\d+)\s*([kKmMgG]?)\s*$/.exec(text);
  if (!m)
    return { ok: false, reason: `'${text}' is not a size (digits with an optional K, M or G)` };
  if (m[1] === '-') return { ok: true, value: 'unlimited' };
  const mult = SIZE_MULTIPLIERS[(m[3] ?? '').toLowerCase()] ?? 1n;
  const bytes = BigInt(m[2]!) * mult;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER))
    return { ok: false, reason: `'${text}' is too large` };
  return { ok: true, value: Number(bytes) };
}

/** Formats bytes in PHP size syntax, using the largest exact unit: 134217728 → `128M`. */
export function formatPhpSize(bytes: number | 'unlimited'): string {
  if (bytes === 'unlimited') return '-1';
  if (!Number.isSafeInteger(bytes) || bytes < 0)
    throw new FpmkitInvalidOptionError(
      'bytes',
      `must be a whole number of bytes from 0 to 2^53 - 1, or 'unlimited', got ${bytes}`,
    );
  for (const [unit, mult] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes !== 0 && bytes % mult === 0) return `${bytes / mult}${unit}`;
  }
  return String(bytes);
}
