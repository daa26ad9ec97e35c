import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, isFpmkitError } from '../src/errors.js';
import { renderSysctlConf } from '../src/kernel/index.js';
import {
  cAtoi,
  formatFpmTime,
  formatOctalMode,
  formatPhpSize,
  parseFpmBoolean,
  parseFpmInteger,
  parseFpmTime,
  parseOctalMode,
  parsePhpSize,
} from '../src/units.js';

describe('FPM units, with the quirks php-fpm 8.2 shows', () => {
  it.each([
    ['30s', 30],
    ['30', 30],
    ['2m', 120],
    ['1h', 3600],
    ['1d', 86400],
    ['5ms', 5],
    ['1.5m', 60],
    ['1e3', 1],
    ['s', 0],
    ['-5', -5],
  ])('time %s is %d s', (text, seconds) => {
    expect(parseFpmTime(text)).toEqual({ ok: true, value: seconds });
  });

  it.each([
    ['', 'invalid time value'],
    ['10S', 'unknown suffix used in time value'],
    ['3M', 'unknown suffix used in time value'],
  ])('time %j is refused: %s', (text, reason) => {
    expect(parseFpmTime(text)).toEqual({ ok: false, reason });
  });

  it('integers: digits with an optional leading minus, empty is 0, overflow wraps like C', () => {
    expect(parseFpmInteger('007')).toEqual({ ok: true, value: 7 });
    expect(parseFpmInteger('')).toEqual({ ok: true, value: 0 });
    expect(parseFpmInteger('99999999999')).toEqual({ ok: true, value: 1215752191 });
    for (const bad of ['+5', '10k', '0x10', '1-']) expect(parseFpmInteger(bad).ok).toBe(false);
    expect(cAtoi('  -12abc')).toBe(-12);
  });

  it('booleans: exact lower-case words', () => {
    expect(parseFpmBoolean('yes')).toEqual({ ok: true, value: true });
    expect(parseFpmBoolean('')).toEqual({ ok: true, value: false });
    expect(parseFpmBoolean('Yes').ok).toBe(false);
  });

  it('octal modes read as strtoul(base 8) does', () => {
    expect(parseOctalMode('0660')).toBe(0o660);
    expect(parseOctalMode('660')).toBe(0o660);
    expect(parseOctalMode('0899')).toBe(0);
    expect(formatOctalMode(0o660)).toBe('0660');
  });

  it('PHP sizes', () => {
    expect(parsePhpSize('128M')).toEqual({ ok: true, value: 134217728 });
    expect(parsePhpSize('-1')).toEqual({ ok: true, value: 'unlimited' });
    expect(formatPhpSize(134217728)).toBe('128M');
    expect(formatPhpSize('unlimited')).toBe('-1');
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), (n) => {
        expect(parsePhpSize(formatPhpSize(n))).toEqual({ ok: true, value: n });
      }),
    );
  });

  it.each([
    ['formatFpmTime(1.5)', () => formatFpmTime(1.5), 'seconds'],
    ['formatOctalMode(0o10000)', () => formatOctalMode(0o10000), 'mode'],
    ['formatPhpSize(-2)', () => formatPhpSize(-2), 'bytes'],
  ])('%s throws FpmkitInvalidOptionError naming the option', (_name, fn, option) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(isFpmkitError(error)).toBe(true);
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
  });
});

describe('renderSysctlConf comment lines', () => {
  it('refuses a title or path that would start a live setting', () => {
    expect(() =>
      renderSysctlConf({ somaxconn: 1024 }, { title: 'x\nnet.ipv4.ip_forward = 1' }),
    ).toThrow(FpmkitInvalidOptionError);
    expect(() =>
      renderSysctlConf({ somaxconn: 1024 }, { path: '/etc/x\nkernel.panic = 1' }),
    ).toThrow(FpmkitInvalidOptionError);
    expect(renderSysctlConf({ somaxconn: 1024 }, { title: 'ok' })).toContain(
      'net.core.somaxconn = 1024',
    );
  });
});
