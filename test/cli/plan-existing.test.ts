import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { type PlanHostFacts, runPlan } from '../../src/cli/plan.js';
import { poolChanges } from '../../src/cli/plan-existing.js';
import { parseFpmConfig } from '../../src/fpm/parse.js';

const GiB = 1024 ** 3;
const facts = async (): Promise<PlanHostFacts> => ({
  memTotalBytes: 16 * GiB,
  memAvailableBytes: 12 * GiB,
  cgroupLimitBytes: 'unlimited',
  cpus: 4,
  somaxconn: 4096,
  problems: [],
});
function capture() {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    isTTY: false,
    env: {},
  };
  return { io, out };
}

interface PlanOut {
  notes: string[];
  files: { kind: string; description: string; content: string }[];
  plan: { pool: { listen: { address: string } } };
}

/** Debian's stock php-fpm.conf and [www] pool, with the include pointed at the temp tree. */
let dir = '';
let conf = '';
let poolFile = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-plan-existing-'));
  await mkdir(join(dir, 'pool.d'));
  conf = join(dir, 'php-fpm.conf');
  poolFile = join(dir, 'pool.d', 'www.conf');
  const main = readFileSync('test/fixtures/fpm-stock/php-fpm.conf', 'utf8').replace(
    'include=/etc/php/8.2/fpm/pool.d/*.conf',
    `include=${dir}/pool.d/*.conf`,
  );
  await writeFile(conf, main);
  await writeFile(poolFile, readFileSync('test/fixtures/fpm-stock/www.conf', 'utf8'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const plan = async (args: string[]) => {
  const c = capture();
  const code = await runPlan(['--json', '--fpm-config', conf, ...args], c.io, {
    readHost: facts,
  });
  expect(code, c.out.stderr).toBe(0);
  return JSON.parse(c.out.stdout) as PlanOut;
};

describe('fpmkit plan for a pool that exists', () => {
  it("keeps Debian's stock [www] socket and says what it changes, and that a restart applies it", async () => {
    const out = await plan([]);
    const listenLine =
      readFileSync(poolFile, 'utf8').split('\n').indexOf('listen = /run/php/php8.2-fpm.sock') + 1;
    expect(out.plan.pool.listen.address).toBe('/run/php/php8.2-fpm.sock');
    const pool = out.files.find((f) => f.kind === 'fpm-pool')!;
    expect(pool.content).toMatch(/^listen = "?\/run\/php\/php8\.2-fpm\.sock"?$/m);
    expect(out.files.find((f) => f.kind === 'nginx-upstream')!.content).toContain(
      'unix:/run/php/php8.2-fpm.sock',
    );
    expect(out.notes).toContain(
      `pool [www] exists (${poolFile} line ${listenLine}): kept its listen = /run/php/php8.2-fpm.sock, which sites point at; give --listen to move it`,
    );
    const changes = out.notes.find((n) => n.startsWith('changes to the existing pool [www]'))!;
    expect(changes).toContain(`(${poolFile})`);
    expect(changes).toMatch(/pm\.max_children 5 -> \d+/);
    expect(changes).toMatch(/listen\.backlog added \(\d+\)/);
    expect(changes).not.toMatch(/(?:^|[:,] )listen /);
    expect(pool.description).toBe(
      `replaces pool [www] of ${poolFile}; restart FPM to apply (listen.backlog: a reload keeps the listening socket)`,
    );
  });

  it('moves the socket only when --listen says so', async () => {
    const out = await plan(['--listen', '/run/php/www.sock']);
    expect(out.plan.pool.listen.address).toBe('/run/php/www.sock');
    expect(out.notes.some((n) => n.includes('kept its listen'))).toBe(false);
    expect(out.notes.find((n) => n.startsWith('changes to'))).toContain(
      'listen /run/php/php8.2-fpm.sock -> /run/php/www.sock',
    );
    // A new address is a new socket with every listen.* setting: a reload applies it.
    expect(out.files.find((f) => f.kind === 'fpm-pool')!.description).toMatch(
      /reload FPM to apply$/,
    );
  });

  it('plans a pool the configuration does not have as a new pool, applied by a reload', async () => {
    const out = await plan(['--name', 'shop']);
    expect(out.plan.pool.listen.address).toBe('/run/php/shop.sock');
    expect(out.notes).toContain(`no pool [shop] in ${conf}: planned as a new pool`);
    expect(out.files.find((f) => f.kind === 'fpm-pool')!.description).toContain(
      'new pool: reload FPM to apply',
    );
  });

  it('lists added, changed and dropped directives', () => {
    const a = parseFpmConfig(
      '[p]\nlisten = /a.sock\npm = static\npm.max_children = 2\nphp_admin_value[memory_limit] = 64M\n',
    ).config.pools[0]!;
    const b = parseFpmConfig(
      '[p]\nlisten = /a.sock\npm = static\npm.max_children = 4\nrequest_terminate_timeout = 35s\n',
    ).config.pools[0]!;
    const changes = poolChanges(a, b);
    expect(changes).toContainEqual({ directive: 'pm.max_children', before: '2', after: '4' });
    expect(changes).toContainEqual({ directive: 'php_admin_value[memory_limit]', before: '64M' });
    expect(
      changes.find((c) => c.directive === 'request_terminate_timeout')?.before,
    ).toBeUndefined();
    expect(poolChanges(a, a)).toEqual([]);
  });
});
