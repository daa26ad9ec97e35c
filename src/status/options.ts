import type { MapContext } from './fields.js';
import type { StatusFormat } from './model.js';

/** Options every per-format parser accepts. */
export interface ParseFormatOptions {
  /**
   * The pool's `listen` address (`/run/php/www.sock`, `127.0.0.1:9000`) when known. A UNIX
   * path marks the listen-queue fields as not measured even on platforms where FPM would
   * otherwise look like it measured them.
   * @default undefined (decided from the page: measured when `listen queue len` > 0)
   */
  listen?: string | undefined;
  /**
   * Clock used to compute `startTime` for OpenMetrics pages, which carry only `start since`.
   * @default () => new Date()
   */
  now?: (() => Date) | undefined;
}

export function mapContext(
  format: StatusFormat,
  label: string,
  options: ParseFormatOptions,
): MapContext {
  return {
    format,
    source: `status page (${label})`,
    timeKind: format === 'text' || format === 'html' ? 'text' : 'epoch',
    listen: options.listen,
    now: options.now ?? (() => new Date()),
  };
}
