import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { FpmkitIoError } from '../errors.js';
import { FpmkitApplyLockedError } from './apply-errors.js';

/** Name of the lock file in the apply state directory. */
export const APPLY_LOCK_NAME = 'apply.lock';
/** How often a waiting apply looks at the lock again, in milliseconds. */
const LOCK_POLL_MS = 50;

/** Who holds a lock: a pid and the process's start time (clock ticks since boot), so a reused pid is not taken for the holder. */
interface LockOwner {
  pid: number;
  startTime: string | null;
}

/** Field 22 of /proc/PID/stat, or null when the process does not exist. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(owner: LockOwner): boolean {
  const now = processStartTime(owner.pid);
  return now !== null && (owner.startTime === null || now === owner.startTime);
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number') return undefined;
    return { pid: parsed.pid, startTime: parsed.startTime ?? null };
  } catch {
    return undefined;
  }
}

/** A held lock; `release` removes it (only if it is still this process's). */
export interface ApplyLock {
  path: string;
  release(): void;
}

/**
 * Takes the apply lock of a state directory: a file created with O_EXCL holding this process's
 * pid and start time. A lock whose holder is gone (killed) is broken; a live holder is waited
 * for up to `waitMs`, then `FpmkitApplyLockedError` is thrown.
 *
 * Breaking a dead holder's lock renames it aside and checks that the file moved is the one
 * judged dead; a lock taken by someone else meanwhile is linked back (link(2) never replaces).
 */
export async function acquireApplyLock(stateDir: string, waitMs: number): Promise<ApplyLock> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  checkStateDir(stateDir);
  const path = join(stateDir, APPLY_LOCK_NAME);
  const me: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) };
  const started = Date.now();
  let lastHolder: number | undefined;
  for (;;) {
    try {
      const fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      try {
        writeSync(fd, JSON.stringify(me));
      } finally {
        closeSync(fd);
      }
      return {
        path,
        release() {
          const owner = readOwner(path);
          if (owner?.pid === me.pid && owner.startTime === me.startTime) unlinkSync(path);
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new FpmkitIoError(path, `cannot create the apply lock ${path}`, {
          cause: error,
          errno: (error as NodeJS.ErrnoException).code ?? 'EIO',
        });
      }
    }
    const owner = readOwner(path);
    lastHolder = owner?.pid;
    if (owner && !ownerAlive(owner)) {
      breakStaleLock(path, owner);
      continue;
    }
    if (Date.now() - started >= waitMs) {
      throw new FpmkitApplyLockedError(path, lastHolder, Date.now() - started);
    }
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

/**
 * The journal in the state directory names files to restore and backups to restore them from,
 * so whoever can write there could make a recovery overwrite any file: the directory must be a
 * real directory owned by the user running fpmkit and writable by no one else.
 */
function checkStateDir(stateDir: string): void {
  const st = lstatSync(stateDir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new FpmkitIoError(
      stateDir,
      `refusing the apply state directory ${stateDir}: it must be a directory owned by uid ${uid} and writable by no one else`,
      { errno: 'EPERM' },
    );
  }
}

function breakStaleLock(path: string, dead: LockOwner): void {
  const aside = `${path}.stale-${randomBytes(6).toString('hex')}`;
  try {
    renameSync(path, aside);
  } catch {
    return;
  }
  const moved = readOwner(aside);
  if (moved && (moved.pid !== dead.pid || moved.startTime !== dead.startTime)) {
    try {
      linkSync(aside, path);
    } catch {
      // a third process took the lock; the one moved aside belonged to a live apply that
      // will find its lock gone at release and leave the new one alone
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // already removed
  }
}
