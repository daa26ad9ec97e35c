import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NginxFastcgiInput, renderNginxFastcgi } from '../../src/web/index.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();
const available = fpmReq.available && nginxReq.available;

/** GET with a fresh connection each time, so nothing keeps nginx busy at shutdown. */
async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    headers: { connection: 'close' },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

/** Starts nginx with the rendered upstream in `http` and the locations in one server. */
function startRendered(fpm: StartedFpm, settings: NginxFastcgiInput): Promise<StartedNginx> {
  const parts = renderNginxFastcgi(settings);
  return startNginx({
    main: parts.main,
    http: `${parts.http}\nserver {\n    listen 127.0.0.1:@PORT@;\n    root "${fpm.wwwDir}";\n${parts.server}}\n`,
  });
}

describe.skipIf(!available)(
  `rendered nginx in front of a real FPM pool${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let open: StartedNginx | undefined;
    let closed: StartedNginx | undefined;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            listen: 'unix',
            directives: 'pm.status_path = /fpm-status\nping.path = /fpm-ping\nping.response = pong',
          },
        ],
        scripts: {
          'index.php': '<?php echo "hello from ", PHP_SAPI;',
          'info.php': '<?php echo "path_info=", $_SERVER["PATH_INFO"] ?? "(none)";',
        },
      });
      const base = (allow: string[]): NginxFastcgiInput => ({
        upstream: { servers: [{ socketPath: fpm!.pool('www').socketPath! }], keepalive: 2 },
        keepConn: true,
        splitPathInfo: '^(.+?\\.php)(/.*)$',
        readTimeoutSeconds: 30,
        connectTimeoutSeconds: 5,
        clientMaxBodySizeBytes: 8 * 1024 * 1024,
        status: { path: '/fpm-status', allow },
        ping: { path: '/fpm-ping', allow },
      });
      open = await startRendered(fpm, base(['127.0.0.1']));
      closed = await startRendered(fpm, base(['192.0.2.10']));
    }, 60_000);

    afterAll(async () => {
      await closed?.stop();
      await open?.stop();
      await fpm?.stop();
    }, 30_000);

    it('serves a PHP page through nginx with 200', async () => {
      const r = await get(`http://127.0.0.1:${open!.port}/index.php`);
      expect(r).toEqual({ status: 200, body: 'hello from fpm-fcgi' });
    });

    it('passes PATH_INFO despite try_files', async () => {
      const r = await get(`http://127.0.0.1:${open!.port}/info.php/a/b`);
      expect(r).toEqual({ status: 200, body: 'path_info=/a/b' });
    });

    it('answers 404 from nginx for a script that does not exist', async () => {
      const r = await get(`http://127.0.0.1:${open!.port}/missing.php`);
      expect(r.status).toBe(404);
      // nginx's own page, not FPM's "File not found.": the guard kept it away from FPM.
      expect(r.body).toContain('nginx');
    });

    it('answers the status and ping locations from an allowed 127.0.0.1', async () => {
      const status = await get(`http://127.0.0.1:${open!.port}/fpm-status`);
      expect(status.status).toBe(200);
      expect(status.body).toMatch(/^pool:\s+www$/m);
      const ping = await get(`http://127.0.0.1:${open!.port}/fpm-ping`);
      expect(ping).toEqual({ status: 200, body: 'pong' });
    });

    it('denies status and ping with 403 when the allow list names another address', async () => {
      expect((await get(`http://127.0.0.1:${closed!.port}/fpm-status`)).status).toBe(403);
      expect((await get(`http://127.0.0.1:${closed!.port}/fpm-ping`)).status).toBe(403);
      // The PHP location of the same server still works.
      expect((await get(`http://127.0.0.1:${closed!.port}/index.php`)).status).toBe(200);
    });
  },
);
