import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import {
  KERNEL_SYSCTLS,
  type KernelSettings,
  kernelSettingsFromSysctl,
  kernelSettingsSchema,
  parseSysctl,
  parseSysctlConf,
  parseTransparentHugePages,
  renderSysctlConf,
  renderSystemdDropIn,
} from '../../src/kernel/index.js';
import { findBinary } from '../support/integration.js';
import { fixture, fuzz } from './helpers.js';

const limit = fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constant('unlimited' as const));
const settingsArb: fc.Arbitrary<KernelSettings> = fc.record(
  {
    somaxconn: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    tcpMaxSynBacklog: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    netdevMaxBacklog: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    fileMax: fc.oneof(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.constant('unlimited' as const),
    ),
    nrOpen: fc.integer({ min: 64, max: 2147483584 }),
    swappiness: fc.integer({ min: 0, max: 200 }),
    overcommitMemory: fc.constantFrom(0 as const, 1 as const, 2 as const),
    ipLocalPortRange: fc
      .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }))
      .map(([a, b]) => ({ low: Math.min(a, b), high: Math.max(a, b) })),
    tcpTwReuse: fc.constantFrom(0 as const, 1 as const, 2 as const),
    tcpFinTimeoutSeconds: fc.integer({ min: 1, max: 2147483 }),
    limitNofile: fc.oneof(limit, fc.record({ soft: limit, hard: limit })),
    limitCore: limit,
  },
  { requiredKeys: [] },
);

const SYSCTL_FIELDS = Object.keys(KERNEL_SYSCTLS);
const sysctlPart = (s: KernelSettings) =>
  Object.fromEntries(Object.entries(s).filter(([k]) => SYSCTL_FIELDS.includes(k)));

describe('kernelSettingsSchema', () => {
  it.each([
    [{ somaxconn: -1 }],
    [{ swappiness: 201 }],
    [{ overcommitMemory: 3 }],
    [{ ipLocalPortRange: { low: 60000, high: 1024 } }],
    [{ nrOpen: 10 }],
    [{ limitCore: -1 }],
    [{ unknownKey: 1 }],
  ])('rejects %o', (value) => {
    expect(kernelSettingsSchema.safeParse(value).success).toBe(false);
  });
  it('keeps unlimited as an explicit value', () => {
    expect(kernelSettingsSchema.parse({ limitCore: 'unlimited', fileMax: 'unlimited' })).toEqual({
      limitCore: 'unlimited',
      fileMax: 'unlimited',
    });
  });
});

describe('renderSysctlConf', () => {
  it('writes a comment saying why before each value', () => {
    const text = renderSysctlConf({
      somaxconn: 4096,
      swappiness: 10,
      ipLocalPortRange: { low: 1024, high: 65000 },
      transparentHugePages: 'madvise',
    });
    const lines = text.split('\n');
    for (const key of ['net.core.somaxconn', 'vm.swappiness', 'net.ipv4.ip_local_port_range']) {
      const i = lines.findIndex((l) => l.startsWith(`${key} = `));
      expect(i).toBeGreaterThan(0);
      expect(lines[i - 1]).toMatch(/^# \S.{20,}/);
    }
    expect(text).toContain('net.ipv4.ip_local_port_range = 1024 65000');
    expect(text).toContain('transparent_hugepage=madvise');
  });

  it('parses back to the same settings (property)', () => {
    fc.assert(
      fc.property(settingsArb, (s) => {
        expect(parseSysctlConf(renderSysctlConf(s))).toEqual(sysctlPart(s));
      }),
      { numRuns: 500 },
    );
  });

  it('rejects settings outside the schema with FpmkitInvalidOptionError naming the field', () => {
    try {
      renderSysctlConf({ swappiness: 500 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((e as FpmkitInvalidOptionError).option).toBe('swappiness');
    }
  });
});

describe('parseSysctlConf', () => {
  it('reports a bad modelled value at its line', () => {
    try {
      parseSysctlConf('# x\nvm.swappiness = 500\nnet.core.somaxconn = 1\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitParseError);
      expect((e as FpmkitParseError).line).toBe(2);
      expect((e as FpmkitParseError).lineText).toBe('vm.swappiness = 500');
    }
  });
  it('survives 10,000 mutations of a rendered file', () => {
    const seed = renderSysctlConf({
      somaxconn: 4096,
      tcpMaxSynBacklog: 4096,
      netdevMaxBacklog: 1000,
      fileMax: 'unlimited',
      nrOpen: 1048576,
      swappiness: 10,
      overcommitMemory: 0,
      ipLocalPortRange: { low: 1024, high: 65000 },
      tcpTwReuse: 2,
      tcpFinTimeoutSeconds: 30,
    });
    fuzz([seed], parseSysctlConf);
  });
});

describe('renderSystemdDropIn', () => {
  it('writes a [Service] section with infinity for unlimited', () => {
    const text = renderSystemdDropIn({
      limitNofile: { soft: 65536, hard: 524288 },
      limitCore: 'unlimited',
    });
    const lines = text.split('\n');
    expect(lines).toContain('[Service]');
    expect(lines).toContain('LimitNOFILE=65536:524288');
    expect(lines).toContain('LimitCORE=infinity');
    expect(lines[lines.indexOf('LimitCORE=infinity') - 1]).toMatch(/^# /);
    expect(text).toContain('php8.2-fpm.service.d/fpmkit.conf');
  });
  it('rejects a unit name with a slash', () => {
    expect(() => renderSystemdDropIn({}, { unit: '../x' })).toThrow(FpmkitInvalidOptionError);
  });
});

describe('parseTransparentHugePages', () => {
  it('reads the bracketed mode', () => {
    expect(
      parseTransparentHugePages(fixture('proc-files', 'transparent_hugepage-enabled.txt')),
    ).toBe('madvise');
    expect(parseTransparentHugePages('[always] madvise never\n')).toBe('always');
    expect(() => parseTransparentHugePages('always madvise never')).toThrow(FpmkitParseError);
  });
  it('survives 10,000 mutations', () => {
    fuzz([fixture('proc-files', 'transparent_hugepage-enabled.txt')], parseTransparentHugePages);
  });
});

const sysctlBinary = findBinary('sysctl');
const unshareBinary = findBinary('unshare');
const canUnshare =
  sysctlBinary !== undefined &&
  unshareBinary !== undefined &&
  typeof process.getuid === 'function' &&
  process.getuid() === 0;

/** sysctl never reads stdin, so it is run without one (the shared run() helper writes to it). */
function run(file: string, args: string[]) {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10_000,
  });
  return { exitCode: r.status, stdout: r.stdout, output: `${r.stdout}${r.stderr}` };
}

/**
 * A shell script, run in a network and mount namespace of its own, that lays plain files over
 * /proc/sys's global trees (fs, vm, ...) holding `globals`' values, so `sysctl -p` writes there
 * and the host's own settings cannot change; net.* keys are the namespace's own.
 */
function privateSysctlScript(globals: Record<string, string>, body: string): string {
  const hide = ['fs', 'vm', 'kernel', 'dev', 'user', 'abi', 'debug', 'crypto']
    .map((d) => `[ -d /proc/sys/${d} ] && mount -t tmpfs none /proc/sys/${d};`)
    .join(' ');
  const fake = Object.entries(globals)
    .map(([key, value]) => {
      const path = `/proc/sys/${key.replaceAll('.', '/')}`;
      return `mkdir -p ${path.slice(0, path.lastIndexOf('/'))}; printf '%s\\n' '${value}' > ${path};`;
    })
    .join(' ');
  return `set -e; ${hide} ${fake} ${body}`;
}

describe.skipIf(!canUnshare)(
  `sysctl -p accepts rendered files${canUnshare ? '' : ' [skipped: needs root, sysctl and unshare]'}`,
  () => {
    it('applies the current values of this host inside a private namespace', async () => {
      // net.core.netdev_max_backlog is global and not visible inside a network namespace.
      const keys = Object.values(KERNEL_SYSCTLS)
        .map((k) => k.key)
        .filter((key) => key !== 'net.core.netdev_max_backlog');
      const before = run(sysctlBinary!, keys);
      expect(before.exitCode, before.output).toBe(0);
      const values = parseSysctl(before.stdout);
      const current = kernelSettingsFromSysctl(values);
      const globals = Object.fromEntries(
        Object.entries(values).filter(([key]) => !key.startsWith('net.')),
      ) as Record<string, string>;
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-sysctl-'));
      try {
        const file = join(dir, '60-php-fpm.conf');
        await writeFile(file, renderSysctlConf(current, { path: file }));
        const script = privateSysctlScript(
          globals,
          `${sysctlBinary} -p ${file}; echo '@@'; ${sysctlBinary} ${keys.join(' ')}`,
        );
        const applied = run(unshareBinary!, ['-n', '-m', 'sh', '-c', script]);
        expect(applied.exitCode, applied.output).toBe(0);
        const [echoed = '', readBack = ''] = applied.stdout.split('@@\n');
        // sysctl -p echoes what it set, in sysctl -a format: it must read back to the same settings.
        expect(kernelSettingsFromSysctl(parseSysctl(echoed))).toEqual(current);
        expect(kernelSettingsFromSysctl(parseSysctl(readBack))).toEqual(current);
        const after = run(sysctlBinary!, keys);
        expect(parseSysctl(after.stdout)).toEqual(values);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
