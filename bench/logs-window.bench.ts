/**
 * The doctor on a large host. A day-long nginx error log of 1 GB (the captured fixture's lines,
 * re-timed across 24 hours, in a temporary file deleted afterwards):
 *
 * 1. the doctor's window read (`readLogWindow` with `since` = the last hour: a binary search
 *    from the end, then the window, decoded to text) beside reading the whole file: as bytes
 *    into one reused buffer (the floor: no decoding, nothing kept), and decoded to text chunk by
 *    chunk (what reading the whole log costs a reader of text). Target: the window read under 1 s.
 * 2. classifying the window's lines (`classifyNginxErrorLine`) beside the bare line split (the
 *    floor: the window streamed from the file and split into lines by `readLines`, as the
 *    streaming parse bench does), with the full parse (`streamNginxErrorLog`) as the reference
 *    it replaces. Target: at least 0.5x the split's speed. The log keeps the captured fixture's
 *    mix (most lines upstream errors, as during a saturation), which costs the classification
 *    more than a quiet day's log of mostly other lines; the bench prints the mix.
 *
 * Both files come from the page cache once written: the figures compare work, not the disk.
 * `FPMKIT_BENCH_LOG_MB` changes the size (default 1024).
 */
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { MAX_LOG_WINDOW_BYTES, readLogWindow } from '../src/host/snapshot.js';
import { readLines } from '../src/logs/lines.js';
import { classifyNginxErrorLine } from '../src/logs/nginx-error-classify.js';
import { streamNginxErrorLog } from '../src/logs/nginx-error-log.js';
import { checkLoad, compare, report } from './lib.js';

const MB = 1024 * 1024;
const DAY_START = Date.UTC(2026, 10, 21);
const TARGET_WINDOW_MS = 1000;
const TARGET_CLASSIFY_RATIO = 0.5;

const pad = (n: number) => String(n).padStart(2, '0');
function stamp(ms: number): string {
  const d = new Date(ms);
  return `2026/11/21 ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Writes about `targetBytes` of the fixture's lines, their times spread evenly over the day. */
async function writeDayLog(path: string, targetBytes: number): Promise<number> {
  const bodies = readFileSync(
    new URL('../test/fixtures/logs/nginx-error.log', import.meta.url),
    'utf8',
  )
    .split('\n')
    .filter((l) => l.length > 19)
    .map((l) => l.slice(19));
  const meanLine = bodies.reduce((n, b) => n + b.length + 20, 0) / bodies.length;
  const lines = Math.ceil(targetBytes / meanLine);
  const msPerLine = 86_400_000 / lines;
  const out = createWriteStream(path);
  let chunk = '';
  for (let i = 0; i < lines; i++) {
    chunk += `${stamp(DAY_START + Math.floor(i * msPerLine))}${bodies[i % bodies.length]}\n`;
    if (chunk.length > 4 * MB) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
  return statSync(path).size;
}

/** The whole file decoded to text chunk by chunk, each chunk dropped once decoded. */
async function decodeWhole(path: string): Promise<number> {
  const decoder = new StringDecoder('utf8');
  let chars = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: MB }))
    chars += decoder.write(chunk as Buffer).length;
  return chars;
}

/** The floor of the window read: the whole file through one 1 MiB buffer. */
async function readWhole(path: string): Promise<number> {
  const handle = await open(path, 'r');
  const buffer = Buffer.alloc(MB);
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
      if (bytesRead === 0) return total;
      total += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Read buffer of the window's stream, as in the streaming parse bench. */
const READ_CHUNK_BYTES = 64 * 1024;
const windowLines = (path: string, start: number) =>
  readLines(createReadStream(path, { start, highWaterMark: READ_CHUNK_BYTES }));

async function main(): Promise<void> {
  checkLoad();
  const sizeMb = Number(process.env.FPMKIT_BENCH_LOG_MB ?? 1024);
  const dir = mkdtempSync(join(tmpdir(), 'fpmkit-bench-window-'));
  const path = join(dir, 'error.log');
  try {
    const bytes = await writeDayLog(path, sizeMb * MB);
    const since = new Date(DAY_START + 23 * 3_600_000);
    console.log(
      `nginx error log: ${(bytes / MB).toFixed(0)} MB over one day; window: the last hour (since ${since.toISOString()})`,
    );

    let windowBytes = 0;
    const reads = await compare(
      [
        { name: 'read the whole file (1 MiB buffer)', role: 'floor', run: () => readWhole(path) },
        { name: 'read the whole file decoded to text', role: 'peer', run: () => decodeWhole(path) },
        {
          name: 'readLogWindow(since = last hour)',
          role: 'fpmkit',
          run: async () => {
            const w = await readLogWindow(path, MAX_LOG_WINDOW_BYTES, { since });
            windowBytes = w.text.length;
            return w;
          },
        },
      ],
      { rounds: 3, warmup: 1 },
    );
    report(`window read on a ${(bytes / MB).toFixed(0)} MB log (median of 3)`, reads);
    const whole = reads.find((r) => r.role === 'floor')!;
    const decoded = reads.find((r) => r.role === 'peer')!;
    const win = reads.find((r) => r.role === 'fpmkit')!;
    console.log(
      `  window: ${(windowBytes / MB).toFixed(1)} MB read in ${win.medianMs.toFixed(0)} ms: ${(win.medianMs / whole.medianMs).toFixed(2)}x the whole file as bytes (${whole.medianMs.toFixed(0)} ms), ${(win.medianMs / decoded.medianMs).toFixed(3)}x the whole file as text (${decoded.medianMs.toFixed(0)} ms)`,
    );

    const window = await readLogWindow(path, MAX_LOG_WINDOW_BYTES, { since });
    const windowAt = window.sizeBytes - Buffer.byteLength(window.text);
    const textMb = Buffer.byteLength(window.text) / MB;
    let backlogFull = 0;
    let lines = 0;
    let upstreamErrors = 0;
    const classes = await compare(
      [
        {
          name: 'stream + split lines (readLines)',
          role: 'floor',
          run: async () => {
            let n = 0;
            for await (const l of windowLines(path, windowAt)) if (l.length > 0) n++;
            lines = n;
            return n;
          },
        },
        {
          name: 'stream + classifyNginxErrorLine',
          role: 'fpmkit',
          run: async () => {
            let n = 0;
            for await (const l of windowLines(path, windowAt))
              if (classifyNginxErrorLine(l) === 'backlog_full') n++;
            backlogFull = n;
            return n;
          },
        },
        {
          name: 'stream + full parse (streamNginxErrorLog)',
          role: 'peer',
          run: async () => {
            let n = 0;
            for await (const r of streamNginxErrorLog(windowLines(path, windowAt)))
              if (r.kind === 'entry' && r.event.kind === 'upstream_error') n++;
            upstreamErrors = n;
            return n;
          },
        },
      ],
      { rounds: 9, warmup: 2 },
    );
    report(`classification of the window's ${textMb.toFixed(1)} MB (median of 9)`, classes);
    const split = classes.find((r) => r.role === 'floor')!;
    const ours = classes.find((r) => r.role === 'fpmkit')!;
    const speed = split.medianMs / ours.medianMs;
    console.log(
      `  split ${(textMb / (split.medianMs / 1000)).toFixed(0)} MB/s, classification ${(textMb / (ours.medianMs / 1000)).toFixed(0)} MB/s: ${speed.toFixed(2)}x the split's speed`,
    );
    // The mix decides the cost: an upstream error's line is read further than any other line.
    const share = (n: number) => `${((100 * n) / lines).toFixed(0)}%`;
    console.log(
      `  window's lines: ${lines}, upstream errors ${upstreamErrors} (${share(upstreamErrors)}), backlog_full ${backlogFull} (${share(backlogFull)})`,
    );

    const windowOk = win.medianMs < TARGET_WINDOW_MS;
    const classifyOk = speed >= TARGET_CLASSIFY_RATIO;
    console.log(
      `  targets: window read < ${TARGET_WINDOW_MS} ms ${windowOk ? 'met' : 'MISSED'}, classification >= ${TARGET_CLASSIFY_RATIO}x the split ${classifyOk ? 'met' : 'MISSED'}`,
    );
    if (!windowOk || !classifyOk) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
