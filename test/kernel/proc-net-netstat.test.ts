import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseProcNetNetstat } from '../../src/kernel/index.js';
import { NetstatGroupReader, parseProcNetNetstatGroup } from '../../src/kernel/proc-net-netstat.js';
import { fixture, fixtureJson, fuzz } from './helpers.js';

describe('parseProcNetNetstat', () => {
  it.each([
    ['empty', '', {}],
    [
      'one group',
      'TcpExt: ListenOverflows ListenDrops\nTcpExt: 3 4\n',
      { TcpExt: { ListenOverflows: 3, ListenDrops: 4 } },
    ],
    [
      'signed snmp value',
      'Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1\n',
      { Tcp: { RtoAlgorithm: 1, MaxConn: -1 } },
    ],
    [
      'u64 beyond 2^53 is clamped',
      'X: a\nX: 18446744073709551615\n',
      { X: { a: Number.MAX_SAFE_INTEGER } },
    ],
  ])('%s', (_n, text, expected) => {
    expect({ ...parseProcNetNetstat(text) }).toEqual(expected);
  });

  it.each([
    ['header without values', 'TcpExt: a b\n', 1],
    ['value line of another group', 'TcpExt: a b\nIpExt: 1 2\n', 2],
    ['count mismatch', 'TcpExt: a b\nTcpExt: 1\n', 2],
    ['non-number', 'TcpExt: a\nTcpExt: x\n', 2],
  ])('rejects %s with the line', (_n, text, line) => {
    try {
      parseProcNetNetstat(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitParseError);
      expect((e as FpmkitParseError).line).toBe(line);
    }
  });

  it.each(['netstat-overflow-ipv4', 'tcp-ipv6-saturated'])(
    '%s: before/after deltas match meta.json',
    (dir) => {
      const meta = fixtureJson<{ netstat_delta_before_to_after: Record<string, number> }>(
        'proc-net-unix',
        dir,
        'meta.json',
      );
      const before = parseProcNetNetstat(
        fixture('proc-net-unix', dir, 'proc-net-netstat-before.txt'),
      );
      const after = parseProcNetNetstat(
        fixture('proc-net-unix', dir, 'proc-net-netstat-after.txt'),
      );
      for (const [key, delta] of Object.entries(meta.netstat_delta_before_to_after)) {
        const [group, name] = key.split('.') as [string, string];
        expect([key, after[group]![name]! - before[group]![name]!]).toEqual([key, delta]);
      }
    },
  );

  it('survives 10,000 mutations', () => {
    fuzz(
      [fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-netstat-before.txt')],
      parseProcNetNetstat,
    );
  });
});

/** Two captured files and this host's own. */
function netstatTexts(): string[] {
  return [
    fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-netstat-before.txt'),
    fixture('proc-net-unix', 'tcp-ipv6-saturated', 'proc-net-netstat-after.txt'),
    readFileSync('/proc/net/netstat', 'utf8'),
  ];
}

describe('parseProcNetNetstatGroup', () => {
  const full = (text: string, group: string) => {
    const g = parseProcNetNetstat(text)[group];
    return g === undefined ? undefined : { ...g };
  };
  const one = (text: string, group: string) => {
    const g = parseProcNetNetstatGroup(text, group);
    return g === undefined ? undefined : { ...g };
  };

  it('reads the group the full parse reads, from the fixtures and this host', () => {
    const texts = netstatTexts();
    for (const text of texts)
      for (const group of ['TcpExt', 'IpExt', 'MPTcpExt', 'Absent']) {
        expect(one(text, group)).toEqual(full(text, group));
      }
    expect(one(texts[0]!, 'TcpExt')?.ListenOverflows).toBeTypeOf('number');
  });

  it('agrees with the full parse on generated files, repeated groups included', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,6}$/);
    const group = fc.record({
      group: fc.constantFrom('TcpExt', 'IpExt', 'Tcp', 'X'),
      counters: fc.array(
        fc.tuple(name, fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), fc.nat())),
        { minLength: 1, maxLength: 8 },
      ),
      blank: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(group, { maxLength: 5 }), (groups) => {
        const text = groups
          .map(
            (g) =>
              `${g.blank ? '\n' : ''}${g.group}: ${g.counters.map((c) => c[0]).join(' ')}\n${g.group}: ${g.counters.map((c) => String(c[1])).join(' ')}\n`,
          )
          .join('');
        for (const g of ['TcpExt', 'IpExt', 'Tcp', 'X'])
          expect(one(text, g)).toEqual(full(text, g));
      }),
    );
  });

  it('rejects a malformed pair of its own group, and survives 10,000 mutations', () => {
    expect(() => parseProcNetNetstatGroup('TcpExt: a\nTcpExt: x\n', 'TcpExt')).toThrow(
      FpmkitParseError,
    );
    expect(() => parseProcNetNetstatGroup('TcpExt: a b\nIpExt: 1 2\n', 'TcpExt')).toThrow(
      FpmkitParseError,
    );
    fuzz(
      [fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-netstat-before.txt')],
      (text) => parseProcNetNetstatGroup(text, 'TcpExt'),
    );
  });
});

describe('NetstatGroupReader', () => {
  const wanted = ['ListenOverflows', 'ListenDrops', 'a', 'B1'];
  const expected = (text: string, group: string) => {
    const g = parseProcNetNetstatGroup(text, group);
    if (g === undefined) return undefined;
    const out: Record<string, number> = {};
    for (const n of wanted) if (n in g) out[n] = g[n]!;
    return out;
  };
  const read = (reader: NetstatGroupReader, text: string) => {
    const g = reader.read(text);
    return g === undefined ? undefined : { ...g };
  };

  it('reads what the group parse reads, from the fixtures and this host, header kept or not', () => {
    const texts = netstatTexts();
    for (const group of ['TcpExt', 'IpExt', 'Absent']) {
      const reader = new NetstatGroupReader(group, wanted);
      // Twice through: the second pass finds each header kept from the pass before.
      for (const text of [...texts, ...texts])
        expect(read(reader, text)).toEqual(expected(text, group));
    }
    const tcp = new NetstatGroupReader('TcpExt', wanted).read(texts[0]!);
    expect(tcp?.ListenOverflows).toBeTypeOf('number');
  });

  it('agrees with the group parse on generated files, one reader across all of them', () => {
    const name = fc.constantFrom('ListenOverflows', 'ListenDrops', 'a', 'B1', 'Other', 'x_2');
    const group = fc.record({
      group: fc.constantFrom('TcpExt', 'IpExt', 'X'),
      counters: fc.array(
        fc.tuple(name, fc.oneof(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), fc.nat())),
        { minLength: 1, maxLength: 8 },
      ),
      blank: fc.boolean(),
      cr: fc.boolean(),
    });
    const readers = ['TcpExt', 'IpExt', 'X'].map((g) => new NetstatGroupReader(g, wanted));
    fc.assert(
      fc.property(fc.array(group, { maxLength: 5 }), (groups) => {
        const text = groups
          .map((g) => {
            const eol = g.cr ? '\r\n' : '\n';
            return `${g.blank ? '\n' : ''}${g.group}: ${g.counters.map((c) => c[0]).join(' ')}${eol}${g.group}: ${g.counters.map((c) => String(c[1])).join(' ')}${eol}`;
          })
          .join('');
        for (const reader of readers) {
          const group = ['TcpExt', 'IpExt', 'X'][readers.indexOf(reader)]!;
          expect(read(reader, text)).toEqual(expected(text, group));
        }
      }),
    );
  });

  it('throws only FpmkitParseError on a malformed pair of its group, and survives 10,000 mutations', () => {
    const reader = new NetstatGroupReader('TcpExt', wanted);
    expect(() => reader.read('TcpExt: a b\nTcpExt: x 1\n')).toThrow(FpmkitParseError);
    expect(() => reader.read('TcpExt: a b\nTcpExt: 1\n')).toThrow(FpmkitParseError);
    fuzz(
      [fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-netstat-before.txt')],
      (text) => reader.read(text),
    );
  });
});
