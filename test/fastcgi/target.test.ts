import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { type FastCGITarget, parseTarget } from '../../src/fastcgi/index.js';

describe('parseTarget', () => {
  it.each<[FastCGITarget, object]>([
    [
      'unix:/run/php/php8.2-fpm.sock',
      {
        type: 'unix',
        socketPath: '/run/php/php8.2-fpm.sock',
        label: 'unix:/run/php/php8.2-fpm.sock',
      },
    ],
    ['/run/php/php8.2-fpm.sock', { type: 'unix', socketPath: '/run/php/php8.2-fpm.sock' }],
    ['./fpm.sock', { type: 'unix', socketPath: './fpm.sock' }],
    ['127.0.0.1:9000', { type: 'tcp', host: '127.0.0.1', port: 9000, label: '127.0.0.1:9000' }],
    ['[::1]:9000', { type: 'tcp', host: '::1', port: 9000, label: '[::1]:9000' }],
    ['tcp://localhost:9001', { type: 'tcp', host: 'localhost', port: 9001 }],
    ['tcp://[::1]:9002', { type: 'tcp', host: '::1', port: 9002 }],
    ['9000', { type: 'tcp', host: '127.0.0.1', port: 9000 }],
    [{ socketPath: '/s.sock' }, { type: 'unix', socketPath: '/s.sock' }],
    [
      { host: '::1', port: 9000 },
      { type: 'tcp', host: '::1', port: 9000, label: '[::1]:9000' },
    ],
    [
      { host: '[::1]', port: 9000 },
      { type: 'tcp', host: '::1', port: 9000 },
    ],
  ])('%j', (input, expected) => {
    expect(parseTarget(input)).toMatchObject(expected);
  });

  it.each<[FastCGITarget, RegExp]>([
    ['', /expected a socket path/],
    ['localhost', /expected a socket path/],
    ['::1:9000', /need brackets/],
    ['127.0.0.1:0', /port must be/],
    ['127.0.0.1:65536', /port must be/],
    ['127.0.0.1:90a', /port must be/],
    ['[::1]9000', /\[ipv6\]:port/],
    ['[localhost]:9000', /not an IPv6 address/],
    ['unix:', /must not be empty/],
    [':9000', /host must not be empty/],
    [{ host: 'h', port: 1.5 }, /port must be/],
    [{} as FastCGITarget, /expected \{ socketPath \}/],
  ])('rejects %j', (input, message) => {
    expect(() => parseTarget(input)).toThrow(FpmkitInvalidOptionError);
    expect(() => parseTarget(input)).toThrow(message);
  });
});
