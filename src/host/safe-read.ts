import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  type Stats,
} from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { FpmkitIoError } from '../errors.js';

/**
 * The most a configuration file may hold: 16 MiB. Debian's stock php-fpm.conf with its pool is
 * about 24 KiB; a file a thousand times larger is a mistake or an attack (`/dev/zero`).
 */
export const MAX_CONFIG_FILE_BYTES = 16 * 1024 * 1024;

/** What a bounded read does with a symbolic link at the final component of the path. */
export type SymlinkPolicy =
  /** Follow it, as `open(2)` does. */
  | 'follow'
  /** Follow it only when the link and its target have the same owner (Apache's SymLinksIfOwnerMatch). */
  | 'owner-match'
  /** Refuse it. */
  | 'refuse';

/** Options of `readRegularFileSync` and `readRegularFile`. */
export interface RegularFileReadOptions {
  /** Refuse files larger than this many bytes. @default MAX_CONFIG_FILE_BYTES (16 MiB) */
  maxBytes?: number | undefined;
  /** What to do when the path is a symbolic link. @default 'owner-match' */
  symlinks?: SymlinkPolicy | undefined;
  /**
   * Accept only files owned by one of these user ids (e.g. `[0, process.getuid()]` for a file
   * that root trusts). @default any owner
   */
  owners?: readonly number[] | undefined;
  /**
   * Refuse a file its group or other users may write (mode bits 020 or 002), for a file whose
   * content decides what fpmkit changes. @default false
   */
  refuseSharedWrite?: boolean | undefined;
}

// O_NONBLOCK: opening a FIFO for reading must not wait for a writer; the fstat that follows
// refuses it. O_NOCTTY: a terminal device named as a config file must not become ours.
const BASE_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  if (stats.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

interface Checked {
  flags: number;
  linkOwner: number | undefined;
  maxBytes: number;
}

function resolveOptions(options: RegularFileReadOptions): {
  maxBytes: number;
  symlinks: SymlinkPolicy;
} {
  return {
    maxBytes: options.maxBytes ?? MAX_CONFIG_FILE_BYTES,
    symlinks: options.symlinks ?? 'owner-match',
  };
}

function prepare(path: string, link: Stats | undefined, options: RegularFileReadOptions): Checked {
  const { maxBytes, symlinks } = resolveOptions(options);
  const isLink = link?.isSymbolicLink() === true;
  if (isLink && symlinks === 'refuse') {
    throw new FpmkitIoError(path, 'is a symbolic link, which is refused here', { errno: 'ELOOP' });
  }
  const follow = symlinks !== 'refuse' && isLink;
  return {
    flags: BASE_FLAGS | (follow ? 0 : constants.O_NOFOLLOW),
    linkOwner: isLink && symlinks === 'owner-match' ? link.uid : undefined,
    maxBytes,
  };
}

function checkOpened(
  path: string,
  stats: Stats,
  checked: Checked,
  options: RegularFileReadOptions,
): void {
  if (!stats.isFile()) {
    throw new FpmkitIoError(path, `is ${kindOf(stats)}, not a regular file`, { errno: 'EINVAL' });
  }
  if (checked.linkOwner !== undefined && checked.linkOwner !== stats.uid) {
    throw new FpmkitIoError(
      path,
      `is a symbolic link owned by uid ${checked.linkOwner} to a file owned by uid ${stats.uid}; links are followed only when both have the same owner`,
      { errno: 'ELOOP' },
    );
  }
  if (options.owners !== undefined && !options.owners.includes(stats.uid)) {
    throw new FpmkitIoError(
      path,
      `is owned by uid ${stats.uid}, which is not trusted here (trusted: ${options.owners.join(', ')})`,
      { errno: 'EPERM' },
    );
  }
  if (options.refuseSharedWrite === true && (stats.mode & 0o022) !== 0) {
    throw new FpmkitIoError(
      path,
      `is writable by ${(stats.mode & 0o002) !== 0 ? 'every user' : 'its group'} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')}), so it is not trusted here`,
      { errno: 'EPERM' },
    );
  }
  if (stats.size > checked.maxBytes) {
    throw tooLarge(path, checked.maxBytes);
  }
}

function tooLarge(path: string, maxBytes: number): FpmkitIoError {
  return new FpmkitIoError(path, `is larger than the limit of ${maxBytes} bytes`, {
    errno: 'EFBIG',
  });
}

function lstatQuietlySync(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined; // the open below reports the real error
  }
}

function readFailure(path: string, error: unknown): FpmkitIoError {
  const errno = errnoOf(error);
  return new FpmkitIoError(path, `cannot read file (${errno})`, { cause: error, errno });
}

/** The chunks of a bounded read: one more byte than the bound is asked for, to notice excess. */
class BoundedChunks {
  readonly #chunks: Buffer[] = [];
  #total = 0;

  constructor(
    readonly path: string,
    readonly maxBytes: number,
  ) {}

  /** A buffer for the next read. */
  next(): Buffer {
    return Buffer.allocUnsafe(Math.min(64 * 1024, this.maxBytes + 1 - this.#total));
  }

  /** Keeps `n` bytes of `chunk`; false at end of file. Throws past the bound. */
  add(chunk: Buffer, n: number): boolean {
    if (n === 0) return false;
    this.#total += n;
    if (this.#total > this.maxBytes) throw tooLarge(this.path, this.maxBytes);
    this.#chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    return true;
  }

  text(): string {
    return Buffer.concat(this.#chunks, this.#total).toString('utf8');
  }
}

/**
 * Reads a whole regular file as UTF-8, bounded in size, without blocking on a FIFO or a device,
 * and with symbolic links handled as `symlinks` says. Every refusal is an `FpmkitIoError` with
 * the path and an errno-like code: `EINVAL` (not a regular file), `EFBIG` (too large), `ELOOP`
 * (a refused link), `EPERM` (an untrusted owner), or the system's own code.
 */
export function readRegularFileSync(path: string, options: RegularFileReadOptions = {}): string {
  const checked = prepare(path, lstatQuietlySync(path), options);
  let fd: number;
  try {
    fd = openSync(path, checked.flags);
  } catch (error) {
    throw readFailure(path, error);
  }
  try {
    checkOpened(path, fstatSync(fd), checked, options);
    const chunks = new BoundedChunks(path, checked.maxBytes);
    for (;;) {
      const chunk = chunks.next();
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        throw readFailure(path, error);
      }
      if (!chunks.add(chunk, n)) return chunks.text();
    }
  } finally {
    closeSync(fd);
  }
}

/** The promise form of `readRegularFileSync`, with the same checks and errors. */
export async function readRegularFile(
  path: string,
  options: RegularFileReadOptions = {},
): Promise<string> {
  const { maxBytes } = resolveOptions(options);
  const { handle, stats } = await openRegularFile(path, options);
  try {
    if (stats.size > maxBytes) throw tooLarge(path, maxBytes);
    const chunks = new BoundedChunks(path, maxBytes);
    for (;;) {
      const chunk = chunks.next();
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(chunk, 0, chunk.length, null));
      } catch (error) {
        throw readFailure(path, error);
      }
      if (!chunks.add(chunk, bytesRead)) return chunks.text();
    }
  } finally {
    await handle.close();
  }
}

/**
 * Opens a path for reading with the checks of `readRegularFile` (a regular file, never a FIFO
 * or device, links as `symlinks` says, owners as `owners` says), for callers that read part of
 * a file themselves, such as the last window of a log. `maxBytes` is not applied: the caller
 * bounds what it reads. The caller closes the handle.
 */
export async function openRegularFile(
  path: string,
  options: Omit<RegularFileReadOptions, 'maxBytes'> = {},
): Promise<{ handle: Awaited<ReturnType<typeof open>>; stats: Stats }> {
  const link = await lstat(path).catch(() => undefined);
  const checked = prepare(path, link, options);
  checked.maxBytes = Number.POSITIVE_INFINITY;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, checked.flags);
  } catch (error) {
    throw readFailure(path, error);
  }
  try {
    const stats = await handle.stat();
    checkOpened(path, stats, checked, options);
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Reads `length` bytes of an open file from `start`, stopping early at end of file: the bytes
 * read (fewer than `length` when the file was shorter).
 */
export async function readFileRange(
  handle: Awaited<ReturnType<typeof open>>,
  start: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const r = await handle.read(buffer, read, length - read, start + read);
    if (r.bytesRead === 0) break;
    read += r.bytesRead;
  }
  return buffer.subarray(0, read);
}
