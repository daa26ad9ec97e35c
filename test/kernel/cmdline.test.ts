import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCmdline, parseFpmProcessTitle } from '../../src/kernel/index.js';
import { fixture } from './helpers.js';

describe('parseCmdline', () => {
  it.each([
    ['', []],
    [
      '/usr/sbin/php-fpm8.2\0-y\0/etc/php/8.2/fpm/php-fpm.conf\0',
      ['/usr/sbin/php-fpm8.2', '-y', '/etc/php/8.2/fpm/php-fpm.conf'],
    ],
    ['a\0\0b\0', ['a', '', 'b']],
  ])('%j', (text, expected) => {
    expect(parseCmdline(text)).toEqual(expected);
  });
});

describe('parseFpmProcessTitle', () => {
  it('reads a captured worker title padded with NULs', () => {
    expect(parseFpmProcessTitle(fixture('proc-files', 'php-fpm-worker-cmdline.bin'))).toEqual({
      role: 'worker',
      pool: 'www',
    });
  });
  it.each([
    [
      'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)\0\0\0',
      { role: 'master', configPath: '/etc/php/8.2/fpm/php-fpm.conf' },
    ],
    [
      'php-fpm: master process (/srv/a (b).conf)   ',
      { role: 'master', configPath: '/srv/a (b).conf' },
    ],
    ['php-fpm: pool my pool\0', { role: 'worker', pool: 'my pool' }],
    ['php-fpm8.2\0-F\0', undefined],
    ['nginx: master process /usr/sbin/nginx', undefined],
  ])('%j', (text, expected) => {
    expect(parseFpmProcessTitle(text)).toEqual(expected);
  });
  it('never throws', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        parseFpmProcessTitle(s);
        parseCmdline(s);
      }),
      { numRuns: 10_000 },
    );
  });
});
