import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { CliIo } from '../../src/cli/io.js';
import { runWatch } from '../../src/cli/watch.js';
import { STATUS_GAP_REASONS } from '../../src/status/sampler.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { run } from '../support/process.js';

/** `fpmkit status` and `fpmkit watch`, built, run as child processes against a real php-fpm. */
const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');
const fpmkit = (args: string[]) =>
  run(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
    timeoutMs: 60_000,
  });

const statusJson = z.object({
  ok: z.literal(true),
  command: z.literal('status'),
  target: z.string(),
  status: z.object({
    pool: z.string(),
    processManager: z.string(),
    startTime: z.iso.datetime(),
    acceptedConn: z.number().int().nonnegative(),
    listenQueueMeasured: z.boolean(),
    idleProcesses: z.number().int(),
    activeProcesses: z.number().int(),
    totalProcesses: z.number().int(),
    maxChildrenReached: z.number().int(),
    slowRequests: z.number().int(),
    processes: z.array(z.object({ pid: z.number().int(), state: z.string() })).optional(),
  }),
  kernelQueue: z.number().int().nonnegative().optional(),
});
const watchLine = z.strictObject({
  ok: z.literal(true),
  command: z.literal('watch'),
  time: z.iso.datetime(),
  pool: z.string(),
  restarted: z.boolean(),
  acceptedConn: z.number().int(),
  acceptedPerSecond: z.number().nonnegative().optional(),
  active: z.number().int(),
  idle: z.number().int(),
  total: z.number().int(),
  queue: z.number().int().optional(),
  queueSource: z.enum(['proc-net-unix', 'proc-net-tcp', 'status-page']).optional(),
  backlog: z.number().int().nonnegative().optional(),
  capacity: z.number().int().positive().optional(),
  queueError: z.string().optional(),
  maxChildrenReachedIncrement: z.number().int().optional(),
  slowRequestsIncrement: z.number().int().optional(),
  statusUnavailable: z
    .object({
      reason: z.enum(STATUS_GAP_REASONS),
      message: z.string(),
    })
    .optional(),
});
const errorJson = z.object({
  ok: z.literal(false),
  command: z.enum(['status', 'watch']),
  error: z.object({ code: z.string(), message: z.string() }),
});
const noStack = /\n\s+at .+:\d+:\d+/;

describe('fpmkit status/watch/doctor help and bad command lines', () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  });

  it.each([
    ['status', 'Usage: fpmkit status TARGET'],
    ['watch', 'Usage: fpmkit watch TARGET'],
    ['doctor', 'Usage: fpmkit doctor'],
  ])('%s --help', async (command, usage) => {
    const r = await fpmkit([command, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(usage);
    expect(r.stdout).toContain('Exit status:');
    const viaHelp = await fpmkit(['help', command]);
    expect(viaHelp.stdout).toBe(r.stdout);
  });

  it('lists the three commands in the main help', async () => {
    const r = await fpmkit(['--help']);
    expect(r.stdout).toMatch(/^ {2}status TARGET/m);
    expect(r.stdout).toMatch(/^ {2}watch TARGET/m);
    expect(r.stdout).toMatch(/^ {2}doctor/m);
  });

  it.each([
    [['status'], 'status needs a TARGET'],
    [['status', '/x.sock', '--format', 'yaml'], '--format must be one of'],
    [['status', '/x.sock', '--path', 'status'], '--path must start with /'],
    [['status', '/x.sock', '--bogus'], 'unknown option --bogus'],
    [['watch', '/x.sock', '--interval', '10'], '--interval must be at least 100'],
    [['watch', '/x.sock', '--count', 'two'], '--count must be a whole number'],
    [['watch'], 'watch needs a TARGET'],
    [['doctor', '--from', '/x', '--config', '/y'], '--from reads saved evidence'],
    [['doctor', '--since', 'yesterday'], '--since must be a time'],
    [['doctor', 'extra'], 'unexpected argument extra'],
    [['doctor', '--max-log-bytes'], 'option --max-log-bytes needs a value'],
  ])('%j exits 2 with a message', async (args, message) => {
    const r = await fpmkit(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(noStack);
  });

  it('status: a socket that does not exist exits 3 with the reason, no stack trace', async () => {
    const r = await fpmkit(['status', '/nonexistent/fpmkit.sock']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/^fpmkit status: .*ENOENT/);
    expect(r.stderr).not.toMatch(noStack);
    const j = await fpmkit(['status', '/nonexistent/fpmkit.sock', '--json']);
    expect(j.exitCode).toBe(3);
    expect(errorJson.parse(JSON.parse(j.stdout)).error.code).toBe('FPMKIT_CONNECT');
  });

  it('status: a peer that accepts and never answers, with nothing queued, exits 3 (not saturated)', async () => {
    // As a pool whose worker hangs: the connection is taken off the queue and nothing comes back.
    const dir = await mkdtemp(join(tmpdir(), 'fpmkit-hung-'));
    const path = join(dir, 'fpm.sock');
    const sockets = new Set<Socket>();
    const server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const r = await fpmkit(['status', path, '--timeout', '500', '--json']);
      expect(r.exitCode).toBe(3);
      const j = errorJson.parse(JSON.parse(r.stdout));
      expect(j.error.code).toBe('FPMKIT_STATUS_NO_ANSWER');
      expect(j.error.message).toMatch(/no answer/);
      const text = await fpmkit(['status', path, '--timeout', '500']);
      expect(text.exitCode).toBe(3);
      expect(text.stderr).toMatch(/^fpmkit status: .*no answer/);
      expect(text.stderr).not.toMatch(noStack);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const fpmReq = phpFpmBinary();
describe.skipIf(!fpmReq.available)(
  `fpmkit status and watch against php-fpm${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let target = '';
    beforeAll(async () => {
      if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            directives: 'pm = static\npm.max_children = 2\npm.status_path = /fpm-status\n',
          },
        ],
      });
      target = fpm.pool('www').target;
    }, 30_000);
    afterAll(async () => {
      await fpm?.stop();
    });

    it('status prints the page for people', async () => {
      const r = await fpmkit(['status', target, '--path', '/fpm-status']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^pool {18}www$/m);
      expect(r.stdout).toMatch(/^process manager {7}static$/m);
      expect(r.stdout).toMatch(
        /^listen queue +not measured by FPM for a UNIX socket; kernel queue now \d+$/m,
      );
      expect(r.stdout).toMatch(/^processes +\d+ active, \d+ idle, 2 total/m);
    });

    it.each(['json', 'text', 'xml', 'html', 'openmetrics'])(
      'status --json --format %s is valid against the schema',
      async (format) => {
        const r = await fpmkit([
          'status',
          target,
          '--path',
          '/fpm-status',
          '--format',
          format,
          '--json',
        ]);
        expect(r.exitCode).toBe(0);
        const parsed = statusJson.parse(JSON.parse(r.stdout));
        expect(parsed.status.pool).toBe('www');
        expect(parsed.status.totalProcesses).toBe(2);
        expect(parsed.kernelQueue).toBeGreaterThanOrEqual(0);
      },
    );

    it('status --full lists each worker', async () => {
      const r = await fpmkit(['status', target, '--path', '/fpm-status', '--full', '--json']);
      const parsed = statusJson.parse(JSON.parse(r.stdout));
      expect(parsed.status.processes).toHaveLength(2);
      const text = await fpmkit(['status', target, '--path', '/fpm-status', '--full']);
      expect(text.stdout.match(/^\d+ +(Idle|Running) /gm)).toHaveLength(2);
    });

    it('status of a path FPM does not serve exits 1 and names the directive', async () => {
      const r = await fpmkit(['status', target, '--path', '/status']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/^fpmkit status: /);
      expect(r.stderr).toMatch(/fix: set `pm\.status_path/i);
      expect(r.stderr).not.toMatch(noStack);
    });

    it('watch --count --json prints one valid line per sample, with rates after the first', async () => {
      const r = await fpmkit([
        'watch',
        target,
        '--path',
        '/fpm-status',
        '--interval',
        '200',
        '--count',
        '3',
        '--json',
      ]);
      expect(r.exitCode).toBe(0);
      const lines = r.stdout
        .trim()
        .split('\n')
        .map((l) => watchLine.parse(JSON.parse(l)));
      expect(lines).toHaveLength(3);
      expect(lines[0]!.acceptedPerSecond).toBeUndefined();
      expect(lines[2]!.acceptedPerSecond).toBeGreaterThan(0);
      expect(lines[2]!.acceptedConn).toBeGreaterThan(lines[0]!.acceptedConn);
      expect(lines.every((l) => l.queue !== undefined && l.total === 2)).toBe(true);
      // The kernel's queue, and the capacity of the live socket: FPM's default backlog
      // (511, or somaxconn when that is lower) + 1.
      for (const l of lines) {
        expect(l.queueSource).toBe('proc-net-unix');
        expect(l.capacity).toBe(l.backlog! + 1);
        expect(l.statusUnavailable).toBeUndefined();
      }
    });

    it('watch without a terminal prints a header and one line per sample, never redraws', async () => {
      const r = await fpmkit([
        'watch',
        target,
        '--path',
        '/fpm-status',
        '--interval',
        '100',
        '--count',
        '2',
      ]);
      expect(r.exitCode).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^time +req\/s +active +idle +total +queue/);
      expect(lines).toHaveLength(3);
      expect(r.stdout).not.toContain('\u001b[');
    });

    it('watch on a terminal redraws the view in place', async () => {
      const out: string[] = [];
      const io: CliIo = {
        stdout: (t) => out.push(t),
        stderr: (t) => out.push(t),
        isTTY: true,
        env: { NO_COLOR: '1' },
      };
      const code = await runWatch(
        [target, '--path', '/fpm-status', '--interval', '100', '--count', '2'],
        io,
      );
      expect(code).toBe(0);
      expect(out).toHaveLength(2);
      for (const frame of out) expect(frame.startsWith('\u001b[H\u001b[2J')).toBe(true);
      expect(out[1]!.trim().split('\n')).toHaveLength(4);
    });

    it('watch ends with exit 0 on Ctrl-C (SIGINT)', async () => {
      const child = spawn(
        process.execPath,
        [bin, 'watch', target, '--path', '/fpm-status', '--interval', '200'],
        {
          env: { PATH: process.env.PATH ?? '', NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`watch did not end: ${out}`));
        }, 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.split('\n').length > 3) child.kill('SIGINT');
        });
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(code).toBe(0);
      expect(out).toMatch(/^time +req\/s/);
    }, 30_000);
  },
);
