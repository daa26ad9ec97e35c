import { lines, parseError } from './internal.js';
import type { SysctlEntry } from './schemas.js';

export type { SysctlEntry } from './schemas.js';

const SOURCE = 'sysctl';

/**
 * sysctl.d accepts `net/core/somaxconn` as well as dots; procps swaps the two separators when
 * the first one is a slash, so dots inside a slash-separated name (VLAN interfaces) survive.
 */
export function normalizeSysctlKey(key: string): string {
  const slash = key.indexOf('/');
  const dot = key.indexOf('.');
  if (slash < 0 || (dot >= 0 && dot < slash)) return key;
  return key.replace(/[./]/g, (c) => (c === '/' ? '.' : '/'));
}

/**
 * Every entry of `sysctl -a` / `sysctl NAME` output or a sysctl.d file
 * (https://man7.org/linux/man-pages/man5/sysctl.d.5.html), in order, duplicates kept:
 *
 * ```text
 * # comment            ; comment too
 * net.core.somaxconn = 4096
 * -net.ipv4.tcp_tw_reuse=1
 * ```
 *
 * A non-comment line without `=` or with an empty name throws `FpmkitParseError`.
 */
export function parseSysctlEntries(text: string): SysctlEntry[] {
  const out: SysctlEntry[] = [];
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    const trimmed = lineText.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const eq = trimmed.indexOf('=');
    if (eq < 0) throw parseError(SOURCE, "expected 'key = value'", i + 1, lineText);
    let key = trimmed.slice(0, eq).trim();
    const ignoreErrors = key.startsWith('-');
    if (ignoreErrors) key = key.slice(1).trim();
    if (key === '' || /\s/.test(key)) {
      throw parseError(SOURCE, `invalid sysctl name '${key}'`, i + 1, lineText);
    }
    out.push({
      key: normalizeSysctlKey(key),
      value: trimmed.slice(eq + 1).trim(),
      ignoreErrors,
      line: i + 1,
    });
  }
  return out;
}

/**
 * `sysctl -a` output, `sysctl NAME` output or a sysctl.d file as a name → value record; a
 * later line for the same name wins, as when sysctl.d files are applied in order.
 *
 * ```text
 * net.core.somaxconn = 4096
 * net.ipv4.ip_local_port_range = 32768	60999
 * ```
 */
export function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of parseSysctlEntries(text)) {
    Object.defineProperty(out, e.key, {
      value: e.value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
