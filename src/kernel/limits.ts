import { lines, parseDecimal, parseError } from './internal.js';
import type { LimitValue, ProcessLimit } from './schemas.js';

export type { LimitValue, ProcessLimit } from './schemas.js';

const SOURCE = '/proc/PID/limits';

/** Limits by the kernel's name, e.g. `'Max open files'`. */
export type ProcessLimits = Record<string, ProcessLimit>;

function value(text: string): LimitValue | undefined {
  return text === 'unlimited' ? 'unlimited' : parseDecimal(text);
}

/**
 * Parses `/proc/PID/limits` (kernel `fs/proc/base.c` `proc_pid_limits`):
 *
 * ```text
 * Limit                     Soft Limit           Hard Limit           Units
 * Max open files            1024                 524288               files
 * Max core file size        0                    unlimited            bytes
 * ```
 */
export function parseProcPidLimits(text: string): ProcessLimits {
  const out: ProcessLimits = {};
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    if (lineText.trim() === '' || (i === 0 && lineText.startsWith('Limit'))) continue;
    const m = /^(\S.*?)\s{2,}(\S+)\s+(\S+)(?:\s+(\S+))?\s*$/.exec(lineText);
    const soft = m ? value(m[2]!) : undefined;
    const hard = m ? value(m[3]!) : undefined;
    if (!m || soft === undefined || hard === undefined) {
      throw parseError(SOURCE, "expected 'Name  Soft  Hard  [Units]'", i + 1, lineText);
    }
    const limit: ProcessLimit = { soft, hard };
    if (m[4] !== undefined) limit.unit = m[4];
    Object.defineProperty(out, m[1]!, {
      value: limit,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** @deprecated Use {@link parseProcPidLimits}, named like the other `/proc` parsers. */
export const parseLimits = parseProcPidLimits;
