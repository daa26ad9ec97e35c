/**
 * The zod schemas of the kernel models the parsers return, one per model, with the TypeScript
 * types inferred from them. Kept apart from the parsers, which import only the types, so the
 * parsers (and `fpmkit/kernel/parsers`) load without zod.
 */
import { z } from 'zod';

// cgroup memory files (cgroup-memory.ts)

/** Schema of {@link CgroupMemoryLimit}. */
export const cgroupMemoryLimitSchema = z.union([
  z.number().int().nonnegative(),
  z.literal('unlimited'),
]);
/** A cgroup memory limit in bytes, or `unlimited` (`max` in cgroup v2). */
export type CgroupMemoryLimit = z.infer<typeof cgroupMemoryLimitSchema>;

/** Memory accounting of one cgroup. */
export const cgroupMemorySchema = z.object({
  version: z.union([z.literal(1), z.literal(2)]),
  /** v2 `memory.max` or v1 `memory.limit_in_bytes`; absent when the file was not given. */
  limitBytes: cgroupMemoryLimitSchema.optional(),
  /** v2 `memory.high` (throttling starts here); absent when not given. */
  highBytes: cgroupMemoryLimitSchema.optional(),
  /** v2 `memory.current` or v1 `memory.usage_in_bytes`. */
  usageBytes: z.number().int().nonnegative().optional(),
  /** `memory.stat` counters (bytes for sizes, counts for events). */
  stat: z.record(z.string(), z.number()).optional(),
});
/** Memory accounting of one cgroup, in bytes. */
export type CgroupMemory = z.infer<typeof cgroupMemorySchema>;

// /proc/PID/cmdline (cmdline.ts)

/** What a php-fpm process title says about the process. */
export const fpmProcessTitleSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('master'), configPath: z.string() }),
  z.object({ role: z.literal('worker'), pool: z.string() }),
]);
/** What an FPM process title says: a master with its config file, or a worker with its pool. */
export type FpmProcessTitle = z.infer<typeof fpmProcessTitleSchema>;

// /proc/PID/limits (limits.ts)

/** A resource limit value: a number in the limit's unit, or `'unlimited'` (RLIM_INFINITY). */
export const limitValueSchema = z.union([z.number().int().nonnegative(), z.literal('unlimited')]);
/** One limit of `/proc/PID/limits`: a number (in the limit's unit) or `unlimited`. */
export type LimitValue = z.infer<typeof limitValueSchema>;

/** Schema of {@link ProcessLimit}. */
export const processLimitSchema = z.object({
  soft: limitValueSchema,
  hard: limitValueSchema,
  /** `files`, `bytes`, `seconds`, `processes`, `signals`, `us`, `locks`; absent when blank. */
  unit: z.string().optional(),
});
/** One row of `/proc/PID/limits`: soft and hard limit and the unit. */
export type ProcessLimit = z.infer<typeof processLimitSchema>;

// /proc/meminfo (meminfo.ts)

/** /proc/meminfo with the fields sizing needs named, and every field in `fields`. */
export const meminfoSchema = z.object({
  totalBytes: z.number().int().nonnegative(),
  freeBytes: z.number().int().nonnegative(),
  /** `MemAvailable` (kernel 3.14+): the kernel's estimate of memory usable without swapping. */
  availableBytes: z.number().int().nonnegative().optional(),
  buffersBytes: z.number().int().nonnegative().optional(),
  cachedBytes: z.number().int().nonnegative().optional(),
  swapTotalBytes: z.number().int().nonnegative().optional(),
  swapFreeBytes: z.number().int().nonnegative().optional(),
  shmemBytes: z.number().int().nonnegative().optional(),
  /** Every line: bytes for `kB` lines, plain counts for the others (`HugePages_Total`). */
  fields: z.record(z.string(), z.number()),
});
/** The fields of `/proc/meminfo`, in bytes. */
export type Meminfo = z.infer<typeof meminfoSchema>;

// /proc/net/tcp, /proc/net/tcp6 (proc-net-tcp.ts)

/** One row of /proc/net/tcp or /proc/net/tcp6. */
export const tcpSocketSchema = z.object({
  /** 4 for /proc/net/tcp rows, 6 for /proc/net/tcp6 rows. */
  family: z.union([z.literal(4), z.literal(6)]),
  localAddress: z.string(),
  localPort: z.number().int().min(0).max(65535),
  remoteAddress: z.string(),
  remotePort: z.number().int().min(0).max(65535),
  /** `st` as a number (0x0A = LISTEN). */
  state: z.number().int().nonnegative(),
  stateName: z.string(),
  /** `tx_queue`: unsent bytes; 0 for listeners. */
  txQueue: z.number().int().nonnegative(),
  /** `rx_queue`: unread bytes, or for a LISTEN row the current accept-queue length. */
  rxQueue: z.number().int().nonnegative(),
  uid: z.number().int().nonnegative(),
  /** Socket inode; 0 for connections not yet accepted. */
  inode: z.number().int().nonnegative(),
});
/** One row of `/proc/net/tcp` or `/proc/net/tcp6`. */
export type TcpSocket = z.infer<typeof tcpSocketSchema>;

/** Accept queue of one TCP listener. */
export const tcpListenQueueSchema = z.object({
  family: z.union([z.literal(4), z.literal(6)]),
  address: z.string(),
  port: z.number().int().min(0).max(65535),
  inode: z.number().int().nonnegative(),
  /** Connections waiting for accept() (the LISTEN row's rx_queue). */
  queued: z.number().int().nonnegative(),
});
/** Accept queue of one TCP listener: connections waiting and the backlog. */
export type TcpListenQueue = z.infer<typeof tcpListenQueueSchema>;

// /proc/net/unix (proc-net-unix.ts)

/** One row of /proc/net/unix. */
export const unixSocketSchema = z.object({
  /** Reference count (`RefCount`). */
  refCount: z.number().int().nonnegative(),
  /** `Flags`: `0x10000` (`__SO_ACCEPTCON`) on listeners, else 0. */
  flags: z.number().int().nonnegative(),
  /** True when `flags` has `__SO_ACCEPTCON`. */
  listening: z.boolean(),
  /** `Type`: 1 stream, 2 datagram, 5 seqpacket. */
  type: z.number().int().nonnegative(),
  /** `St`: 1 unconnected, 2 connecting (embryo), 3 connected, 4 disconnecting. */
  state: z.number().int().nonnegative(),
  /** `Inode` of the socket; 0 for an embryo that has no `struct socket` yet. */
  inode: z.number().int().nonnegative(),
  /** Bound name: a file path, or `@name` for an abstract name. Absent for unnamed sockets. */
  path: z.string().optional(),
});
/** One row of `/proc/net/unix`. */
export type UnixSocket = z.infer<typeof unixSocketSchema>;

/** Queue depth of one listening stream socket. */
export const unixListenQueueSchema = z.object({
  /** The listener's name (`@name` for abstract sockets). */
  path: z.string(),
  /** True for abstract names (leading `@`), which have no file. */
  abstract: z.boolean(),
  /** The listener's inode, to join with /proc/PID/fd links. */
  inode: z.number().int().nonnegative(),
  /** Connections in the accept queue: rows with this path in state 02 (embryos). */
  queued: z.number().int().nonnegative(),
  /** Accepted server-side connections still open: rows with this path in state 03. */
  accepted: z.number().int().nonnegative(),
  /**
   * True when several listeners share the path (a stale socket was replaced while the old one
   * was still open): embryos carry only the path, so the counts are those of all of them.
   */
  ambiguous: z.boolean(),
});
/** Queue depth of one listening UNIX stream socket. */
export type UnixListenQueue = z.infer<typeof unixListenQueueSchema>;

// /proc/PID/cgroup (proc-pid-cgroup.ts)

/** Schema of {@link CgroupMembership}. */
export const cgroupMembershipSchema = z.object({
  /** 0 for the v2 unified hierarchy. */
  hierarchyId: z.number().int().nonnegative(),
  /** v1 controllers of the hierarchy (`memory`, `name=systemd`); empty for v2. */
  controllers: z.array(z.string()),
  /** Path below the hierarchy's mount point, starting with `/`. */
  path: z.string(),
});
/** One line of `/proc/PID/cgroup`: hierarchy id, controllers and path. */
export type CgroupMembership = z.infer<typeof cgroupMembershipSchema>;

// /proc/PID/status (proc-pid-status.ts)

/** The parts of /proc/PID/status fpmkit uses; every line is kept in `fields`. */
export const procPidStatusSchema = z.object({
  name: z.string(),
  pid: z.number().int().nonnegative(),
  ppid: z.number().int().nonnegative(),
  /** Real, effective, saved and filesystem uid. */
  uids: z.array(z.number().int().nonnegative()).optional(),
  threads: z.number().int().nonnegative().optional(),
  /** `VmRSS`; absent for kernel threads. */
  rssBytes: z.number().int().nonnegative().optional(),
  /** `RssAnon`: private memory (heap, stack). */
  rssAnonBytes: z.number().int().nonnegative().optional(),
  /** `RssFile`: file-backed pages, shareable (code, libraries). */
  rssFileBytes: z.number().int().nonnegative().optional(),
  /** `RssShmem`: shared memory (opcache's segment lives here). */
  rssShmemBytes: z.number().int().nonnegative().optional(),
  /** `VmHWM`: peak RSS. */
  peakRssBytes: z.number().int().nonnegative().optional(),
  fields: z.record(z.string(), z.string()),
});
/** The fields of `/proc/PID/status` fpmkit uses (memory in bytes). */
export type ProcPidStatus = z.infer<typeof procPidStatusSchema>;

// /proc/PID/smaps_rollup (smaps-rollup.ts)

/** Memory of one process from smaps_rollup, in bytes. */
export const smapsRollupSchema = z.object({
  /** Resident set: every page mapped, shared ones counted in full. */
  rssBytes: z.number().int().nonnegative(),
  /** Proportional set: shared pages divided among the processes that map them. */
  pssBytes: z.number().int().nonnegative(),
  sharedCleanBytes: z.number().int().nonnegative(),
  sharedDirtyBytes: z.number().int().nonnegative(),
  privateCleanBytes: z.number().int().nonnegative(),
  privateDirtyBytes: z.number().int().nonnegative(),
  /** `Shared_Clean + Shared_Dirty`: pages other processes map too (opcache, libraries). */
  sharedBytes: z.number().int().nonnegative(),
  /** `Private_Clean + Private_Dirty`: what ending this process would free. */
  privateBytes: z.number().int().nonnegative(),
  anonymousBytes: z.number().int().nonnegative().optional(),
  swapBytes: z.number().int().nonnegative().optional(),
  swapPssBytes: z.number().int().nonnegative().optional(),
});
/** The totals of `/proc/PID/smaps_rollup`, in bytes. */
export type SmapsRollup = z.infer<typeof smapsRollupSchema>;

// ss output (ss.ts)

/** One process holding a socket, from `ss -p`'s `users:(("name",pid=N,fd=N),...)`. */
export const ssProcessSchema = z.object({
  name: z.string(),
  pid: z.number().int().nonnegative(),
  fd: z.number().int().nonnegative(),
});
/** A process that holds a socket, as `ss -p` prints it. */
export type SsProcess = z.infer<typeof ssProcessSchema>;

/** One row of `ss` output. */
export const ssSocketSchema = z.object({
  /** `u_str`, `u_dgr`, `u_seq`, `tcp`, `udp` ...; when `ss` prints no Netid column (only one
   * kind was asked for, e.g. `ss -ltn`) this is `'tcp'` for rows with host:port addresses and
   * `'u_str'` otherwise. */
  netid: z.string(),
  /** `LISTEN`, `ESTAB`, `UNCONN`, `TIME-WAIT` ... */
  state: z.string(),
  /** For a listener: connections in the accept queue. Otherwise: bytes not yet read. */
  recvQ: z.number().int().nonnegative(),
  /** For a listener: the backlog limit (after the somaxconn cap). Otherwise: bytes not yet sent. */
  sendQ: z.number().int().nonnegative(),
  /** Local address: a path, `@name`, `*` (unnamed), or a host such as `127.0.0.1`, `[::1]`, `*`. */
  localAddress: z.string(),
  /** Local port (TCP/UDP, a number or, without `-n`, a service name), or the inode for UNIX sockets. */
  localPort: z.string(),
  peerAddress: z.string(),
  peerPort: z.string(),
  /** The processes holding the socket (`-p`); absent when `ss` printed none. */
  processes: z.array(ssProcessSchema).optional(),
});
/** One row of `ss` output. */
export type SsSocket = z.infer<typeof ssSocketSchema>;

// sysctl output, sysctl.d files (sysctl.ts)

/** One `key = value` line of sysctl output or of a sysctl.d file. */
export const sysctlEntrySchema = z.object({
  /** Dotted name, e.g. `net.core.somaxconn` (slash-separated names are converted). */
  key: z.string().min(1),
  /** The value with surrounding white space removed; inner white space (tabs) is kept. */
  value: z.string(),
  /** True for a sysctl.d line starting with `-`: a failure to apply it is ignored. */
  ignoreErrors: z.boolean(),
  /** 1-based line number in the input. */
  line: z.number().int().positive(),
});
/** One `key = value` from `sysctl` output or a sysctl.d file, with its line. */
export type SysctlEntry = z.infer<typeof sysctlEntrySchema>;
