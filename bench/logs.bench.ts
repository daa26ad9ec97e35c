/**
 * Streams a 1 GB nginx error log (the captured fixture's lines repeated into a temporary file)
 * through `streamNginxErrorLog(readLines(stream))`, beside the bare floor of reading the same
 * file and splitting it into lines. Prints MB/s for both, the ratio, and memory: RSS and heap
 * sampled during the in-process rounds, and the peak RSS of a child process that parses the
 * whole file once (`process.resourceUsage().maxRSS`, which no other work inflates).
 *
 * Targets: at least 50 MB/s and less than 100 MB of memory growth. The temporary file is
 * deleted afterwards. `FPMKIT_BENCH_LOG_MB` changes the size (default 1024).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readLines, streamNginxErrorLog } from '../src/logs/index.js';
import { checkLoad, compare, report } from './lib.js';

const MB = 1024 * 1024;
const TARGET_MB_PER_S = 50;
const TARGET_MEMORY_MB = 100;
/** Read buffer of the file stream; the memory bound holds for any value, this is for speed. */
const READ_CHUNK_BYTES = 64 * 1024;

/** Parses the whole file, returning how many records of each upstream class it saw. */
async function parseFile(path: string): Promise<{ records: number; backlogFull: number }> {
  let records = 0;
  let backlogFull = 0;
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  for await (const r of streamNginxErrorLog(readLines(stream))) {
    records++;
    if (
      r.kind === 'entry' &&
      r.event.kind === 'upstream_error' &&
      r.event.class === 'backlog_full'
    ) {
      backlogFull++;
    }
  }
  return { records, backlogFull };
}

/** The floor: the same stream split into lines, nothing parsed. */
async function splitFile(path: string): Promise<number> {
  let lines = 0;
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
  for await (const l of readLines(stream)) if (l.length > 0) lines++;
  return lines;
}

/** Child mode: parse once and report the process's peak RSS against its RSS before parsing. */
async function child(path: string): Promise<void> {
  const beforeRss = process.memoryUsage().rss;
  const beforeMaxRss = process.resourceUsage().maxRSS * 1024;
  let peakRss = beforeRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  const result = await parseFile(path);
  const ms = performance.now() - start;
  clearInterval(sampler);
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ ...result, ms, beforeRss, beforeMaxRss, peakRss, maxRssBytes }));
}

async function writeLog(path: string, targetBytes: number): Promise<number> {
  const fixture = readFileSync(
    new URL('../test/fixtures/logs/nginx-error.log', import.meta.url),
    'utf8',
  );
  const block = Buffer.from(fixture.endsWith('\n') ? fixture : `${fixture}\n`);
  const reps = Math.max(1, Math.floor((4 * MB) / block.length));
  const big = Buffer.concat(Array.from({ length: reps }, () => block));
  const out = createWriteStream(path);
  let written = 0;
  while (written < targetBytes) {
    if (!out.write(big)) await once(out, 'drain');
    written += big.length;
  }
  out.end();
  await once(out, 'finish');
  return statSync(path).size;
}

async function main(): Promise<void> {
  const [, , mode, arg] = process.argv;
  if (mode === '--child' && arg) return child(arg);

  checkLoad();
  const sizeMb = Number(process.env.FPMKIT_BENCH_LOG_MB ?? 1024);
  const dir = mkdtempSync(join(tmpdir(), 'fpmkit-bench-logs-'));
  const path = join(dir, 'error.log');
  try {
    const bytes = await writeLog(path, sizeMb * MB);
    const fileMb = bytes / MB;
    console.log(`nginx error log: ${fileMb.toFixed(0)} MB in a temporary file`);

    // Memory sampled while the rounds run (the stream yields to the event loop between chunks).
    const baseline = process.memoryUsage();
    let peakRss = baseline.rss;
    let peakHeap = baseline.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      if (m.rss > peakRss) peakRss = m.rss;
      if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
    }, 20);

    const results = await compare(
      [
        { name: 'stream + split lines (no parsing)', role: 'floor', run: () => splitFile(path) },
        {
          name: 'streamNginxErrorLog(readLines(stream))',
          role: 'fpmkit',
          run: () => parseFile(path),
        },
      ],
      { rounds: 3, warmup: 0 },
    );
    clearInterval(sampler);
    report(`nginx error log, ${fileMb.toFixed(0)} MB per run (median of 3)`, results);

    const floor = results.find((r) => r.role === 'floor')!;
    const ours = results.find((r) => r.role === 'fpmkit')!;
    const floorMbps = fileMb / (floor.medianMs / 1000);
    const oursMbps = fileMb / (ours.medianMs / 1000);
    console.log(`  floor  ${floorMbps.toFixed(1)} MB/s`);
    console.log(
      `  fpmkit ${oursMbps.toFixed(1)} MB/s (${(oursMbps / floorMbps).toFixed(2)} of the floor's speed)`,
    );
    console.log(
      `  in-process peak growth over the rounds: RSS ${((peakRss - baseline.rss) / MB).toFixed(1)} MB, heap ${((peakHeap - baseline.heapUsed) / MB).toFixed(1)} MB`,
    );

    const self = fileURLToPath(import.meta.url);
    const run = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', path], {
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(`child failed: ${run.stderr}`);
    const c = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as {
      records: number;
      backlogFull: number;
      ms: number;
      beforeRss: number;
      beforeMaxRss: number;
      peakRss: number;
      maxRssBytes: number;
    };
    // The kernel's peak (maxRSS) counts when it was reached while parsing; when module loading
    // set it, the sampled peak is what the parse itself reached.
    const peakBytes = c.maxRssBytes > c.beforeMaxRss ? c.maxRssBytes : c.peakRss;
    const childGrowthMb = (peakBytes - c.beforeRss) / MB;
    console.log(
      `  child process: ${c.records} records (${c.backlogFull} backlog_full) at ${(fileMb / (c.ms / 1000)).toFixed(1)} MB/s, peak RSS ${(peakBytes / MB).toFixed(1)} MB, growth ${childGrowthMb.toFixed(1)} MB over ${(c.beforeRss / MB).toFixed(1)} MB at start`,
    );

    const fastEnough = oursMbps >= TARGET_MB_PER_S;
    const smallEnough = childGrowthMb < TARGET_MEMORY_MB;
    console.log(
      `  targets: >= ${TARGET_MB_PER_S} MB/s ${fastEnough ? 'met' : 'MISSED'}, < ${TARGET_MEMORY_MB} MB growth ${smallEnough ? 'met' : 'MISSED'}`,
    );
    if (!fastEnough || !smallEnough) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
