/**
 * Values that made a real nginx, Apache or PHP do something else than the value said. Each case
 * is either refused by the renderer with `FpmkitInvalidOptionError` naming the field, or, when
 * rendered, run against the real server, where the attack must fail.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  type ApacheProxyFcgiInput,
  type NginxConfOptions,
  type NginxFastcgiInput,
  renderApacheProxyFcgi,
  renderNginxConf,
  renderNginxFastcgi,
  renderPhpIni,
} from '../../src/web/index.js';
import { isRoot, nginxBinary } from '../support/integration.js';
import { type FastcgiRecorder, startFastcgiRecorder } from './fcgi-recorder.js';
import {
  apacheBinary,
  apacheModulesDir,
  httpGet,
  phpCliBinary,
  phpIniGet,
  startApache,
  startNginxConf,
} from './servers.js';

/** The rendering, or undefined when the renderer refused it naming `option`. */
function renderedOrRefused<T>(option: string, render: () => T): T | undefined {
  try {
    return render();
  } catch (error) {
    expect(isFpmkitError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe('FPMKIT_INVALID_OPTION');
    expect((error as { option: string }).option).toBe(option);
    return undefined;
  }
}

const nginxReq = nginxBinary();
const apacheReq = apacheBinary();
const phpReq = phpCliBinary();
const apacheReady = apacheReq.available && apacheModulesDir() !== undefined;

let work = '';
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fpmkit-attack-'));
  // Apache's children run as www-data when the tests run as root.
  chmodSync(work, 0o755);
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A fresh directory under the test's scratch directory. */
function scratch(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

describe.skipIf(!nginxReq.available)(
  `nginx: values nginx would read otherwise${nginxReq.reason}`,
  () => {
    const settings = (socketPath: string, extra: Partial<NginxFastcgiInput> = {}) =>
      ({
        upstream: { servers: [{ socketPath }] },
        tryFilesGuard: false,
        ...extra,
      }) satisfies NginxFastcgiInput;

    /** Renders a whole nginx.conf with `options`, starts it, runs `attack`, stops it. */
    async function withNginxConf(
      option: string,
      socketPath: string,
      options: Partial<NginxConfOptions> & { documentRoot: string },
      attack: (port: number) => Promise<void>,
    ): Promise<void> {
      const probe = renderedOrRefused(option, () =>
        renderNginxConf(settings(socketPath), { ...options, listen: 1 }),
      );
      if (probe === undefined) return;
      const server = await startNginxConf((dir, port) =>
        renderNginxConf(settings(socketPath), {
          ...options,
          listen: `127.0.0.1:${port}`,
          pidPath: join(dir, 'nginx.pid'),
          errorLogPath: join(dir, 'error.log'),
          tempDir: dir,
          daemon: false,
          ...(isRoot() ? { user: 'root' } : {}),
        }),
      );
      try {
        await attack(server.port);
      } finally {
        await server.stop();
      }
    }

    it('documentRoot with $http_x_site does not serve a file outside the root', async () => {
      const base = scratch('nginx-root');
      mkdirSync(join(base, 'www', 'site'), { recursive: true });
      mkdirSync(join(base, 'secret'));
      writeFileSync(join(base, 'www', 'site', 'index.html'), 'site');
      writeFileSync(join(base, 'secret', 'secret.txt'), 'SECRET');
      await withNginxConf(
        'options.documentRoot',
        join(base, 'fpm.sock'),
        { documentRoot: join(base, 'www', '$http_x_site'), accessLogPath: 'off' },
        async (port) => {
          const r = await httpGet(port, '/secret.txt', { 'x-site': '../secret' });
          expect(r.body).not.toBe('SECRET');
        },
      );
    });

    it('accessLogPath with $http_x_log does not write where the client says', async () => {
      const base = scratch('nginx-log');
      mkdirSync(join(base, 'www'));
      mkdirSync(join(base, 'logs'));
      writeFileSync(join(base, 'www', 'index.html'), 'hi');
      await withNginxConf(
        'options.accessLogPath',
        join(base, 'fpm.sock'),
        { documentRoot: join(base, 'www'), accessLogPath: join(base, 'logs', '$http_x_log') },
        async (port) => {
          await httpGet(port, '/index.html', { 'x-log': '../pwned' });
          expect(() => writeFileSync(join(base, 'pwned'), '', { flag: 'wx' })).not.toThrow();
        },
      );
    });

    /** Starts nginx with the rendered parts in one server, in front of a recording responder. */
    async function withFastcgi(
      option: string,
      make: (socketPath: string) => NginxFastcgiInput,
      attack: (port: number, recorder: FastcgiRecorder) => Promise<void>,
      sockets?: string[],
    ): Promise<void> {
      const base = scratch(`nginx-${option.replace(/\W/g, '_')}`);
      const socketPath = join(base, 'fpm.sock');
      const parts = renderedOrRefused(option, () => renderNginxFastcgi(make(socketPath)));
      if (parts === undefined) return;
      mkdirSync(join(base, 'www'), { recursive: true });
      writeFileSync(join(base, 'www', 'index.php'), '<?php');
      const recorder = await startFastcgiRecorder(sockets ?? [socketPath]);
      const server = await startNginxConf(
        (dir, port) => `${isRoot() ? 'user root;\n' : ''}daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
events {}
http {
    access_log off;
${parts.http}
    server {
        listen 127.0.0.1:${port};
        root "${join(base, 'www')}";
${parts.server}
    }
}
`,
      );
      try {
        await attack(server.port, recorder);
      } finally {
        await server.stop();
        await recorder.stop();
      }
    }

    it('scriptFilename with $http_x_script does not let the client pick the script', async () => {
      await withFastcgi(
        'scriptFilename',
        (s) => settings(s, { scriptFilename: '$document_root/$http_x_script' }),
        async (port, recorder) => {
          await httpGet(port, '/index.php', { 'x-script': '../../../etc/passwd' });
          expect(recorder.requests.at(-1)?.params.SCRIPT_FILENAME ?? '').not.toContain('passwd');
        },
      );
    });

    it('a params value with $http_x does not let the client set PHP_ADMIN_VALUE', async () => {
      await withFastcgi(
        'params.PHP_ADMIN_VALUE',
        (s) => settings(s, { params: { PHP_ADMIN_VALUE: 'open_basedir=$http_x_dir' } }),
        async (port, recorder) => {
          await httpGet(port, '/index.php', { 'x-dir': '/' });
          expect(recorder.requests.at(-1)?.params.PHP_ADMIN_VALUE).not.toBe('open_basedir=/');
        },
      );
    });

    for (const name of ['p[1].conf', 'p?.conf', 'p*.conf']) {
      it(`include '${name}' includes that file only, not what the glob matches`, async () => {
        const inc = scratch(`nginx-include-${name.replace(/\W/g, '_')}`);
        writeFileSync(join(inc, name), 'fastcgi_param PROBE "named";\n');
        // Sorted after the named file, so a glob includes it last and its value wins.
        writeFileSync(join(inc, 'p1.conf'), 'fastcgi_param PROBE "other";\n');
        writeFileSync(join(inc, 'pZ.conf'), 'fastcgi_param PROBE "other";\n');
        await withFastcgi(
          'include',
          (s) => settings(s, { include: join(inc, name), standardParams: false }),
          async (port, recorder) => {
            await httpGet(port, '/index.php');
            expect(recorder.requests.at(-1)?.params.PROBE).toBe('named');
          },
        );
      });
    }

    it('a lone surrogate in a params value is not sent as U+FFFD', async () => {
      const value = 'a\uD800b';
      await withFastcgi(
        'params.X',
        (s) => settings(s, { params: { X: value } }),
        async (port, recorder) => {
          await httpGet(port, '/index.php');
          expect(recorder.requests.at(-1)?.params.X).toBe(value);
        },
      );
    });
  },
);

describe.skipIf(!apacheReady)(
  `Apache: values Apache would read otherwise${apacheReq.reason}`,
  () => {
    /** Starts Apache with the rendered handler in front of recorders on `sockets`. */
    async function withApache(
      option: string,
      input: ApacheProxyFcgiInput,
      sockets: readonly string[],
      files: Record<string, string>,
      attack: (port: number, recorder: FastcgiRecorder) => Promise<void>,
    ): Promise<void> {
      const rendered = renderedOrRefused(option, () => renderApacheProxyFcgi(input));
      if (rendered === undefined) return;
      const docroot = mkdtempSync(join(work, 'apache-www-'));
      chmodSync(docroot, 0o755);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(docroot, name), text);
      const recorder = await startFastcgiRecorder(sockets);
      const server = await startApache(rendered.all, { documentRoot: docroot });
      try {
        await attack(server.port, recorder);
      } finally {
        await server.stop();
        await recorder.stop();
      }
    }

    for (const [label, name] of [
      ['?', 'a?b.sock'],
      ['#', 'a#b.sock'],
      ['%61 (an escape of a)', '%61'],
      ['|', 'a|b.sock'],
    ] as const) {
      it(`a socket path with ${label} reaches that socket, not the pool on 'a'`, async () => {
        const base = scratch(`apache-sock-${name.replace(/\W/g, '_')}`);
        const socketPath = join(base, name);
        await withApache(
          'backend.socketPath',
          { backend: { socketPath }, workerName: 'w' },
          [join(base, 'a'), socketPath],
          { 'index.php': '<?php' },
          async (port, recorder) => {
            await httpGet(port, '/index.php');
            expect(recorder.connections[0]).toBe(0);
            expect(recorder.connections[1]).toBe(1);
          },
        );
      });
    }

    it('a socket path starting with // is not read as a URI authority', async () => {
      const base = scratch('apache-sock-authority');
      const socketPath = `/${join(base, 'b.sock')}`;
      await withApache(
        'backend.socketPath',
        { backend: { socketPath }, workerName: 'w' },
        [join(base, 'b.sock')],
        { 'index.php': '<?php' },
        async (port, recorder) => {
          await httpGet(port, '/index.php');
          expect(recorder.connections[0]).toBe(1);
        },
      );
    });

    it('a lone surrogate in a socket path does not reach the socket named with U+FFFD', async () => {
      const base = scratch('apache-sock-surrogate');
      await withApache(
        'backend.socketPath',
        { backend: { socketPath: join(base, 's\uD800.sock') }, workerName: 'w' },
        [join(base, 's\uFFFD.sock')],
        { 'index.php': '<?php' },
        async (port, recorder) => {
          await httpGet(port, '/index.php');
          expect(recorder.connections[0]).toBe(0);
        },
      );
    });

    it('filesMatch ^t\\\\.php$ is read as written: t.php is not passed to FPM', async () => {
      const base = scratch('apache-files');
      const socketPath = join(base, 'fpm.sock');
      await withApache(
        'filesMatch',
        { backend: { socketPath }, workerName: 'w', filesMatch: '^t\\\\.php$' },
        [socketPath],
        { 't.php': 'source', 't\\Xphp': 'other' },
        async (port, recorder) => {
          const plain = await httpGet(port, '/t.php');
          expect(recorder.requests).toEqual([]);
          expect(plain.body).toBe('source');
          // The name the regex does match goes to FastCGI.
          await httpGet(port, '/t%5CXphp');
          expect(recorder.requests.map((r) => r.params.SCRIPT_FILENAME)).toEqual([
            expect.stringMatching(/t\\Xphp$/),
          ]);
        },
      );
    });

    it('filesMatch with a quote is read as written', async () => {
      const base = scratch('apache-files-quote');
      const socketPath = join(base, 'fpm.sock');
      await withApache(
        'filesMatch',
        { backend: { socketPath }, workerName: 'w', filesMatch: '^a"b$' },
        [socketPath],
        { 'a"b': 'x' },
        async (port, recorder) => {
          await httpGet(port, '/a%22b');
          expect(recorder.requests).toHaveLength(1);
        },
      );
    });
  },
);

describe.skipIf(!phpReq.available)(
  `php.ini: values PHP would read otherwise${phpReq.reason}`,
  () => {
    it('a lone surrogate in opcache.preload is not read as U+FFFD', async () => {
      const value = '/srv/a\uDC00.php';
      const text = renderedOrRefused('opcache.preload', () =>
        renderPhpIni({ opcache: { preload: value } }),
      );
      if (text === undefined) return;
      const got = await phpIniGet(text, ['opcache.preload']);
      expect(got.ini['opcache.preload']).toBe(value);
    });
  },
);
