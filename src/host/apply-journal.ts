import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FpmkitParseError } from '../errors.js';

/** Name of the apply journal in the state directory. */
export const APPLY_JOURNAL_NAME = 'apply.journal';

/**
 * The steps an apply records, in order. `prepared`: backups written, no live file touched.
 * `writing`: the live files are being replaced. `written`: every file is new. `signalling`:
 * the reload or restart is under way. `signalled`: it was sent. `verified`: the new files
 * verified. `rolling-back`: the old files are being put back after a failure.
 */
export const APPLY_STEPS = [
  'prepared',
  'writing',
  'written',
  'signalling',
  'signalled',
  'verified',
  'rolling-back',
] as const;
/** A step of an apply, in order (see {@link APPLY_STEPS}). */
export type ApplyStep = (typeof APPLY_STEPS)[number];

const journalSchema = z.object({
  fpmkit: z.literal('apply-journal'),
  version: z.literal(1),
  step: z.enum(APPLY_STEPS),
  configPath: z.string(),
  root: z.string(),
  action: z.enum(['reload', 'restart']),
  pid: z.number().int(),
  files: z.array(
    z.object({
      path: z.string(),
      backup: z.string(),
      beforeSha256: z.string(),
      afterSha256: z.string(),
    }),
  ),
});
/**
 * The on-disk record of an apply in progress: the files, their backups and the step reached, so an
 * interrupted apply can be rolled back.
 */
export type ApplyJournal = z.infer<typeof journalSchema>;

function writeSynced(path: string, data: string): void {
  const tmp = `${path}.new`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes (or rewrites) the journal through a rename and syncs the directory. */
export function writeApplyJournal(stateDir: string, journal: ApplyJournal): void {
  writeSynced(join(stateDir, APPLY_JOURNAL_NAME), JSON.stringify(journal));
  syncDir(stateDir);
}

/** Writes the old text of each file to the backup directory, synced, before the journal names them. */
export function writeBackups(stateDir: string, texts: readonly string[]): string[] {
  const dir = join(stateDir, 'backup');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  const paths = texts.map((text, i) => {
    const path = join(dir, String(i));
    writeSynced(path, text);
    return path;
  });
  syncDir(dir);
  syncDir(stateDir);
  return paths;
}

/** Reads the journal; undefined when there is none. Throws `FpmkitParseError` for a damaged one. */
export function readApplyJournal(stateDir: string): ApplyJournal | undefined {
  const path = join(stateDir, APPLY_JOURNAL_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return journalSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new FpmkitParseError(`the apply journal ${path} is damaged`, {
      source: path,
      cause: error,
    });
  }
}

/** Removes the journal and the backups once the host is verified. */
export function clearApplyJournal(stateDir: string): void {
  rmSync(join(stateDir, APPLY_JOURNAL_NAME), { force: true });
  syncDir(stateDir);
  rmSync(join(stateDir, 'backup'), { recursive: true, force: true });
}
