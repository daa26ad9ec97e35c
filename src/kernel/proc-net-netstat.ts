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

/**
 * @internal Reads a few counters of one group from successive texts of `/proc/net/netstat`, for
 * a caller that wants them at every scrape: the group's header line is split once and kept
 * while it stays the same (the kernel's list of counters does not change while it runs), and
 * only the wanted values are read from the value line. On text `parseProcNetNetstatGroup`
 * accepts it gives that function's values of the counters asked (of a repeated group, the last
 * pair's, as there). Lines of other groups, and values it was not asked for, are not looked at,
 * so on a malformed file it may return where the full parse throws; anything it cannot read
 * itself goes to the full parse, which throws `FpmkitParseError`. Undefined when the group is
 * absent; counters absent from the group are left out.
 */
export class NetstatGroupReader {
  readonly #group: string;
  readonly #names: readonly string[];
  #header: string | undefined;
  /** Index among the header's names of each wanted counter, -1 when absent. */
  #index: number[] = [];
  /** How many names the kept header has. */
  #count = 0;

  constructor(group: string, names: readonly string[]) {
    this.#group = group;
    this.#names = names;
  }

  /** The wanted counters of the group in `text`; throws `FpmkitParseError` on a malformed pair. */
  read(text: string): Record<string, number> | undefined {
    const tag = `${this.#group}:`;
    // The last header of the group (a repeated group's later values win, as in the full parse).
    let at = -1;
    let pairs = 0;
    for (let from = 0; ; ) {
      const i = text.indexOf(tag, from);
      if (i < 0) break;
      if (i === 0 || text.charCodeAt(i - 1) === 0x0a) {
        const end = lineEnd(text, i);
        const next = end + 1;
        if (text.startsWith(tag, next)) {
          at = i;
          pairs++;
          from = lineEnd(text, next) + 1;
          continue;
        }
      }
      from = i + tag.length;
    }
    if (at < 0) return this.#fullRead(text);
    const headerEnd = lineEnd(text, at);
    const header = stripCr(text.slice(at + tag.length, headerEnd));
    const valueEnd = lineEnd(text, headerEnd + 1);
    const valueLine = stripCr(text.slice(headerEnd + 1 + tag.length, valueEnd));
    if (header !== this.#header) {
      const names = header.trim().split(/\s+/).filter(Boolean);
      this.#index = this.#names.map((n) => names.lastIndexOf(n));
      this.#header = header;
      this.#count = names.length;
    }
    const values = valueLine.trim().split(/\s+/).filter(Boolean);
    // A count that does not match, or a counter an earlier pair of a repeated group may hold:
    // the full parse decides.
    if (values.length !== this.#count || (pairs > 1 && this.#index.includes(-1)))
      return this.#fullRead(text);
    const out: Record<string, number> = Object.create(null);
    for (let k = 0; k < this.#names.length; k++) {
      const i = this.#index[k]!;
      if (i < 0) continue;
      const raw = values[i]!;
      if (!/^-?\d+$/.test(raw)) return this.#fullRead(text);
      out[this.#names[k]!] = Math.max(
        -Number.MAX_SAFE_INTEGER,
        Math.min(Number(raw), Number.MAX_SAFE_INTEGER),
      );
    }
    return out;
  }

  /** Anything unusual is left to the full parse of the group, which says what is wrong. */
  #fullRead(text: string): Record<string, number> | undefined {
    const group = parseProcNetNetstatGroup(text, this.#group);
    if (group === undefined) return undefined;
    const out: Record<string, number> = Object.create(null);
    for (const name of this.#names) if (name in group) out[name] = group[name]!;
    return out;
  }
}

function lineEnd(text: string, from: number): number {
  const i = text.indexOf('\n', from);
  return i < 0 ? text.length : i;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
