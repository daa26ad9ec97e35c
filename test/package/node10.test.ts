import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/process.js';

/**
 * The packed tarball, unpacked into a project that type-checks with `moduleResolution: node10`
 * (TypeScript's `node`), which ignores `exports`: subpath imports resolve only through the
 * package's `typesVersions` map.
 */
const root = join(import.meta.dirname, '..', '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

const SOURCE = `import { planPool } from 'fpmkit';
import { checkStack } from 'fpmkit/doctor';
import { FastCGIClient } from 'fpmkit/fastcgi';
import { parseFpmConfig, type PoolConfig } from 'fpmkit/fpm';
import { collectSnapshot } from 'fpmkit/host';
import { kernelSettingsSchema, type Meminfo, parseMeminfo } from 'fpmkit/kernel';
import { parseProcNetUnix, type UnixSocket } from 'fpmkit/kernel/parsers';
import { parseFpmAccessLog } from 'fpmkit/logs';
import { erlangC } from 'fpmkit/sizing';
import { type FpmStatus, parseStatus } from 'fpmkit/status';
import { renderNginxConf } from 'fpmkit/web';

const meminfo: Meminfo = parseMeminfo('MemTotal: 1024 kB\\nMemFree: 512 kB\\n');
const sockets: UnixSocket[] = parseProcNetUnix('');
const status: FpmStatus | undefined = undefined;
const pool: PoolConfig | undefined = undefined;
// @ts-expect-error totalBytes is a number: proves the types are real, not any
const wrong: string = meminfo.totalBytes;
export const used = [planPool, checkStack, FastCGIClient, parseFpmConfig, collectSnapshot,
  kernelSettingsSchema.safeParse({}), sockets, parseFpmAccessLog, erlangC, parseStatus, status,
  pool, renderNginxConf, wrong];
`;

describe('types under moduleResolution node10, from the packed tarball', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-node10-'));
    const tarball = execFileSync(
      'npm',
      ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir],
      { cwd: root, encoding: 'utf8' },
    ).trim();
    const pkg = join(dir, 'node_modules', 'fpmkit');
    await mkdir(pkg, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', pkg, '--strip-components=1']);
    // fpmkit's dependencies and Node's types, as an install would provide them.
    await mkdir(join(dir, 'node_modules', '@types'));
    for (const dep of ['zod', 'fast-xml-parser', '@types/node']) {
      await symlink(join(root, 'node_modules', dep), join(dir, 'node_modules', dep));
    }
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'commonjs',
          moduleResolution: 'node10',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          types: ['node'],
          esModuleInterop: true,
          // Resolution errors are reported in index.ts either way; this skips checking zod's
          // own declarations, which only costs time.
          skipLibCheck: true,
        },
        files: ['index.ts'],
      }),
    );
    await writeFile(join(dir, 'index.ts'), SOURCE);
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every subpath type-checks through typesVersions, and fails without it', async () => {
    const ok = await run(process.execPath, [tsc, '-p', dir], { timeoutMs: 120_000 });
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.exitCode).toBe(0);

    const manifest = join(dir, 'node_modules', 'fpmkit', 'package.json');
    const pkg = JSON.parse(await readFile(manifest, 'utf8')) as Record<string, unknown>;
    delete pkg.typesVersions;
    await writeFile(manifest, JSON.stringify(pkg));
    const bare = await run(process.execPath, [tsc, '-p', dir], { timeoutMs: 120_000 });
    expect(bare.exitCode).not.toBe(0);
    for (const sub of ['doctor', 'fastcgi', 'fpm', 'host', 'kernel', 'kernel/parsers', 'logs']) {
      expect(bare.stdout).toContain(`Cannot find module 'fpmkit/${sub}'`);
    }
  }, 240_000);
});
