import { readlink, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseProcPidStatus } from '../kernel/proc-pid-status.js';
import { DEFAULT_PROC_ROOT, ioErrorFor, readTextQuietly } from './io.js';
import { readRegularFileSync } from './safe-read.js';

/**
 * File names of PHP-FPM binaries: `php-fpm` (upstream, Docker's official images, RHEL),
 * `php-fpm8.2` (Debian, Ubuntu), `php-fpm82` (Alpine).
 */
export const FPM_BINARY_NAME = /^php-fpm[0-9.]*$/;

/** The kernel appends this to `/proc/PID/exe` when the binary was replaced after it started. */
const DELETED = ' (deleted)';

/** The user id fpmkit runs as; 0 where the platform has none. */
export function currentUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : 0;
}

/** Owners whose files fpmkit reads on a master's behalf: root and the user running fpmkit. */
export function trustedOwners(): number[] {
  const uid = currentUid();
  return uid === 0 ? [0] : [0, uid];
}

/** Why a process titled as an FPM master was, or was not, taken for one. */
export type MasterTrust =
  | {
      trusted: true;
      /**
       * `executable`: its `/proc/PID/exe` is a php-fpm binary owned by a trusted user.
       * `root-uid`: fpmkit is not root, the process runs as root (every uid 0) and, as for any
       * process of another user, the kernel does not let fpmkit read its executable link.
       */
      basis: 'executable' | 'root-uid';
      uids: number[];
      executable?: string;
    }
  | { trusted: false; reason: string; uids?: number[]; executable?: string };

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
}

/**
 * Decides whether process `pid`, whose title says it is an FPM master, is one fpmkit may act
 * for: read the files its title and configuration name, and connect to its sockets. Anyone can
 * give a process that title, so it must run as root or as the user running fpmkit (all four
 * uids of `/proc/PID/status`: a set-user-ID program keeps its caller's real uid), and its
 * `/proc/PID/exe` must be a binary named like php-fpm (`FPM_BINARY_NAME`), owned by root or
 * that user, and not writable by others. `binary` names another server's binaries (nginx,
 * Apache) for their masters. When fpmkit is not root the kernel refuses it the
 * `exe` link of a root process (EACCES); such a process is trusted on its uids alone, since
 * only root can start a process whose uids are all 0.
 */
export async function checkMasterTrust(
  procRoot: string,
  pid: number,
  binary: { name: RegExp; what: string } = { name: FPM_BINARY_NAME, what: 'php-fpm' },
): Promise<MasterTrust> {
  const me = currentUid();
  const statusText = await readTextQuietly(join(procRoot, String(pid), 'status'));
  let uids: number[] | undefined;
  try {
    uids = statusText === undefined ? undefined : parseProcPidStatus(statusText).uids;
  } catch {
    uids = undefined;
  }
  if (uids === undefined || uids.length === 0)
    return { trusted: false, reason: 'its user ids cannot be read from /proc/PID/status' };
  const others = uids.filter((u) => u !== 0 && u !== me);
  if (others.length > 0)
    return {
      trusted: false,
      uids,
      reason: `it runs as uid ${others[0]}, neither root nor the user running fpmkit (uid ${me})`,
    };
  const exePath = join(procRoot, String(pid), 'exe');
  let link: string;
  try {
    link = await readlink(exePath);
  } catch (error) {
    const errno = errnoOf(error);
    if ((errno === 'EACCES' || errno === 'EPERM') && uids.every((u) => u === 0) && me !== 0)
      return { trusted: true, basis: 'root-uid', uids };
    return { trusted: false, uids, reason: `its executable cannot be read (${errno})` };
  }
  const executable = link.endsWith(DELETED) ? link.slice(0, -DELETED.length) : link;
  if (!binary.name.test(basename(executable)))
    return {
      trusted: false,
      uids,
      executable,
      reason: `its executable is not a ${binary.what} binary`,
    };
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    // stat() through the link reaches the running image, even when it was replaced since.
    st = await stat(exePath);
  } catch (error) {
    return {
      trusted: false,
      uids,
      executable,
      reason: `its executable cannot be examined (${errnoOf(error)})`,
    };
  }
  if (st.uid !== 0 && st.uid !== me)
    return {
      trusted: false,
      uids,
      executable,
      reason: `its executable is owned by uid ${st.uid}, neither root nor the user running fpmkit`,
    };
  if ((st.mode & 0o002) !== 0 || ((st.mode & 0o020) !== 0 && st.gid !== 0))
    return {
      trusted: false,
      uids,
      executable,
      reason: 'its executable is writable by other users',
    };
  return { trusted: true, basis: 'executable', uids, executable };
}

/**
 * Reads a configuration file on a trusted master's behalf: a bounded regular file (see
 * `readRegularFileSync`) owned by `owners`, a link only to a file of the link's owner. Failures
 * are `FpmkitIoError`s with the errno code FPM's parser reports.
 */
export function readTrustedConfigFile(path: string, owners: readonly number[]): string {
  try {
    return readRegularFileSync(path, { owners });
  } catch (error) {
    throw ioErrorFor(path, error, 'cannot read configuration file');
  }
}

/** Whether fpmkit may run a process's binary, and by which path. */
export type ExecutableRun = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Whether fpmkit may run `executable`, the binary of trusted process `pid` (its `/proc/PID/exe`
 * as `checkMasterTrust` read it), to ask it something (`php-fpm -v`, `nginx -T`). A path read
 * from /proc names a file in the process's mount namespace, but fpmkit runs it in its own: so
 * only when `procRoot` is this host's `/proc`, the binary was not deleted or replaced since the
 * process started, and the file at that path here is the one the process runs (same device
 * and inode as `/proc/PID/exe`). Otherwise the reason says why it is not run.
 */
export async function checkExecutableRun(
  procRoot: string,
  pid: number,
  executable: string,
): Promise<ExecutableRun> {
  if (resolve(procRoot) !== DEFAULT_PROC_ROOT)
    return {
      ok: false,
      reason: `the processes were read from ${procRoot}, not this host's /proc, so ${executable} here may not be the binary they run`,
    };
  const exePath = join(procRoot, String(pid), 'exe');
  let link: string;
  try {
    link = await readlink(exePath);
  } catch (error) {
    return { ok: false, reason: `its executable link cannot be read (${errnoOf(error)})` };
  }
  if (link.endsWith(DELETED))
    return {
      ok: false,
      reason: `its executable ${link.slice(0, -DELETED.length)} was deleted or replaced since it started`,
    };
  if (link !== executable)
    return { ok: false, reason: `its executable is now ${link}, not ${executable}` };
  try {
    const [running, here] = await Promise.all([stat(exePath), stat(executable)]);
    if (running.dev !== here.dev || running.ino !== here.ino)
      return {
        ok: false,
        reason: `${executable} in fpmkit's mount namespace is not the file the process runs (another device or inode)`,
      };
  } catch (error) {
    return {
      ok: false,
      reason: `its executable cannot be examined (${errnoOf(error)})`,
    };
  }
  return { ok: true, path: executable };
}
