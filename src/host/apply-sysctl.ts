import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute } from 'node:path';
import { FpmkitInvalidOptionError, FpmkitSysctlApplyError } from '../errors.js';
import {
  editSysctlConf,
  editSystemdDropIn,
  type KeyValueEditChange,
  type SysctlEdit,
  type SystemdEdit,
} from '../kernel/edit-sysctl.js';
import { unifiedDiff } from './apply-diff.js';
import { readRegularFileSync } from './safe-read.js';
import { writeFilesAtomically } from './write-files.js';

/** Reads a file that may not exist yet ('' then); refuses anything but a regular file. */
function readOptional(path: string): string {
  try {
    return readRegularFileSync(path);
  } catch (error) {
    if ((error as { errno?: string }).errno === 'ENOENT') return '';
    throw error;
  }
}

function writeOne(path: string, text: string): void {
  writeFilesAtomically(dirname(path), [{ path: basename(path), content: text }], { force: true });
}

/** One key after `sysctl -p`: the value the file sets and the value the kernel reports. */
export interface SysctlApplied {
  key: string;
  value: string;
  live: string;
}

/** Options of `applySysctlFile`. */
export interface ApplySysctlOptions {
  /** Compute the diff only. @default false */
  dryRun?: boolean | undefined;
  /** The `sysctl` program. @default 'sysctl' (found on PATH) */
  sysctlBinary?: string | undefined;
  /** Where the kernel's settings are read back. @default '/proc/sys' */
  procSysRoot?: string | undefined;
}

/** What `applySysctlFile` did. */
export interface ApplySysctlResult {
  diff: string;
  changes: KeyValueEditChange[];
  /** Every key the edits set, read back after `sysctl -p` (empty for a dry run). */
  applied: SysctlApplied[];
}

/**
 * Edits a sysctl.d file in place (`editSysctlConf`), writes it atomically, loads it with
 * `sysctl -p FILE` and reads each set key back from /proc/sys. Throws
 * `FpmkitSysctlApplyError` when `sysctl -p` fails or a key reads back different (the file stays
 * as written). Kernel settings such as
 * `net.core.somaxconn` are per network namespace: run it in the namespace you mean to change.
 */
export async function applySysctlFile(
  path: string,
  edits: readonly SysctlEdit[],
  options: ApplySysctlOptions = {},
): Promise<ApplySysctlResult> {
  if (typeof path !== 'string' || !isAbsolute(path)) {
    throw new FpmkitInvalidOptionError('path', 'must be an absolute path to a sysctl.d file');
  }
  const before = readOptional(path);
  const edited = editSysctlConf(before, edits);
  const diff = unifiedDiff(path, before, edited.text);
  if (options.dryRun) return { diff, changes: edited.changes, applied: [] };
  if (edited.text !== before) writeOne(path, edited.text);
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      options.sysctlBinary ?? 'sysctl',
      ['-p', path],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error)
          reject(new FpmkitSysctlApplyError(path, stderr || error.message, [], { cause: error }));
        else resolve(stdout);
      },
    );
  });
  const root = options.procSysRoot ?? '/proc/sys';
  const applied = edits
    .filter((e): e is Extract<SysctlEdit, { value: string | number }> => !e.remove)
    .map((e) => {
      const live = readFileSync(`${root}/${e.key.replace(/\./g, '/')}`, 'utf8').trim();
      return { key: e.key, value: String(e.value), live };
    });
  const wrong = applied.filter((a) => a.live.replace(/\s+/g, ' ') !== a.value.replace(/\s+/g, ' '));
  if (wrong.length) throw new FpmkitSysctlApplyError(path, output, wrong);
  return { diff, changes: edited.changes, applied };
}

/** What `writeSystemdDropIn` did and what must follow. */
export interface WriteSystemdDropInResult {
  diff: string;
  changes: KeyValueEditChange[];
  /** The commands that make the change take effect, in order; fpmkit does not run them. */
  commands: string[];
}

/**
 * Edits a systemd drop-in (`/etc/systemd/system/php8.2-fpm.service.d/fpmkit.conf`) in place
 * and writes it atomically. systemd reads unit files only on `daemon-reload`, and settings of
 * the service's process (`LimitNOFILE=`, `TasksMax=` ...) apply to a new process only, so the
 * result names `systemctl daemon-reload` and `systemctl restart UNIT`; running them is the
 * caller's decision (a restart interrupts every pool).
 */
export function writeSystemdDropIn(
  path: string,
  unit: string,
  edits: readonly SystemdEdit[],
  options: { dryRun?: boolean } = {},
): WriteSystemdDropInResult {
  if (typeof path !== 'string' || !isAbsolute(path)) {
    throw new FpmkitInvalidOptionError('path', 'must be an absolute path to a drop-in file');
  }
  if (!/^[A-Za-z0-9@._:-]+$/.test(unit)) {
    throw new FpmkitInvalidOptionError('unit', 'must be a unit name such as php8.2-fpm.service');
  }
  const before = readOptional(path);
  const edited = editSystemdDropIn(before, edits);
  const diff = unifiedDiff(path, before, edited.text);
  if (!options.dryRun && edited.text !== before) writeOne(path, edited.text);
  return {
    diff,
    changes: edited.changes,
    commands:
      edited.text === before ? [] : ['systemctl daemon-reload', `systemctl restart ${unit}`],
  };
}
