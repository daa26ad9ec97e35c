import {
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverFileWrites, WRITE_JOURNAL_NAME } from '../../src/host/index.js';
import { isRoot, requireBinary } from '../support/integration.js';
import { run } from '../support/process.js';
import { snapshotTree } from '../support/tree.js';

/** The built command, run as a child process the way users run it. */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const env = { PATH: process.env.PATH ?? '', NO_COLOR: '1' };
const COMMON = ['plan', '--name', 'shop', '--cpus', '4', '--memory', '8G'];
/** Two plans whose files differ (all but the sysctl and systemd ones), so a mix shows. */
const OLD = [...COMMON, '--rps', '20', '--longest-request', '30', '--listen', '/run/php/a.sock'];
const NEW = [...COMMON, '--rps', '60', '--longest-request', '60', '--listen', '/run/php/b.sock'];
const fpmkit = (args: string[]) => run(process.execPath, [bin, ...args], { env });

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fpmkit-plan-write-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh case directory holding `etc` (the target) and `outside` (what must not change). */
function freshCase(name: string): { top: string; dir: string; outside: string } {
  const top = join(root, name);
  const dir = join(top, 'etc');
  const outside = join(top, 'outside');
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'precious'), 'precious\n');
  return { top, dir, outside };
}

describe('fpmkit plan --write refuses links under DIR', () => {
  const cases: {
    name: string;
    force: boolean;
    plant: (dir: string, outside: string) => void;
    at: string;
  }[] = [
    {
      name: 'a dangling link where a file goes (no --force)',
      force: false,
      plant: (dir, outside) => {
        mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
        symlinkSync(join(outside, 'created.conf'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
      },
      at: 'nginx/conf.d/shop-fpm.conf',
    },
    {
      name: 'a link to a file outside (--force)',
      force: true,
      plant: (dir, outside) => {
        mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
        symlinkSync(join(outside, 'precious'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
      },
      at: 'nginx/conf.d/shop-fpm.conf',
    },
    {
      name: 'a link to a directory outside (no --force)',
      force: false,
      plant: (dir, outside) => symlinkSync(join(outside, 'sub'), join(dir, 'nginx')),
      at: 'nginx',
    },
    {
      name: 'a link to a directory outside (--force)',
      force: true,
      plant: (dir, outside) => {
        mkdirSync(join(dir, 'php/8.2/fpm'), { recursive: true });
        symlinkSync(join(outside, 'sub'), join(dir, 'php/8.2/fpm/pool.d'));
      },
      at: 'php/8.2/fpm/pool.d',
    },
  ];

  it.each(cases)(
    '$name: exit 3, ELOOP naming the link, nothing inside or outside DIR changes',
    async ({ name, force, plant, at }) => {
      const { top, dir, outside } = freshCase(name.replace(/\W+/g, '-'));
      plant(dir, outside);
      const before = snapshotTree(top);
      const r = await fpmkit([...NEW, '--write', dir, ...(force ? ['--force'] : [])]);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toContain(`${join(dir, at)}: is a symbolic link`);
      const json = await fpmkit([...NEW, '--write', dir, '--json', ...(force ? ['--force'] : [])]);
      expect(json.exitCode).toBe(3);
      expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'FPMKIT_IO', errno: 'ELOOP' });
      expect(snapshotTree(top)).toEqual(before);
    },
  );

  it('--force replaces a hard link to a file outside DIR instead of writing through it', async () => {
    const { dir, outside } = freshCase('hard-link');
    mkdirSync(join(dir, 'nginx/conf.d'), { recursive: true });
    linkSync(join(outside, 'precious'), join(dir, 'nginx/conf.d/shop-fpm.conf'));
    const r = await fpmkit([...NEW, '--write', dir, '--force']);
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(outside, 'precious'), 'utf8')).toBe('precious\n');
    expect(readFileSync(join(dir, 'nginx/conf.d/shop-fpm.conf'), 'utf8')).toContain('upstream');
  });
});

const unshare = requireBinary('unshare', 'util-linux');
const asRoot = isRoot();
if (!asRoot && process.env.FPMKIT_REQUIRE_INTEGRATION) {
  throw new Error(
    'the 16 KiB tmpfs test mounts a file system and needs root (FPMKIT_REQUIRE_INTEGRATION is set)',
  );
}

describe.skipIf(!unshare.available || !asRoot)(
  `fpmkit plan --write on a full disk${unshare.reason}${asRoot ? '' : ' [skipped: mounting a tmpfs needs root]'}`,
  () => {
    it('a 16 KiB tmpfs: exit 3 with ENOSPC, and DIR is left as it was (no empty file, no part of the set)', async () => {
      const mount = join(root, 'tmpfs');
      mkdirSync(mount);
      const r = await run(
        unshare.path!,
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount -t tmpfs -o size=16k fpmkit-test "$1" || exit 99; m="$1"; shift; "$@" --write "$m" >/dev/null; echo "exit=$?"; find "$m" -mindepth 1 -printf "%y %s %P\\n"',
          'sh',
          mount,
          process.execPath,
          bin,
          ...NEW,
        ],
        { env },
      );
      expect(r.stderr).toContain('ENOSPC');
      expect(r.stdout.trim()).toBe('exit=3');
    });
  },
);

/** Syscalls of the writing phase that a kill is injected at, each call in turn. */
const INJECTED = [
  'openat',
  'pwrite64',
  'fchmod',
  'fsync',
  'close',
  'mkdir',
  'rmdir',
  'rename',
  'link',
  'unlink',
] as const;

interface Point {
  name: string;
  /** Which call of `name` by the main thread, counted from the start of the process. */
  ordinal: number;
  /** The call with its first argument, temporary names and pids normalized. */
  call: string;
}

/** A call of the writing phase, located relative to the phase's start. */
interface PhasePoint extends Point {
  /** Its index among the calls of the writing phase. */
  phaseIndex: number;
  /** Which call of `name` it is within the writing phase, from 1. */
  inPhase: number;
}

const FD_CALLS = new Set(['pwrite64', 'fsync', 'fchmod', 'close']);
const normalize = (path: string) =>
  path
    .replace(/\.[0-9a-f]{12}\.fpmkit-tmp/, '.*.fpmkit-tmp')
    .replace(/\/proc\/\d+\//, '/proc/PID/');

/**
 * Every traced call in an strace log, in order, with its ordinal among calls of the same name and
 * what it acts on: the path, or for a call on a descriptor the path that descriptor was opened
 * with (descriptor numbers differ between runs).
 */
function callsOf(log: string): Point[] {
  const counts = new Map<string, number>();
  const fdPaths = new Map<string, string>();
  const calls: Point[] = [];
  for (const line of log.split('\n')) {
    const m = /^([a-z0-9_]+)\((.*)$/.exec(line);
    if (m === null) continue;
    const name = m[1]!;
    const ordinal = (counts.get(name) ?? 0) + 1;
    counts.set(name, ordinal);
    const path = /"((?:[^"\\]|\\.)*)"/.exec(m[2]!)?.[1] ?? '';
    const fd = /^(\d+)/.exec(m[2]!)?.[1] ?? '';
    const target = FD_CALLS.has(name) ? (fdPaths.get(fd) ?? `fd ${fd}`) : path;
    if (name === 'openat') {
      const result = /= (\d+)$/.exec(line)?.[1];
      if (result !== undefined) fdPaths.set(result, path);
    }
    calls.push({ name, ordinal, call: `${name}(${normalize(target)})` });
  }
  return calls;
}

/** Where the writing phase starts: the first call naming `dir` (its mkdir). */
function phaseStart(calls: readonly Point[], dir: string): number {
  return calls.findIndex((c) => c.call.includes(`(${dir}`));
}

/** The calls from the first one naming `dir` on: the writing phase. */
function pointsOf(log: string, dir: string): PhasePoint[] {
  const calls = callsOf(log);
  const first = phaseStart(calls, dir);
  expect(first).toBeGreaterThan(0);
  const seen = new Map<string, number>();
  return calls.slice(first).map((c, phaseIndex) => {
    const inPhase = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, inPhase);
    return { ...c, phaseIndex, inPhase };
  });
}

type SetState = 'old' | 'new' | 'mix';

/** What a kill left, before any recovery: each plan file old, new, or damaged. */
function stateAfterKill(
  dir: string,
  oldTree: Record<string, string>,
  newTree: Record<string, string>,
): { set: SetState; damaged: string[]; journal: string } {
  const tree = snapshotTree(dir);
  const planFiles = Object.keys(newTree).filter((p) => newTree[p]!.startsWith('file'));
  let olds = 0;
  let news = 0;
  const damaged: string[] = [];
  for (const p of planFiles) {
    // A file the two plans render alike counts as both.
    if (tree[p] === oldTree[p]) olds++;
    if (tree[p] === newTree[p]) news++;
    if (tree[p] !== oldTree[p] && tree[p] !== newTree[p])
      damaged.push(`${p}: ${tree[p] ?? 'absent'}`);
  }
  let journal = 'none';
  if (tree[WRITE_JOURNAL_NAME] !== undefined) {
    try {
      journal = JSON.parse(readFileSync(join(dir, WRITE_JOURNAL_NAME), 'utf8')).state;
    } catch {
      journal = 'cut short';
    }
  }
  const set = olds === planFiles.length ? 'old' : news === planFiles.length ? 'new' : 'mix';
  return { set, damaged, journal };
}

const strace = requireBinary('strace', 'strace');

describe.skipIf(!strace.available)(
  `fpmkit plan --write killed (SIGKILL) at every syscall of its writing phase${strace.reason}`,
  () => {
    /**
     * Without -f strace traces only the main thread, which runs the whole (synchronous) write;
     * inject counters are per thread, so `when=N` then means the main thread's Nth call.
     */
    async function traced(args: string[], log: string, inject?: Point) {
      return run(
        'strace',
        [
          '-qq',
          '-o',
          log,
          '-e',
          `trace=${INJECTED.join(',')}`,
          ...(inject === undefined
            ? []
            : ['-e', `inject=${inject.name}:signal=KILL:when=${inject.ordinal}`]),
          process.execPath,
          bin,
          ...args,
        ],
        { env, timeoutMs: 60_000 },
      );
    }

    async function scenario(
      label: string,
      force: boolean,
      prepare: (template: string) => Promise<void>,
    ) {
      const top = join(root, `kill-${force ? 'force' : 'create'}`);
      const dir = join(top, 'etc');
      const template = join(top, 'template');
      mkdirSync(template, { recursive: true });
      await prepare(template);
      const oldTree = snapshotTree(template);
      const restore = () => {
        rmSync(dir, { recursive: true, force: true });
        cpSync(template, dir, { recursive: true });
        expect(snapshotTree(dir)).toEqual(oldTree);
      };
      const args = [...NEW, '--write', dir, ...(force ? ['--force'] : [])];
      restore();
      const dry = await traced(args, join(top, 'dry.log'));
      expect(dry.exitCode).toBe(0);
      const newTree = snapshotTree(dir);
      const points = pointsOf(readFileSync(join(top, 'dry.log'), 'utf8'), dir);
      expect(points.length).toBeGreaterThan(40);

      const outcomes = new Map<string, number>();
      const perCall = new Map<string, number>();
      let oldSets = 0;
      let newSets = 0;
      let retries = 0;
      for (const point of points) {
        // strace counts a call from the start of the process, and module loading sometimes
        // makes one more or one less openat or close on the main thread before the write
        // starts: when the kill lands elsewhere, count again from that run and retry.
        let ordinal = point.ordinal;
        let hit = false;
        for (let attempt = 0; attempt < 8 && !hit; attempt++) {
          if (attempt > 0) retries++;
          restore();
          const log = join(top, 'kill.log');
          const r = await traced(args, log, { ...point, ordinal });
          const killed = r.signal === 'SIGKILL' || r.exitCode === 137;
          // Not killed at all: the count was past the last such call of this run.
          if (!killed) expect(r.exitCode, `${point.call}#${ordinal}: ${r.stderr}`).toBe(0);
          const text = readFileSync(log, 'utf8').trimEnd();
          if (killed) expect(text.endsWith('= ?\n+++ killed by SIGKILL +++')).toBe(true);
          const calls = callsOf(text);
          const start = phaseStart(calls, dir);
          if (start < 0) {
            ordinal++;
            continue;
          }
          const before = calls.slice(0, start).filter((c) => c.name === point.name).length;
          hit =
            killed &&
            ordinal === before + point.inPhase &&
            calls.length - 1 - start === point.phaseIndex &&
            calls.at(-1)!.call === point.call;
          ordinal = before + point.inPhase;
        }
        expect(
          hit,
          `the kill meant for ${point.call} (call ${point.phaseIndex} of the write)`,
        ).toBe(true);

        const killed = stateAfterKill(dir, oldTree, newTree);
        expect(killed.damaged, `after a kill at ${point.call}`).toEqual([]);
        if (killed.set === 'mix') expect(killed.journal).toBe('committed');
        recoverFileWrites(dir);
        const after = snapshotTree(dir);
        const recovered =
          JSON.stringify(after) === JSON.stringify(oldTree)
            ? 'old set'
            : JSON.stringify(after) === JSON.stringify(newTree)
              ? 'new set'
              : 'other';
        expect(
          recovered,
          `recovery after a kill at ${point.call}#${point.ordinal}: ${JSON.stringify(after)}`,
        ).not.toBe('other');
        if (recovered === 'old set') oldSets++;
        else newSets++;
        const key = `files ${killed.set}, journal ${killed.journal} -> ${recovered}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        perCall.set(point.name, (perCall.get(point.name) ?? 0) + 1);
      }
      console.log(
        [
          `${label}: ${points.length} kill points (${[...perCall].map(([n, c]) => `${c} ${n}`).join(', ')}); after each kill no file was empty or cut; after recovery ${oldSets} old set, ${newSets} new set, 0 anything else (${retries} kills retried because module loading shifted the count of a call)`,
          ...[...outcomes].map(([k, c]) => `  ${String(c).padStart(3)} x ${k}`),
        ].join('\n'),
      );
      expect(oldSets).toBeGreaterThan(0);
      expect(newSets).toBeGreaterThan(0);
      return { dir, restore, oldTree, newTree, points, traced, args };
    }

    let replacing: Awaited<ReturnType<typeof scenario>>;
    let creating: Awaited<ReturnType<typeof scenario>>;

    it('--force over an old set: every kill leaves whole files, and recovery the old set or the new set', async () => {
      replacing = await scenario('plan --write DIR --force over an old set', true, async (t) => {
        const r = await fpmkit([...OLD, '--write', t]);
        expect(r.exitCode).toBe(0);
      });
    }, 1_200_000);

    it('into a DIR without the files: every kill leaves whole files, and recovery the old set or the new set', async () => {
      creating = await scenario(
        'plan --write DIR into a directory without the files',
        false,
        async (t) => {
          writeFileSync(join(t, 'README'), 'not ours\n');
        },
      );
    }, 1_200_000);

    it('the next --write finishes an interrupted one first: forward once committed, back before', async () => {
      expect(replacing).toBeDefined();
      const renames = replacing.points.filter((p) => p.name === 'rename');
      const middle = renames[Math.floor(renames.length / 2)]!;
      replacing.restore();
      await replacing.traced(replacing.args, join(root, 'next.log'), middle);
      expect(stateAfterKill(replacing.dir, replacing.oldTree, replacing.newTree).set).toBe('mix');
      const next = await fpmkit([...NEW, '--write', replacing.dir, '--force']);
      expect(next.exitCode, `${next.stdout}${next.stderr}`).toBe(0);
      expect(next.stdout).toContain('had been interrupted; it was finished first');
      expect(snapshotTree(replacing.dir)).toEqual(replacing.newTree);

      const writes = creating.points.filter((p) => p.name === 'pwrite64');
      creating.restore();
      await creating.traced(creating.args, join(root, 'next.log'), writes[2]!);
      const again = await fpmkit([...NEW, '--write', creating.dir]);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toContain('had been interrupted; it was undone first');
      expect(snapshotTree(creating.dir)).toEqual(creating.newTree);
    }, 120_000);
  },
);
