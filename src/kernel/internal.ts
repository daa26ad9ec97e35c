import { FpmkitParseError } from '../errors.js';

/** Splits text into lines without their `\n` (and a trailing `\r`); a final newline adds no line. */
export function lines(text: string): string[] {
  const out = text.split('\n');
  if (out.length > 0 && out[out.length - 1] === '') out.pop();
  for (let i = 0; i < out.length; i++) {
    const line = out[i]!;
    if (line.endsWith('\r')) out[i] = line.slice(0, -1);
  }
  return out;
}

/** A parse error that names the source, the 1-based line and its text. */
export function parseError(
  source: string,
  reason: string,
  line?: number,
  lineText?: string,
): FpmkitParseError {
  return new FpmkitParseError(reason, { source, line, lineText });
}

/** Parses an unsigned decimal integer; undefined for anything else (signs, blanks, overflow). */
export function parseDecimal(text: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses a signed decimal integer; undefined for anything else. */
export function parseSignedDecimal(text: string): number | undefined {
  if (!/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses hexadecimal digits (no prefix); undefined for anything else. */
export function parseHex(text: string): number | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(text)) return undefined;
  const n = Number.parseInt(text, 16);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `1234 kB` as /proc prints sizes (kB means KiB there) → bytes. */
export function kibToBytes(kib: number): number {
  return kib * 1024;
}
