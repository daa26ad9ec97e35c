import { parseError } from './internal.js';
import { parseKeyValueKib } from './meminfo.js';
import type { SmapsRollup } from './schemas.js';

export type { SmapsRollup } from './schemas.js';

const SOURCE = '/proc/PID/smaps_rollup';

/**
 * Parses `/proc/PID/smaps_rollup` (kernel 4.14+; https://docs.kernel.org/filesystems/proc.html):
 * a header line for the whole address space, then totals:
 *
 * ```text
 * 55cd58dfd000-7ffc0fd9a000 ---p 00000000 00:00 0                          [rollup]
 * Rss:                1772 kB
 * Pss:                 352 kB
 * ```
 */
export function parseSmapsRollup(text: string): SmapsRollup {
  const f = parseKeyValueKib(text, SOURCE, (line) => /^[0-9a-f]+-[0-9a-f]+\s/.test(line));
  const need = ['Rss', 'Pss', 'Shared_Clean', 'Shared_Dirty', 'Private_Clean', 'Private_Dirty'];
  const missing = need.filter((k) => f[k] === undefined);
  if (missing.length > 0) throw parseError(SOURCE, `missing ${missing.join(', ')}`);
  const out: SmapsRollup = {
    rssBytes: f.Rss!,
    pssBytes: f.Pss!,
    sharedCleanBytes: f.Shared_Clean!,
    sharedDirtyBytes: f.Shared_Dirty!,
    privateCleanBytes: f.Private_Clean!,
    privateDirtyBytes: f.Private_Dirty!,
    sharedBytes: f.Shared_Clean! + f.Shared_Dirty!,
    privateBytes: f.Private_Clean! + f.Private_Dirty!,
  };
  if (f.Anonymous !== undefined) out.anonymousBytes = f.Anonymous;
  if (f.Swap !== undefined) out.swapBytes = f.Swap;
  if (f.SwapPss !== undefined) out.swapPssBytes = f.SwapPss;
  return out;
}
