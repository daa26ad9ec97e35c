import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseProcNetTcp, tcpListenQueues } from '../../src/kernel/index.js';
import { formatIpv6 } from '../../src/kernel/proc-net-tcp.js';
import { fixture, fixtureJson, fuzz } from './helpers.js';

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

describe('parseProcNetTcp', () => {
  it('decodes little-endian IPv4 addresses and big-endian ports', () => {
    const [row] = parseProcNetTcp(
      `${HEADER}   2: 0100007F:46AA 00000000:0000 0A 00000000:00000008 00:00000000 00000000     0        0 28215 9 00000000c05cec95 100 0 0 10 0\n`,
    );
    expect(row).toEqual({
      family: 4,
      localAddress: '127.0.0.1',
      localPort: 18090,
      remoteAddress: '0.0.0.0',
      remotePort: 0,
      state: 10,
      stateName: 'LISTEN',
      txQueue: 0,
      rxQueue: 8,
      uid: 0,
      inode: 28215,
    });
  });

  it('decodes IPv6 rows, including short TIME_WAIT rows', () => {
    const rows = parseProcNetTcp(
      '   1: 00000000000000000000000001000000:46AC 00000000000000000000000000000000:0000 0A 00000000:00000005 00:00000000 00000000     0        0 1719999 8 00000000d337d59d 100 0 0 10 0\n' +
        '   3: 0000000000000000FFFF00000100007F:46AC 00000000000000000000000001000000:E830 06 00000000:00000000 03:00000D2A 00000000     0        0 0 3 000000009d5dd43a\n',
    );
    expect(
      rows.map((r) => [r.family, r.localAddress, r.localPort, r.remoteAddress, r.stateName]),
    ).toEqual([
      [6, '::1', 18092, '::', 'LISTEN'],
      [6, '::ffff:127.0.0.1', 18092, '::1', 'TIME_WAIT'],
    ]);
  });

  it.each([
    ['too few fields', '   0: 0100007F:46AA 00000000:0000 0A'],
    [
      'bad address length',
      '   0: 0100007:46AA 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1',
    ],
    [
      'bad queues',
      '   0: 0100007F:46AA 00000000:0000 0A 00000000-00000000 00:00000000 00000000 0 0 1',
    ],
    [
      'mixed families',
      '   0: 0100007F:46AA 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1',
    ],
  ])('rejects %s with the line', (_n, line) => {
    expect(() => parseProcNetTcp(`${HEADER}${line}\n`)).toThrow(FpmkitParseError);
    try {
      parseProcNetTcp(`${HEADER}${line}\n`);
    } catch (e) {
      expect((e as FpmkitParseError).line).toBe(2);
    }
  });

  it('formats IPv6 addresses as RFC 5952 text', () => {
    const b = (hex: string) => hex.match(/../g)!.map((h) => Number.parseInt(h, 16));
    expect(formatIpv6(b('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(b('fe800000000000000000000000000000'))).toBe('fe80::');
    expect(formatIpv6(b('20010db8000100020003000400050006'))).toBe('2001:db8:1:2:3:4:5:6');
  });
});

describe('captured TCP fixtures', () => {
  it('tcp-ipv4-saturated: the LISTEN row rx_queue is the queue ss and FPM report', () => {
    const meta = fixtureJson<{
      port_hex: string;
      queued_observed_in_ss: number;
      fpm_status_listen_queue: number;
    }>('proc-net-unix', 'tcp-ipv4-saturated', 'meta.json');
    const q = tcpListenQueues(fixture('proc-net-unix', 'tcp-ipv4-saturated', 'proc-net-tcp.txt'));
    const pool = q.find((x) => x.port === Number.parseInt(meta.port_hex, 16))!;
    expect(pool).toMatchObject({ family: 4, address: '127.0.0.1', inode: 28215 });
    expect(pool.queued).toBe(meta.queued_observed_in_ss);
    expect(pool.queued).toBe(meta.fpm_status_listen_queue);
    // Queued, unaccepted connections are ESTABLISHED rows with inode 0 carrying the request bytes.
    const waiting = parseProcNetTcp(
      fixture('proc-net-unix', 'tcp-ipv4-saturated', 'proc-net-tcp.txt'),
    ).filter((r) => r.localPort === 18090 && r.stateName === 'ESTABLISHED' && r.inode === 0);
    expect(waiting).toHaveLength(8);
  });

  it('tcp-ipv6-saturated: rx_queue 5 = backlog 4 + 1', () => {
    const meta = fixtureJson<{ port_hex: string; queued_observed_in_ss: number; backlog: number }>(
      'proc-net-unix',
      'tcp-ipv6-saturated',
      'meta.json',
    );
    const q = tcpListenQueues(fixture('proc-net-unix', 'tcp-ipv6-saturated', 'proc-net-tcp6.txt'));
    const pool = q.find((x) => x.port === Number.parseInt(meta.port_hex, 16))!;
    expect(pool).toMatchObject({ family: 6, address: '::1', queued: meta.queued_observed_in_ss });
    expect(pool.queued).toBe(meta.backlog + 1);
  });

  it('netstat-overflow-ipv4: the LISTEN line from meta parses to its rx/tx queue', () => {
    const meta = fixtureJson<{
      proc_net_tcp_listen_line_during: { line: string; rx_queue: number; tx_queue: number };
    }>('proc-net-unix', 'netstat-overflow-ipv4', 'meta.json');
    const [row] = parseProcNetTcp(meta.proc_net_tcp_listen_line_during.line);
    expect(row!.rxQueue).toBe(meta.proc_net_tcp_listen_line_during.rx_queue);
    expect(row!.txQueue).toBe(meta.proc_net_tcp_listen_line_during.tx_queue);
    expect(
      parseProcNetTcp(fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-tcp-during.txt'))
        .length,
    ).toBeGreaterThan(30);
  });
});

describe('fuzzing', () => {
  it('any mutation of the captures yields rows or an FpmkitParseError with the line', () => {
    const seeds = [
      fixture('proc-net-unix', 'tcp-ipv4-saturated', 'proc-net-tcp6.txt'),
      fixture('proc-net-unix', 'tcp-ipv6-saturated', 'proc-net-tcp6.txt'),
      fixture('proc-net-unix', 'tcp-ipv6-saturated', 'proc-net-tcp.txt')
        .split('\n')
        .slice(0, 12)
        .join('\n'),
    ];
    fuzz(seeds, (t) => tcpListenQueues(parseProcNetTcp(t)));
  });
});
