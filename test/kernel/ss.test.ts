import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseSs } from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('parseSs', () => {
  it('reads ss -ltn (no Netid column) with IPv4 and bracketed IPv6 addresses', () => {
    const rows = parseSs(fixture('proc-net-unix', 'tcp-ipv4-saturated', 'ss-tln.txt'));
    expect(rows.find((r) => r.localPort === '18090')).toEqual({
      netid: 'tcp',
      state: 'LISTEN',
      recvQ: 8,
      sendQ: 16,
      localAddress: '127.0.0.1',
      localPort: '18090',
      peerAddress: '0.0.0.0',
      peerPort: '*',
    });
    expect(rows.find((r) => r.localAddress === '[::1]')).toMatchObject({
      localPort: '18081',
      peerAddress: '[::]',
    });
  });

  it('reads ss -ltnp process lists', () => {
    const rows = parseSs(fixture('proc-net-unix', 'tcp-ipv6-saturated', 'ss-tlnp.txt'));
    const pool = rows.find((r) => r.localPort === '18092')!;
    expect(pool).toMatchObject({ recvQ: 5, sendQ: 4 });
    expect(pool.processes).toEqual([
      { name: 'php-fpm8.2', pid: 21979, fd: 6 },
      { name: 'php-fpm8.2', pid: 21976, fd: 9 },
    ]);
    expect(rows.find((r) => r.localPort === '2024')!.processes).toBeUndefined();
  });

  it('reads ss -xl and ss -xlp: path, inode, peer', () => {
    const rows = parseSs(fixture('proc-net-unix', 'unix-saturated', 'ss-xlp.txt'));
    expect(rows[0]).toMatchObject({
      netid: 'u_str',
      state: 'LISTEN',
      recvQ: 9,
      sendQ: 8,
      localAddress: '/run/php/fixture-lab/sat.sock',
      localPort: '1720980',
      peerAddress: '*',
      peerPort: '0',
    });
    expect(rows[0]!.processes).toHaveLength(3);
  });

  it('reads ss -lt service names and paths with spaces', () => {
    const text = `State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      511        localhost:http-alt 0.0.0.0:*
Netid State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
u_str LISTEN 2      4      /srv/my app/fpm.sock 77 * 0
u_str ESTAB  0      0      * 78 * 79
`;
    const rows = parseSs(text);
    expect(rows.map((r) => [r.netid, r.localAddress, r.localPort])).toEqual([
      ['tcp', 'localhost', 'http-alt'],
      ['u_str', '/srv/my app/fpm.sock', '77'],
      ['u_str', '*', '78'],
    ]);
  });

  it.each([
    ['missing queues', 'LISTEN x 1 a:1 b:2'],
    ['missing peer', 'LISTEN 0 1 a:1'],
  ])('rejects %s with the line', (_n, line) => {
    try {
      parseSs(`State Recv-Q Send-Q Local Address:Port Peer Address:Port\n${line}\n`);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitParseError);
      expect((e as FpmkitParseError).line).toBe(2);
    }
  });

  it('survives 10,000 mutations of ss -xlp / -ltnp / -ltn captures', () => {
    fuzz(
      [
        fixture('proc-net-unix', 'unix-saturated', 'ss-xlp.txt'),
        fixture('proc-net-unix', 'tcp-ipv6-saturated', 'ss-tlnp.txt'),
        fixture('proc-net-unix', 'somaxconn', 'ss-tln.txt'),
      ],
      parseSs,
    );
  });
});
