import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS as COMMAND_LOADERS } from '../../src/cli/commands.js';
import { type CliIo, flagNames, styleFor, wrapLine } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { type ApplyStack, startApplyStack } from '../host/apply-harness.js';
import { phpFpmBinary } from '../support/integration.js';
import { type RunResult, run } from '../support/process.js';

/** What every command shares: the command line's conventions, checked on the built command. */
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'cli', 'bin.js');
const EVIDENCE = join(root, 'test', 'fixtures', 'doctor', 'evidence');
const baseEnv = { PATH: process.env.PATH ?? '' };
const fpmkit = (args: readonly string[], env: Record<string, string> = {}) =>
  run(process.execPath, [bin, ...args], { env: { ...baseEnv, ...env }, timeoutMs: 60_000 });

/** Runs `fpmkit ARGS | head -0` in bash; the exit status of fpmkit and its standard error. */
async function intoHead(args: readonly string[]): Promise<{ status: number; stderr: string }> {
  const quoted = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`);
  const r = await run(
    'bash',
    ['-c', `${quoted.join(' ')} 2>"$0" | head -0; echo "\${PIPESTATUS[0]}"`, `${dir}/stderr`],
    { env: baseEnv, timeoutMs: 60_000 },
  );
  const { readFile } = await import('node:fs/promises');
  return { status: Number(r.stdout.trim()), stderr: await readFile(`${dir}/stderr`, 'utf8') };
}

/** Lines of `text` wider than `width` columns, leaving out those in `quoted` (file contents). */
function overWide(text: string, width: number, quoted: ReadonlySet<string> = new Set()): string[] {
  return text.split('\n').filter((l) => [...l].length > width && !quoted.has(l));
}

const linesOf = (texts: readonly string[]) => new Set(texts.flatMap((t) => t.split('\n')));

const HAS_FPM = phpFpmBinary().available;
let dir = '';
let stack: ApplyStack | undefined;

/** One command line per command that prints a report on standard output. */
function commandLines(): Record<string, string[]> {
  const host = ['--memory', '8G', '--cpus', '2', '--somaxconn', '4096'];
  const lines: Record<string, string[]> = {
    plan: ['plan', ...host],
    check: ['check', join(dir, 'pool.conf')],
    render: ['render', join(dir, 'model.json')],
    doctor: ['doctor', '--from', EVIDENCE],
    simulate: ['simulate', ...host, '--duration', '5'],
    exporter: ['exporter', '--help'],
  };
  if (stack) {
    lines.status = ['status', stack.socketPath, '--full'];
    lines.watch = ['watch', stack.socketPath, '--count', '2', '--interval', '100'];
    lines.apply = [
      ...['apply', '--config', stack.confPath, '--pid', String(stack.pid())],
      ...['--dry-run', '--set', 'www.pm.max_children=3'],
    ];
  } else {
    lines.status = ['status', '--help'];
    lines.watch = ['watch', '--help'];
    lines.apply = ['apply', '--help'];
  }
  return lines;
}

/** Every command of the command line. */
const COMMANDS = Object.keys(COMMAND_LOADERS);

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-conventions-'));
  // Stock-like pool: FPM accepts it, and fpmkit warns about process_control_timeout = 0.
  await writeFile(
    join(dir, 'pool.conf'),
    `[global]\nerror_log = ${dir}/fpm.log\n[www]\nuser = www-data\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 4\n`,
  );
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({
      pools: [
        {
          name: 'www',
          listen: { address: '/run/php/www.sock' },
          pm: { mode: 'static', maxChildren: 3 },
        },
      ],
    }),
  );
  if (HAS_FPM) stack = await startApplyStack();
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the command line conventions of every command', () => {
  it('lists every command the top-level help names', async () => {
    const help = await fpmkit(['--help']);
    const named = [...help.stdout.matchAll(/^ {2}([a-z]+)\s/gm)].map((m) => m[1]);
    expect(named.sort()).toEqual([...COMMANDS].sort());
  });

  it('`fpmkit X | head -0` is quiet (nothing on standard error) and exits as X alone does, for every command', async () => {
    const lines = commandLines();
    for (const command of COMMANDS) {
      const alone = await fpmkit(lines[command]!);
      const r = await intoHead(lines[command]!);
      expect({ command, ...r }).toEqual({ command, status: alone.exitCode, stderr: '' });
    }
  }, 240_000);

  it('`fpmkit check bad.conf | head -1` keeps the exit status of check (set -o pipefail)', async () => {
    // Far more findings than a pipe holds, so check is still writing when head goes away.
    const bad = join(dir, 'many-bad.conf');
    const entries = Array.from({ length: 3000 }, (_, i) => `bogus_${i} = 1\n`).join('');
    await writeFile(
      bad,
      `[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 5\n${entries}`,
    );
    const alone = await fpmkit(['check', bad]);
    expect(alone.exitCode).not.toBe(0);
    expect(alone.stdout.length).toBeGreaterThan(200_000);
    const command = [process.execPath, bin, 'check', bad].map((a) => `'${a}'`).join(' ');
    for (const head of ['head -1', 'head -0']) {
      const r = await run(
        'bash',
        ['-c', `set -o pipefail; ${command} 2>"$0" | ${head}; echo "status $?"`, `${dir}/stderr`],
        { env: baseEnv, timeoutMs: 60_000 },
      );
      const { readFile } = await import('node:fs/promises');
      expect({ head, out: r.stdout.split('\n').at(-2) }).toEqual({
        head,
        out: `status ${alone.exitCode}`,
      });
      expect(await readFile(`${dir}/stderr`, 'utf8')).toBe('');
    }
  }, 120_000);

  it('-h, --help, -v and --version work after every command', async () => {
    const version = (await fpmkit(['--version'])).stdout;
    expect(version).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect((await fpmkit(['-v'])).stdout).toBe(version);
    for (const command of COMMANDS) {
      for (const flag of ['-h', '--help']) {
        const r = await fpmkit([command, flag]);
        expect(r.exitCode, `${command} ${flag}`).toBe(0);
        expect(r.stdout, `${command} ${flag}`).toMatch(new RegExp(`^Usage: fpmkit ${command}\\b`));
      }
      for (const flag of ['-v', '--version']) {
        const r = await fpmkit([command, flag]);
        expect({ command, flag, exit: r.exitCode, out: r.stdout }).toEqual({
          command,
          flag,
          exit: 0,
          out: version,
        });
      }
    }
  }, 240_000);

  it('a usage error prints the message and where the help is, not the help, and exits 2', async () => {
    for (const command of COMMANDS) {
      const r = await fpmkit([command, '--no-such-option']);
      expect(r.exitCode, command).toBe(2);
      expect(r.stderr, command).toBe(
        `fpmkit ${command}: unknown option --no-such-option\nsee 'fpmkit ${command} --help'\n`,
      );
      expect(r.stdout, command).toBe('');
    }
    const unknown = await fpmkit(['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toBe("fpmkit: unknown command 'frobnicate'\nsee 'fpmkit --help'\n");
  }, 240_000);

  it('at COLUMNS=80 no line is over 80 columns outside quoted file contents, for every command', async () => {
    const lines = commandLines();
    const env = { COLUMNS: '80' };
    const wide: Record<string, string[]> = {};
    const record = (name: string, r: RunResult, quoted?: ReadonlySet<string>) => {
      const over = overWide(r.stdout + r.stderr, 80, quoted);
      if (over.length > 0) wide[name] = over;
    };
    for (const command of COMMANDS) {
      const help = await fpmkit([command, '--help'], env);
      record(`${command} --help`, help);
    }
    record('--help', await fpmkit(['--help'], env));
    // plan, with and without traffic, including the example that has no feasible plan.
    for (const extra of [
      [],
      ['--rps', '300', '--service-time', '80'],
      ['--rps', '1000', '--service-time', '30', '--reload-window', '0.15', '--somaxconn', '128'],
      ['--memory', '8G', '--cpus', '4', '--name', 'shop'],
    ]) {
      const text = await fpmkit(['plan', ...extra], env);
      const json = JSON.parse((await fpmkit(['plan', ...extra, '--json'])).stdout) as {
        files?: { content: string }[];
      };
      record(`plan ${extra.join(' ')}`, text, linesOf((json.files ?? []).map((f) => f.content)));
    }
    const doctor = await fpmkit(lines.doctor!, env);
    const report = JSON.parse((await fpmkit([...lines.doctor!, '--json'])).stdout) as {
      files: Record<string, string>;
    };
    expect(doctor.stdout).toContain('live.accept-queue-overflow');
    record('doctor', doctor, linesOf(Object.values(report.files)));
    record('check', await fpmkit(lines.check!, env));
    record('simulate', await fpmkit(lines.simulate!, env));
    record('status', await fpmkit(lines.status!, env));
    record('watch', await fpmkit(lines.watch!, env));
    const apply = await fpmkit(lines.apply!, env);
    const diff = new Set(apply.stdout.split('\n').filter((l) => /^([-+ @]|diff )/.test(l)));
    record('apply', apply, diff);
    record('doctor --from /nonexistent', await fpmkit(['doctor', '--from', '/nonexistent'], env));
    expect(wide).toEqual({});
  }, 300_000);

  it('wraps at word boundaries only: the words are those of the unwrapped output', async () => {
    const args = ['plan', '--memory', '8G', '--cpus', '2', '--somaxconn', '4096'];
    const wrapped = await fpmkit(args, { COLUMNS: '80' });
    const whole = await fpmkit(args);
    // MemAvailable is read again by each run and may move between them: numbers aside.
    const words = (t: string) =>
      t
        .replace(/\d+(\.\d+)?/g, 'N')
        .split(/\s+/)
        .filter(Boolean);
    expect(whole.stdout.split('\n').some((l) => l.length > 200)).toBe(true);
    expect(words(wrapped.stdout)).toEqual(words(whole.stdout));
    expect(wrapped.stdout.split('\n').length).toBeGreaterThan(whole.stdout.split('\n').length);
  }, 60_000);

  it('one --json document: { ok, command, ... }, ok true exactly at exit 0', async () => {
    const lines = commandLines();
    const runs: [string, string[]][] = [
      ['plan', [...lines.plan!, '--json']],
      ['plan', ['plan', '--memory', '300M', '--json']],
      ['check', [...lines.check!, '--json']],
      ['check', ['check', join(dir, 'missing.conf'), '--json']],
      ['doctor', [...lines.doctor!, '--json']],
      ['doctor', ['doctor', '--from', '/nonexistent', '--json']],
      ['doctor', ['doctor', '--proc-root', dir, '--sys-root', dir, '--no-status', '--json']],
      ['simulate', [...lines.simulate!, '--json']],
      ['render', [...lines.render!, '--json']],
      ['render', ['render', join(dir, 'pool.conf'), '--json']],
      ['status', ['status', join(dir, 'none.sock'), '--json']],
      ['watch', ['watch', join(dir, 'none.sock'), '--json', '--count', '1']],
    ];
    if (stack) {
      runs.push(['status', [...lines.status!, '--json']]);
      runs.push(['apply', [...lines.apply!, '--json']]);
    }
    const exits = new Set<number | null>();
    for (const [command, args] of runs) {
      const r = await fpmkit(args);
      exits.add(r.exitCode);
      const doc = JSON.parse(r.stdout) as { ok: unknown; command: unknown; error?: unknown };
      expect({ args, ok: doc.ok, command: doc.command }).toEqual({
        args,
        ok: r.exitCode === 0,
        command,
      });
      // Exit 3 says why: an error, or for the doctor a report with no FPM master in it.
      if (r.exitCode === 3 && command !== 'doctor')
        expect(doc.error, args.join(' ')).toMatchObject({ code: expect.any(String) });
      if (r.exitCode === 3 && command === 'doctor')
        expect(doc.error ?? (doc as { noFpm?: unknown }).noFpm).toBeTruthy();
    }
    // The doctor at exit 3 (no FPM master in an empty /proc) is in the set, among others.
    expect([...exits].sort()).toEqual([0, 1, 3]);
    if (stack) {
      const watch = await fpmkit([...lines.watch!, '--json']);
      const rows = watch.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(row).toMatchObject({ ok: true, command: 'watch' });
    }
  }, 300_000);

  it('doctor --from a missing directory is one clear error', async () => {
    const r = await fpmkit(['doctor', '--from', '/nonexistent']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'fpmkit doctor: /nonexistent: cannot read the evidence directory (ENOENT)\n',
    );
    const file = await fpmkit(['doctor', '--from', join(dir, 'pool.conf')]);
    expect(file.exitCode).toBe(3);
    expect(file.stderr.trim().split('\n')).toHaveLength(1);
    expect(file.stderr).toContain('not a directory');
  });

  it('messages name the flag the user typed, not the SDK option', async () => {
    await writeFile(
      join(dir, 'pool-var.json'),
      JSON.stringify({ pools: [{ name: 'www', listen: { address: '/run/php/$pool.sock' } }] }),
    );
    const render = await fpmkit(['render', join(dir, 'pool-var.json')]);
    expect(render.exitCode).toBe(3);
    expect(render.stderr).toContain('--allow-pool-variable');
    expect(render.stderr).not.toContain('allowPoolVariable');
    const plan = await fpmkit(['plan', '--memory', '8G', '--cpus', '2', '--somaxconn', '4096']);
    expect(plan.stdout).toContain('give --reload-window if');
    // The setting `predictions.reloadWindowSeconds` is a field path and keeps its name.
    expect(plan.stdout).toContain('predictions.reloadWindowSeconds = ');
    expect(plan.stdout).not.toMatch(/(?<![.\w])(reloadWindowSeconds|cpuShare)\b/);
    // Field paths stay as they are.
    expect(flagNames('sizing.workerBytes, give workerBytes')).toBe(
      'sizing.workerBytes, give --worker-memory',
    );
  }, 60_000);
});

describe('colour', () => {
  const capture = (isTTY: boolean, env: Record<string, string>) => {
    const out: string[] = [];
    const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => out.push(t), isTTY, env };
    return { io, text: () => out.join('') };
  };
  const coloured = (isTTY: boolean, env: Record<string, string>) =>
    styleFor(capture(isTTY, env).io).red('x') !== 'x';

  it('NO_COLOR set to a non-empty value disables it; an empty NO_COLOR does not', () => {
    expect(coloured(true, {})).toBe(true);
    expect(coloured(true, { NO_COLOR: '1' })).toBe(false);
    expect(coloured(true, { NO_COLOR: '' })).toBe(true);
    expect(coloured(false, {})).toBe(false);
  });

  it('FORCE_COLOR forces it, even piped and over NO_COLOR; FORCE_COLOR=0 turns it off', async () => {
    expect(coloured(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(coloured(false, { FORCE_COLOR: '' })).toBe(true);
    expect(coloured(true, { FORCE_COLOR: '0' })).toBe(false);
    expect(coloured(true, { FORCE_COLOR: 'false' })).toBe(false);
    const args = ['check', join(dir, 'pool.conf')];
    expect((await fpmkit(args, { FORCE_COLOR: '1' })).stdout).toContain('\u001b[');
    expect((await fpmkit(args, { NO_COLOR: '' })).stdout).not.toContain('\u001b[');
    const c = capture(true, { NO_COLOR: '' });
    expect(await main(args, c.io)).toBe(0);
    expect(c.text()).toContain('\u001b[33mwarning');
  });
});

describe('wrapLine', () => {
  it('keeps every line within the width, breaks only at spaces, and loses no word', () => {
    const word = fc.stringMatching(/^[a-z0-9.()=×-]{1,12}$/);
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 40, max: 120 }),
        fc.integer({ min: 0, max: 12 }),
        (words, indent, width, hang) => {
          const line = ' '.repeat(indent) + words.join(' ');
          const out = wrapLine(line, width, hang);
          for (const l of out) expect(l.length).toBeLessThanOrEqual(width);
          expect(out.join(' ').split(/ +/).filter(Boolean)).toEqual(words);
          for (const l of out.slice(1))
            expect(/^ */.exec(l)![0].length).toBe(Math.max(indent, hang));
        },
      ),
    );
  });

  it('cuts a word wider than the line, and measures without colour codes', () => {
    expect(wrapLine(`a ${'x'.repeat(100)}`, 40)).toEqual([
      'a',
      'x'.repeat(40),
      'x'.repeat(40),
      'x'.repeat(20),
    ]);
    const red = `\u001b[31m${'y'.repeat(38)}\u001b[0m`;
    expect(wrapLine(`${red} z`, 40)).toEqual([`${red} z`]);
  });
});
