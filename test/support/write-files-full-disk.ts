/**
 * Run inside a private mount namespace with a 16 KiB tmpfs mounted at argv[2] (see
 * test/host/write-files.test.ts). Writes random old sets, replaces them with random new sets
 * that often do not fit, and prints a JSON report: how many replacements left exactly the old
 * set (with the error), exactly the new set, or anything else.
 */

import { createHash } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { FpmkitIoError } from '../../src/errors.js';
import { writeFilesAtomically } from '../../src/host/write-files.js';
import { snapshotTree } from './tree.js';

const mount = process.argv[2]!;
const PATHS = [
  'php/8.2/fpm/pool.d/shop.conf',
  'nginx/conf.d/shop-fpm.conf',
  'nginx/snippets/shop-fpm.conf',
  'sysctl.d/60-fpmkit-shop.conf',
  'top.conf',
];
const dirMode = (0o755 & ~process.umask()).toString(8);

interface Spec {
  path: string;
  size: number;
  fill: number;
}
const spec = fc.record({
  path: fc.constantFrom(...PATHS),
  // 0 bytes, one page or two pages of tmpfs.
  size: fc.oneof(
    fc.constant(0),
    fc.integer({ min: 1, max: 4096 }),
    fc.integer({ min: 4097, max: 8192 }),
  ),
  fill: fc.integer({ min: 97, max: 122 }),
});
const set = fc.uniqueArray(spec, { selector: (f) => f.path, minLength: 1, maxLength: 3 });
const bytes = (f: Spec) => Buffer.alloc(f.size, f.fill);
const toFiles = (s: Spec[]) => s.map((f) => ({ path: f.path, content: bytes(f) }));

function clear(): void {
  for (const name of readdirSync(mount)) rmSync(`${mount}/${name}`, { recursive: true });
}

/** The tree a successful replacement must leave: the old tree with the new files and their directories. */
function expectedAfter(before: Record<string, string>, next: Spec[]): Record<string, string> {
  const out = { ...before };
  for (const f of next) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) out[parts.slice(0, i).join('/')] ??= `dir ${dirMode}`;
    const sha = createHash('sha256').update(bytes(f)).digest('hex');
    out[f.path] = `file ${before[f.path]?.split(' ')[1] ?? '644'} ${sha}`;
  }
  return out;
}

const same = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

const report = {
  runs: 0,
  oldSet: 0,
  newSet: 0,
  skipped: 0,
  broken: [] as string[],
  errnos: {} as Record<string, number>,
};

fc.assert(
  fc.property(set, set, (oldSpec, newSpec) => {
    clear();
    try {
      writeFilesAtomically(mount, toFiles(oldSpec));
    } catch (error) {
      // The old set did not fit either: the directory must be left empty.
      if (!(error instanceof FpmkitIoError) || readdirSync(mount).length > 0) {
        report.broken.push(`old set ${JSON.stringify(oldSpec)}: ${String(error)}`);
      }
      report.skipped++;
      return;
    }
    const before = snapshotTree(mount);
    let failure: unknown;
    try {
      writeFilesAtomically(mount, toFiles(newSpec), { force: true });
    } catch (error) {
      failure = error;
    }
    const after = snapshotTree(mount);
    report.runs++;
    if (failure === undefined && same(after, expectedAfter(before, newSpec))) report.newSet++;
    else if (failure instanceof FpmkitIoError && same(after, before)) {
      report.oldSet++;
      const errno = failure.errno ?? 'none';
      report.errnos[errno] = (report.errnos[errno] ?? 0) + 1;
    } else {
      report.broken.push(
        `${JSON.stringify(oldSpec)} -> ${JSON.stringify(newSpec)}: ${String(failure)}; left ${JSON.stringify(after)}`,
      );
    }
  }),
  { numRuns: 300 },
);
process.stdout.write(`${JSON.stringify(report)}\n`);
