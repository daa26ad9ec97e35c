import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseMeminfo } from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('parseMeminfo', () => {
  it('reads the capture: kB lines become bytes, counts stay counts', () => {
    const text = fixture('proc-files', 'meminfo.txt');
    const m = parseMeminfo(text);
    const kib = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text)![1]) * 1024;
    expect(m.totalBytes).toBe(kib('MemTotal'));
    expect(m.availableBytes).toBe(kib('MemAvailable'));
    expect(m.fields.HugePages_Total).toBe(Number(/^HugePages_Total:\s+(\d+)$/m.exec(text)![1]));
    expect(m.availableBytes!).toBeLessThanOrEqual(m.totalBytes);
  });

  it.each([
    ['empty', '', undefined],
    ['no MemFree', 'MemTotal: 10 kB\n', undefined],
    ['no colon', 'MemTotal 10 kB\n', 1],
    ['not a number', 'MemTotal: x kB\n', 1],
  ])('rejects %s', (_n, text, line) => {
    try {
      parseMeminfo(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitParseError);
      expect((e as FpmkitParseError).line).toBe(line);
    }
  });

  it('survives 10,000 mutations', () => {
    fuzz([fixture('proc-files', 'meminfo.txt')], parseMeminfo);
  });
});
