import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { FpmkitIoError } from '../errors.js';

/** Where the readers look for the proc and sys file systems. */
export interface ReadOptions {
  /** Mount point of procfs; point it at a fixture tree in tests. @default '/proc' */
  procRoot?: string | undefined;
  /** Mount point of sysfs. @default '/sys' */
  sysRoot?: string | undefined;
}

/** Mount point of procfs read by the host readers. @default '/proc' */
export const DEFAULT_PROC_ROOT = '/proc';
/** Mount point of sysfs read by the host readers. @default '/sys' */
export const DEFAULT_SYS_ROOT = '/sys';

export function roots(options: ReadOptions = {}): { procRoot: string; sysRoot: string } {
  return {
    procRoot: options.procRoot ?? DEFAULT_PROC_ROOT,
    sysRoot: options.sysRoot ?? DEFAULT_SYS_ROOT,
  };
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A bounded reader's `FpmkitIoError` said again for what the file was for: `cannot open log
 * (ENOENT)`, keeping the reader's detail (a FIFO, a wrong owner) after a colon, and the errno.
 */
export function ioErrorFor(path: string, error: unknown, what: string): FpmkitIoError {
  const io = error as FpmkitIoError;
  const errno = io.errno ?? 'EIO';
  const detail = io.message.startsWith(`${path}: cannot read file`)
    ? ''
    : `: ${io.message.slice(path.length + 2)}`;
  return new FpmkitIoError(path, `${what} (${errno})${detail}`, { cause: error, errno });
}

function ioError(path: string, error: unknown): FpmkitIoError {
  const errno = errnoOf(error);
  return new FpmkitIoError(path, (error as Error)?.message ?? String(error), {
    cause: error,
    ...(errno === undefined ? {} : { errno }),
  });
}

/**
 * Reads a whole file as UTF-8. /proc files report a size of 0, so a reader that trusts the
 * size, or reads one fixed buffer, stops early; `readFile` reads until end of file.
 */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw ioError(path, error);
  }
}

/**
 * `readText` in one synchronous call, for small pseudo-files the kernel generates in memory
 * (/proc/net/unix, /proc/net/netstat): no disk is touched, and one blocking read costs a
 * fraction of the four thread-pool round trips (open, stat, read, close) of the promise API on
 * a busy host. Not for /proc/net/tcp, whose generation walks the kernel's whole connection
 * hash table.
 */
export function readPseudoFileSync(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw ioError(path, error);
  }
}

/** Buffer a {@link PseudoFileReader} starts with and shrinks back to after a larger file. */
const PSEUDO_FILE_BUFFER_BYTES = 16 * 1024;
const PSEUDO_FILE_KEEP_BYTES = 1024 * 1024;

/**
 * Reads one procfs pseudo-file again and again through one open descriptor: a positioned read
 * from offset 0 makes the kernel generate the file anew, so every call sees its current
 * content, without the open, stat and close `readPseudoFileSync` adds (more than half the cost
 * of reading /proc/net/netstat). For procfs only: a regular file replaced by a rename would go
 * on being read through the old descriptor. After an error the descriptor is closed and the
 * next call opens the path again; `close()` releases it.
 */
export class PseudoFileReader {
  readonly path: string;
  #fd: number | undefined;
  #buffer = Buffer.allocUnsafe(PSEUDO_FILE_BUFFER_BYTES);

  constructor(path: string) {
    this.path = path;
  }

  /** The whole file as UTF-8; throws `FpmkitIoError` when it cannot be read. */
  read(): string {
    try {
      this.#fd ??= openSync(this.path, 'r');
      let length = 0;
      for (;;) {
        if (length === this.#buffer.length) {
          const bigger = Buffer.allocUnsafe(this.#buffer.length * 2);
          this.#buffer.copy(bigger, 0, 0, length);
          this.#buffer = bigger;
        }
        const n = readSync(this.#fd, this.#buffer, length, this.#buffer.length - length, length);
        if (n === 0) break;
        length += n;
      }
      const text = this.#buffer.toString('utf8', 0, length);
      if (this.#buffer.length > PSEUDO_FILE_KEEP_BYTES)
        this.#buffer = Buffer.allocUnsafe(PSEUDO_FILE_BUFFER_BYTES);
      return text;
    } catch (error) {
      this.close();
      throw ioError(this.path, error);
    }
  }

  /** Closes the descriptor, if open; a later `read` opens it again. */
  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {}
    this.#fd = undefined;
  }
}

/** Errors meaning "this file is not there (any more)", e.g. a process that exited. */
const GONE = new Set(['ENOENT', 'ESRCH', 'ENOTDIR']);

/** Like `readText`, but undefined when the file does not exist (or its process is gone). */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (GONE.has(errnoOf(error) ?? '')) return undefined;
    throw ioError(path, error);
  }
}

/** Reads a whole file (cmdline is read as latin1, since it may hold any byte); undefined when gone or unreadable. */
export async function readTextQuietly(
  path: string,
  encoding: BufferEncoding = 'utf8',
): Promise<string | undefined> {
  try {
    return await readFile(path, encoding);
  } catch {
    return undefined;
  }
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    throw ioError(path, error);
  }
}

export async function listDirQuietly(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

export async function readLinkQuietly(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}
