import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bcryptHash, blowfishPiWords, parseBcryptHash } from '../../src/cli/bcrypt.js';
import {
  BasicAuth,
  checkWebConfig,
  parseYamlMapping,
  shaCrypt,
} from '../../src/cli/exporter-web.js';
import { isFpmkitError } from '../../src/errors.js';
import { requireBinary } from '../support/integration.js';
import { run } from '../support/process.js';
import { BIN, type StartedExporter, startExporter } from './support.js';

describe('the web-config YAML subset', () => {
  it('reads nested mappings, quoted and plain scalars, comments and booleans', () => {
    const doc = parseYamlMapping(
      [
        '---',
        '# TLS',
        'tls_server_config:',
        '  cert_file: "server.crt"  # a comment',
        "  key_file: 'it''s.key'",
        '  min_version: TLS13',
        'http_server_config:',
        '  headers:',
        '    X-Frame-Options: deny',
        'basic_auth_users:',
        '  alice: $6$salt$abc#not-a-comment',
        '  empty:',
        'flag: true',
      ].join('\n'),
    );
    expect(doc).toEqual({
      tls_server_config: { cert_file: 'server.crt', key_file: "it's.key", min_version: 'TLS13' },
      http_server_config: { headers: { 'X-Frame-Options': 'deny' } },
      basic_auth_users: { alice: '$6$salt$abc#not-a-comment', empty: null },
      flag: true,
    });
  });

  it.each([
    ['a: 1\na: 2', /duplicate key 'a'/],
    ['a:\n  - x', /sequences are not read/],
    ['a:\n    b: 1\n  c: 2', /indentation/],
    ['a: [1, 2]', /only plain or quoted scalars/],
    ['a: "open', /unterminated/],
    ['just text', /expected 'key: value'/],
    ['a: &anchor x', /only plain or quoted/],
  ])('refuses %j with a located error', (text, message) => {
    let caught: unknown;
    try {
      parseYamlMapping(text, 'web.yml');
    } catch (error) {
      caught = error;
    }
    expect(isFpmkitError(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/^\[web\.yml(:\d+)?\] /);
    expect((caught as Error).message).toMatch(message);
  });

  it('any text gives a mapping or an FpmkitError, never another exception', () => {
    const alphabet = fc.constantFrom(...'ab: \n\t#"\'\\-[]{}&*~u0123'.split(''));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(alphabet, { maxLength: 80 }).map((a) => a.join('')),
        ),
        (text) => {
          try {
            const doc = parseYamlMapping(text);
            expect(typeof doc).toBe('object');
          } catch (error) {
            expect(isFpmkitError(error)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('lets the file set only the security headers the exporter-toolkit allows, by name', () => {
    const read = () => Buffer.from('pem');
    const headers = (text: string) =>
      checkWebConfig(parseYamlMapping(`http_server_config:\n  headers:\n${text}`), 'w.yml', read)
        .headers;
    const set = headers(
      [
        '    strict-transport-security: max-age=31536000',
        '    X-Content-Type-Options: nosniff',
        '    X-Frame-Options: SAMEORIGIN',
        '    X-XSS-Protection: "1; mode=block"',
        "    Content-Security-Policy: default-src 'none'",
      ].join('\n'),
    );
    expect([...set]).toEqual([
      ['Strict-Transport-Security', 'max-age=31536000'],
      ['X-Content-Type-Options', 'nosniff'],
      ['X-Frame-Options', 'SAMEORIGIN'],
      ['X-XSS-Protection', '1; mode=block'],
      ['Content-Security-Policy', "default-src 'none'"],
    ]);
    for (const [line, message] of [
      [
        '    Set-Cookie: a=b',
        /http_server_config\.headers\.Set-Cookie: is not a header this exporter lets you set \(it sets Strict-Transport-Security, /,
      ],
      [
        '    Access-Control-Allow-Origin: "*"',
        /headers\.Access-Control-Allow-Origin: is not a header/,
      ],
      ['    __proto__: x', /http_server_config\.headers\.__proto__: is not a header/],
      [
        '    X-Frame-Options: allow-from x',
        /X-Frame-Options: must be one of deny, sameorigin, not 'allow-from x'/,
      ],
      ['    X-Content-Type-Options: sniff', /must be one of nosniff/],
      [
        '    X-Frame-Options: deny\n    x-frame-options: deny',
        /x-frame-options: sets X-Frame-Options a second time/,
      ],
    ] as const) {
      let caught: unknown;
      try {
        headers(line);
      } catch (error) {
        caught = error;
      }
      expect(isFpmkitError(caught), line).toBe(true);
      expect((caught as Error).message).toMatch(message);
    }
  });

  it('checks settings by name and says which ones it reads', () => {
    const read = () => Buffer.from('pem');
    expect(() => checkWebConfig({ tls_server_config: { cert_file: 'a' } }, 'w.yml', read)).toThrow(
      /tls_server_config\.key_file: is required/,
    );
    expect(() =>
      checkWebConfig(
        { tls_server_config: { cert_file: 'a', key_file: 'b', cipher_suites: 'x' } },
        'w.yml',
        read,
      ),
    ).toThrow(/tls_server_config\.cipher_suites: not a setting this exporter reads/);
    const users = (bob: string) => checkWebConfig({ basic_auth_users: { bob } }, 'w.yml', read);
    expect(() => users('$2x$10$abcdefghijklmnopqrstuu5Mx0Qk1r1a0yZ8V2Lh2iJ3f6y4h7YqW')).toThrow(
      /basic_auth_users\.bob: is a '\$2x\$' bcrypt hash/,
    );
    expect(() => users('$2b$13$abcdefghijklmnopqrstuu5Mx0Qk1r1a0yZ8V2Lh2iJ3f6y4h7YqW')).toThrow(
      /basic_auth_users\.bob: has bcrypt cost 13; at most 12/,
    );
    const digest = 'x'.repeat(86);
    expect(() => users(`$6$rounds=1000001$salt$${digest}`)).toThrow(
      /basic_auth_users\.bob: has rounds=1000001; at most 1000000/,
    );
    expect(() => users(`$6$rounds=999999999$salt$${digest}`)).toThrow(/rounds=999999999/);
    expect(users(`$6$rounds=1000000$salt$${digest}`).users?.get('bob')?.kind).toBe(6);
    expect(() => users('$2b$10$short')).toThrow(/basic_auth_users\.bob: is not a bcrypt hash/);
    expect(() => users('plain')).toThrow(/basic_auth_users\.bob: is not a '\$6\$'/);
    expect(
      users('$2y$10$abcdefghijklmnopqrstuu5Mx0Qk1r1a0yZ8V2Lh2iJ3f6y4h7YqW').users?.get('bob')?.kind,
    ).toBe('bcrypt');
  });
});

describe('bcrypt', () => {
  it("computes Blowfish's initial words from pi", () => {
    const w = blowfishPiWords();
    expect(w).toHaveLength(1042);
    // P[0], P[17], S0[0] and S3[255] as Schneier's tables print them.
    expect([w[0], w[17], w[18], w[1041]].map((x) => x!.toString(16))).toEqual([
      '243f6a88',
      '8979fb1b',
      'd1310ba6',
      '3ac372e6',
    ]);
  });

  it('matches fixed known-answer vectors, with no outside tool', () => {
    const x72 = 'x'.repeat(72);
    // OpenBSD / jBCrypt test vectors ($2a$, cost 6), then hashes made once by htpasswd -nbB -C 4
    // ($2y$, one of a 72-byte password).
    const vectors: [string, string][] = [
      ['', '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.'],
      ['a', '$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe'],
      ['abc', '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i'],
      ['pass', '$2y$04$Rr8lfdNwhrbIejQYqDUBD.gBjqvgmmflhtNPkcFbFwRIJuHApr1CW'],
      [x72, '$2y$04$IrvUW.7hTMpuVMpphRl8l.Lm8tS5oT1otAvVus6QJhHg9d/zrlxEG'],
    ];
    for (const [password, hash] of vectors) {
      const parsed = parseBcryptHash(hash);
      if (typeof parsed === 'string') throw new Error(parsed);
      expect(bcryptHash(password, parsed.cost, parsed.saltText, parsed.prefix), password).toBe(
        hash,
      );
    }
    // Bytes after the 72nd do not count; one byte fewer does.
    const [, cut] = vectors[4]!;
    const p = parseBcryptHash(cut) as Exclude<ReturnType<typeof parseBcryptHash>, string>;
    expect(bcryptHash(`${x72}more`, p.cost, p.saltText, p.prefix)).toBe(cut);
    expect(bcryptHash(x72.slice(1), p.cost, p.saltText, p.prefix)).not.toBe(cut);
  });

  const htpasswdUnit = requireBinary('htpasswd', 'apache2-utils');
  it.skipIf(!htpasswdUnit.available)(
    `matches htpasswd -B for short, long (over 72 bytes), non-ASCII and empty passwords${htpasswdUnit.reason}`,
    async () => {
      for (const [password, cost] of [
        ['pw', 4],
        ['correct horse battery staple', 5],
        ['ünïcödé 池 ✓', 4],
        ['x'.repeat(80), 4],
        ['', 4],
      ] as const) {
        const line = (
          await run('htpasswd', ['-nbB', '-C', String(cost), 'u', password])
        ).output.trim();
        const hash = line.slice(line.indexOf(':') + 1);
        const parsed = parseBcryptHash(hash);
        if (typeof parsed === 'string') throw new Error(parsed);
        expect(bcryptHash(password, parsed.cost, parsed.saltText, parsed.prefix), password).toBe(
          hash,
        );
        // Only the first 72 bytes count.
        const other = bcryptHash(`${password}!`, parsed.cost, parsed.saltText, parsed.prefix);
        if (Buffer.byteLength(password) >= 72) expect(other).toBe(hash);
        else expect(other).not.toBe(hash);
      }
    },
    30_000,
  );
});

describe('SHA-crypt', () => {
  it('matches the published test vectors with explicit rounds', () => {
    // From "Unix crypt using SHA-256 and SHA-512" (Drepper), the rounds=10000 vectors.
    expect(shaCrypt(5, 'Hello world!', 'saltstringsaltstring', 10000)).toBe(
      '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA',
    );
    expect(shaCrypt(6, 'Hello world!', 'saltstringsaltstring', 10000)).toBe(
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
  });

  const openssl = requireBinary('openssl', 'openssl');
  it.skipIf(!openssl.available)(`matches openssl passwd -5 and -6${openssl.reason}`, async () => {
    const cases = [
      ['secret', 'abc'],
      ['x', 'x'],
      ['a much longer password with spaces and ünïcode', 'sixteencharsalt!'],
      ['p'.repeat(70), 'Zz09./'],
    ];
    for (const [password, salt] of cases) {
      for (const kind of [5, 6] as const) {
        const r = await run('openssl', ['passwd', `-${kind}`, '-salt', salt!, password!]);
        expect(r.exitCode).toBe(0);
        expect(shaCrypt(kind, password!, salt!)).toBe(r.output.trim());
      }
    }
  });

  const sha = (password: string, rounds?: number) => ({
    kind: 6 as const,
    salt: 'NaCl',
    rounds,
    text: shaCrypt(6, password, 'NaCl', rounds),
  });
  const header = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('BasicAuth accepts the right password only, and the same for an unknown user', () => {
    const auth = new BasicAuth(new Map([['alice', sha('pw')]]));
    expect(auth.check(header('alice', 'pw'))).toBe('ok');
    expect(auth.check(header('alice', 'pw'))).toBe('ok');
    expect(auth.check(header('alice', 'pW'))).toBe('denied');
    expect(auth.check(header('mallory', 'pw'))).toBe('denied');
    expect(auth.check(undefined)).toBe('denied');
    expect(auth.check('Bearer x')).toBe('denied');
  });

  it('BasicAuth hashes a remembered header never again, and bounds the hashing failed checks do', () => {
    // A clock read once before and once after each hash, on which every hash takes 50 ms.
    let t = 0;
    const now = () => {
      t += 50;
      return t;
    };
    const auth = new BasicAuth(
      new Map([
        ['alice', sha('pw', 2000)],
        ['bob', sha('b')],
      ]),
      {
        failureBudgetMs: 120,
        now,
      },
    );
    expect(auth.check(header('alice', 'pw'))).toBe('ok');
    expect(auth.hashes).toBe(1);
    for (let i = 0; i < 5; i++) expect(auth.check(header('alice', 'pw'))).toBe('ok');
    expect(auth.hashes).toBe(1);
    // Wrong passwords and unknown users share one budget: three failures (150 ms) spend it.
    expect(auth.check(header('alice', 'bad'))).toBe('denied');
    expect(auth.check(header('nobody', 'pw'))).toBe('denied');
    expect(auth.check(header('alice', 'bad2'))).toBe('denied');
    expect(auth.hashes).toBe(4);
    expect(auth.check(header('alice', 'bad3'))).toBe('busy');
    expect(auth.check(header('nobody', 'x'))).toBe('busy');
    expect(auth.check(header('bob', 'b'))).toBe('busy');
    expect(auth.hashes).toBe(4);
    // The remembered header still passes, without hashing.
    expect(auth.check(header('alice', 'pw'))).toBe('ok');
    expect(auth.hashes).toBe(4);
    // A second later the budget is back.
    t += 1000;
    expect(auth.check(header('bob', 'b'))).toBe('ok');
    expect(auth.hashes).toBe(5);
  });
});

const openssl = requireBinary('openssl', 'openssl');
const htpasswd = requireBinary('htpasswd', 'apache2-utils');

interface Answer {
  status?: number;
  body?: string;
  error?: string;
}

function get(url: string, options: RequestOptions = {}): Promise<Answer> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(url, { ...options, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) =>
      resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }),
    );
    req.end();
  });
}

describe.skipIf(!openssl.available)(
  `the exporter with TLS and basic authentication${openssl.reason}`,
  () => {
    let dir: string;
    let ca: Buffer;
    let clientCert: Buffer;
    let clientKey: Buffer;
    const started: StartedExporter[] = [];

    const ssl = async (args: string[]) => {
      const r = await run('openssl', args, { cwd: dir });
      if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.output}`);
      return r.output;
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-tls-'));
      await ssl([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=fpmkit test CA',
        '-keyout',
        'ca.key',
        '-out',
        'ca.crt',
      ]);
      await writeFile(
        join(dir, 'san.ext'),
        'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
      );
      await ssl([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        'server.key',
        '-out',
        'server.csr',
      ]);
      await ssl([
        'x509',
        '-req',
        '-in',
        'server.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        'san.ext',
        '-out',
        'server.crt',
      ]);
      await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
      await ssl([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=prometheus',
        '-keyout',
        'client.key',
        '-out',
        'client.csr',
      ]);
      await ssl([
        'x509',
        '-req',
        '-in',
        'client.csr',
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        'client.ext',
        '-out',
        'client.crt',
      ]);
      const { readFile } = await import('node:fs/promises');
      ca = await readFile(join(dir, 'ca.crt'));
      clientCert = await readFile(join(dir, 'client.crt'));
      clientKey = await readFile(join(dir, 'client.key'));
    }, 60_000);

    afterAll(async () => {
      for (const e of started) await e.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const TARGET = ['--target', 'www=/nonexistent/fpmkit-tls.sock', '--no-memory'];

    it('serves /metrics over TLS to the right user, 401 to others, and nothing over plain HTTP', async () => {
      const hash = (await ssl(['passwd', '-6', 'scrape-secret'])).trim();
      await writeFile(
        join(dir, 'web.yml'),
        `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\nbasic_auth_users:\n  prometheus: '${hash}'\n`,
      );
      const exporter = await startExporter([...TARGET, '--web-config-file', join(dir, 'web.yml')]);
      started.push(exporter);
      expect(exporter.daemon.output()).toMatch(
        /listening on https:\/\/127\.0\.0\.1:\d+\/metrics \(basic authentication\)/,
      );
      const url = `https://127.0.0.1:${exporter.port}/metrics`;
      const good = await get(url, { ca, auth: 'prometheus:scrape-secret' });
      expect(good.status).toBe(200);
      expect(good.body).toContain('fpm_up{pool="www",listen="/nonexistent/fpmkit-tls.sock"} 0');
      expect((await get(url, { ca, auth: 'prometheus:wrong' })).status).toBe(401);
      expect((await get(url, { ca, auth: 'other:scrape-secret' })).status).toBe(401);
      expect((await get(url, { ca })).status).toBe(401);
      // The certificate does not verify against another CA; plain HTTP gets no answer.
      expect((await get(url, { auth: 'prometheus:scrape-secret' })).error).toMatch(
        /CERT|SIGNED|ISSUER|VERIFY/,
      );
      const plain = await get(`http://127.0.0.1:${exporter.port}/metrics`);
      expect(plain.status).toBeUndefined();
    }, 30_000);

    it('answers 429 without hashing once failed checks have spent their second, and still serves the remembered user', async () => {
      // About 0.1 s or more of hashing per check here.
      const hash = shaCrypt(6, 'scrape-secret', 'NaCl', 300_000);
      await writeFile(join(dir, 'slow.yml'), `basic_auth_users:\n  prometheus: '${hash}'\n`);
      const exporter = await startExporter([...TARGET, '--web-config-file', join(dir, 'slow.yml')]);
      started.push(exporter);
      const url = `http://127.0.0.1:${exporter.port}/metrics`;
      expect((await get(url, { auth: 'prometheus:scrape-secret' })).status).toBe(200);
      const wrong = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          get(url, { auth: i % 2 ? `prometheus:guess${i}` : `user${i}:guess` }),
        ),
      );
      const statuses = wrong.map((a) => a.status);
      expect(statuses).toContain(401);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
      expect(statuses).toContain(429);
      expect((await get(url, { auth: 'prometheus:scrape-secret' })).status).toBe(200);
    }, 60_000);

    it('with RequireAndVerifyClientCert, only a client holding a certificate of the CA gets through', async () => {
      await writeFile(
        join(dir, 'mtls.yml'),
        `tls_server_config:\n  cert_file: ${join(dir, 'server.crt')}\n  key_file: ${join(dir, 'server.key')}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n`,
      );
      const exporter = await startExporter([...TARGET, '--web-config-file', join(dir, 'mtls.yml')]);
      started.push(exporter);
      const url = `https://127.0.0.1:${exporter.port}/metrics`;
      expect((await get(url, { ca, cert: clientCert, key: clientKey })).status).toBe(200);
      const without = await get(url, { ca });
      expect(without.status).toBeUndefined();
      expect(without.error).toBeDefined();
      const old = await get(url, { ca, cert: clientCert, key: clientKey, maxVersion: 'TLSv1.2' });
      expect(old.status).toBeUndefined();
    }, 30_000);

    it('with VerifyClientCertIfGiven, no certificate passes, one of the CA passes, one of another CA is refused', async () => {
      const other = ['-days', '2', '-nodes', '-newkey', 'rsa:2048'];
      await ssl([
        'req',
        '-x509',
        ...other,
        '-subj',
        '/CN=other CA',
        '-keyout',
        'other-ca.key',
        '-out',
        'other-ca.crt',
      ]);
      await ssl([
        'req',
        ...other.slice(2),
        '-subj',
        '/CN=intruder',
        '-keyout',
        'intruder.key',
        '-out',
        'intruder.csr',
      ]);
      await ssl([
        'x509',
        '-req',
        '-in',
        'intruder.csr',
        '-CA',
        'other-ca.crt',
        '-CAkey',
        'other-ca.key',
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        'client.ext',
        '-out',
        'intruder.crt',
      ]);
      const { readFile } = await import('node:fs/promises');
      const intruderCert = await readFile(join(dir, 'intruder.crt'));
      const intruderKey = await readFile(join(dir, 'intruder.key'));
      const base =
        'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n';
      await writeFile(join(dir, 'given.yml'), `${base}  client_ca_file: ca.crt\n`);
      const exporter = await startExporter([
        ...TARGET,
        '--web-config-file',
        join(dir, 'given.yml'),
      ]);
      started.push(exporter);
      const url = `https://127.0.0.1:${exporter.port}/metrics`;
      expect((await get(url, { ca })).status).toBe(200);
      expect((await get(url, { ca, cert: clientCert, key: clientKey })).status).toBe(200);
      const intruder = await get(url, { ca, cert: intruderCert, key: intruderKey });
      expect(intruder.status).toBe(403);
      // The verify modes need the CA to verify against.
      await writeFile(join(dir, 'given-no-ca.yml'), base);
      const r = await run(process.execPath, [
        BIN,
        'exporter',
        ...TARGET,
        '--listen',
        '127.0.0.1:0',
        '--web-config-file',
        join(dir, 'given-no-ca.yml'),
      ]);
      expect(r.exitCode).toBe(2);
      expect(r.output).toContain(
        'tls_server_config.client_ca_file: is required with VerifyClientCertIfGiven',
      );
    }, 60_000);

    it.skipIf(!htpasswd.available)(
      `accepts the bcrypt hash htpasswd -B writes, as the exporter-toolkit does, and refuses a hash it cannot check at start${htpasswd.reason}`,
      async () => {
        const line = (await run('htpasswd', ['-nbB', '-C', '8', 'prometheus', 'pw'])).output.trim();
        const hash = line.slice(line.indexOf(':') + 1);
        await writeFile(
          join(dir, 'bcrypt.yml'),
          `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${hash}\n`,
        );
        const exporter = await startExporter([
          ...TARGET,
          '--web-config-file',
          join(dir, 'bcrypt.yml'),
        ]);
        started.push(exporter);
        const url = `https://127.0.0.1:${exporter.port}/metrics`;
        expect((await get(url, { ca, auth: 'prometheus:pw' })).status).toBe(200);
        expect((await get(url, { ca, auth: 'prometheus:pw' })).status).toBe(200);
        expect((await get(url, { ca, auth: 'prometheus:pW' })).status).toBe(401);

        await writeFile(
          join(dir, 'bad.yml'),
          `basic_auth_users:\n  prometheus: $2x$08${hash.slice(6)}\n`,
        );
        const r = await run(process.execPath, [
          BIN,
          'exporter',
          ...TARGET,
          '--listen',
          '127.0.0.1:0',
          '--web-config-file',
          join(dir, 'bad.yml'),
        ]);
        expect(r.exitCode).toBe(2);
        expect(r.output).toContain(
          `--web-config-file: [${join(dir, 'bad.yml')}] basic_auth_users.prometheus: is a '$2x$' bcrypt hash`,
        );
      },
      30_000,
    );
  },
);
