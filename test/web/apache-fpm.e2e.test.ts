import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderApacheProxyFcgi } from '../../src/web/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { type Daemon, freePort, startDaemon, waitForSockets } from '../support/process.js';
import { apacheBinary, apacheConf, apacheModulesDir } from './servers.js';

const fpmReq = phpFpmBinary();
const apacheReq = apacheBinary();
const modules = apacheModulesDir();
const available = fpmReq.available && apacheReq.available && modules !== undefined;
const modulesReason = modules === undefined ? ' [skipped: no Apache modules directory]' : '';

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    headers: { connection: 'close' },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.text() };
}

describe.skipIf(!available)(
  `rendered Apache handler in front of a real FPM pool${fpmReq.reason}${apacheReq.reason}${modulesReason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let apache: Daemon | undefined;
    let dir: string | undefined;
    let port = 0;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [{ name: 'www', listen: 'unix' }],
        scripts: { 'index.php': '<?php echo "hello from ", PHP_SAPI;' },
      });
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-apache-'));
      port = await freePort();
      const rendered = renderApacheProxyFcgi({
        backend: { socketPath: fpm.pool('www').socketPath! },
        workerName: 'www',
        proxySetTimeoutSeconds: 30,
        connectionTimeoutSeconds: 5,
        proxyTimeoutSeconds: 30,
        mpmEvent: { serverLimit: 2, threadsPerChild: 5, maxRequestWorkers: 10, startServers: 1 },
      });
      const confPath = join(dir, 'httpd.conf');
      await writeFile(confPath, apacheConf(dir, rendered.all, { port, documentRoot: fpm.wwwDir }));
      apache = startDaemon(apacheReq.path!, ['-d', dir, '-f', confPath, '-DFOREGROUND'], {
        cwd: dir,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
      });
      try {
        await waitForSockets(
          [{ host: '127.0.0.1', port }],
          15_000,
          () => apache!.child.exitCode === null,
        );
      } catch (error) {
        const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
        throw new Error(
          `apache2 did not start: ${(error as Error).message}\n${apache.output()}\n${log}`,
        );
      }
    }, 60_000);

    afterAll(async () => {
      await apache?.stop('SIGTERM', 10_000);
      await fpm?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 30_000);

    it('serves a PHP page through mod_proxy_fcgi with 200', async () => {
      const r = await get(`http://127.0.0.1:${port}/index.php`);
      expect(r).toEqual({ status: 200, body: 'hello from fpm-fcgi' });
    });

    it('answers 404 from Apache for a script that does not exist', async () => {
      const r = await get(`http://127.0.0.1:${port}/missing.php`);
      expect(r.status).toBe(404);
      // Apache's page, not FPM's "File not found.": the <If -f> guard kept it away from FPM.
      expect(r.body).toContain('Not Found');
      expect(r.body).not.toContain('File not found.');
    });
  },
);
