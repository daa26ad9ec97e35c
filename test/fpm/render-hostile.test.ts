import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import {
  checkFpmConfig,
  type FpmConfig,
  parseFpmConfig,
  renderFpmConfig,
  renderGlobal,
  renderPool,
} from '../../src/fpm/index.js';
import { PHP_FPM_CONSTANTS } from '../../src/fpm/php-constants.js';
import { emptyPool } from '../../src/fpm/schema.js';
import { phpFpmBinary } from '../support/integration.js';
import { phpFpmTest, type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const fpm = phpFpmBinary();

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectRefused(f: () => unknown, option: string) {
  const error = thrown(f);
  expect(error, 'the value was rendered').toBeInstanceOf(FpmkitInvalidOptionError);
  expect((error as FpmkitInvalidOptionError).option).toBe(option);
}

function basePool(name = 'www') {
  const pool = emptyPool(name);
  pool.listen.address = '/run/php/www.sock';
  pool.pm.mode = 'static';
  pool.pm.maxChildren = 1;
  return pool;
}

/** The environment of a worker of `pool`, as getenv() returns it there. */
async function workerEnv(started: StartedFpm, pool: string): Promise<Record<string, string>> {
  const res = await new FastCGIClient(started.pool(pool).target).request({
    params: {
      SCRIPT_FILENAME: `${started.wwwDir}/env.php`,
      SCRIPT_NAME: '/env.php',
      REQUEST_METHOD: 'GET',
    },
  });
  return JSON.parse(res.body.toString()) as Record<string, string>;
}
const ENV_SCRIPT = { 'env.php': '<?php echo json_encode(getenv(), JSON_INVALID_UTF8_SUBSTITUTE);' };

describe('env values that FPM reads as the master environment', () => {
  it.each(['$FPMKIT_SECRET', '$HOME', '$', '$pool', '${HOME}', '$1'])(
    'refuses %s, naming the entry',
    (value) => {
      const pool = basePool();
      pool.env.LEAK = value;
      expectRefused(() => renderPool(pool), 'pool.env[LEAK]');
      expectRefused(() => renderPool(pool, { allowPoolVariable: true }), 'pool.env[LEAK]');
    },
  );
  it('renders a $ after the first character, which FPM keeps', () => {
    const pool = basePool();
    pool.env.PRICE = 'costs $5';
    expect(renderPool(pool)).toContain('env[PRICE] = "costs \\$5"');
  });
});

describe.skipIf(!fpm.available)(`env[...] = "$NAME" against a real master${fpm.reason}`, () => {
  let started: StartedFpm | undefined;
  afterAll(async () => {
    await started?.stop();
  });

  it('hands the worker the master variable for the line fpmkit used to write', {
    timeout: 30_000,
  }, async () => {
    const secret = `s3cret-${randomBytes(6).toString('hex')}`;
    // The line renderPool wrote for env.LEAK = '$FPMKIT_SECRET' before it refused such values.
    const written = 'env[LEAK] = "\\$FPMKIT_SECRET"';
    started = await startPhpFpm({
      pools: [{ name: 'leak', directives: `${written}\nenv[PLAIN] = "x"\n` }],
      scripts: ENV_SCRIPT,
      env: { FPMKIT_SECRET: secret },
    });
    const env = await workerEnv(started, 'leak');
    expect(env.PLAIN).toBe('x');
    // clear_env is on: the only way the secret gets here is FPM's "$" rule.
    expect(env.FPMKIT_SECRET).toBeUndefined();
    expect(env.LEAK).toBe(secret);
    const pool = basePool();
    pool.env.LEAK = '$FPMKIT_SECRET';
    expectRefused(() => renderPool(pool), 'pool.env[LEAK]');
  });
});

describe('array keys that FPM replaces with a PHP constant', () => {
  it.each([
    ['phpAdminValue', 'php_admin_value', 'E_ALL'],
    ['env', 'env', 'PHP_OS'],
    ['env', 'env', 'LC_ALL'],
    ['phpValue', 'php_value', 'true'],
    ['phpValue', 'php_value', 'TRUE'],
    ['phpValue', 'php_value', 'null'],
    ['phpValue', 'php_value', 'Null'],
    ['phpFlag', 'php_flag', 'false'],
    ['phpAdminFlag', 'php_admin_flag', 'PHP_INT_MAX'],
    ['env', 'env', 'PHP_EOL'],
    ['env', 'env', 'M_PI'],
  ] as const)('refuses %s key %s, naming the entry', (field, directive, key) => {
    const pool = basePool();
    (pool[field] as Record<string, string | boolean>)[key] =
      field === 'phpFlag' || field === 'phpAdminFlag' ? true : '1';
    expectRefused(() => renderPool(pool), `pool.${directive}[${key}]`);
  });
  it.each(['on', 'off', 'yes', 'none', 'memory_limit', 'APP_ENV', 'E_ALLX', 'php_os'])(
    'renders key %s, which FPM keeps',
    (key) => {
      const pool = basePool();
      pool.env[key] = 'v';
      expect(parseFpmConfig(renderPool(pool)).config.pools[0]!.env).toEqual({ [key]: 'v' });
    },
  );
});

/** Names to try as array keys: every constant, the special words in many cases, and others. */
function keyTable(): string[] {
  const words = ['true', 'false', 'null', 'on', 'off', 'yes', 'no', 'none'];
  const cases = (w: string) => [
    w,
    w.toUpperCase(),
    w[0]!.toUpperCase() + w.slice(1),
    [...w].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join(''),
  ];
  const others = ['memory_limit', 'APP_ENV', 'PATH', 'E_ALLX', 'e_all', 'Php_os', '_', 'X1'];
  const prefixed = ['PHP_', 'E_', 'M_', 'SORT_', 'LC_'].map((p) => `${p}FPMKIT_NOPE`);
  return [
    ...new Set([
      ...Object.keys(PHP_FPM_CONSTANTS),
      ...words.flatMap(cases),
      ...others,
      ...prefixed,
    ]),
  ];
}

describe.skipIf(!fpm.available)(`array keys as php-fpm8.2 reads them${fpm.reason}`, () => {
  it('parseFpmConfig reads every key of a 1,300-name table as php-fpm -tt prints it', {
    timeout: 60_000,
  }, async () => {
    const names = keyTable();
    // Keys FPM reads as empty make the whole file fail; they are checked one by one below.
    const emptied = names.filter((n) => parseKey(n) === '');
    const batch = names.filter((n) => !emptied.includes(n));
    const lines = batch.map((n, i) => `env[${n}] = "${i}"`);
    const text = `[global]\nerror_log = /dev/null\n[www]\nlisten = /tmp/fpmkit-never.sock\npm = static\npm.max_children = 1\n${lines.join('\n')}\n`;
    const real = await phpFpmTest(text, { tt: true, allowRoot: true });
    expect(real.exitCode, real.output).toBe(0);
    const printed = new Map<string, string>();
    for (const m of real.output.matchAll(/NOTICE: \tenv\[([\s\S]*?)\] = (\d+)\n/g)) {
      if (!printed.has(m[1]!)) printed.set(m[1]!, m[2]!);
    }
    // The parser keeps the first entry of a key, as FPM applies the first.
    const first = new Map<string, string>();
    for (const m of real.output.matchAll(/NOTICE: \tenv\[([\s\S]*?)\] = (\d+)\n/g)) {
      const key = m[1]!;
      const prev = first.get(key);
      if (prev === undefined || Number(m[2]) < Number(prev)) first.set(key, m[2]!);
    }
    const parsed = parseFpmConfig(text).config.pools[0]!.env;
    expect(Object.keys(parsed).sort()).toEqual([...first.keys()].sort());
    for (const [key, index] of first) expect(parsed[key], `key '${key}'`).toBe(index);
    const replaced = batch.filter((n) => !first.has(n));
    console.log(
      `array keys: ${names.length} names, ${replaced.length + emptied.length} replaced by php-fpm (${emptied.length} emptied), parser agrees on all`,
    );
    expect(replaced.length).toBeGreaterThan(1000);
  });

  it.each([
    'null',
    'NULL',
    'nUlL',
    'false',
    'FALSE',
    'False',
    'PHP_EXTRA_VERSION',
    'ZEND_DEBUG_BUILD',
  ])('checkFpmConfig refuses env[%s] as php-fpm -t does (an empty key)', async (key) => {
    const text = `[global]\nerror_log = /dev/null\n[www]\nlisten = /tmp/fpmkit-never.sock\npm = static\npm.max_children = 1\nenv[${key}] = "x"\n`;
    const real = await phpFpmTest(text, { allowRoot: true, fileName: 'k.conf' });
    expect(real.exitCode).toBe(78);
    // FPM names the file by its full path; checkFpmConfig by the path it was given.
    const messages = real.messages.map((m) => m.replace(/\[\/\S*\/k\.conf:/, '[k.conf:'));
    const check = checkFpmConfig(text, { path: 'k.conf', allowRoot: true });
    expect(check.ok).toBe(false);
    const first = check.findings.find((f) => f.severity === 'error')!;
    expect(messages).toContain(first.evidence?.fpmMessage);
    expect(first.message).toBe("[k.conf:7] You must provide a key for field 'env'");
  });
});

/** The key parseFpmConfig makes of `env[name]`. */
function parseKey(name: string): string | undefined {
  const r = parseFpmConfig(`[www]\nenv[${name}] = "x"\n`);
  return Object.keys(r.config.pools[0]!.env)[0] ?? (r.findings.length > 0 ? '' : undefined);
}

/** Every string-valued place of renderPool/renderFpmConfig, as a setter on a fresh model. */
type Setter = (c: FpmConfig, v: string) => void;
/** 'key' values become names (pool names, array keys); 'value' values are quoted strings. */
const STRING_FIELDS: [string, 'key' | 'value', Setter][] = [
  ['global.pid', 'value', (c, v) => (c.global.pid = v)],
  ['global.errorLog', 'value', (c, v) => (c.global.errorLog = v)],
  ['global.syslog.ident', 'value', (c, v) => (c.global.syslog.ident = v)],
  ['global.eventsMechanism', 'value', (c, v) => (c.global.eventsMechanism = v)],
  ['pools[0].name', 'key', (c, v) => (c.pools[0]!.name = v)],
  ['pools[0].prefix', 'value', (c, v) => (c.pools[0]!.prefix = v)],
  ['pools[0].user', 'value', (c, v) => (c.pools[0]!.user = v)],
  ['pools[0].group', 'value', (c, v) => (c.pools[0]!.group = v)],
  ['pools[0].listen.address', 'value', (c, v) => (c.pools[0]!.listen.address = v)],
  ['pools[0].listen.owner', 'value', (c, v) => (c.pools[0]!.listen.owner = v)],
  ['pools[0].listen.group', 'value', (c, v) => (c.pools[0]!.listen.group = v)],
  ['pools[0].listen.aclUsers', 'value', (c, v) => (c.pools[0]!.listen.aclUsers = [v])],
  ['pools[0].listen.aclGroups', 'value', (c, v) => (c.pools[0]!.listen.aclGroups = [v])],
  ['pools[0].listen.allowedClients', 'value', (c, v) => (c.pools[0]!.listen.allowedClients = [v])],
  ['pools[0].pm.statusPath', 'value', (c, v) => (c.pools[0]!.pm.statusPath = v)],
  ['pools[0].pm.statusListen', 'value', (c, v) => (c.pools[0]!.pm.statusListen = v)],
  ['pools[0].ping.path', 'value', (c, v) => (c.pools[0]!.ping.path = v)],
  ['pools[0].ping.response', 'value', (c, v) => (c.pools[0]!.ping.response = v)],
  ['pools[0].access.log', 'value', (c, v) => (c.pools[0]!.access.log = v)],
  ['pools[0].access.format', 'value', (c, v) => (c.pools[0]!.access.format = v)],
  ['pools[0].access.suppressPaths', 'value', (c, v) => (c.pools[0]!.access.suppressPaths = [v])],
  ['pools[0].slowlog', 'value', (c, v) => (c.pools[0]!.slowlog = v)],
  ['pools[0].chroot', 'value', (c, v) => (c.pools[0]!.chroot = v)],
  ['pools[0].chdir', 'value', (c, v) => (c.pools[0]!.chdir = v)],
  [
    'pools[0].securityLimitExtensions',
    'value',
    (c, v) => (c.pools[0]!.securityLimitExtensions = [v]),
  ],
  ['pools[0].apparmorHat', 'value', (c, v) => (c.pools[0]!.apparmorHat = v)],
  ['pools[0].env', 'key', (c, v) => (c.pools[0]!.env[v] = 'x')],
  ['pools[0].env', 'value', (c, v) => (c.pools[0]!.env.X = v)],
  ['pools[0].php_value', 'key', (c, v) => (c.pools[0]!.phpValue[v] = 'x')],
  ['pools[0].php_value', 'value', (c, v) => (c.pools[0]!.phpValue.memory_limit = v)],
  ['pools[0].php_admin_value', 'key', (c, v) => (c.pools[0]!.phpAdminValue[v] = 'x')],
  ['pools[0].php_admin_value', 'value', (c, v) => (c.pools[0]!.phpAdminValue.error_log = v)],
  ['pools[0].php_flag', 'key', (c, v) => (c.pools[0]!.phpFlag[v] = true)],
  ['pools[0].php_admin_flag', 'key', (c, v) => (c.pools[0]!.phpAdminFlag[v] = false)],
];

const CONSTANT_NAMES = ['E_ALL', 'PHP_OS', 'true', 'NULL', 'False', 'LC_ALL', 'M_PI', 'on', 'none'];
const PIECES = [
  ...'aZ09_-./:@ ',
  ...'\t\n\r\0\u000b\u000c\u001b\u007f\u0085\u00a0\u2028\u2029\uFEFF',
  ...'"\'\\$;=#[]{}()~!&|^*?%,<>`',
  '\uD800',
  '\uDC00',
  '\uD83D\uDE00',
  'é',
  '${HOME}',
  '${FPMKIT_SECRET}',
  '$pool',
  '$HOME',
  ...CONSTANT_NAMES,
];
const hostile = fc.oneof(
  fc.string({ unit: fc.constantFrom(...PIECES), maxLength: 12 }),
  fc.constantFrom(...CONSTANT_NAMES, '$FPMKIT_SECRET', '${FPMKIT_SECRET}', '"', '\\', 'x\\'),
);

describe('renderPool/renderFpmConfig: hostile values in every string field', () => {
  it.each([
    ['an unpaired surrogate', 'a\uD800b'],
    ['a lone low surrogate', '\uDC00'],
    ['a Unicode line separator', 'a\u2028b'],
    ['a paragraph separator', 'a\u2029b'],
    ['a C1 control', 'a\u0085b'],
    ['an escape character', '\u001b[31m'],
    ['DEL', 'a\u007f'],
    ['a vertical tab', 'a\u000bb'],
  ])('refuses %s in every field, naming it', (_what, value) => {
    for (const [option, , set] of STRING_FIELDS) {
      const config: FpmConfig = { global: parseFpmConfig('').config.global, pools: [basePool()] };
      set(config, value);
      const error = thrown(() => renderFpmConfig(config));
      expect(error, option).toBeInstanceOf(FpmkitInvalidOptionError);
      expect((error as FpmkitInvalidOptionError).option.startsWith(option), option).toBe(true);
    }
    expectRefused(() => renderGlobal({ syslog: { ident: value } }), 'global.syslog.ident');
  });
});

const counts = { refused: 0, rendered: 0, verifiedTt: 0, distinct: 0, verifiedWorker: 0 };

describe.skipIf(!fpm.available)(
  `hostile values, checked by php-fpm8.2 -tt and a worker's getenv${fpm.reason}`,
  () => {
    let started: StartedFpm | undefined;
    afterAll(async () => {
      await started?.stop();
      console.log(
        `renderPool/renderFpmConfig: ${counts.refused + counts.rendered} field values, ${counts.refused} refused, ${counts.rendered} rendered and parsed back exactly, ${counts.verifiedTt} verified by php-fpm -tt (${counts.distinct} distinct values in one file), ${counts.verifiedWorker} env values read back by a worker's getenv`,
      );
    });

    it('refuses each value naming the field, or FPM reads exactly that value (600 values)', {
      timeout: 120_000,
    }, async () => {
      const samples = fc.sample(fc.tuple(fc.nat({ max: STRING_FIELDS.length - 1 }), hostile), {
        numRuns: 600,
        seed: 42,
      });
      const values: string[] = [];
      const keys: string[] = [];
      const names: string[] = [];
      const rendered: [string, string][] = [];
      /** Values php-fpm -tt printed back unchanged, by where they went. */
      const confirmed = new Set<string>();
      for (const [fieldIndex, value] of samples) {
        const [option, kind, set] = STRING_FIELDS[fieldIndex]!;
        const config: FpmConfig = { global: parseFpmConfig('').config.global, pools: [basePool()] };
        set(config, value);
        let text: string;
        try {
          // What is tested here is how each value is written; FPM's own rules for the field
          // (a status path must start with '/') are beside the point: the value goes into
          // php_value and env entries below, where FPM takes any text.
          text = renderFpmConfig(config, { allowRefused: true });
        } catch (error) {
          expect(error, option).toBeInstanceOf(FpmkitInvalidOptionError);
          expect((error as FpmkitInvalidOptionError).option.startsWith(option), option).toBe(true);
          counts.refused++;
          continue;
        }
        counts.rendered++;
        const parsed = parseFpmConfig(text, { path: 'fuzz.conf' });
        expect(parsed.findings.filter((f) => f.severity === 'error')).toEqual([]);
        expect(parsed.config).toEqual(config);
        // The value as it reaches FPM: keys go into env[] and php_value[] keys, every other
        // value into an env[] and a php_value[] value, all in one pool.
        const where = option === 'pools[0].name' ? 'name' : kind;
        rendered.push([where, value]);
        if (where === 'name') names.push(value);
        else if (where === 'key') keys.push(value);
        else if (!values.includes(value)) values.push(value);
      }
      const pool = basePool('batch');
      pool.listen.address = '/tmp/fpmkit-never.sock';
      values.forEach((v, i) => {
        pool.phpValue[`v${i}`] = v;
        if (v !== '' && !v.startsWith('$')) pool.env[`V${i}`] = v;
      });
      for (const k of new Set(keys)) pool.phpAdminValue[k] = 'key';
      const others = [...new Set(names.filter((n) => n.toLowerCase() !== 'batch'))].map((n, i) => {
        const p = basePool(n);
        p.listen.address = `/tmp/fpmkit-never-${i}.sock`;
        return p;
      });
      const text = renderFpmConfig({ global: { errorLog: '/dev/null' }, pools: [pool, ...others] });
      const real = await phpFpmTest(text, { tt: true, allowRoot: true });
      expect(real.exitCode, real.output).toBe(0);
      const dumped = (name: string) =>
        new Map(
          [
            ...real.output.matchAll(
              new RegExp(`NOTICE: \\t${name}\\[([^\\]\\n]*)\\] = (.*)\\n`, 'g'),
            ),
          ].map((m) => [m[1]!, m[2]!]),
        );
      const phpValues = dumped('php_value');
      const adminValues = dumped('php_admin_value');
      for (const [i, v] of values.entries()) {
        expect(phpValues.get(`v${i}`), JSON.stringify(v)).toBe(v);
        confirmed.add(`value:${v}`);
      }
      for (const k of new Set(keys)) {
        expect(adminValues.get(k), JSON.stringify(k)).toBe('key');
        confirmed.add(`key:${k}`);
      }
      for (const p of others) {
        expect(real.output, p.name).toContain(`NOTICE: [${p.name}]\n`);
        confirmed.add(`name:${p.name}`);
      }
      counts.verifiedTt = rendered.filter(([w, v]) => confirmed.has(`${w}:${v}`)).length;
      counts.distinct = confirmed.size;
      // A worker's environment: the values as the PHP code of the pool sees them.
      const envLines = Object.entries(pool.env)
        .map(([k, v]) =>
          renderPool({ ...basePool(), env: { [k]: v } })
            .split('\n')
            .find((l) => l.startsWith('env[')),
        )
        .join('\n');
      started = await startPhpFpm({
        pools: [{ name: 'envs', directives: envLines }],
        scripts: ENV_SCRIPT,
        env: { FPMKIT_SECRET: 'must-not-leak', HOME: '/root' },
      });
      const env = await workerEnv(started, 'envs');
      for (const [k, v] of Object.entries(pool.env)) {
        expect(env[k], JSON.stringify(v)).toBe(v);
        counts.verifiedWorker++;
      }
      expect(JSON.stringify(env)).not.toContain('must-not-leak');
      expect(counts.refused + counts.rendered).toBe(600);
      // Every rendered value reached php-fpm, except a second pool named 'batch'.
      expect(counts.verifiedTt).toBeGreaterThanOrEqual(counts.rendered - 2);
      expect(counts.rendered).toBeGreaterThanOrEqual(300);
    });
  },
);
