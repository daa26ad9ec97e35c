/**
 * Where a time window starts in a log file, found from the end without reading the file: a
 * binary search over byte offsets, reading one small block at each probe. Log lines are written
 * in time order, so "the first line at or after `since`" is a boundary the search can find.
 */
import type { FileHandle } from 'node:fs/promises';
import { logLineTime } from '../logs/line-time.js';

/** Bytes read at each probe: several lines of any log. */
const PROBE_BYTES = 8 * 1024;
/** Probes read further, up to this, to find a line with a time (a slowlog's stack frames have none). */
const MAX_PROBE_BYTES = 256 * 1024;

/**
 * The time of the first line that starts at or after `offset` and has a leading time, with that
 * line's offset; undefined when none does before the end of the file (or within the bound).
 */
async function firstTimedLine(
  handle: FileHandle,
  offset: number,
  size: number,
  utcOffsetMinutes: number,
): Promise<{ at: number; date: Date } | undefined> {
  // Read from the byte before: a line starting exactly at offset follows a newline there.
  const base = offset > 0 ? offset - 1 : 0;
  let want = PROBE_BYTES;
  for (;;) {
    const length = Math.min(want, size - base);
    if (length <= 0 || offset >= size) return undefined;
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, base);
    const text = buffer.subarray(0, bytesRead).toString('latin1');
    // Skip the partial line the probe landed in, unless it starts the file.
    let start = offset === 0 ? 0 : text.indexOf('\n') + 1;
    if (offset > 0 && start === 0) start = -1;
    while (start >= 0 && start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl < 0 && base + bytesRead < size) break;
      const line = text.slice(start, nl < 0 ? text.length : nl);
      const date = logLineTime(line, utcOffsetMinutes);
      if (date !== undefined) return { at: base + start, date };
      start = nl < 0 ? -1 : nl + 1;
    }
    if (base + bytesRead >= size || want >= MAX_PROBE_BYTES) return undefined;
    want *= 4;
  }
}

/**
 * The byte offset where the lines at or after `since` begin, searched in `[floor, size)`:
 * `size` when every line there is older, `floor` when the first is already inside the window.
 */
export async function windowStart(
  handle: FileHandle,
  size: number,
  floor: number,
  since: Date,
  utcOffsetMinutes: number,
): Promise<number> {
  const wanted = since.getTime();
  const inWindow = (p: { date: Date } | undefined) => p === undefined || p.date.getTime() >= wanted;
  // The smallest offset whose first timed line is in the window (none counts as in it).
  let lo = floor;
  let hi = size;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (inWindow(await firstTimedLine(handle, mid, size, utcOffsetMinutes))) hi = mid;
    else lo = mid + 1;
  }
  return (await firstTimedLine(handle, lo, size, utcOffsetMinutes))?.at ?? size;
}
