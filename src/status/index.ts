export { clampCounter, isUnixListen, parseFpmLocalTime } from './fields.js';
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
  formatFromBody,
  formatFromContentType,
  type ParseStatusOptions,
  parseStatus,
} from './parse.js';
export { parseStatusText } from './text.js';
export { parseStatusXml } from './xml.js';
