import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import type { PlanHostFacts } from '../../src/cli/plan.js';
import { runSimulate } from '../../src/cli/simulate.js';
import { SERIES_CSV_HEADER } from '../../src/sizing/simulate-results.js';

const GiB = 1024 ** 3;
const host: PlanHostFacts = {
  memTotalBytes: 8 * GiB,
  cgroupLimitBytes: 'unlimited',
  cpus: 4,
  somaxconn: 4096,
  problems: [],
};
const readHost = async () => host;

function capture(): { io: CliIo; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        err += t;
      },
      isTTY: false,
      env: {},
    },
    out: () => out,
    err: () => err,
  };
}

describe('fpmkit simulate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-sim-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('plans with the plan options, simulates, prints the summary and writes CSV and SVG', async () => {
    const c = capture();
    const csv = join(dir, 'out', 'series.csv');
    const svg = join(dir, 'out', 'chart.svg');
    const code = await runSimulate(
      [
        '--rps',
        '40',
        '--service-time',
        '100',
        '--pm',
        'ondemand',
        '--duration',
        '20',
        '--burst',
        '400',
        '--reload-at',
        '10',
        '--csv',
        csv,
        '--svg',
        svg,
      ],
      c.io,
      { readHost },
    );
    expect(c.err()).toBe('');
    expect(c.out()).toMatch(/^fpmkit simulate: pm = ondemand, max_children \d+, queue \d+$/m);
    expect(c.out()).toMatch(/^queue wait: mean [\d.]+ ms/m);
    expect(c.out()).toMatch(/^reload at 10\.00 s: nothing accepted for [\d.]+ s/m);
    expect([0, 1]).toContain(code);
    const lines = (await readFile(csv, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe(SERIES_CSV_HEADER);
    expect(lines.length).toBeGreaterThan(20);
    expect(await readFile(svg, 'utf8')).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it('prints JSON, deterministic for a seed, and exits 1 when requests fail', async () => {
    const args = [
      '--rps',
      '100',
      '--service-time',
      '100',
      '--pm',
      'dynamic',
      '--duration',
      '10',
      '--burst',
      '5000',
      '--seed',
      '3',
      '--json',
    ];
    const a = capture();
    const b = capture();
    const code = await runSimulate(args, a.io, { readHost });
    await runSimulate(args, b.io, { readHost });
    expect(a.out()).toBe(b.out());
    const parsed = JSON.parse(a.out()) as {
      ok: boolean;
      seed: number;
      summary: { status502: number; requests: number };
    };
    // ok is false exactly when the exit status is not 0: here some requests got a 502.
    expect(parsed.ok).toBe(false);
    expect(parsed.seed).toBe(3);
    expect(parsed.summary.status502).toBeGreaterThan(0);
    expect(code).toBe(1);
  });

  it('replays an nginx access log', async () => {
    const c = capture();
    const format = (
      await readFile(
        join(import.meta.dirname, '..', 'fixtures', 'logs', 'configs', 'nginx.conf'),
        'utf8',
      )
    ).match(/log_format timing [^;]+;/)![0];
    const code = await runSimulate(
      [
        '--rps',
        '5',
        '--replay',
        join(import.meta.dirname, '..', 'fixtures', 'logs', 'nginx-access.log'),
        '--log-format',
        format,
        '--json',
      ],
      c.io,
      { readHost },
    );
    expect(c.err()).toBe('');
    expect((JSON.parse(c.out()) as { summary: { requests: number } }).summary.requests).toBe(109);
    expect([0, 1]).toContain(code);
  });

  it('refuses what it cannot read or parse', async () => {
    const fifo = capture();
    expect(
      await runSimulate(['--rps', '5', '--replay', join(dir, 'missing.log')], fifo.io, {
        readHost,
      }),
    ).toBe(3);
    expect(fifo.err()).toMatch(/cannot read/);
    const bad = join(dir, 'bad.log');
    await writeFile(bad, 'not a log line\n');
    const c = capture();
    expect(await runSimulate(['--rps', '5', '--replay', bad], c.io, { readHost })).toBe(0);
  });

  it('is registered in the command line with its help', async () => {
    const c = capture();
    expect(await main(['help', 'simulate'], c.io)).toBe(0);
    expect(c.out()).toContain('Usage: fpmkit simulate');
    const h = capture();
    expect(await main(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/^ {2}simulate {11}/m);
    const u = capture();
    expect(
      await main(
        ['simulate', '--duration', 'x', '--rps', '1', '--memory', '1G', '--cpus', '1'],
        u.io,
      ),
    ).toBe(2);
  });
});
