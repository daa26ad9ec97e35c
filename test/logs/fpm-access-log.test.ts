import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import {
  compileFpmAccessFormat,
  type FpmAccessEntry,
  type FpmAccessRecord,
  fpmAccessRecordSchema,
  parseFpmAccessLog,
  streamFpmAccessLog,
} from '../../src/logs/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

/** Pool `logs`'s format exactly as written in the fixture's php-fpm.conf. */
const LOGS_FORMAT = '"%R - %u %t \\"%m %r%Q%q\\" %s %f %{mili}d %{kilo}M %C%%"';

const entries = (records: readonly FpmAccessRecord[]) =>
  records.filter((r): r is FpmAccessEntry => r.kind === 'entry');

describe('parseFpmAccessLog on the fixtures', () => {
  it('reads php-fpm-access.log (custom format with duration, memory and CPU)', () => {
    const records = parseFpmAccessLog(fixture('php-fpm-access.log'), { format: LOGS_FORMAT });
    expect(records).toHaveLength(22);
    for (const r of records) expect(fpmAccessRecordSchema.safeParse(r).success).toBe(true);
    const all = entries(records);
    expect(all).toHaveLength(22);
    expect(all[1]).toEqual({
      kind: 'entry',
      line: 2,
      raw: expect.any(String),
      fields: expect.objectContaining({ '%{mili}d': '50.690', '%C': '0.00' }),
      time: new Date('2026-11-21T08:47:16.000Z'),
      method: 'GET',
      uri: '/logs/sleep.php',
      query: 'ms=50&user=alice',
      status: 200,
      script: '/var/www/fixture-lab/sleep.php',
      durationSeconds: 0.05069,
      memoryBytes: 2048 * 1024,
      cpuPercent: 0,
    });
    expect(all[0]!.uri).toBe('/logs/hello.php');
    expect(all[0]).not.toHaveProperty('query');
    expect(all.filter((e) => e.durationSeconds! > 1).map((e) => e.uri)).toEqual([
      '/logs/slow.php',
      '/logs/slow.php',
      '/timeout/sleep.php',
    ]);
  });

  it('reads php-fpm-access-busy-pool.log with the default format', () => {
    const all = entries(parseFpmAccessLog(fixture('php-fpm-access-busy-pool.log')));
    expect(all).toHaveLength(26);
    expect(all.every((e) => e.status === 200)).toBe(true);
    expect(all.filter((e) => e.uri === '/busy/sleep.php')).toHaveLength(24);
    expect(all[0]!.time?.toISOString()).toBe('2026-11-21T08:47:16.000Z');
  });
});

describe('parseFpmAccessLog, edge cases', () => {
  it.each([
    ['%{micro}d', '1500', 0.0015],
    ['%{seconds}d', '1.500', 1.5],
    ['%d', '2.000', 2],
  ])('converts %s to seconds', (format, value, seconds) => {
    expect(parseFpmAccessLog(value, { format })[0]).toMatchObject({ durationSeconds: seconds });
  });

  it('converts %{mega}M to bytes and reads %n, %p, %l', () => {
    expect(parseFpmAccessLog('www 123 10 2', { format: '%n %p %l %{mega}M' })[0]).toMatchObject({
      pool: 'www',
      pid: 123,
      contentLength: 10,
      memoryBytes: 2 * 1024 * 1024,
    });
  });

  it.each([
    ['no token', 'plain'],
    ['an unknown token', '%Z'],
    ['an unclosed brace', '%{mili'],
  ])('rejects a format with %s', (_name, format) => {
    expect(() => compileFpmAccessFormat(format)).toThrow(FpmkitInvalidOptionError);
  });

  it('keeps lines that do not fit as unknown, and throws with strict', () => {
    expect(parseFpmAccessLog('nope')).toEqual([{ kind: 'unknown', line: 1, raw: 'nope' }]);
    expect(() => parseFpmAccessLog('nope', { strict: true })).toThrow(FpmkitParseError);
  });

  it('streams the same records', async () => {
    const text = fixture('php-fpm-access.log');
    const out: FpmAccessRecord[] = [];
    for await (const r of streamFpmAccessLog(text.split('\n'), { format: LOGS_FORMAT })) {
      out.push(r);
    }
    expect(out).toEqual(parseFpmAccessLog(text, { format: LOGS_FORMAT }));
  });

  it('fuzzing: 10000 lines give a value or an FpmkitError', () => {
    const lines = fixture('php-fpm-access.log').split('\n').filter(Boolean);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc
            .tuple(fc.constantFrom(...lines), fc.nat())
            .map(([l, n]) => l.slice(0, n % (l.length + 1))),
          fc
            .tuple(fc.constantFrom(...lines), fc.string({ maxLength: 4 }), fc.nat())
            .map(
              ([l, ins, at]) =>
                l.slice(0, at % (l.length + 1)) + ins + l.slice(at % (l.length + 1)),
            ),
        ),
        fc.boolean(),
        (line, strict) => {
          try {
            for (const r of parseFpmAccessLog(line, { format: LOGS_FORMAT, strict })) {
              expect(fpmAccessRecordSchema.safeParse(r).success).toBe(true);
            }
          } catch (e) {
            expect(isFpmkitError(e)).toBe(true);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
