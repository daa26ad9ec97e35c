import { lines, parseDecimal, parseError } from './internal.js';
import type { ProcPidStatus } from './schemas.js';

export type { ProcPidStatus } from './schemas.js';

const SOURCE = '/proc/PID/status';

function kib(fields: Record<string, string>, key: string): number | undefined {
  const m = /^(\d+)\s+kB$/.exec(fields[key] ?? '');
  return m ? Number(m[1]) * 1024 : undefined;
}

/**
 * Parses `/proc/PID/status` (https://man7.org/linux/man-pages/man5/proc_pid_status.5.html):
 *
 * ```text
 * Name:	php-fpm8.2
 * PPid:	21976
 * VmRSS:	   22400 kB
 * ```
 */
export function parseProcPidStatus(text: string): ProcPidStatus {
  const fields: Record<string, string> = {};
  const all = lines(text);
  for (let i = 0; i < all.length; i++) {
    const lineText = all[i]!;
    if (lineText.trim() === '') continue;
    const colon = lineText.indexOf(':');
    if (colon <= 0) throw parseError(SOURCE, "expected 'Name:\tvalue'", i + 1, lineText);
    Object.defineProperty(fields, lineText.slice(0, colon), {
      value: lineText.slice(colon + 1).trim(),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const pid = parseDecimal(fields.Pid ?? '');
  const ppid = parseDecimal(fields.PPid ?? '');
  if (fields.Name === undefined || pid === undefined || ppid === undefined) {
    throw parseError(SOURCE, 'Name, Pid or PPid is missing or malformed');
  }
  const out: ProcPidStatus = { name: fields.Name, pid, ppid, fields };
  if (fields.Uid !== undefined) {
    const uids = fields.Uid.split(/\s+/).map((u) => parseDecimal(u));
    if (uids.every((u) => u !== undefined)) out.uids = uids as number[];
  }
  const threads = parseDecimal(fields.Threads ?? '');
  if (threads !== undefined) out.threads = threads;
  const named = [
    ['rssBytes', 'VmRSS'],
    ['rssAnonBytes', 'RssAnon'],
    ['rssFileBytes', 'RssFile'],
    ['rssShmemBytes', 'RssShmem'],
    ['peakRssBytes', 'VmHWM'],
  ] as const;
  for (const [name, key] of named) {
    const v = kib(fields, key);
    if (v !== undefined) out[name] = v;
  }
  return out;
}
