import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { parseNginxAccessLog } from '../../src/logs/nginx-access-log.js';
import {
  type ReplayArrival,
  type SimulatePoolOptions,
  type SimulationPool,
  type SimulationResult,
  simulatePool,
} from '../../src/sizing/index.js';
import { type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

/**
 * Calibration of the simulator against real php-fpm 8.2 behind real nginx: each scenario
 * starts a fresh FPM master and nginx, drives them from Node over loopback, and reads what
 * happened from nginx's access log, then simulates the same arrivals.
 *
 * Queue wait, measured: nginx logs `$msec` (when the request ended) and
 * `$upstream_response_time` (from the start of its connect() to the pool until the response
 * ended), so the connect happened at `$msec − $upstream_response_time`; the script sends
 * `X-Php-Start`, `microtime(true)` at its first line. The wait is the difference: the time in
 * the accept queue plus the child's request startup (well under a millisecond). Both clocks
 * are the same host's; `$msec` has millisecond resolution, so each wait is ±1 ms.
 */

export const SCRIPT = `<?php
$s = microtime(true);
// A signal ends usleep() early (nanosleep is never restarted), and a reload's SIGQUIT would
// cut the request short; sleeping to a deadline behaves like a request waiting on a backend.
$end = $s + ((int)($_GET['ms'] ?? 100)) / 1000;
while (($left = $end - microtime(true)) > 0) usleep((int)($left * 1e6));
header('X-Php-Start: ' . sprintf('%.6f', $s));
header('X-Php-End: ' . sprintf('%.6f', microtime(true)));
header('X-Php-Pid: ' . getmypid());
echo 'ok';
`;

const LOG_FORMAT =
  '$msec $status $request_time "$upstream_response_time" "$upstream_http_x_php_start" "$upstream_http_x_php_end" "$upstream_http_x_php_pid" "$request_uri"';

/** One request as nginx logged it. Times are epoch seconds. */
export interface MeasuredRequest {
  /** When nginx began to connect to the pool. */
  connectAt: number;
  status: number;
  phpStart?: number;
  phpEnd?: number;
  pid?: number;
  uri: string;
}

export interface Stack {
  fpm: StartedFpm;
  nginx: StartedNginx;
  stop(): Promise<void>;
}

/** php-fpm with one pool `sim` (debug log, UTC) behind nginx on loopback. */
export async function startStack(pool: string, global = ''): Promise<Stack> {
  const fpm = await startPhpFpm({
    pools: [{ name: 'sim', directives: pool }],
    global: `log_level = debug\n${global}`,
    scripts: { 'sleep.php': SCRIPT },
    env: { TZ: 'UTC' },
  });
  let nginx: StartedNginx;
  try {
    nginx = await startNginx({
      http: `log_format sim '${LOG_FORMAT}';
  access_log @DIR@/sim.log sim;
  server { listen 127.0.0.1:@PORT@ backlog=4096; root ${fpm.wwwDir};
    location ~ \\.php$ { include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass unix:${fpm.pool('sim').socketPath}; } }`,
    });
  } catch (error) {
    await fpm.stop();
    throw error;
  }
  return {
    fpm,
    nginx,
    async stop() {
      await nginx.stop();
      await fpm.stop();
    },
  };
}

/** GET a path on a fresh connection; resolves with the status, -1 on a failure. */
export function get(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(-1));
    req.end();
  });
}

/** `n` requests at once. */
export function burst(port: number, n: number, ms: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => get(port, `/sleep.php?ms=${ms}&b=${i}`)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends each request at its time (ms from now) and resolves when all have answered. */
export async function schedule(
  port: number,
  items: readonly { atMs: number; path: string }[],
  actions: readonly { atMs: number; run: () => void }[] = [],
): Promise<number[]> {
  const start = performance.now();
  const pending: Promise<number>[] = [];
  const todo = [...actions].sort((a, b) => a.atMs - b.atMs);
  for (const item of items) {
    while (todo.length > 0 && todo[0]!.atMs <= item.atMs) {
      await sleep(todo[0]!.atMs - (performance.now() - start));
      todo.shift()!.run();
    }
    const wait = item.atMs - (performance.now() - start);
    if (wait > 1) await sleep(wait);
    pending.push(get(port, item.path));
  }
  for (const a of todo) {
    await sleep(a.atMs - (performance.now() - start));
    a.run();
  }
  return Promise.all(pending);
}

/** The requests nginx logged, in connect order. */
export async function readRequests(stack: Stack): Promise<MeasuredRequest[]> {
  const text = await readFile(`${stack.nginx.dir}/sim.log`, 'utf8');
  const out: MeasuredRequest[] = [];
  for (const r of parseNginxAccessLog(text, { format: LOG_FORMAT, strict: true })) {
    if (r.kind !== 'entry') continue;
    const f = r.fields;
    const num = (k: string) => (f[k] === undefined || f[k] === '-' ? undefined : Number(f[k]));
    const upstream = r.upstreamResponseTimeSeconds?.flat().find((v) => v !== null) ?? 0;
    const row: MeasuredRequest = {
      connectAt: Number(f.msec) - upstream,
      status: r.status ?? 0,
      uri: f.request_uri ?? '',
    };
    const start = num('upstream_http_x_php_start');
    const end = num('upstream_http_x_php_end');
    const pid = num('upstream_http_x_php_pid');
    if (start !== undefined) row.phpStart = start;
    if (end !== undefined) row.phpEnd = end;
    if (pid !== undefined) row.pid = pid;
    out.push(row);
  }
  return out.sort((a, b) => a.connectAt - b.connectAt);
}

/** What FPM's debug log says about the process manager (epoch seconds; the log is in UTC). */
export interface FpmTimeline {
  /** Maintenance ticks. */
  ticks: number[];
  /** Fork time of each child by pid. */
  forks: Map<number, number>;
  /** When the master reaped each child, by pid. */
  exits: Map<number, number>;
  /** When a reloading master re-executed itself. */
  execs: number[];
}

const STAMP =
  /^\[(\d\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d)\.(\d{6})\] \w+: pid \d+, (\w+)\(\), line \d+: (.*)$/gm;
const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';

export async function readTimeline(stack: Stack): Promise<FpmTimeline> {
  const text = await readFile(stack.fpm.errorLogPath, 'utf8');
  const out: FpmTimeline = { ticks: [], forks: new Map(), exits: new Map(), execs: [] };
  for (const m of text.matchAll(STAMP)) {
    const ms = Date.UTC(+m[3]!, MONTHS.indexOf(m[2]!) / 3, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
    const t = ms / 1000 + Number(m[7]) / 1e6;
    const fn = m[8]!;
    const msg = m[9]!;
    if (fn === 'fpm_pctl_perform_idle_server_maintenance' && out.ticks.at(-1) !== t)
      out.ticks.push(t);
    const started = /child (\d+) started/.exec(msg);
    if (started) out.forks.set(Number(started[1]), t);
    const exited = /child (\d+) (?:exited|has been killed)/.exec(msg);
    if (exited) out.exits.set(Number(exited[1]), t);
    if (msg.startsWith('reloading: execvp')) out.execs.push(t);
  }
  return out;
}

export const median = (values: readonly number[]): number | undefined =>
  values.length === 0 ? undefined : quantile(values, 0.5);

/**
 * The costs the simulator takes as inputs, measured in one run: fork to first request, the
 * gap between two requests of a child with a queue, exit to reap, re-exec to first fork, and
 * ondemand's wake-up from a connection to its fork.
 */
export function measuredTimings(
  rows: readonly MeasuredRequest[],
  tl: FpmTimeline,
  origin: number,
): Partial<
  Record<
    | 'forkSeconds'
    | 'acceptGapSeconds'
    | 'acceptLatencySeconds'
    | 'forksDuringRun'
    | 'exitSeconds'
    | 'restartSeconds'
    | 'masterWakeSeconds'
    | 'initialChildren',
    number
  >
> {
  const byPid = new Map<number, MeasuredRequest[]>();
  for (const r of rows) if (r.pid !== undefined) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r]);
  const fork: number[] = [];
  const gap: number[] = [];
  const exit: number[] = [];
  const latency: number[] = [];
  for (const [pid, mine] of byPid) {
    mine.sort((a, b) => a.phpStart! - b.phpStart!);
    const born = tl.forks.get(pid);
    if (born !== undefined && born > origin && mine[0]!.connectAt < born)
      fork.push(mine[0]!.phpStart! - born);
    for (let i = 1; i < mine.length; i++) {
      const before = mine[i - 1]!.phpEnd!;
      if (mine[i]!.connectAt < before) gap.push(mine[i]!.phpStart! - before);
      // A connection that came after the child was free again found it asleep in accept().
      else if (mine[i]!.connectAt > before + 0.005)
        latency.push(mine[i]!.phpStart! - mine[i]!.connectAt);
    }
    const died = tl.exits.get(pid);
    if (died !== undefined && tl.execs.length === 0) exit.push(died - mine.at(-1)!.phpEnd!);
  }
  const out: ReturnType<typeof measuredTimings> = {};
  const set = (k: keyof typeof out, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) out[k] = Math.max(0, v);
  };
  set('forkSeconds', median(fork));
  set('acceptGapSeconds', median(gap));
  set('exitSeconds', median(exit));
  set('acceptLatencySeconds', median(latency));
  const exec = tl.execs[0];
  if (exec !== undefined) {
    set('restartSeconds', Math.min(...[...tl.forks.values()].filter((t) => t > exec)) - exec);
  }
  const alive = [...tl.forks].filter(
    ([pid, t]) => t < origin && !((tl.exits.get(pid) ?? Infinity) < origin),
  );
  out.initialChildren = alive.length;
  return out;
}

/** Waits in the accept queue of the answered requests, seconds. */
export function measuredWaits(rows: readonly MeasuredRequest[]): number[] {
  return rows
    .filter((r) => r.phpStart !== undefined)
    .map((r) => Math.max(0, r.phpStart! - r.connectAt));
}

/** Mean time the script ran, seconds. */
export function meanService(rows: readonly MeasuredRequest[], uri = /./): number {
  const s = rows
    .filter((r) => r.phpEnd !== undefined && uri.test(r.uri))
    .map((r) => r.phpEnd! - r.phpStart!);
  return s.reduce((a, b) => a + b, 0) / s.length;
}

export function quantile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** What one measured run and its simulation gave. */
export interface RunFigures {
  scenario: string;
  run: number;
  measured: { requests: number; status502: number; p50: number; p99: number };
  simulated: { requests: number; status502: number; p50: number; p99: number };
  /** Inputs derived from the run (service time, tick phase, ...). */
  inputs: Record<string, number>;
}

/** A scenario: how to drive the real stack, and the simulation of what was driven. */
export interface Scenario {
  name: string;
  pool: string;
  global?: string;
  simPool: SimulationPool;
  simOptions?: SimulatePoolOptions;
  /** Drives the stack; returns named epoch times (e.g. the reload signal). */
  drive(stack: Stack): Promise<Record<string, number>>;
  /** Take the phase of the maintenance tick from FPM's log. */
  firstTickFromLog?: boolean;
  /** Take ondemand's wake-up latency from the log: first fork after the second connection. */
  wakeFromLog?: boolean;
  /** Service time of requests whose own is unknown, from the measured rows. */
  service?: (rows: readonly MeasuredRequest[]) => number;
}

/** Runs a scenario once against the real stack and once in the simulator. */
export async function runScenario(s: Scenario, run: number): Promise<RunFigures> {
  const stack = await startStack(s.pool, s.global);
  let rows: MeasuredRequest[];
  let marks: Record<string, number>;
  let tl: FpmTimeline;
  try {
    marks = await s.drive(stack);
    await sleep(200);
    rows = (await readRequests(stack)).filter((r) => !r.uri.includes('warm=1'));
    tl = await readTimeline(stack);
  } finally {
    await stack.stop();
  }
  const origin = rows[0]!.connectAt - 0.0005;
  const service = (s.service ?? ((r) => meanService(r)))(rows);
  const arrivals: ReplayArrival[] = rows.map((r) => ({
    atSeconds: r.connectAt - origin,
    ...(r.phpEnd === undefined ? {} : { serviceSeconds: r.phpEnd - r.phpStart! }),
  }));
  const timings = measuredTimings(rows, tl, origin);
  if (s.wakeFromLog && rows.length > 1) {
    // The first connection woke the idle child; the second found none and woke the master.
    const first = rows[0]!;
    if (first.phpStart !== undefined)
      timings.acceptLatencySeconds = first.phpStart - first.connectAt;
    const next = [...tl.forks.values()].filter((t) => t > rows[1]!.connectAt).sort()[0];
    timings.masterWakeSeconds =
      next === undefined ? rows.at(-1)!.connectAt - rows[1]!.connectAt : next - rows[1]!.connectAt;
    timings.forksDuringRun = [...tl.forks.values()].filter((t) => t > origin).length;
  }
  const inputs: Record<string, number> = { serviceSeconds: service, ...timings };
  const { forksDuringRun: _, ...given } = timings;
  const options: SimulatePoolOptions = {
    serviceTimeSeconds: service,
    serviceTimeDistribution: 'fixed',
    ...given,
    ...s.simOptions,
  };
  if (s.firstTickFromLog) {
    const next = tl.ticks.find((t) => t > origin);
    if (next !== undefined) {
      const phase = (next - origin) % 1 || 1;
      options.firstTickSeconds = phase;
      inputs.firstTickSeconds = phase;
    }
  }
  const reloads = Object.entries(marks)
    .filter(([k]) => k.startsWith('reload'))
    .map(([, v]) => v - origin);
  if (reloads.length > 0) {
    options.reloadsAtSeconds = reloads;
    inputs.reloadAtSeconds = reloads[0]!;
  }
  const sim = simulatePool(s.simPool, { kind: 'replay', arrivals }, options);
  return figures(s.name, run, rows, sim, inputs);
}

function figures(
  scenario: string,
  run: number,
  rows: readonly MeasuredRequest[],
  sim: SimulationResult,
  inputs: Record<string, number>,
): RunFigures {
  const waits = measuredWaits(rows);
  return {
    scenario,
    run,
    measured: {
      requests: rows.length,
      status502: rows.filter((r) => r.status === 502).length,
      p50: quantile(waits, 0.5),
      p99: quantile(waits, 0.99),
    },
    simulated: {
      requests: sim.summary.requests,
      status502: sim.summary.status502,
      p50: sim.summary.p50WaitSeconds,
      p99: sim.summary.p99WaitSeconds,
    },
    inputs,
  };
}

/** Seeded evenly spaced or Poisson send times, ms. */
function sendTimes(ratePerSecond: number, seconds: number, poisson: boolean, seed = 7): number[] {
  let x = seed >>> 0;
  const uniform = () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x + 0.5) / 4294967296;
  };
  const out: number[] = [];
  let t = 0;
  for (;;) {
    t += poisson ? -Math.log(uniform()) / ratePerSecond : 1 / ratePerSecond;
    if (t >= seconds) return out;
    out.push(t * 1000);
  }
}

const BURST = 80;
const BURST_MS = 100;
const BACKLOG = 31;

/** The scenarios of the acceptance: bursts on dynamic and ondemand, reloads, max_requests. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'burst-dynamic',
    pool: `pm = dynamic\npm.max_children = 20\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 3\nlisten.backlog = ${BACKLOG}`,
    simPool: {
      pm: {
        mode: 'dynamic',
        maxChildren: 20,
        startServers: 1,
        minSpareServers: 1,
        maxSpareServers: 3,
      },
      listen: { backlog: BACKLOG },
    },
    firstTickFromLog: true,
    async drive(stack) {
      await get(stack.nginx.port, '/sleep.php?ms=1&warm=1');
      await sleep(300);
      await burst(stack.nginx.port, BURST, BURST_MS);
      return {};
    },
  },
  {
    name: 'burst-ondemand',
    pool: `pm = ondemand\npm.max_children = 20\nlisten.backlog = ${BACKLOG}`,
    simPool: { pm: { mode: 'ondemand', maxChildren: 20 }, listen: { backlog: BACKLOG } },
    wakeFromLog: true,
    async drive(stack) {
      await burst(stack.nginx.port, BURST, BURST_MS);
      return {};
    },
  },
  ...[0, 10].map(
    (pct): Scenario => ({
      name: `reload-static-pct${pct}`,
      pool: 'pm = static\npm.max_children = 4\nlisten.backlog = 63',
      global: `process_control_timeout = ${pct}s`,
      simPool: { pm: { mode: 'static', maxChildren: 4 }, listen: { backlog: 63 } },
      simOptions: { processControlTimeoutSeconds: pct },
      service: (rows) => meanService(rows, /ms=20&/),
      async drive(stack) {
        await get(stack.nginx.port, '/sleep.php?ms=1&warm=1');
        const marks: Record<string, number> = {};
        const items = sendTimes(100, 3, false).map((atMs, i) => ({
          atMs,
          path: `/sleep.php?ms=20&s=${i}`,
        }));
        items.push({ atMs: 500, path: '/sleep.php?ms=1500&long=1' });
        items.sort((a, b) => a.atMs - b.atMs);
        await schedule(stack.nginx.port, items, [
          {
            atMs: 1000,
            run: () => {
              marks.reload = Date.now() / 1000;
              process.kill(stack.fpm.pid, 'SIGUSR2');
            },
          },
        ]);
        return marks;
      },
    }),
  ),
  {
    name: 'max-requests-50',
    pool: 'pm = static\npm.max_children = 4\npm.max_requests = 50\nlisten.backlog = 63',
    simPool: { pm: { mode: 'static', maxChildren: 4, maxRequests: 50 }, listen: { backlog: 63 } },
    async drive(stack) {
      const items = sendTimes(150, 4, true).map((atMs, i) => ({
        atMs,
        path: `/sleep.php?ms=20&m=${i}`,
      }));
      await schedule(stack.nginx.port, items);
      return {};
    },
  },
];

/** The measured range and the simulated value side by side, as a table. */
export function figuresTable(all: readonly RunFigures[]): string {
  const ms = (s: number) => (s * 1000).toFixed(1);
  const lines = [
    '| scenario | run | requests | 502 measured | 502 simulated | p50 wait measured (ms) | p50 simulated | p99 wait measured (ms) | p99 simulated |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of all) {
    lines.push(
      `| ${f.scenario} | ${f.run} | ${f.measured.requests} | ${f.measured.status502} | ${f.simulated.status502} | ${ms(f.measured.p50)} | ${ms(f.simulated.p50)} | ${ms(f.measured.p99)} | ${ms(f.simulated.p99)} |`,
    );
  }
  return lines.join('\n');
}
