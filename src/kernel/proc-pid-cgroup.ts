import { lines, parseDecimal, parseError } from './internal.js';
import type { CgroupMembership } from './schemas.js';

export type { CgroupMembership } from './schemas.js';

/**
 * Parses `/proc/PID/cgroup` (https://man7.org/linux/man-pages/man7/cgroups.7.html):
 *
 * ```text
 * 0::/system.slice/php8.2-fpm.service
 * 4:memory:/process_api/f957c23fa26c
 * ```
 */
export function parseProcPidCgroup(text: string): CgroupMembership[] {
  const out: CgroupMembership[] = [];
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    if (lineText.trim() === '') continue;
    const m = /^(\d+):([^:]*):(.*)$/.exec(lineText);
    const id = m ? parseDecimal(m[1]!) : undefined;
    if (!m || id === undefined || !m[3]!.startsWith('/')) {
      throw parseError('/proc/PID/cgroup', "expected 'id:controllers:/path'", i + 1, lineText);
    }
    out.push({ hierarchyId: id, controllers: m[2] === '' ? [] : m[2]!.split(','), path: m[3]! });
  }
  return out;
}
