import { readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { parseFpmProcessTitle } from '../kernel/cmdline.js';
import { parseProcNetTcp, tcpListenQueues } from '../kernel/proc-net-tcp.js';
import { unixListenQueues } from '../kernel/proc-net-unix.js';
import { parseProcPidStatus } from '../kernel/proc-pid-status.js';
import {
  listDir,
  listDirQuietly,
  type ReadOptions,
  readLinkQuietly,
  readTextIfExists,
  readTextQuietly,
  roots,
} from './io.js';

/** A listening socket an FPM process holds, with its current accept queue. */
export const fpmSocketSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('unix'),
    path: z.string(),
    abstract: z.boolean(),
    inode: z.number().int().nonnegative(),
    /** Connections waiting in the accept queue now. */
    queued: z.number().int().nonnegative(),
    /** Accepted connections still open. */
    accepted: z.number().int().nonnegative(),
  }),
  z.object({
    kind: z.literal('tcp'),
    family: z.union([z.literal(4), z.literal(6)]),
    address: z.string(),
    port: z.number().int().min(0).max(65535),
    inode: z.number().int().nonnegative(),
    /** Connections waiting in the accept queue now. */
    queued: z.number().int().nonnegative(),
  }),
]);
export type FpmSocket = z.infer<typeof fpmSocketSchema>;

/** One pool of one master. Pools are per master: two masters' `www` pools stay two pools. */
export const fpmPoolInfoSchema = z.object({
  name: z.string(),
  masterPid: z.number().int().positive(),
  workerPids: z.array(z.number().int().positive()),
  /** Listening sockets the pool's workers hold (its `listen` socket); empty without workers (ondemand). */
  sockets: z.array(fpmSocketSchema),
});
export type FpmPoolInfo = z.infer<typeof fpmPoolInfoSchema>;

/** One FPM master process. */
export const fpmMasterInfoSchema = z.object({
  pid: z.number().int().positive(),
  /** The config file named in the process title (`master process (PATH)`). */
  configPath: z.string(),
  /** The config file's text, when it could be read. */
  configText: z.string().optional(),
  /** Why the config file could not be read or parsed. */
  configError: z.string().optional(),
  /** What `parseConfig` returned for the text, when that option was given. */
  config: z.unknown().optional(),
  pools: z.array(fpmPoolInfoSchema),
  /** Listening sockets only the master holds: `pm.status_listen` sockets, or pools without workers. */
  unassignedSockets: z.array(fpmSocketSchema),
});
export type FpmMasterInfo = z.infer<typeof fpmMasterInfoSchema>;

/** Everything `discoverFpm` found. */
export const fpmDiscoverySchema = z.object({
  masters: z.array(fpmMasterInfoSchema),
  /** All pools of all masters. */
  pools: z.array(fpmPoolInfoSchema),
  /** Workers whose parent is not a master found here (e.g. its title was changed). */
  orphanWorkers: z.array(
    z.object({
      pid: z.number().int().positive(),
      pool: z.string(),
      ppid: z.number().int().nonnegative(),
    }),
  ),
});
export type FpmDiscovery = z.infer<typeof fpmDiscoverySchema>;

export interface DiscoverFpmOptions extends ReadOptions {
  /**
   * Parses a master's config text; the result is attached as `config`. Errors it throws are
   * recorded in `configError`. @default undefined (the text is returned unparsed)
   */
  parseConfig?: (text: string, path: string) => unknown;
  /**
   * Reads a config file. @default reads the path as seen from this process (for a master in
   * another mount namespace, such as a container, pass a reader that goes through
   * `/proc/PID/root`)
   */
  readConfig?: (path: string, pid: number) => Promise<string>;
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

async function socketInodes(procRoot: string, pid: number): Promise<Set<number>> {
  const dir = join(procRoot, String(pid), 'fd');
  const out = new Set<number>();
  for (const fd of await listDirQuietly(dir)) {
    const link = await readLinkQuietly(join(dir, fd));
    const m = link === undefined ? null : SOCKET_LINK.exec(link);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** Listening sockets by inode, from the socket tables of the master's network namespace. */
async function listeners(procRoot: string, pid: number): Promise<Map<number, FpmSocket>> {
  const out = new Map<number, FpmSocket>();
  const read = async (name: string) =>
    (await readTextIfExists(join(procRoot, String(pid), 'net', name))) ??
    (await readTextIfExists(join(procRoot, 'net', name)));
  const unix = await read('unix');
  if (unix !== undefined) {
    for (const q of unixListenQueues(unix)) {
      out.set(q.inode, {
        kind: 'unix',
        path: q.path,
        abstract: q.abstract,
        inode: q.inode,
        queued: q.queued,
        accepted: q.accepted,
      });
    }
  }
  for (const name of ['tcp', 'tcp6']) {
    const text = await read(name);
    if (text === undefined) continue;
    for (const q of tcpListenQueues(parseProcNetTcp(text))) {
      out.set(q.inode, {
        kind: 'tcp',
        family: q.family,
        address: q.address,
        port: q.port,
        inode: q.inode,
        queued: q.queued,
      });
    }
  }
  return out;
}

async function defaultReadConfig(procRoot: string, path: string, pid: number): Promise<string> {
  let full = path;
  if (!isAbsolute(path)) {
    const cwd = await readLinkQuietly(join(procRoot, String(pid), 'cwd'));
    if (cwd !== undefined) full = resolve(cwd, path);
  }
  return readFile(full, 'utf8');
}

/**
 * Finds the PHP-FPM masters on this host and everything about them fpmkit can see without
 * their help: masters from `{procRoot}/PID/cmdline` titles `php-fpm: master process (CONFIG)`,
 * workers from `php-fpm: pool NAME` (joined to their master by `PPid`), each pool's listening
 * socket by inode (`/proc/PID/fd` links joined with the master's `net/unix`, `net/tcp` and
 * `net/tcp6`), its current accept queue, and each master's config file.
 * Processes that exit during the scan are skipped.
 */
export async function discoverFpm(options: DiscoverFpmOptions = {}): Promise<FpmDiscovery> {
  const { procRoot } = roots(options);
  const masters = new Map<number, FpmMasterInfo>();
  const workers: { pid: number; pool: string; ppid: number }[] = [];
  for (const entry of await listDir(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const cmdline = await readTextQuietly(join(procRoot, entry, 'cmdline'), 'latin1');
    if (cmdline === undefined) continue;
    const title = parseFpmProcessTitle(cmdline);
    if (title?.role === 'master') {
      masters.set(pid, { pid, configPath: title.configPath, pools: [], unassignedSockets: [] });
    } else if (title?.role === 'worker') {
      const status = await readTextQuietly(join(procRoot, entry, 'status'));
      if (status === undefined) continue;
      workers.push({ pid, pool: title.pool, ppid: parseProcPidStatus(status).ppid });
    }
  }
  const orphanWorkers: FpmDiscovery['orphanWorkers'] = [];
  for (const w of workers) {
    const master = masters.get(w.ppid);
    if (!master) {
      orphanWorkers.push(w);
      continue;
    }
    let pool = master.pools.find((p) => p.name === w.pool);
    if (!pool) {
      pool = { name: w.pool, masterPid: master.pid, workerPids: [], sockets: [] };
      master.pools.push(pool);
    }
    pool.workerPids.push(w.pid);
  }
  for (const master of masters.values()) {
    const byInode = await listeners(procRoot, master.pid);
    const held = await socketInodes(procRoot, master.pid);
    const claimed = new Set<number>();
    for (const pool of master.pools) {
      pool.workerPids.sort((a, b) => a - b);
      const inodes = new Set<number>();
      for (const pid of pool.workerPids)
        for (const i of await socketInodes(procRoot, pid)) inodes.add(i);
      for (const inode of inodes) {
        const socket = byInode.get(inode);
        if (socket && held.has(inode)) {
          pool.sockets.push(socket);
          claimed.add(inode);
        }
      }
    }
    for (const inode of held) {
      const socket = byInode.get(inode);
      if (socket && !claimed.has(inode)) master.unassignedSockets.push(socket);
    }
    try {
      master.configText = options.readConfig
        ? await options.readConfig(master.configPath, master.pid)
        : await defaultReadConfig(procRoot, master.configPath, master.pid);
    } catch (error) {
      master.configError = (error as Error)?.message ?? String(error);
    }
    if (master.configText !== undefined && options.parseConfig) {
      try {
        master.config = options.parseConfig(master.configText, master.configPath);
      } catch (error) {
        master.configError = (error as Error)?.message ?? String(error);
      }
    }
  }
  const list = [...masters.values()].sort((a, b) => a.pid - b.pid);
  return { masters: list, pools: list.flatMap((m) => m.pools), orphanWorkers };
}
