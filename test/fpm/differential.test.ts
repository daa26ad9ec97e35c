import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkFpmConfig,
  effectiveFpmConfig,
  parseFpmConfig,
  parseFpmDump,
} from '../../src/fpm/index.js';
import { checkFpmConfigFile, hostFpmSystem, loadFpmConfig } from '../../src/host/index.js';
import { isRoot, phpFpmBinary } from '../support/integration.js';
import { stripMessages } from '../support/php-fpm.js';
import { run } from '../support/process.js';
import { configArb } from './differential-arbitraries.js';

/**
 * Random single-file configurations (differential-arbitraries.ts), each decided by the real
 * php-fpm8.2 -t and by checkFpmConfig. They must agree on every one.
 */
const RUNS = 320;
const fpm = phpFpmBinary();

describe.skipIf(!fpm.available)(
  `checkFpmConfig against real php-fpm8.2 -t on random configs${fpm.reason}`,
  () => {
    let dir = '';
    const stats = { runs: 0, accepted: 0, refused: 0, sameFirstMessage: 0 };
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-diff-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
      console.log(
        `differential: ${stats.runs} configs, php-fpm accepted ${stats.accepted} and refused ${stats.refused}; ` +
          `checkFpmConfig agreed on all; same first error text on ${stats.sameFirstMessage} of ${stats.refused}`,
      );
    });

    it(`agrees on ok for ${RUNS} configs`, { timeout: 600_000 }, async () => {
      const system = hostFpmSystem();
      await fc.assert(
        fc.asyncProperty(configArb, async (template) => {
          const runDir = join(dir, `r${stats.runs}`);
          await mkdir(runDir);
          const text = template.replaceAll('@DIR@', runDir);
          const file = join(runDir, 'php-fpm.conf');
          await writeFile(file, text);
          const real = await run(fpm.path!, ['-t', '-y', file], {
            cwd: runDir,
            env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
          });
          const ours = checkFpmConfig(text, { path: file, env: {}, asRoot: isRoot(), system });
          stats.runs++;
          const realOk = real.exitCode === 0;
          if (realOk) stats.accepted++;
          else stats.refused++;
          const firstReal = stripMessages(real.output).find((m) => /^(ERROR|ALERT|PHP):/.test(m));
          const firstOurs = ours.findings.find((f) => f.severity === 'error')?.evidence?.fpmMessage;
          if (!realOk && firstReal === firstOurs) stats.sameFirstMessage++;
          // A log_level above the failing message's level hides it; then only the verdict counts.
          const compareText = realOk || firstReal !== undefined;
          expect(
            { ok: ours.ok, first: compareText ? (firstOurs ?? null) : 'hidden by log_level' },
            `${text}\n--- php-fpm said:\n${real.output}`,
          ).toEqual({
            ok: realOk,
            first: realOk ? null : (firstReal ?? 'hidden by log_level'),
          });
        }),
        { numRuns: RUNS, seed: Number(process.env.FPMKIT_SEED ?? 20261121) },
      );
      expect(stats.runs).toBeGreaterThanOrEqual(300);
      expect(stats.accepted).toBeGreaterThan(20);
      expect(stats.refused).toBeGreaterThan(20);
    });
  },
);

/** Odd lines php-fpm refuses, or that change what it checks. */
const refusedOddLine = fc.constantFrom(
  '  [www]',
  '  [shop]',
  '  [www] = 1',
  'ping.path = /p\0ing',
  'ping.path = /p \0',
  'env[A\0] = 1',
  '\uFEFF\uFEFFpm.max_requests = 7',
  '\u00a0pm.max_requests = 7',
  'listen.owner = \0x',
  "ping.path = '/p",
  "env[a] = '",
  "ping.path = /a 'x",
  "ping.path = /a ''",
  "ping.path = ''",
  'ping.path = $\0',
  'access.log =',
  'access.log = ""',
  'slowlog =',
  'pm.status_path =',
  'ping.path =',
  'chdir =',
  'env[X] =',
  'listen.owner =',
  'bogus = 1',
);
/**
 * Lines that files from elsewhere carry and hand-written ones rarely do: byte order marks,
 * indented section headers, NUL bytes, empty values, blank runs. Each may sit anywhere.
 */
const oddLine = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '\uFEFF; saved by an editor that writes a BOM',
      '\uFEFFpm.max_requests = 7',
      '\uFEFF',
      '\t[api]',
      ' \t[www]',
      'ELF\0junk',
      '\x7fELF\x02\x01\x01\0\0\0',
      '\0',
      '  \0',
      'pm.max_requests\0 = 5',
      'pm.max_requests = 5\0junk',
      'env[A] = 1\0',
      'listen.allowed_clients =',
      'php_value[x] =',
      'listen.mode = 660',
      'listen.mode = 0660',
      'security.limit_extensions = .php  .PHP',
      'security.limit_extensions = .php',
      'process.priority = 64',
      'listen.backlog = -5',
      'access.suppress_path[] = /a',
      'access.suppress_path[] = /b',
      'access.suppress_path[] = /c',
      '',
      '; comment',
    ),
  },
  { weight: 1, arbitrary: refusedOddLine },
);

/** Odd lines for the main file's `[global]` section. */
const globalOddLine = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      '\uFEFF; a BOM on a line of its own',
      '\uFEFFlog_level = notice',
      '\uFEFF',
      'ELF\0junk',
      '\0',
      '  \0',
      'log_level\0 = bogus',
      'log_level = notice\0junk',
      'syslog.ident =',
      'events.mechanism = EPOLL',
      'pid =',
      'process.priority = 64',
      '',
      '; comment',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('bogus = 1', '  [global]', 'log_level =', 'pm.max_children = 1'),
  },
);

/** A pool's own lines, with odd ones mixed in. */
const poolFileArb = (name: string) =>
  fc
    .record({
      bom: fc.boolean(),
      header: fc.oneof(
        { weight: 8, arbitrary: fc.constant(`[${name}]`) },
        { weight: 2, arbitrary: fc.constant(`\t[${name}]`) },
        { weight: 1, arbitrary: fc.constant(`  [${name}]`) },
      ),
      pm: fc.constantFrom(
        'pm = static\npm.max_children = 2',
        'pm = ondemand\npm.max_children = 2',
        'pm = dynamic\npm.max_children = 4\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3',
      ),
      odd: fc.array(fc.tuple(fc.nat(6), oddLine), { maxLength: 2 }),
      blankTail: fc.nat(2),
      finalNewline: fc.boolean(),
    })
    .map((r) => {
      const lines = [
        r.header,
        'user = nobody',
        `listen = @DIR@/${name}.sock`,
        ...r.pm.split('\n'),
        'pm.max_requests = 100',
      ];
      for (const [at, text] of r.odd) lines.splice(Math.min(at, lines.length), 0, text);
      let text = `${r.bom ? '\uFEFF' : ''}${lines.join('\n')}${'\n'.repeat(r.blankTail)}`;
      if (r.finalNewline) text += '\n';
      return text;
    });

/** A main file, included pool files and where the include points. */
const includeConfigArb = fc
  .record({
    bom: fc.boolean(),
    include: fc.oneof(
      { weight: 12, arbitrary: fc.constant('include = @DIR@/pool.d/*.conf') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'include = @DIR@/missing.d/*.conf',
          'include = @DIR@/pool.d/none.conf',
          'include = @DIR@/pool.d/w*.conf',
        ),
      },
    ),
    before: fc.array(globalOddLine, { maxLength: 2 }),
    after: fc.array(globalOddLine, { maxLength: 2 }),
    pools: fc.subarray(['www', 'api', 'shop'], { minLength: 1 }),
  })
  .chain((r) =>
    fc.tuple(...r.pools.map((name) => poolFileArb(name))).map((bodies) => ({
      main: `${r.bom ? '\uFEFF' : ''}[global]\nerror_log = @DIR@/fpm.log\n${r.before.join('\n')}\n${r.include}\n${r.after.join('\n')}\n`,
      files: Object.fromEntries(bodies.map((b, i) => [`pool.d/${r.pools[i]}.conf`, b])),
    })),
  );

describe.skipIf(!fpm.available)(
  `checkFpmConfigFile against real php-fpm8.2 -t on odd multi-file configs${fpm.reason}`,
  () => {
    it('agrees on ok and the first error, line numbers included', {
      timeout: 600_000,
    }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-odd-'));
      const stats = { runs: 0, accepted: 0, refused: 0, dumped: 0 };
      const system = hostFpmSystem();
      try {
        await fc.assert(
          fc.asyncProperty(includeConfigArb, async ({ main, files }) => {
            const runDir = join(dir, `r${stats.runs}`);
            await mkdir(join(runDir, 'pool.d'), { recursive: true });
            const file = join(runDir, 'php-fpm.conf');
            await writeFile(file, main.replaceAll('@DIR@', runDir));
            for (const [name, text] of Object.entries(files))
              await writeFile(join(runDir, name), text.replaceAll('@DIR@', runDir));
            const real = await run(fpm.path!, ['-t', '-y', file], {
              cwd: runDir,
              env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
            });
            const ours = checkFpmConfigFile(file, { env: {}, asRoot: isRoot(), system });
            stats.runs++;
            if (real.exitCode === 0) stats.accepted++;
            else stats.refused++;
            const firstReal = stripMessages(real.output).find((m) => /^(ERROR|ALERT|PHP):/.test(m));
            const firstOurs = ours.findings.find((f) => f.severity === 'error')?.evidence
              ?.fpmMessage;
            const shown = `${main}\n${JSON.stringify(files, null, 1)}\n--- php-fpm said:\n${real.output}`;
            expect({ ok: ours.ok, first: firstOurs ?? null }, shown).toEqual({
              ok: real.exitCode === 0,
              first: firstReal ?? null,
            });
            if (real.exitCode !== 0) return;
            // What FPM would run with, as -tt prints it, against fpmkit's effective view.
            const printed = await run(fpm.path!, ['-tt', '-y', file], {
              cwd: runDir,
              env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
            });
            const loaded = loadFpmConfig(file, { env: {} });
            expect(effectiveFpmConfig(loaded.config, { written: loaded.written }), shown).toEqual(
              parseFpmDump(printed.output),
            );
            stats.dumped++;
          }),
          { numRuns: RUNS, seed: Number(process.env.FPMKIT_SEED ?? 20261207) },
        );
        expect(stats.runs).toBeGreaterThanOrEqual(300);
        expect(stats.accepted).toBeGreaterThan(20);
        expect(stats.refused).toBeGreaterThan(20);
      } finally {
        await rm(dir, { recursive: true, force: true });
        console.log(
          `odd configs: ${stats.runs} agreed (php-fpm accepted ${stats.accepted}, refused ${stats.refused}); ` +
            `-tt dump equal to effectiveFpmConfig on ${stats.dumped} of ${stats.accepted}`,
        );
      }
    });
  },
);

const VALUE_CHARS = [...'abcXYZ019 _-./:"\'\\$;=[]{}()!~&|^#%,@+?*<>\t'];
const valueArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...VALUE_CHARS), minLength: 1, maxLength: 16 }),
  fc.constantFrom(
    'yes',
    'Off',
    'null',
    'none',
    'None ',
    'nonex',
    'no',
    'E_ALL',
    'E_ALL & ~E_NOTICE',
    '${HOME}',
    '"a b"',
    "'raw'",
    'a "b" c',
    '(1|2)',
    '!0',
  ),
);

describe.skipIf(!fpm.available)(
  `the INI scanner against php-fpm8.2 -tt on random values${fpm.reason}`,
  () => {
    it('reads 300 random values as php-fpm does', { timeout: 300_000 }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-values-'));
      const stats = { values: 0, refused: 0 };
      try {
        await fc.assert(
          fc.asyncProperty(valueArb, async (value) => {
            const text = `[global]\nerror_log = ${dir}/fpm.log\n[www]\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 1\nping.path = /ping\nping.response = ${value}\n`;
            const file = join(dir, 'php-fpm.conf');
            await writeFile(file, text);
            const real = await run(fpm.path!, ['-tt', '-R', '-y', file], {
              env: { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C', HOME: '/root' },
            });
            const ours = checkFpmConfig(text, {
              path: file,
              env: { HOME: '/root' },
              allowRoot: true,
              asRoot: true,
            });
            stats.values++;
            expect(ours.ok, `${value}\n${real.output}`).toBe(real.exitCode === 0);
            if (real.exitCode !== 0) {
              stats.refused++;
              return;
            }
            const printed = /\tping\.response = (.*)/.exec(real.output)?.[1];
            const parsed = safeParse(text, file);
            expect(parsed?.split('\n')[0], `${value}\n${real.output}`).toBe(printed);
          }),
          { numRuns: 300, seed: Number(process.env.FPMKIT_SEED ?? 20261121) },
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
        console.log(`values: ${stats.values} read alike, ${stats.refused} refused by both`);
      }
    });
  },
);

function safeParse(text: string, file: string): string | undefined {
  return parseFpmConfig(text, { path: file, env: { HOME: '/root' } }).config.pools[0]?.ping
    .response;
}
