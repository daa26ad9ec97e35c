import { lines, parseDecimal, parseError } from './internal.js';
import type { CgroupMemory, CgroupMemoryLimit } from './schemas.js';

export type { CgroupMemory, CgroupMemoryLimit } from './schemas.js';

/**
 * cgroup v1 has no "max": an unset limit reads as PAGE_COUNTER_MAX pages, 9223372036854771712
 * on 4 KiB pages. Anything beyond 2^53 bytes (8 PiB) is treated as that sentinel.
 */
const V1_UNLIMITED_ABOVE = Number.MAX_SAFE_INTEGER;

function firstLine(text: string): string {
  return lines(text)[0] ?? '';
}

/**
 * Parses one limit file: v2 `memory.max` / `memory.high` (`max` means no limit) or v1
 * `memory.limit_in_bytes` (a huge number means no limit). Both give `'unlimited'`, never a
 * sentinel number.
 *
 * ```text
 * max
 * 536870912
 * 9223372036854771712
 * ```
 */
export function parseCgroupMemoryLimit(text: string, version: 1 | 2): CgroupMemoryLimit {
  const value = text.trim();
  if (version === 2 && value === 'max') return 'unlimited';
  if (!/^\d+$/.test(value)) {
    throw parseError(
      `cgroup v${version} memory limit`,
      `expected a number${version === 2 ? " or 'max'" : ''}`,
      1,
      firstLine(text),
    );
  }
  const n = Number(value);
  if (n > V1_UNLIMITED_ABOVE) {
    if (version === 1) return 'unlimited';
    throw parseError('cgroup v2 memory limit', 'limit beyond 2^53 bytes', 1, firstLine(text));
  }
  return n;
}

/** Parses a usage file (`memory.current`, `memory.usage_in_bytes`): one number of bytes. */
export function parseCgroupMemoryUsage(text: string): number {
  const n = parseDecimal(text.trim());
  if (n === undefined) {
    throw parseError('cgroup memory usage', 'expected a number of bytes', 1, firstLine(text));
  }
  return n;
}

/**
 * Parses `memory.stat` (v1 or v2; https://docs.kernel.org/admin-guide/cgroup-v2.html):
 *
 * ```text
 * anon 10485760
 * file 52428800
 * ```
 */
export function parseCgroupMemoryStat(text: string): Record<string, number> {
  const out: Record<string, number> = Object.create(null);
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    if (lineText.trim() === '') continue;
    const m = /^(\S+)\s+(\d+)\s*$/.exec(lineText);
    // v1 prints its no-limit sentinel (about 2^63) here too; such values are clamped to 2^53 - 1.
    const n = m ? Math.min(Number(m[2]), Number.MAX_SAFE_INTEGER) : undefined;
    if (!m || n === undefined)
      throw parseError('memory.stat', "expected 'name value'", i + 1, lineText);
    out[m[1]!] = n;
  }
  return { ...out };
}

/** The texts of a cgroup's memory files; give the ones you have. */
export type CgroupMemoryFiles =
  | { version: 2; max?: string; high?: string; current?: string; stat?: string }
  | { version: 1; limitInBytes?: string; usageInBytes?: string; stat?: string };

/** Parses a cgroup's memory files (v2 `memory.max`/`memory.current`/`memory.stat`, v1 `memory.limit_in_bytes` ...). */
export function parseCgroupMemory(files: CgroupMemoryFiles): CgroupMemory {
  const out: CgroupMemory = { version: files.version };
  const limit = files.version === 2 ? files.max : files.limitInBytes;
  if (limit !== undefined) out.limitBytes = parseCgroupMemoryLimit(limit, files.version);
  if (files.version === 2 && files.high !== undefined) {
    out.highBytes = parseCgroupMemoryLimit(files.high, 2);
  }
  const usage = files.version === 2 ? files.current : files.usageInBytes;
  if (usage !== undefined) out.usageBytes = parseCgroupMemoryUsage(usage);
  if (files.stat !== undefined) out.stat = parseCgroupMemoryStat(files.stat);
  return out;
}

/** The smaller of two limits, `'unlimited'` being the largest. */
export function tighterLimit(
  a: CgroupMemoryLimit | undefined,
  b: CgroupMemoryLimit | undefined,
): CgroupMemoryLimit | undefined {
  if (a === undefined || a === 'unlimited') return b ?? a;
  if (b === undefined || b === 'unlimited') return a;
  return Math.min(a, b);
}
