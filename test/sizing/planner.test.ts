import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import { FpmkitInfeasiblePlanError } from '../../src/sizing/errors.js';
import type { Plan } from '../../src/sizing/plan.js';
import {
  type PoolDemand,
  planHost,
  planPool,
  safePlanHost,
  safePlanPool,
} from '../../src/sizing/planner.js';
import { phpFpmBinary } from '../support/integration.js';
import { phpFpmTest } from '../support/php-fpm.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

const host = { cores: 16, totalMemoryBytes: 32 * GiB };
const shop: PoolDemand = {
  name: 'shop',
  arrivalRate: 200,
  serviceTimeSeconds: 0.08,
  pssSamplesBytes: [50 * MiB, 55 * MiB, 60 * MiB],
};

/** Every number the plan sets, by the setting name its explanation uses. */
function numbersOf(plan: Plan): Record<string, number | string | undefined> {
  const pm = plan.pool.pm;
  return {
    'pm.max_children': pm.maxChildren,
    'pm.start_servers': pm.startServers,
    'pm.min_spare_servers': pm.minSpareServers,
    'pm.max_spare_servers': pm.maxSpareServers,
    'pm.max_spawn_rate': pm.maxSpawnRate,
    'pm.process_idle_timeout': pm.processIdleTimeoutSeconds,
    'pm.max_requests': pm.maxRequests,
    'listen.backlog': plan.pool.listen.backlog,
    request_terminate_timeout: plan.pool.requestTerminateTimeoutSeconds,
    process_control_timeout: plan.global.processControlTimeoutSeconds,
    'net.core.somaxconn': plan.kernel.somaxconn,
    LimitNOFILE: plan.kernel.limitNofile as number | undefined,
    fastcgi_read_timeout: plan.nginx.readTimeoutSeconds,
    fastcgi_connect_timeout: plan.nginx.connectTimeoutSeconds,
    'php.max_execution_time': plan.php.maxExecutionTimeSeconds,
    'php.memory_limit': plan.php.memoryLimitBytes,
    ...Object.fromEntries(
      Object.entries(plan.predictions).map(([k, v]) => [`predictions.${k}`, v]),
    ),
  };
}

function expectExplained(plan: Plan): void {
  for (const [setting, value] of Object.entries(numbersOf(plan))) {
    if (value === undefined) continue;
    const e = plan.explanations.filter((x) => x.setting === setting);
    expect(e, setting).toHaveLength(1);
    expect(e[0]!.value, setting).toBe(value);
    expect(e[0]!.text.length, setting).toBeGreaterThan(10);
    expect(e[0]!.rule, setting).toMatch(/^[a-z0-9-]+$/);
  }
}

describe('planPool', () => {
  it('explains every number it sets, once, with the value it set', () => {
    const plan = planPool({ ...shop, ...host });
    expectExplained(plan);
    expect(plan.pool.pm.mode).toBe('dynamic');
    expect(plan.pool.listen.address).toBe('/run/php/shop.sock');
    expect(plan.predictions.p99QueueWaitSeconds).toBeLessThanOrEqual(0.1);
    expect(plan.kernel.somaxconn).toBeGreaterThanOrEqual(plan.pool.listen.backlog!);
    for (const v of Object.values(plan.predictions)) expect(Number.isFinite(v)).toBe(true);
  });

  it.each(['static', 'dynamic', 'ondemand'] as const)('sets the pm fields of %s only', (mode) => {
    const plan = planPool({ ...shop, ...host, mode });
    const pm = plan.pool.pm;
    expect(pm.startServers !== undefined).toBe(mode === 'dynamic');
    expect(pm.maxSpawnRate !== undefined).toBe(mode === 'dynamic');
    expect(pm.processIdleTimeoutSeconds !== undefined).toBe(mode === 'ondemand');
    expectExplained(plan);
  });

  it('recycles a leaking worker and budgets its growth', () => {
    const plan = planPool({ ...shop, ...host, leakBytesPerRequest: 64 * 1024 });
    // 25 % of 60 MiB = 15 MiB allowed growth / 64 KiB per request = 240 requests.
    expect(plan.pool.pm.maxRequests).toBe(240);
    const worker = plan.explanations.find((e) => e.setting === 'sizing.workerBytes');
    expect(worker?.value).toBe(75 * MiB);
  });

  it('predicts the reload refusals of the current settings beside the plan', () => {
    const plan = planPool({
      ...shop,
      ...host,
      arrivalRate: 1000,
      serviceTimeSeconds: 0.03,
      reloadWindowSeconds: 0.15,
      currentSomaxconn: 128,
    });
    expect(plan.predictions.reloadRefusedWithCurrentSettings).toBeGreaterThan(20);
    expect(plan.predictions.reloadRefused).toBeLessThan(1e-9);
  });

  it('refuses a pool that does not fit memory, with the reason and figures', () => {
    // All I/O (cpuShare 0), so only memory bounds it.
    const input = { ...shop, ...host, totalMemoryBytes: 2 * GiB, arrivalRate: 2000, cpuShare: 0 };
    expect(() => planPool(input)).toThrow(FpmkitInfeasiblePlanError);
    const r = safePlanPool(input);
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.error.code).toBe('FPMKIT_SIZING_INFEASIBLE');
    expect(isFpmkitError(r.error)).toBe(true);
    expect(r.error.reasons).toHaveLength(1);
    expect(r.error.reasons[0]).toMatchObject({ code: 'memory' });
    expect(r.error.reasons[0]!.evidence['shop.children']).toBeGreaterThan(160);
  });

  it('lists every reason, not the first', () => {
    const r = safePlanPool({
      ...shop,
      cores: 4,
      totalMemoryBytes: 1 * GiB,
      arrivalRate: 1000,
      cpuShare: 0.5,
    });
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(r.error.reasons.map((x) => x.code).sort()).toEqual([
      'cpu-bound-target',
      'cpu-saturated',
      'memory',
    ]);
  });

  it.each([
    [{ ...shop, ...host, name: 'a]b' }, 'pools[0].name'],
    [{ ...shop, ...host, mode: 'lazy' as never }, 'pools[0].mode'],
    [{ ...shop, ...host, arrivalRate: -1 }, 'arrivalRate'],
    [{ ...shop, ...host, cores: 0 }, 'cores'],
  ])('rejects bad input naming %s', (input, option) => {
    expect(() => planPool(input)).toThrow(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION', option }),
    );
  });
});

describe('planPool: pm.status_listen', () => {
  it('puts a status socket next to the pool socket by default, with pm.status_path', () => {
    const pm = planPool({ ...shop, ...host }).pool.pm;
    expect(pm.statusListen).toBe('/run/php/shop-status.sock');
    expect(pm.statusPath).toBe('/status');
    const other = planPool({ ...shop, ...host, listenAddress: '/srv/run/fpm' }).pool.pm;
    expect(other.statusListen).toBe('/srv/run/fpm-status');
  });
  it('gives a TCP pool a UNIX status socket, takes a given one, and leaves it out on false', () => {
    const tcp = planPool({ ...shop, ...host, listenAddress: '127.0.0.1:9001' }).pool.pm;
    expect(tcp.statusListen).toBe('/run/php/shop-status.sock');
    const given = planPool({ ...shop, ...host, statusListen: '127.0.0.1:9101' }).pool.pm;
    expect(given.statusListen).toBe('127.0.0.1:9101');
    const none = planPool({ ...shop, ...host, statusListen: false }).pool.pm;
    expect(none.statusListen).toBeUndefined();
    expect(none.statusPath).toBeUndefined();
  });
  it('refuses a relative or malformed status address', () => {
    expect(() => planPool({ ...shop, ...host, statusListen: 'status.sock' })).toThrow(
      /statusListen/,
    );
    expect(() => planPool({ ...shop, ...host, statusListen: '1.2.3.4:99999' })).toThrow(
      /statusListen/,
    );
  });
});

describe('planHost', () => {
  const fifty = Array.from(
    { length: 50 },
    (_, i): PoolDemand => ({
      name: `site${i}`,
      arrivalRate: 20 + 20 * i,
      serviceTimeSeconds: 0.02 + 0.004 * (i % 10),
      serviceTimeCv: 1.5,
      cpuShare: 0.3,
      mode: (['static', 'dynamic', 'ondemand'] as const)[i % 3]!,
      pssSamplesBytes: [40 * MiB + i * MiB, 48 * MiB + i * MiB, 70 * MiB],
    }),
  );

  it('plans 50 pools on a 512-core, 2 TiB host within one budget', () => {
    const plan = planHost({ pools: fifty, cores: 512, totalMemoryBytes: 2 * TiB });
    expect(plan.pools).toHaveLength(50);
    expect(plan.memory.plannedBytes).toBeLessThanOrEqual(plan.memory.budgetBytes);
    const somaxconn = Math.max(...plan.pools.map((p) => p.pool.listen.backlog!), 4096);
    expect(plan.kernel.somaxconn).toBe(somaxconn);
    for (const p of plan.pools) {
      expect(p.kernel.somaxconn).toBe(somaxconn);
      expect(p.global.processControlTimeoutSeconds).toBe(plan.global.processControlTimeoutSeconds);
      expect(p.predictions.p99QueueWaitSeconds).toBeLessThanOrEqual(0.1);
      expectExplained(p);
    }
  });

  it('shares a tight budget by weight after every pool has its need', () => {
    const pools: PoolDemand[] = [
      { ...shop, name: 'big', weight: 3, headroom: 1 },
      { ...shop, name: 'small', weight: 1, headroom: 1 },
    ];
    const roomy = planHost({ pools, cores: 64, totalMemoryBytes: 64 * GiB });
    const need = roomy.pools[0]!.explanations.find((e) => e.setting === 'pm.max_children')!.inputs
      .neededChildren as number;
    // Room for the need of both plus 8 extra children of 60 MiB.
    const budget = 2 * need * 60 * MiB + 8 * 60 * MiB;
    const tight = planHost({
      pools,
      cores: 64,
      totalMemoryBytes: budget,
      reserveBytes: 0,
      share: 'weight',
    });
    const [big, small] = tight.pools.map((p) => p.pool.pm.maxChildren);
    expect(big).toBe(need + 6);
    expect(small).toBe(need + 2);
    expect(tight.memory.plannedBytes).toBeLessThanOrEqual(budget);
  });

  it('rejects duplicate pool names and an empty list', () => {
    expect(() => planHost({ pools: [shop, shop], ...host })).toThrow(
      expect.objectContaining({ option: 'pools[1].name' }),
    );
    expect(() => planHost({ pools: [], ...host })).toThrow(
      expect.objectContaining({ option: 'pools' }),
    );
    expect(safePlanHost({ pools: [shop], ...host }).success).toBe(true);
  });
});

const fpm = phpFpmBinary();

/** A pool section from a plan, written here only to let php-fpm -t judge the numbers. */
function poolSection(plan: Plan): string {
  const pm = plan.pool.pm;
  const lines = [
    `[${plan.pool.name}]`,
    `listen = /tmp/fpmkit-plan-check-${plan.pool.name}.sock`,
    `listen.backlog = ${plan.pool.listen.backlog}`,
    `pm = ${pm.mode}`,
    `pm.max_children = ${pm.maxChildren}`,
    `pm.max_requests = ${pm.maxRequests}`,
    `request_terminate_timeout = ${plan.pool.requestTerminateTimeoutSeconds}s`,
  ];
  if (pm.startServers !== undefined) lines.push(`pm.start_servers = ${pm.startServers}`);
  if (pm.minSpareServers !== undefined) lines.push(`pm.min_spare_servers = ${pm.minSpareServers}`);
  if (pm.maxSpareServers !== undefined) lines.push(`pm.max_spare_servers = ${pm.maxSpareServers}`);
  if (pm.maxSpawnRate !== undefined) lines.push(`pm.max_spawn_rate = ${pm.maxSpawnRate}`);
  if (pm.processIdleTimeoutSeconds !== undefined) {
    lines.push(`pm.process_idle_timeout = ${pm.processIdleTimeoutSeconds}s`);
  }
  return lines.join('\n');
}

describe.skipIf(!fpm.available)(`planned pools pass php-fpm -t${fpm.reason}`, () => {
  it('accepts every pool of a 12-pool host plan in all three pm modes', async () => {
    const plan = planHost({
      pools: Array.from(
        { length: 12 },
        (_, i): PoolDemand => ({
          name: `p${i}`,
          arrivalRate: 1 + 300 * i,
          serviceTimeSeconds: 0.05,
          mode: (['static', 'dynamic', 'ondemand'] as const)[i % 3]!,
        }),
      ),
      cores: 512,
      totalMemoryBytes: 2 * TiB,
    });
    const text = `[global]\nprocess_control_timeout = ${plan.global.processControlTimeoutSeconds}s\n\n${plan.pools.map(poolSection).join('\n\n')}\n`;
    const r = await phpFpmTest(text, { allowRoot: true });
    expect(r.messages.filter((m) => !m.startsWith('NOTICE'))).toEqual([]);
    expect(r.output).toContain('test is successful');
    expect(r.exitCode).toBe(0);
  });
});

describe('reload predictions against today settings', () => {
  it('counts connections queued deeper than the children drain as failed (504), like the plan', () => {
    // 51 req/s for a 34 s window on 8 children: 1,731 arrive, 1,431 drain before nginx's 52 s.
    const plan = planPool({
      reloadWindowSeconds: 34,
      name: 'www',
      arrivalRate: 50.9,
      serviceTimeSeconds: 0.1,
      cpuShare: 0.25,
      headroom: 0,
      cores: 2,
      totalMemoryBytes: 24 * GiB,
      currentSomaxconn: 4096,
    });
    const e = plan.explanations.find(
      (x) => x.setting === 'predictions.reloadRefusedWithCurrentSettings',
    )!;
    const drainable = e.inputs.drainableQueueCapacity as number;
    expect(plan.pool.listen.backlog).toBe(drainable - 1);
    expect(e.inputs.queueCapacity).toBe(4097);
    expect(plan.predictions.reloadRefusedWithCurrentSettings).toBeCloseTo(
      plan.predictions.reloadRefused,
      9,
    );
    expect(plan.predictions.reloadRefused).toBeGreaterThan(50);
    expect(e.text).toContain('timed out with 504');
  });
});
