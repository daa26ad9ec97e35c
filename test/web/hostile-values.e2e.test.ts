/**
 * Every string field of renderNginxFastcgi (plus the nginx.conf paths documentRoot and
 * accessLogPath), renderApacheProxyFcgi and renderPhpIni gets generated hostile values. Each
 * value is either refused with FpmkitInvalidOptionError naming the field, or rendered and then
 * checked against the real server: a request shows that nginx or Apache read exactly the value
 * given (the socket it reached, the parameter it sent, the regex it matched, the file it
 * served or logged to), and `php -n -c` reads the php.ini value back. Many values share one
 * server start: one server block or virtual host per value.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  type ApacheProxyFcgiInput,
  type NginxFastcgiInput,
  renderApacheProxyFcgi,
  renderNginxConf,
  renderNginxFastcgi,
  renderPhpIni,
} from '../../src/web/index.js';
import { isRoot, nginxBinary } from '../support/integration.js';
import { poll, run } from '../support/process.js';
import { type FastcgiRecorder, startFastcgiRecorder } from './fcgi-recorder.js';
import {
  apacheBinary,
  apacheModulesDir,
  encodePathBytes,
  httpGet,
  phpCliBinary,
  startApache,
  startNginxConf,
} from './servers.js';

/** Fixed so CI checks the same values; set FPMKIT_SEED to explore others. */
const SEED = Number(process.env.FPMKIT_SEED ?? 20261207);
/** Values per field; every renderer gets at least 300 in all. */
const PER_FIELD = Number(process.env.FPMKIT_HOSTILE_PER_FIELD ?? 30);

/** Pieces that end, split, escape, substitute or glob in one server's syntax or another. */
const UNITS = [
  ';',
  '{',
  '}',
  '"',
  "'",
  '\\',
  '\\\\',
  '\\"',
  '\n',
  '\r',
  '\t',
  '\0',
  '\u007f',
  '\u0085',
  '\u2028',
  '\u2029',
  '\uD800',
  '\uDC00',
  '\u{1F600}',
  'é',
  ' ',
  '#',
  '$',
  '$http_x',
  '${',
  '${uri}',
  '$uri',
  '$document_root',
  '$1',
  '%',
  '%61',
  '?',
  '*',
  '[',
  ']',
  '|',
  '<',
  '>',
  '/',
  '//',
  '.',
  '-',
  '=',
  ',',
  ':',
  '@',
  '`',
  '~',
  '+',
  '(',
  ')',
  '^',
  '&',
  'E_ALL',
  'PHP_OS',
  'true',
  'null',
  'On',
  'a',
  'Z',
  '0',
  '9',
  '_',
  'unix:',
  'fcgi://',
];
const hostile = fc
  .array(fc.constantFrom(...UNITS), { minLength: 1, maxLength: 8 })
  .map((a) => a.join(''));
/** Mostly pieces above, sometimes arbitrary code units (lone surrogates included). */
const fragment = fc.oneof(
  { weight: 4, arbitrary: hostile },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }) },
);

/** Values the field's grammar takes, alone or with a hostile fragment appended. */
const nearMiss = (valid: fc.Arbitrary<string>) =>
  fc.oneof(
    valid,
    fc.tuple(valid, fragment).map(([v, f]) => v + f),
  );

/** Samples `n` values of `arb` with the fixed seed (a different stream per field). */
function sample<T>(arb: fc.Arbitrary<T>, salt: number, n = PER_FIELD): T[] {
  return fc.sample(arb, { numRuns: n, seed: SEED + salt });
}

/** A fragment that stays inside its directory when appended to `DIR/p` (no `..`, no empty tail). */
function fsSafe(frag: string): boolean {
  const segments = `p${frag}`.split('/');
  const last = segments.at(-1)!;
  return !segments.includes('..') && last !== '' && last !== '.' && !frag.includes('\0');
}

/** `/PREFIX/x<frag>` as nginx normalizes a URI: unchanged, so a request can name it. */
function uriSafe(prefix: string, frag: string): boolean {
  const p = `/${prefix}/x${frag}`;
  return posix.normalize(p) === p && !frag.includes('\0') && !frag.endsWith('/');
}

/** True when the IPv4 address or CIDR `rule` covers `address` (false for IPv6 and `unix:`). */
function ipv4Contains(rule: string, address: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(rule);
  if (!m) return false;
  const toInt = (parts: string[]) => parts.reduce((n, p) => n * 256 + Number(p), 0);
  const span = 2 ** (32 - (m[5] === undefined ? 32 : Number(m[5])));
  return Math.floor(toInt(m.slice(1, 5)) / span) === Math.floor(toInt(address.split('.')) / span);
}

/** Escapes regex metacharacters so that the regex matches exactly `text`. */
const escapeRegex = (text: string) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`);

type Verdict = { refused: true } | { refused: false };

/** Renders; undefined when refused with FPMKIT_INVALID_OPTION naming `option` (or under it). */
function renderOrRefuse<T>(option: string, render: () => T): T | undefined {
  try {
    return render();
  } catch (error) {
    expect(isFpmkitError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe('FPMKIT_INVALID_OPTION');
    expect((error as { option: string }).option.startsWith(option), String(error)).toBe(true);
    return undefined;
  }
}

/** Tally per field: refused, rendered and verified by the real server. */
class Tally {
  readonly rows = new Map<string, { refused: number; verified: number }>();
  add(field: string, verdict: Verdict): void {
    const row = this.rows.get(field) ?? { refused: 0, verified: 0 };
    if (verdict.refused) row.refused++;
    else row.verified++;
    this.rows.set(field, row);
  }
  print(what: string): { refused: number; verified: number } {
    let refused = 0;
    let verified = 0;
    const lines = [...this.rows].map(([field, r]) => {
      refused += r.refused;
      verified += r.verified;
      return `  ${field}: ${r.refused} refused, ${r.verified} rendered and verified`;
    });
    console.log(
      `${what}: ${refused + verified} values, ${refused} refused, ${verified} rendered and verified\n${lines.join('\n')}`,
    );
    return { refused, verified };
  }
}

let work = '';
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'fpmkit-hostile-'));
  chmodSync(work, 0o755);
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function mkdirs(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
}

/** Values of the allowed nginx variables in the probe request, to compute what nginx sends. */
function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$(?:\{(\w*)\}|(\w*))/g, (_, braced: string | undefined, bare: string) => {
    const name = braced ?? bare;
    const v = vars[name];
    if (v === undefined) throw new Error(`unexpected variable ${name} in an accepted value`);
    return v;
  });
}

/** An nginx case: the server block's inside and the check after the server started. */
interface NginxCase {
  field: string;
  http: string;
  server: string;
  check: (port: number, recorder: FastcgiRecorder) => Promise<void>;
}

const nginxReq = nginxBinary();
describe.skipIf(!nginxReq.available)(
  `hostile values through a real nginx${nginxReq.reason}`,
  () => {
    it('refuses each value naming the field, or nginx reads exactly that value', async () => {
      const base = join(work, 'nginx');
      const www = join(base, 'www');
      mkdirs(www);
      writeFileSync(join(www, 'probe.php'), '<?php');
      const shared = join(base, 'fpm.sock');
      const sockets: string[] = [shared];
      const tally = new Tally();
      const cases: NginxCase[] = [];
      let salt = 0;
      const host = (i: number) => `c${i}.test`;
      /** The recorded request of case `i` (by SERVER_NAME), after a GET. */
      const requestOf = (recorder: FastcgiRecorder, i: number) =>
        recorder.requests.filter((r) => r.params.SERVER_NAME === host(i));

      /** Adds a case rendering `settings(value)` with renderNginxFastcgi. */
      const fastcgiField = (
        field: string,
        values: readonly string[],
        settings: (value: string, i: number) => NginxFastcgiInput,
        check: (value: string, i: number, port: number, recorder: FastcgiRecorder) => Promise<void>,
        prepare: (value: string, i: number) => void = () => {},
      ) => {
        for (const value of values) {
          const i = cases.length;
          const parts = renderOrRefuse(field, () => renderNginxFastcgi(settings(value, i)));
          if (parts === undefined) {
            tally.add(field, { refused: true });
            continue;
          }
          prepare(value, i);
          cases.push({
            field,
            http: parts.http,
            server: parts.server,
            check: (port, recorder) => check(value, i, port, recorder),
          });
        }
      };
      const upstream = (i: number, socketPath = shared) => ({
        name: `u${i}`,
        servers: [{ socketPath }],
      });
      const probeVars = (i: number) => ({
        document_root: www,
        uri: '/probe.php',
        document_uri: '/probe.php',
        fastcgi_script_name: '/probe.php',
        server_name: host(i),
      });

      // A socket path: the request reaches that socket.
      fastcgiField(
        'upstream.servers[0].socketPath',
        sample(fragment.filter(fsSafe), salt++).map((f, k) => `${base}/k${k}/p${f}`),
        (v, i) => ({ upstream: upstream(i, v) }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          const at = sockets.indexOf(v);
          expect(recorder.connections[at], v).toBe(1);
          expect(requestOf(recorder, i).map((r) => r.socket)).toEqual([at]);
        },
        (v) => {
          mkdirs(dirname(v));
          sockets.push(v);
        },
      );
      // SCRIPT_FILENAME and a parameter: nginx sends the value (allowed variables substituted).
      fastcgiField(
        'scriptFilename',
        sample(fragment, salt++),
        (v, i) => ({ upstream: upstream(i), scriptFilename: v }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          const [r] = requestOf(recorder, i);
          expect(r?.params.SCRIPT_FILENAME, v).toBe(substitute(v, probeVars(i)));
        },
      );
      fastcgiField(
        'params.P',
        sample(fc.oneof(fragment, fc.constant('')), salt++),
        (v, i) => ({ upstream: upstream(i), params: { P: v } }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          const [r] = requestOf(recorder, i);
          expect(r?.params.P, v).toBe(substitute(v, probeVars(i)));
        },
      );
      fastcgiField(
        'params',
        sample(nearMiss(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/)), salt++),
        (v, i) => ({ upstream: upstream(i), params: { [v]: 'k' } }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          expect(requestOf(recorder, i)[0]?.params[v], v).toBe('k');
        },
      );
      // An include: that file, and no other, is read.
      fastcgiField(
        'include',
        sample(fragment.filter(fsSafe), salt++).map((f, k) => `${base}/i${k}/p${f}`),
        (v, i) => ({ upstream: upstream(i), include: v }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          expect(requestOf(recorder, i)[0]?.params.INCLUDED, v).toBe(String(i));
        },
        (v, i) => {
          mkdirs(dirname(v));
          writeFileSync(v, `fastcgi_param INCLUDED "${i}";\n`);
        },
      );
      // Regexes matching exactly one hostile name: the request for that name reaches FastCGI.
      const literal = (prefix: string) =>
        fragment
          .filter((f) => uriSafe(prefix, f))
          .map((f) => [f, `^/${prefix}/x${escapeRegex(f)}$`] as const);
      const regexes = sample(literal('r'), salt++);
      fastcgiField(
        'locationRegex',
        regexes.map(([, r]) => r),
        (v, i) => ({ upstream: upstream(i), locationRegex: v, tryFilesGuard: false }),
        async (v, i, port, recorder) => {
          const frag = regexes.find(([, r]) => r === v)![0];
          const r = await httpGet(port, encodePathBytes(`/r/x${frag}`), { host: host(i) });
          expect(r.status, v).toBe(200);
          expect(requestOf(recorder, i)[0]?.params.DOCUMENT_URI, v).toBe(`/r/x${frag}`);
        },
      );
      const splits = sample(
        fragment
          .filter((f) => !f.endsWith('/') && uriSafe('s', `${f}.php`))
          .map((f) => [f, `^(/s/x${escapeRegex(f)}\\.php)(/.*)$`] as const),
        salt++,
      );
      fastcgiField(
        'splitPathInfo',
        splits.map(([, r]) => r),
        (v, i) => ({ upstream: upstream(i), splitPathInfo: v, tryFilesGuard: false }),
        async (v, i, port, recorder) => {
          const frag = splits.find(([, r]) => r === v)![0];
          await httpGet(port, encodePathBytes(`/s/x${frag}.php/tail`), { host: host(i) });
          const [r] = requestOf(recorder, i);
          expect(r?.params.SCRIPT_NAME, v).toBe(`/s/x${frag}.php`);
          expect(r?.params.PATH_INFO, v).toBe('/tail');
        },
      );
      // Status and ping paths: the exact path is passed, from an allowed address.
      for (const which of ['status', 'ping'] as const) {
        fastcgiField(
          `${which}.path`,
          sample(nearMiss(fc.stringMatching(/^\/[a-z0-9_.~-]{1,8}$/)), salt++),
          (v, i) => ({ upstream: upstream(i), [which]: { path: v, allow: ['127.0.0.1'] } }),
          async (v, i, port, recorder) => {
            await httpGet(port, encodePathBytes(v), { host: host(i) });
            expect(requestOf(recorder, i)[0]?.params.DOCUMENT_URI, v).toBe(v);
          },
        );
      }
      fastcgiField(
        'status.allow[0]',
        sample(
          nearMiss(
            fc.oneof(fc.ipV4(), fc.constantFrom('127.0.0.1', '127.0.0.0/8', '::1', 'unix:')),
          ),
          salt++,
        ),
        (v, i) => ({ upstream: upstream(i), status: { path: '/st', allow: [v] } }),
        async (v, i, port, recorder) => {
          const r = await httpGet(port, '/st', { host: host(i) });
          const allowed = ipv4Contains(v, '127.0.0.1');
          expect(r.status, v).toBe(allowed ? 200 : 403);
          expect(requestOf(recorder, i).length, v).toBe(allowed ? 1 : 0);
        },
      );
      fastcgiField(
        'upstream.name',
        sample(nearMiss(fc.stringMatching(/^n[a-z0-9_.-]{0,6}$/)), salt++),
        (v, i) => ({ upstream: { ...upstream(i), name: `${v}-${i}` } }),
        async (v, i, port, recorder) => {
          await httpGet(port, '/probe.php', { host: host(i) });
          expect(requestOf(recorder, i).length, v).toBe(1);
        },
      );
      // The host of a TCP server: only names and addresses pass. The checks stay off the network,
      // so an accepted value is compared with the grammar instead of being connected to.
      for (const v of sample(fragment, salt++)) {
        const parts = renderOrRefuse('upstream.servers[0].host', () =>
          renderNginxFastcgi({ upstream: { servers: [{ host: v, port: 9000 }] } }),
        );
        if (parts !== undefined) expect(v).toMatch(/^[A-Za-z0-9.:-]+$/);
        tally.add('upstream.servers[0].host (grammar only)', { refused: parts === undefined });
      }

      // nginx.conf paths: the line renderNginxConf writes, in a server of its own.
      const confLine = (field: 'documentRoot' | 'accessLogPath', v: string, directive: string) => {
        const conf = renderOrRefuse(`options.${field}`, () =>
          renderNginxConf(
            { upstream: { servers: [{ socketPath: shared }] } },
            { documentRoot: www, [field]: v },
          ),
        );
        // nginx ends lines at \n only; find the directive's line the same way.
        return conf
          ?.split('\n')
          .map((l) => l.trim())
          .find((l) => l.startsWith(`${directive} `));
      };
      for (const [k, f] of sample(fragment.filter(fsSafe), salt++).entries()) {
        const v = `${base}/d${k}/p${f}`;
        const line = confLine('documentRoot', v, 'root');
        if (line === undefined) {
          tally.add('options.documentRoot', { refused: true });
          continue;
        }
        const i = cases.length;
        mkdirs(v);
        writeFileSync(join(v, 'probe.txt'), `root ${i}`);
        cases.push({
          field: 'options.documentRoot',
          http: '',
          server: line,
          check: async (port) => {
            const r = await httpGet(port, '/probe.txt', { host: host(i) });
            expect(r.body, v).toBe(`root ${i}`);
          },
        });
      }
      for (const [k, f] of sample(fragment.filter(fsSafe), salt++).entries()) {
        const v = `${base}/l${k}/p${f}`;
        const line = confLine('accessLogPath', v, 'access_log');
        if (line === undefined) {
          tally.add('options.accessLogPath', { refused: true });
          continue;
        }
        const i = cases.length;
        mkdirs(dirname(v));
        cases.push({
          field: 'options.accessLogPath',
          http: '',
          server: line,
          check: async (port) => {
            await httpGet(port, `/log-${i}`, { host: host(i) });
            // nginx writes the access log line after the response is sent: wait for it.
            const text = await poll(async () => {
              const t = await readFile(v, 'utf8').catch(() => '');
              return t.includes(`/log-${i} `) ? t : undefined;
            }, 5000);
            expect(text ?? (await readFile(v, 'utf8')), v).toContain(`/log-${i} `);
          },
        });
      }

      const recorder = await startFastcgiRecorder(sockets);
      const server = await startNginxConf(
        (dir, port) => `${isRoot() ? 'user root;\n' : ''}daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
events {}
http {
    access_log off;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 4096;
${cases.map((c) => c.http).join('')}
${cases
  .map(
    (c, i) => `server {
    listen 127.0.0.1:${port};
    server_name ${host(i)};
${c.field === 'options.documentRoot' ? '' : `    root "${www}";\n`}${c.server}
}
`,
  )
  .join('')}
}
`,
      );
      try {
        for (const c of cases) {
          await c.check(server.port, recorder);
          tally.add(c.field, { refused: false });
        }
      } finally {
        await server.stop();
        await recorder.stop();
      }
      const totals = tally.print('nginx');
      expect(totals.refused + totals.verified).toBeGreaterThanOrEqual(300);
      expect(totals.verified).toBeGreaterThan(0);
    }, 300_000);
  },
);

const apacheReq = apacheBinary();
const apacheReady = apacheReq.available && apacheModulesDir() !== undefined;
describe.skipIf(!apacheReady)(`hostile values through a real Apache${apacheReq.reason}`, () => {
  it('refuses each value naming the field, or Apache reads exactly that value', async () => {
    const base = join(work, 'apache');
    mkdirs(base);
    const shared = join(base, 'fpm.sock');
    const sockets: string[] = [shared];
    const tally = new Tally();
    const cases: {
      field: string;
      body: string;
      docroot: string;
      check: (port: number, recorder: FastcgiRecorder) => Promise<void>;
    }[] = [];
    const host = (i: number) => `c${i}.test`;
    const requestOf = (recorder: FastcgiRecorder, i: number) =>
      recorder.requests.filter((r) => r.params.SERVER_NAME === host(i));
    let salt = 100;

    const field = (
      name: string,
      values: readonly string[],
      input: (value: string, i: number) => ApacheProxyFcgiInput,
      files: (value: string) => string[],
      check: (value: string, i: number, port: number, recorder: FastcgiRecorder) => Promise<void>,
      prepare: (value: string) => void = () => {},
    ) => {
      for (const value of values) {
        const i = cases.length;
        const r = renderOrRefuse(name, () => renderApacheProxyFcgi(input(value, i)));
        if (r === undefined) {
          tally.add(name, { refused: true });
          continue;
        }
        prepare(value);
        const docroot = join(base, `w${i}`);
        mkdirs(docroot);
        for (const f of files(value)) writeFileSync(join(docroot, f), `file ${i}`);
        cases.push({
          field: name,
          body: r.handler,
          docroot,
          check: (port, rec) => check(value, i, port, rec),
        });
      }
    };

    field(
      'backend.socketPath',
      sample(fragment.filter(fsSafe), salt++, PER_FIELD * 3).map((f, k) => `${base}/k${k}/p${f}`),
      (v, i) => ({ backend: { socketPath: v }, workerName: `s${i}` }),
      () => ['index.php'],
      async (v, i, port, recorder) => {
        await httpGet(port, '/index.php', { host: host(i) });
        const at = sockets.indexOf(v);
        expect(recorder.connections[at], v).toBe(1);
        expect(
          requestOf(recorder, i).map((r) => r.socket),
          v,
        ).toEqual([at]);
      },
      (v) => {
        mkdirs(dirname(v));
        sockets.push(v);
      },
    );
    field(
      'workerName',
      sample(nearMiss(fc.stringMatching(/^w[a-z0-9-]{0,6}$/)), salt++, PER_FIELD * 2),
      (v) => ({ backend: { socketPath: shared }, workerName: v }),
      () => ['index.php'],
      async (v, i, port, recorder) => {
        await httpGet(port, '/index.php', { host: host(i) });
        expect(requestOf(recorder, i).length, v).toBe(1);
      },
    );
    // A regex matching exactly one hostile file name: that file reaches FastCGI, and a file
    // that differs only where Apache's quoting could change the regex does not.
    // mod_proxy_fcgi answers 403 for a file name with '?' (AH10414), whatever the regex.
    const names = sample(
      fragment.filter((f) => !/[/\0?]/.test(f)),
      salt++,
      PER_FIELD * 4,
    );
    field(
      'filesMatch',
      names.map((f) => `^x${escapeRegex(f)}$`),
      (v, i) => ({ backend: { socketPath: shared }, workerName: `f${i}`, filesMatch: v }),
      (v) => {
        const f = names.find((n) => `^x${escapeRegex(n)}$` === v)!;
        return [`x${f}`, `y${f}`];
      },
      async (v, i, port, recorder) => {
        const f = names.find((n) => `^x${escapeRegex(n)}$` === v)!;
        const hit = await httpGet(port, encodePathBytes(`/x${f}`), { host: host(i) });
        expect(hit.status, `${v} ${hit.body}`).toBe(200);
        const seen = requestOf(recorder, i);
        expect(seen.length, v).toBe(1);
        expect(seen[0]!.params.SCRIPT_FILENAME!.endsWith(`/x${f}`), v).toBe(true);
        const miss = await httpGet(port, encodePathBytes(`/y${f}`), { host: host(i) });
        expect(miss.body, v).toBe(`file ${i}`);
        expect(requestOf(recorder, i).length, v).toBe(1);
      },
    );
    for (const v of sample(fragment, salt++)) {
      const r = renderOrRefuse('backend', () =>
        renderApacheProxyFcgi({ backend: { host: v, port: 9000 } }),
      );
      if (r !== undefined) expect(v).toMatch(/^[A-Za-z0-9.:-]+$/);
      tally.add('backend.host (grammar only)', { refused: r === undefined });
    }

    const recorder = await startFastcgiRecorder(sockets);
    const body = [
      ...cases.map(
        (c, i) => `<VirtualHost 127.0.0.1:@PORT@>
    ServerName ${host(i)}
    DocumentRoot "${c.docroot}"
${c.body}</VirtualHost>`,
      ),
    ].join('\n');
    const server = await startApache(body, { documentRoot: base });
    try {
      for (const c of cases) {
        await c.check(server.port, recorder).catch(async (e) => {
          throw new Error(`${(e as Error).message}\n${await server.errorLog()}`);
        });
        tally.add(c.field, { refused: false });
      }
    } finally {
      await server.stop();
      await recorder.stop();
    }
    const totals = tally.print('Apache');
    expect(totals.refused + totals.verified).toBeGreaterThanOrEqual(300);
    expect(totals.verified).toBeGreaterThan(0);
  }, 300_000);
});

const phpReq = phpCliBinary();
describe.skipIf(!phpReq.available)(`hostile values through php -n -c${phpReq.reason}`, () => {
  it('refuses each value naming the field, or PHP reads exactly that value', async () => {
    const tally = new Tally();
    const values = sample(
      fc.oneof(
        fragment,
        fragment.map((f) => `/${f}`),
      ),
      200,
      Math.max(300, PER_FIELD * 10),
    );
    // One file per batch: the first value as opcache.preload (read with ini_get), the others
    // as the same rendered value under keys of their own (read with get_cfg_var).
    const lines: { key: string; line: string; value: string }[] = [];
    for (const value of values) {
      const text = renderOrRefuse('opcache.preload', () =>
        renderPhpIni({ opcache: { preload: value } }),
      );
      tally.add('opcache.preload', { refused: text === undefined });
      if (text === undefined) continue;
      expect(text.startsWith('opcache.preload = ')).toBe(true);
      lines.push({ key: `fpmkit_probe.v${lines.length}`, line: text, value });
    }
    const dir = mkdtempSync(join(work, 'php-'));
    const BATCH = 60;
    for (let at = 0; at < lines.length; at += BATCH) {
      const batch = lines.slice(at, at + BATCH);
      const ini = batch
        .map((l, k) => (k === 0 ? l.line : l.line.replace(/^opcache\.preload/, l.key)))
        .join('');
      const file = join(dir, `b${at}.ini`);
      writeFileSync(file, ini);
      const keys = batch.map((l, k) => (k === 0 ? 'opcache.preload' : l.key));
      const code =
        '$o=[];foreach(json_decode($argv[1]) as $k=>$n){$v=$k===0?ini_get($n):get_cfg_var($n);$o[]=$v===false?null:bin2hex($v);}echo json_encode($o);';
      const result = await run(
        phpReq.path!,
        ['-n', '-d', 'zend_extension=opcache', '-c', file, '-r', code, JSON.stringify(keys)],
        { cwd: dir },
      );
      expect(result.exitCode, result.output).toBe(0);
      expect(result.stderr).toBe('');
      const got = JSON.parse(result.stdout) as (string | null)[];
      expect(got.map((h) => (h === null ? null : Buffer.from(h, 'hex').toString('utf8')))).toEqual(
        batch.map((l) => l.value),
      );
    }
    expect(existsSync(dir)).toBe(true);
    const totals = tally.print('php.ini');
    expect(totals.refused + totals.verified).toBeGreaterThanOrEqual(300);
    expect(totals.verified).toBeGreaterThan(0);
  }, 120_000);
});
