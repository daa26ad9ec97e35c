/**
 * parseProcNetUnix + unixListenQueues on generated /proc/net/unix tables of 1k, 10k, 50k and 1M
 * rows, beside the floor (`text.split('\n')`, the least any line-based parser must do) and the
 * peer (@stroncium/procfs's /proc/net/unix parser). Each size ends with the ratios to the floor
 * and the peer's time over fpmkit's.
 *
 * Fairness: the peer's public API only reads files, through a reader that stops at 64 KiB, so
 * it could never see these tables; its parser module (`lib/parsers`, `processNetUnix`) is
 * called directly with the same string instead. It returns 4 of the 8 fields (slot,
 * referenceCount, type, path) and no queues, so it does less work than fpmkit here.
 * `unixListenQueues(text)` is the path `readUnixListenQueues` takes: the same scan and checks,
 * keeping only listeners and per-path counts instead of an object per row. Every contender gets
 * the same flat string, decoded from bytes as a file read returns it (see generate()).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProcNetUnix, unixListenQueues } from '../src/kernel/index.js';
import { checkLoad, compare, consume, report } from './lib.js';

const require = createRequire(import.meta.url);
const peer = require('@stroncium/procfs/lib/parsers') as {
  processNetUnix: (text: string) => unknown[];
};
const { Procfs } = require('@stroncium/procfs') as {
  Procfs: new (root: string) => { netUnix: () => unknown[] };
};

/** A busy host: a few hundred FPM listeners with queues, many connected sockets, some named. */
function generate(rows: number): string {
  const out = ['Num       RefCount Protocol Flags    Type St Inode Path'];
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, '0');
  const addr = () => `${hex(rand(), 8)}${hex(rand(), 8)}`.toLowerCase();
  const pools = 300;
  let inode = 1000;
  for (let i = 0; i < rows - 1; i++) {
    const r = rand() % 100;
    const pool = `/run/php/pool-${rand() % pools}.sock`;
    inode++;
    if (i < pools) {
      out.push(
        `${addr()}: 00000002 00000000 00010000 0001 01 ${String(inode).padStart(5)} /run/php/pool-${i}.sock`,
      );
    } else if (r < 10) {
      out.push(`${addr()}: 00000003 00000000 00000000 0001 02     0 ${pool}`);
    } else if (r < 25) {
      out.push(
        `${addr()}: 00000003 00000000 00000000 0001 03 ${String(inode).padStart(5)} ${pool}`,
      );
    } else if (r < 30) {
      out.push(
        `${addr()}: 00000002 00000000 00000000 0002 01 ${String(inode).padStart(5)} /run/systemd/journal/socket`,
      );
    } else {
      out.push(`${addr()}: 00000003 00000000 00000000 0001 03 ${String(inode).padStart(5)}`);
    }
  }
  // Decoded from bytes, as a file read returns it. A string built by concatenation stays a rope
  // (a ConsString) inside V8 even after it is flattened, and every character read through it
  // takes a slower path than through the flat string readFile gives every parser in practice.
  return Buffer.from(`${out.join('\n')}\n`).toString('utf8');
}

/** Not timed: how many rows each library's own file reader returns for a 10k-row table. */
async function readerCompleteness(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'fpmkit-bench-proc-'));
  try {
    const text = generate(10_000);
    await mkdir(join(root, 'net'));
    await writeFile(join(root, 'net', 'unix'), text);
    const { readFile } = await import('node:fs/promises');
    const ours = parseProcNetUnix(await readFile(join(root, 'net', 'unix'), 'utf8')).length;
    const theirs = new Procfs(root).netUnix().length;
    console.log(
      `file readers on a ${(text.length / 1024).toFixed(0)} KiB /proc/net/unix of 9,999 rows: fpmkit ${ours} rows, @stroncium/procfs ${theirs} rows`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

checkLoad();
await readerCompleteness();
for (const rows of [1_000, 10_000, 50_000, 1_000_000]) {
  const text = generate(rows);
  // A run of 10k rows takes about a millisecond: three warm-up runs leave parts of every
  // contender unoptimised, so small tables warm up on about a million rows, like one large run,
  // and take more timed rounds, which are cheap at that size.
  const rounds = rows >= 1_000_000 ? 9 : rows >= 50_000 ? 21 : 41;
  const warmup = Math.max(3, Math.ceil(1_000_000 / rows));
  const results = await compare(
    [
      { name: "text.split('\\n')", role: 'floor', run: () => text.split('\n') },
      { name: 'parseProcNetUnix', role: 'fpmkit', run: () => parseProcNetUnix(text) },
      { name: 'unixListenQueues(text)', role: 'fpmkit', run: () => unixListenQueues(text) },
      {
        name: '@stroncium/procfs processNetUnix',
        role: 'peer',
        run: () => peer.processNetUnix(text),
      },
    ],
    { rounds, warmup },
  );
  consume(results);
  report(
    `/proc/net/unix, ${rows.toLocaleString('en')} lines (${(text.length / 1048576).toFixed(1)} MiB)`,
    results,
  );
  const ms = (name: string) => results.find((r) => r.name === name)!.medianMs;
  const floor = ms("text.split('\\n')");
  const peerMs = ms('@stroncium/procfs processNetUnix');
  for (const name of ['parseProcNetUnix', 'unixListenQueues(text)']) {
    console.log(
      `  ${name}: ${(ms(name) / floor).toFixed(2)}x the floor, the peer takes ${(peerMs / ms(name)).toFixed(2)}x as long`,
    );
  }
}
