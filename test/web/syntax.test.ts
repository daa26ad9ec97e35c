import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isIpAddress, isIpOrCidr } from '../../src/web/syntax.js';

describe('isIpAddress / isIpOrCidr', () => {
  it.each([
    ['127.0.0.1', true],
    ['255.255.255.255', true],
    ['256.0.0.1', false],
    ['1.2.3', false],
    ['01.2.3.4', false],
    ['::1', true],
    ['::', true],
    ['fe80::1:2', true],
    ['2001:db8:0:0:0:0:0:1', true],
    ['2001:db8:0:0:0:0:0:0:1', false],
    ['::ffff:192.0.2.1', true],
    ['::ffff:192.0.2.300', false],
    ['1::2::3', false],
    ['12345::', false],
    ['localhost', false],
    ['', false],
  ])('%s → %s', (text, ok) => {
    expect(isIpAddress(text)).toBe(ok);
  });

  it.each([
    ['10.0.0.0/8', true],
    ['10.0.0.0/32', true],
    ['10.0.0.0/33', false],
    ['fd00::/8', true],
    ['fd00::/128', true],
    ['fd00::/129', false],
    ['10.0.0.0/', false],
    ['/8', false],
  ])('%s → %s', (text, ok) => {
    expect(isIpOrCidr(text)).toBe(ok);
  });

  it('accepts every address fast-check generates', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (a) => {
        expect(isIpAddress(a)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
