/**
 * Reads nginx and Apache configurations from the file system: the injected `readFile` and
 * `glob` of the pure parsers, backed by bounded regular-file reads and a `glob(3)`-like walk.
 */
import { readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import {
  type ApacheConfigPayload,
  type ApacheDirEntry,
  type ParseApacheConfigOptions,
  parseApacheConfig,
} from '../web/apache-config-parser.js';
import { matchGlobComponent, sortByBytes } from '../web/nginx-config-glob.js';
import {
  type NginxConfigPayload,
  type ParseNginxConfigOptions,
  parseNginxConfig,
} from '../web/nginx-config-parser.js';
import { type RegularFileReadOptions, readRegularFileSync } from './safe-read.js';

const MAGIC = /[*?[]/;

/**
 * Expands a wildcard pattern as `glob(pattern, 0, ...)` does for nginx: `*`, `?` and `[...]`
 * within one path component, names starting with `.` only when the pattern component does,
 * directories that cannot be read skipped, and the matches sorted by bytes (the C locale).
 * A pattern without wildcards is returned when the path exists. Relative patterns are taken
 * from the working directory.
 */
export function globConfigPaths(pattern: string): string[] {
  if (!MAGIC.test(pattern)) {
    try {
      statSync(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const absolute = pattern.startsWith('/');
  const parts = pattern.split('/').filter((p) => p !== '');
  let found: string[] = [absolute ? '/' : '.'];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of found) {
      if (!MAGIC.test(part)) {
        next.push(posix.join(base, part.replace(/\\(.)/gsu, '$1')));
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      for (const name of names)
        if (matchGlobComponent(part, name)) next.push(posix.join(base, name));
    }
    found = next;
  }
  const existing = found.filter((p) => {
    try {
      statSync(p);
      return true;
    } catch {
      return false;
    }
  });
  return sortByBytes(
    absolute ? existing : existing.map((p) => (p.startsWith('./') ? p.slice(2) : p)),
  );
}

/** Options of `readNginxConfigFile`. */
export interface ReadNginxConfigFileOptions
  extends Omit<ParseNginxConfigOptions, 'readFile' | 'glob'> {
  /**
   * How each file is read: size bound, symbolic-link policy, trusted owners.
   * @default { symlinks: 'follow' } (Debian's sites-enabled/ holds links into sites-available/)
   */
  read?: RegularFileReadOptions | undefined;
}

/**
 * Reads an nginx configuration from disk with every file it includes, each as a bounded
 * regular file (no FIFO, device or oversized file), and parses it into crossplane's payload.
 * Throws `FpmkitIoError` when the main file cannot be read and `FpmkitParseError` (file and
 * line) for syntax errors and unreadable includes.
 */
export function readNginxConfigFile(
  path: string,
  options: ReadNginxConfigFileOptions = {},
): NginxConfigPayload {
  const { read, ...parse } = options;
  const readOptions: RegularFileReadOptions = { symlinks: 'follow', ...read };
  return parseNginxConfig(
    { path },
    { ...parse, readFile: (p) => readRegularFileSync(p, readOptions), glob: globConfigPaths },
  );
}

/** Lists a directory for the Apache reader: undefined when `path` is not a directory. */
export function listConfigDirectory(path: string): ApacheDirEntry[] | undefined {
  try {
    if (!statSync(path).isDirectory()) return undefined;
    return readdirSync(path).map((name) => {
      let isDirectory = false;
      try {
        isDirectory = statSync(posix.join(path, name)).isDirectory();
      } catch {}
      return { name, isDirectory };
    });
  } catch {
    return undefined;
  }
}

/** Options of `readApacheConfigFile`. */
export interface ReadApacheConfigFileOptions
  extends Omit<ParseApacheConfigOptions, 'readFile' | 'readDir'> {
  /** How each file is read. @default { symlinks: 'follow' } (Debian's *-enabled/ hold links) */
  read?: RegularFileReadOptions | undefined;
}

/**
 * Reads an Apache configuration from disk with every file it includes, each as a bounded
 * regular file, and parses it (`parseApacheConfig`). Throws `FpmkitIoError` when the main file
 * cannot be read and `FpmkitParseError` (file and line) for syntax errors and failed includes.
 */
export function readApacheConfigFile(
  path: string,
  options: ReadApacheConfigFileOptions = {},
): ApacheConfigPayload {
  const { read, ...parse } = options;
  const readOptions: RegularFileReadOptions = { symlinks: 'follow', ...read };
  return parseApacheConfig(
    { path },
    {
      ...parse,
      readFile: (p) => readRegularFileSync(p, readOptions),
      readDir: listConfigDirectory,
    },
  );
}
