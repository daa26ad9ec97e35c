import { readFileSync } from 'node:fs';
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
