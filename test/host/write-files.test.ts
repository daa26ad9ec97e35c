import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../../src/errors.js';
import {
  FpmkitFileExistsError,
  recoverFileWrites,
  WRITE_JOURNAL_NAME,
  writeFilesAtomically,
} from '../../src/host/index.js';
import { isRoot, requireBinary } from '../support/integration.js';
import { run } from '../support/process.js';
import { snapshotTree } from '../support/tree.js';

let root: string;
let dir: string;
let outside: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'fpmkit-write-'));
  dir = join(root, 'etc');
  outside = join(root, 'outside');
  mkdirSync(dir);
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'precious'), 'precious\n');
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const files = [
  { path: 'php/8.2/fpm/pool.d/shop.conf', content: '[shop]\nuser = www-data\n' },
  { path: 'nginx/conf.d/shop-fpm.conf', content: 'upstream php_fpm_shop {}\n' },
  { path: 'sysctl.d/60-fpmkit-shop.conf', content: 'net.core.somaxconn = 1024\n' },
];

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** Names left under `root` by the writer itself: temporary files and the journal. */
function leftovers(top: string): string[] {
  return Object.keys(snapshotTree(top)).filter(
    (p) => p.endsWith('.fpmkit-tmp') || p.startsWith(WRITE_JOURNAL_NAME),
  );
}

describe('writeFilesAtomically', () => {
  it('writes the set with the modes asked for and leaves no temporary file or journal', () => {
    const result = writeFilesAtomically(dir, [
      ...files,
      { path: 'php/8.2/fpm/conf.d/60-fpmkit.ini', content: new Uint8Array([0, 1, 2]), mode: 0o600 },
    ]);
    expect(result.paths).toEqual([
      ...files.map((f) => join(dir, f.path)),
      join(dir, 'php/8.2/fpm/conf.d/60-fpmkit.ini'),
    ]);
    expect(result.replaced).toEqual([]);
    expect(result.recovered).toBeUndefined();
    for (const f of files) {
      expect(readFileSync(join(dir, f.path), 'utf8')).toBe(f.content);
      expect(statSync(join(dir, f.path)).mode & 0o777).toBe(0o644);
    }
    expect([...readFileSync(join(dir, 'php/8.2/fpm/conf.d/60-fpmkit.ini'))]).toEqual([0, 1, 2]);
    expect(statSync(join(dir, 'php/8.2/fpm/conf.d/60-fpmkit.ini')).mode & 0o777).toBe(0o600);
    expect(leftovers(dir)).toEqual([]);
  });

  it('without force, refuses before writing anything when any file exists, and names them all', () => {
    mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
    writeFileSync(join(dir, 'nginx/conf.d/shop-fpm.conf'), '# mine\n');
    writeFileSync(join(dir, 'mine'), 'x');
    const before = snapshotTree(root);
    const error = caught(() => writeFilesAtomically(dir, files));
    expect(error).toBeInstanceOf(FpmkitFileExistsError);
    expect(error).toBeInstanceOf(FpmkitIoError);
    expect((error as FpmkitFileExistsError).errno).toBe('EEXIST');
    expect((error as FpmkitFileExistsError).paths).toEqual([
      join(dir, 'nginx/conf.d/shop-fpm.conf'),
    ]);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('with force, replaces files, keeping the mode of the replaced file unless one is given', () => {
    writeFilesAtomically(dir, files);
    chmodSync(join(dir, files[0]!.path), 0o640);
    const result = writeFilesAtomically(
      dir,
      [
        { path: files[0]!.path, content: 'new 0\n' },
        { path: files[1]!.path, content: 'new 1\n', mode: 0o600 },
      ],
      { force: true },
    );
    expect(result.replaced).toEqual([join(dir, files[0]!.path), join(dir, files[1]!.path)]);
    expect(readFileSync(join(dir, files[0]!.path), 'utf8')).toBe('new 0\n');
    expect(statSync(join(dir, files[0]!.path)).mode & 0o777).toBe(0o640);
    expect(statSync(join(dir, files[1]!.path)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, files[2]!.path), 'utf8')).toBe(files[2]!.content);
  });

  /** Each case plants a link under the directory; `at` is the path the error must name. */
  const linkCases: { name: string; plant: () => void; at: string }[] = [
    {
      name: 'dangling link where a file goes',
      plant: () => {
        mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
        symlinkSync(join(outside, 'created.conf'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
      },
      at: 'nginx/conf.d/shop-fpm.conf',
    },
    {
      name: 'link to a file outside',
      plant: () => {
        mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
        symlinkSync(join(outside, 'precious'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
      },
      at: 'nginx/conf.d/shop-fpm.conf',
    },
    {
      name: 'link to a directory outside (first component)',
      plant: () => symlinkSync(join(outside, 'sub'), join(dir, 'nginx')),
      at: 'nginx',
    },
    {
      name: 'link to a directory outside (deeper component)',
      plant: () => {
        mkdirSync(join(dir, 'php/8.2'), { recursive: true });
        symlinkSync(join(outside, 'sub'), join(dir, 'php/8.2/fpm'));
      },
      at: 'php/8.2/fpm',
    },
    {
      name: 'relative link to a directory inside',
      plant: () => {
        mkdirSync(join(dir, 'real'));
        symlinkSync('real', join(dir, 'sysctl.d'));
      },
      at: 'sysctl.d',
    },
  ];

  for (const force of [false, true]) {
    it.each(linkCases)(
      `refuses a $name${force ? ' with force' : ''}: ELOOP naming it, nothing changes inside or outside`,
      ({ plant, at }) => {
        plant();
        const before = snapshotTree(root);
        const error = caught(() => writeFilesAtomically(dir, files, { force }));
        expect(error).toBeInstanceOf(FpmkitIoError);
        expect(error).not.toBeInstanceOf(FpmkitFileExistsError);
        expect((error as FpmkitIoError).errno).toBe('ELOOP');
        expect((error as FpmkitIoError).path).toBe(join(dir, at));
        expect((error as Error).message).toContain('symbolic link');
        expect(snapshotTree(root)).toEqual(before);
      },
    );
  }

  it('replaces a hard link to a file outside instead of writing through it', () => {
    mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
    linkSync(join(outside, 'precious'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
    const outsideBefore = snapshotTree(outside);
    writeFilesAtomically(dir, files, { force: true });
    expect(snapshotTree(outside)).toEqual(outsideBefore);
    expect(readFileSync(join(dir, 'nginx/conf.d/shop-fpm.conf'), 'utf8')).toBe(files[1]!.content);
  });

  it.each([
    ['/etc/passwd', 'must be relative'],
    ['../outside/precious', "no '..'"],
    ['nginx/../../outside/x', "no '..'"],
    ['./a', "no '..', '.'"],
    ['a//b', 'empty component'],
    ['a/', 'empty component'],
    ['', 'non-empty'],
    ['a\0b', 'NUL'],
    [WRITE_JOURNAL_NAME, 'journal'],
    ['a/.b.0123456789ab.fpmkit-tmp', 'fpmkit-tmp'],
  ])('refuses the path %j with FpmkitInvalidOptionError naming it', (path, rule) => {
    const before = snapshotTree(root);
    const error = caught(() => writeFilesAtomically(dir, [files[0]!, { path, content: 'x' }]));
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe('files[1].path');
    expect((error as FpmkitInvalidOptionError).rule).toContain(rule);
    expect(snapshotTree(root)).toEqual(before);
  });

  it('refuses a path given twice, a file that is also a directory, and a bad mode', () => {
    const cases: [Parameters<typeof writeFilesAtomically>[1], string][] = [
      [[files[0]!, files[0]!], 'files[1].path'],
      [
        [
          { path: 'a', content: '' },
          { path: 'a/b', content: '' },
        ],
        'files[1].path',
      ],
      [[{ path: 'a', content: '', mode: 0o4755 }], 'files[0].mode'],
      [[{ path: 'a', content: '', mode: 1.5 }], 'files[0].mode'],
    ];
    for (const [list, option] of cases) {
      const error = caught(() => writeFilesAtomically(dir, list));
      expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((error as FpmkitInvalidOptionError).option).toBe(option);
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a directory or a FIFO where a file goes', async () => {
    mkdirSync(join(dir, 'nginx/conf.d/shop-fpm.conf'), { recursive: true });
    const error = caught(() => writeFilesAtomically(dir, files, { force: true }));
    expect((error as FpmkitIoError).errno).toBe('EISDIR');
    rmSync(join(dir, 'nginx'), { recursive: true });
    mkdirSync(join(dir, 'sysctl.d'));
    const mkfifo = await run('mkfifo', [join(dir, 'sysctl.d/60-fpmkit-shop.conf')]);
    expect(mkfifo.exitCode).toBe(0);
    const fifo = caught(() => writeFilesAtomically(dir, files, { force: true }));
    expect((fifo as FpmkitIoError).errno).toBe('EINVAL');
    expect((fifo as FpmkitIoError).path).toBe(join(dir, 'sysctl.d/60-fpmkit-shop.conf'));
  });

  it('takes the directory itself through a link, resolved once', () => {
    symlinkSync(dir, join(root, 'etc-link'));
    const result = writeFilesAtomically(join(root, 'etc-link'), files);
    expect(result.paths[0]).toBe(join(root, 'etc-link', files[0]!.path));
    expect(readFileSync(join(dir, files[0]!.path), 'utf8')).toBe(files[0]!.content);
  });

  it('any path and content: written under the directory exactly, or refused with a typed error; nothing outside changes', () => {
    const outsideBefore = snapshotTree(outside);
    const realDir = realpathSync(dir);
    const segment = fc.oneof(
      fc.constantFrom('.', '..', '', 'a', 'b', '.fpmkit-write.journal', 'x.fpmkit-tmp'),
      fc.string({
        unit: fc.constantFrom('a', '.', '\0', ' ', '\n', '\\', '~', '$', 'é'),
        maxLength: 4,
      }),
    );
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 64 }),
        (parts, absolute, content) => {
          const path = (absolute ? '/' : '') + parts.join('/');
          try {
            writeFilesAtomically(dir, [{ path, content }], { force: true });
          } catch (error) {
            expect(
              error instanceof FpmkitInvalidOptionError || error instanceof FpmkitIoError,
              String(error),
            ).toBe(true);
            return;
          }
          const written = realpathSync(join(dir, path));
          expect(written.startsWith(`${realDir}/`)).toBe(true);
          expect(new Uint8Array(readFileSync(written))).toEqual(content);
        },
      ),
      { numRuns: 300 },
    );
    expect(snapshotTree(outside)).toEqual(outsideBefore);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('interrupted writes', () => {
  /** A journal as a killed writer leaves it, with its temporary files already on disk. */
  function plantJournal(
    state: 'prepared' | 'committed',
    owner: { pid: number; startTime: string | null },
  ) {
    const content = 'new\n';
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/b/.f.conf.0123456789ab.fpmkit-tmp'), content);
    writeFileSync(join(dir, 'a/b/f.conf'), 'old\n');
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const journal = {
      fpmkit: 'write-journal',
      version: 1,
      state,
      force: true,
      owner: { ...owner, bootId },
      dirs: [],
      files: [
        {
          path: 'a/b/f.conf',
          temp: 'a/b/.f.conf.0123456789ab.fpmkit-tmp',
          sha256: sha256(content),
          bytes: content.length,
        },
      ],
    };
    writeFileSync(join(dir, WRITE_JOURNAL_NAME), JSON.stringify(journal));
    return journal;
  }

  function startTimeOf(pid: number): string {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
  }

  it('a write whose process still runs holds the directory (EBUSY); once it is gone its uncommitted journal is rolled back', async () => {
    const child: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      plantJournal('prepared', { pid: child.pid!, startTime: startTimeOf(child.pid!) });
      const error = caught(() => writeFilesAtomically(dir, files));
      expect((error as FpmkitIoError).errno).toBe('EBUSY');
      expect((error as Error).message).toContain(`process ${child.pid}`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    expect(recoverFileWrites(dir)).toEqual({
      outcome: 'rolled-back',
      paths: [join(dir, 'a/b/f.conf')],
    });
    expect(readFileSync(join(dir, 'a/b/f.conf'), 'utf8')).toBe('old\n');
    expect(leftovers(dir)).toEqual([]);
  });

  it('a committed journal is rolled forward; one whose file was changed since is kept, with EIO', () => {
    plantJournal('committed', { pid: 1, startTime: 'not-a-time' });
    const fixed = readFileSync(join(dir, WRITE_JOURNAL_NAME), 'utf8');
    expect(recoverFileWrites(dir)?.outcome).toBe('rolled-forward');
    expect(readFileSync(join(dir, 'a/b/f.conf'), 'utf8')).toBe('new\n');
    expect(leftovers(dir)).toEqual([]);

    // The same journal again, but the temporary file is gone and the file is not the new one.
    writeFileSync(join(dir, WRITE_JOURNAL_NAME), fixed);
    writeFileSync(join(dir, 'a/b/f.conf'), 'edited by hand\n');
    const error = caught(() => recoverFileWrites(dir));
    expect((error as FpmkitIoError).errno).toBe('EIO');
    expect((error as Error).message).toContain('a/b/f.conf');
    expect(existsSync(join(dir, WRITE_JOURNAL_NAME))).toBe(true);
    expect(readFileSync(join(dir, 'a/b/f.conf'), 'utf8')).toBe('edited by hand\n');
  });

  it('a journal cut short while it was being prepared is dropped', () => {
    writeFileSync(join(dir, WRITE_JOURNAL_NAME), '{"fpmkit":"write-jou');
    expect(recoverFileWrites(dir)).toEqual({ outcome: 'rolled-back', paths: [] });
    expect(readdirSync(dir)).toEqual([]);
    expect(recoverFileWrites(join(root, 'missing'))).toBeUndefined();
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });
});

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

// A 16 KiB tmpfs in a private mount namespace: the disk fills while the new set is written.
const unshare = requireBinary('unshare', 'util-linux');
const root16k = isRoot()
  ? { ok: true, reason: '' }
  : process.env.FPMKIT_REQUIRE_INTEGRATION
    ? (() => {
        throw new Error(
          'the 16 KiB tmpfs test mounts a file system and needs root (FPMKIT_REQUIRE_INTEGRATION is set)',
        );
      })()
    : { ok: false, reason: ' [skipped: mounting a tmpfs needs root]' };

describe.skipIf(!unshare.available || !root16k.ok)(
  `on a full disk (16 KiB tmpfs)${unshare.reason}${root16k.reason}`,
  () => {
    it('every random replacement leaves exactly the old set (ENOSPC) or the new set', async () => {
      const mount = join(root, 'tmpfs');
      mkdirSync(mount);
      const script = join(import.meta.dirname, '..', 'support', 'write-files-full-disk.ts');
      const r = await run(
        unshare.path!,
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs -o size=16k fpmkit-test "$1" && exec "$2" --import tsx "$3" "$1"',
          'sh',
          mount,
          process.execPath,
          script,
        ],
        { timeoutMs: 120_000, cwd: join(import.meta.dirname, '..', '..') },
      );
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      const report = JSON.parse(r.stdout) as {
        runs: number;
        oldSet: number;
        newSet: number;
        broken: string[];
        errnos: Record<string, number>;
      };
      console.log(
        `16 KiB tmpfs: ${report.runs} random replacements: ${report.oldSet} left the old set (errors: ${JSON.stringify(report.errnos)}), ${report.newSet} the new set, ${report.broken.length} anything else`,
      );
      expect(report.broken).toEqual([]);
      expect(report.oldSet + report.newSet).toBe(report.runs);
      expect(report.oldSet).toBeGreaterThan(10);
      expect(report.newSet).toBeGreaterThan(10);
      expect(Object.keys(report.errnos)).toEqual(['ENOSPC']);
    }, 180_000);
  },
);
