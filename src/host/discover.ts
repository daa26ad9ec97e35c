import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { type ListenAddress, parseListen } from '../fpm/listen.js';
import { parseFpmConfig } from '../fpm/parse.js';
import type { FpmConfig } from '../fpm/schema.js';
import { parseFpmProcessTitle } from '../kernel/cmdline.js';
import { parseProcNetTcp, tcpListenQueues } from '../kernel/proc-net-tcp.js';
import { unixListenQueues } from '../kernel/proc-net-unix.js';
import { parseProcPidStatus } from '../kernel/proc-pid-status.js';
import { globFpmInclude } from './fpm-config.js';
import {
  listDir,
  listDirQuietly,
  type ReadOptions,
  readLinkQuietly,
  readTextIfExists,
  readTextQuietly,
  roots,
} from './io.js';
import { matchTcpListeners } from './net.js';
import { readRegularFile } from './safe-read.js';
import { checkMasterTrust, readTrustedConfigFile, trustedOwners } from './trust.js';

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
/** A socket an FPM pool listens on: a UNIX path or a TCP address and port. */
export type FpmSocket = z.infer<typeof fpmSocketSchema>;

/** One pool of one master. Pools are per master: two masters' `www` pools stay two pools. */
export const fpmPoolInfoSchema = z.object({
  name: z.string(),
  masterPid: z.number().int().positive(),
  workerPids: z.array(z.number().int().positive()),
  /** Listening sockets the pool's workers hold (its `listen` socket); empty without workers (ondemand). */
  sockets: z.array(fpmSocketSchema),
  /**
   * The pool's `pm.status_listen` socket, found by the address its configuration names: a
   * hidden pool answers status there while this pool's workers are all busy, so status requests
   * should go there. Absent without the directive or when the socket is not open.
   */
  statusSocket: fpmSocketSchema.optional(),
});
/** One pool of one FPM master: worker pids and the listening sockets they hold. */
export type FpmPoolInfo = z.infer<typeof fpmPoolInfoSchema>;

/** One FPM master process. */
export const fpmMasterInfoSchema = z.object({
  pid: z.number().int().positive(),
  /**
   * Why fpmkit trusts the process: `executable` (its `/proc/PID/exe` is a php-fpm binary
   * owned by root or the current user) or `root-uid` (fpmkit is not root, the process runs as
   * root, and the kernel hides its executable from other users). See `checkMasterTrust`.
   */
  trust: z.enum(['executable', 'root-uid']).optional(),
  /** The binary it runs, from `/proc/PID/exe`, when that could be read. */
  executable: z.string().optional(),
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
  /** Why a socket table of its network namespace could not be read; its sockets are then missing. */
  socketError: z.string().optional(),
});
/** One FPM master process: pid, config file (and its text when readable), pools and the sockets only it holds. */
export type FpmMasterInfo = z.infer<typeof fpmMasterInfoSchema>;

/**
 * A process titled `php-fpm: master process (PATH)` that fpmkit did not take for an FPM master:
 * nothing its title or configuration names was read or contacted.
 */
export const untrustedFpmMasterSchema = z.object({
  pid: z.number().int().positive(),
  /** The path in its title, as written there (any local user can choose it). */
  configPath: z.string(),
  /** Why it is not trusted. */
  reason: z.string(),
  /** Real, effective, saved and filesystem uid, when readable. */
  uids: z.array(z.number().int().nonnegative()).optional(),
  /** Its `/proc/PID/exe`, when readable. */
  executable: z.string().optional(),
});
/** A master process that looks like FPM but was not read, with the reason. */
export type UntrustedFpmMaster = z.infer<typeof untrustedFpmMasterSchema>;

/** Everything `discoverFpm` found. */
export const fpmDiscoverySchema = z.object({
  masters: z.array(fpmMasterInfoSchema),
  /** Processes titled as masters that are not trusted as FPM (see `checkMasterTrust`). */
  untrustedMasters: z.array(untrustedFpmMasterSchema),
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
/**
 * Everything {@link discoverFpm} found: the masters, their pools and sockets, and masters it did
 * not trust.
 */
export type FpmDiscovery = z.infer<typeof fpmDiscoverySchema>;

export interface DiscoverFpmOptions extends ReadOptions {
  /**
   * Parses a master's config text; the result is attached as `config`. Errors it throws are
   * recorded in `configError`. Pass `false` to keep only the text.
   * @default FPM's own reading (`parseFpmConfig` with includes followed on this machine), so
   * `config` is an `FpmConfig`
   */
  parseConfig?: ((text: string, path: string) => unknown) | false | undefined;
  /**
   * Reads a config file of a trusted master. @default reads the path as seen from this process
   * as a bounded regular file owned by root or the current user (for a master in another mount
   * namespace, such as a container, pass a reader that goes through `/proc/PID/root`)
   */
  readConfig?: ((path: string, pid: number) => Promise<string>) | undefined;
}

const SOCKET_LINK = /^socket:\[(\d+)\]$/;

/**
 * FPM's reading of a master's configuration, includes followed on this machine as bounded
 * regular files owned by root or the current user.
 */
function parseMasterConfig(text: string, path: string): FpmConfig {
  const owners = trustedOwners();
  return parseFpmConfig(text, {
    path,
    readFile: (p) => readTrustedConfigFile(p, owners),
    glob: globFpmInclude,
  }).config;
}

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

/**
 * Listening sockets by inode, from the socket tables of the master's network namespace. A table
 * that cannot be read or parsed is left out and named in `errors`.
 */
async function listeners(
  procRoot: string,
  pid: number,
  errors: string[],
): Promise<Map<number, FpmSocket>> {
  const out = new Map<number, FpmSocket>();
  const read = async (name: string) => {
    try {
      return (
        (await readTextIfExists(join(procRoot, String(pid), 'net', name))) ??
        (await readTextIfExists(join(procRoot, 'net', name)))
      );
    } catch (error) {
      errors.push((error as Error)?.message ?? String(error));
      return undefined;
    }
  };
  const unix = await read('unix');
  if (unix !== undefined) {
    try {
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
    } catch (error) {
      errors.push((error as Error)?.message ?? String(error));
    }
  }
  for (const name of ['tcp', 'tcp6']) {
    const text = await read(name);
    if (text === undefined) continue;
    try {
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
    } catch (error) {
      errors.push((error as Error)?.message ?? String(error));
    }
  }
  return out;
}

/** True when `socket` is the one FPM bound for `address`. */
function socketIs(socket: FpmSocket, address: ListenAddress): boolean {
  // A relative path is resolved against the master's prefix (`-p`), which the title does not show.
  if (address.kind === 'unix')
    return (
      socket.kind === 'unix' &&
      (address.relative ? socket.path.endsWith(`/${address.path}`) : socket.path === address.path)
    );
  return socket.kind === 'tcp' && matchTcpListeners(address, [socket]).length > 0;
}

/**
 * Gives each pool with `pm.status_listen` its status socket: one only the master holds (the
 * hidden `<name>_status` pool is ondemand, so it usually has no worker), or one the hidden
 * pool's worker holds while it serves a request.
 */
function attachStatusSockets(master: FpmMasterInfo): void {
  const config = master.config as Partial<FpmConfig> | undefined;
  if (!config || !Array.isArray(config.pools)) return;
  for (const pc of config.pools) {
    const text = pc.pm?.statusListen;
    const pool = master.pools.find((p) => p.name === pc.name);
    if (!text || !pool) continue;
    let address: ListenAddress;
    try {
      address = parseListen(text, pc.prefix === undefined ? {} : { prefix: pc.prefix });
    } catch {
      continue;
    }
    const hidden = master.pools.find((p) => p.name === `${pc.name}_status`)?.sockets ?? [];
    const found = [...master.unassignedSockets, ...hidden].find((s) => socketIs(s, address));
    if (found) pool.statusSocket = found;
  }
}

async function defaultReadConfig(procRoot: string, path: string, pid: number): Promise<string> {
  let full = path;
  if (!isAbsolute(path)) {
    const cwd = await readLinkQuietly(join(procRoot, String(pid), 'cwd'));
    if (cwd !== undefined) full = resolve(cwd, path);
  }
  return readRegularFile(full, { owners: trustedOwners() });
}

/**
 * Finds the PHP-FPM masters on this host and everything about them fpmkit can see without
 * their help: masters from `{procRoot}/PID/cmdline` titles `php-fpm: master process (CONFIG)`,
 * workers from `php-fpm: pool NAME` (joined to their master by `PPid`), each pool's listening
 * socket by inode (`/proc/PID/fd` links joined with the master's `net/unix`, `net/tcp` and
 * `net/tcp6`), its current accept queue, and each master's config file.
 * Processes that exit during the scan are skipped.
 *
 * Any local user can title a process that way, so a master is trusted only as
 * `checkMasterTrust` says (a php-fpm binary, run by root or the current user); the others are
 * listed in `untrustedMasters`, and nothing their titles name is read. Their workers are
 * listed as orphans. A socket table that cannot be read or parsed leaves sockets out, never
 * masters out.
 */
export async function discoverFpm(options: DiscoverFpmOptions = {}): Promise<FpmDiscovery> {
  const { procRoot } = roots(options);
  const masters = new Map<number, FpmMasterInfo>();
  const untrustedMasters: UntrustedFpmMaster[] = [];
  const workers: { pid: number; pool: string; ppid: number }[] = [];
  for (const entry of await listDir(procRoot)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const cmdline = await readTextQuietly(join(procRoot, entry, 'cmdline'), 'latin1');
    if (cmdline === undefined) continue;
    const title = parseFpmProcessTitle(cmdline);
    if (title?.role === 'master') {
      const trust = await checkMasterTrust(procRoot, pid);
      if (trust.trusted) {
        masters.set(pid, {
          pid,
          trust: trust.basis,
          ...(trust.executable === undefined ? {} : { executable: trust.executable }),
          configPath: title.configPath,
          pools: [],
          unassignedSockets: [],
        });
      } else {
        untrustedMasters.push({
          pid,
          configPath: title.configPath,
          reason: trust.reason,
          ...(trust.uids === undefined ? {} : { uids: trust.uids }),
          ...(trust.executable === undefined ? {} : { executable: trust.executable }),
        });
      }
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
    const socketErrors: string[] = [];
    const byInode = await listeners(procRoot, master.pid, socketErrors);
    if (socketErrors.length > 0) master.socketError = socketErrors.join('; ');
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
    const parse = options.parseConfig === undefined ? parseMasterConfig : options.parseConfig;
    if (master.configText !== undefined && parse) {
      try {
        master.config = parse(master.configText, master.configPath);
      } catch (error) {
        master.configError = (error as Error)?.message ?? String(error);
      }
    }
    attachStatusSockets(master);
  }
  const list = [...masters.values()].sort((a, b) => a.pid - b.pid);
  return { masters: list, untrustedMasters, pools: list.flatMap((m) => m.pools), orphanWorkers };
}
