import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchStatus } from '../../src/status/index.js';
import { debian13Root } from './debian13.js';
import { nginxBinary, phpFpmBinary } from './integration.js';
import { type StartedNginx, startNginx } from './nginx.js';
import { phpFpmTest, type StartedFpm, startPhpFpm } from './php-fpm.js';

const fpm = phpFpmBinary();
const nginx = nginxBinary();

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(!fpm.available || !nginx.available)(
  `test support: real php-fpm and nginx${fpm.reason}${nginx.reason}`,
  () => {
    let started: StartedFpm | undefined;
    let web: StartedNginx | undefined;
    afterAll(async () => {
      await web?.stop();
      await started?.stop();
    });

    it('php-fpm -t reports exit 0 and 78', async () => {
      const ok = await phpFpmTest(
        '[www]\nlisten = /tmp/x.sock\npm = static\npm.max_children = 1\n',
        { allowRoot: true },
      );
      expect(ok.exitCode).toBe(0);
      const bad = await phpFpmTest(
        '[www]\nlisten = /tmp/x.sock\npm = static\npm.max_children = 0\n',
        { allowRoot: true },
      );
      expect(bad.exitCode).toBe(78);
      expect(bad.messages).toContain('ALERT: [pool www] pm.max_children must be a positive value');
    });

    it('starts php-fpm on UNIX and TCP sockets and serves a page through nginx', async () => {
      started = await startPhpFpm({
        pools: [{ name: 'a' }, { name: 'b', listen: 'tcp' }],
        scripts: { 'hello.php': '<?php echo "hello ", PHP_VERSION;' },
      });
      expect(started.pools.map((p) => p.name)).toEqual(['a', 'b']);
      web = await startNginx({
        http: `server { listen 127.0.0.1:@PORT@; root ${started.wwwDir};
  location ~ \\.php$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name; fastcgi_pass unix:${started.pool('a').socketPath}; } }`,
      });
      const res = await get(web.port, '/hello.php');
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^hello 8\.2\./);
    });
  },
);

const root84 = debian13Root();

describe.skipIf(!root84.available)(
  `test support: php-fpm 8.4 in the Debian 13 root${root84.reason}`,
  () => {
    it('php-fpm8.4 -t runs through chroot and refuses what 8.4 refuses', async () => {
      const ok = await phpFpmTest(
        '[www]\nlisten = /tmp/x.sock\npm = static\npm.max_children = 1\n',
        { allowRoot: true, version: '8.4' },
      );
      expect(ok.exitCode).toBe(0);
      // 8.4 checks the length of a UNIX socket path in -t; 8.2 does not.
      const long = `/tmp/${'x'.repeat(120)}.sock`;
      const bad = await phpFpmTest(`[www]\nlisten = ${long}\npm = static\npm.max_children = 1\n`, {
        allowRoot: true,
        version: '8.4',
      });
      expect(bad.exitCode).toBe(78);
      expect(bad.messages.join('\n')).toContain('path is too long');
    });

    it('starts a pool whose socket the host reaches, with 8.4 status fields', async () => {
      const fpm84 = await startPhpFpm({
        version: '8.4',
        pools: [{ name: 'www', directives: 'pm.status_path = /status' }],
      });
      try {
        const status = await fetchStatus(fpm84.pool('www').target, { format: 'json' });
        expect(status.pool).toBe('www');
        expect(status.memoryPeakBytes).toBeTypeOf('number');
      } finally {
        await fpm84.stop();
      }
    });
  },
);
