import { describe, expect, it } from 'vitest';
import { diagnose, type HostSnapshot, type SnapshotWebServer } from '../../src/doctor/index.js';
import { parseFpmConfig } from '../../src/fpm/index.js';
import { extractNginxFpmSettings, parseNginxConfig } from '../../src/web/index.js';

/** checkStack over a snapshot whose web servers were read elsewhere: pure, no processes. */
const FPM = `[global]
error_log = /var/log/fpm.log
[www]
user = www-data
listen = /run/php/www.sock
listen.mode = 0600
pm = static
pm.max_children = 4
request_terminate_timeout = 60s
[api]
user = www-data
listen = /run/php/api.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 4
request_terminate_timeout = 20s
`;

const NGINX = `user nobody nogroup;
events {}
http {
  server {
    location ~ \\.php$ {
      fastcgi_pass unix:/run/php/www.sock;
      fastcgi_read_timeout 10s;
    }
    location /again.php {
      fastcgi_pass unix:/run/php/www.sock;
      fastcgi_read_timeout 10s;
    }
    location /api {
      fastcgi_pass unix:/run/php/api.sock;
    }
    location /other {
      fastcgi_pass unix:/run/php/elsewhere.sock;
    }
  }
}
`;

function snapshot(webServers: SnapshotWebServer[]): HostSnapshot {
  const parsed = parseFpmConfig(FPM, { path: '/etc/php/8.2/fpm/php-fpm.conf' });
  const no = { ok: false as const, reason: 'not read' };
  return {
    takenAt: new Date(0),
    origin: 'directory',
    masters: [
      {
        configPath: '/etc/php/8.2/fpm/php-fpm.conf',
        config: { ok: true, value: parsed.config },
        configFindings: [],
        configLocations: parsed.locations,
        user: { name: 'root', group: 'root' },
        errorLog: no,
        pools: [],
      },
    ],
    unixQueues: no,
    tcpQueues: no,
    netstat: no,
    kernel: { ok: true, value: { somaxconn: 4096 } },
    meminfo: no,
    cgroup: no,
    nginxErrorLog: no,
    webServers: { ok: true, value: webServers },
  };
}

const nginx = (): SnapshotWebServer => ({
  kind: 'nginx',
  pid: 10,
  configPath: '/etc/nginx/nginx.conf',
  configSource: 'files',
  nginx: extractNginxFpmSettings(parseNginxConfig({ text: NGINX, path: '/etc/nginx/nginx.conf' })),
  workerPids: [11, 12],
  workerUser: { name: 'nobody', groups: ['nogroup'], uid: 65534, gid: 65534 },
});

describe('diagnose with the web servers in the snapshot', () => {
  it('reports each cross-layer finding once, with both files and lines', () => {
    const report = diagnose(snapshot([nginx()]));
    const web = report.findings.filter((f) => f.evidence?.webConfig !== undefined);
    const summary = web.map((f) => [f.code, f.pool, f.evidence?.fpmConfig, f.evidence?.webConfig]);
    expect(summary).toEqual(
      expect.arrayContaining([
        [
          'stack.web-timeout-below-request',
          'www',
          '/etc/php/8.2/fpm/php-fpm.conf:9',
          '/etc/nginx/nginx.conf:7',
        ],
        [
          'stack.socket-not-writable',
          'www',
          '/etc/php/8.2/fpm/php-fpm.conf:6',
          '/etc/nginx/nginx.conf:1',
        ],
        [
          'stack.socket-not-writable',
          'api',
          '/etc/php/8.2/fpm/php-fpm.conf:13',
          '/etc/nginx/nginx.conf:1',
        ],
      ]),
    );
    // Two passes with the same values give the timeout finding once.
    expect(web.filter((f) => f.code === 'stack.web-timeout-below-request')).toHaveLength(1);
    // nginx's default 60 s is 40 s above api's 20 s: nothing to say about api's timeout.
    expect(web.some((f) => f.pool === 'api' && f.code === 'stack.web-timeout-below-request')).toBe(
      false,
    );
    for (const f of web) {
      expect(f.file).toBe('/etc/php/8.2/fpm/php-fpm.conf');
      expect(f.evidence?.webServerPid).toBe(10);
    }
  });

  it('says nothing about a web server that feeds none of the pools', () => {
    const server = nginx();
    server.nginx!.passes = server.nginx!.passes.filter((p) => p.target.includes('elsewhere'));
    const report = diagnose(snapshot([server]));
    expect(report.findings.filter((f) => f.evidence?.webConfig !== undefined)).toEqual([]);
  });

  it('lists a web server whose configuration could not be read as missing', () => {
    const report = diagnose(
      snapshot([
        {
          kind: 'apache',
          pid: 20,
          configPath: '/etc/apache2/apache2.conf',
          configError: 'cannot read file (EACCES)',
          workerPids: [],
        },
      ]),
    );
    expect(report.missing).toContainEqual({
      part: 'apache 20: configuration /etc/apache2/apache2.conf',
      reason: 'cannot read file (EACCES)',
    });
  });
});
