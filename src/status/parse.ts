import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { FPM_VERSION_FACTS, parseFpmPhpVersion } from '../fpm/versions.js';
import type { SafeResult } from '../safe-result.js';
import { parseStatusHtml } from './html.js';
import { parseStatusJson } from './json.js';
import type { FpmStatus } from './model.js';
import { STATUS_FORMATS, type StatusFormat } from './names.js';
import { parseStatusOpenMetrics } from './openmetrics.js';
import type { ParseFormatOptions } from './options.js';
import { parseStatusText } from './text.js';
import { parseStatusXml } from './xml.js';

/** Options of `parseStatus`. */
export interface ParseStatusOptions extends ParseFormatOptions {
  /** The page's format. @default detected from `contentType`, then from the body */
  format?: StatusFormat | undefined;
  /** The response's Content-Type header, used to detect the format. @default undefined */
  contentType?: string | undefined;
  /**
   * The PHP version of the FPM that served the page (`8.0` to `8.4`, `8.4.27`, or `php-fpm -v`'s
   * first line). When given, the page must have exactly that version's fields and format:
   * `memory peak` from 8.4 on (absent before), `openmetrics` from 8.1 on, and a page that does
   * not fit throws `FpmkitParseError` (a truncated page, or another version's).
   * @default undefined (any version's page is read)
   */
  phpVersion?: string | undefined;
}

const PARSERS: Record<StatusFormat, (body: string, options: ParseFormatOptions) => FpmStatus> = {
  text: parseStatusText,
  json: parseStatusJson,
  xml: parseStatusXml,
  html: parseStatusHtml,
  openmetrics: parseStatusOpenMetrics,
};

const decoder = new TextDecoder('utf-8');

/**
 * The format a Content-Type names, for the types FPM sends (`application/json`, `text/xml`,
 * `text/html`, `application/openmetrics-text`). `text/plain` and unknown types give undefined,
 * since FPM uses text/plain for the text page, ping and its error pages alike.
 */
export function formatFromContentType(contentType: string): StatusFormat | undefined {
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/json') return 'json';
  if (type === 'text/xml' || type === 'application/xml') return 'xml';
  if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
  if (type === 'application/openmetrics-text') return 'openmetrics';
  return undefined;
}

/** The format of a status body judged by how it starts; undefined when it is none of them. */
export function formatFromBody(body: string): StatusFormat | undefined {
  const start = body.trimStart().slice(0, 64);
  if (start.startsWith('{')) return 'json';
  if (start.startsWith('<?xml') || start.startsWith('<status')) return 'xml';
  const lower = start.toLowerCase();
  if (lower.startsWith('<!doctype') || lower.startsWith('<html')) return 'html';
  if (start.startsWith('# HELP') || start.startsWith('# TYPE') || start.startsWith('phpfpm_')) {
    return 'openmetrics';
  }
  if (start.startsWith('pool:')) return 'text';
  return undefined;
}

/**
 * Detects the format of a status page: a specific Content-Type decides; otherwise (no type,
 * `text/plain`) the start of the body does.
 */
export function detectStatusFormat(
  body: string,
  contentType?: string | undefined,
): StatusFormat | undefined {
  const byType = contentType === undefined ? undefined : formatFromContentType(contentType);
  return byType ?? formatFromBody(body);
}

/** Known non-status bodies FPM answers with, and what they mean. */
export function explainNonStatusBody(body: string): string {
  const text = body.trim();
  if (text.startsWith('File not found.') || text.startsWith('No input file specified.')) {
    return "FPM ran the request as a PHP script: the path is not the pool's pm.status_path (set pm.status_path, or ask for the path it has)";
  }
  if (text.startsWith('Access denied.')) {
    return "FPM refused to run the path as a script (security.limit_extensions): the path is not the pool's pm.status_path";
  }
  if (text.startsWith('Internal error.')) {
    return 'FPM could not read its scoreboard (Status: 500); try again';
  }
  if (text === '') return 'the body is empty';
  return `it starts with ${JSON.stringify(text.slice(0, 40))}`;
}

/**
 * Parses an FPM status page in any of its five formats (`/status`, `?json`, `?xml`, `?html`,
 * `?openmetrics`, each with or without `full`) into one model. The same page in every format
 * gives the same numbers, except fields a format does not carry (OpenMetrics: processes, start
 * time). Throws `FpmkitParseError` when the body is not a status page.
 *
 * ```ts
 * const status = parseStatus(body, { contentType: 'application/json' });
 * status.acceptedConn; // 7
 * ```
 */
export function parseStatus(
  body: string | Uint8Array,
  options: ParseStatusOptions = {},
): FpmStatus {
  const text = typeof body === 'string' ? body : decoder.decode(body);
  if (options.format !== undefined && !STATUS_FORMATS.includes(options.format)) {
    throw new FpmkitInvalidOptionError('format', `must be one of ${STATUS_FORMATS.join(', ')}`);
  }
  const version =
    options.phpVersion === undefined ? undefined : parseFpmPhpVersion(options.phpVersion);
  const format = options.format ?? detectStatusFormat(text, options.contentType);
  if (format === undefined) {
    throw new FpmkitParseError(`not an FPM status page: ${explainNonStatusBody(text)}`, {
      source: 'status page',
    });
  }
  const formatOptions: ParseFormatOptions = {};
  if (options.listen !== undefined) formatOptions.listen = options.listen;
  if (options.now !== undefined) formatOptions.now = options.now;
  if (
    version !== undefined &&
    format === 'openmetrics' &&
    !FPM_VERSION_FACTS[version].statusOpenMetrics
  )
    throw new FpmkitParseError(
      `PHP ${version}'s status page has no openmetrics format (added in 8.1)`,
      { source: 'status page (openmetrics)' },
    );
  const status = PARSERS[format](text, formatOptions);
  if (version !== undefined) {
    const expected = FPM_VERSION_FACTS[version].statusMemoryPeak;
    if (expected !== (status.memoryPeakBytes !== undefined))
      throw new FpmkitParseError(
        expected
          ? `the status page has no memory peak, which PHP ${version}'s has in every format: a truncated page, or an older FPM's`
          : `the status page has a memory peak, which PHP ${version}'s has not (added in 8.4): a newer FPM's page`,
        { source: `status page (${format})` },
      );
  }
  return status;
}

/** The result of `safeParseStatus`. */
export type SafeParseStatusResult = SafeResult<FpmStatus, FpmkitParseError>;

/**
 * `parseStatus` that returns parse failures instead of throwing them, for exporters that must
 * keep going. Invalid options still throw `FpmkitInvalidOptionError`.
 */
export function safeParseStatus(
  body: string | Uint8Array,
  options: ParseStatusOptions = {},
): SafeParseStatusResult {
  try {
    return { success: true, data: parseStatus(body, options) };
  } catch (error) {
    if (error instanceof FpmkitParseError) return { success: false, error };
    throw error;
  }
}
