export type { ApplyFpmOptions, ApplyFpmResult, FpmApplyPlan, RecoverFpmResult } from './apply.js';
export { applyFpmChanges, planFpmApply, recoverFpmApply } from './apply.js';
export {
  FpmkitApplyFailedError,
  FpmkitApplyLockedError,
  FpmkitApplyRejectedError,
  FpmkitApplyStaleError,
  FpmkitListenerNotFoundError,
  FpmkitSysctlApplyError,
  type SysctlMismatch,
} from './apply-errors.js';
export type { FpmEditSkipped, FpmEditsToMatch, FpmEditsToMatchOptions } from './apply-from.js';
export { FPM_IDENTITY_DIRECTIVES, fpmEditsToMatch } from './apply-from.js';
export type { ApplyJournal, ApplyStep } from './apply-journal.js';
export { APPLY_JOURNAL_NAME, APPLY_STEPS } from './apply-journal.js';
export { APPLY_LOCK_NAME } from './apply-lock.js';
export type { StagedValidation, ValidateStagedOptions } from './apply-stage.js';
export { validateStagedFpmConfig } from './apply-stage.js';
export type {
  ApplySysctlOptions,
  ApplySysctlResult,
  SysctlApplied,
  WriteSystemdDropInResult,
} from './apply-sysctl.js';
export { applySysctlFile, writeSystemdDropIn } from './apply-sysctl.js';
export type { LogMark, VerifyCheck, VerifyFpmOptions, VerifyResult } from './apply-verify.js';
export { FPM_LINUX_DEFAULT_BACKLOG, verifyFpm } from './apply-verify.js';
export type {
  DiscoverFpmOptions,
  FpmDiscovery,
  FpmMasterInfo,
  FpmPoolInfo,
  FpmSocket,
  UntrustedFpmMaster,
} from './discover.js';
export {
  discoverFpm,
  fpmDiscoverySchema,
  fpmMasterInfoSchema,
  fpmPoolInfoSchema,
  fpmSocketSchema,
  untrustedFpmMasterSchema,
} from './discover.js';
export type { HostFpmSystemOptions, ReadFpmConfigStdinOptions } from './fpm-config.js';
export {
  checkFpmConfigFile,
  checkFpmConfigOnHost,
  hostFpmSystem,
  loadFpmConfig,
  readFpmConfigFile,
} from './fpm-config.js';
export { FPM_VERSION_TIMEOUT_MS, readFpmBinaryVersion } from './fpm-version.js';
export type { ReadOptions } from './io.js';
export { DEFAULT_PROC_ROOT, DEFAULT_SYS_ROOT } from './io.js';
export type { HostCgroupMemory, WorkerMemory, WorkerMemorySample } from './memory.js';
export {
  hostCgroupMemorySchema,
  measureWorkerMemory,
  readCgroupMemory,
  readMeminfo,
  workerMemorySampleSchema,
  workerMemorySchema,
} from './memory.js';
export {
  type ListenQueueReaderOptions,
  listenQueueReader,
  matchTcpListeners,
  readNetstat,
  readTcpListenQueues,
  readUnixListenQueues,
  runSsListeners,
  SS_TIMEOUT_MS,
} from './net.js';
export type { RegularFileReadOptions, SymlinkPolicy } from './safe-read.js';
export { MAX_CONFIG_FILE_BYTES, readRegularFile, readRegularFileSync } from './safe-read.js';
export type {
  CollectSnapshotOptions,
  EvidenceManifest,
  SnapshotFromDirectoryOptions,
} from './snapshot.js';
export {
  collectSnapshot,
  DEFAULT_LOG_WINDOW_BYTES,
  EVIDENCE_CONFIG_CANDIDATES,
  MAX_LOG_WINDOW_BYTES,
  MAX_QUEUE_SAMPLES,
  snapshotFromDirectory,
} from './snapshot.js';
export { readKernelSettings, readSysctl } from './sysctl.js';
export type { MasterTrust } from './trust.js';
export {
  checkExecutableRun,
  checkMasterTrust,
  type ExecutableRun,
  FPM_BINARY_NAME,
} from './trust.js';
export type { ReadApacheConfigFileOptions, ReadNginxConfigFileOptions } from './web-config.js';
export { readApacheConfigFile, readNginxConfigFile } from './web-config.js';
export type { DiscoverWebServersOptions, WebServerInfo } from './web-discover.js';
export {
  APACHE_DEFAULT_CONFIG_FILE,
  APACHE_DEFAULT_SERVER_ROOT,
  discoverWebServers,
  NGINX_DEFAULT_CONFIG_PATH,
  readProcessUser,
  WEB_DUMP_MAX_BYTES,
  WEB_DUMP_TIMEOUT_MS,
} from './web-discover.js';
export type {
  FileToWrite,
  FileWriteRecovery,
  WriteFilesOptions,
  WriteFilesResult,
} from './write-files.js';
export {
  DEFAULT_WRITTEN_FILE_MODE,
  FpmkitFileExistsError,
  recoverFileWrites,
  WRITE_JOURNAL_NAME,
  WRITTEN_DIRECTORY_MODE,
  writeFilesAtomically,
} from './write-files.js';
