import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSetArgument, runApply } from '../../src/cli/apply.js';
import { UsageError } from '../../src/cli/args.js';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
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
