export {
  FpmStatusError,
  type FpmStatusErrorDetails,
  type FpmStatusErrorKind,
  FpmStatusHttpError,
  FpmStatusMisconfiguredError,
  FpmStatusNoAnswerError,
} from './errors.js';
export {
  assertStatusResponse,
  checkStatusResponse,
  type FetchStatusOptions,
  fetchStatus,
  MAX_STATUS_RESPONSE_BYTES,
  type PingOptions,
  type PingResult,
  ping,
  STATUS_DEFAULTS,
  type StatusResponseLike,
  statusRequestParams,
} from './fetch.js';
export { parseStatusHtml } from './html.js';
export { parseStatusJson } from './json.js';
export {
  type FpmProcess,
  type FpmProcessState,
  type FpmStatus,
  fpmProcessSchema,
  fpmStatusSchema,
  PROCESS_MANAGERS,
  PROCESS_STATES,
  type ProcessManager,
  STATUS_FORMATS,
  type StatusFormat,
} from './model.js';
export { parseStatusOpenMetrics } from './openmetrics.js';
export type { ParseFormatOptions } from './options.js';
export {
  detectStatusFormat,
  type ParseStatusOptions,
  parseStatus,
  type SafeParseStatusResult,
  safeParseStatus,
} from './parse.js';
export {
  type ListenQueueReader,
  type ListenQueueReading,
  type ListenQueueReadOptions,
  type PoolReading,
  type SampleOptions,
  type SamplePoolOptions,
  STATUS_GAP_REASONS,
  type StatusGap,
  type StatusGapReason,
  StatusSampler,
  type StatusSamplerOptions,
  samplePool,
  statusGapReason,
} from './sampler.js';
export { parseStatusText } from './text.js';
export {
  diffStatus,
  MIN_WATCH_INTERVAL_MS,
  type StatusDelta,
  type StatusIncrements,
  type StatusRates,
  type StatusSample,
  type WatchStatusOptions,
  watchStatus,
} from './watch.js';
export { parseStatusXml } from './xml.js';
