import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  fpmLogRecordSchema,
  nginxAccessRecordSchema,
  nginxErrorRecordSchema,
  parseFpmLog,
  parseFpmSlowlog,
  parseNginxAccessLog,
  parseNginxErrorLog,
  slowlogRecordSchema,
} from '../../src/logs/index.js';

/** Lines per parser, as the acceptance asks. */
const RUNS = 10_000;

const fixtureLines = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => l !== '');

/** Real lines with random edits: the inputs closest to what a parser must survive. */
function mutated(lines: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.string({ unit: 'binary', maxLength: 6 }));
  return fc
    .tuple(fc.constantFrom(...lines), fc.array(edit, { maxLength: 4 }))
    .map(([line, edits]) => {
      let s = line;
      for (const [at, del, insert] of edits) {
        const i = s.length === 0 ? 0 : at % (s.length + 1);
        s = s.slice(0, i) + insert + s.slice(i + del);
      }
      return s.replace(/\n/g, ' ');
    });
}

/** Any text, real lines, and real lines cut short or edited. */
function lineArbitrary(lines: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.constantFrom(...lines),
    fc.tuple(fc.constantFrom(...lines), fc.nat()).map(([l, n]) => l.slice(0, n % (l.length + 1))),
    mutated(lines),
  );
}

/** Runs `parse` and accepts a value that passes `check` or an FpmkitError, nothing else. */
function valueOrFpmkitError(parse: () => unknown[], check: (r: unknown) => boolean): void {
  let records: unknown[];
  try {
    records = parse();
  } catch (e) {
    expect(isFpmkitError(e), String(e)).toBe(true);
    return;
  }
  expect(Array.isArray(records)).toBe(true);
  for (const r of records) expect(check(r)).toBe(true);
}

describe('fuzzing: any line gives a value or an FpmkitError', () => {
  it(`parseFpmLog, ${RUNS} lines`, () => {
    const lines = [
      ...fixtureLines('php-fpm-error.log'),
      ...fixtureLines('php-fpm-error-debug-level.log'),
    ];
    fc.assert(
      fc.property(lineArbitrary(lines), fc.boolean(), (line, strict) => {
        valueOrFpmkitError(
          () => parseFpmLog(line, { strict }),
          (r) => fpmLogRecordSchema.safeParse(r).success,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it(`parseFpmSlowlog, ${RUNS} inputs of several lines`, () => {
    const lines = fixtureLines('php-fpm-slow.log');
    fc.assert(
      fc.property(
        fc.array(fc.oneof(lineArbitrary(lines), fc.constant('')), { maxLength: 8 }),
        fc.boolean(),
        (chunk, strict) => {
          valueOrFpmkitError(
            () => parseFpmSlowlog(chunk.join('\n'), { strict }),
            (r) => slowlogRecordSchema.safeParse(r).success,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it(`parseNginxErrorLog, ${RUNS} lines`, () => {
    const lines = fixtureLines('nginx-error.log');
    fc.assert(
      fc.property(lineArbitrary(lines), fc.boolean(), (line, strict) => {
        valueOrFpmkitError(
          () => parseNginxErrorLog(line, { strict }),
          (r) => nginxErrorRecordSchema.safeParse(r).success,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it(`parseNginxAccessLog, ${RUNS} lines against two formats`, () => {
    const lines = fixtureLines('nginx-access.log');
    const timing =
      '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr"';
    fc.assert(
      fc.property(
        lineArbitrary(lines),
        fc.constantFrom(timing, 'combined'),
        fc.boolean(),
        (line, format, strict) => {
          valueOrFpmkitError(
            () => parseNginxAccessLog(line, { format, strict }),
            (r) => nginxAccessRecordSchema.safeParse(r).success,
          );
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('compileNginxLogFormat via parseNginxAccessLog: any format gives a value or an FpmkitError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), (format, line) => {
        valueOrFpmkitError(
          () => parseNginxAccessLog(line, { format }),
          (r) => nginxAccessRecordSchema.safeParse(r).success,
        );
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('non-string input', () => {
  it.each([
    ['parseFpmLog', (x: unknown) => parseFpmLog(x as string)],
    ['parseFpmSlowlog', (x: unknown) => parseFpmSlowlog(x as string)],
    ['parseNginxErrorLog', (x: unknown) => parseNginxErrorLog(x as string)],
    ['parseNginxAccessLog', (x: unknown) => parseNginxAccessLog(x as string)],
  ])('%s throws an FpmkitParseError for a Buffer, null or a number', (_name, parse) => {
    for (const input of [Buffer.from('x'), null, 42, undefined]) {
      let error: unknown;
      try {
        parse(input);
      } catch (e) {
        error = e;
      }
      expect(isFpmkitError(error)).toBe(true);
      expect((error as { code: string }).code).toBe('FPMKIT_PARSE');
    }
  });
});

describe('streams given a non-string line', () => {
  it('throws an FpmkitParseError naming the line', async () => {
    const lines = ['2026/01/02 03:04:05 [warn] 1#1: x', 42 as unknown as string];
    const { streamNginxErrorLog } = await import('../../src/logs/index.js');
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const r of streamNginxErrorLog(lines)) seen.push(r);
      })(),
    ).rejects.toMatchObject({ code: 'FPMKIT_PARSE', line: 2 });
    expect(seen).toHaveLength(1);
  });
});
