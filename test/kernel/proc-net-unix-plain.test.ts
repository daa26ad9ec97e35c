import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseProcNetUnix } from '../../src/kernel/index.js';

describe('parseProcNetUnix field ranges', () => {
  it('keeps hex fields of 9 to 12 digits exact (past 2^31, where 32-bit bitwise tests go wrong)', () => {
    const rows = parseProcNetUnix(
      '0000000000000000: 0F0000003 00000000 FFFFFFFFFFFF 0001 03 2236110\n',
    );
    expect(rows).toEqual([
      {
        refCount: 0xf0000003,
        flags: 0xffffffffffff,
        listening: true,
        type: 1,
        state: 3,
        inode: 2236110,
      },
    ]);
  });

  it('refuses 13 hex digits and a 16-digit inode, naming the line', () => {
    for (const line of [
      '0000000000000000: 0000000000003 00000000 00000000 0001 03 1',
      '0000000000000000: 00000003 00000000 00000000 0001 03 1234567890123456',
    ]) {
      expect(() => parseProcNetUnix(`x: 1 0 0 1 1 1\n${line}\n`)).toThrow(FpmkitParseError);
      expect(() => parseProcNetUnix(`${line}\n`)).toThrow(/unix:1\]/);
    }
  });
});
