import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statusReport } from '../../examples/status.js';
import { watch } from '../../examples/watch.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

const req = phpFpmBinary();

/** Runs an example as a program, bounded, and collects its output. */
function runExample(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!req.available)(`examples/status.ts and examples/watch.ts${req.reason}`, () => {
  let fpm: StartedFpm;
  beforeAll(async () => {
    fpm = await startPhpFpm({
      pools: [
        {
          name: 'www',
          listen: 'unix',
          directives: 'pm.status_path = /status\nping.path = /ping\n',
        },
        { name: 'api', listen: 'tcp', directives: 'pm.status_path = /status\nping.path = /ping\n' },
      ],
    });
  });
  afterAll(async () => {
    await fpm?.stop();
  });

  it('status.ts prints the pool, its workers and the ping', async () => {
    const out = await runExample('examples/status.ts', [fpm.pool('www').target, '--full']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^pool www \(pm = static\), up \d+ s/);
    expect(out.stdout).toContain('listen queue: not measured');
    expect(out.stdout).toMatch(/pid \d+ Running +requests +\d+ .* GET \/status\?json&full/);
    expect(out.stdout).toMatch(/ping: ok in \d+\.\d\d ms/);
  });

  it('status.ts shows the measured queue of a TCP pool, in XML too', async () => {
    const lines = await statusReport(fpm.pool('api').target, { format: 'xml' });
    expect(lines[0]).toMatch(/^pool api /);
    expect(lines).toContainEqual(
      expect.stringMatching(/^listen queue: 0 waiting, at most 0 since start, backlog \d+$/),
    );
  });

  it('status.ts names the directive when the path is wrong, and exits 1', async () => {
    const out = await runExample('examples/status.ts', [
      fpm.pool('www').target,
      '--path',
      '/fpm-status',
    ]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('FPMKIT_STATUS_MISCONFIGURED');
    expect(out.stderr).toContain('pm.status_path = /fpm-status');
  });

  it('watch.ts prints a first sample, then rates', async () => {
    const out = await runExample('examples/watch.ts', [
      fpm.pool('www').target,
      '--interval',
      '200',
      '--count',
      '3',
    ]);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    // The kernel's queue of the socket, with its capacity (backlog + 1).
    expect(lines[0]).toMatch(/first sample {2}[12]\/2 busy {2}queue 0\/\d+$/);
    // Each status request is one accepted request, so the rate is positive.
    for (const line of lines.slice(1)) expect(line).toMatch(/\d+\.\d req\/s {2}[12]\/2 busy/);
  });

  it('watch() stops on its signal', async () => {
    const controller = new AbortController();
    const lines: string[] = [];
    const n = await watch(
      fpm.pool('api').target,
      { intervalMs: 50, signal: controller.signal },
      (l) => {
        lines.push(l);
        if (lines.length === 2) controller.abort();
      },
    );
    expect(n).toBe(2);
    expect(lines[1]).toMatch(/req\/s {2}[12]\/2 busy {2}queue 0(\/\d+)? /);
  });
});
