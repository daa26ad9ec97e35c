import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose } from '../../src/doctor/index.js';
import { isFpmkitError } from '../../src/errors.js';
import { collectSnapshot, snapshotFromDirectory } from '../../src/host/index.js';
import { readLogWindow } from '../../src/host/snapshot.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const EVIDENCE = 'test/fixtures/doctor/evidence';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-snapshot-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readLogWindow', () => {
  it('reads a small file whole', async () => {
    const path = join(dir, 'small.log');
    await writeFile(path, 'a\nb\n');
    expect(await readLogWindow(path, 100)).toEqual({
      path,
      text: 'a\nb\n',
      truncated: false,
      sizeBytes: 4,
    });
  });

  it('keeps only whole lines from the end of a larger file', async () => {
    const path = join(dir, 'big.log');
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}`);
    await writeFile(path, `${lines.join('\n')}\n`);
    const w = await readLogWindow(path, 50);
    expect(w.truncated).toBe(true);
    expect(w.text.length).toBeLessThanOrEqual(50);
    expect(w.text.endsWith('line 999\n')).toBe(true);
    for (const l of w.text.trimEnd().split('\n')) expect(lines).toContain(l);
  });
});

describe('readLogWindow on what is not a log', () => {
  it('refuses a FIFO without waiting for a writer, and a device without reading it', async () => {
    const fifo = join(dir, 'log-fifo');
    const { spawnSync } = await import('node:child_process');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const started = Date.now();
    await expect(readLogWindow(fifo)).rejects.toThrow(/is a FIFO, not a regular file/);
    await expect(readLogWindow('/dev/zero')).rejects.toThrow(/is a character device/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('takes only files of the owners it is given', async () => {
    const path = join(dir, 'owned.log');
    await writeFile(path, 'x\n');
    const me = typeof process.getuid === 'function' ? process.getuid() : 0;
    await expect(readLogWindow(path, 100, { owners: [me + 1] })).rejects.toThrow(/is owned by uid/);
    expect((await readLogWindow(path, 100, { owners: [me] })).text).toBe('x\n');
  });
});

describe('snapshotFromDirectory', () => {
  it('reads the config, logs and /proc copies of an evidence directory', async () => {
    const s = await snapshotFromDirectory(EVIDENCE);
    expect(s.origin).toBe('directory');
    expect(s.noFpm).toBeUndefined();
    expect(s.masters).toHaveLength(1);
    const m = s.masters[0]!;
    expect(m.configPath).toBe('/etc/php/8.2/fpm/php-fpm.conf');
    expect(m.config.ok).toBe(true);
    expect(m.pools.map((p) => p.name)).toEqual([
      'logs',
      'busy',
      'ondem',
      'terminate',
      'burst',
      'denied',
      'disallowed',
    ]);
    expect(m.errorLog.ok && m.errorLog.value.path).toBe('/var/log/fixture-lab/fpm-logs-error.log');
    const logs = m.pools[0]!;
    expect(logs.slowlog.ok && logs.slowlog.value.text).toContain('fetch_remote_data()');
    expect(s.nginxErrorLog.ok && s.nginxErrorLog.value.text).toContain(
      '(11: Resource temporarily unavailable)',
    );
    expect(s.kernel).toEqual({ ok: true, value: { somaxconn: 4096 } });
    expect(s.unixQueues.ok).toBe(false);
    expect(!s.unixQueues.ok && s.unixQueues.errno).toBe('ENOENT');
    expect(logs.status).toMatchObject({
      ok: false,
      reason: expect.stringContaining('saved evidence'),
    });
  });

  it('follows a manifest and takes the queue peak from extra samples', async () => {
    const d = join(dir, 'evidence');
    await mkdir(join(d, 'files', 'srv'), { recursive: true });
    await mkdir(join(d, 'proc', 'net'), { recursive: true });
    await writeFile(
      join(d, 'files', 'srv', 'fpm.conf'),
      '[global]\nerror_log = log/fpm.log\n[sat]\nlisten = /run/php/fixture-lab/sat.sock\npm = static\npm.max_children = 2\nlisten.backlog = 8\n',
    );
    await mkdir(join(d, 'files', 'opt', 'fpm', 'log'), { recursive: true });
    await writeFile(
      join(d, 'files', 'opt', 'fpm', 'log', 'fpm.log'),
      '[21-Nov-2026 00:00:00] NOTICE: ready to handle connections\n',
    );
    await writeFile(
      join(d, 'proc', 'net', 'unix'),
      'Num       RefCount Protocol Flags    Type St Inode Path\n',
    );
    await copyFile(
      'test/fixtures/proc-net-unix/unix-saturated/proc-net-unix.txt',
      join(d, 'proc', 'net', 'unix.1'),
    );
    await writeFile(
      join(d, 'fpmkit-evidence.json'),
      JSON.stringify({
        configPath: '/srv/fpm.conf',
        prefix: '/opt/fpm',
        nginxErrorLog: '/nowhere.log',
        takenAt: '2026-11-21T00:00:00Z',
      }),
    );
    const s = await snapshotFromDirectory(d);
    const pool = s.masters[0]!.pools[0]!;
    expect(pool.queue).toEqual({
      ok: false,
      reason: 'nothing listens on /run/php/fixture-lab/sat.sock',
    });
    expect(pool.queuePeak).toBe(9);
    expect(s.masters[0]!.errorLog.ok).toBe(true);
    expect(s.takenAt.toISOString()).toBe('2026-11-21T00:00:00.000Z');
    expect(s.nginxErrorLog.ok).toBe(false);
  });

  it('says there is no FPM when the directory holds no configuration', async () => {
    const empty = join(dir, 'empty-evidence');
    await mkdir(empty);
    const s = await snapshotFromDirectory(empty);
    expect(s.masters).toEqual([]);
    expect(s.noFpm).toMatch(/no FPM configuration/);
    expect(diagnose(s).noFpm).toBe(true);
  });

  it('refuses a directory that does not exist, or a file, in one FpmkitIoError', async () => {
    await expect(snapshotFromDirectory(join(dir, 'does-not-exist'))).rejects.toMatchObject({
      code: 'FPMKIT_IO',
      errno: 'ENOENT',
      message: expect.stringContaining('cannot read the evidence directory'),
    });
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await expect(snapshotFromDirectory(file)).rejects.toMatchObject({ errno: 'ENOTDIR' });
  });

  it('refuses a manifest that is not JSON', async () => {
    const d = join(dir, 'bad-manifest');
    await mkdir(d);
    await writeFile(join(d, 'fpmkit-evidence.json'), '{');
    await expect(snapshotFromDirectory(d)).rejects.toSatisfy(isFpmkitError);
  });
});

describe('collectSnapshot', () => {
  it('records why there is no FPM when no master runs under procRoot', async () => {
    const proc = join(dir, 'proc-empty');
    await mkdir(join(proc, 'sys', 'net', 'core'), { recursive: true });
    await writeFile(join(proc, 'sys', 'net', 'core', 'somaxconn'), '128\n');
    const s = await collectSnapshot({ procRoot: proc, sysRoot: join(dir, 'nosys') });
    expect(s.masters).toEqual([]);
    expect(s.noFpm).toBe(
      `no process titled "php-fpm: master process" runs here (looked in ${proc})`,
    );
    expect(s.kernel).toEqual({ ok: true, value: { somaxconn: 128 } });
    expect(s.meminfo.ok).toBe(false);
    expect(s.nginxErrorLog).toEqual({ ok: false, reason: 'no nginx error log was given' });
  });

  it('says it cannot list processes when procRoot is missing', async () => {
    const s = await collectSnapshot({ procRoot: join(dir, 'no-proc') });
    expect(s.noFpm).toMatch(/^cannot list processes in /);
  });

  it('examines a given configuration whose master is not running', async () => {
    const conf = join(dir, 'idle.conf');
    await writeFile(
      conf,
      `[global]\nerror_log = ${dir}/none.log\n[idle]\nlisten = ${dir}/idle.sock\npm = static\npm.max_children = 1\n`,
    );
    const s = await collectSnapshot({ configPath: conf, procRoot: join(dir, 'proc-empty') });
    expect(s.noFpm).toBeUndefined();
    const m = s.masters[0]!;
    expect(m.pid).toBeUndefined();
    expect(m.pools[0]!.status).toEqual({ ok: false, reason: 'pm.status_path is not set' });
    expect(m.errorLog).toMatchObject({ ok: false, code: 'FPMKIT_IO', errno: 'ENOENT' });
  });

  it.each([[{ maxLogBytes: -1 }], [{ maxLogBytes: 1.5 }], [{ queueSamples: 100_000 }]])(
    'refuses bad options %j',
    async (options) => {
      await expect(collectSnapshot(options)).rejects.toSatisfy(
        (e: unknown) => isFpmkitError(e) && e.code === 'FPMKIT_INVALID_OPTION',
      );
    },
  );
});

const fpmReq = phpFpmBinary();
describe.skipIf(!fpmReq.available)(
  `collectSnapshot against a running php-fpm${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            directives:
              'pm = static\npm.max_children = 2\npm.status_path = /status\nlisten.backlog = 16\n',
          },
        ],
      });
    }, 30_000);
    afterAll(async () => {
      await fpm?.stop();
    });

    it('finds the master, its workers, status page, queue, log and memory', async () => {
      const s = await collectSnapshot({
        configPath: fpm!.confPath,
        queueSamples: 2,
        queueSampleIntervalMs: 10,
      });
      const m = s.masters[0]!;
      expect(m.pid).toBe(fpm!.pid);
      const pool = m.pools[0]!;
      expect(pool.workerPids).toHaveLength(2);
      expect(pool.status.ok && pool.status.value.pool).toBe('www');
      expect(pool.status.ok && pool.status.value.totalProcesses).toBe(2);
      // The queue may still hold the start-up probe's connection: it is read, not assumed 0.
      expect(pool.queue).toMatchObject({
        ok: true,
        value: { address: fpm!.pool('www').socketPath },
      });
      const queued = pool.queue.ok ? pool.queue.value.queued : -1;
      expect(queued).toBeGreaterThanOrEqual(0);
      expect(pool.queuePeak).toBeGreaterThanOrEqual(queued);
      expect(pool.workerMemory.ok && pool.workerMemory.value.count).toBe(2);
      expect(m.errorLog.ok && m.errorLog.value.text).toContain('ready to handle connections');
      const report = diagnose(s);
      expect(report.noFpm).toBe(false);
      expect(report.summary.pools).toBe(1);
    }, 30_000);
  },
);
