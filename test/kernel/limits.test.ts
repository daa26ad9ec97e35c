import { describe, expect, it } from 'vitest';
import type { FpmkitParseError } from '../../src/errors.js';
import { parseLimits } from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('parseLimits', () => {
  it('reads a php-fpm worker: numbers, unlimited, and a blank unit', () => {
    const l = parseLimits(fixture('proc-files', 'php-fpm-worker-limits.txt'));
    expect(Object.keys(l)).toHaveLength(16);
    expect(l['Max cpu time']).toEqual({ soft: 'unlimited', hard: 'unlimited', unit: 'seconds' });
    expect(l['Max open files']!.unit).toBe('files');
    expect(typeof l['Max open files']!.soft).toBe('number');
    expect(l['Max nice priority']).toEqual({ soft: 0, hard: 0 });
  });
  it('rejects a malformed value with the line', () => {
    try {
      parseLimits(
        'Limit                     Soft Limit           Hard Limit           Units\nMax open files            lots                 2                    files\n',
      );
      expect.unreachable();
    } catch (e) {
      expect((e as FpmkitParseError).line).toBe(2);
    }
  });
  it('survives 10,000 mutations', () => {
    fuzz([fixture('proc-files', 'limits.txt')], parseLimits);
  });
});
