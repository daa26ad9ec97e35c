import { join, posix } from 'node:path';
import { z } from 'zod';
import { FpmkitInvalidOptionError } from '../errors.js';
import {
  type CgroupMemoryLimit,
  parseCgroupMemoryLimit,
  parseCgroupMemoryStat,
  parseCgroupMemoryUsage,
  tighterLimit,
} from '../kernel/cgroup-memory.js';
import { type Meminfo, parseMeminfo } from '../kernel/meminfo.js';
import { parseProcPidCgroup } from '../kernel/proc-pid-cgroup.js';
import { parseProcPidStatus } from '../kernel/proc-pid-status.js';
import { cgroupMemoryLimitSchema } from '../kernel/schemas.js';
import { parseSmapsRollup } from '../kernel/smaps-rollup.js';
import { type ReadOptions, readText, readTextIfExists, roots } from './io.js';

/** Reads `{procRoot}/meminfo`. */
export async function readMeminfo(options: ReadOptions = {}): Promise<Meminfo> {
  const { procRoot } = roots(options);
  return parseMeminfo(await readText(join(procRoot, 'meminfo')));
}

function checkPid(pid: number, option = 'pid'): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    throw new FpmkitInvalidOptionError(option, 'must be a positive integer process id');
  }
}

/** The memory limits that apply to one process through its cgroup. */
export const hostCgroupMemorySchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  /** The process's cgroup path, e.g. `/system.slice/php8.2-fpm.service`. */
  path: z.string(),
  /** The tightest limit on the way from the process's cgroup up to the root. */
  limitBytes: cgroupMemoryLimitSchema,
  /** The cgroup that sets `limitBytes`; absent when nothing is limited. */
  limitPath: z.string().optional(),
  /** v2 only: the tightest `memory.high` (reclaim and throttling start there). */
  highBytes: cgroupMemoryLimitSchema.optional(),
  /** Current usage of the process's own cgroup. */
  usageBytes: z.number().int().nonnegative().optional(),
  /** `memory.stat` of the process's own cgroup. */
  stat: z.record(z.string(), z.number()).optional(),
});
/**
 * Memory limit and usage (bytes) of the cgroup a process runs in, with the tightest limit up the
 * tree.
 */
export type HostCgroupMemory = z.infer<typeof hostCgroupMemorySchema>;

/** `/a/b/c` → `['/a/b/c', '/a/b', '/a', '/']`. */
function ancestors(path: string): string[] {
  const out: string[] = [];
  let p = posix.normalize(path);
  for (;;) {
    out.push(p);
    if (p === '/') return out;
    p = posix.dirname(p);
  }
}

/**
 * The memory limit that applies to process `pid`: its cgroup from `{procRoot}/PID/cgroup`,
 * then every ancestor's `memory.max` (v2, under `{sysRoot}/fs/cgroup`) or
 * `memory.limit_in_bytes` (v1, under `{sysRoot}/fs/cgroup/memory`); the smallest wins, since
 * a parent's limit caps its children. v2 is used when its hierarchy has the memory
 * controller; undefined when neither version accounts memory. Assumes the standard mount
 * points.
 */
export async function readCgroupMemory(
  pid: number,
  options: ReadOptions = {},
): Promise<HostCgroupMemory | undefined> {
  checkPid(pid);
  const { procRoot, sysRoot } = roots(options);
  const memberships = parseProcPidCgroup(await readText(join(procRoot, String(pid), 'cgroup')));
  const cgroupRoot = join(sysRoot, 'fs', 'cgroup');
  const unified = memberships.find((m) => m.hierarchyId === 0);
  const controllers = await readTextIfExists(join(cgroupRoot, 'cgroup.controllers'));
  if (unified && controllers?.split(/\s+/).includes('memory')) {
    const out: HostCgroupMemory = { version: 2, path: unified.path, limitBytes: 'unlimited' };
    let high: CgroupMemoryLimit | undefined;
    for (const dir of ancestors(unified.path)) {
      const max = await readTextIfExists(join(cgroupRoot, dir, 'memory.max'));
      if (max !== undefined) {
        const limit = parseCgroupMemoryLimit(max, 2);
        if (tighterLimit(out.limitBytes, limit) !== out.limitBytes) {
          out.limitBytes = limit;
          out.limitPath = dir;
        }
      }
      const h = await readTextIfExists(join(cgroupRoot, dir, 'memory.high'));
      if (h !== undefined) high = tighterLimit(high, parseCgroupMemoryLimit(h, 2));
    }
    if (high !== undefined) out.highBytes = high;
    const current = await readTextIfExists(join(cgroupRoot, unified.path, 'memory.current'));
    if (current !== undefined) out.usageBytes = parseCgroupMemoryUsage(current);
    const stat = await readTextIfExists(join(cgroupRoot, unified.path, 'memory.stat'));
    if (stat !== undefined) out.stat = parseCgroupMemoryStat(stat);
    return out;
  }
  const v1 = memberships.find((m) => m.controllers.includes('memory'));
  if (v1 === undefined) return undefined;
  const base = join(cgroupRoot, 'memory');
  const out: HostCgroupMemory = { version: 1, path: v1.path, limitBytes: 'unlimited' };
  let found = false;
  for (const dir of ancestors(v1.path)) {
    const text = await readTextIfExists(join(base, dir, 'memory.limit_in_bytes'));
    if (text === undefined) continue;
    found = true;
    const limit = parseCgroupMemoryLimit(text, 1);
    if (tighterLimit(out.limitBytes, limit) !== out.limitBytes) {
      out.limitBytes = limit;
      out.limitPath = dir;
    }
  }
  if (!found) return undefined;
  const usage = await readTextIfExists(join(base, v1.path, 'memory.usage_in_bytes'));
  if (usage !== undefined) out.usageBytes = parseCgroupMemoryUsage(usage);
  const stat = await readTextIfExists(join(base, v1.path, 'memory.stat'));
  if (stat !== undefined) out.stat = parseCgroupMemoryStat(stat);
  return out;
}

/** One process's memory. */
export const workerMemorySampleSchema = z.object({
  pid: z.number().int().positive(),
  /** `pss` from smaps_rollup; `rss` from /proc/PID/status when smaps_rollup is unreadable. */
  source: z.enum(['pss', 'rss']),
  /** PSS when `source` is `pss`, else RSS: the figure to size with. */
  bytes: z.number().int().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  /** PSS; absent for `rss` samples. */
  pssBytes: z.number().int().nonnegative().optional(),
  /** Pages shared with other processes (smaps Shared_*; for `rss` samples RssFile + RssShmem). */
  sharedBytes: z.number().int().nonnegative(),
  /** Pages only this process maps (smaps Private_*; for `rss` samples RssAnon). */
  privateBytes: z.number().int().nonnegative(),
});
/** One worker's memory from `/proc/PID/smaps_rollup`, in bytes. */
export type WorkerMemorySample = z.infer<typeof workerMemorySampleSchema>;

/** Memory per worker over a set of processes, with the spread. */
export const workerMemorySchema = z.object({
  samples: z.array(workerMemorySampleSchema),
  /** Number of processes measured. */
  count: z.number().int().nonnegative(),
  /** Pids that had exited (or were unreadable) when read. */
  missing: z.array(z.number().int().positive()),
  /** `pss` when every sample is PSS, `rss` when every one is RSS, `mixed` otherwise, `none` without samples. */
  source: z.enum(['pss', 'rss', 'mixed', 'none']),
  meanBytes: z.number().nonnegative(),
  medianBytes: z.number().nonnegative(),
  minBytes: z.number().nonnegative(),
  maxBytes: z.number().nonnegative(),
  /** Population standard deviation of `bytes`. */
  stddevBytes: z.number().nonnegative(),
  sharedMeanBytes: z.number().nonnegative(),
  privateMeanBytes: z.number().nonnegative(),
});
/** Memory per worker (PSS, bytes) over a set of processes, with the spread. */
export type WorkerMemory = z.infer<typeof workerMemorySchema>;

async function sampleOne(pid: number, procRoot: string): Promise<WorkerMemorySample | undefined> {
  let rollup: string | undefined;
  try {
    rollup = await readTextIfExists(join(procRoot, String(pid), 'smaps_rollup'));
  } catch {
    rollup = undefined; // EACCES for another user's process, or a kernel without smaps_rollup
  }
  if (rollup !== undefined && rollup.trim() !== '') {
    const r = parseSmapsRollup(rollup);
    return {
      pid,
      source: 'pss',
      bytes: r.pssBytes,
      rssBytes: r.rssBytes,
      pssBytes: r.pssBytes,
      sharedBytes: r.sharedBytes,
      privateBytes: r.privateBytes,
    };
  }
  const status = await readTextIfExists(join(procRoot, String(pid), 'status'));
  if (status === undefined) return undefined;
  const s = parseProcPidStatus(status);
  if (s.rssBytes === undefined) return undefined;
  return {
    pid,
    source: 'rss',
    bytes: s.rssBytes,
    rssBytes: s.rssBytes,
    sharedBytes: (s.rssFileBytes ?? 0) + (s.rssShmemBytes ?? 0),
    privateBytes: s.rssAnonBytes ?? s.rssBytes,
  };
}

/**
 * Measures the memory of worker processes: PSS from `{procRoot}/PID/smaps_rollup` where
 * readable (shared pages such as opcache are divided among the workers that map them, so PSS
 * sums to what the pool really uses), RSS from `/proc/PID/status` otherwise (which counts
 * shared pages in every worker and overstates the sum). Processes that exit meanwhile are
 * listed in `missing`.
 */
export async function measureWorkerMemory(
  pids: readonly number[],
  options: ReadOptions = {},
): Promise<WorkerMemory> {
  for (const [i, pid] of pids.entries()) checkPid(pid, `pids[${i}]`);
  const { procRoot } = roots(options);
  const samples: WorkerMemorySample[] = [];
  const missing: number[] = [];
  for (const pid of pids) {
    const s = await sampleOne(pid, procRoot);
    if (s) samples.push(s);
    else missing.push(pid);
  }
  const values = samples.map((s) => s.bytes).sort((a, b) => a - b);
  const n = values.length;
  const mean = n === 0 ? 0 : values.reduce((a, b) => a + b, 0) / n;
  const variance = n === 0 ? 0 : values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const median = n === 0 ? 0 : n % 2 ? values[n >> 1]! : (values[n / 2 - 1]! + values[n / 2]!) / 2;
  const sources = new Set(samples.map((s) => s.source));
  return {
    samples,
    count: n,
    missing,
    source: n === 0 ? 'none' : sources.size > 1 ? 'mixed' : samples[0]!.source,
    meanBytes: mean,
    medianBytes: median,
    minBytes: values[0] ?? 0,
    maxBytes: values[n - 1] ?? 0,
    stddevBytes: Math.sqrt(variance),
    sharedMeanBytes: n === 0 ? 0 : samples.reduce((a, s) => a + s.sharedBytes, 0) / n,
    privateMeanBytes: n === 0 ? 0 : samples.reduce((a, s) => a + s.privateBytes, 0) / n,
  };
}
