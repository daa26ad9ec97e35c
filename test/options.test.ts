import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkStack } from '../src/doctor/check-stack.js';
import { FpmkitInvalidOptionError } from '../src/errors.js';
import { checkFpmConfig } from '../src/fpm/check.js';
import { renderFpmConfig } from '../src/fpm/render.js';
import { renderSysctlConf } from '../src/kernel/settings.js';
import { optionPath } from '../src/options.js';
import { formatPath } from '../src/web/syntax.js';

function optionOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    return (error as FpmkitInvalidOptionError).option;
  }
  throw new Error('did not throw');
}

const badPool = { global: {}, pools: [{ name: 'www', listen: { address: 42 } }] };

describe('one path syntax for a bad field, whichever entry point validates it', () => {
  it('names an array element in brackets in fpm, doctor and the renderers alike', () => {
    expect(optionOf(() => checkFpmConfig(badPool as never))).toBe('pools[0].listen.address');
    expect(optionOf(() => checkStack({ fpm: badPool } as never))).toBe(
      'fpm.pools[0].listen.address',
    );
    expect(optionOf(() => renderFpmConfig(badPool as never))).toMatch(/^pools\[0\]\.listen/);
  });

  it('names the whole input when the issue has no path', () => {
    expect(optionOf(() => renderSysctlConf(7 as never))).toBe('settings');
    expect(optionOf(() => checkFpmConfig(7 as never))).toBe('config');
  });

  it('formats any path the same way as the web renderers always did', () => {
    const part = fc.oneof(fc.nat(20), fc.stringMatching(/^[a-zA-Z]{1,8}$/));
    fc.assert(
      fc.property(fc.array(part, { maxLength: 5 }), (path) => {
        expect(optionPath(path)).toBe(formatPath(path));
        const expected = path
          .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`))
          .join('');
        expect(optionPath(path)).toBe(expected === '' ? '(settings)' : expected);
        expect(optionPath(path, 'root')).toBe(
          expected === ''
            ? 'root'
            : expected.startsWith('[')
              ? `root${expected}`
              : `root.${expected}`,
        );
      }),
    );
  });
});
