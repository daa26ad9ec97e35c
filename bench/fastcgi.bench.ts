/**
 * `?json` status queries against a real php-fpm 8.2 (pm static, 4 children), over a UNIX socket
 * and over TCP, at concurrency 1 and 16, in one run:
 * - floor: a minimal raw-socket client written here (a new connection per request, request
 *   bytes built once, done when the END_REQUEST record arrives);
 * - fpmkit: FastCGIClient.request (encodes the request, parses records and CGI headers, every
 *   timeout armed);
 * - peer: the npm package `fastcgi-client`, which also opens a connection per request for FPM;
 * - control: the floor again, as a contender of its own: its ratio to the floor shows how far
 *   two identical clients drift apart on this machine in one run.
 * Prints milliseconds per round of REQUESTS queries, throughput ratios and client CPU time per
 * request (process.cpuUsage, user + system, timed rounds only).
 */
import { connect } from 'node:net';
import peerModule from 'fastcgi-client';
import { encodeRequest, FastCGIClient } from '../src/fastcgi/index.js';
import { phpFpmBinary } from '../test/support/integration.js';
import { startPhpFpm } from '../test/support/php-fpm.js';
import {
  type Contender,
  checkLoad,
  compare,
  consume,
  type Measurement,
  median,
  report,
} from './lib.js';

const REQUESTS = 400;
/**
 * Timed rounds per cell. Rounds at concurrency 16 on a UNIX socket spread over a factor of two
 * here (FPM's workers and the client share two cores), so a median needs this many to settle.
 * A multiple of the four contenders, so that every round of the balanced order runs equally often.
 */
const ROUNDS = 36;
/**
 * Untimed rounds per cell before measuring (CPU time is not counted in them either).
 * process.cpuUsage counts every thread, V8's background compiles included: a 20-line floor is
 * optimised after a few hundred calls, a client with a record decoder, a CGI parser and error
 * paths after a few thousand, so the warm-up covers 4,000 requests per contender.
 */
const WARMUP_ROUNDS = 10;
const PARAMS = {
  SCRIPT_FILENAME: '/status',
  SCRIPT_NAME: '/status',
  REQUEST_METHOD: 'GET',
  QUERY_STRING: 'json',
};

type ConnectTo = { path: string } | { host: string; port: number };

/** The floor: bytes built once, one socket per request, collect chunks until END_REQUEST. */
function rawClient(to: ConnectTo): () => Promise<Buffer> {
  const bytes = encodeRequest({ params: PARAMS });
  return () =>
    new Promise((resolve, reject) => {
      const socket = connect(to as { path: string });
      const chunks: Buffer[] = [];
      let done = false;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        // FPM's END_REQUEST is the last 16 bytes of the stream (type byte at offset 1).
        const n = chunk.length;
        if (n >= 16 && chunk[n - 15] === 3) {
          done = true;
          socket.destroy();
          resolve(Buffer.concat(chunks));
        }
      });
      socket.on('error', reject);
      socket.on('close', () => {
        if (!done) reject(new Error('closed before END_REQUEST'));
      });
      socket.write(bytes);
    });
}

interface PeerRequest {
  stdin: { end(): void };
  stdout: NodeJS.EventEmitter;
  getExitStatus(): unknown;
}
interface PeerClient extends NodeJS.EventEmitter {
  request(params: Record<string, string>, cb: (e: Error | null, r: PeerRequest) => void): void;
}
const createPeer = ((peerModule as unknown as { default?: unknown }).default ??
  peerModule) as unknown as (options: Record<string, unknown>) => PeerClient;

async function peerClient(to: ConnectTo): Promise<() => Promise<Buffer>> {
  const client = createPeer({
    ...('path' in to ? { sockFile: to.path } : { host: to.host, port: to.port }),
    skipCheckServer: true,
  });
  await new Promise((resolve) => client.once('ready', resolve));
  return () =>
    new Promise((resolve, reject) => {
      client.request(PARAMS, (error, req) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        req.stdout.on('data', (c: Buffer) => chunks.push(c));
        req.stdout.on('end', () => resolve(Buffer.concat(chunks)));
        req.stdin.end();
      });
    });
}

/**
 * The order of the contenders in round `round`: a Williams design, in which every contender
 * runs first equally often and follows every other contender equally often (over n rounds for
 * an even n, 2n for an odd one).
 */
function balancedOrder(n: number, round: number): number[] {
  const first = [0];
  for (let j = 1; j < n; j++) first.push(j % 2 ? (j + 1) / 2 : n - j / 2);
  const row = first.map((i) => (i + round) % n);
  return n % 2 && Math.floor(round / n) % 2 ? row.reverse() : row;
}

/**
 * compare() interleaves in a fixed order, and here the contender that runs right after another
 * one's burst of connections is measurably slower (FPM's workers and the kernel are still
 * settling), whichever it is. A rotation of the order would still put each contender after the
 * same one every round; a balanced order spreads every predecessor over every contender.
 */
async function balancedCompare(
  contenders: readonly Contender[],
  rounds: number,
  warmup: number,
): Promise<Measurement[]> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < warmup + rounds; r++) {
    // CPU time is counted only in timed rounds, like the durations.
    measuring.on = r >= warmup;
    const order = balancedOrder(contenders.length, r).map((i) => contenders[i]!);
    const results = await compare(order, { rounds: 1, warmup: 0 });
    if (r >= warmup) for (const m of results) samples.get(m.name)!.push(m.medianMs);
  }
  return contenders.map((c) => ({
    name: c.name,
    role: c.role,
    medianMs: median(samples.get(c.name)!),
    samples: samples.get(c.name)!,
  }));
}

/** Whether the current round is timed (set by balancedCompare). */
const measuring = { on: false };

/** Runs REQUESTS calls of `one` with `concurrency` in flight; tracks client CPU time. */
function workload(
  one: () => Promise<unknown>,
  concurrency: number,
  cpu: { micros: number; requests: number },
) {
  return async () => {
    const start = process.cpuUsage();
    let next = 0;
    let last: unknown;
    const lane = async () => {
      while (next < REQUESTS) {
        next++;
        last = await one();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const used = process.cpuUsage(start);
    if (measuring.on) {
      cpu.micros += used.user + used.system;
      cpu.requests += REQUESTS;
    }
    return last;
  };
}

async function main(): Promise<void> {
  if (!phpFpmBinary().available) {
    console.log('php-fpm8.2 is not installed; skipping');
    return;
  }
  checkLoad();
  const directives = 'pm = static\npm.max_children = 4\npm.status_path = /status';
  const fpm = await startPhpFpm({
    pools: [
      { name: 'unix', listen: 'unix', directives },
      { name: 'tcp', listen: 'tcp', directives },
    ],
  });
  const summary: string[] = [];
  try {
    for (const pool of fpm.pools) {
      const to: ConnectTo = pool.socketPath
        ? { path: pool.socketPath }
        : { host: pool.host!, port: pool.port! };
      const fpmkit = new FastCGIClient(pool.target, { maxConcurrency: 16 });
      const ours = () => fpmkit.request({ params: PARAMS });
      const floor = rawClient(to);
      const control = rawClient(to);
      const peer = await peerClient(to);
      // Sanity: all three read the same page.
      for (const get of [floor, peer]) {
        const text = (await get()).toString();
        if (!text.includes('"pool":'))
          throw new Error(`unexpected response: ${text.slice(0, 200)}`);
      }
      const status = await ours();
      if (status.status !== 200 || !status.body.toString().startsWith('{"pool":')) {
        throw new Error('fpmkit read an unexpected response');
      }
      for (const concurrency of [1, 16]) {
        const cpu = {
          floor: { micros: 0, requests: 0 },
          fpmkit: { micros: 0, requests: 0 },
          peer: { micros: 0, requests: 0 },
          control: { micros: 0, requests: 0 },
        };
        const contenders: Contender[] = [
          {
            name: 'raw socket (floor)',
            role: 'floor',
            run: workload(floor, concurrency, cpu.floor),
          },
          {
            name: 'fpmkit FastCGIClient',
            role: 'fpmkit',
            run: workload(ours, concurrency, cpu.fpmkit),
          },
          {
            name: 'fastcgi-client 0.2.0',
            role: 'peer',
            run: workload(peer, concurrency, cpu.peer),
          },
          // A control: the floor again, measured as a contender of its own. Its ratio to the
          // floor is what this machine's noise alone makes of two identical clients.
          {
            name: 'raw socket (floor, control)',
            role: 'floor',
            run: workload(control, concurrency, cpu.control),
          },
        ];
        const results = await balancedCompare(contenders, ROUNDS, WARMUP_ROUNDS);
        const title = `${pool.name === 'unix' ? 'UNIX socket' : 'TCP 127.0.0.1'}, concurrency ${concurrency}: ms per ${REQUESTS} ?json status requests`;
        report(title, results);
        const by = (role: Measurement['role']) => results.find((r) => r.role === role)!;
        const rps = (m: Measurement) => (REQUESTS / m.medianMs) * 1000;
        const cpuPer = (c: { micros: number; requests: number }) =>
          (c.micros / c.requests).toFixed(1);
        const oursVsFloor = rps(by('fpmkit')) / rps(by('floor'));
        const oursVsPeer = rps(by('fpmkit')) / rps(by('peer'));
        const peerVsFloor = rps(by('peer')) / rps(by('floor'));
        // The fastest round of each: what the client costs when nothing else on the machine
        // steals the CPU in that round (other processes here make medians noisy).
        const best = (role: Measurement['role']) => Math.min(...by(role).samples);
        const bestVsFloor = best('floor') / best('fpmkit');
        const bestVsPeer = best('peer') / best('fpmkit');
        // Paired: each round runs all four back to back, and the ratio within a round cancels
        // slow phases of the machine that last longer than a round. Over a UNIX socket at
        // concurrency 16 round times here range from about 14 to over 30 ms for 400 requests for
        // every contender, in phases of several rounds, so the ratio of medians moves by several
        // percent between runs, the control included; the median of the per-round ratios does
        // not. It is the headline figure.
        const paired = (role: Measurement['role']) =>
          median(by(role).samples.map((ms, i) => by('floor').samples[i]! / ms));
        const pairedVsFloor = paired('fpmkit');
        const pairedVsPeer = median(
          by('fpmkit').samples.map((ms, i) => by('peer').samples[i]! / ms),
        );
        const again = results.find((r) => r.name === 'raw socket (floor, control)')!;
        const controlVsFloor = rps(again) / rps(by('floor'));
        const pairedControl = median(again.samples.map((ms, i) => by('floor').samples[i]! / ms));
        console.log(
          `  throughput req/s: floor ${rps(by('floor')).toFixed(0)}, fpmkit ${rps(by('fpmkit')).toFixed(0)}, peer ${rps(by('peer')).toFixed(0)}`,
        );
        console.log(
          `  client CPU us/request: floor ${cpuPer(cpu.floor)}, fpmkit ${cpuPer(cpu.fpmkit)}, peer ${cpuPer(cpu.peer)}`,
        );
        summary.push(
          `${pool.name.padEnd(4)} c=${String(concurrency).padEnd(2)}  fpmkit/floor ${pairedVsFloor.toFixed(2)}x (medians ${oursVsFloor.toFixed(2)}x)  fpmkit/peer ${pairedVsPeer.toFixed(2)}x (medians ${oursVsPeer.toFixed(2)}x)  control/floor ${pairedControl.toFixed(2)}x (medians ${controlVsFloor.toFixed(2)}x)  peer/floor medians ${peerVsFloor.toFixed(2)}x  best rounds: fpmkit/floor ${bestVsFloor.toFixed(2)}x fpmkit/peer ${bestVsPeer.toFixed(2)}x  cpu us/req floor ${cpuPer(cpu.floor)} fpmkit ${cpuPer(cpu.fpmkit)} peer ${cpuPer(cpu.peer)}`,
        );
      }
      fpmkit.close();
      consume(status);
    }
  } finally {
    await fpm.stop();
  }
  console.log(
    '\nthroughput ratios, higher is faster: the median of the per-round ratios (rounds run the contenders back to back), then the ratio of the median rounds; target fpmkit/floor >= 0.95, fpmkit/peer >= 1.25 at c=16; control/floor is the floor against itself, the noise of this machine',
  );
  for (const line of summary) console.log(`  ${line}`);
}

await main();
