export type {
  DiscoverFpmOptions,
  FpmDiscovery,
  FpmMasterInfo,
  FpmPoolInfo,
  FpmSocket,
} from './discover.js';
export {
  discoverFpm,
  fpmDiscoverySchema,
  fpmMasterInfoSchema,
  fpmPoolInfoSchema,
  fpmSocketSchema,
} from './discover.js';
export type { HostFpmSystemOptions } from './fpm-config.js';
export {
  checkFpmConfigFile,
  globFpmInclude,
  hostFpmSystem,
  loadFpmConfig,
  readFpmConfigFile,
} from './fpm-config.js';
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
export { readNetstat, readTcpListenQueues, readUnixListenQueues } from './net.js';
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
  readLogWindow,
  snapshotFromDirectory,
} from './snapshot.js';
export { readKernelSettings, readSysctl } from './sysctl.js';
export type { ReadApacheConfigFileOptions, ReadNginxConfigFileOptions } from './web-config.js';
export {
  globConfigPaths,
  listConfigDirectory,
  readApacheConfigFile,
  readNginxConfigFile,
} from './web-config.js';
