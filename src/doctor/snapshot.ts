/**
 * What `diagnose` reads: a snapshot of a host, as `collectSnapshot` and `snapshotFromDirectory`
 * (fpmkit/host) build it, or as a caller assembles it from saved evidence. These are the
 * doctor's input types; the host side imports them from here.
 */
import type { Finding } from '../findings.js';
import type { FpmFindingCode } from '../findings-catalog.js';
import type { ParseFpmConfigResult } from '../fpm/parse.js';
import type { FpmConfig, PoolConfig } from '../fpm/schema.js';
import type { CgroupMemoryLimit } from '../kernel/cgroup-memory.js';
import type { Meminfo } from '../kernel/meminfo.js';
import type { NetstatCounters } from '../kernel/proc-net-netstat.js';
import type { TcpListenQueue } from '../kernel/proc-net-tcp.js';
import type { UnixListenQueue } from '../kernel/proc-net-unix.js';
import type { KernelSettings } from '../kernel/settings.js';
import type { FpmStatus } from '../status/model.js';
import type { ApacheFpmSettings } from '../web/apache-config-extract.js';
import type { NginxFpmSettings } from '../web/nginx-config-extract.js';
import type { WebServerUser } from './check-stack.js';

/**
 * One part of a snapshot: the value, or why it could not be had (permissions, nothing
 * running, not configured). Absent parts are never guessed.
 */
export type SnapshotPart<T> =
  | { ok: true; value: T; source?: string }
  | {
      ok: false;
      reason: string;
      /** The error's stable code, e.g. `FPMKIT_IO`, `FPMKIT_STATUS_MISCONFIGURED`. */
      code?: string;
      /** The system error, e.g. `ENOENT`, `EACCES`. */
      errno?: string;
      source?: string;
    };

/** The tail of a log file as read: at most a bounded number of bytes, whole lines only. */
export interface LogWindow {
  path: string;
  text: string;
  /** The file was longer than the window: older lines were left out. */
  truncated: boolean;
  /** Size of the whole file in bytes. */
  sizeBytes: number;
}

/** What fpmkit saw of one pool. */
export interface SnapshotPool {
  name: string;
  /** The pool's model as configured, when the config was read. */
  config?: PoolConfig;
  workerPids: number[];
  /** The status page (fetched when `pm.status_path` is set). */
  status: SnapshotPart<FpmStatus>;
  /** Accept queue of the pool's listening socket now. */
  queue: SnapshotPart<{ queued: number; address: string }>;
  /** Highest queue depth seen in every sample taken of the socket tables. */
  queuePeak?: number;
  /**
   * The pool's listening socket as the kernel holds it (`ss -xl` / `ss -ltn`): `backlog` is
   * the value listen(2) was given, capped by somaxconn at that moment (Send-Q), `queued` the
   * connections waiting now (Recv-Q). The queue holds `backlog + 1`. Absent when not read.
   */
  listener?: SnapshotPart<{ backlog: number; queued: number }>;
  slowlog: SnapshotPart<LogWindow>;
  workerMemory: SnapshotPart<{ meanBytes: number; maxBytes: number; count: number }>;
}

/** One FPM master (or one configuration when no master runs). */
export interface SnapshotMaster {
  /** Absent for a configuration examined without its master running. */
  pid?: number;
  configPath: string;
  config: SnapshotPart<FpmConfig>;
  /** What `parseFpmConfig` reported about the file. */
  configFindings: Finding<FpmFindingCode>[];
  /** The file and line each directive was last set at (`parseFpmConfig`'s `locations`), to cite FPM's side. */
  configLocations?: ParseFpmConfigResult['locations'];
  /** The PHP version of the master's binary (`8.4`), which the configuration was read as. */
  phpVersion?: string;
  /**
   * Why the master's binary was not run (`php-fpm -v`): the processes were read from another
   * /proc, the binary was deleted or replaced, or the path here is another file. The version is
   * then read from the binary's name only.
   */
  binaryNotRun?: string;
  /** The account the master runs as, which owns sockets without `listen.owner`. */
  user?: { name: string; group: string };
  errorLog: SnapshotPart<LogWindow>;
  pools: SnapshotPool[];
  /**
   * For a configuration with no trusted master found (no `pid`): whether it may run all the
   * same. Absent when nothing suggests it does.
   */
  running?: MasterRunState;
}

/**
 * What says whether the master of a configuration runs when discovery did not find one:
 * `unknown` when it cannot be told (the reason says why: the processes could not be listed, an
 * untrusted process claims the configuration, hidepid hides the pid file's process),
 * `pid-file` when the configuration's `pid` file names a running FPM master.
 */
export type MasterRunState =
  | { state: 'unknown'; reason: string }
  | { state: 'pid-file'; pid: number; pidFile: string };

/**
 * A process titled as an FPM master that was not trusted as one: nothing it names was read
 * or contacted.
 */
export interface SnapshotUntrustedMaster {
  pid: number;
  /** The path in its title, as written there (any local user can choose it). */
  configPath: string;
  /** Why it is not trusted. */
  reason: string;
  /** Real, effective, saved and filesystem uid, when readable. */
  uids?: number[] | undefined;
  /** Its `/proc/PID/exe`, when readable. */
  executable?: string | undefined;
}

/** The account a web server's worker processes run as, read from /proc. */
export interface WebServerWorkerUser extends WebServerUser {
  /** Effective uid of the workers. */
  uid: number;
  /** Effective gid of the workers. */
  gid: number;
}

/** One web server master found on the host, with what its configuration says about FPM. */
export interface SnapshotWebServer {
  kind: 'nginx' | 'apache';
  pid: number;
  /** Its binary (`/proc/PID/exe`), when readable. */
  executable?: string;
  /** The main configuration file. */
  configPath: string;
  /** How the configuration was read: nginx's own dump, or the files followed by fpmkit. */
  configSource?: 'nginx -T' | 'files';
  /** What faces FPM in an nginx configuration. */
  nginx?: NginxFpmSettings;
  /** What faces FPM in an Apache configuration. */
  apache?: ApacheFpmSettings;
  /** Why the configuration could not be read (or why `nginx -T` was not used). */
  configError?: string;
  /**
   * Why its binary was not run (`nginx -V`, `nginx -T`): the processes were read from another
   * /proc, the binary was deleted or replaced, or the path here is another file. The
   * configuration is then read from the files.
   */
  binaryNotRun?: string;
  /** Its worker processes. */
  workerPids: number[];
  /** The account the workers run as; absent when no worker was readable. */
  workerUser?: WebServerWorkerUser;
}

/** The memory figures the doctor needs from meminfo and the cgroup. */
export interface SnapshotCgroup {
  version: 1 | 2;
  path: string;
  limitBytes: CgroupMemoryLimit;
  usageBytes?: number;
}

/**
 * Everything `collectSnapshot` read from a host (or from a directory of saved evidence).
 * Each part is optional in the sense that it may be `{ ok: false, reason }`.
 */
export interface HostSnapshot {
  takenAt: Date;
  /** `live` when read from this machine, `directory` when from saved evidence. */
  origin: 'live' | 'directory';
  /** When no FPM master was found and no configuration was given: why. */
  noFpm?: string;
  masters: SnapshotMaster[];
  /** Processes titled as FPM masters that were ignored (`live.untrusted-master`). */
  untrustedMasters?: SnapshotUntrustedMaster[];
  unixQueues: SnapshotPart<UnixListenQueue[]>;
  tcpQueues: SnapshotPart<TcpListenQueue[]>;
  netstat: SnapshotPart<NetstatCounters>;
  kernel: SnapshotPart<KernelSettings>;
  meminfo: SnapshotPart<Meminfo>;
  cgroup: SnapshotPart<SnapshotCgroup | null>;
  nginxErrorLog: SnapshotPart<LogWindow>;
  /** The web servers found running (nginx, Apache), for the cross-layer checks. */
  webServers?: SnapshotPart<SnapshotWebServer[]>;
  /** Local-time zone of the logs, minutes east of UTC. @default 0 */
  utcOffsetMinutes?: number;
  /** Only log lines at or after this time are considered. */
  since?: Date;
}
