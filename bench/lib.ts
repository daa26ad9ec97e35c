import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

/** A measured contender: a name and a function that does one unit of work and returns a value. */
export interface Contender {
  name: string;
  /** `floor`: the bare lower bound; `peer`: another library; `fpmkit`: ours. */
  role: 'fpmkit' | 'floor' | 'peer';
  run: () => unknown | Promise<unknown>;
}

export interface Measurement {
  name: string;
  role: Contender['role'];
  /** Median milliseconds per run over the rounds. */
  medianMs: number;
  samples: number[];
}

/** Prevents the engine from optimising the work away. */
let sink: unknown;
export function consume(value: unknown): void {
  sink = value;
}
export function lastSink(): unknown {
  return sink;
}

/** Warns when the machine is busy, since every figure below would then be noisy. */
export function checkLoad(): void {
  const [one] = loadavg();
  if (one !== undefined && one > 1.5) {
    console.log(`note: 1-minute load average is ${one.toFixed(2)}; figures may be noisy`);
  }
}

/**
 * Runs every contender `rounds` times, interleaved (A, B, C, A, B, C, ...) so drift in machine
 * speed hits all of them alike, after `warmup` untimed rounds. Returns the median per contender.
 */
export async function compare(
  contenders: readonly Contender[],
  options: { rounds?: number; warmup?: number } = {},
): Promise<Measurement[]> {
  const rounds = options.rounds ?? 15;
  const warmup = options.warmup ?? 3;
  const samples = contenders.map(() => [] as number[]);
  for (let r = 0; r < warmup + rounds; r++) {
    for (const [i, c] of contenders.entries()) {
      const start = performance.now();
      consume(await c.run());
      const elapsed = performance.now() - start;
      if (r >= warmup) samples[i]!.push(elapsed);
    }
  }
  return contenders.map((c, i) => ({
    name: c.name,
    role: c.role,
    medianMs: median(samples[i]!),
    samples: samples[i]!,
  }));
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Prints a table: each contender's median time and its ratio to the floor (time / floor time,
 * so 1.00x is as fast as the floor and lower is faster), plus fpmkit's speed-up over each peer.
 */
export function report(title: string, results: readonly Measurement[]): void {
  const floor = results.find((r) => r.role === 'floor');
  const ours = results.find((r) => r.role === 'fpmkit');
  console.log(`\n${title}`);
  for (const r of results) {
    const ratio = floor ? ` ${(r.medianMs / floor.medianMs).toFixed(2)}x floor` : '';
    console.log(
      `  ${r.role.padEnd(6)} ${r.name.padEnd(40)} ${r.medianMs.toFixed(3).padStart(10)} ms${ratio}`,
    );
  }
  if (ours) {
    for (const peer of results.filter((r) => r.role === 'peer')) {
      console.log(
        `  fpmkit is ${(peer.medianMs / ours.medianMs).toFixed(2)}x as fast as ${peer.name}`,
      );
    }
  }
}
