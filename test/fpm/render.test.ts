import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitFpmRefusedError, FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  type FpmConfig,
  type FpmConfigInput,
  parseFpmConfig,
  renderFpmConfig,
  renderPool,
} from '../../src/fpm/index.js';
import { emptyPool } from '../../src/fpm/schema.js';
import { phpFpmBinary } from '../support/integration.js';
import { phpFpmTest } from '../support/php-fpm.js';
import { run } from '../support/process.js';
import { configArb } from './arbitraries.js';

const fpm = phpFpmBinary();

describe('renderFpmConfig', () => {
  it('round-trips: parse(render(model)) is the model, with no findings (1,000 models)', {
    timeout: 120_000,
  }, () => {
    fc.assert(
      fc.property(configArb('/srv/fpm'), (model) => {
        const text = renderFpmConfig(model);
        const parsed = parseFpmConfig(text, { path: 'rendered.conf' });
        expect(parsed.findings.filter((f) => f.severity === 'error')).toEqual([]);
        expect(parsed.config).toEqual(model);
      }),
      { numRuns: 1000 },
    );
  });

  it('renders directives in FPM order, quoting strings', () => {
    const pool = emptyPool('www');
    pool.listen.address = '/run/php/www.sock';
    pool.listen.mode = 0o660;
    pool.pm.mode = 'dynamic';
    pool.pm.maxChildren = 10;
    pool.ping.response = 'say "hi"; $x';
    pool.phpAdminValue.memory_limit = '256M';
    pool.phpFlag.display_errors = false;
    expect(renderPool(pool)).toBe(
      [
        '[www]',
        'listen = "/run/php/www.sock"',
        'listen.mode = 0660',
        'pm = dynamic',
        'pm.max_children = 10',
        'ping.response = "say \\"hi\\"; \\$x"',
        'php_admin_value[memory_limit] = "256M"',
        'php_flag[display_errors] = off',
        '',
      ].join('\n'),
    );
  });

  it.each([
    [
      'a line break',
      (c: FpmConfig) => (c.pools[0]!.ping.response = 'a\nlisten = /evil'),
      'pools[0].ping.response',
    ],
    ['a NUL byte', (c: FpmConfig) => (c.pools[0]!.user = 'www\0data'), 'pools[0].user'],
    [
      'a bracket in a pool name',
      (c: FpmConfig) => (c.pools[0]!.name = 'www]\n[evil'),
      'pools[0].name',
    ],
    ['the global pool name', (c: FpmConfig) => (c.pools[0]!.name = 'Global'), 'pools[0].name'],
    [
      'a duplicate pool name',
      (c: FpmConfig) => c.pools.push({ ...c.pools[0]!, name: 'WWW' }),
      'pools[1].name',
    ],
    [
      'an unsafe array key',
      (c: FpmConfig) => (c.pools[0]!.phpValue['x] = 1\n[y'] = '1'),
      'pools[0].php_value[x] = 1\n[y]',
    ],
    [
      '$pool without allowPoolVariable',
      (c: FpmConfig) => (c.pools[0]!.slowlog = '/var/log/$pool.slow'),
      'pools[0].slowlog',
    ],
    ['an empty env value', (c: FpmConfig) => (c.pools[0]!.env.X = ''), 'pools[0].env[X]'],
    [
      'a comma inside a list item',
      (c: FpmConfig) => (c.pools[0]!.listen.allowedClients = ['1.2.3.4,5.6.7.8']),
      'pools[0].listen.allowedClients',
    ],
  ])('rejects %s, naming the option', (_what, mutate, option) => {
    const pool = emptyPool('www');
    pool.listen.address = '/run/php/www.sock';
    const config: FpmConfig = { global: parseFpmConfig('').config.global, pools: [pool] };
    mutate(config);
    const error = (() => {
      try {
        renderFpmConfig(config);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
  });

  it('renders $pool on purpose with allowPoolVariable, and FPM substitutes it', () => {
    const pool = emptyPool('shop');
    pool.listen.address = '/run/php/$pool.sock';
    pool.pm.mode = 'static';
    pool.pm.maxChildren = 1;
    const text = renderFpmConfig({ global: {}, pools: [pool] }, { allowPoolVariable: true });
    expect(parseFpmConfig(text).config.pools[0]!.listen.address).toBe('/run/php/shop.sock');
  });
});

/** Every string-valued place a user controls, as a setter on a fresh model. */
const STRING_FIELDS: [string, (c: FpmConfig, v: string) => void][] = [
  ['global.pid', (c, v) => (c.global.pid = v)],
  ['global.errorLog', (c, v) => (c.global.errorLog = v)],
  ['global.syslog.ident', (c, v) => (c.global.syslog.ident = v)],
  ['global.eventsMechanism', (c, v) => (c.global.eventsMechanism = v)],
  ['pool.name', (c, v) => (c.pools[0]!.name = v)],
  ['pool.prefix', (c, v) => (c.pools[0]!.prefix = v)],
  ['pool.user', (c, v) => (c.pools[0]!.user = v)],
  ['pool.group', (c, v) => (c.pools[0]!.group = v)],
  ['pool.listen.address', (c, v) => (c.pools[0]!.listen.address = v)],
  ['pool.listen.owner', (c, v) => (c.pools[0]!.listen.owner = v)],
  ['pool.listen.group', (c, v) => (c.pools[0]!.listen.group = v)],
  ['pool.listen.aclUsers', (c, v) => (c.pools[0]!.listen.aclUsers = [v])],
  ['pool.listen.allowedClients', (c, v) => (c.pools[0]!.listen.allowedClients = [v, '127.0.0.1'])],
  ['pool.pm.statusPath', (c, v) => (c.pools[0]!.pm.statusPath = v)],
  ['pool.pm.statusListen', (c, v) => (c.pools[0]!.pm.statusListen = v)],
  ['pool.ping.path', (c, v) => (c.pools[0]!.ping.path = v)],
  ['pool.ping.response', (c, v) => (c.pools[0]!.ping.response = v)],
  ['pool.access.log', (c, v) => (c.pools[0]!.access.log = v)],
  ['pool.access.format', (c, v) => (c.pools[0]!.access.format = v)],
  ['pool.access.suppressPaths', (c, v) => (c.pools[0]!.access.suppressPaths = [v])],
  ['pool.slowlog', (c, v) => (c.pools[0]!.slowlog = v)],
  ['pool.chroot', (c, v) => (c.pools[0]!.chroot = v)],
  ['pool.chdir', (c, v) => (c.pools[0]!.chdir = v)],
  ['pool.securityLimitExtensions', (c, v) => (c.pools[0]!.securityLimitExtensions = [v])],
  ['pool.apparmorHat', (c, v) => (c.pools[0]!.apparmorHat = v)],
  ['pool.env key', (c, v) => (c.pools[0]!.env[v] = 'x')],
  ['pool.env value', (c, v) => (c.pools[0]!.env.X = v)],
  ['pool.phpValue key', (c, v) => (c.pools[0]!.phpValue[v] = 'x')],
  ['pool.phpValue value', (c, v) => (c.pools[0]!.phpValue.memory_limit = v)],
  ['pool.phpAdminValue value', (c, v) => (c.pools[0]!.phpAdminValue.error_log = v)],
  ['pool.phpFlag key', (c, v) => (c.pools[0]!.phpFlag[v] = true)],
];

describe('injection: fuzzed strings in every string field', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: fc.constantFrom(...'[]\n\r\0"\'\\$;=#{}~!&|^() ax/'), maxLength: 40 }),
    fc.constantFrom(
      'x\n[evil]',
      'a"\nuser = root',
      '${HOME}',
      '\\',
      'v\\',
      '"',
      "'",
      'yes',
      'null',
      'E_ALL',
      '$pool',
      'a;b',
      'a=b',
    ),
  );
  const counts = { rejected: 0, rendered: 0 };
  afterAll(() => {
    console.log(
      `injection: ${counts.rejected} values rejected, ${counts.rendered} rendered and read back exactly`,
    );
  });

  it('are rejected, or render to a file that parses back to exactly that value (5,000 cases)', {
    timeout: 120_000,
  }, () => {
    fc.assert(
      fc.property(fc.constantFrom(...STRING_FIELDS), hostile, ([, set], value) => {
        const pool = emptyPool('www');
        pool.listen.address = '/run/php/www.sock';
        pool.pm.mode = 'static';
        pool.pm.maxChildren = 2;
        const model: FpmConfig = { global: parseFpmConfig('').config.global, pools: [pool] };
        set(model, value);
        let text: string;
        try {
          text = renderFpmConfig(model);
        } catch (error) {
          expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
          counts.rejected++;
          return;
        }
        counts.rendered++;
        const parsed = parseFpmConfig(text, { path: 'fuzz.conf' });
        expect(parsed.findings.filter((f) => f.severity === 'error')).toEqual([]);
        expect(parsed.config).toEqual(model);
        expect(text.match(/^\[/gm)).toHaveLength(2);
      }),
      { numRuns: 5000 },
    );
    expect(counts.rendered).toBeGreaterThan(500);
  });
});

describe.skipIf(!fpm.available)(`rendered files against real php-fpm8.2 -t${fpm.reason}`, () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-render-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts every rendered valid model (150 models)', { timeout: 300_000 }, async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(configArb('@DIR@'), async (model) => {
        const text = renderFpmConfig(model).replaceAll('@DIR@', dir);
        const file = join(dir, `r${runs++}.conf`);
        await writeFile(file, text);
        const result = await run(fpm.path!, ['-t', '-y', file], {
          env: { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C' },
        });
        expect(result.exitCode, `${text}\n---\n${result.output}`).toBe(0);
      }),
      { numRuns: 150 },
    );
    expect(runs).toBeGreaterThanOrEqual(150);
  });
});

/** Throws, and returns what was thrown. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}

const POOL = {
  name: 'www',
  listen: { address: '/run/php/www.sock' },
  pm: { mode: 'static', maxChildren: 2 },
} as const;

describe('render refuses unknown keys, naming them', () => {
  it.each([
    ['pool.pmm', () => renderPool({ name: 'www', pmm: {} } as never)],
    ['pools[0].pmm', () => renderFpmConfig({ pools: [{ name: 'www', pmm: {} }] } as never)],
    [
      'pools[0].pm.maxChilden',
      () =>
        renderFpmConfig({ pools: [{ ...POOL, pm: { mode: 'static', maxChilden: 2 } }] } as never),
    ],
    [
      'global.logLimt',
      () => renderFpmConfig({ global: { logLimt: 4096 }, pools: [POOL] } as never),
    ],
    ['poolz', () => renderFpmConfig({ poolz: [], pools: [POOL] } as never)],
  ])('%s', (option, render) => {
    const error = thrown(render);
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect(error).not.toBeInstanceOf(FpmkitFpmRefusedError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
    expect((error as FpmkitInvalidOptionError).rule).toContain('unknown key');
  });
});

const fpmRefuses = phpFpmBinary();

/** Models FPM refuses, the field the refusal names, and the message FPM prints first. */
const REFUSED: [string, FpmConfigInput, string, string][] = [
  [
    'no pool',
    { pools: [] },
    'pools',
    'ERROR: No pool defined. at least one pool section must be specified in config file',
  ],
  [
    'spare servers above pm.max_children',
    {
      pools: [
        {
          ...POOL,
          pm: { mode: 'dynamic', maxChildren: 2, minSpareServers: 1, maxSpareServers: 3 },
        },
      ],
    },
    'pools[0].pm.maxSpareServers',
    'ALERT: [pool www] pm.min_spare_servers(1) and pm.max_spare_servers(3) cannot be greater than pm.max_children(2)',
  ],
  [
    'a second pool without pm',
    { pools: [POOL, { name: 'shop', listen: { address: '/run/php/shop.sock' } }] },
    'pools[1].pm.mode',
    'ALERT: [pool shop] the process manager is missing (static, dynamic or ondemand)',
  ],
];

describe('renderFpmConfig refuses a model php-fpm -t would refuse', () => {
  it.each(REFUSED)('%s', (_what, model, option, fpmMessage) => {
    const error = thrown(() => renderFpmConfig(model));
    expect(error).toBeInstanceOf(FpmkitFpmRefusedError);
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    const refused = error as FpmkitFpmRefusedError;
    expect(refused.code).toBe('FPMKIT_INVALID_OPTION');
    expect(refused.option).toBe(option);
    expect(refused.refusals[0]!.evidence?.fpmMessage).toBe(fpmMessage);
    expect(refused.message).toContain(fpmMessage.replace(/^\w+: /, ''));
    // allowRefused renders it anyway.
    expect(renderFpmConfig(model, { allowRefused: true })).toMatch(/^\[global\]\n/);
  });

  it('renders the near misses', () => {
    expect(renderFpmConfig({ pools: [POOL] })).toContain('[www]');
    const dynamic = {
      ...POOL,
      pm: { mode: 'dynamic', maxChildren: 3, minSpareServers: 1, maxSpareServers: 3 },
    } as const;
    expect(renderFpmConfig({ pools: [dynamic] })).toContain('pm.max_spare_servers = 3');
  });

  it.skipIf(!fpmRefuses.available)(
    `what it refuses, php-fpm8.2 -t refuses with the same first message${fpmRefuses.reason}`,
    { timeout: 60_000 },
    async () => {
      for (const [what, model, , fpmMessage] of REFUSED) {
        const text = renderFpmConfig(
          { ...model, global: { errorLog: '/dev/null' } },
          { allowRefused: true },
        );
        const real = await phpFpmTest(text, { allowRoot: true });
        expect(real.exitCode, what).toBe(78);
        expect(
          real.messages.find((m) => /^(ERROR|ALERT):/.test(m)),
          what,
        ).toBe(fpmMessage);
      }
      const accepted = renderFpmConfig({ global: { errorLog: '/dev/null' }, pools: [POOL] });
      expect((await phpFpmTest(accepted, { allowRoot: true })).exitCode).toBe(0);
    },
  );
});

describe('listen.mode as FPM takes it: a number or octal text, written as given', () => {
  const withMode = (mode: number | string): FpmConfigInput => ({
    global: { errorLog: '/dev/null' },
    pools: [{ ...POOL, listen: { address: '/tmp/fpmkit-mode.sock', mode } }],
  });

  it.each([
    ['0660', 'listen.mode = 0660'],
    ['660', 'listen.mode = 660'],
    ['00660', 'listen.mode = 00660'],
    [0o660, 'listen.mode = 0660'],
  ] as const)('%s is written %s and read back as 0o660', (mode, line) => {
    const text = renderFpmConfig(withMode(mode));
    expect(text.split('\n')).toContain(line);
    expect(parseFpmConfig(text).config.pools[0]!.listen.mode).toBe(0o660);
  });

  it.each(['0899', '66a', '17777', '', ' 660'])('refuses %j, naming the field', (mode) => {
    const error = thrown(() => renderFpmConfig(withMode(mode)));
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe('pools[0].listen.mode');
  });

  it.skipIf(!fpmRefuses.available)(
    `php-fpm8.2 -tt prints the text as given${fpmRefuses.reason}`,
    { timeout: 30_000 },
    async () => {
      for (const mode of ['660', '0660']) {
        const real = await phpFpmTest(renderFpmConfig(withMode(mode)), {
          tt: true,
          allowRoot: true,
        });
        expect(real.exitCode, real.output).toBe(0);
        expect(real.messages).toContain(`NOTICE: \tlisten.mode = ${mode}`);
      }
    },
  );
});
