import { readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../errors.js';
import type { FpmEdit } from '../fpm/edit.js';
import { type FpmEditPlan, mapFpmSources, planFpmEdits } from '../fpm/locate.js';
import { type FpmApplyAction, fpmApplyActionForChanges } from '../fpm/reload-table.js';
import { unifiedDiff } from './apply-diff.js';
import { FpmkitApplyFailedError, FpmkitApplyStaleError } from './apply-errors.js';
import {
  type ApplyJournal,
  type ApplyStep,
  clearApplyJournal,
  readApplyJournal,
  writeApplyJournal,
  writeBackups,
} from './apply-journal.js';
import { acquireApplyLock } from './apply-lock.js';
import {
  type FpmMasterProcess,
  processAlive,
  readFpmMaster,
  reloadFpmMaster,
} from './apply-master.js';
import {
  assertValid,
  type StagedValidation,
  sha256,
  validateStagedFpmConfig,
} from './apply-stage.js';
import { errorLogPath, markLog, type VerifyResult, verifyFpm } from './apply-verify.js';
import { globFpmInclude, loadFpmConfig, readFpmConfigFile } from './fpm-config.js';
import { checkMasterTrust } from './trust.js';
import { recoverFileWrites, writeFilesAtomically } from './write-files.js';

/** A plan made earlier (`planFpmApply`): the changes and the text each file had then. */
export interface FpmApplyPlan {
  edits: FpmEdit[];
  /** Each file the plan changes, with its text when the plan was made. */
  files: { path: string; before: string; after: string }[];
}

/** Options of `applyFpmChanges`, `planFpmApply` and `recoverFpmApply`. */
export interface ApplyFpmOptions {
  /** The master's main configuration file (`php-fpm -y`). */
  configPath: string;
  /** The running master's pid. One of `pid` and `pidFile` is required (not for `dryRun`). */
  pid?: number | undefined;
  /** A file holding the master's pid, read again after a restart. */
  pidFile?: string | undefined;
  /** The global prefix (`-p`). @default the master's `-p`, else '/usr' */
  prefix?: string | undefined;
  /**
   * The php-fpm binary for `-t`. @default the running master's binary (/proc/PID/exe); without
   * a master or binary fpmkit's own check validates (the result says which ran)
   */
  binary?: string | undefined;
  /** Where the lock, journal and backups live. @default `.fpmkit-apply` beside `configPath` */
  stateDir?: string | undefined;
  /** How long to wait for another apply's lock, in milliseconds. @default 10000 */
  lockWaitMs?: number | undefined;
  /** How long the verification may take, in milliseconds. @default 10000 */
  verifyDeadlineMs?: number | undefined;
  /** How long a reload may take to replace the workers, in milliseconds. @default 10000 */
  reloadDeadlineMs?: number | undefined;
  /**
   * Stops and starts the master (systemd, a supervisor, a test), resolving to the new master's
   * pid. Needed when a change requires a restart, or when the master died. @default none: a
   * change that needs a restart is refused
   */
  restart?: (() => Promise<number>) | undefined;
  /** Plan, validate and diff only: nothing written, no signal. @default false */
  dryRun?: boolean | undefined;
  /** The master's environment for `${NAME}`. @default process.env */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Called after each journal step is durable (for progress output). */
  onStep?: ((step: ApplyStep) => void | Promise<void>) | undefined;
}

/** What `applyFpmChanges` did. */
export interface ApplyFpmResult {
  /** `applied`: verified with the new files; `unchanged`: the edits changed nothing; `dry-run`. */
  outcome: 'applied' | 'unchanged' | 'dry-run';
  /** `reload` (SIGUSR2) or `restart`, per the reload table. */
  action: FpmApplyAction;
  /** The signal sent (or that would be): `SIGUSR2`, or `restart` for a stop and start. */
  signal: 'SIGUSR2' | 'restart';
  /** A unified diff of every changed file. */
  diff: string;
  files: string[];
  validation?: StagedValidation;
  verification?: VerifyResult;
  /** Milliseconds from the signal to the end of a passing verification. */
  reloadWindowMs?: number;
  /** The master's pid afterwards. */
  pid?: number;
  /** Present when a journal of an interrupted apply was found and finished first. */
  recovered?: RecoverFpmResult;
}

/** What `recoverFpmApply` did. */
export interface RecoverFpmResult {
  /** `none`: no journal. `kept-new`: it had verified. `restored-old`: the old files were put back. */
  outcome: 'none' | 'kept-new' | 'restored-old';
  step?: ApplyStep;
  verification?: VerifyResult;
}

interface Context {
  options: ApplyFpmOptions;
  stateDir: string;
  env: Readonly<Record<string, string | undefined>>;
}

function contextOf(options: ApplyFpmOptions): Context {
  if (!options || typeof options.configPath !== 'string' || !options.configPath.startsWith('/')) {
    throw new FpmkitInvalidOptionError('configPath', 'must be an absolute path');
  }
  return {
    options,
    stateDir: options.stateDir ?? join(dirname(options.configPath), '.fpmkit-apply'),
    env: options.env ?? process.env,
  };
}

function masterPid(ctx: Context): number | undefined {
  if (ctx.options.pidFile) {
    try {
      const pid = Number(readFileSync(ctx.options.pidFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0) return pid;
    } catch {
      // no pid file: no master
    }
  }
  return ctx.options.pid;
}

/**
 * The master, if it is one fpmkit may signal and whose binary it may run: a pid from a pid file
 * anyone could have written must be a php-fpm binary run by root or by this user
 * (`checkMasterTrust`). Anything else is refused before a file is touched.
 */
async function trustedMaster(pid: number | undefined): Promise<FpmMasterProcess | undefined> {
  if (pid === undefined || !processAlive(pid)) return undefined;
  const trust = await checkMasterTrust('/proc', pid);
  if (!trust.trusted) {
    throw new FpmkitInvalidOptionError(
      'pid',
      `process ${pid} is not a php-fpm master fpmkit trusts: ${trust.reason}`,
    );
  }
  const master = readFpmMaster(pid);
  if (master && trust.basis === 'executable' && trust.executable) master.binary = trust.executable;
  return master;
}

function prefixOf(ctx: Context, master: FpmMasterProcess | undefined): string {
  return ctx.options.prefix ?? master?.prefix ?? '/usr';
}

/** Reads every file of the configuration as FPM would load it: path → text. */
function readTree(ctx: Context, prefix: string): Map<string, string> {
  const map = mapFpmSources(ctx.options.configPath, {
    readFile: readFpmConfigFile,
    glob: globFpmInclude,
    prefix,
    env: ctx.env,
  });
  return new Map(map.files.map((f) => [f.path, f.text]));
}

function commonRoot(paths: readonly string[]): string {
  let root = dirname(paths[0]!);
  for (const p of paths) {
    while (!p.startsWith(root.endsWith(sep) ? root : root + sep)) root = dirname(root);
  }
  return root;
}

/**
 * Plans changes against the files as they are now: which file and line each edit lands on and
 * the text before and after. Nothing is written. Unknown pools and directives and values FPM
 * would not read as their type throw `FpmkitInvalidOptionError`.
 */
export function planFpmApply(edits: readonly FpmEdit[], options: ApplyFpmOptions): FpmApplyPlan {
  const ctx = contextOf(options);
  const pid = masterPid(ctx);
  const master = pid ? readFpmMaster(pid) : undefined;
  const tree = readTree(ctx, prefixOf(ctx, master));
  const plan = planFpmEdits(tree, options.configPath, edits, {
    prefix: prefixOf(ctx, master),
    env: ctx.env,
  });
  return {
    edits: [...edits],
    files: plan.files
      .filter((f) => f.before !== f.after)
      .map((f) => ({ path: f.path, before: f.before, after: f.after })),
  };
}

async function step(ctx: Context, journal: ApplyJournal, next: ApplyStep): Promise<void> {
  journal.step = next;
  writeApplyJournal(ctx.stateDir, journal);
  await ctx.options.onStep?.(next);
}

/** Reloads or restarts; returns the master's pid afterwards, or undefined when it is not running. */
async function signalMaster(
  ctx: Context,
  action: FpmApplyAction,
  pid: number | undefined,
): Promise<number | undefined> {
  if (action === 'reload' && pid !== undefined && processAlive(pid)) {
    await reloadFpmMaster(pid, ctx.options.reloadDeadlineMs ?? 10_000);
    return processAlive(pid) ? pid : undefined;
  }
  if (!ctx.options.restart) {
    throw new FpmkitInvalidOptionError(
      'restart',
      action === 'restart'
        ? 'this change needs a restart of the master (see the reload table); pass a restart callback'
        : 'the master is not running; pass a restart callback to start it',
    );
  }
  return await ctx.options.restart();
}

function writeSet(root: string, files: readonly { path: string; text: string }[]): void {
  writeFilesAtomically(
    root,
    files.map((f) => ({ path: relative(root, f.path).split(sep).join('/'), content: f.text })),
    { force: true },
  );
}

async function verifyNow(
  ctx: Context,
  pid: number | undefined,
  prefix: string,
  log: ReturnType<typeof markLog>,
): Promise<VerifyResult> {
  if (pid === undefined) {
    return {
      ok: false,
      checks: [{ kind: 'master', ok: false, evidence: 'no master running' }],
      elapsedMs: 0,
    };
  }
  const { config } = loadFpmConfig(ctx.options.configPath, { prefix, env: ctx.env });
  return await verifyFpm({
    pid,
    config,
    prefix,
    log,
    deadlineMs: ctx.options.verifyDeadlineMs ?? 10_000,
  });
}

const problemsOf = (v: VerifyResult) =>
  v.checks
    .filter((c) => !c.ok)
    .map((c) => `${c.kind}${c.pool ? ` [${c.pool}]` : ''}: ${c.evidence}`);

/**
 * Changes a running FPM: takes the lock, finishes any interrupted apply, plans the edits,
 * validates the whole changed configuration with `php-fpm -t` of the master's binary, backs up
 * and replaces each file through `writeFilesAtomically` with a journal of the step reached,
 * reloads (SIGUSR2) or restarts as the reload table says, and verifies within a deadline. On a
 * failed verification the old files are written back, the master reloaded or restarted again
 * and verified, and `FpmkitApplyFailedError` thrown with the evidence.
 *
 * Typed errors before anything is written: `FpmkitApplyLockedError` (another apply),
 * `FpmkitApplyStaleError` (a plan's file changed), `FpmkitInvalidOptionError` (unknown pool or
 * directive, a value of the wrong type), `FpmkitApplyRejectedError` (`php-fpm -t` refused).
 */
export async function applyFpmChanges(
  changes: readonly FpmEdit[] | FpmApplyPlan,
  options: ApplyFpmOptions,
): Promise<ApplyFpmResult> {
  const ctx = contextOf(options);
  const edits = Array.isArray(changes) ? (changes as FpmEdit[]) : (changes as FpmApplyPlan).edits;
  if (!Array.isArray(edits))
    throw new FpmkitInvalidOptionError('changes', 'must be an array of edits or a plan');
  const lock = options.dryRun
    ? undefined
    : await acquireApplyLock(ctx.stateDir, options.lockWaitMs ?? 10_000);
  try {
    const recovered = options.dryRun ? undefined : await recoverLocked(ctx);
    let pid = masterPid(ctx);
    const master = await trustedMaster(pid);
    const prefix = prefixOf(ctx, master);
    const tree = readTree(ctx, prefix);
    if (!Array.isArray(changes)) {
      for (const f of (changes as FpmApplyPlan).files) {
        if (tree.get(f.path) !== f.before) throw new FpmkitApplyStaleError(f.path);
      }
    }
    const plan: FpmEditPlan = planFpmEdits(tree, options.configPath, edits, {
      prefix,
      env: ctx.env,
    });
    const changed = plan.files.filter((f) => f.before !== f.after);
    const action = fpmApplyActionForChanges(
      plan.changes.filter((c) => c.action !== 'unchanged' && c.action !== 'absent'),
    );
    const signal = action === 'reload' ? 'SIGUSR2' : 'restart';
    const diff = changed.map((f) => unifiedDiff(f.path, f.before, f.after)).join('');
    const base = {
      action,
      signal,
      diff,
      files: changed.map((f) => f.path),
      ...(recovered && recovered.outcome !== 'none' ? { recovered } : {}),
    } as const;
    if (changed.length === 0) return { outcome: 'unchanged', ...base };
    const after = new Map(tree);
    for (const f of changed) after.set(f.path, f.after);
    const validation = await validateStagedFpmConfig({
      mainPath: options.configPath,
      files: after,
      prefix,
      binary: options.binary ?? master?.binary,
      extraArgs: master?.testArgs ?? [],
      env: ctx.env,
    });
    assertValid(validation);
    if (options.dryRun) return { outcome: 'dry-run', ...base, validation };
    if (action === 'restart' && !options.restart) {
      throw new FpmkitInvalidOptionError(
        'restart',
        `${changed.map((f) => f.path).join(', ')}: this change needs a restart of the master; pass a restart callback`,
      );
    }
    if (pid === undefined || !processAlive(pid)) {
      throw new FpmkitInvalidOptionError(
        'pid',
        'no running master: give pid or pidFile of a running php-fpm master',
      );
    }
    const root = commonRoot(changed.map((f) => f.path));
    const backups = writeBackups(
      ctx.stateDir,
      changed.map((f) => f.before),
    );
    const journal: ApplyJournal = {
      fpmkit: 'apply-journal',
      version: 1,
      step: 'prepared',
      configPath: options.configPath,
      root,
      action,
      pid,
      files: changed.map((f, i) => ({
        path: f.path,
        backup: backups[i]!,
        beforeSha256: sha256(f.before),
        afterSha256: sha256(f.after),
      })),
    };
    await step(ctx, journal, 'prepared');
    for (const f of changed) {
      const now = readTree(ctx, prefix).get(f.path);
      if (now !== f.before) {
        clearApplyJournal(ctx.stateDir);
        throw new FpmkitApplyStaleError(f.path);
      }
    }
    await step(ctx, journal, 'writing');
    writeSet(
      root,
      changed.map((f) => ({ path: f.path, text: f.after })),
    );
    await step(ctx, journal, 'written');
    const log = markLog(
      errorLogPath(loadFpmConfig(options.configPath, { prefix, env: ctx.env }).config, prefix),
    );
    await step(ctx, journal, 'signalling');
    const started = Date.now();
    pid = await signalMaster(ctx, action, pid);
    if (pid !== undefined) journal.pid = pid;
    await step(ctx, journal, 'signalled');
    const verification = await verifyNow(ctx, pid, prefix, log);
    if (verification.ok) {
      const reloadWindowMs = Date.now() - started;
      await step(ctx, journal, 'verified');
      clearApplyJournal(ctx.stateDir);
      return {
        outcome: 'applied',
        ...base,
        validation,
        verification,
        reloadWindowMs,
        ...(pid !== undefined ? { pid } : {}),
      };
    }
    const restored = await restoreOld(ctx, journal, prefix, pid);
    throw new FpmkitApplyFailedError(
      [
        ...problemsOf(verification),
        ...(restored.ok ? [] : problemsOf(restored).map((p) => `after restore: ${p}`)),
      ],
      restored.ok,
    );
  } finally {
    lock?.release();
  }
}

/** Puts the backed-up files back, reloads or restarts, verifies, and clears the journal. */
async function restoreOld(
  ctx: Context,
  journal: ApplyJournal,
  prefix: string,
  pid: number | undefined,
  resignal = true,
): Promise<VerifyResult> {
  await step(ctx, journal, 'rolling-back');
  const old = journal.files.map((f) => ({ path: f.path, text: readFileSync(f.backup, 'utf8') }));
  for (const [i, f] of old.entries()) {
    if (sha256(f.text) !== journal.files[i]!.beforeSha256) {
      throw new FpmkitIoError(
        journal.files[i]!.backup,
        'the backup does not match the journal; the files were left as they are',
      );
    }
  }
  writeSet(journal.root, old);
  const log = markLog(
    errorLogPath(loadFpmConfig(ctx.options.configPath, { prefix, env: ctx.env }).config, prefix),
  );
  const alive = pid !== undefined && processAlive(pid) ? pid : undefined;
  const next =
    alive !== undefined && !resignal
      ? alive
      : await signalMaster(ctx, alive === undefined ? 'restart' : journal.action, alive);
  const verification = await verifyNow(ctx, next, prefix, log);
  if (verification.ok) clearApplyJournal(ctx.stateDir);
  return verification;
}

async function recoverLocked(ctx: Context): Promise<RecoverFpmResult> {
  const journal = readApplyJournal(ctx.stateDir);
  if (!journal) return { outcome: 'none' };
  recoverFileWrites(journal.root);
  const pid = masterPid(ctx) ?? journal.pid;
  const master = await trustedMaster(pid);
  const prefix = prefixOf(ctx, master);
  const at = journal.step;
  if (at === 'verified') {
    clearApplyJournal(ctx.stateDir);
    const verification = await verifyNow(ctx, master ? pid : undefined, prefix, undefined);
    return { outcome: 'kept-new', step: at, verification };
  }
  const signalled = at === 'signalling' || at === 'signalled' || at === 'rolling-back';
  const current = journal.files.map((f) => {
    try {
      return sha256(readFileSync(f.path, 'utf8'));
    } catch {
      return '';
    }
  });
  const allOld = current.every((h, i) => h === journal.files[i]!.beforeSha256);
  if (allOld && !signalled && master) {
    clearApplyJournal(ctx.stateDir);
    const verification = await verifyNow(ctx, pid, prefix, undefined);
    return { outcome: 'restored-old', step: at, verification };
  }
  const verification = await restoreOld(ctx, journal, prefix, master ? pid : undefined, signalled);
  if (!verification.ok) throw new FpmkitApplyFailedError(problemsOf(verification), false);
  return { outcome: 'restored-old', step: at, verification };
}

/**
 * Finishes an apply that was interrupted (killed, crashed): with the lock held, the file
 * writer's own journal is finished first, then the files are brought back to the old set
 * (unless the apply had verified, then the new set stays), the master is reloaded or
 * restarted if it may have seen the new files, and the host verified.
 */
export async function recoverFpmApply(options: ApplyFpmOptions): Promise<RecoverFpmResult> {
  const ctx = contextOf(options);
  const lock = await acquireApplyLock(ctx.stateDir, options.lockWaitMs ?? 10_000);
  try {
    return await recoverLocked(ctx);
  } finally {
    lock.release();
  }
}
