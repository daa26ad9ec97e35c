import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/process.js';

/** The built command, run as a child process the way users run it. */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const fpmkit = (args: string[], input?: string) =>
  run(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    ...(input !== undefined ? { input } : {}),
  });

describe('the fpmkit command', () => {
  let dir = '';
  beforeAll(async () => {
    if (!existsSync(bin))
      throw new Error('dist/cli/bin.js is missing: run npm run build (npm install does it)');
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-cli-'));
    await writeFile(
      join(dir, 'good.conf'),
      `[global]\nerror_log = ${dir}/fpm.log\nprocess_control_timeout = 10s\n[www]\nuser = www-data\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 4\npm.max_requests = 500\n`,
    );
    await writeFile(
      join(dir, 'bad.conf'),
      `[global]\nerror_log = ${dir}/fpm.log\n[www]\nuser = www-data\nlisten = ${dir}/www.sock\npm = dynamic\npm.max_children = 4\npm.min_spare_servers = 6\npm.max_spare_servers = 8\n`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints help and exits 0', async () => {
    const r = await fpmkit(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('check FILE');
    const sub = await fpmkit(['check', '--help']);
    expect(sub.stdout).toContain('--somaxconn N');
  });

  it('check: exit 0 and "ok" for a file php-fpm accepts', async () => {
    const r = await fpmkit(['check', join(dir, 'good.conf')]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(
      /^ok: php-fpm -t would accept .*good\.conf \(0 error\(s\), 0 warning\(s\)\)$/m,
    );
  });

  it("check: exit 1 with FPM's message for a file php-fpm refuses", async () => {
    const r = await fpmkit(['check', join(dir, 'bad.conf')]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      '[pool www] pm.min_spare_servers(6) and pm.max_spare_servers(8) cannot be greater than pm.max_children(4)',
    );
    expect(r.stdout).toContain('refused: php-fpm -t would refuse');
  });

  it('check: a # line does not hide the rest; each finding says its location once, and its code', async () => {
    const file = join(dir, 'hash.conf');
    await writeFile(
      file,
      `[global]\nerror_log = ${dir}/fpm.log\n[www]\n# shop pool\nuser = www-data\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 4\nrequest_terminate_timeout = 5ms\n`,
    );
    const r = await fpmkit(['check', file]);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.split('\n');
    const hash = lines.find((l) => l.includes('value is NULL'));
    expect(hash).toBe(
      `${file}:4: error: value is NULL for a ZEND_INI_PARSER_ENTRY [fpm.null-value]`,
    );
    expect(lines).toContain(
      `${file}:9: warning: request_terminate_timeout = 5ms is read by FPM as 5s: only the last character is a unit (s, m, h, d) and the number before it is read up to its first character that is not a digit (FPM has no millisecond unit) [fpm.time-misread]`,
    );
    for (const line of lines) expect(line.split(file).length, line).toBeLessThanOrEqual(2);
  });

  it('check --json: machine-readable findings', async () => {
    const r = await fpmkit(['check', '--json', join(dir, 'bad.conf')]);
    expect(r.exitCode).toBe(1);
    const out = JSON.parse(r.stdout) as {
      ok: boolean;
      findings: { code: string; severity: string }[];
    };
    expect(out.ok).toBe(false);
    expect(out.findings[0]).toMatchObject({
      code: 'fpm.spare-above-max-children',
      severity: 'error',
    });
  });

  it('check --php-version: decides as that version', async () => {
    const spawn = join(dir, 'spawn.conf');
    await writeFile(
      spawn,
      `[global]\nerror_log = ${dir}/fpm.log\n[www]\nuser = www-data\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 4\npm.max_spawn_rate = 8\n`,
    );
    expect((await fpmkit(['check', '--php-version', '8.1', spawn])).exitCode).toBe(0);
    const old = await fpmkit(['check', '--php-version', '8.0', spawn]);
    expect(old.exitCode).toBe(1);
    expect(old.stdout).toContain("unknown entry 'pm.max_spawn_rate'");
    const bad = await fpmkit(['check', '--php-version', '7.4', spawn]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('PHP 7.4 is not one fpmkit models');
  });

  it('bad flags exit 2 with a message; an unreadable file exits 3; no stack traces', async () => {
    const usage = await fpmkit(['check', '--bogus', 'x.conf']);
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain('unknown option --bogus');
    const unknown = await fpmkit(['frobnicate']);
    expect(unknown.exitCode).toBe(2);
    const missing = await fpmkit(['check', join(dir, 'nope.conf')]);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain('cannot read configuration file (ENOENT)');
    for (const r of [usage, unknown, missing]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('render: a JSON model to a pool file, from standard input', async () => {
    const model = {
      pools: [
        {
          name: 'www',
          listen: { address: '/run/php/www.sock' },
          pm: { mode: 'static', maxChildren: 3 },
        },
      ],
    };
    const r = await fpmkit(['render', '-'], JSON.stringify(model));
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(
      '[global]\n\n[www]\nlisten = "/run/php/www.sock"\npm = static\npm.max_children = 3\n',
    );
    const bad = await fpmkit(['render', '-'], JSON.stringify({ pools: [{ name: 'w]w' }] }));
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toContain("invalid option 'pools[0].name'");
  });

  it('render: an unknown key exits 3 naming it; a model php-fpm -t would refuse exits 1', async () => {
    const typo = await fpmkit(
      ['render', '-'],
      JSON.stringify({ pools: [{ name: 'www', pmm: {} }] }),
    );
    expect(typo.exitCode).toBe(3);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toContain("invalid option 'pools[0].pmm': unknown key");
    const empty = await fpmkit(['render', '-'], '{"pools":[]}');
    expect(empty.exitCode).toBe(1);
    expect(empty.stdout).toBe('');
    expect(empty.stderr).toContain('No pool defined. at least one pool section must be specified');
    const spare = {
      pools: [
        {
          name: 'www',
          listen: { address: '/run/php/www.sock' },
          pm: { mode: 'dynamic', maxChildren: 2, minSpareServers: 1, maxSpareServers: 3 },
        },
      ],
    };
    const refused = await fpmkit(['render', '-'], JSON.stringify(spare));
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(
      'cannot be greater than pm.max_children(2) [fpm.spare-above-max-children]',
    );
    const anyway = await fpmkit(['render', '--allow-refused', '-'], JSON.stringify(spare));
    expect(anyway.exitCode).toBe(0);
    expect(anyway.stdout).toContain('pm.max_spare_servers = 3');
  });
});
