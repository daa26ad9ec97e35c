import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runDoctor } from '../../src/cli/doctor.js';
import type { CliIo } from '../../src/cli/io.js';
import { diagnose } from '../../src/doctor/index.js';
import { snapshotFromDirectory } from '../../src/host/index.js';
import { run } from '../support/process.js';

/** `fpmkit doctor`, built, run as a child process; and the command function with injected io. */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const EVIDENCE = 'test/fixtures/doctor/evidence';
const fpmkit = (args: string[]) =>
  run(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    timeoutMs: 60_000,
  });

/** The `--json` document: the envelope every command prints, around the doctor's Report. */
const reportSchema = z.strictObject({
  ok: z.boolean(),
  command: z.literal('doctor'),
  findings: z.array(
    z.strictObject({
      code: z.string().regex(/^(fpm|stack|live)\.[a-z-]+$/),
      severity: z.enum(['error', 'warning', 'info']),
      message: z.string().min(1),
      pool: z.string().optional(),
      directive: z.string().optional(),
      file: z.string().optional(),
      line: z.number().int().optional(),
      evidence: z.record(z.string(), z.unknown()).optional(),
      fix: z.string().optional(),
    }),
  ),
  summary: z.strictObject({
    errors: z.number().int(),
    warnings: z.number().int(),
    infos: z.number().int(),
    masters: z.number().int(),
    pools: z.number().int(),
    text: z.string(),
  }),
  missing: z.array(z.strictObject({ part: z.string(), reason: z.string() })),
  noFpm: z.boolean(),
  files: z.record(z.string(), z.string()),
});
const noStack = /\n\s+at .+:\d+:\d+/;

let dir = '';
beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-doctor-cli-'));
  await mkdir(join(dir, 'proc'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fpmkit doctor', () => {
  it('says plainly that no FPM master was found, and exits 3', async () => {
    const r = await fpmkit(['doctor', '--proc-root', join(dir, 'proc')]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain(
      `No PHP-FPM master was found (no process titled "php-fpm: master process" runs here (looked in ${join(dir, 'proc')})).`,
    );
    expect(r.stderr).toBe('');
    const j = await fpmkit(['doctor', '--proc-root', join(dir, 'proc'), '--json']);
    expect(j.exitCode).toBe(3);
    const report = reportSchema.parse(JSON.parse(j.stdout));
    expect(report.noFpm).toBe(true);
    expect(report.findings.map((f) => f.code)).toEqual(['live.no-fpm-master']);
  });

  it('--from DIR reads saved evidence and reports what it finds, exit 1 for errors', async () => {
    const r = await fpmkit(['doctor', '--from', EVIDENCE, '--json']);
    expect(r.exitCode).toBe(1);
    const report = reportSchema.parse(JSON.parse(r.stdout));
    const codes = new Set(report.findings.map((f) => f.code));
    for (const code of [
      'live.accept-queue-overflow',
      'live.socket-permission-denied',
      'live.socket-missing',
      'live.max-children-reached',
      'live.slow-requests',
      'live.ondemand-cold-start',
      'stack.process-control-timeout-short',
    ])
      expect(codes, code).toContain(code);
    const overflow = report.findings.find((f) => f.code === 'live.accept-queue-overflow')!;
    expect(overflow.pool).toBe('burst');
    expect(overflow.evidence).toMatchObject({
      eagainCount: 29,
      effectiveBacklog: 8,
      queueCapacity: 9,
    });
    expect(report.files['sysctl.d/60-php-fpm.conf']).toContain('net.core.somaxconn = 4096');
    expect(report.missing.some((m) => m.part === 'unix accept queues')).toBe(true);
  });

  it('--from DIR prints the report for people, with what it could not examine', async () => {
    const r = await fpmkit(['doctor', '--from', EVIDENCE]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(
      /^error {3}live\.accept-queue-overflow \[pool burst\] nginx was refused 29 connection/m,
    );
    expect(r.stdout).toMatch(/^ {10}fix: Set listen\.backlog = 511 in pool burst/m);
    expect(r.stdout).toContain('--- sysctl.d/60-php-fpm.conf (with the fix applied) ---');
    expect(r.stdout).toMatch(/^Not examined:$/m);
    expect(r.stdout).toMatch(/^1 FPM master\(s\), 7 pool\(s\): 3 error\(s\)/m);
    expect(r.stdout).not.toContain('\u001b[');
  });

  it('--since drops older log lines', async () => {
    const r = await fpmkit([
      'doctor',
      '--from',
      EVIDENCE,
      '--since',
      '2026-11-21T08:47:40Z',
      '--json',
    ]);
    const report = reportSchema.parse(JSON.parse(r.stdout));
    expect(report.findings.some((f) => f.code === 'live.accept-queue-overflow')).toBe(false);
    expect(report.findings.some((f) => f.code === 'live.max-children-reached')).toBe(true);
  });

  it('an unreadable manifest exits 3 with the reason, no stack trace', async () => {
    const bad = join(dir, 'bad');
    await mkdir(bad);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(bad, 'fpmkit-evidence.json'), 'not json');
    const r = await fpmkit(['doctor', '--from', bad]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^fpmkit doctor: .*fpmkit-evidence\.json is not JSON/);
    expect(r.stderr).not.toMatch(noStack);
  });

  it('exits 0 when nothing is wrong', async () => {
    const out: string[] = [];
    const io: CliIo = {
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      isTTY: false,
      env: {},
    };
    const clean = await snapshotFromDirectory(EVIDENCE);
    clean.masters = [];
    clean.nginxErrorLog = { ok: false, reason: 'none' };
    expect(diagnose(clean).summary.errors).toBe(0);
    const code = await runDoctor([], io, {
      collect: async () => clean,
      fromDirectory: async () => clean,
    });
    expect(code).toBe(0);
    expect(out.join('')).toContain('; no errors.');
  });

  it('colours only on a terminal', async () => {
    const out: string[] = [];
    const snapshot = await snapshotFromDirectory(EVIDENCE);
    const deps = { collect: async () => snapshot, fromDirectory: async () => snapshot };
    await runDoctor(
      [],
      { stdout: (t) => out.push(t), stderr: () => {}, isTTY: true, env: {} },
      deps,
    );
    expect(out.join('')).toContain('\u001b[31merror  \u001b[0m');
    out.length = 0;
    await runDoctor(
      [],
      { stdout: (t) => out.push(t), stderr: () => {}, isTTY: true, env: { NO_COLOR: '1' } },
      deps,
    );
    expect(out.join('')).not.toContain('\u001b[');
  });
});
