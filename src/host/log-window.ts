/**
 * Where a time window starts in a log file, found from the end without reading the file: a
 * binary search over byte offsets, reading one small block at each probe. Log lines are written
 * in time order, so "the first line at or after `since`" is a boundary the search can find.
 */
import type { FileHandle } from 'node:fs/promises';
import { logLineTime } from '../logs/line-time.js';

/** Bytes read at each probe first: several lines of any log. */
const PROBE_BYTES = 8 * 1024;
/** The largest block one read takes; a probe reads on in blocks of this size. */
const MAX_PROBE_BYTES = 256 * 1024;
/**
 * How far a probe reads past its offset for a line with a time (a slowlog's stack frames have
 * none) before the search gives up on bisecting and the window starts at the byte floor.
 */
const MAX_SCAN_BYTES = 32 * 1024 * 1024;

/** A probe that read `MAX_SCAN_BYTES` without finding a line with a time. */
const UNBOUNDED = Symbol('unbounded');

/**
 * The time of the first line that starts at or after `offset` and has a leading time, with that
 * line's offset; undefined when none does before the end of the file, `UNBOUNDED` when none
 * does within `MAX_SCAN_BYTES`.
 */
async function firstTimedLine(
  handle: FileHandle,
  offset: number,
  size: number,
  utcOffsetMinutes: number,
): Promise<{ at: number; date: Date } | undefined | typeof UNBOUNDED> {
  // Read from the byte before: a line starting exactly at offset follows a newline there.
  let pos = offset > 0 ? offset - 1 : 0;
  // Whether the text at pos is the tail of a line that started before (to be skipped).
  let partial = offset > 0;
  let want = PROBE_BYTES;
  for (;;) {
    const length = Math.min(want, size - pos);
    if (length <= 0 || offset >= size) return undefined;
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, pos);
    if (bytesRead === 0) return undefined;
    const text = buffer.subarray(0, bytesRead).toString('latin1');
    const atEnd = pos + bytesRead >= size;
    let start = 0;
    if (partial) {
      const nl = text.indexOf('\n');
      start = nl < 0 ? text.length : nl + 1;
      partial = nl < 0;
    }
    let next = start;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      if (nl < 0 && !atEnd) {
        // A line running past the block: its start is enough to read a leading time.
        const date = logLineTime(text.slice(start), utcOffsetMinutes);
        if (date !== undefined) return { at: pos + start, date };
        break;
      }
      const line = text.slice(start, nl < 0 ? text.length : nl);
      const date = logLineTime(line, utcOffsetMinutes);
      if (date !== undefined) return { at: pos + start, date };
      start = nl < 0 ? text.length : nl + 1;
      next = start;
    }
    if (atEnd) return undefined;
    if (next === 0 || partial) {
      // No line ends in the block: skip the rest of the one it is in.
      pos += bytesRead;
      partial = true;
    } else pos += next;
    if (pos - offset > MAX_SCAN_BYTES) return UNBOUNDED;
    want = Math.min(want * 4, MAX_PROBE_BYTES);
  }
}

/**
 * The byte offset where the lines at or after `since` begin, searched in `[floor, size)`:
 * `size` when every line there is older, `floor` when the first is already inside the window.
 * A probe in a run of lines without a time reads on to the next line with one, so the run
 * takes the time of the line after it; a run longer than `MAX_SCAN_BYTES` ends the search at
 * `floor` (the caller then reads from the floor: more lines, never fewer).
 */
export async function windowStart(
  handle: FileHandle,
  size: number,
  floor: number,
  since: Date,
  utcOffsetMinutes: number,
): Promise<number> {
  const wanted = since.getTime();
  // The smallest offset whose first timed line is in the window (none after it counts as in it).
  let lo = floor;
  let hi = size;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const probe = await firstTimedLine(handle, mid, size, utcOffsetMinutes);
    if (probe === UNBOUNDED) return floor;
    if (probe === undefined || probe.date.getTime() >= wanted) hi = mid;
    else lo = mid + 1;
  }
  const first = await firstTimedLine(handle, lo, size, utcOffsetMinutes);
  if (first === UNBOUNDED) return floor;
  return first?.at ?? size;
}
