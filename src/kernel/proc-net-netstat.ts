import { lines, parseError } from './internal.js';

const SOURCE = '/proc/net/netstat';

/** Counters by group and name, e.g. `netstat.TcpExt.ListenOverflows`. */
export type NetstatCounters = Record<string, Record<string, number>>;

/**
 * Parses `/proc/net/netstat` (and `/proc/net/snmp`, which has the same layout): pairs of lines,
 * a header naming the counters and a line with their values, both prefixed by the group
 * (kernel `net/ipv4/proc.c`):
 *
 * ```text
 * TcpExt: SyncookiesSent SyncookiesRecv ... ListenOverflows ListenDrops ...
 * TcpExt: 13 96 ... 109 109 ...
 * IpExt: InNoRoutes InTruncatedPkts ...
 * ```
 *
 * Counters are unsigned 64-bit in the kernel; values above `Number.MAX_SAFE_INTEGER` (about
 * 9e15, never reached by packet counters in practice) are clamped to it. `snmp` has signed
 * fields (`Tcp: MaxConn -1`), which are kept negative.
 */
export function parseProcNetNetstat(text: string): NetstatCounters {
  return parseGroups(text, undefined);
}

/**
 * One group of `/proc/net/netstat` (`TcpExt`, ...): the same counters as
 * `parseProcNetNetstat(text)[group]`, undefined when the group is absent. Every line pair is
 * still matched as the full parse does, but only the group's counters are split and read: a
 * caller that wants two TcpExt counters at every scrape skips the other groups' hundred-odd.
 * Throws `FpmkitParseError` as `parseProcNetNetstat` does, except for counters of other groups.
 */
export function parseProcNetNetstatGroup(
  text: string,
  group: string,
): Record<string, number> | undefined {
  return parseGroups(text, group)[group];
}

/** The groups of the text; with `only`, the counters of that group alone are read. */
function parseGroups(text: string, only: string | undefined): NetstatCounters {
  const out: NetstatCounters = Object.create(null);
  const all = lines(text);
  let i = 0;
  while (i < all.length) {
    const header = all[i]!;
    if (header.trim() === '') {
      i++;
      continue;
    }
    const h = /^([A-Za-z0-9_]+):(.*)$/.exec(header);
    if (!h) throw parseError(SOURCE, 'expected "Group: Name Name ..."', i + 1, header);
    const valueLine = all[i + 1];
    if (valueLine === undefined) {
      throw parseError(SOURCE, `header for ${h[1]} has no value line`, i + 1, header);
    }
    const v = /^([A-Za-z0-9_]+):(.*)$/.exec(valueLine);
    if (!v || v[1] !== h[1]) {
      throw parseError(SOURCE, `expected the values of ${h[1]}`, i + 2, valueLine);
    }
    if (only !== undefined && h[1] !== only) {
      i += 2;
      continue;
    }
    const names = h[2]!.trim().split(/\s+/).filter(Boolean);
    const values = v[2]!.trim().split(/\s+/).filter(Boolean);
    if (names.length !== values.length) {
      throw parseError(
        SOURCE,
        `${h[1]} has ${names.length} names but ${values.length} values`,
        i + 2,
        valueLine,
      );
    }
    const group: Record<string, number> = out[h[1]!] ?? Object.create(null);
    for (let k = 0; k < names.length; k++) {
      const raw = values[k]!;
      if (!/^-?\d+$/.test(raw)) {
        throw parseError(
          SOURCE,
          `${h[1]}.${names[k]} is not an integer: '${raw}'`,
          i + 2,
          valueLine,
        );
      }
      const n = Number(raw);
      group[names[k]!] = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(n, Number.MAX_SAFE_INTEGER));
    }
    out[h[1]!] = group;
    i += 2;
  }
  return out;
}
