import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose } from '../../src/doctor/index.js';
import { collectSnapshot } from '../../src/host/index.js';

/** Written /proc trees: a master is a cmdline title, a status with its uids and an exe link. */
let dir: string;
let binary: string;

async function proc(name: string, pids: Record<number, { title: string; uid: number }>) {
  const root = join(dir, name);
  for (const [pid, p] of Object.entries(pids)) {
    const d = join(root, pid);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'cmdline'), `${p.title}\0`);
    await writeFile(
      join(d, 'status'),
      `Name:\tphp-fpm8.2\nPid:\t${pid}\nPPid:\t1\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\nGid:\t0\t0\t0\t0\n`,
    );
    await symlink(binary, join(d, 'exe'));
  }
  return root;
}

async function config(name: string, global = '') {
  const d = join(dir, name);
  await mkdir(d, { recursive: true });
  const path = join(d, 'php-fpm.conf');
  await writeFile(
    path,
    `[global]\nerror_log = ${d}/none.log\n${global}\n[app]\nlisten = ${d}/app.sock\npm = static\npm.max_children = 1\n`,
  );
  return { dir: d, path };
}

const uid = process.getuid?.() ?? 0;
const options = { sysRoot: '/nonexistent', webServers: false, readListeners: false } as const;
const codes = (s: Awaited<ReturnType<typeof collectSnapshot>>) =>
  diagnose(s).findings.map((f) => f.code);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-running-'));
  binary = join(dir, 'bin', 'php-fpm8.2');
  await mkdir(join(dir, 'bin'));
  await writeFile(binary, '', { mode: 0o644 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a given configuration and the masters found', () => {
  it('matches a master whose title names the configuration through a link', async () => {
    const c = await config('real');
    await symlink(c.dir, join(dir, 'link'));
    const procRoot = await proc('proc-link', {
      4242: { title: `php-fpm: master process (${join(dir, 'link', 'php-fpm.conf')})`, uid },
    });
    const s = await collectSnapshot({ ...options, configPath: c.path, procRoot });
    expect(s.masters[0]!.pid).toBe(4242);
    expect(codes(s)).not.toContain('live.fpm-not-running');
  });

  it('cannot tell when only an untrusted process claims the configuration', async () => {
    const c = await config('claimed');
    const procRoot = await proc('proc-untrusted', {
      4243: { title: `php-fpm: master process (${c.path})`, uid: 65534 },
    });
    const s = await collectSnapshot({ ...options, configPath: c.path, procRoot });
    expect(s.masters[0]!.running).toMatchObject({ state: 'unknown' });
    const report = diagnose(s);
    expect(report.findings.map((f) => f.code)).not.toContain('live.fpm-not-running');
    expect(report.missing.find((m) => m.part.startsWith('live.fpm-not-running'))?.reason).toMatch(
      /process 4243 .* not trusted/,
    );
  });

  it('cannot tell when the processes cannot be listed', async () => {
    const c = await config('unlisted');
    const s = await collectSnapshot({
      ...options,
      configPath: c.path,
      procRoot: join(dir, 'no-such-proc'),
    });
    expect(s.masters[0]!.running).toMatchObject({ state: 'unknown' });
    expect(codes(s)).not.toContain('live.fpm-not-running');
  });

  it('takes the pid file: a live master there runs it', async () => {
    const c = await config('pidfile', `pid = ${join(dir, 'pidfile', 'fpm.pid')}`);
    await writeFile(join(c.dir, 'fpm.pid'), '4244\n');
    // The title names the file as the master was started with it: relative to another directory.
    const procRoot = await proc('proc-pidfile', {
      4244: { title: 'php-fpm: master process (etc/php-fpm.conf)', uid },
    });
    const s = await collectSnapshot({ ...options, configPath: c.path, procRoot });
    expect(s.masters[0]!.pid).toBeUndefined();
    expect(s.masters[0]!.running).toEqual({
      state: 'pid-file',
      pid: 4244,
      pidFile: join(c.dir, 'fpm.pid'),
    });
    expect(codes(s)).not.toContain('live.fpm-not-running');
  });

  it('still reports a configuration nothing runs, with a stale pid file', async () => {
    const c = await config('stale', 'pid = fpm.pid');
    await writeFile(join(c.dir, 'fpm.pid'), '4245\n');
    const procRoot = await proc('proc-stale', {
      4245: { title: 'bash', uid },
    });
    const s = await collectSnapshot({ ...options, configPath: c.path, procRoot, prefix: c.dir });
    expect(s.masters[0]!.running).toBeUndefined();
    expect(codes(s)).toContain('live.fpm-not-running');
  });
});
