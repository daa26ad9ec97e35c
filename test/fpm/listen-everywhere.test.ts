import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetListen } from '../../src/cli/status.js';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { parseTarget } from '../../src/fastcgi/target.js';
import { effectiveFpmConfig } from '../../src/fpm/dump.js';
import {
  type ListenAddress,
  listenConnectTarget,
  MAX_UNIX_SOCKET_PATH_BYTES,
  parseListen,
} from '../../src/fpm/listen.js';
import { DEBIAN_PHP_PREFIX, parseFpmConfig } from '../../src/fpm/parse.js';
import { listenQueueReader } from '../../src/host/net.js';
import { collectSnapshot, snapshotFromDirectory } from '../../src/host/snapshot.js';
import { fastcgiBackendOf } from '../../src/sizing/planner.js';
import { fetchStatus } from '../../src/status/fetch.js';
import { parseStatus } from '../../src/status/parse.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { run } from '../support/process.js';

/**
 * Every place that reads a `listen` value, checked against `parseListen` on one table: what FPM
 * makes of the value (see listen.test.ts for the rows checked against php-fpm 8.2) is what the
 * dump, the status parser, the snapshot, the CLI's queue lookup, the FastCGI client and the
 * planner make of it.
 */
type Row = [value: string, prefix: string | undefined];

const long = (n: number) => `/${'s'.repeat(n - 1)}`;
const rows: Row[] = [
  ['/run/php/php8.2-fpm.sock', undefined],
  ['/run/php/php8.2-fpm.sock', '/srv'],
  ['run/www.sock', undefined],
  ['run/www.sock', '/srv/fpm'],
  ['run/www.sock', '/srv/fpm/'],
  ['./www.sock', '/srv'],
  ['../www.sock', '/srv/fpm'],
  ['www.sock', 'relative/prefix'],
  ['9137abc', '/tmp/p'],
  ['localhost', undefined],
  ['/tmp/a b.sock', undefined],
  ['/run/ünïcødé.sock', undefined],
  ['unix:/run/php/www.sock', undefined],
  ['unix:www.sock', undefined],
  ['unix:', undefined],
  ['9000', undefined],
  ['65535', undefined],
  ['0', undefined],
  ['65536', undefined],
  ['127.0.0.1:9000', undefined],
  ['0.0.0.0:9000', undefined],
  ['0:9136', undefined],
  ['127.1:9000', undefined],
  ['10.0.0.5:9000', undefined],
  ['[::1]:9000', undefined],
  ['::1:9133', undefined],
  ['[::]:9000', undefined],
  ['[fe80::1]:9000', undefined],
  ['[fd00::1]:9000', undefined],
  ['localhost:9000', undefined],
  ['*:9123', undefined],
  ['127.0.0.1:0', undefined],
  ['127.0.0.1:70000', undefined],
  ['localhost:9132abc', undefined],
  ['host:port', undefined],
  [':9131', undefined],
  ['[::1]', undefined],
  ['127.0.0.1:', undefined],
  ['a b:9138', undefined],
  ['tcp://127.0.0.1:9000', undefined],
  [long(MAX_UNIX_SOCKET_PATH_BYTES), undefined],
  [long(MAX_UNIX_SOCKET_PATH_BYTES + 1), undefined],
  [`${'s'.repeat(100)}.sock`, '/srv'],
  [`${'s'.repeat(90)}.sock`, undefined],
];

/** parseListen's answer, or the error it throws. */
function fpmReads(value: string, prefix: string | undefined): ListenAddress | Error {
  try {
    return parseListen(value, prefix === undefined ? {} : { prefix });
  } catch (error) {
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    return error as Error;
  }
}

function attempt<T>(f: () => T): T | Error {
  try {
    return f();
  } catch (error) {
    return error as Error;
  }
}

const isClientSyntaxOnly = (v: string) => v.startsWith('unix:') || v.startsWith('tcp://');

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-listen-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('every listen reader agrees with parseListen', () => {
  it('has at least 30 forms, with relative paths, unix:, IPv6, wildcards, ports, over-long paths and garbage', () => {
    expect(rows.length).toBeGreaterThanOrEqual(30);
  });

  it.each(rows)('effectiveFpmConfig (php-fpm -tt) %j prefix %j', (value, prefix) => {
    const parsed = parseFpmConfig(`[www]\nlisten = ${value}\n`);
    const read = parsed.config.pools[0]!.listen.address ?? '';
    expect(read).toBe(value);
    const dump = effectiveFpmConfig(parsed.config, prefix === undefined ? {} : { prefix });
    const fpm = fpmReads(value, prefix ?? DEBIAN_PHP_PREFIX);
    const expected = fpm instanceof Error || fpm.kind === 'tcp' ? value : fpm.path;
    expect(dump.pools[0]!.values.listen).toBe(expected);
  });

  it.each(rows)('parseStatus listenQueueMeasured %j', (value) => {
    const page = [
      'pool: www',
      'process manager: static',
      'start time: 21/Nov/2026:08:40:21 +0000',
      'start since: 100',
      'accepted conn: 5',
      'listen queue: 1',
      'max listen queue: 2',
      'listen queue len: 128',
      'idle processes: 1',
      'active processes: 1',
      'total processes: 2',
      'max active processes: 1',
      'max children reached: 0',
      'slow requests: 0',
      '',
    ].join('\n');
    const status = parseStatus(page, { listen: value, format: 'text' });
    // The status parser knows no prefix; a relative path is UNIX whatever it resolves to.
    const fpm = fpmReads(value, undefined);
    if (fpm instanceof Error) {
      // Not an FPM listen value: only the client's `unix:PATH` still names a UNIX socket.
      const target = attempt(() => parseTarget(value));
      const unix = !(target instanceof Error) && target.type === 'unix';
      expect(status.listenQueueMeasured).toBe(!unix);
    } else {
      // FPM measures the queue of TCP sockets only.
      expect(status.listenQueueMeasured).toBe(fpm.kind === 'tcp');
    }
  });

  it.each(rows)('fastcgiBackendOf (planner) %j', (value, prefix) => {
    const fpm = fpmReads(value, prefix);
    const backend = attempt(() => fastcgiBackendOf(value));
    const plain = fpmReads(value, undefined);
    if (plain instanceof Error || (plain.kind === 'unix' && plain.relative)) {
      expect(backend).toBeInstanceOf(FpmkitInvalidOptionError);
      return;
    }
    // nginx cannot resolve `*`, so the planner names the loopback address FPM bound it to.
    const reach = (a: ListenAddress) =>
      a.kind === 'tcp' && a.host === '*'
        ? { host: '127.0.0.1', port: a.port }
        : listenConnectTarget(a);
    expect(backend).toEqual(reach(plain));
    if (!(fpm instanceof Error)) expect(backend).toEqual(reach(fpm));
  });

  it.each(rows)('parseTarget (FastCGI client) %j', (value) => {
    const fpm = fpmReads(value, undefined);
    const target = attempt(() => parseTarget(value));
    if (isClientSyntaxOnly(value)) return; // client syntax: see test/fastcgi/target.test.ts
    if (fpm instanceof Error) {
      expect(target).toBeInstanceOf(FpmkitInvalidOptionError);
      return;
    }
    // A client names a relative socket `./path` and an IPv6 address in brackets; FPM does not.
    const clientForm =
      fpm.kind === 'unix'
        ? !fpm.relative || /^\.\.?\//.test(value)
        : fpm.family !== 'ipv6' || value.startsWith('[');
    if (!clientForm) {
      expect(target).toBeInstanceOf(FpmkitInvalidOptionError);
      return;
    }
    if (target instanceof Error) throw target;
    const reach = listenConnectTarget(fpm);
    expect(target).toMatchObject(
      'socketPath' in reach ? { type: 'unix', ...reach } : { type: 'tcp', ...reach },
    );
  });

  it.each(rows)('the kernel queue of a TARGET (fpmkit status) %j', async (value) => {
    const fpm = fpmReads(value, undefined);
    const proc = join(dir, 'kq');
    await mkdir(join(proc, 'net'), { recursive: true });
    const path = fpm instanceof Error || fpm.kind === 'tcp' ? undefined : fpm.path;
    const lines = ['Num       RefCount Protocol Flags    Type St Inode Path'];
    if (path !== undefined) {
      const full = path.startsWith('/') ? path : join(process.cwd(), path);
      lines.push(`0000000000000001: 00000002 00000000 00010000 0001 01 4242 ${full}`);
      lines.push(`0000000000000002: 00000003 00000000 00000000 0001 02     0 ${full}`);
      lines.push(`0000000000000003: 00000003 00000000 00000000 0001 02     0 ${full}`);
    }
    await writeFile(join(proc, 'net', 'unix'), `${lines.join('\n')}\n`);
    // As `fpmkit status` reads it: the TARGET's listen address, then its listener's queue.
    const listen = targetListen(value);
    const read =
      listen === undefined
        ? undefined
        : listenQueueReader(listen, { procRoot: proc, listListeners: async () => undefined });
    const queued = await read?.().then(
      (r) => r.queued,
      () => undefined,
    );
    const target = attempt(() => parseTarget(value));
    if (isClientSyntaxOnly(value)) {
      expect(queued).toBeUndefined();
      return;
    }
    const reachable = path !== undefined && !(target instanceof Error);
    expect(queued).toBe(reachable ? 2 : undefined);
  });

  describe('snapshotFromDirectory (fpmkit doctor --from)', () => {
    let evidence = '';
    beforeAll(async () => {
      evidence = join(dir, 'evidence');
      await mkdir(join(evidence, 'files', 'srv'), { recursive: true });
      await mkdir(join(evidence, 'proc', 'net'), { recursive: true });
      await writeFile(
        join(evidence, 'proc', 'net', 'unix'),
        'Num       RefCount Protocol Flags    Type St Inode Path\n',
      );
      await writeFile(
        join(evidence, 'proc', 'net', 'tcp'),
        '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
      );
      await writeFile(
        join(evidence, 'proc', 'net', 'tcp6'),
        '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
      );
    });

    it.each(rows)('%j prefix %j', async (value, prefix) => {
      await writeFile(
        join(evidence, 'files', 'srv', 'fpm.conf'),
        `[global]\n[www]\nlisten = ${value}\npm = static\npm.max_children = 2\n`,
      );
      const s = await snapshotFromDirectory(evidence, {
        configPath: '/srv/fpm.conf',
        nginxErrorLog: '/nowhere.log',
        ...(prefix === undefined ? {} : { prefix }),
      });
      expect(s.tcpQueues.ok).toBe(true);
      const queue = s.masters[0]!.pools[0]!.queue;
      // Without a prefix the snapshot resolves against the configuration's directory.
      const fpm = fpmReads(value, prefix ?? '/srv');
      expect(queue.ok).toBe(false);
      const reason = queue.ok ? '' : queue.reason;
      expect(reason).not.toMatch(/NaN/);
      if (fpm instanceof Error) expect(reason).toBe(fpm.message);
      else if (fpm.kind === 'unix') expect(reason).toBe(`nothing listens on ${fpm.path}`);
      else expect(reason).toBe(`nothing listens on port ${fpm.port}`);
    });
  });
});

describe('a UNIX socket path longer than sun_path', () => {
  let server: Server | undefined;
  let accepted = 0;
  let socketPath = '';

  beforeAll(async () => {
    // A socket whose path is exactly sun_path's 108 bytes: what the kernel reaches when a
    // longer path is cut.
    const base = join(dir, 'cut');
    await mkdir(base, { recursive: true });
    socketPath = `${base}/${'c'.repeat(108 - Buffer.byteLength(base) - 1)}`;
    expect(Buffer.byteLength(socketPath)).toBe(108);
    server = createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(socketPath, resolve);
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('is refused by the FastCGI client before it connects to whatever sits at the cut', async () => {
    for (const target of [
      `${socketPath}/../elsewhere.sock`,
      `unix:${socketPath}-other.sock`,
      { socketPath: `${socketPath}.sock` },
    ]) {
      const error = await fetchStatus(target, { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((error as Error).message).toMatch(/sun_path holds at most 107 bytes/);
    }
    expect(accepted).toBe(0);
  });
});

const fpmReq = phpFpmBinary();
describe.skipIf(!fpmReq.available)(
  `php-fpm 8.2 listening on a path relative to its prefix${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'rel',
            listen: 'unix-relative',
            directives: 'pm = static\npm.max_children = 2\npm.status_path = /status\n',
          },
        ],
      });
    }, 30_000);
    afterAll(async () => {
      await fpm?.stop();
    });

    it('binds the socket under its -p prefix', () => {
      const pool = fpm!.pool('rel');
      expect(pool.listen).toBe('rel.sock');
      expect(existsSync(pool.socketPath!)).toBe(true);
      expect(parseListen(pool.listen, { prefix: fpm!.dir })).toEqual({
        kind: 'unix',
        path: pool.socketPath,
        relative: false,
      });
    });

    it.each([
      ['the prefix given', true],
      ["the configuration's directory as prefix", false],
    ])('collectSnapshot reads its queue and status with %s', async (_, withPrefix) => {
      const s = await collectSnapshot({
        configPath: fpm!.confPath,
        ...(withPrefix ? { prefix: fpm!.dir } : {}),
      });
      const master = s.masters.find((m) => m.pid === fpm!.pid);
      expect(master).toBeDefined();
      const pool = master!.pools.find((p) => p.name === 'rel')!;
      console.log(
        `collectSnapshot (${withPrefix ? 'prefix given' : 'no prefix'}): queue ${JSON.stringify(pool.queue)}; status ${pool.status.ok ? `ok, pool ${pool.status.value.pool}, ${pool.status.value.totalProcesses} processes` : pool.status.reason}`,
      );
      expect(pool.queue.ok).toBe(true);
      expect(JSON.stringify(pool.queue)).not.toMatch(/NaN/);
      const path = fpm!.pool('rel').socketPath!;
      expect(s.unixQueues.ok && s.unixQueues.value.some((q) => q.path === path)).toBe(true);
      expect(pool.status.ok && pool.status.value.pool).toBe('rel');
    });

    const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
    it('fpmkit doctor --json reports no missing queue and no port NaN', async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      const r = await run(
        process.execPath,
        [bin, 'doctor', '--config', fpm!.confPath, '--prefix', fpm!.dir, '--json'],
        { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 60_000 },
      );
      const report = JSON.parse(r.stdout) as {
        missing: { part: string; reason: string }[];
        summary: { pools: number; text: string };
      };
      console.log(
        `fpmkit doctor --json: exit ${r.exitCode}; pools ${report.summary.pools}; missing ${JSON.stringify(report.missing)}; ${report.summary.text}`,
      );
      expect(r.stdout).not.toMatch(/NaN/);
      expect(report.summary.pools).toBe(1);
      expect(report.missing.filter((m) => /queue|listen/i.test(`${m.part} ${m.reason}`))).toEqual(
        [],
      );
    });
  },
);
