import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  type ApacheProxyFcgiInput,
  type NginxConfOptions,
  type NginxFastcgiInput,
  parsePhpIni,
  renderApacheProxyFcgi,
  renderNginxConf,
  renderPhpIni,
} from '../../src/web/index.js';
import { nginxBinary } from '../support/integration.js';
import { apacheStatements, nginxStatements, type Statement, shape } from './config-tokens.js';
import { apacheBinary, apacheTest, nginxConfTest, phpCliBinary, phpIniGet } from './servers.js';

/** Runs against real servers use a fixed seed so CI checks the same cases; set FPMKIT_SEED to explore. */
const SEED = Number(process.env.FPMKIT_SEED ?? 20261121);

/** Characters that end values, lines, directives or blocks in one syntax or another. */
const NASTY = [
  ';',
  '{',
  '}',
  '"',
  "'",
  '\\',
  '\n',
  '\r',
  '\0',
  '#',
  '$',
  '<',
  '>',
  '|',
  '=',
  ' ',
  '\t',
  '${',
  '%',
  '[',
  ']',
  '`',
  '\u2028',
  '\u0085',
  '\\"',
  '\\\n',
  '*/',
  'a',
  '/',
  '.',
  '-',
  '1',
];
const fuzz = fc.oneof(
  fc.string({ unit: fc.constantFrom(...NASTY), maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ maxLength: 24 }),
);
/** Fuzz, sometimes with a leading `/` so that path rules let more of it through to rendering. */
const fuzzPath = fc.oneof(
  fuzz,
  fuzz.map((s) => `/${s}`),
);

/** Values of every statement, flattened, to find where a value landed. */
const values = (statements: readonly Statement[]) => statements.flatMap((s) => [s.name, ...s.args]);

const BASE_NGINX: NginxFastcgiInput = {
  upstream: {
    name: 'php_fpm',
    servers: [{ socketPath: '/run/php/www.sock' }, { host: '127.0.0.1', port: 9000 }],
    keepalive: 8,
  },
  locationRegex: '\\.php$',
  splitPathInfo: '^(.+?\\.php)(/.*)$',
  scriptFilename: '$document_root$fastcgi_script_name',
  include: 'fastcgi_params',
  params: { HTTP_PROXY: 'x' },
  readTimeoutSeconds: 60,
  status: { path: '/status', allow: ['127.0.0.1'] },
  ping: { path: '/ping', allow: ['127.0.0.1'] },
};
const BASE_CONF: NginxConfOptions = {
  documentRoot: '/srv/www',
  pidPath: 'nginx.pid',
  errorLogPath: 'error.log',
  accessLogPath: 'access.log',
  tempDir: '.',
  serverName: 'example.org',
  user: 'www-data',
  listen: '127.0.0.1:8080',
};

type NginxCase = {
  option: string;
  arb: fc.Arbitrary<string>;
  apply: (v: string) => [NginxFastcgiInput, NginxConfOptions];
};
const nginxField = (
  option: string,
  arb: fc.Arbitrary<string>,
  settings: (v: string) => NginxFastcgiInput,
): NginxCase => ({ option, arb, apply: (v) => [settings(v), BASE_CONF] });
const confField = (option: keyof NginxConfOptions): NginxCase => ({
  option: `options.${option}`,
  arb: fuzzPath,
  apply: (v) => [BASE_NGINX, { ...BASE_CONF, [option]: v }],
});
const up = BASE_NGINX.upstream;

const NGINX_CASES: NginxCase[] = [
  nginxField('upstream.servers[0].socketPath', fuzzPath, (v) => ({
    ...BASE_NGINX,
    upstream: { ...up, servers: [{ socketPath: v }, ...up.servers.slice(1)] },
  })),
  nginxField('upstream.servers[0].host', fuzz, (v) => ({
    ...BASE_NGINX,
    upstream: { ...up, servers: [{ host: v, port: 9000 }, ...up.servers.slice(1)] },
  })),
  nginxField('upstream.name', fuzz, (v) => ({ ...BASE_NGINX, upstream: { ...up, name: v } })),
  nginxField('locationRegex', fuzz, (v) => ({ ...BASE_NGINX, locationRegex: v })),
  nginxField('splitPathInfo', fuzz, (v) => ({ ...BASE_NGINX, splitPathInfo: v })),
  nginxField('scriptFilename', fuzzPath, (v) => ({ ...BASE_NGINX, scriptFilename: v })),
  nginxField('include', fuzzPath, (v) => ({ ...BASE_NGINX, include: v })),
  nginxField('params.HTTP_PROXY', fuzz, (v) => ({ ...BASE_NGINX, params: { HTTP_PROXY: v } })),
  nginxField('params', fuzz, (v) => ({ ...BASE_NGINX, params: { [v]: 'x' } })),
  nginxField('status.path', fuzzPath, (v) => ({
    ...BASE_NGINX,
    status: { path: v, allow: ['127.0.0.1'] },
  })),
  nginxField('ping.path', fuzzPath, (v) => ({
    ...BASE_NGINX,
    ping: { path: v, allow: ['127.0.0.1'] },
  })),
  nginxField('status.allow[0]', fuzz, (v) => ({
    ...BASE_NGINX,
    status: { path: '/status', allow: [v] },
  })),
  confField('documentRoot'),
  confField('pidPath'),
  confField('errorLogPath'),
  confField('accessLogPath'),
  confField('tempDir'),
  confField('serverName'),
  confField('user'),
  confField('listen'),
];

/** Renders; returns the text, or undefined when the renderer refused with the right error. */
function tryRender<T>(option: string, render: () => T): T | undefined {
  try {
    return render();
  } catch (error) {
    expect(isFpmkitError(error), String(error)).toBe(true);
    expect((error as { code: string }).code).toBe('FPMKIT_INVALID_OPTION');
    // Record keys are reported under their own path (`params.<key>`).
    expect((error as { option: string }).option.startsWith(option)).toBe(true);
    return undefined;
  }
}

const FUZZ_RUNS = 300;

describe('fuzzed strings never add an nginx directive or block', () => {
  const baseShape = shape(nginxStatements(renderNginxConf(BASE_NGINX, BASE_CONF)));
  for (const c of NGINX_CASES) {
    it(`${c.option}`, () => {
      fc.assert(
        fc.property(c.arb, (v) => {
          const [settings, options] = c.apply(v);
          const text = tryRender(c.option, () => renderNginxConf(settings, options));
          if (text === undefined) return;
          const statements = nginxStatements(text);
          expect(shape(statements), text).toEqual(baseShape);
          // The value is still there, whole, inside one word.
          expect(values(statements).some((w) => w.includes(v))).toBe(true);
        }),
        { numRuns: FUZZ_RUNS },
      );
    });
  }
});

const BASE_APACHE: ApacheProxyFcgiInput = {
  backend: { socketPath: '/run/php/www.sock' },
  workerName: 'www',
  filesMatch: '\\.php$',
  proxySetTimeoutSeconds: 60,
  proxyTimeoutSeconds: 60,
  timeoutSeconds: 60,
  mpmEvent: { serverLimit: 4, threadsPerChild: 25, maxRequestWorkers: 100 },
};
const APACHE_CASES: {
  option: string;
  arb: fc.Arbitrary<string>;
  apply: (v: string) => ApacheProxyFcgiInput;
}[] = [
  {
    option: 'backend',
    arb: fuzzPath,
    apply: (v) => ({ ...BASE_APACHE, backend: { socketPath: v } }),
  },
  {
    option: 'backend',
    arb: fuzz,
    apply: (v) => ({ ...BASE_APACHE, backend: { host: v, port: 9000 } }),
  },
  { option: 'workerName', arb: fuzz, apply: (v) => ({ ...BASE_APACHE, workerName: v }) },
  { option: 'filesMatch', arb: fuzz, apply: (v) => ({ ...BASE_APACHE, filesMatch: v }) },
];

describe('fuzzed strings never add an Apache directive or section', () => {
  const baseShape = shape(apacheStatements(renderApacheProxyFcgi(BASE_APACHE).all));
  for (const c of APACHE_CASES) {
    it(`${c.option} (${c.arb === fuzzPath ? 'path' : 'text'})`, () => {
      fc.assert(
        fc.property(c.arb, (v) => {
          const r = tryRender(c.option, () => renderApacheProxyFcgi(c.apply(v)));
          if (r === undefined) return;
          const statements = apacheStatements(r.all);
          expect(shape(statements), r.all).toEqual(baseShape);
          expect(values(statements).some((w) => w.includes(v))).toBe(true);
        }),
        { numRuns: FUZZ_RUNS },
      );
    });
  }
});

describe('fuzzed strings never add a php.ini line', () => {
  it('opcache.preload', () => {
    const base = { memoryLimitBytes: 128 * 1024 * 1024, opcache: { enable: true, preload: '/a' } };
    const baseNames = renderPhpIni(base)
      .trimEnd()
      .split('\n')
      .map((l) => l.slice(0, l.indexOf(' = ')));
    fc.assert(
      fc.property(fuzzPath, (v) => {
        const text = tryRender('opcache.preload', () =>
          renderPhpIni({ ...base, opcache: { enable: true, preload: v } }),
        );
        if (text === undefined) return;
        const lines = text.split(/\r?\n|\r/).filter((l) => l !== '');
        expect(lines.map((l) => l.slice(0, l.indexOf(' = ')))).toEqual(baseNames);
        expect(parsePhpIni(text).settings.opcache?.preload).toBe(v);
      }),
      { numRuns: FUZZ_RUNS },
    );
  });
});

/** Errors nginx reports when the structure of a file is wrong, as opposed to a bad value. */
const NGINX_STRUCTURE_ERRORS =
  /unknown directive|unexpected "[;{}]"|unexpected end of file|is not allowed here|invalid number of arguments|is duplicate|unexpected quote/;

const REAL_RUNS = 150;
const nginxReq = nginxBinary();
describe.skipIf(!nginxReq.available)(`fuzzed nginx values under nginx -t${nginxReq.reason}`, () => {
  it(`never breaks the structure (${REAL_RUNS} renders checked by nginx -t)`, async () => {
    let checked = 0;
    let accepted = 0;
    const cases = NGINX_CASES.filter((c) => c.option !== 'include');
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 0, max: cases.length - 1 })
          .chain((n) => cases[n]!.arb.map((v) => [cases[n]!, v] as const)),
        async ([c, v]) => {
          const [withInclude, options] = c.apply(v);
          // The base's include names a file that does not exist in nginx's scratch prefix.
          const { include: _, ...settings } = withInclude;
          const text = tryRender(c.option, () => renderNginxConf(settings, options));
          if (text === undefined) return;
          const result = await nginxConfTest(text);
          checked++;
          if (result.ok) accepted++;
          // A value may be wrong for nginx (an unknown $variable, a bad regex), but it must
          // never change the structure.
          expect(result.output, text).not.toMatch(NGINX_STRUCTURE_ERRORS);
        },
      ),
      { numRuns: REAL_RUNS, seed: SEED },
    );
    console.log(`nginx -t on fuzzed renders: ${checked} checked, ${accepted} accepted`);
  }, 300_000);
});

const APACHE_STRUCTURE_ERRORS =
  /Invalid command|without matching|Expected <\/|was not closed|takes \w+ argument|unexpected/i;
/** Failures about a value (a regex JavaScript accepts but PCRE does not), not the structure. */
const APACHE_VALUE_ERRORS = /Regex could not be compiled/;

const apacheReq = apacheBinary();
describe.skipIf(!apacheReq.available)(
  `fuzzed Apache values under apache2 -t${apacheReq.reason}`,
  () => {
    it(`never breaks the structure (${REAL_RUNS} renders checked by apache2 -t)`, async () => {
      let checked = 0;
      await fc.assert(
        fc.asyncProperty(
          fc
            .integer({ min: 0, max: APACHE_CASES.length - 1 })
            .chain((n) => APACHE_CASES[n]!.arb.map((v) => [APACHE_CASES[n]!, v] as const)),
          async ([c, v]) => {
            const r = tryRender(c.option, () => renderApacheProxyFcgi(c.apply(v)));
            if (r === undefined) return;
            const result = await apacheTest(r.all);
            checked++;
            expect(result.output, r.all).not.toMatch(APACHE_STRUCTURE_ERRORS);
            if (!result.ok) expect(result.output, r.all).toMatch(APACHE_VALUE_ERRORS);
          },
        ),
        { numRuns: REAL_RUNS, seed: SEED },
      );
      console.log(`apache2 -t on fuzzed renders: ${checked} checked`);
    }, 300_000);
  },
);

const phpReq = phpCliBinary();
describe.skipIf(!phpReq.available)(`fuzzed php.ini values under php -n -c${phpReq.reason}`, () => {
  it(`reads the preload path back whole (${REAL_RUNS} files)`, async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fuzzPath, async (v) => {
        const text = tryRender('opcache.preload', () =>
          renderPhpIni({ maxFileUploads: 3, opcache: { preload: v } }),
        );
        if (text === undefined) return;
        const got = await phpIniGet(text, ['opcache.preload', 'max_file_uploads']);
        checked++;
        expect(got.ini['opcache.preload']).toBe(v);
        expect(got.ini.max_file_uploads).toBe('3');
      }),
      { numRuns: REAL_RUNS, seed: SEED },
    );
    console.log(`php -n -c on fuzzed preload paths: ${checked} checked`);
  }, 300_000);
});
