import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { renderSysctlConf, renderSystemdDropIn } from '../../src/kernel/index.js';
import { planHost, planPool } from '../../src/sizing/planner.js';
import { renderHostPlan, renderPlan } from '../../src/sizing/render-plan.js';
import { isRoot, requireBinary } from '../support/integration.js';
import { readSystemdFile } from '../support/systemd-reader.js';

const analyze = requireBinary('systemd-analyze', 'systemd');
const sysctl = requireBinary('sysctl', 'procps');
const unshare = requireBinary('unshare', 'util-linux');
/** systemd-sysctl applies /etc/sysctl.d at boot; it is not on PATH. */
const systemdSysctl = ['/lib/systemd/systemd-sysctl', '/usr/lib/systemd/systemd-sysctl'].find((p) =>
  existsSync(p),
);

/**
 * A command that does not exist, named without a slash (systemd looks it up on its own path,
 * and the old check refused only blanks and slashes): systemd-analyze verify names it when a
 * line of the file runs it.
 */
const PROBE = 'fpmkit-injected-probe';
/** NUL ends a line for systemd: this value adds a [Service] section that runs PROBE. */
const NUL_ATTACK = `php8.2-fpm.service\0[Service]\0ExecStartPre=${PROBE}\0`;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectRefused(f: () => unknown, option: string) {
  const error = thrown(f);
  expect(error, 'the value was rendered').toBeInstanceOf(FpmkitInvalidOptionError);
  expect((error as FpmkitInvalidOptionError).option).toBe(option);
}

/** `systemd-analyze verify` on units in `dir`, each with its drop-in; returns what it printed. */
function verify(dir: string, units: string[]) {
  const r = spawnSync(analyze.path!, ['verify', '--man=no', ...units.map((u) => join(dir, u))], {
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:`, SYSTEMD_LOG_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

async function installDropIn(dir: string, unit: string, dropIn: string) {
  await writeFile(join(dir, unit), '[Unit]\nDescription=probe\n[Service]\nExecStart=/bin/true\n');
  await mkdir(join(dir, `${unit}.d`), { recursive: true });
  await writeFile(join(dir, `${unit}.d`, 'fpmkit.conf'), dropIn);
}

describe.skipIf(!analyze.available)(`systemd drop-in: unit names${analyze.reason}`, () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-dropin-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a NUL in a comment line lets a value add ExecStartPre= (the file layout of the renderer)', async () => {
    // The first lines of a drop-in as fpmkit writes it, with the unit named in a comment.
    const text = `# systemd drop-in for ${NUL_ATTACK}, written by fpmkit\n[Service]\nLimitNOFILE=1024\n`;
    await installDropIn(dir, 'php8.2-fpm.service', text);
    const reading = readSystemdFile(text);
    expect(reading.assignments).toContainEqual(
      expect.objectContaining({ section: 'Service', key: 'ExecStartPre', value: PROBE }),
    );
    const result = verify(dir, ['php8.2-fpm.service']);
    expect(result.output).toContain(`Command ${PROBE} is not executable`);
  });

  it.each([
    ['a NUL byte (systemd ends the line there)', NUL_ATTACK],
    ['a NUL byte alone', 'php8.2-fpm.service\0'],
    ['a carriage return', 'a.service\r[Service]'],
    ['a Unicode line separator', 'a\u2028b.service'],
    ['an unpaired surrogate', 'a\uD800.service'],
    ['a C1 control', 'a\u0085.service'],
    ['no unit suffix', 'php8.2-fpm'],
    ['a suffix systemd does not know', 'php8.2-fpm.servic'],
    ['a socket unit (the drop-in is a [Service] section)', 'php8.2-fpm.socket'],
    ['an @ at the start', '@x.service'],
    ['a character outside systemd unit names', 'php+fpm.service'],
    ['a non-ASCII letter', 'phpé.service'],
    ['a name longer than 255 bytes', `${'a'.repeat(248)}.service`],
    ['a name whose drop-in directory name exceeds NAME_MAX', `${'a'.repeat(246)}.service`],
    ['an empty name', ''],
  ])('refuses %s in unit, naming it', (_what, unit) => {
    expectRefused(() => renderSystemdDropIn({ limitNofile: 1024 }, { unit }), 'unit');
  });

  it.each([
    'php8.2-fpm.service',
    'php-fpm@.service',
    'php-fpm@shop.service',
    'a:b\\x2d.service',
    '-.service',
    `${'a'.repeat(245)}.service`,
  ])('renders %s, which systemd takes as a service name', (unit) => {
    const text = renderSystemdDropIn({ limitNofile: 1024 }, { unit });
    const reading = readSystemdFile(text);
    expect(reading.assignments.map((a) => [a.section, a.key, a.value])).toEqual([
      ['Service', 'LimitNOFILE', '1024'],
    ]);
    expect(reading.ignored).toEqual([]);
  });

  it('renderPlan and renderHostPlan refuse the same value in their unit option', () => {
    const pool = { name: 'shop', arrivalRate: 20, serviceTimeSeconds: 0.1, user: 'www-data' };
    const plan = planPool({ ...pool, totalMemoryBytes: 8 * 2 ** 30, cores: 4 });
    const host = planHost({ cores: 4, totalMemoryBytes: 8 * 2 ** 30, pools: [pool] });
    expectRefused(() => renderPlan(plan, { unit: NUL_ATTACK }), 'unit');
    expectRefused(() => renderHostPlan(host, { unit: NUL_ATTACK }), 'unit');
  });
});

/** Characters that mean something to systemd, to shells, to globs, or to nobody. */
const UNIT_PIECES = [
  ...'abcXYZ019-_.:\\@',
  ...' \t\n\r\0\u000b\u000c\u001b\u007f\u0085\u2028\u2029\uFEFF',
  ...'/[]=#;$%"\'*?{}~!&|<>',
  'é',
  '\uD800',
  '\uDC00',
  '\uD83D\uDE00',
  '${HOME}',
  '%n',
  'E_ALL',
];
const SUFFIXES = [
  '.service',
  '.service',
  '.service',
  '.socket',
  '.servic',
  '',
  '.service\0',
  '@.service',
];
const validStem = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'abcxyzXYZ0189-_.'), minLength: 1, maxLength: 12 }),
    fc.constantFrom('', '', '@', '@x', '@a:b', '\\x2d', '@\\x2fsrv'),
  )
  .map(([a, b]) => `${a}${b}`);
const hostileUnit = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.string({ unit: fc.constantFrom(...UNIT_PIECES), minLength: 0, maxLength: 24 }),
        fc.constantFrom(...SUFFIXES),
      )
      .map(([a, b]) => `${a}${b}`),
  },
  { weight: 3, arbitrary: validStem.map((stem) => `${stem}.service`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 240, max: 250 }), fc.constantFrom(...SUFFIXES))
      .map(([n, s]) => `${'p'.repeat(n)}${s}`),
  },
);

describe.skipIf(!analyze.available)(
  `systemd drop-in: generated unit names, read by systemd-analyze verify${analyze.reason}`,
  () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-dropin-prop-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses each value naming unit, or systemd reads exactly one LimitNOFILE (600 values)', {
      timeout: 120_000,
    }, async () => {
      const values = fc.sample(hostileUnit, { numRuns: 600, seed: 12 });
      const counts = { refused: 0, rendered: 0, verified: 0 };
      const rendered = new Map<string, string>();
      for (const unit of values) {
        let text: string;
        try {
          text = renderSystemdDropIn({ limitNofile: { soft: 1024, hard: 4096 } }, { unit });
        } catch (error) {
          expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
          expect((error as FpmkitInvalidOptionError).option).toBe('unit');
          counts.refused++;
          continue;
        }
        counts.rendered++;
        // Read by systemd's rules: one section, one assignment, nothing ignored.
        const reading = readSystemdFile(text);
        expect(reading.ignored, JSON.stringify(unit)).toEqual([]);
        expect(reading.sections).toEqual(['Service']);
        expect(reading.assignments.map((a) => [a.key, a.value])).toEqual([
          ['LimitNOFILE', '1024:4096'],
        ]);
        rendered.set(unit, text);
      }
      // Real systemd, all in one run. A template is verified through an instance of it, with
      // the drop-in in the template's directory as systemd looks for it there too.
      const units: string[] = [];
      for (const [unit, text] of rendered) {
        // systemd-analyze 252 stops with "Couldn't process aliases" on any file name holding
        // ':' (valid in a unit name); those names are read by the rules above only.
        if (unit.includes(':')) continue;
        const at = unit.indexOf('@');
        if (at < 0) {
          await installDropIn(dir, unit, text);
          units.push(unit);
          continue;
        }
        const template = `${unit.slice(0, at)}@.service`;
        await writeFile(join(dir, template), '[Service]\nExecStart=/bin/true\n');
        await mkdir(join(dir, `${unit}.d`), { recursive: true });
        await writeFile(join(dir, `${unit}.d`, 'fpmkit.conf'), text);
        units.push(
          unit.endsWith('@.service') ? `${unit.slice(0, -'.service'.length)}i.service` : unit,
        );
      }
      // A control at the end: its drop-in runs PROBE, so the run must name it.
      await installDropIn(dir, 'zz-control.service', `[Service]\nExecStartPre=${PROBE}\n`);
      const result = verify(dir, [...units, 'zz-control.service']);
      expect(result.output).toContain(`zz-control.service: Command ${PROBE} is not executable`);
      const complaints = result.output
        .split('\n')
        .filter((l) => !l.startsWith('zz-control.service: '))
        .filter((l) =>
          /fpmkit\.conf|not executable|Failed to prepare|Invalid argument|lvalue|Missing '='|outside of section/.test(
            l,
          ),
        );
      expect(complaints).toEqual([]);
      counts.verified = units.length;
      console.log(
        `systemd drop-in unit names: ${values.length} values, ${counts.refused} refused, ${counts.rendered} rendered (all read by systemd's rules), ${counts.verified} verified by systemd-analyze verify`,
      );
      expect(counts.rendered).toBeGreaterThan(20);
      expect(counts.refused).toBeGreaterThan(100);
    });
  },
);

/** Title and path go into comment lines of a sysctl.d file. */
const TEXT_PIECES = [
  ...'ab Z09-_./:=#;',
  ...'\t\n\r\0\u000b\u000c\u001b\u007f\u0085\u2028\u2029\uFEFF',
  ...'"\'\\$*?[]{}',
  '\uD800',
  '\uDFFF',
  '\uD83D\uDE00',
  '${HOME}',
  'net.core.somaxconn = 7',
  'fs.file-max = 5',
  'E_ALL',
  'é',
];
const hostileText = fc.string({ unit: fc.constantFrom(...TEXT_PIECES), maxLength: 20 });

describe('sysctl.d: title and path', () => {
  it.each([
    ['an unpaired surrogate', 'a\uD800b'],
    ['a lone low surrogate', '\uDC00'],
    ['a Unicode line separator', 'a\u2028net.core.somaxconn = 1'],
    ['a paragraph separator', 'a\u2029b'],
    ['a C1 control (NEL)', 'a\u0085b'],
    ['an escape character', 'a\u001b[2Jb'],
    ['DEL', 'a\u007fb'],
    ['a carriage return (systemd-sysctl ends the line there)', 'a\rnet.core.somaxconn = 1'],
    ['a NUL byte (systemd-sysctl ends the line there)', 'a\0net.core.somaxconn = 1'],
  ])('refuses %s in title and in path, naming the option', (_what, value) => {
    expectRefused(() => renderSysctlConf({ somaxconn: 1024 }, { title: value }), 'title');
    expectRefused(() => renderSysctlConf({ somaxconn: 1024 }, { path: value }), 'path');
  });
  it('keeps a tab, an emoji and quotes, which sysctl reads as comment text', () => {
    const text = renderSysctlConf({ somaxconn: 1024 }, { title: 'a\t"b" \uD83D\uDE00 $x' });
    expect(text.split('\n')[0]).toBe('# a\t"b" \uD83D\uDE00 $x');
  });
});

const canUnshare = unshare.available && sysctl.available && isRoot();
describe.skipIf(!canUnshare)(
  `sysctl.d: generated titles and paths, applied by sysctl -p inside unshare -n${canUnshare ? '' : ' [skipped: needs root, unshare and sysctl]'}`,
  () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-sysctl-prop-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses each value naming it, or sysctl sets exactly net.core.somaxconn (2 x 200 values)', {
      timeout: 120_000,
    }, async () => {
      const values = fc.sample(hostileText, { numRuns: 400, seed: 7 });
      const counts = { refused: 0, rendered: 0, verified: 0 };
      const files: { file: string; somaxconn: number }[] = [];
      for (const [i, value] of values.entries()) {
        const field = i % 2 === 0 ? 'title' : 'path';
        const somaxconn = 1000 + i;
        let text: string;
        try {
          text = renderSysctlConf({ somaxconn }, { [field]: value });
        } catch (error) {
          expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
          expect((error as FpmkitInvalidOptionError).option).toBe(field);
          counts.refused++;
          continue;
        }
        counts.rendered++;
        const file = join(dir, `f${i}.conf`);
        await writeFile(file, text);
        files.push({ file, somaxconn });
      }
      // A network namespace of its own, and every other /proc/sys tree hidden under a tmpfs,
      // so a line that escaped its comment could not change the host.
      const hide = ['fs', 'vm', 'kernel', 'dev', 'user', 'abi', 'debug', 'crypto']
        .map((d) => `[ -d /proc/sys/${d} ] && mount -t tmpfs none /proc/sys/${d};`)
        .join(' ');
      const each = files
        .map(
          ({ file }) =>
            `echo "@@ ${file}"; ${sysctl.path} -p ${file} 2>&1; ${systemdSysctl ?? 'true'} ${file} 2>&1; cat /proc/sys/net/core/somaxconn;`,
        )
        .join(' ');
      const r = spawnSync(unshare.path!, ['-n', '-m', 'sh', '-c', `${hide} ${each}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 100_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const blocks = r.stdout.split('@@ ').slice(1);
      expect(blocks).toHaveLength(files.length);
      for (const [i, block] of blocks.entries()) {
        const { file, somaxconn } = files[i]!;
        // sysctl -p echoes each setting it made; systemd-sysctl prints nothing when all is well.
        expect(block).toBe(`${file}\nnet.core.somaxconn = ${somaxconn}\n${somaxconn}\n`);
        counts.verified++;
      }
      console.log(
        `sysctl.d title/path: ${values.length} values, ${counts.refused} refused, ${counts.rendered} rendered, ${counts.verified} verified by sysctl -p${systemdSysctl ? ' and systemd-sysctl' : ''} in a private network namespace`,
      );
      expect(counts.rendered).toBeGreaterThan(50);
    });
  },
);
