import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect } from 'vitest';
import { FpmkitParseError, isFpmkitError } from '../../src/errors.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixture(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), 'utf8');
}

export function fixtureJson<T = Record<string, unknown>>(...parts: string[]): T {
  return JSON.parse(fixture(...parts)) as T;
}

/** Characters that break /proc and ss formats in interesting ways. */
const NASTY = [
  ' ',
  '\n',
  '\r',
  '\t',
  ':',
  '@',
  '0',
  'F',
  'f',
  '-',
  '=',
  '#',
  '\0',
  'x',
  '9',
  '(',
  ')',
  '"',
  'kB',
  'max',
];

/** A fixture text with up to six random edits: deletions, insertions, truncation, line swaps. */
export function mutatedText(seeds: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.integer({ min: 0, max: 5 }),
    fc.nat(),
    fc.nat({ max: 40 }),
    fc.string({ maxLength: 6 }),
    fc.constantFrom(...NASTY),
  );
  return fc
    .tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 6 }))
    .map(([seed, edits]) => {
      let t = seed;
      for (const [kind, at, n, str, nasty] of edits) {
        const p = t.length === 0 ? 0 : at % (t.length + 1);
        if (kind === 0) t = t.slice(0, p) + t.slice(p + 1 + n);
        else if (kind === 1) t = t.slice(0, p) + str + t.slice(p);
        else if (kind === 2) t = t.slice(0, p);
        else if (kind === 3) t = t.slice(0, p) + nasty + t.slice(p + 1);
        else if (kind === 4) {
          const ls = t.split('\n');
          const i = at % ls.length;
          const j = n % ls.length;
          [ls[i], ls[j]] = [ls[j]!, ls[i]!];
          t = ls.join('\n');
        } else t = t.slice(0, p) + nasty + t.slice(p);
      }
      return t;
    });
}

/**
 * Runs `parse` on the text and checks the outcome: a value, or an FpmkitParseError whose line
 * (when given) is a line of the input and whose lineText is that line.
 */
export function valueOrParseError(parse: (text: string) => unknown, text: string): void {
  try {
    parse(text);
  } catch (error) {
    expect(isFpmkitError(error), String(error)).toBe(true);
    expect(error).toBeInstanceOf(FpmkitParseError);
    const e = error as FpmkitParseError;
    if (e.line !== undefined) {
      const all = text.split('\n');
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.line).toBeLessThanOrEqual(all.length);
      if (e.lineText !== undefined) expect(all[e.line - 1]!.replace(/\r$/, '')).toBe(e.lineText);
    }
  }
}

/** Number of fuzzed variants per parser (acceptance: 10,000). */
export const FUZZ_RUNS = 10_000;

export function fuzz(seeds: readonly string[], parse: (text: string) => unknown): void {
  fc.assert(
    fc.property(mutatedText(seeds), (text) => valueOrParseError(parse, text)),
    { numRuns: FUZZ_RUNS },
  );
}
