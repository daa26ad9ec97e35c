import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitFpmLines } from '../../src/fpm/edit.js';
import { type FpmDump, parseFpmDump, planFpmEdits } from '../../src/fpm/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { run } from '../support/process.js';
import {
  buildFileSet,
  type ExpectedEdit,
  editsArb,
  type FileSet,
  fileSetArb,
} from './edit-arbitraries.js';

/**
 * The editor against the real php-fpm8.2: generated multi-file configurations are printed with
 * `-tt` before and after random edits, and the two dumps must differ in exactly the edited
 * values, each showing the value the edit asked for.
 */
const fpm = phpFpmBinary();
const CONFIGS = 70;
const EDIT_SETS_PER_CONFIG = 3;
const SEED = Number(process.env.FPMKIT_SEED ?? 20261207);
/** php-fpm runs at once; the machine is shared. */
const PARALLEL = 2;

async function writeSet(files: ReadonlyMap<string, string>): Promise<void> {
  for (const [path, text] of files) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}

async function dump(root: string): Promise<{ ok: boolean; dump: FpmDump; output: string }> {
  const r = await run(fpm.path!, ['-tt', '-R', '-y', root], {
    env: { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C' },
  });
  return { ok: r.exitCode === 0, dump: parseFpmDump(r.output), output: r.output };
}

function flatten(d: FpmDump): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(d.global)) out.set(`global\u0000${k}`, v);
  for (const p of d.pools)
    for (const [k, v] of Object.entries(p.values)) out.set(`${p.name}\u0000${k}`, v);
  return out;
}

/** Lines of `before` not named by a change must come through unchanged and in order. */
function untouchedLinesKept(
  before: string,
  after: string,
  removed: Set<number>,
  added: Set<number>,
) {
  const keep = splitFpmLines(before)
    .filter((_, i) => !removed.has(i + 1))
    .map((l) => l.text + l.eol);
  const kept = splitFpmLines(after)
    .filter((_, i) => !added.has(i + 1))
    .map((l) => l.text + l.eol);
  // The line before an insertion at the end of a file without a final newline gains one.
  const strip = (a: string[]) => a.map((l) => l.replace(/\r?\n$/, ''));
  expect(strip(kept)).toEqual(strip(keep));
}

describe.skipIf(!fpm.available)(`editFpmConfig against php-fpm8.2 -tt${fpm.reason}`, () => {
  let base = '';
  const stats = {
    configs: 0,
    refusedBefore: 0,
    comparisons: 0,
    edits: 0,
    added: 0,
    rewritten: 0,
    removed: 0,
    shadowed: 0,
    files: 0,
    crlfFiles: 0,
    fpmRuns: 0,
    ms: 0,
  };
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'fpmkit-edit-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
    console.log(
      `edit -tt: ${stats.configs} generated configurations (${stats.files} files, ${stats.crlfFiles} with CRLF), ` +
        `${stats.refusedBefore} refused by php-fpm before editing; ${stats.comparisons} -tt comparisons of ` +
        `${stats.edits} edits (${stats.rewritten} lines rewritten, ${stats.added} added, ${stats.removed} removed, ` +
        `${stats.shadowed} with shadowed duplicates); ${stats.fpmRuns} php-fpm runs in ${stats.ms} ms`,
    );
  });

  it(`changes exactly the edited values in ${CONFIGS * EDIT_SETS_PER_CONFIG} comparisons`, {
    timeout: 300_000,
  }, async () => {
    const started = Date.now();
    const samples = fc.sample(fileSetArb(join(base, 'shared')), { seed: SEED, numRuns: CONFIGS });
    await mkdir(join(base, 'shared'), { recursive: true });
    const one = async (index: number) => {
      const [config, seed] = samples[index]!;
      const runDir = join(base, `r${index}`);
      const set: FileSet = buildFileSet(config, seed, runDir);
      stats.configs++;
      stats.files += set.files.size;
      for (const text of set.files.values()) if (text.includes('\r\n')) stats.crlfFiles++;
      // No edits: nothing changes, byte for byte.
      expect(planFpmEdits(set.files, set.root, []).files).toEqual([]);
      await writeSet(set.files);
      const before = await dump(set.root);
      stats.fpmRuns++;
      if (!before.ok) {
        stats.refusedBefore++;
        return;
      }
      expect(before.dump.pools.map((p) => p.name)).toEqual(config.pools.map((p) => p.name));
      const editSets = fc.sample(editsArb(config), {
        seed: seed ^ SEED,
        numRuns: EDIT_SETS_PER_CONFIG,
      });
      for (const expected of editSets) {
        await checkEditSet(set, before.dump, expected);
        await writeSet(set.files);
      }
    };
    const checkEditSet = async (set: FileSet, beforeDump: FpmDump, expected: ExpectedEdit[]) => {
      const plan = planFpmEdits(
        set.files,
        set.root,
        expected.map((e) => e.edit),
      );
      for (const file of plan.files) {
        const removed = new Set(
          file.changes.flatMap((c) =>
            c.action === 'remove' ? c.linesBefore : c.action === 'set' ? c.linesBefore : [],
          ),
        );
        const added = new Set(
          file.changes.flatMap((c) => (c.action === 'unchanged' ? [] : c.linesAfter)),
        );
        untouchedLinesKept(file.before, file.after, removed, added);
        for (const c of file.changes) {
          if (c.action === 'add' || c.action === 'add-section') stats.added++;
          if (c.action === 'set') stats.rewritten++;
          if (c.action === 'remove') stats.removed++;
          if (c.shadowed?.length) stats.shadowed++;
        }
      }
      await writeSet(new Map(plan.files.map((f) => [f.path, f.after])));
      const after = await dump(set.root);
      stats.fpmRuns++;
      const context = `edits ${JSON.stringify(expected.map((e) => e.edit))}\n${plan.files
        .map((f) => `--- ${f.path}\n${f.after}`)
        .join('\n')}\n--- php-fpm:\n${after.output}`;
      expect(after.ok, context).toBe(true);
      const b = flatten(beforeDump);
      const a = flatten(after.dump);
      const want = new Map<string, string | undefined>();
      for (const e of expected) want.set(`${e.dumpSection}\u0000${e.dumpKey}`, e.expected);
      const differing = new Set<string>();
      for (const key of new Set([...a.keys(), ...b.keys()]))
        if (a.get(key) !== b.get(key)) differing.add(key);
      const expectedDiff = [...want].filter(([k, v]) => b.get(k) !== v).map(([k]) => k);
      expect([...differing].sort(), context).toEqual(expectedDiff.sort());
      for (const [k, v] of want) expect(a.get(k), `${k}\n${context}`).toBe(v);
      stats.comparisons++;
      stats.edits += expected.length;
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < samples.length) await one(next++);
      }),
    );
    stats.ms = Date.now() - started;
    expect(stats.refusedBefore).toBeLessThanOrEqual(CONFIGS / 20);
    expect(stats.comparisons).toBeGreaterThanOrEqual(200);
    expect(stats.added).toBeGreaterThan(20);
    expect(stats.rewritten).toBeGreaterThan(20);
    expect(stats.removed).toBeGreaterThan(10);
    expect(stats.shadowed).toBeGreaterThan(5);
  });
});
