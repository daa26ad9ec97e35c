import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { parseSysctl, parseSysctlEntries } from '../../src/kernel/index.js';
import { normalizeSysctlKey } from '../../src/kernel/sysctl.js';
import { fixture, fuzz } from './helpers.js';

describe('parseSysctl', () => {
  it('reads sysctl -a output, keeping tabs inside values', () => {
    const values = parseSysctl(fixture('proc-files', 'sysctl-a.txt'));
    expect(values['net.core.somaxconn']).toMatch(/^\d+$/);
    expect(values['net.ipv4.ip_local_port_range']).toMatch(/^\d+\t\d+$/);
  });

  it('reads sysctl.d syntax: comments, the - prefix, white space, slashes, later wins', () => {
    const text = `# comment
; also a comment
   net.core.somaxconn=1024
-net.ipv4.tcp_tw_reuse =  1
net/ipv4/conf/eth0.100/rp_filter = 2
net.core.somaxconn = 2048
`;
    expect(parseSysctl(text)).toEqual({
      'net.core.somaxconn': '2048',
      'net.ipv4.tcp_tw_reuse': '1',
      'net.ipv4.conf.eth0/100.rp_filter': '2',
    });
    expect(parseSysctlEntries(text).map((e) => [e.key, e.ignoreErrors, e.line])).toEqual([
      ['net.core.somaxconn', false, 3],
      ['net.ipv4.tcp_tw_reuse', true, 4],
      ['net.ipv4.conf.eth0/100.rp_filter', false, 5],
      ['net.core.somaxconn', false, 6],
    ]);
  });

  it('keeps dotted keys as they are', () => {
    expect(normalizeSysctlKey('net.ipv4.conf.all.rp_filter')).toBe('net.ipv4.conf.all.rp_filter');
  });

  it.each([
    ['no =', 'net.core.somaxconn 4096', 1],
    ['empty name', ' = 4', 1],
    ['space in name', 'net core = 4', 1],
  ])('rejects %s with the line', (_n, text, line) => {
    try {
      parseSysctl(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitParseError);
      expect((e as FpmkitParseError).line).toBe(line);
    }
  });

  it('survives 10,000 mutations', () => {
    fuzz([fixture('proc-files', 'sysctl-a.txt').split('\n').slice(0, 40).join('\n')], parseSysctl);
  });
});
