import { type ListenAddress, parseListen } from '../fpm/listen.js';
import { openRegularFile, readFileRange } from '../host/safe-read.js';
import { parseNginxErrorLog } from '../logs/nginx-error-log.js';

/** Defaults of `NginxErrorTail`. */
export const NGINX_ERROR_TAIL_DEFAULTS = {
  /** Most bytes read per collection; when more were appended, the older part is skipped. */
  maxBytesPerRead: 1024 * 1024,
  /** Most upstream addresses remembered (the counters of a host's pools, with room to spare). */
  maxUpstreams: 10_000,
} as const;

/** Counts of one upstream address since the tail started. */
export interface NginxUpstreamCounts {
  /** `connect() ... failed (11: Resource temporarily unavailable)`: the accept queue was full. */
  eagain: number;
  /** `upstream timed out (110: ...)` while connecting, sending or reading. */
  timedOut: number;
}

/** The upstream named by an error line, as a key: `unix:PATH` or `tcp:HOST:PORT`. */
function upstreamKey(
  upstream: string | undefined,
  socketPath: string | undefined,
): string | undefined {
  if (socketPath !== undefined) return `unix:${socketPath}`;
  if (upstream === undefined) return undefined;
  const m = /^[a-z]+:\/\/(.*)$/.exec(upstream);
  const rest = m ? m[1]! : upstream;
  if (rest.startsWith('unix:')) return `unix:${rest.slice(5).replace(/:$/, '')}`;
  const tcp = /^\[?([^\]]*?)\]?:(\d+)(?:\/.*)?$/.exec(rest);
  return tcp ? `tcp:${tcp[1]}:${tcp[2]}` : undefined;
}

/** Whether an upstream key names the pool listening on `address`. */
function matches(key: string, address: ListenAddress): boolean {
  if (address.kind === 'unix') return key === `unix:${address.path}`;
  if (!key.startsWith('tcp:')) return false;
  const at = key.lastIndexOf(':');
  if (Number(key.slice(at + 1)) !== address.port) return false;
  const host = key.slice(4, at);
  if (address.wildcard) return true;
  const mine = address.host ?? '';
  return host === mine || (mine === 'localhost' && (host === '127.0.0.1' || host === '::1'));
}

/**
 * Follows an nginx error log from where it ended when the tail started, and counts per
 * upstream address the lines that say the pool's accept queue was full (EAGAIN) or that it
 * timed out. Each `read()` reads only what was appended since the last one (at most
 * `maxBytesPerRead`), and starts the file over when it was rotated (another inode) or
 * truncated. Only lines containing `upstream` are parsed.
 */
export class NginxErrorTail {
  readonly #path: string;
  readonly #maxBytes: number;
  #position: { ino: number; offset: number } | undefined;
  #pending = '';
  readonly #counts = new Map<string, NginxUpstreamCounts>();
  /** Bytes skipped because more than `maxBytesPerRead` arrived between two reads. */
  skippedBytes = 0;

  constructor(path: string, maxBytesPerRead: number = NGINX_ERROR_TAIL_DEFAULTS.maxBytesPerRead) {
    this.#path = path;
    this.#maxBytes = maxBytesPerRead;
  }

  /** Reads what was appended; throws `FpmkitIoError` when the log cannot be opened. */
  async read(): Promise<void> {
    const { handle, stats } = await openRegularFile(this.#path, {});
    try {
      const ino = Number(stats.ino);
      const size = stats.size;
      if (this.#position === undefined) {
        // The first read only marks the end: counts start at 0 with the exporter.
        this.#position = { ino, offset: size };
        return;
      }
      if (this.#position.ino !== ino || size < this.#position.offset) {
        this.#position = { ino, offset: 0 };
        this.#pending = '';
      }
      let start = this.#position.offset;
      if (size - start > this.#maxBytes) {
        this.skippedBytes += size - this.#maxBytes - start;
        start = size - this.#maxBytes;
        this.#pending = '';
      }
      const length = size - start;
      if (length <= 0) return;
      const bytes = await readFileRange(handle, start, length);
      this.#position.offset = start + bytes.length;
      const text = this.#pending + bytes.toString('utf8');
      const nl = text.lastIndexOf('\n');
      this.#pending = nl < 0 ? text : text.slice(nl + 1);
      if (this.#pending.length > 64 * 1024) this.#pending = '';
      if (nl >= 0) this.#count(text.slice(0, nl));
    } finally {
      await handle.close();
    }
  }

  #count(text: string): void {
    const lines = text.split('\n').filter((l) => l.includes('upstream'));
    if (lines.length === 0) return;
    for (const record of parseNginxErrorLog(lines.join('\n'))) {
      if (record.kind !== 'entry' || record.event.kind !== 'upstream_error') continue;
      const cls = record.event.class;
      const eagain = cls === 'backlog_full';
      const timedOut =
        cls === 'connect_timeout' || cls === 'send_timeout' || cls === 'read_timeout';
      if (!eagain && !timedOut) continue;
      const key = upstreamKey(record.upstream, record.event.socketPath);
      if (key === undefined) continue;
      let counts = this.#counts.get(key);
      if (!counts) {
        if (this.#counts.size >= NGINX_ERROR_TAIL_DEFAULTS.maxUpstreams) continue;
        counts = { eagain: 0, timedOut: 0 };
        this.#counts.set(key, counts);
      }
      if (eagain) counts.eagain++;
      else counts.timedOut++;
    }
  }

  /** The counts of the pool listening on `listen` (every upstream address that names it). */
  countsFor(listen: string): NginxUpstreamCounts {
    const out = { eagain: 0, timedOut: 0 };
    let address: ListenAddress;
    try {
      address = parseListen(listen);
    } catch {
      return out;
    }
    for (const [key, c] of this.#counts) {
      if (!matches(key, address)) continue;
      out.eagain += c.eagain;
      out.timedOut += c.timedOut;
    }
    return out;
  }
}
