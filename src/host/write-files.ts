import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmdirSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { FpmkitFileExistsError, FpmkitInvalidOptionError, FpmkitIoError } from '../errors.js';
import { readRegularFileSync } from './safe-read.js';

export { FpmkitFileExistsError } from '../errors.js';

/**
 * Writing a set of files under one directory so that a crash, a kill or a full disk leaves
 * either the old set or the new set.
 *
 * 1. Check: every path is relative and stays under the directory; no component below the
 *    directory is a symbolic link; without `force`, no file exists yet. Nothing is written
 *    until every file passes.
 * 2. Prepare: a journal (`.fpmkit-write.journal` in the directory, created with O_EXCL, so it
 *    is also the lock) names the temporary files and directories about to be created. Each
 *    file is written to a temporary file beside its target (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode
 *    0600 until written), then `fchmod` and `fsync`; the directories are synced.
 * 3. Commit: the journal is rewritten through a rename with `"state": "committed"`, and the
 *    directory is synced. This rename is the commit point.
 * 4. Install: each temporary file is renamed onto its target (with `force`), or hard-linked to
 *    it (without: `link(2)` never replaces a file, so one created meanwhile is not lost), the
 *    directories are synced and the journal removed.
 *
 * A failure before the commit (ENOSPC, EDQUOT, EACCES, a write error) removes the temporary
 * files and the new directories and leaves every old file as it was. A process killed between
 * the commit and the end of step 4 leaves each file whole (old or new, never empty or cut:
 * renames replace a name in one step) but the set can be part old, part new; the journal
 * records this, and the next write into the directory, or `recoverFileWrites`, finishes it
 * (committed: roll forward; not committed: roll back) before anything else. After that the
 * set is the old one or the new one.
 *
 * Why a journal rather than a swap: the files of one set sit in several directories that hold
 * other files too (`/etc/nginx/conf.d`, `/etc/sysctl.d`), so no single rename can exchange
 * them, and Node offers no `renameat2(RENAME_EXCHANGE)`. A journal works in place, and whoever
 * writes next finishes what a killed writer left.
 *
 * Node has no `openat`/`renameat`, so path components are checked by name just before each
 * step: a link placed before a write is refused, but a user who can write to the directories
 * during the write could still swap one in between two steps. Keep the directory and the
 * directories under it writable only by the user running the write.
 */

/** Name of the journal kept in the target directory while a write is under way. */
export const WRITE_JOURNAL_NAME = '.fpmkit-write.journal';
/** Permission bits of a new file when no `mode` is given (an existing file keeps its own). */
export const DEFAULT_WRITTEN_FILE_MODE = 0o644;
/** Permission bits of the directories a write creates (subject to the umask, as `mkdir -p`). */
export const WRITTEN_DIRECTORY_MODE = 0o755;

const JOURNAL_NEXT_NAME = `${WRITE_JOURNAL_NAME}.new`;
/** Ends every temporary name, so that `*.conf` includes (nginx, php-fpm, systemd) skip them. */
const TEMP_SUFFIX = '.fpmkit-tmp';
/** A journal larger than this is not one fpmkit wrote: 16 MiB. */
const MAX_JOURNAL_BYTES = 16 * 1024 * 1024;

/** One file for `writeFilesAtomically`. */
export interface FileToWrite {
  /** Path relative to the directory, components separated by `/`; no `.`, `..` or empty component. */
  path: string;
  /** The whole content: a string is written as UTF-8. */
  content: string | Uint8Array;
  /**
   * Permission bits, 0 to 0o777 (setuid, setgid and sticky are refused).
   * @default the replaced file's permission bits, or DEFAULT_WRITTEN_FILE_MODE (0o644) for a new file
   */
  mode?: number;
}

/** Options of `writeFilesAtomically`. */
export interface WriteFilesOptions {
  /** Replace files that exist. Without it, one existing file stops the whole write. @default false */
  force?: boolean | undefined;
}

/** What an interrupted earlier write left under the directory, and what was done with it. */
export interface FileWriteRecovery {
  /**
   * `rolled-forward`: it had committed; its remaining files were put in place, so the directory
   * holds its new set. `rolled-back`: it had not committed (or, without `force`, a file it was
   * about to create had appeared); its temporary files and new directories were removed and the
   * old files kept.
   */
  outcome: 'rolled-forward' | 'rolled-back';
  /** The files that write was writing: the directory as given joined with each relative path. */
  paths: string[];
}

/** What `writeFilesAtomically` did. */
export interface WriteFilesResult {
  /** Every file written: the directory as given joined with its relative path, in the order given. */
  paths: string[];
  /** Those of `paths` that replaced an existing file (only with `force`). */
  replaced: string[];
  /** Present when an interrupted earlier write was found and finished first. */
  recovered?: FileWriteRecovery;
}

const entrySchema = z.object({
  path: z.string(),
  temp: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});
const journalSchema = z.object({
  fpmkit: z.literal('write-journal'),
  version: z.literal(1),
  state: z.enum(['prepared', 'committed']),
  force: z.boolean(),
  owner: z.object({
    pid: z.number().int(),
    startTime: z.string().nullable(),
    bootId: z.string().nullable(),
  }),
  dirs: z.array(z.string()),
  files: z.array(entrySchema),
});
type Journal = z.infer<typeof journalSchema>;
type JournalEntry = z.infer<typeof entrySchema>;

interface Place {
  /** The directory as the caller wrote it, for messages and results. */
  shown: string;
  /** Its real path, resolved once: every operation goes through it. */
  real: string;
}

const errnoOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'EIO';
};

function ioError(path: string, what: string, error: unknown): FpmkitIoError {
  if (error instanceof FpmkitIoError) return error;
  const errno = errnoOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  return new FpmkitIoError(path, `${what} (${reason})`, { cause: error, errno });
}

function linkRefused(path: string, kind: 'directory' | 'file'): FpmkitIoError {
  return new FpmkitIoError(
    path,
    `is a symbolic link; writes refuse links under the target directory (a ${kind} link could send the write outside it)`,
    { errno: 'ELOOP' },
  );
}

function lstatOrUndefined(path: string, shown: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw ioError(shown, 'cannot inspect', error);
  }
}

function validateMode(mode: unknown, option: string): void {
  if (mode === undefined) return;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new FpmkitInvalidOptionError(
      option,
      'must be permission bits from 0 to 0o777 (setuid, setgid and sticky are refused)',
    );
  }
}

/** Refuses a path that could leave the directory or collide with the writer's own names. */
function validatePath(path: unknown, option: string): string[] {
  if (typeof path !== 'string' || path === '') {
    throw new FpmkitInvalidOptionError(option, 'must be a non-empty relative path');
  }
  if (path.includes('\0')) throw new FpmkitInvalidOptionError(option, 'must not contain NUL');
  if (path.startsWith('/')) {
    throw new FpmkitInvalidOptionError(option, 'must be relative to the directory, not absolute');
  }
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') {
      throw new FpmkitInvalidOptionError(
        option,
        "must stay under the directory: no '..', '.' or empty component",
      );
    }
    if (part.endsWith(TEMP_SUFFIX)) {
      throw new FpmkitInvalidOptionError(option, `must not end a component with '${TEMP_SUFFIX}'`);
    }
  }
  if (parts[0]!.startsWith(WRITE_JOURNAL_NAME)) {
    throw new FpmkitInvalidOptionError(option, `'${WRITE_JOURNAL_NAME}' is the writer's journal`);
  }
  return parts;
}

function validateFiles(files: readonly FileToWrite[]): string[][] {
  if (!Array.isArray(files)) throw new FpmkitInvalidOptionError('files', 'must be an array');
  const seen = new Set<string>();
  const split = files.map((file, i) => {
    const parts = validatePath(file?.path, `files[${i}].path`);
    validateMode(file.mode, `files[${i}].mode`);
    if (typeof file.content !== 'string' && !(file.content instanceof Uint8Array)) {
      throw new FpmkitInvalidOptionError(`files[${i}].content`, 'must be a string or Uint8Array');
    }
    if (seen.has(file.path)) {
      throw new FpmkitInvalidOptionError(`files[${i}].path`, `'${file.path}' is given twice`);
    }
    seen.add(file.path);
    return parts;
  });
  for (const [i, parts] of split.entries()) {
    for (let n = 1; n < parts.length; n++) {
      if (seen.has(parts.slice(0, n).join('/'))) {
        throw new FpmkitInvalidOptionError(
          `files[${i}].path`,
          `'${parts.slice(0, n).join('/')}' is given as a file and as a directory`,
        );
      }
    }
  }
  return split;
}

/** Resolves the directory once, creating it first (as `mkdir -p`) when `create` is set. */
function resolvePlace(dir: string, create: boolean): Place | undefined {
  if (typeof dir !== 'string' || dir === '' || dir.includes('\0')) {
    throw new FpmkitInvalidOptionError('dir', 'must be a directory path');
  }
  try {
    if (create) mkdirSync(dir, { recursive: true, mode: WRITTEN_DIRECTORY_MODE });
    const real = realpathSync(dir);
    if (!lstatSync(real).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    return { shown: dir, real };
  } catch (error) {
    if (!create && errnoOf(error) === 'ENOENT') return undefined;
    throw ioError(dir, 'cannot use as the target directory', error);
  }
}

/** The directories from the top one down to `parts`' parent, as relative paths. */
function parentsOf(parts: readonly string[]): string[] {
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/**
 * Checks each directory below the top one on the way to a file: refuses links and non-directories.
 * Returns the relative directories that do not exist yet.
 */
function checkDirectories(place: Place, parts: readonly string[]): string[] {
  const missing: string[] = [];
  for (const rel of parentsOf(parts)) {
    if (missing.length > 0) {
      missing.push(rel);
      continue;
    }
    const shown = join(place.shown, rel);
    const stats = lstatOrUndefined(join(place.real, rel), shown);
    if (stats === undefined) missing.push(rel);
    else if (stats.isSymbolicLink()) throw linkRefused(shown, 'directory');
    else if (!stats.isDirectory()) {
      throw new FpmkitIoError(shown, 'is not a directory', { errno: 'ENOTDIR' });
    }
  }
  return missing;
}

/** The existing target of a file, when there is one; refuses a link and anything not regular. */
function checkTarget(place: Place, rel: string): Stats | undefined {
  const shown = join(place.shown, rel);
  const stats = lstatOrUndefined(join(place.real, rel), shown);
  if (stats === undefined) return undefined;
  if (stats.isSymbolicLink()) throw linkRefused(shown, 'file');
  if (stats.isDirectory()) {
    throw new FpmkitIoError(shown, 'is a directory, not a file', { errno: 'EISDIR' });
  }
  if (!stats.isFile()) {
    throw new FpmkitIoError(shown, 'exists and is not a regular file', { errno: 'EINVAL' });
  }
  return stats;
}

function readOwner(): Journal['owner'] {
  return { pid: process.pid, startTime: startTimeOf(process.pid), bootId: bootId() };
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks after boot. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function bootId(): string | null {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** True when the process that wrote the journal still runs (and is not this one). */
function ownerIsAnotherLiveProcess(owner: Journal['owner']): boolean {
  if (owner.pid === process.pid) return false;
  if (owner.bootId === null || owner.bootId !== bootId()) return false;
  return owner.startTime !== null && startTimeOf(owner.pid) === owner.startTime;
}

function fsyncDirectory(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Syncs the directories that hold the given entries (the top directory for a top-level one). */
function syncDirectories(place: Place, relPaths: readonly string[]): void {
  const dirs = new Set(relPaths.map((rel) => dirname(rel)));
  const ordered = [...dirs].sort((a, b) => b.length - a.length);
  for (const rel of ordered) fsyncDirectory(join(place.real, rel));
}

/** Writes all of `data` to a new file opened with O_EXCL|O_NOFOLLOW, sets its mode and syncs it. */
function writeNewFile(path: string, data: Uint8Array, mode: number): void {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, done);
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function encode(content: string | Uint8Array): Uint8Array {
  return typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The sha256 of a regular file read without following a link, or undefined when it is not one. */
function hashOf(path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(64 * 1024);
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, total);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) return undefined;
      hash.update(buffer.subarray(0, n));
    }
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

function journalPath(place: Place): string {
  return join(place.real, WRITE_JOURNAL_NAME);
}

/** Writes a journal to `.new`, syncs it and renames it over the journal: the commit point. */
function replaceJournal(place: Place, journal: Journal): void {
  const next = join(place.real, JOURNAL_NEXT_NAME);
  removeIfPresent(next);
  writeNewFile(next, Buffer.from(JSON.stringify(journal)), 0o600);
  renameSync(next, journalPath(place));
  fsyncDirectory(place.real);
}

function removeIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
}

function removeDirectoriesIfEmpty(place: Place, dirs: readonly string[]): void {
  for (const rel of [...dirs].reverse()) {
    try {
      rmdirSync(join(place.real, rel));
    } catch (error) {
      const errno = errnoOf(error);
      if (errno !== 'ENOENT' && errno !== 'ENOTEMPTY' && errno !== 'EEXIST') throw error;
    }
  }
}

/** Reads the journal left in the directory, if any. A torn journal (never committed) reads as empty. */
function readJournal(place: Place): Journal | undefined {
  const path = journalPath(place);
  const shown = join(place.shown, WRITE_JOURNAL_NAME);
  if (lstatOrUndefined(path, shown) === undefined) return undefined;
  const text = readRegularFileSync(path, { symlinks: 'refuse', maxBytes: MAX_JOURNAL_BYTES });
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Committed journals arrive whole through a rename, so a cut one was still being prepared,
    // before any temporary file or directory existed.
    return { ...emptyJournal(), state: 'prepared' };
  }
  const parsed = journalSchema.safeParse(data);
  if (!parsed.success) {
    throw new FpmkitIoError(
      shown,
      'is not a journal this version of fpmkit wrote; check and remove it',
      {
        errno: 'EINVAL',
      },
    );
  }
  for (const [i, e] of parsed.data.files.entries()) {
    validatePath(e.path, `${shown}: files[${i}].path`);
    validatePath(e.temp.replace(new RegExp(`${TEMP_SUFFIX}$`), ''), `${shown}: files[${i}].temp`);
    if (!e.temp.endsWith(TEMP_SUFFIX) || dirname(e.temp) !== dirname(e.path)) {
      throw new FpmkitIoError(shown, `files[${i}].temp is not a temporary name beside its file`, {
        errno: 'EINVAL',
      });
    }
  }
  for (const [i, d] of parsed.data.dirs.entries()) validatePath(d, `${shown}: dirs[${i}]`);
  return parsed.data;
}

function emptyJournal(): Journal {
  return {
    fpmkit: 'write-journal',
    version: 1,
    state: 'prepared',
    force: false,
    owner: { pid: 0, startTime: null, bootId: null },
    dirs: [],
    files: [],
  };
}

/** Removes what an uncommitted write created: temporary files, then new directories, then the journal. */
function rollBack(place: Place, journal: Journal): void {
  for (const e of journal.files) {
    checkDirectories(place, e.temp.split('/'));
    removeIfPresent(join(place.real, e.temp));
  }
  removeDirectoriesIfEmpty(place, journal.dirs);
  removeIfPresent(join(place.real, JOURNAL_NEXT_NAME));
  syncDirectories(place, [...journal.files.map((e) => e.path), ...journal.dirs]);
  removeIfPresent(journalPath(place));
  fsyncDirectory(place.real);
}

function stillNew(place: Place, e: JournalEntry): boolean {
  return hashOf(join(place.real, e.path), e.bytes) === e.sha256;
}

function cannotFinish(place: Place, e: JournalEntry, why: string): FpmkitIoError {
  return new FpmkitIoError(
    join(place.shown, e.path),
    `${why}; a committed write cannot be finished. Check the files listed in ${join(place.shown, WRITE_JOURNAL_NAME)}, then remove it`,
    { errno: 'EIO' },
  );
}

/** With `force`: renames every remaining temporary file over its target. */
function installReplacing(place: Place, journal: Journal): void {
  for (const e of journal.files) {
    checkDirectories(place, e.path.split('/'));
    const temp = lstatOrUndefined(join(place.real, e.temp), join(place.shown, e.temp));
    if (temp?.isFile()) renameSync(join(place.real, e.temp), join(place.real, e.path));
    else if (!stillNew(place, e)) {
      throw cannotFinish(place, e, 'is not the new file and its temporary file is gone');
    }
  }
}

/**
 * Without `force`: hard-links every temporary file to its target, which `link(2)` does only
 * when the target does not exist. Returns the targets that appeared meanwhile, after undoing
 * the links made, or an empty list when every file is in place.
 */
function installCreating(place: Place, journal: Journal): string[] {
  const conflicts: string[] = [];
  for (const e of journal.files) {
    checkDirectories(place, e.path.split('/'));
    const tempPath = join(place.real, e.temp);
    const temp = lstatOrUndefined(tempPath, join(place.shown, e.temp));
    if (!temp?.isFile()) {
      if (!stillNew(place, e))
        throw cannotFinish(place, e, 'is not the new file and its temporary file is gone');
      continue;
    }
    try {
      linkSync(tempPath, join(place.real, e.path));
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      const target = lstatSync(join(place.real, e.path));
      if (target.ino !== temp.ino || target.dev !== temp.dev)
        conflicts.push(join(place.shown, e.path));
    }
  }
  if (conflicts.length === 0) return [];
  for (const e of journal.files) {
    const temp = lstatOrUndefined(join(place.real, e.temp), join(place.shown, e.temp));
    const target = lstatOrUndefined(join(place.real, e.path), join(place.shown, e.path));
    if (temp !== undefined && target?.ino === temp.ino && target.dev === temp.dev) {
      unlinkSync(join(place.real, e.path));
    }
  }
  rollBack(place, journal);
  return conflicts;
}

/**
 * Finishes a committed journal: puts every file in place, syncs, removes the temporary files and
 * the journal. Returns the files that, without `force`, appeared meanwhile (then the whole write
 * was undone instead).
 */
function rollForward(place: Place, journal: Journal): string[] {
  if (journal.force) installReplacing(place, journal);
  else {
    const conflicts = installCreating(place, journal);
    if (conflicts.length > 0) return conflicts;
    for (const e of journal.files) removeIfPresent(join(place.real, e.temp));
  }
  syncDirectories(
    place,
    journal.files.map((e) => e.path),
  );
  removeIfPresent(journalPath(place));
  fsyncDirectory(place.real);
  return [];
}

function finishJournal(place: Place, journal: Journal): FileWriteRecovery {
  const paths = journal.files.map((e) => join(place.shown, e.path));
  if (journal.state === 'prepared') {
    rollBack(place, journal);
    return { outcome: 'rolled-back', paths };
  }
  const conflicts = rollForward(place, journal);
  return { outcome: conflicts.length === 0 ? 'rolled-forward' : 'rolled-back', paths };
}

function recoverPlace(place: Place): FileWriteRecovery | undefined {
  const journal = readJournal(place);
  if (journal === undefined) return undefined;
  if (ownerIsAnotherLiveProcess(journal.owner)) {
    throw new FpmkitIoError(
      join(place.shown, WRITE_JOURNAL_NAME),
      `another write into this directory is under way (process ${journal.owner.pid})`,
      { errno: 'EBUSY' },
    );
  }
  try {
    return finishJournal(place, journal);
  } catch (error) {
    throw ioError(
      join(place.shown, WRITE_JOURNAL_NAME),
      'cannot finish an interrupted write',
      error,
    );
  }
}

/**
 * Finishes a write into `dir` that was interrupted (killed, or the machine stopped): rolls it
 * forward when it had committed, back when it had not. Returns what was done, or `undefined`
 * when no write was interrupted. `writeFilesAtomically` calls this first, so this is needed
 * only to bring a directory to a consistent state without writing anything new.
 *
 * Throws `FpmkitIoError`: `EBUSY` when the process that started the write still runs, `ELOOP`
 * when a link has appeared under `dir`, `EIO` when a committed file was changed since and the
 * write cannot be finished (the journal is kept for a person to look at), or the system's code.
 */
export function recoverFileWrites(dir: string): FileWriteRecovery | undefined {
  const place = resolvePlace(dir, false);
  return place === undefined ? undefined : recoverPlace(place);
}

interface PlannedFile {
  rel: string;
  temp: string;
  data: Uint8Array;
  mode: number;
  existing: boolean;
}

function planFiles(place: Place, files: readonly FileToWrite[], split: string[][], force: boolean) {
  const dirs: string[] = [];
  const planned: PlannedFile[] = [];
  const existing: string[] = [];
  for (const [i, file] of files.entries()) {
    const parts = split[i]!;
    const missing = checkDirectories(place, parts);
    for (const d of missing) if (!dirs.includes(d)) dirs.push(d);
    const target = missing.length > 0 ? undefined : checkTarget(place, file.path);
    if (target !== undefined) existing.push(join(place.shown, file.path));
    const name = parts.at(-1)!;
    planned.push({
      rel: file.path,
      temp: [
        ...parts.slice(0, -1),
        `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`,
      ].join('/'),
      data: encode(file.content),
      mode: file.mode ?? (target === undefined ? DEFAULT_WRITTEN_FILE_MODE : target.mode & 0o777),
      existing: target !== undefined,
    });
  }
  if (!force && existing.length > 0) throw new FpmkitFileExistsError(existing);
  dirs.sort((a, b) => a.split('/').length - b.split('/').length);
  return { dirs, planned };
}

/** Creates the journal with O_EXCL: it is also the lock against a second writer. */
function createJournal(place: Place, journal: Journal): void {
  try {
    writeNewFile(journalPath(place), Buffer.from(JSON.stringify(journal)), 0o600);
    fsyncDirectory(place.real);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') {
      throw new FpmkitIoError(
        join(place.shown, WRITE_JOURNAL_NAME),
        'another write into this directory started meanwhile',
        { errno: 'EBUSY' },
      );
    }
    throw ioError(join(place.shown, WRITE_JOURNAL_NAME), 'cannot create the journal', error);
  }
}

/** Steps 2 and 3: temporary files, synced, then the commit. Undoes everything on a failure. */
function prepareAndCommit(place: Place, journal: Journal, planned: readonly PlannedFile[]): void {
  let step = join(place.shown, WRITE_JOURNAL_NAME);
  try {
    for (const d of journal.dirs) {
      step = join(place.shown, d);
      checkDirectories(place, [...d.split('/'), '']);
      mkdirSync(join(place.real, d), WRITTEN_DIRECTORY_MODE);
    }
    for (const p of planned) {
      step = join(place.shown, p.rel);
      checkDirectories(place, p.temp.split('/'));
      writeNewFile(join(place.real, p.temp), p.data, p.mode);
    }
    step = place.shown;
    syncDirectories(place, [...planned.map((p) => p.temp), ...journal.dirs]);
    step = join(place.shown, WRITE_JOURNAL_NAME);
    replaceJournal(place, { ...journal, state: 'committed' });
  } catch (error) {
    const failure = ioError(step, 'cannot write; nothing was changed', error);
    try {
      rollBack(place, journal);
    } catch (cleanup) {
      throw new FpmkitIoError(
        failure.path,
        `${failure.message}; removing the temporary files also failed (${errnoOf(cleanup)}), the next write into the directory retries`,
        { cause: error, errno: failure.errno ?? 'EIO' },
      );
    }
    throw failure;
  }
}

/**
 * Writes `files` under `dir` as one set: after it returns, every file holds its new content;
 * if it throws, or the process is killed, or the machine stops, the set is the old one or the
 * new one once the next write into `dir` (or `recoverFileWrites(dir)`) has run. No file is ever
 * left empty or cut short.
 *
 * Refuses, before writing anything: a path that is absolute or leaves `dir` (`..`), with
 * `FpmkitInvalidOptionError`; a symbolic link at any file or directory below `dir`
 * (`FpmkitIoError`, errno `ELOOP`, naming it); something else than a regular file in a file's
 * place (`EISDIR`, `EINVAL`); without `force`, existing files (`FpmkitFileExistsError`, errno
 * `EEXIST`, listing all of them). `dir` itself may be a link: it is resolved once, and created
 * when missing. A failure while writing (ENOSPC, EDQUOT, EACCES ...) throws `FpmkitIoError` with
 * the system's code after removing every temporary file; the old files are untouched.
 *
 * Synchronous on purpose: the steps must happen in this order, and they are a few small
 * writes and fsyncs. One write at a time per directory: a second one throws `EBUSY`.
 */
export function writeFilesAtomically(
  dir: string,
  files: readonly FileToWrite[],
  options: WriteFilesOptions = {},
): WriteFilesResult {
  const force = options.force === true;
  const split = validateFiles(files);
  const place = resolvePlace(dir, true)!;
  const recovered = recoverPlace(place);
  const { dirs, planned } = planFiles(place, files, split, force);
  const journal: Journal = {
    ...emptyJournal(),
    force,
    owner: readOwner(),
    dirs,
    files: planned.map((p) => ({
      path: p.rel,
      temp: p.temp,
      sha256: sha256(p.data),
      bytes: p.data.length,
    })),
  };
  createJournal(place, journal);
  prepareAndCommit(place, journal, planned);
  let conflicts: string[];
  try {
    conflicts = rollForward(place, { ...journal, state: 'committed' });
  } catch (error) {
    throw ioError(
      join(place.shown, WRITE_JOURNAL_NAME),
      'the write committed but could not put every file in place; the next write into the directory (or recoverFileWrites) finishes it',
      error,
    );
  }
  if (conflicts.length > 0) throw new FpmkitFileExistsError(conflicts);
  const paths = planned.map((p) => join(place.shown, p.rel));
  return {
    paths,
    replaced: planned.filter((p) => p.existing).map((p) => join(place.shown, p.rel)),
    ...(recovered === undefined ? {} : { recovered }),
  };
}
