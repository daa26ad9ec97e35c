import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/fpm/listen.js';
import { ssListenerFor } from '../../src/host/net.js';
import { parseSs } from '../../src/kernel/ss.js';

const header = 'Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n';
const row = (address: string, port: number, backlog: number) =>
  `tcp   LISTEN 0      ${backlog}    ${address}:${port}      0.0.0.0:*\n`;

describe('ssListenerFor over TCP', () => {
  it('never takes another address on the same port for the pool', () => {
    const sockets = parseSs(header + row('10.1.2.3', 9000, 77));
    expect(ssListenerFor(parseListen('127.0.0.1:9000'), sockets)).toBeUndefined();
  });

  it('matches wildcards, localhost and bracketed IPv6', () => {
    const sockets = parseSs(
      header +
        row('10.1.2.3', 9000, 77) +
        row('127.0.0.1', 9001, 11) +
        row('[::1]', 9002, 22) +
        row('*', 9003, 33) +
        row('0.0.0.0', 9004, 44),
    );
    const backlog = (listen: string) => ssListenerFor(parseListen(listen), sockets)?.sendQ;
    expect(backlog('localhost:9001')).toBe(11);
    expect(backlog('127.0.0.1:9001')).toBe(11);
    expect(backlog('[::1]:9002')).toBe(22);
    expect(backlog('localhost:9002')).toBe(22);
    expect(backlog('9003')).toBe(33);
    expect(backlog('0.0.0.0:9004')).toBe(44);
    expect(backlog('9004')).toBe(44);
    expect(backlog('127.0.0.1:9003')).toBeUndefined();
  });

  it('prefers the exact address to a wildcard on the same port', () => {
    const sockets = parseSs(header + row('0.0.0.0', 9000, 5) + row('[::]', 9000, 6));
    expect(ssListenerFor(parseListen('[::]:9000'), sockets)?.sendQ).toBe(6);
    // The other family's wildcard socket on the port is someone else's.
    const v6 = parseSs(header + row('[::]', 9000, 6));
    expect(ssListenerFor(parseListen('0.0.0.0:9000'), v6)).toBeUndefined();
    expect(ssListenerFor(parseListen('9000'), v6)?.sendQ).toBe(6);
  });

  it('a row it returns always has the listen port, and a specific host never matches another host', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.tuple(octet, octet), fc.integer({ min: 1, max: 4 })), {
          maxLength: 8,
        }),
        fc.tuple(octet, octet),
        fc.integer({ min: 1, max: 4 }),
        (rows, [c, d], port) => {
          const sockets = parseSs(
            header + rows.map(([[a, b], p], i) => row(`10.0.${a}.${b}`, 9000 + p, i)).join(''),
          );
          const host = `10.0.${c}.${d}`;
          const got = ssListenerFor(parseListen(`${host}:${9000 + port}`), sockets);
          if (got !== undefined) {
            expect(got.localPort).toBe(String(9000 + port));
            expect(got.localAddress).toBe(host);
          }
        },
      ),
    );
  });
});
