import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseSmapsRollup } from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('parseSmapsRollup', () => {
  it('reads a php-fpm worker: PSS below RSS, shared and private apart', () => {
    const r = parseSmapsRollup(fixture('proc-files', 'php-fpm-worker-smaps_rollup.txt'));
    expect(r).toMatchObject({
      rssBytes: 5644 * 1024,
      pssBytes: 1134 * 1024,
      sharedCleanBytes: 1496 * 1024,
      sharedDirtyBytes: 4028 * 1024,
      privateCleanBytes: 0,
      privateDirtyBytes: 120 * 1024,
      sharedBytes: (1496 + 4028) * 1024,
      privateBytes: 120 * 1024,
    });
    expect(r.sharedBytes + r.privateBytes).toBe(r.rssBytes);
  });

  it('rejects a file without Pss', () => {
    expect(() => parseSmapsRollup('Rss: 1 kB\n')).toThrow(FpmkitParseError);
  });

  it('survives 10,000 mutations', () => {
    fuzz(
      [
        fixture('proc-files', 'php-fpm-worker-smaps_rollup.txt'),
        fixture('proc-files', 'smaps_rollup.txt'),
      ],
      parseSmapsRollup,
    );
  });
});
