import { lines, parseDecimal, parseError } from './internal.js';
import type { Meminfo } from './schemas.js';

export type { Meminfo } from './schemas.js';

const SOURCE = '/proc/meminfo';

const NAMED = {
  availableBytes: 'MemAvailable',
  buffersBytes: 'Buffers',
  cachedBytes: 'Cached',
  swapTotalBytes: 'SwapTotal',
  swapFreeBytes: 'SwapFree',
  shmemBytes: 'Shmem',
} as const;

/**
 * Parses `Name: value [kB]` lines as /proc/meminfo, /proc/PID/status and smaps_rollup print
 * them into a record; `kB` values become bytes. Lines without a colon throw.
 */
export function parseKeyValueKib(
  text: string,
  source: string,
  skip?: (line: string) => boolean,
): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    if (lineText.trim() === '' || skip?.(lineText)) continue;
    const m = /^([^:\s][^:]*):\s*(\S+)(?:\s+(kB))?\s*$/.exec(lineText);
    const n = m ? parseDecimal(m[2]!) : undefined;
    if (!m || n === undefined) {
      throw parseError(source, "expected 'Name: number [kB]'", i + 1, lineText);
    }
    out[m[1]!] = m[3] ? n * 1024 : n;
  }
  return out;
}

/**
 * Parses `/proc/meminfo` (https://docs.kernel.org/filesystems/proc.html, "meminfo"); `kB`
 * there means KiB:
 *
 * ```text
 * MemTotal:        8130852 kB
 * MemAvailable:    6022948 kB
 * HugePages_Total:       0
 * ```
 */
export function parseProcMeminfo(text: string): Meminfo {
  const fields = parseKeyValueKib(text, SOURCE);
  const total = fields.MemTotal;
  const free = fields.MemFree;
  if (total === undefined || free === undefined) {
    throw parseError(SOURCE, 'MemTotal and MemFree are missing');
  }
  const out: Meminfo = { totalBytes: total, freeBytes: free, fields: { ...fields } };
  for (const [name, key] of Object.entries(NAMED) as [keyof typeof NAMED, string][]) {
    const v = fields[key];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Same function as {@link parseProcMeminfo}, under its original name; kept as a stable alias. */
export const parseMeminfo = parseProcMeminfo;
