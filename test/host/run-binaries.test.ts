import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkExecutableRun, collectSnapshot, discoverWebServers } from '../../src/host/index.js';
import { isRoot, nginxBinary } from '../support/integration.js';
import { type Daemon, freePort, startDaemon, waitForSockets } from '../support/process.js';

/**
 * fpmkit runs a master's binary (`php-fpm -v`, `nginx -V`, `nginx -T`) only when the path it
 * read from /proc is, in fpmkit's own mount namespace, the file the process runs.
 */
let dir: string;
const root = isRoot();
const rootReason = root ? '' : ' [skipped: trust needs binaries owned by root]';
const nginx = nginxBinary();

const status = (name: string, pid: number) =>
  `Name:\t${name}\nPid:\t${pid}\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n`;

/** A binary that leaves a file behind when run: proof that fpmkit ran it. */
async function canaryBinary(name: string): Promise<{ path: string; ran: string }> {
  const bin = join(dir, `bin-${name}`);
  await mkdir(bin, { recursive: true });
  const path = join(bin, name);
  const ran = join(dir, `${name}.ran`);
  await writeFile(path, `#!/bin/sh\necho ran > ${ran}\necho 'PHP 8.2.1 (fpm-fcgi)'\n`);
  await chmod(path, 0o755);
  return { path, ran };
}

async function procEntry(procRoot: string, pid: number, title: string, exe: string) {
  const d = join(procRoot, String(pid));
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'cmdline'), `${title}\0`);
  await writeFile(join(d, 'status'), status('x', pid));
  await symlink(exe, join(d, 'exe'));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-run-bin-'));
  await chmod(dir, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('checkExecutableRun', () => {
  it('refuses a proc root other than this host /proc', async () => {
    const r = await checkExecutableRun(join(dir, 'proc'), 1, '/usr/sbin/nginx');
    expect(r).toMatchObject({ ok: false });
    expect(r.ok ? '' : r.reason).toContain("not this host's /proc");
  });

  it('accepts the binary this process runs', async () => {
    const { readlink } = await import('node:fs/promises');
    const exe = await readlink(`/proc/${process.pid}/exe`);
    expect(await checkExecutableRun('/proc', process.pid, exe)).toEqual({ ok: true, path: exe });
    const r = await checkExecutableRun('/proc', process.pid, '/bin/sh');
    expect(r.ok).toBe(false);
  });
});

describe.skipIf(!root)(`binaries named by a written /proc tree are not run${rootReason}`, () => {
  it('does not run the FPM master binary, and says why', async () => {
    const fake = await canaryBinary('php-fpm');
    const procRoot = join(dir, 'proc-fpm');
    const conf = join(dir, 'fpm.conf');
    await writeFile(
      conf,
      `[global]\n[app]\nlisten = ${dir}/app.sock\npm = static\npm.max_children = 1\n`,
    );
    await procEntry(procRoot, 4242, `php-fpm: master process (${conf})`, fake.path);
    const s = await collectSnapshot({
      procRoot,
      sysRoot: join(dir, 'nosys'),
      webServers: false,
      readListeners: false,
    });
    expect(s.masters[0]?.pid).toBe(4242);
    expect(existsSync(fake.ran)).toBe(false);
    expect(s.masters[0]?.binaryNotRun).toContain("not this host's /proc");
  });

  it('does not run nginx -V or -T, and reads the files', async () => {
    const fake = await canaryBinary('nginx');
    const procRoot = join(dir, 'proc-nginx');
    const conf = join(dir, 'nginx.conf');
    await writeFile(
      conf,
      'events {}\nhttp { server { location ~ \\.php$ { fastcgi_pass unix:/run/php/x.sock; } } }\n',
    );
    await procEntry(procRoot, 4343, `nginx: master process ${fake.path} -c ${conf}`, fake.path);
    const [server] = await discoverWebServers({ procRoot });
    expect(existsSync(fake.ran)).toBe(false);
    expect(server?.binaryNotRun).toContain("not this host's /proc");
    expect(server?.configSource).toBe('files');
    expect(server?.nginx?.passes).toHaveLength(1);
  });
});

describe.skipIf(!root || !nginx.available)(`a running nginx${rootReason}${nginx.reason}`, () => {
  const started: Daemon[] = [];
  afterAll(async () => {
    for (const d of started) await d.stop('SIGQUIT', 5000);
  });

  /** Starts nginx whose events block comes only from -g, as its command line names it. */
  async function start(binary: string, name: string) {
    const d = join(dir, name);
    await mkdir(join(d, 'tmp'), { recursive: true });
    const port = await freePort();
    await writeFile(join(d, 'events.conf'), 'events { worker_connections 64; }\n');
    await writeFile(
      join(d, 'nginx.conf'),
      `daemon off;\nworker_processes 1;\npid ${d}/nginx.pid;\nerror_log ${d}/error.log;\nhttp {\n  access_log off;\n  client_body_temp_path ${d}/tmp/body;\n  fastcgi_temp_path ${d}/tmp/fastcgi;\n  proxy_temp_path ${d}/tmp/proxy;\n  uwsgi_temp_path ${d}/tmp/uwsgi;\n  scgi_temp_path ${d}/tmp/scgi;\n  server { listen 127.0.0.1:${port}; location ~ \\.php$ { fastcgi_pass unix:/run/php/${name}.sock; } }\n}\n`,
    );
    const daemon = startDaemon(
      binary,
      [
        '-p',
        d,
        '-c',
        join(d, 'nginx.conf'),
        '-e',
        join(d, 'error.log'),
        '-g',
        `include ${d}/events.conf;`,
      ],
      { cwd: d },
    );
    started.push(daemon);
    await waitForSockets(
      [{ host: '127.0.0.1', port }],
      20_000,
      () => daemon.child.exitCode === null,
    );
    return daemon;
  }

  it('runs nginx -T with the -g directives of its command line', async () => {
    const daemon = await start(nginx.path!, 'g-test');
    const server = (await discoverWebServers({})).find((s) => s.pid === daemon.pid);
    expect(server?.configError).toBeUndefined();
    expect(server?.configSource).toBe('nginx -T');
    expect(server?.nginx?.passes[0]?.backends).toEqual([{ socketPath: '/run/php/g-test.sock' }]);
  }, 60_000);

  it('does not run a binary deleted since it started', async () => {
    const copy = join(dir, 'nginx-copy', 'nginx');
    await mkdir(join(dir, 'nginx-copy'));
    await copyFile(nginx.path!, copy);
    await chmod(copy, 0o755);
    const daemon = await start(copy, 'deleted');
    await unlink(copy);
    const server = (await discoverWebServers({})).find((s) => s.pid === daemon.pid);
    expect(server?.binaryNotRun).toContain('deleted or replaced');
    expect(server?.configSource).toBe('files');
  }, 60_000);
});
