import { type MapContext, mapStatus, parseError } from './fields.js';
import type { FpmStatus } from './model.js';
import { STATUS_FIELD_KEYS } from './names.js';
import type { ParseFormatOptions } from './options.js';
import { mapContext } from './options.js';

/** Column where FPM's text values start: labels are padded with `%-22s`-style spacing. */
const VALUE_COLUMN = 22;

/** Labels FPM prints on the text page, lower-cased to the JSON key spelling. */
const KNOWN_LABELS = new Set<string>(STATUS_FIELD_KEYS);
const UNKNOWN_LABEL = /^[a-z][a-z ]*:( |$)/;
const SEPARATOR = /^\*+$/;

/**
 * Parses FPM's plain-text status page (`GET /status`, `/status?full`; `fpm_status.c`,
 * https://www.php.net/manual/en/fpm.status.php):
 *
 * ```
 * pool:                 www
 * start time:           21/Nov/2026:08:40:21 +0000
 * accepted conn:        5
 * ```
 *
 * With `full`, each worker follows a line of `*`. Values are raw (never escaped), so a line that
 * is not a field continues the previous value (a user name or URI holding a newline).
 */
export function parseStatusText(body: string, options: ParseFormatOptions = {}): FpmStatus {
  const ctx: MapContext = mapContext('text', 'text', options);
  const pool: Record<string, string> = {};
  const processes: Record<string, string>[] = [];
  let current: Record<string, string> = pool;
  let lastKey: string | undefined;
  let sawSeparator = false;
  for (const rawLine of body.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.charCodeAt(0) === 0x2a && SEPARATOR.test(line)) {
      sawSeparator = true;
      current = {};
      processes.push(current);
      lastKey = undefined;
      continue;
    }
    if (line === '') {
      lastKey = undefined;
      continue;
    }
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).toLowerCase() : '';
    if (KNOWN_LABELS.has(key)) {
      const padded =
        colon < VALUE_COLUMN &&
        line.length >= VALUE_COLUMN &&
        line.slice(colon + 1, VALUE_COLUMN).trim() === '';
      current[key] = padded ? line.slice(VALUE_COLUMN) : line.slice(colon + 1).trimStart();
      lastKey = key;
    } else if (UNKNOWN_LABEL.test(line)) {
      lastKey = undefined;
    } else if (lastKey !== undefined) {
      current[lastKey] += `\n${line}`;
    } else {
      throw parseError(ctx, `unexpected line ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  if (pool.pool === undefined) {
    throw parseError(ctx, "not an FPM text status page: no 'pool:' line");
  }
  const workers = sawSeparator ? processes.filter((p) => Object.keys(p).length > 0) : undefined;
  return mapStatus(pool, workers, ctx);
}
