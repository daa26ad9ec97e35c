import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import { checkFpmConfig } from '../../src/fpm/check.js';
import { parseFpmConfig } from '../../src/fpm/parse.js';
import { parseSysctl } from '../../src/kernel/sysctl.js';
import type { Plan } from '../../src/sizing/plan.js';
import {
  fastcgiBackendOf,
  type PlanPoolInput,
  planHost,
  planPool,
  safePlanPool,
} from '../../src/sizing/planner.js';
import { renderHostPlan, renderPlan } from '../../src/sizing/render-plan.js';
import { isRoot, nginxBinary, phpFpmBinary } from '../support/integration.js';
import { nginxTest } from '../support/nginx.js';
import { phpFpmTest } from '../support/php-fpm.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const root = isRoot();
/** As root FPM needs `user`; www-data is Debian's web user. */
const user = root ? { user: 'www-data', group: 'www-data' } : {};

/** Plan inputs across the ranges people give: tiny to large hosts, fast to slow requests. */
const planInput: fc.Arbitrary<PlanPoolInput> = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/),
    arrivalRate: fc.double({ min: 0.1, max: 2000, noNaN: true }),
    serviceTimeSeconds: fc.double({ min: 0.002, max: 2, noNaN: true }),
    cpuShare: fc.double({ min: 0, max: 0.9, noNaN: true }),
    longestRequestSeconds: fc.integer({ min: 1, max: 600 }),
    mode: fc.constantFrom('static', 'dynamic', 'ondemand'),
    cores: fc.integer({ min: 1, max: 256 }),
    totalMemoryBytes: fc.integer({ min: 1, max: 1024 }).map((g) => g * GiB),
    workerBytes: fc.integer({ min: 8, max: 512 }).map((m) => m * MiB),
    currentSomaxconn: fc.constantFrom(128, 4096, 65535),
    listenAddress: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: 1024, max: 65535 }).map((p) => `127.0.0.1:${p}`),
      fc.integer({ min: 1024, max: 65535 }).map((p) => `[::1]:${p}`),
    ),
  })
  .map((r) => {
    const { listenAddress, ...rest } = r;
    return { ...rest, ...user, ...(listenAddress === undefined ? {} : { listenAddress }) };
  });

/** Feasible plans only: an infeasible input is refused, which other tests cover. */
const feasiblePlan: fc.Arbitrary<Plan> = planInput
  .map((input) => safePlanPool(input))
  .filter((r) => r.success)
  .map((r) => (r.success ? r.data : (undefined as never)));

/** Two pools with very different memory limits on one host. */
function smallAndBig() {
  return planHost({
    cores: 8,
    totalMemoryBytes: 32 * GiB,
    pools: [
      {
        name: 'small',
        arrivalRate: 40,
        serviceTimeSeconds: 0.1,
        longestRequestSeconds: 10,
        memoryLimitBytes: 128 * MiB,
        ...user,
      },
      {
        name: 'big',
        arrivalRate: 20,
        serviceTimeSeconds: 0.2,
        longestRequestSeconds: 300,
        memoryLimitBytes: 1024 * MiB,
        ...user,
      },
    ],
  });
}

const fileOf = (plan: Plan, kind: string) => {
  const f = renderPlan(plan).find((x) => x.kind === kind);
  if (!f) throw new Error(`no ${kind} file`);
  return f;
};

describe('renderPlan', () => {
  const plan = safePlanPool({
    name: 'shop',
    arrivalRate: 200,
    serviceTimeSeconds: 0.08,
    cores: 16,
    totalMemoryBytes: 32 * GiB,
    user: 'www-data',
  });
  if (!plan.success) throw plan.error;

  it('names each file with its suggested path under /etc', () => {
    expect(renderPlan(plan.data).map((f) => [f.kind, f.path])).toEqual([
      ['fpm-pool', 'php/8.2/fpm/pool.d/shop.conf'],
      ['sysctl', 'sysctl.d/60-fpmkit-shop.conf'],
      ['systemd-drop-in', 'systemd/system/php8.2-fpm.service.d/fpmkit.conf'],
      ['nginx-upstream', 'nginx/conf.d/shop-fpm.conf'],
      ['nginx-location', 'nginx/snippets/shop-fpm.conf'],
      ['php-ini', 'php/8.2/fpm/conf.d/60-fpmkit.ini'],
    ]);
    expect(renderPlan(plan.data, { phpVersion: '8.3' })[0]!.path).toBe(
      'php/8.3/fpm/pool.d/shop.conf',
    );
    expect(() => renderPlan(plan.data, { phpVersion: '8' })).toThrow(
      expect.objectContaining({ option: 'phpVersion' }),
    );
  });

  it('writes the numbers of the plan into the files', () => {
    const p = plan.data;
    const pool = parseFpmConfig(fileOf(p, 'fpm-pool').content).config;
    expect(pool.pools[0]).toEqual(p.pool);
    expect(pool.global.processControlTimeoutSeconds).toBe(p.global.processControlTimeoutSeconds);
    expect(fileOf(p, 'systemd-drop-in').content).toContain(`LimitNOFILE=${p.kernel.limitNofile}`);
    expect(fileOf(p, 'nginx-location').content).toContain(
      `fastcgi_read_timeout ${p.nginx.readTimeoutSeconds}s;`,
    );
    expect(fileOf(p, 'nginx-upstream').content).toContain('server "unix:/run/php/shop.sock";');
    // Status answers on its own socket while the pool is saturated.
    expect(fileOf(p, 'fpm-pool').content).toMatch(
      /^pm\.status_listen = "\/run\/php\/shop-status\.sock"$/m,
    );
    expect(fileOf(p, 'fpm-pool').content).toMatch(/^pm\.status_path = "\/status"$/m);
    expect(fileOf(p, 'php-ini').content).toContain(
      `max_execution_time = ${p.php.maxExecutionTimeSeconds}\n`,
    );
  });

  it('renders a host plan with one pool file per pool and one php.ini taking the largest values', () => {
    const host = planHost({
      cores: 8,
      totalMemoryBytes: 16 * GiB,
      pools: [
        { name: 'a', arrivalRate: 10, serviceTimeSeconds: 0.1, longestRequestSeconds: 10 },
        {
          name: 'b',
          arrivalRate: 5,
          serviceTimeSeconds: 0.2,
          longestRequestSeconds: 120,
          memoryLimitBytes: 256 * MiB,
        },
      ],
    });
    const files = renderHostPlan(host);
    expect(files.map((f) => f.path)).toEqual([
      'php/8.2/fpm/pool.d/a.conf',
      'php/8.2/fpm/pool.d/b.conf',
      'sysctl.d/60-fpmkit.conf',
      'systemd/system/php8.2-fpm.service.d/fpmkit.conf',
      'nginx/conf.d/a-fpm.conf',
      'nginx/snippets/a-fpm.conf',
      'nginx/conf.d/b-fpm.conf',
      'nginx/snippets/b-fpm.conf',
      'php/8.2/fpm/conf.d/60-fpmkit.ini',
    ]);
    const ini = files.at(-1)!.content;
    expect(ini).toContain(`max_execution_time = ${host.pools[1]!.php.maxExecutionTimeSeconds}\n`);
    expect(ini).toContain('memory_limit = 256M\n');
  });

  it('gives each pool of a host plan its own memory_limit and max_execution_time', () => {
    const host = smallAndBig();
    const files = renderHostPlan(host);
    const poolFile = (name: string) => files.find((f) => f.path.endsWith(`pool.d/${name}.conf`))!;
    const small = parseFpmConfig(poolFile('small').content).config.pools[0]!;
    const big = parseFpmConfig(poolFile('big').content).config.pools[0]!;
    expect(small.phpAdminValue).toEqual({ memory_limit: '128M', max_execution_time: '10' });
    expect(big.phpAdminValue).toEqual({ memory_limit: '1G', max_execution_time: '300' });
    // php.ini still holds the largest, which the small pool's own values override.
    expect(files.at(-1)!.content).toContain('memory_limit = 1G\n');
  });

  it('keeps a php_admin_value the pool already sets', () => {
    const host = smallAndBig();
    const small = host.pools[0]!;
    small.pool = { ...small.pool, phpAdminValue: { memory_limit: '96M', 'date.timezone': 'UTC' } };
    const text = renderHostPlan(host)[0]!.content;
    const pool = parseFpmConfig(text).config.pools[0]!;
    expect(pool.phpAdminValue).toEqual({
      memory_limit: '96M',
      max_execution_time: '10',
      'date.timezone': 'UTC',
    });
  });

  it('refuses a plan edited into something a renderer would not write', () => {
    const bad: Plan = { ...plan.data, pool: { ...plan.data.pool, name: 'a]b' } };
    expect(() => renderPlan(bad)).toThrow(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION' }),
    );
  });

  it('sysctl files parse back to the plan kernel values; pools pass checkFpmConfig (property)', () => {
    fc.assert(
      fc.property(feasiblePlan, (p) => {
        const sysctl = parseSysctl(fileOf(p, 'sysctl').content);
        expect(sysctl).toEqual({ 'net.core.somaxconn': String(p.kernel.somaxconn) });
        const check = checkFpmConfig(fileOf(p, 'fpm-pool').content, { asRoot: root });
        expect(check.findings.filter((f) => f.severity === 'error')).toEqual([]);
        expect(check.ok).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['/run/php/a.sock', { socketPath: '/run/php/a.sock' }],
    ['9000', { host: '127.0.0.1', port: 9000 }],
    ['*:9000', { host: '127.0.0.1', port: 9000 }],
    ['0.0.0.0:9001', { host: '127.0.0.1', port: 9001 }],
    ['10.0.0.5:9000', { host: '10.0.0.5', port: 9000 }],
    ['[::]:9000', { host: '::1', port: 9000 }],
    ['[fd00::1]:9000', { host: 'fd00::1', port: 9000 }],
  ])('nginx reaches FPM listen %s at %o', (listen, backend) => {
    expect(fastcgiBackendOf(listen)).toEqual(backend);
  });

  it.each(['', 'run/php.sock', '127.0.0.1:0', '127.0.0.1:70000', 'host:port'])(
    'refuses listen %j',
    (listen) => {
      try {
        fastcgiBackendOf(listen);
        expect.unreachable();
      } catch (e) {
        expect(isFpmkitError(e)).toBe(true);
      }
    },
  );
});

const fpm = phpFpmBinary();
describe.skipIf(!fpm.available)(`rendered pools pass php-fpm8.2 -t${fpm.reason}`, () => {
  it('accepts the pool file of random feasible plans', async () => {
    await fc.assert(
      fc.asyncProperty(feasiblePlan, async (p) => {
        const r = await phpFpmTest(fileOf(p, 'fpm-pool').content);
        expect(
          r.messages.filter((m) => !m.startsWith('NOTICE')),
          r.output,
        ).toEqual([]);
        expect(r.exitCode, r.output).toBe(0);
      }),
      { numRuns: 30 },
    );
  }, 120_000);

  it.each([
    ['9000', '127.0.0.1'],
    ['0.0.0.0:9001', '127.0.0.1'],
    ['[::]:9002', '::1'],
  ])(
    'accepts a pool on every interface (%s) limited to the loopback nginx (%s)',
    async (listen, client) => {
      const p = planPool({
        name: 'open',
        listenAddress: listen,
        arrivalRate: 10,
        serviceTimeSeconds: 0.1,
        cores: 2,
        totalMemoryBytes: 4 * GiB,
        ...user,
      });
      expect(p.pool.listen.allowedClients).toEqual([client]);
      const text = fileOf(p, 'fpm-pool').content;
      expect(text).toContain(`listen.allowed_clients = "${client}"`);
      const r = await phpFpmTest(text);
      expect(
        r.messages.filter((m) => !m.startsWith('NOTICE')),
        r.output,
      ).toEqual([]);
      expect(r.exitCode, r.output).toBe(0);
    },
  );

  it('accepts each pool file of a host plan with its php_admin_value limits', async () => {
    const files = renderHostPlan(smallAndBig()).filter((f) => f.kind === 'fpm-pool');
    expect(files).toHaveLength(2);
    for (const f of files) {
      expect(f.content).toMatch(/^php_admin_value\[memory_limit\] = "\d+[MG]"$/m);
      const r = await phpFpmTest(f.content, { tt: true });
      expect(
        r.messages.filter((m) => !m.startsWith('NOTICE')),
        r.output,
      ).toEqual([]);
      expect(r.exitCode, r.output).toBe(0);
      // -tt dumps the pool as FPM read it.
      expect(r.output).toMatch(/php_admin_value\[memory_limit\] = (128M|1G)\b/);
    }
  }, 60_000);
});

const nginx = nginxBinary();
describe.skipIf(!nginx.available)(`rendered nginx parts pass nginx -t${nginx.reason}`, () => {
  it('accepts the upstream and location of random feasible plans in a minimal nginx.conf', async () => {
    await fc.assert(
      fc.asyncProperty(feasiblePlan, async (p) => {
        const conf = [
          'pid nginx.pid;',
          'events {}',
          'http {',
          fileOf(p, 'nginx-upstream').content,
          '  server {',
          '    listen 127.0.0.1:8080;',
          '    root html;',
          fileOf(p, 'nginx-location').content,
          '  }',
          '}',
          '',
        ].join('\n');
        const r = await nginxTest(conf);
        expect(r.ok, `${r.output}\n${conf}`).toBe(true);
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
