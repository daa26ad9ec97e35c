import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import { fpmStatusSchema, parseStatus } from '../../src/status/index.js';
import { loadStatusFixtures } from './fixtures.js';

const pages = loadStatusFixtures().filter((f) => f.kind !== 'ping');
const CONTENT_TYPES = [
  'text/plain;charset=UTF-8',
  'application/json',
  'text/xml;charset=UTF-8',
  'text/html;charset=UTF-8',
  'application/openmetrics-text; version=1.0.0; charset=utf-8',
];
/** Characters that matter to one of the five grammars. */
const SPECIAL = [
  ...'"\\{}[]<>/&;:,\n\r\t *#-.0123456789e',
  '18446744073709551615',
  '(null)',
  '</td><td>',
  '<process>',
  '&amp;',
  '\\u00',
  '"user":"',
];

const insertion = fc.oneof(
  fc.constantFrom(...SPECIAL),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[\d.-]{1,22}$/),
);
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('delete' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 60 }),
  }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: insertion }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: insertion }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 200 }),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function apply(body: string, m: Mutation): string {
  const at = body.length === 0 ? 0 : m.at % (body.length + 1);
  switch (m.kind) {
    case 'delete':
      return body.slice(0, at) + body.slice(at + m.length);
    case 'insert':
      return body.slice(0, at) + m.text + body.slice(at);
    case 'replace':
      return body.slice(0, at) + m.text + body.slice(at + m.text.length);
    case 'truncate':
      return body.slice(0, at);
    case 'duplicate':
      return (
        body.slice(0, at + m.length) + body.slice(at, at + m.length) + body.slice(at + m.length)
      );
  }
}

describe('parseStatus on mutated captures', () => {
  it('returns a valid status or throws FpmkitParseError for 10,000 variants', () => {
    let parsed = 0;
    let rejected = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: pages.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        // Mostly the capture's own Content-Type, sometimes none, sometimes a wrong one.
        fc.oneof(
          { weight: 6, arbitrary: fc.constant('own' as const) },
          { weight: 2, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
        ),
        (index, mutations, type) => {
          const page = pages[index]!;
          const body = mutations.reduce(apply, page.body);
          const contentType = type === 'own' ? page.contentType : type;
          try {
            const status = parseStatus(body, { contentType });
            expect(fpmStatusSchema.safeParse(status).success).toBe(true);
            parsed++;
          } catch (error) {
            expect(isFpmkitError(error)).toBe(true);
            expect(error).toBeInstanceOf(FpmkitParseError);
            rejected++;
          }
        },
      ),
      { numRuns: 10_000 },
    );
    console.log(
      `fuzzed status pages: ${parsed} parsed, ${rejected} rejected with FpmkitParseError`,
    );
    // Both outcomes happen, so the property exercised the parsers and their error paths.
    expect(parsed).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('survives arbitrary text under every Content-Type', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
        (body, contentType) => {
          try {
            parseStatus(body, { contentType });
          } catch (error) {
            expect(error).toBeInstanceOf(FpmkitParseError);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
