export { FpmkitFpmRefusedError } from '../errors.js';
export type { CheckFpmConfigOptions, CheckFpmConfigResult, FpmSystem } from './check.js';
export { checkFpmConfig } from './check.js';
export type { FpmBuildFeature, FpmDirective, FpmValueType } from './directives.js';
export {
  DEBIAN_LINUX_BUILD,
  FPM_ARRAY_DIRECTIVES,
  FPM_BUILD_FEATURES,
  FPM_GLOBAL_DIRECTIVES,
  FPM_POOL_DIRECTIVES,
  FPM_VALUE_TYPES,
  fpmDirectives,
  fpmDirectivesFor,
} from './directives.js';
export type { EffectiveOptions, FpmDump } from './dump.js';
export { effectiveFpmConfig, parseFpmDump } from './dump.js';
export type {
  EditFpmConfigOptions,
  EditFpmConfigResult,
  FpmEdit,
  FpmEditChange,
  FpmEditValue,
} from './edit.js';
export { editFpmConfig } from './edit.js';
export type { IniStatement } from './ini-line.js';
export { PHP_ERROR_CONSTANTS } from './ini-line.js';
export type {
  ListenAddress,
  ParseListenOptions,
  TcpListenAddress,
  UnixListenAddress,
} from './listen.js';
export {
  assertUnixSocketPath,
  checkUnixSocketPath,
  formatListen,
  listenConnectTarget,
  MAX_UNIX_SOCKET_PATH_BYTES,
  parseListen,
} from './listen.js';
export type {
  FpmDirectiveLocation,
  FpmEditPlan,
  FpmFileEdit,
  FpmPlannedChange,
  FpmSourceFile,
  FpmSourceMap,
  FpmSourceStatement,
  MapFpmSourcesOptions,
  PlanFpmEditsOptions,
} from './locate.js';
export { locateFpmDirective, mapFpmSources, planFpmEdits } from './locate.js';
export type {
  FpmGlob,
  FpmReadFile,
  FpmWrittenValues,
  ParseFpmConfigOptions,
  ParseFpmConfigResult,
  SafeParseFpmConfigResult,
  SourceLocation,
} from './parse.js';
export {
  DEBIAN_PHP_PREFIX,
  FPM_READ_REFUSALS,
  parseFpmConfig,
  safeParseFpmConfig,
} from './parse.js';
export { PHP_FPM_BUILD_CONSTANTS, PHP_FPM_CONSTANTS } from './php-constants.js';
export type { FpmApplyAction, FpmReloadRule } from './reload-table.js';
export {
  FPM_RELOAD_DIRECTIVES,
  FPM_RESTART_DIRECTIVES,
  fpmApplyActionFor,
} from './reload-table.js';
export type { RenderFpmOptions } from './render.js';
export { renderFpmConfig, renderGlobal, renderPool } from './render.js';
export type {
  FpmConfig,
  FpmConfigInput,
  GlobalConfig,
  GlobalConfigInput,
  LogLevel,
  PmMode,
  PoolConfig,
  PoolConfigInput,
  SyslogFacility,
} from './schema.js';
export {
  fpmConfigSchema,
  globalSchema,
  LOG_LEVELS,
  PM_MODES,
  poolSchema,
  SYSLOG_FACILITIES,
} from './schema.js';
export type { FpmPhpVersion, FpmVersionFacts } from './versions.js';
export {
  compareFpmPhpVersions,
  DEFAULT_FPM_PHP_VERSION,
  FPM_PHP_VERSIONS,
  FPM_VERSION_FACTS,
  parseFpmPhpVersion,
} from './versions.js';
