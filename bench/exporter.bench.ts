import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExporter } from '../test/metrics/support.js';
import { DEBIAN13_ROOT } from '../test/support/debian13.js';
import { startPhpFpm } from '../test/support/php-fpm.js';
import { freePort, poll, startDaemon } from '../test/support/process.js';
import { FLOOR_WORK_HEADER, floorWork } from './exporter-floor.js';
import { checkLoad } from './lib.js';

/**
 * `fpmkit exporter` scraping 20 pools of one master, beside the peer exporter
 * (prometheus-phpfpm-exporter, Debian 13) on the same sockets, and beside the floor: the 20
 * status pages fetched concurrently with the raw FastCGI client plus one read of
 * /proc/net/unix (bench/exporter-floor.ts), in this process. Two more floors: the HTTP round
 * trip alone (a bare node:http server in its own process answering a fixed body as long as
 * fpmkit's answer, fetched as the exporters are), and a minimal exporter: a node:http server
 * in its own process that does the floor's work for each request, then answers those same
 * fixed bytes (it parses nothing and renders nothing). No exporter can answer faster than the
 * minimal one; it also sleeps between scrapes, as an exporter does, where the floor's process
 * never does, and it tells how long the floor's work took inside it, which is printed beside the
 * floor timed here. Per contender: scrape latency p50/p99, CPU per scrape (utime + stime of the
 * contender's process, or of this process around its own calls), and RSS; then fpmkit's RSS
 * over a long run of scrapes (BENCH_EXPORTER_LONG, default 10,000).
 */
const POOLS = 20;
const ROUNDS = Number(process.env.BENCH_EXPORTER_ROUNDS ?? 300);
const LONG = Number(process.env.BENCH_EXPORTER_LONG ?? 10_000);
const TICK = 100; // USER_HZ on Linux

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Result {
  name: string;
  p50: number;
  p99: number;
  cpuMs: number;
  rssMb: number;
}

interface Contender {
  name: string;
  /** The process whose CPU is charged: an exporter's, or this one's for the floor. */
  pid: number;
  once: () => Promise<void>;
}

/** A bare node:http server: answers every request with the bytes of the file argv[1] names. */
const HTTP_FLOOR_SERVER = `
const body = require('node:fs').readFileSync(process.argv[1]);
const server = require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/**
 * Times the contenders round by round (one scrape of each per round, in turn, each round
 * starting one contender later), so a machine whose load changes during the run, and whatever
 * the previous contender left behind, weigh on all of them alike. CPU: the exporter process's
 * utime + stime over the run; for the floor, this process's CPU around its own calls only.
 */
async function measureAll(contenders: Contender[]): Promise<Result[]> {
  for (let i = 0; i < 20; i++) for (const c of contenders) await c.once();
  const times = contenders.map(() => [] as number[]);
  const cpu = contenders.map(() => 0);
  const c0 = contenders.map((c) => (c.pid === process.pid ? 0 : cpuSeconds(c.pid)));
  for (let i = 0; i < ROUNDS; i++) {
    // Each round starts with the next contender, so none always follows the same one.
    for (let j = 0; j < contenders.length; j++) {
      const k = (i + j) % contenders.length;
      const c = contenders[k]!;
      const own = c.pid === process.pid ? process.cpuUsage() : undefined;
      const t = performance.now();
      await c.once();
      times[k]!.push(performance.now() - t);
      if (own) {
        const d = process.cpuUsage(own);
        cpu[k]! += (d.user + d.system) / 1e6;
      }
    }
  }
  return contenders.map((c, k) => ({
    name: c.name,
    p50: percentile(times[k]!, 50),
    p99: percentile(times[k]!, 99),
    cpuMs: ((c.pid === process.pid ? cpu[k]! : cpuSeconds(c.pid) - c0[k]!) * 1000) / ROUNDS,
    rssMb: rssBytes(c.pid) / 2 ** 20,
  }));
}

checkLoad();
const fpm = await startPhpFpm({
  pools: Array.from({ length: POOLS }, (_, i) => ({
    name: `site${i}`,
    listen: 'unix' as const,
    directives: 'pm = static\npm.max_children = 2\npm.status_path = /status\n',
  })),
});
const stops: (() => Promise<void>)[] = [() => fpm.stop()];
try {
  const fpmkit = await startExporter(['--fpm-config', fpm.confPath]);
  stops.unshift(() => fpmkit.stop());
  const contenders: Contender[] = [
    {
      name: 'fpmkit exporter',
      pid: fpmkit.daemon.pid,
      once: async () => {
        const r = await fetch(`${fpmkit.url}/metrics`);
        await r.text();
      },
    },
  ];

  const peerBinary = join(DEBIAN13_ROOT, 'usr', 'bin', 'prometheus-phpfpm-exporter');
  let peerPid: number | undefined;
  try {
    const port = await freePort();
    const peer = startDaemon(peerBinary, [
      `--web.listen-address=127.0.0.1:${port}`,
      ...fpm.pools.map((p) => `--phpfpm.socket-paths=${p.socketPath}`),
    ]);
    stops.unshift(() => peer.stop('SIGTERM'));
    peerPid = peer.pid;
    const ok = await poll(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.ok
          ? true
          : undefined,
      10_000,
      100,
    );
    if (!ok) throw new Error(peer.output());
    contenders.push({
      name: 'peer exporter (prometheus-phpfpm-exporter)',
      pid: peer.pid,
      once: async () => {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`);
        await r.text();
      },
    });
  } catch (error) {
    console.log(`peer exporter not measured: ${(error as Error).message.split('\n')[0]}`);
  }

  // The HTTP-only floor answers with a body as long as fpmkit's, so both move the same bytes.
  const bodyDir = mkdtempSync(join(tmpdir(), 'fpmkit-bench-'));
  stops.push(async () => rmSync(bodyDir, { recursive: true, force: true }));
  const bodyPath = join(bodyDir, 'metrics.txt');
  writeFileSync(bodyPath, await (await fetch(`${fpmkit.url}/metrics`)).text());
  const http = startDaemon(process.execPath, ['-e', HTTP_FLOOR_SERVER, bodyPath]);
  stops.unshift(() => http.stop('SIGTERM'));
  const httpPort = await poll(async () => {
    const m = /listening on (\d+)/.exec(http.output());
    return m ? Number(m[1]) : undefined;
  }, 10_000);
  if (httpPort === undefined) throw new Error(`the HTTP floor did not start: ${http.output()}`);
  contenders.push({
    name: 'floor: HTTP round trip only (node:http)',
    pid: http.pid,
    once: async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
      await r.text();
    },
  });

  // The least any exporter does: the floor's work and the HTTP round trip, in one process.
  const minimal = startDaemon(process.execPath, [
    '--import',
    'tsx',
    new URL('./exporter-floor.ts', import.meta.url).pathname,
    '--http',
    bodyPath,
    ...fpm.pools.map((p) => p.target),
  ]);
  stops.unshift(() => minimal.stop('SIGTERM'));
  const minimalPort = await poll(async () => {
    const m = /listening on (\d+)/.exec(minimal.output());
    return m ? Number(m[1]) : undefined;
  }, 10_000);
  if (minimalPort === undefined)
    throw new Error(`the minimal exporter did not start: ${minimal.output()}`);
  // The floor's work as timed inside the minimal exporter, a process that sleeps between
  // scrapes as exporters do (only the rounds' timed scrapes are kept: the last ROUNDS).
  const sleepingFloor: number[] = [];
  contenders.push({
    name: 'floor: minimal exporter (node:http + the floor)',
    pid: minimal.pid,
    once: async () => {
      const r = await fetch(`http://127.0.0.1:${minimalPort}/metrics`);
      await r.text();
      sleepingFloor.push(Number(r.headers.get(FLOOR_WORK_HEADER)));
    },
  });

  const floorHere = floorWork(fpm.pools.map((p) => p.target));
  contenders.push({
    name: 'floor: 20 raw status fetches + /proc/net/unix',
    pid: process.pid,
    once: () => floorHere.once(),
  });
  const results = await measureAll(contenders);
  floorHere.close();

  const floor = results.at(-1)!;
  const minimalResult = results.find((r) => r.name.startsWith('floor: minimal'))!;
  console.log(
    `\n${POOLS} pools, ${ROUNDS} rounds of one scrape each, in turn (peer pid ${peerPid ?? '-'})`,
  );
  console.log(
    'contender                                        p50 ms   p99 ms  CPU ms/scrape  RSS MB   p50 vs floor',
  );
  for (const r of results) {
    console.log(
      `${r.name.padEnd(48)} ${r.p50.toFixed(2).padStart(7)} ${r.p99.toFixed(2).padStart(8)} ${r.cpuMs.toFixed(2).padStart(14)} ${r.rssMb.toFixed(1).padStart(7)} ${(r.p50 / floor.p50).toFixed(2).padStart(10)}x`,
    );
  }
  const httpFloor = results.find((r) => r.name.startsWith('floor: HTTP'))!;
  const sum = floor.p50 + httpFloor.p50;
  console.log(
    `floor + HTTP round trip: p50 ${sum.toFixed(2)} ms; fpmkit p50 ${(results[0]!.p50 / sum).toFixed(2)}x that, ${(results[0]!.p50 - sum).toFixed(2)} ms above it`,
  );
  console.log(
    `fpmkit vs the minimal exporter: p50 ${(results[0]!.p50 / minimalResult.p50).toFixed(2)}x (${(results[0]!.p50 - minimalResult.p50).toFixed(2)} ms above it), CPU ${(results[0]!.cpuMs / minimalResult.cpuMs).toFixed(2)}x`,
  );
  const sleeping = percentile(sleepingFloor.slice(-ROUNDS), 50);
  console.log(
    `the floor's work timed inside the minimal exporter (a process that sleeps between scrapes): p50 ${sleeping.toFixed(2)} ms, ${(sleeping / floor.p50).toFixed(2)}x the floor timed here; fpmkit p50 ${(results[0]!.p50 / sleeping).toFixed(2)}x that`,
  );

  const peerResult = results.find((r) => r.name.startsWith('peer'));
  if (peerResult)
    console.log(
      `fpmkit vs peer: p50 ${(results[0]!.p50 / peerResult.p50).toFixed(2)}x, p99 ${(results[0]!.p99 / peerResult.p99).toFixed(2)}x, CPU ${(results[0]!.cpuMs / peerResult.cpuMs).toFixed(2)}x`,
    );
  const rss: string[] = [];
  const started = performance.now();
  for (let i = 1; i <= LONG; i++) {
    await (await fetch(`${fpmkit.url}/metrics`)).text();
    if (i === 100 || i % Math.max(1, Math.floor(LONG / 5)) === 0)
      rss.push(`${i}: ${(rssBytes(fpmkit.daemon.pid) / 2 ** 20).toFixed(1)} MB`);
  }
  console.log(
    `fpmkit exporter RSS over ${LONG} scrapes (${((performance.now() - started) / 1000).toFixed(0)} s): ${rss.join(', ')}`,
  );
} finally {
  for (const stop of stops) await stop();
}
