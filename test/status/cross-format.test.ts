import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type FpmStatus,
  PROCESS_STATES,
  parseStatus,
  STATUS_FORMATS,
} from '../../src/status/index.js';
import { type PageModel, type ProcessModel, renderPage } from './render.js';

/**
 * Raw text FPM would insert unescaped: quotes, backslashes, <, >, &, slashes, non-ASCII. No
 * comma, colon, newline or the letters of FPM's tags, which together could spell the page's own
 * structure (`","script":"`, `</user>`), something no parser can tell apart.
 */
const rawChar = fc.constantFrom(...'abc01 "\\<>&/.-_é', '😀');
const rawText = fc
  .array(rawChar, { minLength: 1, maxLength: 16 })
  .map((c) => c.join(''))
  // `\/` in a raw field of valid JSON is indistinguishable from an escaped slash (documented).
  .filter((s) => !s.includes('\\/'));
const uriText = fc
  .array(fc.constantFrom(...'abc01"\\<>&/?=.-_é', '😀', "'"), { minLength: 1, maxLength: 24 })
  .map((c) => `/${c.join('')}`);
const count = fc.nat({ max: 2 ** 40 });
const epoch = fc.integer({ min: 1_000_000_000, max: 2_000_000_000 });

const processModel: fc.Arbitrary<ProcessModel> = fc.record({
  pid: fc.integer({ min: 1, max: 4_194_304 }),
  state: fc.constantFrom(...PROCESS_STATES),
  startEpoch: epoch,
  startSince: count,
  requests: count,
  duration: count,
  method: fc.constantFrom('GET', 'POST', 'HEAD', '-'),
  uri: uriText,
  contentLength: count,
  user: rawText,
  script: rawText,
  cpu: fc.integer({ min: 0, max: 100_000 }).map((n) => (n / 100).toFixed(2)),
  memory: count,
});

const pageModel: fc.Arbitrary<PageModel> = fc.record({
  pool: rawText,
  pm: fc.constantFrom('static', 'dynamic', 'ondemand'),
  startEpoch: epoch,
  offsetMinutes: fc.integer({ min: -12 * 60, max: 14 * 60 }),
  counters: fc.array(count, { minLength: 11, maxLength: 11 }),
  memoryPeak: fc.option(count, { nil: undefined }),
  processes: fc.option(fc.array(processModel, { minLength: 1, maxLength: 5 }), { nil: undefined }),
});

/** Everything but the fields a format lacks (OpenMetrics: start time, processes). */
function comparable(s: FpmStatus): Record<string, unknown> {
  const { format: _f, startTime: _t, startTimeDerived: _d, processes: _p, ...rest } = s;
  return rest;
}

describe('the same page rendered in all five formats', () => {
  it('parses to the same model, pool and worker strings included', () => {
    fc.assert(
      fc.property(pageModel, (model) => {
        const parsed = STATUS_FORMATS.map((format) =>
          parseStatus(renderPage(model, format), { format }),
        );
        const [text, ...others] = parsed;
        expect(text!.pool).toBe(model.pool);
        expect(text!.startTime.getTime()).toBe(model.startEpoch * 1000);
        for (const s of others) {
          expect(comparable(s)).toEqual(comparable(text!));
          if (s.format !== 'openmetrics') {
            expect(s.startTime).toEqual(text!.startTime);
            expect(s.processes).toEqual(text!.processes);
          }
        }
        for (const [i, p] of (text!.processes ?? []).entries()) {
          const m = model.processes![i]!;
          expect([p.user, p.script, p.requestUri, p.requestDurationMicros]).toEqual([
            m.user,
            m.script,
            m.uri,
            m.duration,
          ]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
