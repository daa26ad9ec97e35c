import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/host/apply-diff.js';
import { FpmkitApplyLockedError } from '../../src/host/apply-errors.js';
import { APPLY_LOCK_NAME, acquireApplyLock } from '../../src/host/apply-lock.js';
import { pointIncludesInto } from '../../src/host/apply-stage.js';
import { requireBinary } from '../support/integration.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fpmkit-apply-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('apply lock', () => {
  it('a live holder makes the next apply wait, then fail typed; release lets it in', async () => {
    const dir = tmp();
    const first = await acquireApplyLock(dir, 0);
    const started = Date.now();
    const error = await acquireApplyLock(dir, 200).catch((e) => e);
    expect(error).toBeInstanceOf(FpmkitApplyLockedError);
    expect((error as FpmkitApplyLockedError).holderPid).toBe(process.pid);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    const waiting = acquireApplyLock(dir, 5000);
    setTimeout(() => first.release(), 100);
    (await waiting).release();
  });
  it('the lock of a killed holder is broken', async () => {
    const dir = tmp();
    const child = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], {
      encoding: 'utf8',
    });
    const deadPid = Number(child.stdout.trim());
    writeFileSync(join(dir, APPLY_LOCK_NAME), JSON.stringify({ pid: deadPid, startTime: '1' }));
    const lock = await acquireApplyLock(dir, 0);
    expect(JSON.parse(readFileSync(join(dir, APPLY_LOCK_NAME), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });
});

describe('staging for php-fpm -t', () => {
  it('points absolute and prefix-relative include lines into the staged tree and keeps other bytes', () => {
    const text =
      '; c\r\n[global]\r\ninclude = /etc/php/8.2/fpm/pool.d/*.conf\r\ninclude=pool.d/x.conf\nerror_log = x\n';
    const out = pointIncludesInto(text, '/tmp/S', '/etc/php', {});
    expect(out).toBe(
      '; c\r\n[global]\r\ninclude = "/tmp/S/etc/php/8.2/fpm/pool.d/*.conf"\r\ninclude = /tmp/S/etc/php/pool.d/x.conf\nerror_log = x\n',
    );
    expect(pointIncludesInto('include = "${D}/a b.conf"\n', '/tmp/S', '/usr', { D: '/etc' })).toBe(
      'include = "/tmp/S/etc/a b.conf"\n',
    );
  });
});

const patch = requireBinary('patch', 'patch');
describe.skipIf(!patch.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `unifiedDiff${patch.reason}`,
  () => {
    it('patch(1) turns the old text into the new with the diff', () => {
      const dir = tmp();
      const line = fc.constantFrom('a', 'b', 'c', '; x', '', 'pm = 1');
      fc.assert(
        fc.property(
          fc.array(line, { maxLength: 30 }),
          fc.array(line, { maxLength: 30 }),
          (a, b) => {
            const before = `${a.join('\n')}\n`;
            const after = `${b.join('\n')}\n`;
            const file = join(dir, 'f.conf');
            writeFileSync(file, before);
            const diff = unifiedDiff(file, before, after);
            if (before === after) {
              expect(diff).toBe('');
              return;
            }
            const r = spawnSync(patch.path!, ['-s', '--no-backup-if-mismatch', file], {
              input: diff,
              encoding: 'utf8',
            });
            expect(r.status, `${r.stdout}${r.stderr}\n${diff}`).toBe(0);
            expect(readFileSync(file, 'utf8')).toBe(after);
          },
        ),
        { numRuns: 150 },
      );
    });
  },
);
