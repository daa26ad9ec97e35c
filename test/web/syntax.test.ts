import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  renderApacheProxyFcgi,
  renderNginxConf,
  renderNginxFastcgi,
  renderPhpIni,
} from '../../src/web/index.js';
import { isIpAddress, isIpOrCidr, unwritableChar } from '../../src/web/syntax.js';

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

describe('unwritableChar: what no renderer writes', () => {
  it.each([
    ['\uD800', /lone surrogate U\+D800/],
    ['a\uDFFFb', /lone surrogate U\+DFFF/],
    ['\n', /a newline/],
    ['\u007f', /control character U\+007F/],
    ['\u0085', /control character U\+0085/],
    ['\u009b', /control character U\+009B/],
    ['\u2028', /line separator U\+2028/],
    ['\u2029', /line separator U\+2029/],
  ])('refuses %j', (value, rule) => {
    expect(unwritableChar(value)).toMatch(rule);
  });

  it.each(['\u{1F600}', 'é', '\u00a0', 'a b', '\uFFFD'])('accepts %j', (value) => {
    expect(unwritableChar(value)).toBeUndefined();
  });

  it('refuses exactly the strings that do not survive UTF-8, among other things', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 8 }), (value) => {
        const survives = Buffer.from(value, 'utf8').toString('utf8') === value;
        if (!survives) expect(unwritableChar(value)).toMatch(/lone surrogate/);
      }),
      { numRuns: 2000 },
    );
  });

  it('every renderer refuses them, naming the field', () => {
    for (const bad of ['\uD800', '\u2028', '\u0085']) {
      expect(() =>
        renderNginxConf(
          { upstream: { servers: [{ socketPath: '/run/a.sock' }] } },
          {
            documentRoot: `/srv/${bad}`,
          },
        ),
      ).toThrow(expect.objectContaining({ option: 'options.documentRoot' }));
      expect(() =>
        renderNginxFastcgi({
          upstream: { servers: [{ socketPath: '/run/a.sock' }] },
          params: { X: bad },
        }),
      ).toThrow(expect.objectContaining({ option: 'params.X' }));
      expect(() =>
        renderApacheProxyFcgi({ backend: { socketPath: '/run/a.sock' }, filesMatch: `a${bad}` }),
      ).toThrow(expect.objectContaining({ option: 'filesMatch' }));
      expect(() => renderPhpIni({ opcache: { preload: `/srv/${bad}` } })).toThrow(
        expect.objectContaining({ option: 'opcache.preload', code: 'FPMKIT_INVALID_OPTION' }),
      );
    }
  });
});
