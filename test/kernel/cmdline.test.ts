import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseCmdline,
  parseFpmProcessTitle,
  parseNginxCommandLine,
  parseNginxProcessTitle,
} from '../../src/kernel/index.js';
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

describe('parseNginxProcessTitle', () => {
  it.each([
    [
      'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;\0\0',
      { role: 'master', argv: ['/usr/sbin/nginx', '-g', 'daemon', 'on;', 'master_process', 'on;'] },
    ],
    [
      'nginx: master process /usr/sbin/nginx -p /tmp/x -c /tmp/x/nginx.conf',
      { role: 'master', argv: ['/usr/sbin/nginx', '-p', '/tmp/x', '-c', '/tmp/x/nginx.conf'] },
    ],
    ['nginx: worker process\0', { role: 'worker' }],
    ['nginx: worker process is shutting down', { role: 'worker' }],
    ['nginx: cache manager process', { role: 'cache' }],
    ['/usr/sbin/nginx\0-t\0', undefined],
    ['', undefined],
    ['php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)', undefined],
  ])('%j', (text, expected) => {
    expect(parseNginxProcessTitle(text)).toEqual(expected);
  });
});

describe('parseNginxCommandLine', () => {
  it.each([
    [['/usr/sbin/nginx'], {}],
    [
      ['/usr/sbin/nginx', '-p', '/srv', '-c', 'conf/nginx.conf', '-e', 'stderr'],
      { prefix: '/srv', configPath: 'conf/nginx.conf', errorLog: 'stderr' },
    ],
    [['nginx', '-c/etc/nginx/alt.conf'], { configPath: '/etc/nginx/alt.conf' }],
    [
      ['nginx', '-g', 'daemon', 'off;', '-c', '/x.conf'],
      { globals: 'daemon off;', configPath: '/x.conf' },
    ],
    [['nginx', '-c'], { configPath: '' }],
  ])('%j', (argv, expected) => {
    expect(parseNginxCommandLine(argv)).toEqual(expected);
  });
  it('any title and any argv give a value, never a throw', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string()), (text, argv) => {
        parseNginxProcessTitle(text);
        expect(typeof parseNginxCommandLine(argv)).toBe('object');
      }),
    );
  });
});
