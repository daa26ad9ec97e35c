import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSetArgument, runApply } from '../../src/cli/apply.js';
import { readApplySource } from '../../src/cli/apply-source.js';
import { UsageError } from '../../src/cli/args.js';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { runPlan } from '../../src/cli/plan.js';
import { type FpmDump, parseFpmDump } from '../../src/fpm/dump.js';
import { renderFpmConfig } from '../../src/fpm/render.js';
import { applyFpmChanges } from '../../src/host/apply.js';
import { loadFpmConfig } from '../../src/host/fpm-config.js';
import type { Plan } from '../../src/sizing/plan.js';
import { type ApplyStack, readText, startApplyStack } from '../host/apply-harness.js';
import { phpFpmBinary } from '../support/integration.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    isTTY: false,
    env: { NO_COLOR: '1' },
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
  };
  return io;
}

describe('fpmkit apply --set parsing', () => {
  it('splits POOL.DIRECTIVE=VALUE at the first dot, [P.Q].D=V for dotted pools', () => {
    expect(parseSetArgument('www.pm.max_children=8', false)).toEqual({
      section: 'www',
      directive: 'pm.max_children',
      value: '8',
    });
    expect(parseSetArgument('[a.b].listen.backlog=511', false)).toEqual({
      section: 'a.b',
      directive: 'listen.backlog',
      value: '511',
    });
    expect(parseSetArgument('www.php_admin_value[memory_limit]=256M', false)).toEqual({
      section: 'www',
      directive: 'php_admin_value[memory_limit]',
      value: '256M',
    });
    expect(parseSetArgument('www.env[A]=x=y', false)).toEqual({
      section: 'www',
      directive: 'env[A]',
      value: 'x=y',
    });
    expect(parseSetArgument('www.pm.max_requests', true)).toEqual({
      section: 'www',
      directive: 'pm.max_requests',
      remove: true,
    });
  });
  it('any text gives an edit or a UsageError, never another error', () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (text, remove) => {
        try {
          parseSetArgument(text, remove);
        } catch (error) {
          expect(error).toBeInstanceOf(UsageError);
        }
      }),
    );
  });
  it('a command line without --config or --set is a usage error (exit 2)', async () => {
    // The command throws the usage error; main prints it with where the help is, and exits 2.
    const io = capture();
    expect(await main(['apply', '--set', 'www.pm=static'], io)).toBe(2);
    expect(io.err).toBe("fpmkit apply: --config FILE is required\nsee 'fpmkit apply --help'\n");
    const io2 = capture();
    expect(await main(['apply', '--config', '/etc/php-fpm.conf', '--set', 'nodot'], io2)).toBe(2);
    const io3 = capture();
    expect(
      await main(
        [
          'apply',
          ...['--config', '/etc/php-fpm.conf', '--set', 'www.pm=static'],
          ...['--restart-command', 'true'],
        ],
        io3,
      ),
    ).toBe(2);
    expect(io3.err).toMatch(/needs --pid-file/);
  });
});

const fpm = phpFpmBinary();
describe.skipIf(!fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `fpmkit apply against php-fpm 8.2${fpm.reason}`,
  () => {
    let stack: ApplyStack | undefined;
    afterEach(async () => {
      await stack?.stop();
      stack = undefined;
    });
    const base = (s: ApplyStack) => [
      '--config',
      s.confPath,
      '--pid-file',
      s.pidFile,
      '--prefix',
      s.dir,
      '--state-dir',
      join(s.dir, 'state'),
    ];

    it('--dry-run prints a unified diff of every file and the signal, and writes nothing', async () => {
      stack = await startApplyStack();
      const before = [readText(stack.confPath), readText(stack.poolPath)];
      const io = capture();
      const code = await runApply(
        [
          ...base(stack),
          '--dry-run',
          '--set',
          'www.pm.max_children=5',
          '--set',
          'global.log_level=notice',
        ],
        io,
      );
      expect(code, io.err).toBe(0);
      expect(io.out).toContain(`--- ${stack.poolPath}`);
      expect(io.out).toContain('-pm.max_children = 2\n+pm.max_children = 5');
      expect(io.out).toContain(`+++ ${stack.confPath}`);
      expect(io.out).toMatch(/\+log_level = notice/);
      expect(io.out).toMatch(/would send SIGUSR2 \(reload\); validated by php-fpm -t/);
      expect([readText(stack.confPath), readText(stack.poolPath)]).toEqual(before);
      expect(existsSync(join(stack.dir, 'state', 'apply.journal'))).toBe(false);
      const io2 = capture();
      await runApply([...base(stack), '--dry-run', '--set', 'www.listen.backlog=64'], io2);
      expect(io2.out).toMatch(/would restart the master/);
    });

    it('applies --set and prints the verification; refuses what php-fpm -t refuses with exit 1', async () => {
      stack = await startApplyStack();
      const io = capture();
      expect(await runApply([...base(stack), '--set', 'www.pm.max_children=3'], io), io.err).toBe(
        0,
      );
      expect(io.out).toMatch(/applied by SIGUSR2 \(reload\)/);
      expect(io.out).toMatch(/backlog \[www\]: live backlog \d+/);
      expect(readText(stack.poolPath)).toContain('pm.max_children = 3\n');
      const io2 = capture();
      expect(await runApply([...base(stack), '--set', 'www.pm.max_children=0'], io2)).toBe(1);
      expect(io2.err).toMatch(/refused: php-fpm -t rejected the change; nothing written/);
      expect(readText(stack.poolPath)).toContain('pm.max_children = 3\n');
      const io3 = capture();
      expect(await runApply([...base(stack), '--set', 'nosuch.pm.max_children=3'], io3)).toBe(2);
      expect(io3.err).toMatch(/no pool \[nosuch\]/);
      const io4 = capture();
      expect(await runApply([...base(stack), '--recover'], io4)).toBe(0);
      expect(io4.out).toMatch(/recovery: none/);
    });
  },
);

/** `php-fpm8.2 -tt` of a configuration: what FPM itself reads, section by section. */
function fpmTt(s: ApplyStack): FpmDump {
  const r = spawnSync(fpm.path!, ['-tt', '-y', s.confPath, '-p', s.dir, '-R'], {
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  return parseFpmDump(`${r.stdout}${r.stderr}`);
}

describe.skipIf(!fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `fpmkit apply --from a plan or a doctor fix, against php-fpm 8.2${fpm.reason}`,
  () => {
    let stack: ApplyStack | undefined;
    afterEach(async () => {
      await stack?.stop();
      stack = undefined;
    });
    const base = (s: ApplyStack) => [
      '--config',
      s.confPath,
      '--pid-file',
      s.pidFile,
      '--prefix',
      s.dir,
      '--state-dir',
      join(s.dir, 'state'),
    ];
    async function planJson(s: ApplyStack): Promise<{ path: string; plan: Plan }> {
      const io = capture();
      const argv = ['--name', 'shop', '--memory', '2G', '--cpus', '2', '--somaxconn', '4096'];
      expect(await runPlan([...argv, '--json'], io), io.err).toBe(0);
      const path = join(s.dir, 'plan.json');
      writeFileSync(path, io.out);
      return { path, plan: JSON.parse(io.out).plan as Plan };
    }

    it('--from plan --json --dry-run: the values that differ, identity kept, other files listed', async () => {
      stack = await startApplyStack();
      const { path, plan } = await planJson(stack);
      const before = [readText(stack.confPath), readText(stack.poolPath)];
      const io = capture();
      const code = await runApply(
        [...base(stack), '--from', path, '--pool', 'www', '--dry-run'],
        io,
      );
      expect(code, io.err).toBe(0);
      expect(io.out).toMatch(/from plan .*plan\.json: \d+ value\(s\) differ/);
      expect(io.out).toContain(`[www] pm.max_children = ${plan.pool.pm.maxChildren}`);
      expect(io.out).toContain(`+pm.max_children = ${plan.pool.pm.maxChildren}`);
      expect(io.out).toMatch(/\+process_control_timeout = \d+s/);
      expect(io.out).toMatch(/kept \[www\] listen \(the plan says \/run\/php\/shop\.sock/);
      expect(io.out).toMatch(/not written by apply: sysctl\.d\//);
      expect(io.out).toMatch(/would restart the master/);
      expect([readText(stack.confPath), readText(stack.poolPath)]).toEqual(before);
      // The pool file the plan rendered (fpmkit plan --write) gives the same changes.
      const poolFile = join(stack.dir, 'shop.conf');
      const files = JSON.parse(readText(path)).files as { kind: string; content: string }[];
      writeFileSync(poolFile, files.find((f) => f.kind === 'fpm-pool')!.content);
      const io1 = capture();
      expect(
        await runApply([...base(stack), '--from', poolFile, '--pool', 'www', '--dry-run'], io1),
        io1.err,
      ).toBe(0);
      const count = (out: string) => /: (\d+) value\(s\) differ/.exec(out)?.[1];
      expect(count(io1.out)).toBe(count(io.out));
      expect(io1.out).toMatch(/from FPM file /);
      // A plan for a pool the host does not run is refused by name, nothing written.
      const io2 = capture();
      expect(await runApply([...base(stack), '--from', path, '--dry-run'], io2)).toBe(2);
      expect(io2.err).toMatch(/no pool \[shop\]/);
    });

    it('applies a plan: php-fpm -tt reads the planned values, identity and other lines unchanged', async () => {
      stack = await startApplyStack();
      const { path, plan } = await planJson(stack);
      const s = stack;
      const before = fpmTt(s);
      const source = readApplySource({
        from: path,
        configPath: s.confPath,
        pool: 'www',
        includeIdentity: false,
        prefix: s.dir,
        env: {},
      });
      const result = await applyFpmChanges(source.edits, {
        configPath: s.confPath,
        pidFile: s.pidFile,
        stateDir: join(s.dir, 'state'),
        prefix: s.dir,
        restart: () => s.restart(),
        verifyDeadlineMs: 8000,
      });
      expect(result.outcome).toBe('applied');
      expect(result.verification?.ok).toBe(true);
      const after = fpmTt(s);
      const www = after.pools.find((p) => p.name === 'www')!.values;
      const old = before.pools.find((p) => p.name === 'www')!.values;
      expect(www['pm.max_children']).toBe(String(plan.pool.pm.maxChildren));
      expect(www.pm).toBe(plan.pool.pm.mode);
      expect(www['listen.backlog']).toBe(String(plan.pool.listen.backlog));
      expect(after.global.process_control_timeout).toBe(
        `${plan.global.processControlTimeoutSeconds}s`,
      );
      for (const key of ['listen', 'user', 'group', 'listen.owner', 'listen.mode', 'ping.path'])
        expect(www[key], key).toBe(old[key]);
      // Every directive the edits did not name reads as before.
      const named = new Set(source.edits.map((e) => e.directive));
      for (const [key, value] of Object.entries(old))
        if (!named.has(key)) expect(www[key], key).toBe(value);
      expect(readText(s.poolPath)).toMatch(/^; customer pool\n\[www\]\n/);
      // Applying the same plan again finds nothing to change.
      const again = capture();
      expect(await runApply([...base(s), '--from', path, '--pool', 'www'], again), again.err).toBe(
        0,
      );
      expect(again.out).toMatch(/: 0 value\(s\) differ/);
      expect(again.out).toMatch(/nothing to change/);
    });

    it('applies a doctor fix: only the values it changes, in the files where they are set', async () => {
      stack = await startApplyStack('listen.backlog = 100\n');
      const s = stack;
      const poolBefore = readText(s.poolPath);
      // The fix file diagnose renders: the running configuration with its suggestions applied.
      const { config } = loadFpmConfig(s.confPath, { prefix: s.dir });
      const fixed = {
        ...config,
        global: { ...config.global, processControlTimeoutSeconds: 12 },
      };
      const report = {
        ok: false,
        findings: [{ code: 'live.reload-refused', severity: 'error', message: 'x' }],
        files: {
          [`php-fpm.conf (${s.confPath})`]: renderFpmConfig(fixed),
          'sysctl.d/60-php-fpm.conf': 'net.core.somaxconn = 4096\n',
        },
      };
      const path = join(s.dir, 'doctor.json');
      writeFileSync(path, JSON.stringify(report));
      const io = capture();
      expect(await runApply([...base(s), '--from', path], io), io.err).toBe(0);
      expect(io.out).toMatch(/from doctor's fix .*: 1 value\(s\) differ/);
      expect(io.out).toContain('[global] process_control_timeout = 12s');
      expect(io.out).toMatch(
        /not written by apply: sysctl\.d\/60-php-fpm\.conf \(write it and run sysctl -p FILE\)/,
      );
      expect(io.out).toMatch(/applied by SIGUSR2 \(reload\)/);
      expect(fpmTt(s).global.process_control_timeout).toBe('12s');
      expect(readText(s.poolPath)).toBe(poolBefore);
      expect(readText(s.confPath)).toMatch(/include = .*pool\.d\/\*\.conf\n$/);
      // A report with fixes for other configurations only is refused by name.
      const other = join(s.dir, 'other.json');
      writeFileSync(
        other,
        JSON.stringify({
          ...report,
          files: { 'php-fpm.conf (/a.conf)': '', 'php-fpm.conf (/b.conf)': '' },
        }),
      );
      const io2 = capture();
      expect(await runApply([...base(s), '--from', other], io2)).toBe(2);
      expect(io2.err).toMatch(/none is --config/);
    });
  },
);
