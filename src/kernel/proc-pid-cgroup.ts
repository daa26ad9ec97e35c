import { z } from 'zod';
import { lines, parseDecimal, parseError } from './internal.js';

export const cgroupMembershipSchema = z.object({
  /** 0 for the v2 unified hierarchy. */
  hierarchyId: z.number().int().nonnegative(),
  /** v1 controllers of the hierarchy (`memory`, `name=systemd`); empty for v2. */
  controllers: z.array(z.string()),
  /** Path below the hierarchy's mount point, starting with `/`. */
  path: z.string(),
});
export type CgroupMembership = z.infer<typeof cgroupMembershipSchema>;

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
