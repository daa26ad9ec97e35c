import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseProcNetNetstat } from '../../src/kernel/index.js';
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
