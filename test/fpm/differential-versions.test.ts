import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckFpmConfigResult, checkFpmConfig, type FpmSystem } from '../../src/fpm/index.js';
import { hostFpmSystem } from '../../src/host/index.js';
import { debian13Root } from '../support/debian13.js';
import { phpFpmBinary } from '../support/integration.js';
import { stripMessages } from '../support/php-fpm.js';
import { run } from '../support/process.js';
import { configArb } from './differential-arbitraries.js';

/**
 * The differential test's configurations (differential-arbitraries.ts), now and then with a
 * UNIX socket path too long for `sun_path`, decided by the real php-fpm 8.4 (Debian 13, through
 * chroot) and the real php-fpm 8.2 (Debian 12), and by checkFpmConfig with `phpVersion` '8.4'
 * and '8.2'. fpmkit must agree with 8.4 on every one, and its two verdicts must differ exactly
 * where the two binaries' verdicts differ.
 */
const RUNS = 320;
const fpm82 = phpFpmBinary();
const root84 = debian13Root();
const LONG_SOCKET = `${'l'.repeat(100)}.sock`;

const versionedArb = fc
  .tuple(configArb, fc.integer({ min: 0, max: 7 }))
  .map(([text, n]) => (n === 0 ? text.replace('@DIR@/www.sock', `@DIR@/${LONG_SOCKET}`) : text));

/** What a binary (or fpmkit) decided: the verdict and the first error, as `-t` prints it. */
interface Verdict {
  ok: boolean;
  first: string | null;
}

function ours(result: CheckFpmConfigResult): Verdict {
  const first = result.findings.find((f) => f.severity === 'error')?.evidence?.fpmMessage;
  return { ok: result.ok, first: typeof first === 'string' ? first : null };
}

function real(output: string, exitCode: number | null): Verdict {
  const first = stripMessages(output).find((m) => /^(ERROR|ALERT|PHP):/.test(m));
  return { ok: exitCode === 0, first: exitCode === 0 ? null : (first ?? null) };
}

/** The machine as FPM inside the root sees it: its passwd and group, paths under the root. */
function chrootSystem(root: string): FpmSystem {
  const host = hostFpmSystem({ etcRoot: join(root, 'etc') });
  return {
    ...host,
    isDirectory: (p) => host.isDirectory!(join(root, p)),
    openForAppend: (p) => host.openForAppend!(join(root, p)),
  };
}

describe.skipIf(!fpm82.available || !root84.available)(
  `checkFpmConfig with phpVersion against real php-fpm8.4 and php-fpm8.2 -t${fpm82.reason}${root84.reason}`,
  () => {
    const root = root84.path ?? '';
    let inner = '';
    let path = '';
    const stats = { runs: 0, accepted: 0, refused: 0, binariesDiffer: 0, sameFirstMessage: 0 };
    beforeAll(async () => {
      inner = await mkdtemp(join(root, 'tmp', 'fpmkit-diffv-'));
      path = inner.slice(root.length);
      await mkdir(path, { recursive: true });
    });
    afterAll(async () => {
      await rm(inner, { recursive: true, force: true });
      if (path) await rm(path, { recursive: true, force: true });
      console.log(
        `versions: ${stats.runs} configs; php-fpm8.4 accepted ${stats.accepted} and refused ${stats.refused}; ` +
          `checkFpmConfig (8.4) agreed on all, same first error on ${stats.sameFirstMessage} of ${stats.refused}; ` +
          `8.2 and 8.4 binaries differed on ${stats.binariesDiffer}, and phpVersion 8.2/8.4 differed on exactly those`,
      );
    });

    it(`agrees with 8.4 and differs from 8.2 where the binaries do, on ${RUNS} configs`, {
      timeout: 900_000,
    }, async () => {
      const host = hostFpmSystem();
      const chroot = chrootSystem(root);
      const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
      await fc.assert(
        fc.asyncProperty(versionedArb, async (template) => {
          const runDir = join(path, `r${stats.runs}`);
          await mkdir(runDir);
          await mkdir(join(root, runDir));
          const text = template.replaceAll('@DIR@', runDir);
          const file = join(runDir, 'php-fpm.conf');
          await writeFile(file, text);
          await writeFile(join(root, file), text);
          const r82 = await run(fpm82.path!, ['-t', '-y', file], { cwd: runDir, env });
          const r84 = await run('chroot', [root, '/usr/sbin/php-fpm8.4', '-t', '-y', file], {
            cwd: join(root, runDir),
            env,
          });
          const options = { path: file, env: {}, asRoot: true } as const;
          const o82 = ours(checkFpmConfig(text, { ...options, system: host, phpVersion: '8.2' }));
          const o84 = ours(checkFpmConfig(text, { ...options, system: chroot, phpVersion: '8.4' }));
          const v82 = real(r82.output, r82.exitCode);
          const v84 = real(r84.output, r84.exitCode);
          stats.runs++;
          if (v84.ok) stats.accepted++;
          else stats.refused++;
          if (!v84.ok && v84.first === o84.first) stats.sameFirstMessage++;
          const shown = `${text}\n--- php-fpm8.4 said:\n${r84.output}\n--- php-fpm8.2 said:\n${r82.output}`;
          // A log_level above the failing message's level hides it; then only the verdict counts.
          const hidden = (v: Verdict, o: Verdict) =>
            !v.ok && v.first === null ? { ok: o.ok, first: null } : o;
          expect(hidden(v84, o84), shown).toEqual(v84);
          const binariesDiffer = JSON.stringify(v82) !== JSON.stringify(v84);
          if (binariesDiffer) stats.binariesDiffer++;
          expect(JSON.stringify(hidden(v82, o82)) !== JSON.stringify(hidden(v84, o84)), shown).toBe(
            binariesDiffer,
          );
        }),
        { numRuns: RUNS, seed: Number(process.env.FPMKIT_SEED ?? 20261207) },
      );
      expect(stats.runs).toBeGreaterThanOrEqual(300);
      expect(stats.accepted).toBeGreaterThan(20);
      expect(stats.refused).toBeGreaterThan(20);
      expect(stats.binariesDiffer).toBeGreaterThan(0);
    });
  },
);
