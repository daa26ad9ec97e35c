/**
 * Sizing benchmarks and the queue calibration.
 *
 * 1. erlangC for 100,000 servers (goal: < 5 ms) beside a bare O(c) loop (the floor) and two
 *    textbook implementations (the peers): the factorial series a^k/k!, and the same in log
 *    space with log-sum-exp.
 * 2. planHost for 50 pools on a 512-core, 2 TiB host (goal: < 50 ms) beside the RAM / worker
 *    division every calculator does (the floor) and a textbook planner (the peer): a children
 *    search that recomputes Erlang C from scratch for each candidate, and the reload backlog from
 *    the Poisson distribution summed term by term.
 * 3. Queue calibration against real php-fpm behind real nginx: Poisson arrivals at utilisation
 *    0.8 on 4 children of a 50 ms script for 60 s (FPMKIT_QUEUE_SECONDS to change), printing
 *    the predicted and measured mean queue wait and probability of waiting (0 skips it). It lives here, not
 *    in `npm test`, because it is a minute of wall-clock measurement that machine load skews.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { erlangC, type PoolDemand, planHost } from '../src/sizing/index.js';
import { nginxBinary, phpFpmBinary } from '../test/support/integration.js';
import { startNginx } from '../test/support/nginx.js';
import { startPhpFpm } from '../test/support/php-fpm.js';
import { checkLoad, compare, consume, report } from './lib.js';

const MiB = 1024 * 1024;

/** Textbook Erlang C: Σ a^k/k! term by term. Overflows to NaN once a^k/k! passes 1e308. */
function erlangCFactorialSeries(c: number, a: number): number {
  let term = 1;
  let sum = 0;
  for (let k = 0; k < c; k++) {
    sum += term;
    term *= a / (k + 1);
  }
  const top = (term * c) / (c - a);
  return top / (sum + top);
}

/** Textbook Erlang C in log space: log-sum-exp over ln(a^k/k!), one exp and log per term. */
function erlangCLogSpace(c: number, a: number): number {
  const la = Math.log(a);
  const logs: number[] = [];
  let lf = 0;
  for (let k = 0; k < c; k++) {
    if (k > 0) lf += Math.log(k);
    logs.push(k * la - lf);
  }
  const lTop = c * la - (lf + Math.log(c)) + Math.log(c / (c - a));
  let max = lTop;
  for (const x of logs) if (x > max) max = x;
  let sum = 0;
  for (const x of logs) sum += Math.exp(x - max);
  const top = Math.exp(lTop - max);
  return top / (sum + top);
}

/** Textbook children search: the smallest c whose p99 wait meets the target, Erlang C anew per c. */
function textbookChildren(lambda: number, s: number, targetSeconds: number): number {
  const a = lambda * s;
  for (let c = Math.floor(a) + 1; ; c++) {
    const pw = erlangCLogSpace(c, a);
    const decay = (c - a) / s;
    const p99 = pw <= 0.01 ? 0 : Math.log(pw / 0.01) / decay;
    if (p99 <= targetSeconds) return c;
  }
}

/**
 * Textbook plan of one pool: the children search above with the Allen-Cunneen factor, then the
 * reload backlog from the Poisson distribution summed term by term from 0 (one exp per term).
 */
function textbookPlan(p: PoolDemand, windowSeconds: number): [number, number, number] {
  const cv = p.serviceTimeCv ?? 1;
  const children = textbookChildren(p.arrivalRate, p.serviceTimeSeconds, 0.1 / ((1 + cv * cv) / 2));
  const mean = p.arrivalRate * windowSeconds;
  let logFact = 0;
  let cdf = 0;
  let n = 0;
  for (; ; n++) {
    if (n > 0) logFact += Math.log(n);
    cdf += Math.exp(n * Math.log(mean) - mean - logFact);
    if (cdf >= 0.999) break;
  }
  const queue = Math.max(n, 512);
  let refused = 0;
  logFact = 0;
  for (let k = 0; k < mean + 10 * Math.sqrt(mean) + 50; k++) {
    if (k > 0) logFact += Math.log(k);
    if (k > queue) refused += (k - queue) * Math.exp(k * Math.log(mean) - mean - logFact);
  }
  return [children, queue - 1, refused];
}

const pools: PoolDemand[] = Array.from({ length: 50 }, (_, i) => ({
  name: `site${i}`,
  arrivalRate: 20 + 20 * i,
  serviceTimeSeconds: 0.02 + 0.004 * (i % 10),
  serviceTimeCv: 1.5,
  cpuShare: 0.3,
  mode: (['static', 'dynamic', 'ondemand'] as const)[i % 3]!,
  pssSamplesBytes: [40 * MiB + i * MiB, 48 * MiB + i * MiB, 70 * MiB],
}));

async function timings(): Promise<void> {
  checkLoad();
  const c = 100_000;
  const a = 0.999 * c;
  const ours = erlangC({ arrivalRate: a, serviceTimeSeconds: 1, servers: c }).probabilityOfWait;
  console.log(
    `erlangC(100,000 servers, rho 0.999): P(wait) = ${ours}; factorial series gives ${erlangCFactorialSeries(c, a)}, log space gives ${erlangCLogSpace(c, a)}`,
  );
  const e = await compare(
    [
      {
        name: 'erlangC (Erlang B recursion)',
        role: 'fpmkit',
        run: () => erlangC({ arrivalRate: a, serviceTimeSeconds: 1, servers: c }).probabilityOfWait,
      },
      {
        name: 'bare loop of c additions',
        role: 'floor',
        run: () => {
          let x = 0;
          for (let k = 1; k <= c; k++) x += k * a;
          return x;
        },
      },
      { name: 'textbook factorial series', role: 'peer', run: () => erlangCFactorialSeries(c, a) },
      { name: 'textbook log-sum-exp', role: 'peer', run: () => erlangCLogSpace(c, a) },
    ],
    { rounds: 31, warmup: 5 },
  );
  report('erlangC, 100,000 servers, utilisation 0.999 (goal < 5 ms)', e);
  const ourE = e.find((m) => m.role === 'fpmkit')!;
  console.log(`  ${ourE.medianMs < 5 ? 'PASS' : 'FAIL'}: ${ourE.medianMs.toFixed(3)} ms < 5 ms`);

  const host = { pools, cores: 512, totalMemoryBytes: 2 * 1024 ** 4 };
  // The window planHost derives: process_control_timeout (33 s for 30 s requests) + restart.
  const planWindow = planHost(host).pools[0]!.predictions.reloadWindowSeconds;
  const mine = planHost(host).pools.map((x) => x.pool.pm.maxChildren);
  const theirs = pools.map((x) => textbookPlan(x, planWindow)[0]);
  console.log(
    `planHost children needed vs textbook: ${pools.filter((_, i) => mine[i]! >= theirs[i]!).length}/50 pools at or above the textbook need (planHost adds headroom)`,
  );
  const p = await compare(
    [
      { name: 'planHost, 50 pools', role: 'fpmkit', run: () => planHost(host).pools.length },
      {
        name: 'RAM / worker size per pool',
        role: 'floor',
        run: () =>
          pools.map((x) =>
            Math.floor(host.totalMemoryBytes / pools.length / (x.pssSamplesBytes?.[2] ?? 1)),
          ),
      },
      {
        name: 'textbook children + Poisson backlog',
        role: 'peer',
        run: () => pools.map((x) => textbookPlan(x, planWindow)),
      },
    ],
    { rounds: 21, warmup: 10 },
  );
  report('planHost, 50 pools, 512 cores, 2 TiB (goal < 50 ms)', p);
  const ourP = p.find((m) => m.role === 'fpmkit')!;
  console.log(`  ${ourP.medianMs < 50 ? 'PASS' : 'FAIL'}: ${ourP.medianMs.toFixed(3)} ms < 50 ms`);
  consume(planHost(host));
}

/** Exponential variate with the given mean. */
const exponential = (mean: number) => -mean * Math.log(1 - Math.random());

async function queueCalibration(): Promise<void> {
  const fpmReq = phpFpmBinary();
  const nginxReq = nginxBinary();
  if (!fpmReq.available || !nginxReq.available) {
    console.log(`\nqueue calibration skipped:${fpmReq.reason}${nginxReq.reason}`);
    return;
  }
  const seconds = Number(process.env.FPMKIT_QUEUE_SECONDS ?? 60);
  if (!(seconds > 0)) {
    console.log('\nqueue calibration skipped: FPMKIT_QUEUE_SECONDS is not positive');
    return;
  }
  const children = 4;
  const nominalService = 0.05;
  const lambda = (0.8 * children) / nominalService;
  const fpm = await startPhpFpm({
    pools: [{ name: 'queue', directives: `pm = static\npm.max_children = ${children}\n` }],
    scripts: {
      'sleep.php':
        '<?php usleep(50000); $end = microtime(true); header(sprintf("X-Timing: %.6f %.6f %d", $_SERVER["REQUEST_TIME_FLOAT"], $end, getmypid())); echo "ok";',
    },
  });
  const web = await startNginx({
    http: `server { listen 127.0.0.1:@PORT@ backlog=4096; root ${fpm.wwwDir};
  location ~ \\.php$ { include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${fpm.pool('queue').socketPath}; } }`,
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
  const now = () => performance.timeOrigin + performance.now();
  type Sample = { sentMs: number; startMs: number; endMs: number; pid: number; status: number };
  const samples: Sample[] = [];
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const sentMs = now();
      const req = httpRequest(
        { host: '127.0.0.1', port: web.port, path: '/sleep.php', agent },
        (res) => {
          const [start, end, pid] = String(res.headers['x-timing'] ?? '0 0 0')
            .split(' ')
            .map(Number);
          res.resume();
          res.on('end', () => {
            samples.push({
              sentMs,
              startMs: (start ?? 0) * 1000,
              endMs: (end ?? 0) * 1000,
              pid: pid ?? 0,
              status: res.statusCode ?? 0,
            });
            resolve();
          });
        },
      );
      req.on('error', () => {
        samples.push({ sentMs, startMs: 0, endMs: 0, pid: 0, status: -1 });
        resolve();
      });
      req.end();
    });
  // Kernel-side witness: /proc/net/unix lists each connection waiting in the accept queue
  // (St 02, the listener's path) and each accepted one a child is serving (St 03, same path).
  const socketPath = fpm.pool('queue').socketPath!;
  const kernel = { samples: 0, queued: 0, allBusy: 0 };
  const sampleKernel = () => {
    let text: string;
    try {
      text = readFileSync('/proc/net/unix', 'utf8');
    } catch {
      return;
    }
    let queued = 0;
    let busy = 0;
    for (const line of text.split('\n')) {
      if (!line.endsWith(` ${socketPath}`)) continue;
      const st = line.trim().split(/\s+/)[5];
      if (st === '02') queued++;
      else if (st === '03') busy++;
    }
    kernel.samples++;
    kernel.queued += queued;
    if (busy >= children || queued > 0) kernel.allBusy++;
  };
  let sampler: NodeJS.Timeout | undefined;
  try {
    // Warm the children and the connections, then send Poisson arrivals on an absolute schedule.
    await Promise.all(Array.from({ length: children }, one));
    samples.length = 0;
    console.log(
      `\nqueue calibration: Poisson ${lambda} req/s, ${children} children, 50 ms script, ${seconds} s`,
    );
    const inflight: Promise<void>[] = [];
    sampler = setInterval(sampleKernel, 10);
    const t0 = performance.now();
    let next = t0;
    while (next - t0 < seconds * 1000) {
      next += exponential(1000 / lambda);
      const delay = next - performance.now();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      inflight.push(one());
    }
    clearInterval(sampler);
    await Promise.all(inflight);
  } finally {
    clearInterval(sampler);
    agent.destroy();
    await web.stop();
    await fpm.stop();
  }
  const ok = samples.filter((s) => s.status === 200 && s.startMs > 0);
  const durationSeconds =
    (Math.max(...ok.map((s) => s.sentMs)) - Math.min(...ok.map((s) => s.sentMs))) / 1000;
  const rate = ok.length / durationSeconds;
  const service = ok.map((s) => (s.endMs - s.startMs) / 1000);
  const scriptS = service.reduce((x, y) => x + y, 0) / service.length;
  // A child is busy from accept to its next accept, not only while the script runs: finishing
  // the response and getting back to accept() costs time, more on a loaded host. Measure it as
  // the gap between one request's end and the next start on the same child, for requests that
  // were already waiting (so the child went straight from one to the next).
  const gaps: number[] = [];
  const byPid = new Map<number, Sample[]>();
  for (const s of ok) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
  for (const list of byPid.values()) {
    list.sort((x, y) => x.startMs - y.startMs);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!;
      const cur = list[i]!;
      if (cur.sentMs < prev.endMs) gaps.push((cur.startMs - prev.endMs) / 1000);
    }
  }
  gaps.sort((x, y) => x - y);
  const gapS = gaps.length ? gaps[Math.floor(gaps.length / 2)]! : 0;
  const meanS = scriptS + gapS;
  const sdS = Math.sqrt(service.reduce((x, y) => x + (y - scriptS) ** 2, 0) / service.length);
  // Time from send to the child's start includes nginx's relay; the low decile (requests that
  // found a child idle) measures it and is subtracted from every sample.
  const delays = ok.map((s) => s.startMs - s.sentMs).sort((x, y) => x - y);
  const relayMs = delays[Math.floor(delays.length * 0.1)]!;
  const waits = delays.map((d) => Math.max(0, d - relayMs) / 1000);
  const meanWait = waits.reduce((x, y) => x + y, 0) / waits.length;
  const waitedShare = waits.filter((w) => w > 0.001).length / waits.length;
  const sends = ok.map((x) => x.sentMs).sort((x, y) => x - y);
  const gapsIn = sends.slice(1).map((t, i) => t - sends[i]!);
  const meanIn = gapsIn.reduce((x, y) => x + y, 0) / gapsIn.length;
  const cvIn =
    Math.sqrt(gapsIn.reduce((x, y) => x + (y - meanIn) ** 2, 0) / gapsIn.length) / meanIn;
  console.log(`  interarrival cv ${cvIn.toFixed(3)} (1 for Poisson)`);
  const pred = erlangC({
    arrivalRate: rate,
    serviceTimeSeconds: meanS,
    servers: children,
    serviceTimeCv: sdS / meanS,
  });
  const mm = erlangC({ arrivalRate: rate, serviceTimeSeconds: meanS, servers: children });
  const gg = erlangC({
    arrivalRate: rate,
    serviceTimeSeconds: meanS,
    servers: children,
    serviceTimeCv: sdS / meanS,
    arrivalCv: cvIn,
  });
  console.log(
    `  requests ${ok.length} of ${samples.length} ok, measured rate ${rate.toFixed(2)}/s, service ${(meanS * 1000).toFixed(2)} ms = script ${(scriptS * 1000).toFixed(2)} + median accept gap ${(gapS * 1000).toFixed(2)} ms (cv ${(sdS / meanS).toFixed(3)}), utilisation ${pred.utilization.toFixed(3)}, relay ${relayMs.toFixed(2)} ms`,
  );
  console.log(
    `  mean queue wait: predicted ${(pred.meanWaitSeconds * 1000).toFixed(2)} ms (Allen-Cunneen; plain M/M/c ${(mm.meanWaitSeconds * 1000).toFixed(2)} ms; with the measured arrival cv ${(gg.meanWaitSeconds * 1000).toFixed(2)} ms), measured ${(meanWait * 1000).toFixed(2)} ms, error ${((100 * (pred.meanWaitSeconds - meanWait)) / meanWait).toFixed(1)} %`,
  );
  console.log(
    `  P(wait): predicted ${pred.probabilityOfWait.toFixed(3)}, measured share ${waitedShare.toFixed(3)} (waits over 1 ms), difference ${(pred.probabilityOfWait - waitedShare).toFixed(3)}`,
  );
  // Little's law turns the time-averaged queue into the mean wait; Poisson arrivals see time
  // averages (PASTA), so the share of samples with every child busy is P(wait).
  const kWait = kernel.queued / kernel.samples / rate;
  const kShare = kernel.allBusy / kernel.samples;
  console.log(
    `  kernel witness (${kernel.samples} samples of /proc/net/unix): mean queue ${(kernel.queued / kernel.samples).toFixed(3)} → wait ${(kWait * 1000).toFixed(2)} ms (Little), every child busy ${kShare.toFixed(3)} of the time (PASTA)`,
  );
  console.log(
    `    vs predicted: wait error ${((100 * (pred.meanWaitSeconds - kWait)) / kWait).toFixed(1)} %, P(wait) difference ${(pred.probabilityOfWait - kShare).toFixed(3)}`,
  );
  const verdict = (w: number, p: number) =>
    Math.abs(pred.meanWaitSeconds - w) <= 0.25 * w && Math.abs(pred.probabilityOfWait - p) <= 0.1;
  console.log(
    `  ${verdict(meanWait, waitedShare) ? 'PASS' : 'FAIL'} (client timing): mean wait within 25 % and P(wait) within 0.1`,
  );
  console.log(
    `  ${verdict(kWait, kShare) ? 'PASS' : 'FAIL'} (kernel witness): mean wait within 25 % and P(wait) within 0.1`,
  );
}

await timings();
await queueCalibration();
