import { accessSync, constants, readdirSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { FpmkitIoError } from '../errors.js';
import {
  type CheckFpmConfigOptions,
  type CheckFpmConfigResult,
  checkFpmConfig,
  type FpmSystem,
} from '../fpm/check.js';
import { globComponentSource } from '../fpm/locate.js';
import {
  type ParseFpmConfigOptions,
  type ParseFpmConfigResult,
  parseFpmConfig,
} from '../fpm/parse.js';
import { MAX_CONFIG_FILE_BYTES, readRegularFileSync } from './safe-read.js';

const WILDCARD = /[*?[]/;

/** Translates one glob(3) path component into a regular expression (`*`, `?`, `[...]`). */
function componentRegExp(component: string): RegExp {
  return new RegExp(`^${globComponentSource(component)}$`);
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Expands an include pattern as FPM's `glob(pattern, GLOB_ERR | GLOB_MARK)` does: sorted
 * matches, directories marked with a trailing `/`, names starting with a dot matched only by a
 * pattern that starts with a dot. A directory that cannot be read throws (FPM: "Unable to
 * globalize"); no match returns `[]` (FPM: a warning).
 */
export function globFpmInclude(pattern: string): string[] {
  if (!WILDCARD.test(pattern)) {
    try {
      const st = statSync(pattern);
      return [st.isDirectory() ? `${pattern}/` : pattern];
    } catch {
      return [];
    }
  }
  const absolute = pattern.startsWith('/');
  const parts = pattern.split('/').filter((p, i) => p !== '' || i === 0);
  let bases = [absolute ? '' : '.'];
  let wildcardSeen = false;
  for (const [i, part] of parts.entries()) {
    if (i === 0 && absolute) continue;
    const last = i === parts.length - 1;
    const next: string[] = [];
    for (const base of bases) {
      const dir = base === '' ? '/' : base;
      if (!WILDCARD.test(part)) {
        next.push(base === '.' && !absolute ? part : `${base}/${part}`);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch (error) {
        // glob(3) with GLOB_ERR aborts on a directory it cannot open, a missing one included;
        // only a path through a file (ENOTDIR) is no match.
        const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
        if (code === 'ENOTDIR') continue;
        throw new FpmkitIoError(dir, `cannot read directory for include pattern '${pattern}'`, {
          cause: error,
          errno: code,
        });
      }
      const re = componentRegExp(part);
      for (const name of names) {
        if (name.startsWith('.') && !part.startsWith('.')) continue;
        if (re.test(name)) next.push(base === '.' && !absolute ? name : `${base}/${name}`);
      }
    }
    // The literal directories before the first wildcard are opened as written (a missing one
    // aborts the glob); later ones are kept only when they exist.
    if (WILDCARD.test(part)) wildcardSeen = true;
    bases = last || !wildcardSeen ? next : next.filter(isDir);
  }
  return bases
    .filter((p) => {
      try {
        statSync(p);
        return true;
      } catch {
        return false;
      }
    })
    .map((p) => (isDir(p) ? `${p}/` : p))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Reads a configuration file as FPM's parser needs it, but only as a bounded regular file:
 * at most `MAX_CONFIG_FILE_BYTES`, never a FIFO or device, and a symbolic link only when its
 * owner also owns the target. Failures carry the errno `code` the parser reports.
 */
export function readFpmConfigFile(path: string): string {
  try {
    return readRegularFileSync(path);
  } catch (error) {
    const io = error as FpmkitIoError;
    const errno = io.errno ?? 'EIO';
    const reason = io.message.startsWith(`${path}: cannot read file`)
      ? `cannot read configuration file (${errno})`
      : `cannot read configuration file (${errno}): ${io.message.slice(path.length + 2)}`;
    throw new FpmkitIoError(path, reason, { cause: error, errno });
  }
}

/** The label `readFpmConfigStdin` gives standard input in messages and findings. */
export const STDIN_LABEL = '<stdin>';

/** Options of `readFpmConfigStdin`. */
export interface ReadFpmConfigStdinOptions {
  /** Refuse input longer than this many bytes. @default MAX_CONFIG_FILE_BYTES (16 MiB) */
  maxBytes?: number | undefined;
  /** The file descriptor to read. @default 0 (standard input) */
  fd?: number | undefined;
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/** How long to wait when a non-blocking standard input has nothing yet: 10 ms. */
const STDIN_RETRY_MS = 10;

/**
 * Reads a configuration from standard input, as `fpmkit check -` does: whatever stdin is (a
 * pipe, a terminal, a redirected file, even `/dev/zero`), at most `maxBytes` are read; more
 * throws `FpmkitIoError` (`EFBIG`) without reading the rest. It reads until end of input, as
 * `cat` does: the caller chose the source.
 */
export function readFpmConfigStdin(options: ReadFpmConfigStdinOptions = {}): string {
  const maxBytes = options.maxBytes ?? MAX_CONFIG_FILE_BYTES;
  const fd = options.fd ?? 0;
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, maxBytes + 1 - total));
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code ?? 'EIO';
      if (errno === 'EAGAIN') {
        Atomics.wait(pause, 0, 0, STDIN_RETRY_MS);
        continue;
      }
      throw new FpmkitIoError(STDIN_LABEL, `cannot read standard input (${errno})`, {
        cause: error,
        errno,
      });
    }
    if (n === 0) break;
    total += n;
    if (total > maxBytes) {
      throw new FpmkitIoError(STDIN_LABEL, `is larger than the limit of ${maxBytes} bytes`, {
        errno: 'EFBIG',
      });
    }
    chunks.push(chunk.subarray(0, n));
  }
  return Buffer.concat(chunks, total).toString('utf8');
}

function namesIn(file: string): Set<string> {
  try {
    return new Set(
      readRegularFileSync(file)
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.slice(0, line.indexOf(':'))),
    );
  } catch {
    return new Set();
  }
}

/**
 * Where the host's user and group databases are read from when checking a config against the host.
 */
export interface HostFpmSystemOptions {
  /** Where passwd and group live, for tests. @default '/etc' */
  etcRoot?: string | undefined;
}

/**
 * The machine's answers to the lookups `php-fpm -t` makes: users and groups from the passwd
 * and group files, directories by stat, log files by checking they could be opened for
 * appending (without creating them, unlike FPM).
 */
export function hostFpmSystem(options: HostFpmSystemOptions = {}): FpmSystem {
  const etc = options.etcRoot ?? '/etc';
  let users: Set<string> | undefined;
  let groups: Set<string> | undefined;
  return {
    userExists(name) {
      users ??= namesIn(`${etc}/passwd`);
      return /^\d+$/.test(name) || users.has(name);
    },
    groupExists(name) {
      groups ??= namesIn(`${etc}/group`);
      return /^\d+$/.test(name) || groups.has(name);
    },
    isDirectory: isDir,
    openForAppend(path) {
      try {
        if (statSync(path).isDirectory()) return 'EISDIR';
        accessSync(path, constants.W_OK);
        return undefined;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') return code ?? 'EIO';
      }
      const parent = dirname(path);
      try {
        if (!statSync(parent).isDirectory()) return 'ENOTDIR';
        accessSync(parent, constants.W_OK);
        return undefined;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? 'EIO';
      }
    },
    eventMechanisms: ['epoll', 'poll', 'select'],
  };
}

/** Reads a php-fpm configuration from disk, following its includes as FPM does. */
export function loadFpmConfig(
  path: string,
  options: Omit<ParseFpmConfigOptions, 'path'> = {},
): ParseFpmConfigResult {
  return parseFpmConfig(readFpmConfigFile(path), {
    readFile: readFpmConfigFile,
    glob: globFpmInclude,
    env: process.env,
    ...options,
    path,
  });
}

/**
 * Checks a configuration file on this machine as `php-fpm -t` run by the current user would:
 * as root a pool without `user` is an error; users, groups, directories and log files are
 * looked up for real.
 */
export function checkFpmConfigFile(
  path: string,
  options: Omit<CheckFpmConfigOptions, 'path'> = {},
): CheckFpmConfigResult {
  return checkFpmConfigOnHost(readFpmConfigFile(path), { ...options, path });
}

/**
 * Checks configuration text read elsewhere (standard input) as `checkFpmConfigFile` checks a
 * file: includes read through the bounded reader, users and paths looked up on this machine.
 * `path` names the text in findings. @default path '<stdin>'
 */
export function checkFpmConfigOnHost(
  text: string,
  options: CheckFpmConfigOptions = {},
): CheckFpmConfigResult {
  return checkFpmConfig(text, {
    readFile: readFpmConfigFile,
    glob: globFpmInclude,
    env: process.env,
    asRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    system: hostFpmSystem(),
    path: STDIN_LABEL,
    ...options,
  });
}
