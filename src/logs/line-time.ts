/**
 * The time a log line starts with, for finding where a time window begins in a file: nginx's
 * error log (`2026/11/21 08:47:32 [error] ...`) and FPM's error log and slowlog
 * (`[21-Nov-2026 08:47:32] NOTICE: ...`, optionally with microseconds). Lines without a leading
 * time (a slowlog's stack frames, a continuation) give undefined.
 */
import { localTimeToDate, makeLocalTime, monthNumber } from './common.js';

const NGINX = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2}) /;
const FPM = /^\[(\d{1,2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?\]/;

/** The instant `line`'s leading time names, read `utcOffsetMinutes` east of UTC. */
export function logLineTime(line: string, utcOffsetMinutes: number): Date | undefined {
  const n = NGINX.exec(line);
  const f = n ? undefined : FPM.exec(line);
  const m = n ?? f;
  if (!m) return undefined;
  const num = (i: number) => Number(m[i]);
  const time = n
    ? makeLocalTime(num(1), num(2), num(3), num(4), num(5), num(6), 0)
    : makeLocalTime(num(3), monthNumber(m[2]!) ?? 0, num(1), num(4), num(5), num(6), 0);
  return time === undefined ? undefined : localTimeToDate(time, utcOffsetMinutes * 60_000);
}
