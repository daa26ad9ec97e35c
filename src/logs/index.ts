export type { LocalTime, LogParseOptions } from './common.js';
export { localTimeSchema, MAX_UTC_OFFSET_MINUTES } from './common.js';
export type {
  FpmAccessEntry,
  FpmAccessLogOptions,
  FpmAccessLogParser,
  FpmAccessRecord,
} from './fpm-access-log.js';
export {
  compileFpmAccessFormat,
  FPM_DEFAULT_ACCESS_FORMAT,
  fpmAccessEntrySchema,
  fpmAccessRecordSchema,
  fpmAccessUnknownSchema,
  MAX_ACCESS_FORMAT_LENGTH,
  parseFpmAccessLog,
  streamFpmAccessLog,
} from './fpm-access-log.js';
export type {
  FpmLogEvent,
  FpmLogEventKind,
  FpmLogLevel,
  FpmLogOptions,
  FpmLogRecord,
} from './fpm-log.js';
export {
  classifyFpmMessage,
  FPM_LOG_EVENT_KINDS,
  FPM_LOG_LEVELS,
  fpmLogEventSchema,
  fpmLogRecordSchema,
  parseFpmLog,
  streamFpmLog,
} from './fpm-log.js';
export type {
  FpmSlowlogOptions,
  SlowlogEntry,
  SlowlogFrame,
  SlowlogRecord,
  SlowlogUnknown,
} from './fpm-slowlog.js';
export {
  MAX_SLOWLOG_FRAMES,
  parseFpmSlowlog,
  slowlogEntrySchema,
  slowlogFrameSchema,
  slowlogRecordSchema,
  slowlogUnknownSchema,
  streamFpmSlowlog,
} from './fpm-slowlog.js';
export type { LineSource, ReadLinesOptions } from './lines.js';
export { DEFAULT_MAX_LINE_LENGTH, readLines } from './lines.js';
export type {
  NginxAccessEntry,
  NginxAccessLogOptions,
  NginxAccessLogParser,
  NginxAccessRecord,
  NginxAccessUnknown,
  UpstreamValues,
} from './nginx-access-log.js';
export {
  compileNginxLogFormat,
  MAX_LENIENT_LINE_LENGTH,
  MAX_LOG_FORMAT_LENGTH,
  NGINX_COMBINED_FORMAT,
  nginxAccessEntrySchema,
  nginxAccessRecordSchema,
  nginxAccessUnknownSchema,
  parseNginxAccessLog,
  streamNginxAccessLog,
} from './nginx-access-log.js';
export { classifyNginxErrorLine } from './nginx-error-classify.js';
export type {
  NginxErrorEntry,
  NginxErrorEvent,
  NginxErrorLineClass,
  NginxErrorLogOptions,
  NginxErrorRecord,
  NginxErrorUnknown,
  NginxLogLevel,
  UpstreamErrorClass,
  UpstreamPhase,
} from './nginx-error-log.js';
export {
  NGINX_LOG_LEVELS,
  nginxErrorEntrySchema,
  nginxErrorEventSchema,
  nginxErrorRecordSchema,
  nginxErrorUnknownSchema,
  parseNginxErrorLog,
  streamNginxErrorLog,
  UPSTREAM_ERROR_CLASSES,
  UPSTREAM_PHASES,
} from './nginx-error-log.js';
