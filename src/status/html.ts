import { mapStatus, parseError } from './fields.js';
import type { FpmStatus } from './model.js';
import { mapContext, type ParseFormatOptions } from './options.js';

const TITLE = '<title>PHP-FPM Status Page</title>';
const HEADER_CELL = /<th>([^<]*)<\/th>/g;
const ROW_END = '</td></tr>';
const ENTITY = /&(amp|lt|gt|quot|#039|#39|apos);/g;
const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  '#039': "'",
  '#39': "'",
  apos: "'",
};

/**
 * Parses FPM's HTML status page (`GET /status?html`, `?html&full`; `fpm_status.c`), an XHTML
 * page with a two-column table for the pool and, with `full`, a second table, one row per worker:
 *
 * ```
 * <tr><th>pool</th><td>www</td></tr>
 * <tr><th>start time</th><td>21/Nov/2026:08:40:21 +0000</td></tr>
 * <tr><td>18424</td><td>Running</td><td>21/Nov/2026:08:40:21 +0000</td>...</tr>
 * ```
 *
 * Only the request URI is entity-escaped by FPM; pool, user and script are taken verbatim.
 */
export function parseStatusHtml(body: string, options: ParseFormatOptions = {}): FpmStatus {
  const ctx = mapContext('html', 'html', options);
  if (!body.includes(TITLE)) {
    const title = /<title>([^<]{0,120})<\/title>/i.exec(body)?.[1];
    throw parseError(
      ctx,
      `an HTML page that is not FPM's status page${title ? ` (title '${title}')` : ''}: the request did not reach pm.status_path; check the path and the web server's location for it`,
    );
  }
  const split = body.indexOf('<table border="1">');
  const head = split < 0 ? body : body.slice(0, split);
  // Rows are cut at each `<tr>` (one pass, linear on any input); a value runs to its row's end.
  const pool: Record<string, string> = {};
  for (const row of head.split('<tr>').slice(1)) {
    const labelEnd = row.indexOf('</th><td>');
    const end = row.lastIndexOf(ROW_END);
    if (!row.startsWith('<th>') || labelEnd < 0 || end < labelEnd) continue;
    pool[row.slice(4, labelEnd)] = row.slice(labelEnd + 9, end);
  }
  let processes: Record<string, string>[] | undefined;
  if (split >= 0) {
    const table = body.slice(split);
    const headerEnd = table.indexOf('</tr>');
    const columns = [...table.slice(0, Math.max(headerEnd, 0)).matchAll(HEADER_CELL)].map(
      (m) => m[1]!,
    );
    if (columns.length === 0) throw parseError(ctx, 'the process table has no header row');
    processes = [];
    for (const row of table.split('<tr>').slice(2)) {
      const end = row.lastIndexOf(ROW_END);
      if (!row.startsWith('<td>') || end < 0) {
        throw parseError(ctx, 'a process row is not <tr><td>...</td></tr>');
      }
      const cells = row.slice(4, end).split('</td><td>');
      if (cells.length !== columns.length) {
        throw parseError(
          ctx,
          `a process row has ${cells.length} cells for ${columns.length} columns`,
        );
      }
      const rec: Record<string, string> = {};
      for (let i = 0; i < columns.length; i++) {
        const column = columns[i]!;
        rec[column] = column === 'request uri' ? decodeEntities(cells[i]!) : cells[i]!;
      }
      processes.push(rec);
    }
  }
  return mapStatus(pool, processes, ctx);
}

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (_, name: string) => ENTITIES[name]!);
}
