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
export type { FpmProcessTitle, NginxCommandLine, NginxProcessTitle } from './cmdline.js';
export {
  parseCmdline,
  parseFpmProcessTitle,
  parseNginxCommandLine,
  parseNginxProcessTitle,
  parseProcPidCmdline,
} from './cmdline.js';
export type {
  KeyValueEditChange,
  KeyValueEditResult,
  SysctlEdit,
  SystemdEdit,
} from './edit-sysctl.js';
export { editSysctlConf, editSystemdDropIn } from './edit-sysctl.js';
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
export {
  cgroupMembershipSchema,
  cgroupMemoryLimitSchema,
  cgroupMemorySchema,
  fpmProcessTitleSchema,
  limitValueSchema,
  meminfoSchema,
  processLimitSchema,
  procPidStatusSchema,
  smapsRollupSchema,
  ssProcessSchema,
  ssSocketSchema,
  sysctlEntrySchema,
  tcpListenQueueSchema,
  tcpSocketSchema,
  unixListenQueueSchema,
  unixSocketSchema,
} from './schemas.js';
export type {
  KernelSettings,
  RenderSysctlConfOptions,
  RenderSystemdDropInOptions,
  ServiceLimit,
  ServiceLimitValue,
  TransparentHugePagesMode,
} from './settings.js';
export {
  FILE_MAX_UNLIMITED_TEXT,
  KERNEL_SYSCTLS,
  kernelSettingsFromSysctl,
  kernelSettingsSchema,
  NR_OPEN_MAX,
  NR_OPEN_MIN,
  parseSysctlConf,
  parseTransparentHugePages,
  renderSysctlConf,
  renderSystemdDropIn,
  serviceLimitSchema,
  serviceLimitValueSchema,
  serviceUnitNameProblem,
  TRANSPARENT_HUGE_PAGES_MODES,
} from './settings.js';
export type { SmapsRollup } from './smaps-rollup.js';
export { parseSmapsRollup } from './smaps-rollup.js';
export type { SsProcess, SsSocket } from './ss.js';
export { parseSs, parseSsUsers } from './ss.js';
export type { SysctlEntry } from './sysctl.js';
export { parseSysctl, parseSysctlEntries } from './sysctl.js';
