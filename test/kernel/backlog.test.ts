import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { acceptQueueCapacity, effectiveBacklog } from '../../src/kernel/index.js';
import { fixtureJson } from './helpers.js';

describe('effectiveBacklog', () => {
  it.each([
    [8, 4096, 8],
    [-1, 4096, 4096],
    [undefined, 4096, 4096],
    [65535, 4096, 4096],
    [-1, 128, 128],
    [0, 4096, 0],
    [511, 128, 128],
    [-2147483648, 4096, 4096],
  ])('listen.backlog %s with somaxconn %s → %s', (listenBacklog, somaxconn, expected) => {
    const input = listenBacklog === undefined ? { somaxconn } : { listenBacklog, somaxconn };
    expect(effectiveBacklog(input)).toBe(expected);
    expect(acceptQueueCapacity(input)).toBe(expected + 1);
  });

  it('matches every Send-Q in the somaxconn capture', () => {
    const meta = fixtureJson<{
      'net.core.somaxconn': number;
      'listen.backlog -> ss Send-Q': Record<string, number>;
    }>('proc-net-unix', 'somaxconn', 'meta.json');
    for (const [label, sendQ] of Object.entries(meta['listen.backlog -> ss Send-Q'])) {
      const given = /^(-?\d+)/.exec(label);
      const input = given
        ? { listenBacklog: Number(given[1]), somaxconn: meta['net.core.somaxconn'] }
        : { somaxconn: meta['net.core.somaxconn'] };
      expect([label, effectiveBacklog(input)]).toEqual([label, sendQ]);
    }
  });

  it('never exceeds somaxconn and keeps small non-negative backlogs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (b, s) => {
          const e = effectiveBacklog({ listenBacklog: b, somaxconn: s });
          expect(e).toBeLessThanOrEqual(s);
          if (b >= 0 && b <= s) expect(e).toBe(b);
        },
      ),
    );
  });

  it.each([
    [{ somaxconn: -1 }, 'somaxconn'],
    [{ somaxconn: 1.5 }, 'somaxconn'],
    [{ somaxconn: 10, listenBacklog: 2 ** 40 }, 'listenBacklog'],
  ])('rejects %o', (input, option) => {
    try {
      effectiveBacklog(input);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((e as FpmkitInvalidOptionError).option).toBe(option);
    }
  });
});
