/**
 * The kernel area's parsers without the zod schemas: what `fpmkit/kernel/parsers` exports, for
 * callers that read /proc, /sys, `sysctl` and `ss` output and want to load nothing else. The
 * types are the same as `fpmkit/kernel`'s; the schemas, sysctl.d and systemd renderers and
 * `KernelSettings` are only there.
 */
export type { EffectiveBacklogInput } from './backlog.js';
export {
  acceptQueueCapacity,
  DEFAULT_SOMAXCONN,
  effectiveBacklog,
  FPM_DEFAULT_LISTEN_BACKLOG,
  LEGACY_SOMAXCONN,
} from './backlog.js';
export type { CgroupMemory, CgroupMemoryFiles, CgroupMemoryLimit } from './cgroup-memory.js';
export {
  parseCgroupMemory,
  parseCgroupMemoryLimit,
  parseCgroupMemoryStat,
  parseCgroupMemoryUsage,
} from './cgroup-memory.js';
export type { FpmProcessTitle } from './cmdline.js';
export { parseCmdline, parseFpmProcessTitle, parseProcPidCmdline } from './cmdline.js';
export type { LimitValue, ProcessLimit, ProcessLimits } from './limits.js';
export { parseLimits, parseProcPidLimits } from './limits.js';
export type { Meminfo } from './meminfo.js';
export { parseMeminfo, parseProcMeminfo } from './meminfo.js';
export type { NetstatCounters } from './proc-net-netstat.js';
export { parseProcNetNetstat } from './proc-net-netstat.js';
export type { TcpListenQueue, TcpSocket, TcpStateName } from './proc-net-tcp.js';
export { parseProcNetTcp, TCP_STATE_LISTEN, TCP_STATES, tcpListenQueues } from './proc-net-tcp.js';
export type { UnixListenQueue, UnixSocket } from './proc-net-unix.js';
export {
  parseProcNetUnix,
  UNIX_FLAG_LISTENING,
  UNIX_STATE_CONNECTED,
  UNIX_STATE_CONNECTING,
  UNIX_STATE_DISCONNECTING,
  UNIX_STATE_UNCONNECTED,
  UNIX_TYPE_STREAM,
  unixListenQueues,
} from './proc-net-unix.js';
export type { CgroupMembership } from './proc-pid-cgroup.js';
export { parseProcPidCgroup } from './proc-pid-cgroup.js';
export type { ProcPidStatus } from './proc-pid-status.js';
export { parseProcPidStatus } from './proc-pid-status.js';
export type { SmapsRollup } from './smaps-rollup.js';
export { parseSmapsRollup } from './smaps-rollup.js';
export type { SsProcess, SsSocket } from './ss.js';
export { parseSs, parseSsUsers } from './ss.js';
export type { SysctlEntry } from './sysctl.js';
export { parseSysctl, parseSysctlEntries } from './sysctl.js';
