import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileFieldMatcher,
  type FieldChars,
  type FieldSpec,
  isJsWhitespace,
  type LineLayout,
} from '../../src/logs/field-matcher.js';

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The regular expression a layout stands for: the reference the matcher must agree with. */
function layoutRegex(layout: LineLayout): RegExp {
  const CLASS: Record<FieldChars, string> = {
    any: '.',
    noQuote: '[^"]',
    noSpace: '\\S',
    uriPath: '[^?\\s"]',
    questionMark: '\\?',
  };
  let source = `^${escapeRegex(layout.prefix)}`;
  for (const f of layout.fields) {
    const count = f.maxLength === undefined ? '*' : `{0,${f.maxLength}}`;
    source += `(${CLASS[f.chars]}${count}${f.prefer === 'shortest' ? '?' : ''})${escapeRegex(f.after)}`;
  }
  return new RegExp(`${source}$`, 's');
}

const any = (after: string): FieldSpec => ({ chars: 'any', prefer: 'shortest', after });

describe('isJsWhitespace', () => {
  it('agrees with \\s on every UTF-16 code unit', () => {
    const differ: number[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      if (isJsWhitespace(c) !== /\s/.test(String.fromCharCode(c))) differ.push(c);
    }
    expect(differ).toEqual([]);
  });
});

describe('compileFieldMatcher', () => {
  it.each<[string, LineLayout, string, string[] | undefined]>([
    [
      'first places of each literal',
      { prefix: '', fields: [any(' - '), any('')] },
      'a - b - c',
      ['a', 'b - c'],
    ],
    ['a prefix that is missing', { prefix: '[', fields: [any(']')] }, 'x]', undefined],
    [
      'the closing literal at the very end',
      { prefix: '', fields: [any(' '), any('"')] },
      'a b" c"',
      ['a', 'b" c'],
    ],
    [
      'a later cut when the first leaves a quoted value no way to end',
      {
        prefix: '',
        fields: [any(' "'), { chars: 'noQuote', prefer: 'longest', after: '"' }],
      },
      'x "y" "z"',
      ['x "y"', 'z'],
    ],
    [
      'no cut at all when a quote stays inside a quoted value',
      {
        prefix: '"',
        fields: [{ chars: 'noQuote', prefer: 'longest', after: '" ' }, any('')],
      },
      '"a"b" 1',
      undefined,
    ],
    [
      'an empty first value when two values touch',
      { prefix: '', fields: [{ chars: 'noSpace', prefer: 'shortest', after: '' }, any(' x')] },
      'ab x',
      ['', 'ab'],
    ],
    [
      'a value that may not hold a space, before a literal found later',
      {
        prefix: '',
        fields: [
          { chars: 'noSpace', prefer: 'shortest', after: ' ' },
          { chars: 'noSpace', prefer: 'shortest', after: '' },
        ],
      },
      'a b c',
      undefined,
    ],
    [
      'an optional question mark, taken when present',
      {
        prefix: '',
        fields: [
          { chars: 'uriPath', prefer: 'longest', after: '' },
          { chars: 'questionMark', prefer: 'longest', maxLength: 1, after: '' },
          any(' '),
          any(''),
        ],
      },
      '/a?x=1 200',
      ['/a', '?', 'x=1', '200'],
    ],
    [
      'a literal that overlaps itself',
      { prefix: '', fields: [any('aab'), { chars: 'noSpace', prefer: 'shortest', after: 'b' }] },
      'aaabab',
      ['a', 'a'],
    ],
  ])('finds %s', (_name, layout, line, expected) => {
    expect(compileFieldMatcher(layout).match(line)).toEqual(expected);
    const m = layoutRegex(layout).exec(line);
    expect(m ? m.slice(1) : undefined).toEqual(expected);
  });

  it('cuts a 64 KiB line that only the second pass can cut', () => {
    // The first place of ` "` leaves the quoted value `y` followed by ` ... `: no fit there.
    const layout: LineLayout = {
      prefix: '',
      fields: [any(' "'), { chars: 'noQuote', prefer: 'longest', after: '"' }],
    };
    const line = `${'x "y" '.repeat((64 * 1024) / 6)}"end"`;
    const values = compileFieldMatcher(layout).match(line);
    expect(values).toEqual([line.slice(0, -6), 'end']);
  });

  it('fuzzing: 2000 random layouts and lines split as their regular expression does', () => {
    const alphabet = fc.constantFrom(' ', '"', '?', 'a', 'b', '-', '\t', '\u00a0');
    const text = (maxLength: number) => fc.string({ unit: alphabet, maxLength });
    const field = fc.record({
      chars: fc.constantFrom<FieldChars>('any', 'noQuote', 'noSpace', 'uriPath', 'questionMark'),
      prefer: fc.constantFrom<'shortest' | 'longest'>('shortest', 'longest'),
      maxLength: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      after: text(3),
    });
    const layout = fc.record({
      prefix: text(2),
      fields: fc.array(field, { minLength: 1, maxLength: 5 }),
    });
    let matched = 0;
    fc.assert(
      fc.property(layout, fc.array(text(6), { maxLength: 6 }), fc.nat(), (l, values, cut) => {
        const specs: FieldSpec[] = l.fields.map((f) =>
          f.maxLength === undefined
            ? { chars: f.chars, prefer: f.prefer, after: f.after }
            : { chars: f.chars, prefer: f.prefer, after: f.after, maxLength: f.maxLength },
        );
        const built = l.prefix + specs.map((f, i) => (values[i] ?? '') + f.after).join('');
        // Often the line as built, sometimes cut short.
        const line = cut % 3 === 0 ? built.slice(0, cut % (built.length + 1)) : built;
        const spec: LineLayout = { prefix: l.prefix, fields: specs };
        const m = layoutRegex(spec).exec(line);
        const got = compileFieldMatcher(spec).match(line);
        if (got) matched++;
        expect(got).toEqual(m ? m.slice(1) : undefined);
      }),
      { numRuns: 2_000 },
    );
    // Both outcomes were exercised, not only one.
    expect(matched).toBeGreaterThan(200);
    expect(matched).toBeLessThan(2_000);
  });
});
