import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../../src/errors.js';
import {
  discoverFpm,
  fpmDiscoverySchema,
  measureWorkerMemory,
  readCgroupMemory,
  readKernelSettings,
  readMeminfo,
  readNetstat,
  readSysctl,
  readTcpListenQueues,
  readUnixListenQueues,
  workerMemorySchema,
} from '../../src/host/index.js';
import { fixture } from '../kernel/helpers.js';

let root: string;
let procRoot: string;
let sysRoot: string;

async function put(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'fpmkit-proc-'));
  procRoot = join(root, 'proc');
  sysRoot = join(root, 'sys');
  await mkdir(procRoot);
  await mkdir(sysRoot);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const HEADER = 'Num       RefCount Protocol Flags    Type St Inode Path\n';
const row = (flags: string, st: string, inode: number, path = '') =>
  `0000000000000000: 00000003 00000000 ${flags} 0001 ${st} ${String(inode).padStart(5)}${path ? ` ${path}` : ''}\n`;

describe('readUnixListenQueues', () => {
  it('reads a /proc/net/unix larger than 64 KiB to its end', async () => {
    let text = HEADER;
    for (let i = 0; i < 4000; i++) text += row('00000000', '03', 10_000 + i);
    // The pool's listener and its queue sit past the first 64 KiB, where a one-buffer reader stops.
    text += row('00010000', '01', 500, '/run/php/late.sock');
    for (let i = 0; i < 7; i++) text += row('00000000', '02', 0, '/run/php/late.sock');
    expect(Buffer.byteLength(text)).toBeGreaterThan(3 * 65536);
    await put(join(procRoot, 'net', 'unix'), text);
    expect(await readUnixListenQueues({ procRoot })).toEqual([
      {
        path: '/run/php/late.sock',
        abstract: false,
        inode: 500,
        queued: 7,
        accepted: 0,
        ambiguous: false,
      },
    ]);
  });

  it('throws FpmkitIoError with the path and errno when the file is missing', async () => {
    try {
      await readUnixListenQueues({ procRoot });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FpmkitIoError);
      expect((e as FpmkitIoError).errno).toBe('ENOENT');
      expect((e as FpmkitIoError).path).toBe(join(procRoot, 'net', 'unix'));
    }
  });
});

describe('readTcpListenQueues and readNetstat', () => {
  it('joins tcp and tcp6 listeners', async () => {
    await put(
      join(procRoot, 'net', 'tcp'),
      fixture('proc-net-unix', 'tcp-ipv4-saturated', 'proc-net-tcp.txt'),
    );
    await put(
      join(procRoot, 'net', 'tcp6'),
      fixture('proc-net-unix', 'tcp-ipv6-saturated', 'proc-net-tcp6.txt'),
    );
    const q = await readTcpListenQueues({ procRoot });
    expect(q.find((x) => x.port === 18090)).toMatchObject({ family: 4, queued: 8 });
    expect(q.find((x) => x.port === 18092)).toMatchObject({ family: 6, address: '::1', queued: 5 });
  });
  it('works without tcp6 (IPv6 disabled)', async () => {
    await put(
      join(procRoot, 'net', 'tcp'),
      fixture('proc-net-unix', 'tcp-ipv4-saturated', 'proc-net-tcp.txt'),
    );
    expect((await readTcpListenQueues({ procRoot })).every((x) => x.family === 4)).toBe(true);
  });
  it('reads netstat counters', async () => {
    await put(
      join(procRoot, 'net', 'netstat'),
      fixture('proc-net-unix', 'netstat-overflow-ipv4', 'proc-net-netstat-after.txt'),
    );
    const n = await readNetstat({ procRoot });
    expect(n.TcpExt!.ListenOverflows).toBeGreaterThan(0);
  });
});

describe('readSysctl, readKernelSettings, readMeminfo', () => {
  it('reads the keys that exist, keeping tabs, skipping unknown ones', async () => {
    await put(join(procRoot, 'sys', 'net', 'core', 'somaxconn'), '4096\n');
    await put(join(procRoot, 'sys', 'net', 'ipv4', 'ip_local_port_range'), '32768\t60999\n');
    await put(join(procRoot, 'sys', 'fs', 'file-max'), '9223372036854775807\n');
    await put(
      join(sysRoot, 'kernel', 'mm', 'transparent_hugepage', 'enabled'),
      'always [madvise] never\n',
    );
    expect(
      await readSysctl(['net.core.somaxconn', 'net.ipv4.ip_local_port_range', 'net.core.nope'], {
        procRoot,
      }),
    ).toEqual({
      'net.core.somaxconn': '4096',
      'net.ipv4.ip_local_port_range': '32768\t60999',
    });
    expect(await readKernelSettings({ procRoot, sysRoot })).toEqual({
      somaxconn: 4096,
      ipLocalPortRange: { low: 32768, high: 60999 },
      fileMax: 'unlimited',
      transparentHugePages: 'madvise',
    });
  });
  it('reads meminfo', async () => {
    await put(join(procRoot, 'meminfo'), fixture('proc-files', 'meminfo.txt'));
    expect((await readMeminfo({ procRoot })).totalBytes).toBeGreaterThan(0);
  });
});

describe('readCgroupMemory', () => {
  it('v2: the tightest memory.max up the path, with where it is set', async () => {
    await put(join(procRoot, '42', 'cgroup'), '0::/system.slice/php-fpm.service\n');
    const cg = join(sysRoot, 'fs', 'cgroup');
    await put(join(cg, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await put(join(cg, 'system.slice', 'memory.max'), '1073741824\n');
    await put(join(cg, 'system.slice', 'php-fpm.service', 'memory.max'), 'max\n');
    await put(join(cg, 'system.slice', 'php-fpm.service', 'memory.high'), '805306368\n');
    await put(join(cg, 'system.slice', 'php-fpm.service', 'memory.current'), '123928576\n');
    await put(
      join(cg, 'system.slice', 'php-fpm.service', 'memory.stat'),
      fixture('proc-files', 'v2-memory.stat.txt'),
    );
    expect(await readCgroupMemory(42, { procRoot, sysRoot })).toEqual({
      version: 2,
      path: '/system.slice/php-fpm.service',
      limitBytes: 1073741824,
      limitPath: '/system.slice',
      highBytes: 805306368,
      usageBytes: 123928576,
      stat: { anon: 10485760, file: 52428800, kernel: 4194304, shmem: 0, pgfault: 1200 },
    });
  });

  it('v1 hybrid: memory controller hierarchy, unlimited stays unlimited', async () => {
    await put(join(procRoot, '42', 'cgroup'), '4:memory:/app\n0::/\n');
    const mem = join(sysRoot, 'fs', 'cgroup', 'memory');
    await put(join(sysRoot, 'fs', 'cgroup', 'unified', 'cgroup.controllers'), '');
    await put(join(mem, 'memory.limit_in_bytes'), '9223372036854771712\n');
    await put(join(mem, 'app', 'memory.limit_in_bytes'), '9223372036854771712\n');
    await put(join(mem, 'app', 'memory.usage_in_bytes'), '5000\n');
    const cg = await readCgroupMemory(42, { procRoot, sysRoot });
    expect(cg).toEqual({ version: 1, path: '/app', limitBytes: 'unlimited', usageBytes: 5000 });
    await put(join(mem, 'app', 'memory.limit_in_bytes'), '536870912\n');
    expect(await readCgroupMemory(42, { procRoot, sysRoot })).toMatchObject({
      limitBytes: 536870912,
      limitPath: '/app',
    });
  });

  it('undefined without a memory controller; invalid pid rejected', async () => {
    await put(join(procRoot, '42', 'cgroup'), '0::/\n');
    expect(await readCgroupMemory(42, { procRoot, sysRoot })).toBeUndefined();
    await expect(readCgroupMemory(0, { procRoot })).rejects.toBeInstanceOf(
      FpmkitInvalidOptionError,
    );
  });
});

describe('measureWorkerMemory', () => {
  it('prefers PSS, falls back to RSS, reports missing pids and the spread', async () => {
    await put(
      join(procRoot, '101', 'smaps_rollup'),
      fixture('proc-files', 'php-fpm-worker-smaps_rollup.txt'),
    );
    await put(join(procRoot, '102', 'status'), fixture('proc-files', 'php-fpm-worker-status.txt'));
    const m = await measureWorkerMemory([101, 102, 103], { procRoot });
    expect(m.count).toBe(2);
    expect(m.missing).toEqual([103]);
    expect(m.source).toBe('mixed');
    expect(m.samples[0]).toMatchObject({
      pid: 101,
      source: 'pss',
      bytes: 1134 * 1024,
      sharedBytes: 5524 * 1024,
      privateBytes: 120 * 1024,
    });
    expect(m.samples[1]).toMatchObject({
      pid: 102,
      source: 'rss',
      bytes: 5644 * 1024,
      sharedBytes: (1496 + 4) * 1024,
      privateBytes: 4144 * 1024,
    });
    expect(m.minBytes).toBe(1134 * 1024);
    expect(m.maxBytes).toBe(5644 * 1024);
    expect(m.meanBytes).toBe(((1134 + 5644) * 1024) / 2);
    expect(m.stddevBytes).toBe(((5644 - 1134) * 1024) / 2);
    expect(workerMemorySchema.parse(m)).toEqual(m);
  });
  it('handles no pids', async () => {
    expect(await measureWorkerMemory([], { procRoot })).toMatchObject({
      count: 0,
      source: 'none',
      meanBytes: 0,
    });
  });
});

describe('discoverFpm on a fixture tree', () => {
  const me = typeof process.getuid === 'function' ? process.getuid() : 0;
  /** A process; masters run a file named php-fpm8.2 owned by the current user, as `me`. */
  async function proc(
    pid: number,
    title: string,
    ppid: number,
    sockets: number[],
    opts: { uid?: number; exe?: string | null } = {},
  ) {
    await put(join(procRoot, String(pid), 'cmdline'), `${title}\0\0\0`);
    const uid = opts.uid ?? me;
    await put(
      join(procRoot, String(pid), 'status'),
      `Name:\tphp-fpm8.2\nPid:\t${pid}\nPPid:\t${ppid}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`,
    );
    const exe = opts.exe === undefined ? join(root, 'sbin', 'php-fpm8.2') : opts.exe;
    if (exe !== null) {
      if (opts.exe === undefined) await put(exe, '#!/bin/false\n');
      await symlink(exe, join(procRoot, String(pid), 'exe'));
    }
    await mkdir(join(procRoot, String(pid), 'fd'), { recursive: true });
    for (const [i, inode] of sockets.entries())
      await symlink(`socket:[${inode}]`, join(procRoot, String(pid), 'fd', String(i + 3)));
  }

  it('groups workers by master, keeps same-named pools apart, joins sockets by inode', async () => {
    const confA = join(root, 'a.conf');
    const confB = join(root, 'b.conf');
    await put(confA, '[www]\nlisten = /run/a.sock\n');
    await put(confB, '[www]\nlisten = 127.0.0.1:9001\n');
    await proc(10, `php-fpm: master process (${confA})`, 1, [100, 101]);
    await proc(11, 'php-fpm: pool www', 10, [100]);
    await proc(12, 'php-fpm: pool www', 10, [100]);
    await proc(20, `php-fpm: master process (${confB})`, 1, [200]);
    await proc(21, 'php-fpm: pool www', 20, [200]);
    await proc(30, 'php-fpm: pool lost', 99, []);
    await put(join(procRoot, '40', 'cmdline'), 'nginx: worker process\0');
    await put(
      join(procRoot, 'net', 'unix'),
      HEADER +
        row('00010000', '01', 100, '/run/a.sock') +
        row('00000000', '02', 0, '/run/a.sock') +
        row('00010000', '01', 101, '/run/a-status.sock'),
    );
    await put(
      join(procRoot, 'net', 'tcp'),
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:2329 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 200 1 0000000000000000 100 0 0 10 0\n',
    );
    const found = await discoverFpm({ procRoot, parseConfig: (text) => text.length });
    expect(found.masters.map((m) => [m.pid, m.configPath, m.config])).toEqual([
      [10, confA, 27],
      [20, confB, 30],
    ]);
    expect(found.pools).toEqual([
      {
        name: 'www',
        masterPid: 10,
        workerPids: [11, 12],
        sockets: [
          {
            kind: 'unix',
            path: '/run/a.sock',
            abstract: false,
            inode: 100,
            queued: 1,
            accepted: 0,
          },
        ],
      },
      {
        name: 'www',
        masterPid: 20,
        workerPids: [21],
        sockets: [
          { kind: 'tcp', family: 4, address: '127.0.0.1', port: 9001, inode: 200, queued: 2 },
        ],
      },
    ]);
    expect(found.masters[0]!.unassignedSockets).toEqual([
      expect.objectContaining({ path: '/run/a-status.sock' }),
    ]);
    expect(found.orphanWorkers).toEqual([{ pid: 30, pool: 'lost', ppid: 99 }]);
    expect(fpmDiscoverySchema.parse(found)).toEqual(found);
  });

  it('trusts a master only for a php-fpm binary of a trusted owner run by a trusted user', async () => {
    const conf = join(root, 'a.conf');
    await put(conf, '[www]\nlisten = /run/a.sock\n');
    const other = me === 0 ? 65534 : me + 1;
    const writable = join(root, 'bin-writable', 'php-fpm');
    await put(writable, '');
    await chmod(writable, 0o777);
    const cat = join(root, 'bin', 'cat');
    await put(cat, '');
    await proc(10, `php-fpm: master process (${conf})`, 1, []);
    await proc(11, `php-fpm: master process (${conf})`, 1, [], { uid: other });
    await proc(12, `php-fpm: master process (${conf})`, 1, [], { exe: cat });
    await proc(13, `php-fpm: master process (${conf})`, 1, [], { exe: writable });
    await proc(14, `php-fpm: master process (${conf})`, 1, [], { exe: null });
    await proc(15, 'php-fpm: pool www', 11, []);
    const found = await discoverFpm({ procRoot, parseConfig: false });
    expect(found.masters.map((m) => [m.pid, m.trust, m.configText])).toEqual([
      [10, 'executable', '[www]\nlisten = /run/a.sock\n'],
    ]);
    expect(found.untrustedMasters.map((m) => [m.pid, m.reason])).toEqual([
      [11, `it runs as uid ${other}, neither root nor the user running fpmkit (uid ${me})`],
      [12, 'its executable is not a php-fpm binary'],
      [13, 'its executable is writable by other users'],
      [14, 'its executable cannot be read (ENOENT)'],
    ]);
    // The forged master's worker is nobody's worker: an orphan, and no pool.
    expect(found.orphanWorkers).toEqual([{ pid: 15, pool: 'www', ppid: 11 }]);
    expect(fpmDiscoverySchema.parse(found)).toEqual(found);
  });

  it('reads a trusted master config only as a regular file: a FIFO or a device is refused at once', async () => {
    const fifo = join(root, 'fifo');
    const { spawnSync } = await import('node:child_process');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    await proc(10, `php-fpm: master process (${fifo})`, 1, []);
    await proc(11, 'php-fpm: master process (/dev/zero)', 1, []);
    const found = await discoverFpm({ procRoot });
    expect(found.masters.map((m) => m.configError)).toEqual([
      expect.stringMatching(/is a FIFO, not a regular file/),
      expect.stringMatching(/is a character device, not a regular file/),
    ]);
  });

  it('keeps masters when a socket table cannot be parsed', async () => {
    const conf = join(root, 'a.conf');
    await put(conf, '[www]\nlisten = /run/a.sock\n');
    await proc(10, `php-fpm: master process (${conf})`, 1, [100]);
    await put(join(procRoot, 'net', 'unix'), 'not a socket table\n');
    const found = await discoverFpm({ procRoot, parseConfig: false });
    expect(found.masters.map((m) => m.pid)).toEqual([10]);
    expect(found.masters[0]!.socketError).toMatch(/proc\/net\/unix:1/);
  });

  it('records an unreadable config instead of failing', async () => {
    await proc(10, `php-fpm: master process (${join(root, 'missing.conf')})`, 1, []);
    const [m] = (await discoverFpm({ procRoot })).masters;
    expect(m!.configText).toBeUndefined();
    expect(m!.configError).toMatch(/ENOENT/);
  });
});
