export type {
  FastCGIErrorDetails,
  FastCGIPhase,
  FpmkitErrorCode,
  FpmkitErrorOptions,
  FpmkitParseErrorDetails,
} from './errors.js';
export {
  ERROR_CODES,
  FastCGIConnectError,
  FastCGIProtocolError,
  FastCGIResponseTooLargeError,
  FastCGITimeoutError,
  FpmkitAbortError,
  FpmkitError,
  FpmkitInvalidOptionError,
  FpmkitIoError,
  FpmkitParseError,
  isFpmkitError,
} from './errors.js';
export type { Finding, Severity } from './findings.js';
export { findingSchema, hasErrors, SEVERITIES, sortFindings } from './findings.js';
export type { UnitResult } from './units.js';
export {
  cAtoi,
  formatFpmTime,
  formatOctalMode,
  formatPhpSize,
  parseFpmBoolean,
  parseFpmInteger,
  parseFpmTime,
  parseOctalMode,
  parsePhpSize,
} from './units.js';
