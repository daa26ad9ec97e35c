import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  editSysctlConf,
  editSystemdDropIn,
  parseSysctl,
  renderSysctlConf,
  renderSystemdDropIn,
} from '../../src/kernel/index.js';

function invalid(fn: () => unknown, option: string | RegExp): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toMatch(option);
    return;
  }
  throw new Error('expected FpmkitInvalidOptionError');
}

describe('editSysctlConf', () => {
  const rendered = renderSysctlConf({ somaxconn: 1024, swappiness: 10 });

  it('changes a value in place and adds new keys next to their group', () => {
    const r = editSysctlConf(rendered, [
      { key: 'net.core.somaxconn', value: 4096 },
      { key: 'net.core.netdev_max_backlog', value: 16384 },
      { key: 'vm.overcommit_memory', value: 1 },
    ]);
    expect(parseSysctl(r.text)).toEqual({
      'net.core.somaxconn': '4096',
      'net.core.netdev_max_backlog': '16384',
      'vm.swappiness': '10',
      'vm.overcommit_memory': '1',
    });
    const lines = r.text.split('\n');
    expect(lines[r.changes[1]!.linesAfter[0]! - 2]).toBe('net.core.somaxconn = 4096');
    expect(lines[r.changes[2]!.linesAfter[0]! - 2]).toBe('vm.swappiness = 10');
    expect(r.changes.map((c) => c.action)).toEqual(['set', 'add', 'add']);
  });

  it('keeps comments, the - prefix, spacing, CRLF and a missing final newline', () => {
    const text =
      '; tuned\r\n-net/core/somaxconn=128 \r\n# net.ipv4.tcp_fin_timeout = 60\r\nvm.swappiness = 1';
    const r = editSysctlConf(text, [
      { key: 'net.core.somaxconn', value: 4096 },
      { key: 'net.ipv4.tcp_fin_timeout', value: 15 },
    ]);
    expect(r.text).toBe(
      '; tuned\r\n-net/core/somaxconn=4096 \r\n# net.ipv4.tcp_fin_timeout = 60\r\nnet.ipv4.tcp_fin_timeout=15\r\nvm.swappiness = 1',
    );
    const removed = editSysctlConf(text, [{ key: 'vm.swappiness', remove: true }]);
    expect(removed.text).toBe(
      '; tuned\r\n-net/core/somaxconn=128 \r\n# net.ipv4.tcp_fin_timeout = 60',
    );
  });

  it('changes the last of repeated keys, which is the one sysctl applies last', () => {
    const r = editSysctlConf('a.b = 1\na.b = 2\n', [{ key: 'a.b', value: 3 }]);
    expect(r.text).toBe('a.b = 1\na.b = 3\n');
    expect(r.changes[0]).toMatchObject({ linesBefore: [2], shadowed: [1] });
  });

  it('refuses values and keys that would add a line or change meaning', () => {
    for (const value of ['1\nvm.swappiness = 0', '1\r', '1\0', ' 1', '', '\uD800']) {
      invalid(
        () => editSysctlConf('', [{ key: 'net.core.somaxconn', value }]),
        'net.core.somaxconn',
      );
    }
    for (const key of ['net core', '#x', 'a=b', '', '-a.b']) {
      invalid(() => editSysctlConf('', [{ key, value: 1 }]), 'edits[0].key');
    }
  });

  it('keeps every byte of random files and changes only what it names', () => {
    const lineArb = fc.oneof(
      fc.constantFrom(
        '',
        '# comment',
        '; other comment',
        '   # indented',
        '#net.core.somaxconn = 1',
      ),
      fc
        .tuple(
          fc.constantFrom('-', ''),
          fc.constantFrom(
            'net.core.somaxconn',
            'net/core/somaxconn',
            'vm.swappiness',
            'fs.file-max',
            'kernel.x',
          ),
          fc.constantFrom('=', ' = ', '  =\t'),
          fc.constantFrom('1', '4096', '32768\t60999', 'x y'),
          fc.constantFrom('', ' ', '\t'),
        )
        .map((parts) => parts.join('')),
    );
    const fileArb = fc
      .tuple(fc.array(lineArb, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
      .map(([lines, eol, final]) => lines.join(eol) + (final && lines.length > 0 ? eol : ''));
    let runs = 0;
    fc.assert(
      fc.property(
        fileArb,
        fc.constantFrom('net.core.somaxconn', 'vm.swappiness', 'net.ipv4.tcp_tw_reuse'),
        fc.integer({ min: 0, max: 100000 }),
        (text, key, value) => {
          expect(editSysctlConf(text, []).text).toBe(text);
          const before = parseSysctl(text);
          const r = editSysctlConf(text, [{ key, value }]);
          expect(parseSysctl(r.text)).toEqual({ ...before, [key]: String(value) });
          const gone = editSysctlConf(text, [{ key, remove: true }]);
          const rest = { ...before };
          delete rest[key];
          expect(parseSysctl(gone.text)).toEqual(rest);
          runs++;
        },
      ),
      { numRuns: 300, seed: 20261207 },
    );
    expect(runs).toBe(300);
  });
});

describe('editSystemdDropIn', () => {
  const rendered = renderSystemdDropIn({ limitNofile: 1024 });

  it('changes LimitNOFILE in place and adds LimitCORE beside it', () => {
    const r = editSystemdDropIn(rendered, [
      { key: 'LimitNOFILE', value: '65536:524288' },
      { key: 'LimitCORE', value: 'infinity' },
    ]);
    const lines = r.text.split('\n');
    const at = lines.indexOf('LimitNOFILE=65536:524288');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe('LimitCORE=infinity');
    expect(r.text.replace('LimitNOFILE=65536:524288\nLimitCORE=infinity', 'LimitNOFILE=1024')).toBe(
      rendered,
    );
  });

  it('keeps other sections, joins continued values, and appends a missing section', () => {
    const text =
      '[Unit]\nDescription=x\n\n[Service]\r\nEnvironment=A=1 \\\r\n  B=2\r\nLimitNOFILE=10\r\n';
    const r = editSystemdDropIn(text, [
      { key: 'Environment', value: 'A=3' },
      { section: 'Install', key: 'WantedBy', value: 'multi-user.target' },
    ]);
    expect(r.text).toBe(
      '[Unit]\nDescription=x\n\n[Service]\r\nEnvironment=A=3\r\nLimitNOFILE=10\r\n\r\n[Install]\r\nWantedBy=multi-user.target\r\n',
    );
    expect(r.changes[0]).toMatchObject({ linesBefore: [5, 6], action: 'set' });
    const removed = editSystemdDropIn(text, [{ key: 'Environment', remove: true }]);
    expect(removed.text).toBe('[Unit]\nDescription=x\n\n[Service]\r\nLimitNOFILE=10\r\n');
    expect(editSystemdDropIn('', [{ key: 'LimitNOFILE', value: 8 }]).text).toBe(
      '[Service]\nLimitNOFILE=8\n',
    );
  });

  it('refuses values that would add a line or continue one', () => {
    for (const value of ['1\nExecStart=/bin/sh', '1\\', '1\0', ' 1']) {
      invalid(() => editSystemdDropIn('', [{ key: 'LimitNOFILE', value }]), 'Service.LimitNOFILE');
    }
    invalid(() => editSystemdDropIn('', [{ key: 'Limit NOFILE', value: 1 }]), 'edits[0].key');
    invalid(
      () => editSystemdDropIn('', [{ section: 'Service]\n[x', key: 'A', value: 1 }]),
      'edits[0].section',
    );
  });
});
