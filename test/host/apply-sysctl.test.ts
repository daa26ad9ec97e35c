import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { applySysctlFile, writeSystemdDropIn } from '../../src/host/apply-sysctl.js';
import { isRoot, requireBinary } from '../support/integration.js';

const unshare = requireBinary('unshare', 'util-linux');
const canUnshare = isRoot() && unshare.path !== undefined;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fpmkit-sysctl-'));
  dirs.push(d);
  return d;
};

describe.skipIf(!canUnshare && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `sysctl apply inside a network namespace made by the test${canUnshare ? '' : ' (needs root and unshare)'}`,
  () => {
    const runChild = (file: string, edits: unknown, procSysRoot?: string) => {
      const r = spawnSync(
        unshare.path!,
        [
          '-n',
          process.execPath,
          '--import',
          'tsx',
          'test/host/apply-sysctl-child.ts',
          file,
          JSON.stringify(edits),
          ...(procSysRoot === undefined ? [] : [procSysRoot]),
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout);
    };

    it('changes somaxconn in the namespace and nowhere else, keeping the file as written', () => {
      const dir = tmp();
      const file = join(dir, '60-fpm.conf');
      const original =
        '# queue for php-fpm\nnet.core.somaxconn = 1024\n\n# keep\nvm.swappiness=10\n';
      writeFileSync(file, original);
      const hostBefore = readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim();
      const want = hostBefore === '2345' ? '2346' : '2345';
      const out = runChild(file, [{ key: 'net.core.somaxconn', value: Number(want) }]);
      expect(out.somaxconn).toBe(want);
      expect(out.applied).toEqual([{ key: 'net.core.somaxconn', value: want, live: want }]);
      expect(out.netns).not.toBe(readlinkSync('/proc/self/ns/net'));
      expect(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim()).toBe(hostBefore);
      expect(readFileSync(file, 'utf8')).toBe(original.replace('= 1024', `= ${want}`));
      expect(out.diff).toContain(`+net.core.somaxconn = ${want}`);
    });

    it('throws FpmkitSysctlApplyError when sysctl -p fails, the file kept as written', () => {
      const dir = tmp();
      const file = join(dir, '61-fpm.conf');
      writeFileSync(file, '# none yet\n');
      const out = runChild(file, [{ key: 'net.core.fpmkit_no_such_key', value: 1 }]);
      expect(out.error).toEqual({
        code: 'FPMKIT_SYSCTL_APPLY',
        name: 'FpmkitSysctlApplyError',
        path: file,
        mismatched: [],
      });
      expect(readFileSync(file, 'utf8')).toContain('net.core.fpmkit_no_such_key = 1');
    });

    it('throws FpmkitSysctlApplyError naming a key that reads back otherwise', () => {
      const dir = tmp();
      const file = join(dir, '62-fpm.conf');
      writeFileSync(file, '');
      // The keys are read back from a tree that says otherwise than the namespace.
      const root = join(dir, 'sys');
      mkdirSync(join(root, 'net', 'core'), { recursive: true });
      writeFileSync(join(root, 'net', 'core', 'somaxconn'), '128\n');
      const out = runChild(file, [{ key: 'net.core.somaxconn', value: 3001 }], root);
      expect(out.error).toEqual({
        code: 'FPMKIT_SYSCTL_APPLY',
        name: 'FpmkitSysctlApplyError',
        path: file,
        mismatched: [{ key: 'net.core.somaxconn', value: '3001', live: '128' }],
      });
      expect(out.somaxconn).toBe('3001');
      expect(out.netns).not.toBe(readlinkSync('/proc/self/ns/net'));
    });
  },
);

describe('sysctl and systemd files without applying', () => {
  it('a dry run gives the diff and writes nothing; bad keys are typed errors', async () => {
    const dir = tmp();
    const file = join(dir, 'x.conf');
    writeFileSync(file, 'net.core.somaxconn = 128\n');
    const r = await applySysctlFile(file, [{ key: 'net.core.somaxconn', value: 4096 }], {
      dryRun: true,
    });
    expect(r.diff).toContain('-net.core.somaxconn = 128\n+net.core.somaxconn = 4096');
    expect(readFileSync(file, 'utf8')).toBe('net.core.somaxconn = 128\n');
    await expect(applySysctlFile('relative.conf', [])).rejects.toThrow(FpmkitInvalidOptionError);
    await expect(
      applySysctlFile(file, [{ key: 'bad key', value: 1 }], { dryRun: true }),
    ).rejects.toThrow(FpmkitInvalidOptionError);
  });
  it('a systemd drop-in is written and names daemon-reload and the restart it needs', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'php8.2-fpm.service.d'));
    const file = join(dir, 'php8.2-fpm.service.d', 'fpmkit.conf');
    const r = writeSystemdDropIn(file, 'php8.2-fpm.service', [
      { key: 'LimitNOFILE', value: 65536 },
    ]);
    expect(readFileSync(file, 'utf8')).toMatch(/\[Service\]\nLimitNOFILE=65536\n/);
    expect(r.commands).toEqual(['systemctl daemon-reload', 'systemctl restart php8.2-fpm.service']);
    expect(
      writeSystemdDropIn(file, 'php8.2-fpm.service', [{ key: 'LimitNOFILE', value: 65536 }])
        .commands,
    ).toEqual([]);
    expect(() => writeSystemdDropIn(file, 'x; rm -rf /', [])).toThrow(FpmkitInvalidOptionError);
  });
});
