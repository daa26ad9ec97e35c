import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, isFpmkitError } from '../../src/errors.js';
import {
  formatListen,
  type ListenAddress,
  listenConnectTarget,
  MAX_UNIX_SOCKET_PATH_BYTES,
  parseListen,
} from '../../src/fpm/listen.js';

type Row = [value: string, prefix: string | undefined, expected: ListenAddress | 'error'];

const unix = (path: string, relative = false): ListenAddress => ({ kind: 'unix', path, relative });
const tcp = (
  host: string | undefined,
  port: number,
  family: 'ipv4' | 'ipv6' | 'name' | 'any',
  wildcard = false,
): ListenAddress => ({ kind: 'tcp', host, port, family, wildcard });

// Each row is what php-fpm 8.2 does with the value: binds that socket, or refuses to start.
const rows: Row[] = [
  ['/run/php/php8.2-fpm.sock', undefined, unix('/run/php/php8.2-fpm.sock')],
  ['/run/php/php8.2-fpm.sock', '/srv', unix('/run/php/php8.2-fpm.sock')],
  ['run/www.sock', undefined, unix('run/www.sock', true)],
  ['run/www.sock', '/srv/fpm', unix('/srv/fpm/run/www.sock')],
  ['run/www.sock', '/srv/fpm/', unix('/srv/fpm/run/www.sock')],
  ['./www.sock', '/srv', unix('/srv/./www.sock')],
  ['9137abc', '/tmp/p', unix('/tmp/p/9137abc')],
  ['www.sock', 'relative/prefix', unix('relative/prefix/www.sock', true)],
  ['/tmp/a b.sock', undefined, unix('/tmp/a b.sock')],
  ['unix:/run/php/www.sock', undefined, 'error'],
  ['unix:www.sock', undefined, 'error'],
  ['9000', undefined, tcp(undefined, 9000, 'any', true)],
  ['65535', undefined, tcp(undefined, 65535, 'any', true)],
  ['0', undefined, 'error'],
  ['65536', undefined, 'error'],
  ['127.0.0.1:9000', undefined, tcp('127.0.0.1', 9000, 'ipv4')],
  ['0.0.0.0:9000', undefined, tcp('0.0.0.0', 9000, 'ipv4', true)],
  ['0:9136', undefined, tcp('0', 9136, 'ipv4', true)],
  ['127.1:9000', undefined, tcp('127.1', 9000, 'ipv4')],
  ['[::1]:9000', undefined, tcp('::1', 9000, 'ipv6')],
  ['::1:9133', undefined, tcp('::1', 9133, 'ipv6')],
  ['[::]:9000', undefined, tcp('::', 9000, 'ipv6', true)],
  ['[fe80::1]:9000', undefined, tcp('fe80::1', 9000, 'ipv6')],
  ['localhost:9000', undefined, tcp('localhost', 9000, 'name')],
  ['*:9123', undefined, tcp('*', 9123, 'name')],
  ['127.0.0.1: 9135', undefined, tcp('127.0.0.1', 9135, 'ipv4')],
  ['localhost:9132abc', undefined, 'error'],
  [':9131', undefined, 'error'],
  ['[::1]', undefined, 'error'],
  ['127.0.0.1:0', undefined, 'error'],
  ['127.0.0.1:', undefined, 'error'],
  ['a b:9138', undefined, 'error'],
  ['', undefined, 'error'],
  ['/run/php/\0x.sock', undefined, 'error'],
  [`/${'s'.repeat(MAX_UNIX_SOCKET_PATH_BYTES - 1)}`, undefined, unix(`/${'s'.repeat(106)}`)],
  [`/${'s'.repeat(MAX_UNIX_SOCKET_PATH_BYTES)}`, undefined, 'error'],
  [`${'s'.repeat(100)}.sock`, '/srv', 'error'],
  ['/run/ünïcødé.sock', undefined, unix('/run/ünïcødé.sock')],
];

describe('parseListen', () => {
  it.each(rows)('%j (prefix %j)', (value, prefix, expected) => {
    const options = prefix === undefined ? {} : { prefix };
    if (expected === 'error') {
      expect(() => parseListen(value, options)).toThrow(FpmkitInvalidOptionError);
      return;
    }
    expect(parseListen(value, options)).toEqual(expected);
  });

  it('has at least 30 forms in its table', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it('names the sun_path limit when a path is too long', () => {
    const long = `/run/${'x'.repeat(120)}.sock`;
    expect(() => parseListen(long)).toThrow(/sun_path holds at most 107 bytes/);
    // Multi-byte characters count as bytes, as the kernel counts them.
    expect(() => parseListen(`/${'é'.repeat(54)}`)).toThrow(FpmkitInvalidOptionError);
  });

  it('round-trips through formatListen', () => {
    for (const [value, prefix, expected] of rows) {
      if (expected === 'error') continue;
      const parsed = parseListen(value, prefix === undefined ? {} : { prefix });
      expect(parseListen(formatListen(parsed))).toEqual(parsed);
    }
  });

  it('gives a connect target on this host', () => {
    expect(listenConnectTarget(parseListen('9000'))).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(listenConnectTarget(parseListen('[::]:9000'))).toEqual({ host: '::1', port: 9000 });
    expect(listenConnectTarget(parseListen('/run/x.sock'))).toEqual({ socketPath: '/run/x.sock' });
    expect(listenConnectTarget(parseListen('10.0.0.1:9000'))).toEqual({
      host: '10.0.0.1',
      port: 9000,
    });
  });

  it('returns an address or throws an FpmkitError for any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.option(fc.string()), (value, prefix) => {
        try {
          const parsed = parseListen(value, prefix === null ? {} : { prefix });
          expect(['unix', 'tcp']).toContain(parsed.kind);
        } catch (error) {
          expect(isFpmkitError(error)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
