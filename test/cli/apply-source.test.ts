import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApplySource } from '../../src/cli/apply-source.js';
import { isFpmkitError } from '../../src/errors.js';

/** `apply --from FILE` over written files: who may own the file, and what it may change. */
let dir: string;
let confPath: string;
const root = process.getuid?.() === 0;

const conf = (user: string, children: number) =>
  `[global]\nerror_log = /tmp/x.log\n[www]\nuser = ${user}\ngroup = ${user}\nlisten = /run/php/www.sock\npm = static\npm.max_children = ${children}\n`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fpmkit-apply-source-'));
  confPath = join(dir, 'php-fpm.conf');
  writeFileSync(confPath, conf('www-data', 2));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (from: string, includeIdentity = false) =>
  readApplySource({ from, configPath: confPath, includeIdentity, env: {} });

function doctorReport(name: string): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      ok: false,
      findings: [],
      files: { [`php-fpm.conf (${confPath})`]: conf('root', 5) },
    }),
    { mode: 0o600 },
  );
  return path;
}

describe('readApplySource', () => {
  it('keeps user and group from a doctor report unless --include-identity', () => {
    const path = doctorReport('doctor.json');
    const kept = read(path);
    expect(kept.edits.map((e) => e.directive)).toEqual(['pm.max_children']);
    expect(kept.skipped.map((s) => s.directive).sort()).toEqual(['group', 'user']);
    const all = read(path, true);
    expect(all.edits.map((e) => e.directive).sort()).toEqual(['group', 'pm.max_children', 'user']);
  });

  it('keeps identity from an FPM file too', () => {
    const path = join(dir, 'pool.conf');
    writeFileSync(path, conf('root', 3), { mode: 0o600 });
    expect(read(path).edits.map((e) => e.directive)).toEqual(['pm.max_children']);
  });

  it.each([
    ['0666', 0o666, 'every user'],
    ['0620', 0o620, 'its group'],
  ])('refuses a file of mode %s, naming it', (_, mode, who) => {
    const path = doctorReport(`shared-${mode}.json`);
    chmodSync(path, mode);
    let error: unknown;
    try {
      read(path);
    } catch (e) {
      error = e;
    }
    expect(isFpmkitError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'FPMKIT_IO', errno: 'EPERM', path });
    expect((error as Error).message).toContain(who);
  });

  it.skipIf(!root)('refuses a file owned by another user, naming it', () => {
    const path = doctorReport('nobody.json');
    chownSync(path, 65534, 65534);
    expect(() => read(path)).toThrow(/nobody\.json.*owned by uid 65534/);
  });
});
