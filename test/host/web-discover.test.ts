import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverWebServers } from '../../src/host/index.js';
import { findBinary, isRoot } from '../support/integration.js';

/**
 * discoverWebServers over a /proc tree written by the test: masters and workers told apart by
 * title (nginx) or parent (Apache), the configuration path from the command line, the workers'
 * account named from passwd and group. `exe` links point at the real binaries, which trust
 * needs (owned by root).
 */
const nginxExe = findBinary('nginx');
const apacheExe = findBinary('apache2');
const ready = nginxExe !== undefined && apacheExe !== undefined && isRoot();

const status = (name: string, pid: number, ppid: number, uid: number, gid: number, groups = '') =>
  `Name:\t${name}\nPid:\t${pid}\nPPid:\t${ppid}\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${gid}\t${gid}\t${gid}\t${gid}\nGroups:\t${groups}\n`;

describe.skipIf(!ready)('discoverWebServers on a written /proc tree', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-webdisc-'));
    const proc = join(dir, 'proc');
    const etc = join(dir, 'etc');
    await mkdir(etc);
    await writeFile(
      join(etc, 'passwd'),
      'root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n',
    );
    await writeFile(join(etc, 'group'), 'root:x:0:\nwww-data:x:33:\nweb:x:900:www-data\n');
    const nginxConf = join(dir, 'nginx.conf');
    await writeFile(
      nginxConf,
      'user www-data;\nevents {}\nhttp { server { location ~ \\.php$ { fastcgi_pass unix:/run/php/www.sock; } } }\n',
    );
    const httpd = join(dir, 'httpd.conf');
    await writeFile(
      httpd,
      'User ${RUN_USER}\n<FilesMatch "\\.php$">\n  SetHandler "proxy:unix:/run/php/www.sock|fcgi://localhost"\n</FilesMatch>\n',
    );
    const proc1 = async (
      pid: number,
      cmdline: string,
      st: string,
      exe?: string,
      environ?: string,
    ) => {
      const p = join(proc, String(pid));
      await mkdir(p, { recursive: true });
      await writeFile(join(p, 'cmdline'), cmdline);
      await writeFile(join(p, 'status'), st);
      if (exe) await symlink(exe, join(p, 'exe'));
      if (environ) await writeFile(join(p, 'environ'), environ);
    };
    await proc1(
      100,
      `nginx: master process ${nginxExe} -c ${nginxConf}\0`,
      status('nginx', 100, 1, 0, 0),
      nginxExe,
    );
    await proc1(101, 'nginx: worker process\0', status('nginx', 101, 100, 33, 33, '33 900'));
    await proc1(
      200,
      `${apacheExe}\0-d\0${dir}\0-f\0${httpd}\0-DFOREGROUND\0`,
      status('apache2', 200, 1, 0, 0),
      apacheExe,
      'RUN_USER=www-data\0PATH=/bin\0',
    );
    await proc1(201, `${apacheExe}\0-d\0${dir}\0`, status('apache2', 201, 200, 33, 33));
    // -c relative to -p.
    await proc1(
      250,
      `nginx: master process ${nginxExe} -p ${dir} -c nginx.conf\0`,
      status('nginx', 250, 1, 0, 0),
      nginxExe,
    );
    // A process titled as an nginx master, run by another user: listed, not read.
    await proc1(
      300,
      `nginx: master process ${nginxExe}\0`,
      status('nginx', 300, 1, 1000, 1000),
      nginxExe,
    );
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finds both masters with their configuration and their workers account', async () => {
    const servers = await discoverWebServers({
      procRoot: join(dir, 'proc'),
      etcRoot: join(dir, 'etc'),
      runDump: false,
    });
    expect(servers.map((s) => [s.kind, s.pid, s.workerPids])).toEqual([
      ['nginx', 100, [101]],
      ['apache', 200, [201]],
      ['nginx', 250, []],
      ['nginx', 300, []],
    ]);
    const [nginx, apache, relative, stranger] = servers;
    expect(relative!.configPath).toBe(join(dir, 'nginx.conf'));
    expect(relative!.nginx?.passes).toHaveLength(1);
    expect(nginx!.configPath).toBe(join(dir, 'nginx.conf'));
    expect(nginx!.configSource).toBe('files');
    expect(nginx!.workerUser).toEqual({
      name: 'www-data',
      groups: ['www-data', 'web'],
      uid: 33,
      gid: 33,
    });
    expect(nginx!.nginx?.passes[0]?.backends).toEqual([{ socketPath: '/run/php/www.sock' }]);
    expect(nginx!.nginx?.user?.source).toEqual({ file: join(dir, 'nginx.conf'), line: 1 });
    expect(apache!.configPath).toBe(join(dir, 'httpd.conf'));
    expect(apache!.apache?.user?.value).toBe('www-data');
    expect(apache!.apache?.handlers[0]?.model?.backend).toEqual({
      socketPath: '/run/php/www.sock',
    });
    expect(stranger!.configError).toMatch(/^not read: it runs as uid 1000/);
    expect(stranger!.nginx).toBeUndefined();
  });
});
