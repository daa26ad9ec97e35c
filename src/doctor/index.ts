export type {
  CheckStackOptions,
  DatabaseLimits,
  StackFindingCode,
  StackFpmInput,
  StackInput,
  WebServerUser,
} from './check-stack.js';
export {
  APACHE_DEFAULT_MAX_REQUEST_WORKERS,
  APACHE_WORKERS_PER_CHILD_QUEUEING,
  checkStack,
  databaseLimitsSchema,
  NGINX_DEFAULT_CLIENT_MAX_BODY_SIZE_BYTES,
  NGINX_DEFAULT_UPSTREAM_KEEPALIVE_TIMEOUT_SECONDS,
  OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES,
  OPCACHE_DEFAULT_MEMORY_MEGABYTES,
  PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
  PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES,
  STACK_FINDING_CODES,
  STACK_TIMEOUT_MARGIN_SECONDS,
  WEB_SERVER_DEFAULT_TIMEOUT_SECONDS,
  webServerUserSchema,
} from './check-stack.js';
export type {
  DiagnoseOptions,
  HostSnapshot,
  LiveFindingCode,
  LogWindow,
  MissingPart,
  Report,
  SnapshotCgroup,
  SnapshotMaster,
  SnapshotPart,
  SnapshotPool,
} from './diagnose.js';
export { diagnose, LIVE_FINDING_CODES } from './diagnose.js';
