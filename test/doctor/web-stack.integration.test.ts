import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/findings.js';
import { isRoot, nginxBinary, phpFpmBinary } from '../support/integration.js';
import { httpStatus, type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { run } from '../support/process.js';
import { apacheBinary, type StartedServer, startApache } from '../web/servers.js';

/**
 * The doctor on a real nginx in front of a real php-fpm 8.2, given nothing but nginx's error
 * log: it finds both masters in /proc, reads nginx's configuration with `nginx -T` and FPM's
 * from its title, and reports the two cross-layer contradictions with both files' lines.
 */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();
const ready = fpmReq.available && nginxReq.available && isRoot();
const why = `${fpmReq.reason}${nginxReq.reason}${isRoot() ? '' : ' [skipped: nginx workers run as another user only when started by root]'}`;

/** The 1-based line of the first line of `file` that matches `re`. */
function lineOf(file: string, re: RegExp): number {
  const i = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => re.test(l));
  if (i < 0) throw new Error(`${re} is not in ${file}`);
  return i + 1;
}

describe.skipIf(!ready)(`fpmkit doctor reads the running nginx and FPM${why}`, () => {
  let fpm: StartedFpm;
  let nginx: StartedNginx;
  beforeAll(async () => {
    if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
    // The socket is root's with mode 0600 (the last listen.mode wins), the workers are nobody's;
    // requests may run 60 s, nginx waits 10 s.
    fpm = await startPhpFpm({
      pools: [{ name: 'www', directives: 'listen.mode = 0600\nrequest_terminate_timeout = 60s' }],
      scripts: { 'index.php': '<?php echo "hi";' },
    });
    nginx = await startNginx({
      user: 'nobody nogroup',
      http: `server {
    listen 127.0.0.1:@PORT@;
    root ${fpm.wwwDir};
    location ~ \\.php$ {
      fastcgi_pass unix:${fpm.pool('www').socketPath};
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_read_timeout 10s;
    }
  }`,
    });
  });
  afterAll(async () => {
    await nginx?.stop();
    await fpm?.stop();
  });

  it('reports the timeout and the socket permission with FPM file:line and nginx file:line', {
    timeout: 120_000,
  }, async () => {
    // A request shows what the findings predict: nobody cannot connect, nginx answers 502.
    expect(await httpStatus(nginx.port, '/index.php')).toBe(502);
    const res = await run(
      process.execPath,
      [bin, 'doctor', '--nginx-error-log', nginx.errorLogPath, '--json'],
      { env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' }, timeoutMs: 90_000 },
    );
    const report = JSON.parse(res.stdout) as {
      findings: Finding[];
      missing: { part: string; reason: string }[];
    };
    // nginx -T read the configuration: no note that it failed or that the files were read instead.
    expect(report.missing.filter((m) => m.part.startsWith(`nginx ${nginx.pid}:`))).toEqual([]);
    const ours = report.findings.filter((f) => f.file === fpm.confPath);
    const fpmConf = fpm.confPath;
    const timeout = ours.find((f) => f.code === 'stack.web-timeout-below-request');
    const socket = ours.find((f) => f.code === 'stack.socket-not-writable');
    const shown = JSON.stringify(ours, null, 1);
    expect(timeout, shown).toBeDefined();
    expect(socket, shown).toBeDefined();
    expect(timeout!.pool).toBe('www');
    expect(timeout!.line).toBe(lineOf(fpmConf, /^request_terminate_timeout = 60s$/));
    expect(timeout!.evidence).toMatchObject({
      fpmConfig: `${fpmConf}:${lineOf(fpmConf, /^request_terminate_timeout/)}`,
      webConfig: `${nginx.confPath}:${lineOf(nginx.confPath, /fastcgi_read_timeout 10s;/)}`,
      webTimeoutSeconds: 10,
      longestRequestSeconds: 60,
    });
    expect(socket!.evidence).toMatchObject({
      fpmConfig: `${fpmConf}:${lineOf(fpmConf, /^listen\.mode = 0600$/)}`,
      webConfig: `${nginx.confPath}:${lineOf(nginx.confPath, /^user nobody nogroup;$/)}`,
      webServerUser: 'nobody',
      mode: '0600',
    });
    // nginx's log agrees: the live check sees the EACCES the static one predicts.
    expect(report.findings.map((f) => f.code)).toContain('live.socket-permission-denied');
    console.log(
      `doctor: ${timeout!.code} at ${timeout!.evidence!.fpmConfig} / ${timeout!.evidence!.webConfig}; ` +
        `${socket!.code} at ${socket!.evidence!.fpmConfig} / ${socket!.evidence!.webConfig}`,
    );
  });
});

const apacheReq = apacheBinary();

describe.skipIf(!ready || !apacheReq.available)(
  `fpmkit doctor reads the running Apache and FPM${why}${apacheReq.reason}`,
  () => {
    let fpm: StartedFpm;
    let apache: StartedServer;
    beforeAll(async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      fpm = await startPhpFpm({
        pools: [{ name: 'www', directives: 'listen.mode = 0600\nrequest_terminate_timeout = 60s' }],
      });
      apache = await startApache(
        `<FilesMatch "\\.php$">\n    SetHandler "proxy:unix:${fpm.pool('www').socketPath}|fcgi://localhost"\n</FilesMatch>\nProxyTimeout 10\n`,
      );
    });
    afterAll(async () => {
      await apache?.stop();
      await fpm?.stop();
    });

    it('reports the timeout and the socket permission with FPM file:line and Apache file:line', {
      timeout: 120_000,
    }, async () => {
      const res = await run(process.execPath, [bin, 'doctor', '--json'], {
        env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
        timeoutMs: 90_000,
      });
      const report = JSON.parse(res.stdout) as { findings: Finding[] };
      const ours = report.findings.filter((f) => f.file === fpm.confPath);
      const httpd = join(apache.dir, 'httpd.conf');
      const shown = JSON.stringify(ours, null, 1);
      const timeout = ours.find((f) => f.code === 'stack.web-timeout-below-request');
      const socket = ours.find((f) => f.code === 'stack.socket-not-writable');
      expect(timeout?.evidence, shown).toMatchObject({
        fpmConfig: `${fpm.confPath}:${lineOf(fpm.confPath, /^request_terminate_timeout/)}`,
        webConfig: `${httpd}:${lineOf(httpd, /^ProxyTimeout 10$/)}`,
        webTimeoutSeconds: 10,
      });
      expect(socket?.evidence, shown).toMatchObject({
        fpmConfig: `${fpm.confPath}:${lineOf(fpm.confPath, /^listen\.mode = 0600$/)}`,
        webConfig: `${httpd}:${lineOf(httpd, /^User www-data$/)}`,
        webServerUser: 'www-data',
      });
    });
  },
);
