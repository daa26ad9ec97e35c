import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, truncateSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitIoError, isFpmkitError } from '../../src/errors.js';
import { checkFpmConfigFile, loadFpmConfig } from '../../src/host/fpm-config.js';
import { MAX_CONFIG_FILE_BYTES } from '../../src/host/safe-read.js';
import { MiB, runNodeMeasured } from '../support/measured.js';

/**
 * `fpmkit check` and the host loaders against files that are not configuration files: a FIFO
 * nobody writes to, /dev/zero, a file over the size bound, each named directly or through
 * `include`, and standard input. Each must end quickly with a typed error naming the file
 * (and the including file and line), exit 3, and stay small in memory.
 */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
/** Node with fpmkit loaded peaks near 70 MiB; reading /dev/zero used to pass 2 GB. */
const RSS_BOUND = 160 * MiB;
/** Node starts in well under a second; a hang is what this rules out. */
const TIME_BOUND_MS = 10_000;

const check = (args: string[], options: Parameters<typeof runNodeMeasured>[1] = {}) =>
  runNodeMeasured([bin, 'check', ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    timeoutMs: 20_000,
    ...options,
  });

describe('fpmkit check refuses what is not a bounded regular file', () => {
  let dir = '';
  let fifo = '';
  let large = '';
  const conf = (name: string) => join(dir, name);

  beforeAll(async () => {
    if (!existsSync(bin))
      throw new Error('dist/cli/bin.js is missing: run npm run build (npm install does it)');
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-hostile-'));
    fifo = join(dir, 'pool.fifo');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
    large = join(dir, 'large.conf');
    await writeFile(large, '');
    // A sparse file: its size is over the bound without using the disk.
    truncateSync(large, MAX_CONFIG_FILE_BYTES + 1);
    const pool = `[www]\nuser = www-data\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 2\n`;
    await writeFile(conf('good.conf'), `[global]\nerror_log = ${dir}/fpm.log\n${pool}`);
    for (const [name, target] of [
      ['include-fifo.conf', fifo],
      ['include-zero.conf', '/dev/zero'],
      ['include-large.conf', large],
      ['include-stdin.conf', '/dev/stdin'],
    ] as const) {
      await writeFile(
        conf(name),
        `[global]\nerror_log = ${dir}/fpm.log\ninclude = ${target}\n${pool}`,
      );
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const bounded = (r: Awaited<ReturnType<typeof check>>) => {
    expect(r.elapsedMs).toBeLessThan(TIME_BOUND_MS);
    expect(r.maxRssBytes).toBeDefined();
    expect(r.maxRssBytes!).toBeLessThan(RSS_BOUND);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it.each([
    ['a FIFO with no writer', () => fifo, 'is a FIFO, not a regular file'],
    ['/dev/zero', () => '/dev/zero', 'is a character device, not a regular file'],
    ['a file over 16 MiB', () => large, `larger than the limit of ${MAX_CONFIG_FILE_BYTES} bytes`],
  ])('named directly: %s ends with exit 3 and a message naming it', async (_, path, reason) => {
    const r = await check([path()]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(`fpmkit check: ${path()}: cannot read configuration file`);
    expect(r.stderr).toContain(reason);
    bounded(r);
  });

  it.each([
    ['a FIFO with no writer', 'include-fifo.conf', () => fifo, 'is a FIFO'],
    ['/dev/zero', 'include-zero.conf', () => '/dev/zero', 'is a character device'],
    ['a file over 16 MiB', 'include-large.conf', () => large, 'larger than the limit'],
  ])(
    'through include: %s ends with exit 3 naming it and the including line',
    async (_, name, path, reason) => {
      const r = await check([conf(name)]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toContain(`fpmkit check: ${path()}: `);
      expect(r.stderr).toContain(reason);
      expect(r.stderr).toContain(`included from ${conf(name)} at line 3`);
      bounded(r);
    },
  );

  it('--json: the refusal is an FPMKIT_IO error object', async () => {
    const r = await check(['--json', conf('include-zero.conf')]);
    expect(r.exitCode).toBe(3);
    const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(out.ok).toBe(false);
    expect(out.error.code).toBe('FPMKIT_IO');
    expect(out.error.message).toContain('/dev/zero');
  });

  it('a piped /dev/stdin, named directly or through include, is refused without waiting', async () => {
    // Opened read-write, the FIFO has a writer (this process) that never writes: a pipe
    // from a program that has not written yet.
    const fd = openSync(fifo, 'r+');
    try {
      const direct = await check(['/dev/stdin'], { stdin: fd });
      expect(direct.exitCode).toBe(3);
      expect(direct.stderr).toContain('/dev/stdin');
      expect(direct.stderr).toContain('is a FIFO');
      expect(direct.stderr).toContain('name it as -');
      bounded(direct);
      const included = await check([conf('include-stdin.conf')], { stdin: fd });
      expect(included.exitCode).toBe(3);
      expect(included.stderr).toContain(`included from ${conf('include-stdin.conf')} at line 3`);
      bounded(included);
    } finally {
      closeSync(fd);
    }
  });

  it('check - reads a configuration from a pipe', async () => {
    const r = await check(['-'], { shellInput: `cat '${conf('good.conf')}'` });
    expect(r.stdout).toContain('php-fpm -t would accept standard input');
    expect(r.exitCode).toBe(0);
    bounded(r);
  });

  it('check - stops reading /dev/zero (piped or redirected) at 16 MiB', async () => {
    const piped = await check(['-'], { shellInput: 'cat /dev/zero' });
    expect(piped.exitCode).toBe(3);
    expect(piped.stderr).toContain('<stdin>: is larger than the limit of 16777216 bytes');
    bounded(piped);
    const zero = openSync('/dev/zero', 'r');
    try {
      const redirected = await check(['-'], { stdin: zero });
      expect(redirected.exitCode).toBe(3);
      expect(redirected.stderr).toContain('is larger than the limit');
      bounded(redirected);
    } finally {
      closeSync(zero);
    }
  });

  it('loadFpmConfig and checkFpmConfigFile throw FpmkitIoError naming the include', () => {
    for (const load of [loadFpmConfig, checkFpmConfigFile]) {
      let caught: unknown;
      try {
        load(conf('include-fifo.conf'));
      } catch (error) {
        caught = error;
      }
      expect(isFpmkitError(caught)).toBe(true);
      expect(caught).toBeInstanceOf(FpmkitIoError);
      const io = caught as FpmkitIoError;
      expect(io.path).toBe(fifo);
      expect(io.errno).toBe('EINVAL');
      expect(io.message).toContain(`included from ${conf('include-fifo.conf')} at line 3`);
    }
  });
});

describe('fpmkit render reads its model as a bounded regular file', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-hostile-render-'));
    const made = spawnSync('mkfifo', [join(dir, 'model.fifo')]);
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const render = (args: string[], options: Parameters<typeof runNodeMeasured>[1] = {}) =>
    runNodeMeasured([bin, 'render', ...args], {
      env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
      timeoutMs: 20_000,
      ...options,
    });

  it.each([
    ['a FIFO with no writer', () => join(dir, 'model.fifo'), 'is a FIFO, not a regular file'],
    ['/dev/zero', () => '/dev/zero', 'is a character device, not a regular file'],
  ])('named directly: %s ends with exit 3 naming it', async (_, path, reason) => {
    const r = await render([path()]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain(reason);
    expect(r.elapsedMs).toBeLessThan(TIME_BOUND_MS);
    expect(r.maxRssBytes!).toBeLessThan(RSS_BOUND);
  });

  it('- reads standard input up to 16 MiB and refuses /dev/zero there', async () => {
    const zero = openSync('/dev/zero', 'r');
    try {
      const r = await render(['-'], { stdin: zero });
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/larger than|EFBIG/);
      expect(r.maxRssBytes!).toBeLessThan(RSS_BOUND);
    } finally {
      closeSync(zero);
    }
  });
});
