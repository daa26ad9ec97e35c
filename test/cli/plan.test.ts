import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { UsageError } from '../../src/cli/args.js';
import type { CliIo } from '../../src/cli/io.js';
import { type PlanHostFacts, runPlan } from '../../src/cli/plan.js';
import { checkFpmConfig } from '../../src/fpm/check.js';
import { parseMeminfo } from '../../src/kernel/meminfo.js';
import { DEFAULT_CPU_SHARE, safePlanPool } from '../../src/sizing/index.js';
import { isRoot } from '../support/integration.js';
import { run } from '../support/process.js';

/** The built command, run as a child process the way users run it. */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const fpmkit = (args: string[]) =>
  run(process.execPath, [bin, 'plan', ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
  });

const GiB = 1024 ** 3;

/** The shape `fpmkit plan --json` promises (docs/cli.md). */
const explanation = z.object({
  setting: z.string(),
  value: z.union([z.number(), z.string()]),
  rule: z.string().regex(/^[a-z0-9-]+$/),
  inputs: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  text: z.string().min(10),
});
const planJson = z.object({
  ok: z.literal(true),
  mode: z.enum(['traffic', 'capacity']),
  host: z.object({
    memTotalBytes: z.number().int().positive().nullable(),
    memAvailableBytes: z.number().int().nonnegative().nullable(),
    cgroupLimitBytes: z.union([z.number(), z.literal('unlimited')]).nullable(),
    cpus: z.number().int().positive(),
    somaxconn: z.number().int().nonnegative(),
    memorySource: z.enum(['MemTotal', 'cgroup', '--memory']),
  }),
  inputs: z.object({ arrivalRate: z.number().positive(), serviceTimeSeconds: z.number() }).loose(),
  plan: z.object({
    pool: z
      .object({
        name: z.string(),
        listen: z.object({ address: z.string(), backlog: z.number().int() }).loose(),
        pm: z
          .object({
            mode: z.enum(['static', 'dynamic', 'ondemand']),
            maxChildren: z.number().int().positive(),
            maxRequests: z.number().int().nonnegative(),
          })
          .loose(),
        requestTerminateTimeoutSeconds: z.number().int().positive(),
      })
      .loose(),
    global: z.object({ processControlTimeoutSeconds: z.number().int().positive() }).loose(),
    kernel: z.object({ somaxconn: z.number().int(), limitNofile: z.number().int() }),
    nginx: z
      .object({
        upstream: z
          .object({ name: z.string(), servers: z.array(z.object({}).loose()).min(1) })
          .loose(),
        readTimeoutSeconds: z.number().positive(),
        connectTimeoutSeconds: z.number().positive(),
      })
      .loose(),
    php: z.object({
      maxExecutionTimeSeconds: z.union([z.number(), z.literal('unlimited')]),
      memoryLimitBytes: z.union([z.number(), z.literal('unlimited')]),
    }),
    predictions: z
      .object({
        utilization: z.number().min(0).max(1),
        probabilityOfWait: z.number().min(0).max(1),
        meanQueueWaitSeconds: z.number().nonnegative(),
        p99QueueWaitSeconds: z.number().nonnegative(),
        steadyState502Rate: z.number().min(0).max(1),
        reloadRefused: z.number().nonnegative(),
      })
      .loose(),
    explanations: z.array(explanation).min(10),
    warnings: z.array(z.string()),
  }),
  files: z
    .array(
      z.object({
        kind: z.enum([
          'fpm-pool',
          'sysctl',
          'systemd-drop-in',
          'nginx-upstream',
          'nginx-location',
          'php-ini',
        ]),
        path: z.string().regex(/^[a-z0-9]/),
        description: z.string(),
        content: z.string().endsWith('\n'),
      }),
    )
    .length(6),
  notes: z.array(z.string()),
  written: z.array(z.string()).optional(),
});

describe('fpmkit plan, the built command', () => {
  let dir = '';
  beforeAll(async () => {
    if (!existsSync(bin))
      throw new Error('dist/cli/bin.js is missing: run `npm run build` before this test');
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-plan-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints a complete plan from this host's real memory and CPUs", async () => {
    const r = await fpmkit([]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const total = parseMeminfo(await readFile('/proc/meminfo', 'utf8')).totalBytes;
    expect(r.stdout).toContain(`MemTotal ${total} bytes`);
    expect(r.stdout).toMatch(/no traffic given \(--rps\): planned from memory and CPUs alone/);
    for (const s of [
      'pm.max_children = ',
      'listen.backlog = ',
      'net.core.somaxconn = ',
      'LimitNOFILE = ',
      'predictions.p99QueueWaitSeconds = ',
    ]) {
      expect(r.stdout).toContain(s);
    }
    for (const path of [
      '==> php/8.2/fpm/pool.d/www.conf <==',
      '==> sysctl.d/60-fpmkit-www.conf <==',
      '==> systemd/system/php8.2-fpm.service.d/fpmkit.conf <==',
      '==> nginx/conf.d/www-fpm.conf <==',
      '==> nginx/snippets/www-fpm.conf <==',
      '==> php/8.2/fpm/conf.d/60-fpmkit.ini <==',
    ]) {
      expect(r.stdout).toContain(path);
    }
    expect(r.stdout).not.toMatch(/\u001b\[/);
  });

  it('--json: the whole plan, valid against the documented schema', async () => {
    const r = await fpmkit([
      '--json',
      '--rps',
      '300',
      '--service-time',
      '80',
      '--cpu-share',
      '0.2',
      '--cpus',
      '16',
    ]);
    expect(r.exitCode).toBe(0);
    const parsed = planJson.parse(JSON.parse(r.stdout));
    expect(parsed.mode).toBe('traffic');
    expect(parsed.inputs.arrivalRate).toBe(300);
    expect(parsed.plan.predictions.p99QueueWaitSeconds).toBeLessThanOrEqual(0.1);
    expect(parsed.plan.kernel.somaxconn).toBeGreaterThanOrEqual(parsed.plan.pool.listen.backlog);
  });

  it('--memory replaces the host memory, and a smaller memory never plans more children', async () => {
    const big = planJson.parse(
      JSON.parse((await fpmkit(['--json', '--memory', '8G', '--cpus', '64'])).stdout),
    );
    const small = planJson.parse(
      JSON.parse((await fpmkit(['--json', '--memory', '2G', '--cpus', '64'])).stdout),
    );
    expect(big.host.memorySource).toBe('--memory');
    // 2 GiB − 256 MiB reserve holds 12 workers of 144 MiB; 8 GiB − 819 MiB holds 51.
    expect(small.plan.pool.pm.maxChildren).toBe(12);
    expect(big.plan.pool.pm.maxChildren).toBe(51);
  });

  it('--write DIR: writes the files, the pool passes checkFpmConfig, and nothing is replaced without --force', async () => {
    const out = join(dir, 'etc');
    const r = await fpmkit([
      '--write',
      out,
      '--name',
      'shop',
      '--rps',
      '50',
      '--service-time',
      '120',
      '--cpus',
      '16',
    ]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const pool = await readFile(join(out, 'php/8.2/fpm/pool.d/shop.conf'), 'utf8');
    const check = checkFpmConfig(pool, { asRoot: isRoot() });
    expect(check.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(check.ok).toBe(true);
    for (const p of [
      'sysctl.d/60-fpmkit-shop.conf',
      'nginx/conf.d/shop-fpm.conf',
      'php/8.2/fpm/conf.d/60-fpmkit.ini',
    ]) {
      expect(existsSync(join(out, p)), p).toBe(true);
    }
    await writeFile(join(out, 'nginx/conf.d/shop-fpm.conf'), '# mine\n');
    const again = await fpmkit([
      '--write',
      out,
      '--name',
      'shop',
      '--rps',
      '50',
      '--service-time',
      '120',
      '--cpus',
      '16',
    ]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('not replacing existing files');
    expect(await readFile(join(out, 'nginx/conf.d/shop-fpm.conf'), 'utf8')).toBe('# mine\n');
    const forced = await fpmkit([
      '--write',
      out,
      '--name',
      'shop',
      '--rps',
      '50',
      '--service-time',
      '120',
      '--cpus',
      '16',
      '--force',
    ]);
    expect(forced.exitCode).toBe(0);
    expect(await readFile(join(out, 'nginx/conf.d/shop-fpm.conf'), 'utf8')).toContain(
      'upstream php_fpm_shop',
    );
  });

  it.each([
    [['--memory', 'lots'], '--memory must be a size'],
    [['--rps', '-3'], '--rps must be a number above 0'],
    [['--cpu-share', '1.5'], '--cpu-share must be a number from 0 to 1'],
    [['--pm', 'turbo'], '--pm must be static, dynamic or ondemand'],
    [['--name', 'a]b'], '--name must be letters'],
    [['--bogus'], 'unknown option --bogus'],
    [['--rps'], 'option --rps needs a value'],
    [['--listen', 'run/x.sock'], '--listen must be an absolute socket path'],
    [['--force'], '--force goes with --write'],
    [['--reload-window', '-1'], '--reload-window must be a number from 0'],
  ])('bad flags %j exit 2 with a message', async (args, message) => {
    const r = await fpmkit(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an infeasible request exits 1 with the reasons and no stack trace', async () => {
    const r = await fpmkit(['--memory', '64M', '--rps', '5000']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('no feasible plan');
    expect(r.stderr).toMatch(/the children needed take .* but the budget is 0 MiB/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const json = await fpmkit(['--memory', '64M', '--rps', '5000', '--json']);
    expect(json.exitCode).toBe(1);
    const body = JSON.parse(json.stdout) as {
      ok: boolean;
      error: { code: string; reasons: { code: string }[] };
    };
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('FPMKIT_SIZING_INFEASIBLE');
    expect(body.error.reasons.map((x) => x.code)).toContain('memory');
  });
});

/** runPlan over injected io and host facts, for what the real host cannot show. */
function capture(isTTY = false, env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    isTTY,
    env,
  };
  return { io, out };
}
const facts = (over: Partial<PlanHostFacts> = {}): PlanHostFacts => ({
  memTotalBytes: 16 * GiB,
  memAvailableBytes: 12 * GiB,
  cgroupLimitBytes: 'unlimited',
  cpus: 4,
  somaxconn: 4096,
  problems: [],
  ...over,
});

describe('runPlan with injected host facts', () => {
  it('unreadable meminfo: exit 3 naming --memory; --memory replaces it', async () => {
    const broken = facts({
      problems: [{ what: 'MemTotal (/proc/meminfo)', flag: '--memory', message: 'EACCES' }],
    });
    delete broken.memTotalBytes;
    const a = capture();
    expect(await runPlan([], a.io, { readHost: async () => broken })).toBe(3);
    expect(a.out.stderr).toContain('cannot read MemTotal (/proc/meminfo): EACCES; give --memory');
    const b = capture();
    expect(await runPlan(['--memory', '4G'], b.io, { readHost: async () => broken })).toBe(0);
    expect(b.out.stdout).toContain('planning for --memory 4.0 GiB');
  });

  it('unreadable somaxconn: assumes 4096 and names --somaxconn', async () => {
    const f = facts({
      problems: [{ what: 'net.core.somaxconn', flag: '--somaxconn', message: 'ENOENT' }],
    });
    delete f.somaxconn;
    const c = capture();
    expect(await runPlan([], c.io, { readHost: async () => f })).toBe(0);
    expect(c.out.stdout).toContain('assumed 4096, give --somaxconn N');
  });

  it('a cgroup limit tighter than MemTotal sets the budget', async () => {
    const c = capture();
    await runPlan(['--json'], c.io, {
      readHost: async () => facts({ cgroupLimitBytes: 2 * GiB, cpus: 64 }),
    });
    const j = planJson.parse(JSON.parse(c.out.stdout));
    expect(j.host.memorySource).toBe('cgroup');
    expect(j.plan.pool.pm.maxChildren).toBe(12);
  });

  it('colours only on a terminal, and never with NO_COLOR', async () => {
    const tty = capture(true);
    await runPlan([], tty.io, { readHost: async () => facts() });
    expect(tty.out.stdout).toMatch(/\u001b\[1m/);
    const noColor = capture(true, { NO_COLOR: '1' });
    await runPlan([], noColor.io, { readHost: async () => facts() });
    expect(noColor.out.stdout).not.toMatch(/\u001b\[/);
    const pipe = capture(false);
    await runPlan([], pipe.io, { readHost: async () => facts() });
    expect(pipe.out.stdout).not.toMatch(/\u001b\[/);
  });

  it('--rps without --service-time names the assumption', async () => {
    const c = capture();
    expect(await runPlan(['--rps', '20'], c.io, { readHost: async () => facts() })).toBe(0);
    expect(c.out.stdout).toContain(
      'assumed 100 ms per request, 25 % of it on CPU; give --service-time',
    );
  });
});

describe('the CPU share: one default, in the command and the SDK', () => {
  /** The 2-CPU, 23.5 GiB host the README and docs/cli.md show. */
  const small = () =>
    facts({ cpus: 2, memTotalBytes: 25_276_182_528, memAvailableBytes: 20 * GiB });

  it('the documented commands are feasible on a 2-CPU host and print what the docs show', async () => {
    const c = capture();
    const args = ['--rps', '300', '--service-time', '80', '--cpu-share', '0.05'];
    expect(await runPlan(args, c.io, { readHost: async () => small() })).toBe(0);
    expect(c.out.stdout).toContain('Traffic: 300 requests/s, 80 ms each, 5 % on CPU');
    expect(c.out.stdout).toContain('  pm.max_children = 35\n');
    expect(c.out.stdout).toContain('Erlang C needs 28 for p99 queue wait ≤ 0.1 s; CPU allows 40');
    expect(c.out.stdout).toContain('predictions.p99QueueWaitSeconds = 6.22 ms');
    const d = capture();
    const reload = ['--rps', '1000', '--service-time', '30', '--cpu-share', '0.05'];
    const more = ['--reload-window', '0.15', '--somaxconn', '128'];
    expect(await runPlan([...reload, ...more], d.io, { readHost: async () => small() })).toBe(0);
  });

  it('without --cpu-share the command and planPool assume the same share, and refuse alike', async () => {
    expect(DEFAULT_CPU_SHARE).toBe(0.25);
    const c = capture();
    const code = await runPlan(['--rps', '300', '--service-time', '80', '--json'], c.io, {
      readHost: async () => small(),
    });
    expect(code).toBe(1);
    const cli = JSON.parse(c.out.stdout) as { error: { reasons: { code: string }[] } };
    const sdk = safePlanPool({
      name: 'www',
      arrivalRate: 300,
      serviceTimeSeconds: 0.08,
      cores: 2,
      totalMemoryBytes: 25_276_182_528,
    });
    expect(sdk.success).toBe(false);
    if (sdk.success) return;
    expect(sdk.error.reasons.map((r) => r.code).sort()).toEqual(
      cli.error.reasons.map((r) => r.code).sort(),
    );
    expect(sdk.error.reasons.map((r) => r.code)).toContain('cpu-saturated');
    // Told the real share, both plan the same pool.
    const shared = safePlanPool({
      name: 'www',
      arrivalRate: 300,
      serviceTimeSeconds: 0.08,
      cpuShare: 0.05,
      cores: 2,
      totalMemoryBytes: 25_276_182_528,
    });
    expect(shared.success && shared.data.pool.pm.maxChildren).toBe(35);
  });

  it('an infeasible plan names --cpu-share among the ways out', async () => {
    const c = capture();
    expect(
      await runPlan(['--rps', '300', '--service-time', '80'], c.io, {
        readHost: async () => small(),
      }),
    ).toBe(1);
    expect(c.out.stderr).toContain('only 8 can run on 2 cores');
    expect(c.out.stderr).toMatch(/--cpu-share; this plan used 0\.25, assumed/);
  });
});

describe.skipIf(availableParallelism() !== 2)(
  'the README and docs/cli.md plan commands, run on this 2-CPU host',
  () => {
    it.each([
      [['--rps', '300', '--service-time', '80', '--cpu-share', '0.05'], 0],
      [
        [
          '--rps',
          '1000',
          '--service-time',
          '30',
          '--cpu-share',
          '0.05',
          '--reload-window',
          '0.15',
          '--somaxconn',
          '128',
        ],
        0,
      ],
      [['--rps', '300', '--service-time', '80'], 1],
    ] as const)('fpmkit plan %j exits %i', async (args, exitCode) => {
      const r = await fpmkit([...args]);
      expect(r.exitCode, r.stderr).toBe(exitCode);
      if (exitCode === 1) expect(r.stderr).toContain('--cpu-share');
      else expect(r.stdout).toContain('pm.max_children = ');
    });
  },
);

describe('runPlan on any command line', () => {
  const flag = fc.constantFrom(
    '--memory',
    '--reserve',
    '--worker-memory',
    '--rps',
    '--service-time',
    '--cpu-share',
    '--longest-request',
    '--reload-window',
    '--cpus',
    '--somaxconn',
    '--name',
    '--listen',
    '--pm',
    '--user',
    '--php-version',
    '--json',
    '--bogus',
  );
  const value = fc.oneof(
    fc.constantFrom(
      '0',
      '1',
      '-1',
      '0.5',
      '1e3',
      '8G',
      '64M',
      '1K',
      'static',
      'www',
      '9000',
      '/run/x.sock',
      '[::1]:9000',
      '8.2',
      'NaN',
      '',
    ),
    fc.string({ maxLength: 8 }),
    fc.integer({ min: 0, max: 1_000_000 }).map(String),
  );
  it('returns 0, 1, 2 or 3, or throws the usage error main turns into exit 2 (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(flag, value), { maxLength: 5 }), async (pairs) => {
        const argv = pairs.flatMap(([f, v]) => (f === '--json' ? [f] : [f, v]));
        const c = capture();
        try {
          const code = await runPlan(argv, c.io, { readHost: async () => facts() });
          expect([0, 1, 2, 3]).toContain(code);
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
        }
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
