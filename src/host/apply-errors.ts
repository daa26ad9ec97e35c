import { FpmkitError } from '../errors.js';

/**
 * Another apply holds the lock of this configuration and did not release it within the wait.
 * `holderPid` is the process that holds it, `lockPath` the lock file. Nothing was changed.
 */
export class FpmkitApplyLockedError extends FpmkitError {
  readonly lockPath: string;
  readonly holderPid: number | undefined;
  constructor(lockPath: string, holderPid: number | undefined, waitedMs: number) {
    super(
      `another apply (pid ${holderPid ?? 'unknown'}) holds ${lockPath}; waited ${waitedMs} ms`,
      'FPMKIT_APPLY_LOCKED',
    );
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}

/**
 * A file of the configuration is not what the plan was made from: it changed on disk since.
 * `path` names it. Nothing was written.
 */
export class FpmkitApplyStaleError extends FpmkitError {
  readonly path: string;
  constructor(path: string) {
    super(`${path} changed on disk since the plan was made; plan again`, 'FPMKIT_APPLY_STALE');
    this.path = path;
  }
}

/**
 * The staged configuration was refused by `php-fpm -t` (or by fpmkit's own check where no
 * binary was found). `output` is what the check printed, `validator` which check ran. Nothing
 * was written and no signal sent.
 */
export class FpmkitApplyRejectedError extends FpmkitError {
  readonly output: string;
  readonly validator: 'php-fpm' | 'fpmkit';
  constructor(validator: 'php-fpm' | 'fpmkit', output: string) {
    super(
      `the changed configuration was refused by ${validator === 'php-fpm' ? 'php-fpm -t' : "fpmkit's check"}: ${output.trim().split('\n').slice(-3).join(' | ')}`,
      'FPMKIT_APPLY_REJECTED',
    );
    this.output = output;
    this.validator = validator;
  }
}

/**
 * The change was written and signalled but did not verify; the previous files were put back.
 * `problems` says what failed (first the new configuration, then the restored one);
 * `restoredVerified` is true when the restored configuration verified.
 */
export class FpmkitApplyFailedError extends FpmkitError {
  readonly problems: readonly string[];
  readonly restoredVerified: boolean;
  constructor(
    problems: readonly string[],
    restoredVerified: boolean,
    options: { cause?: unknown } = {},
  ) {
    super(
      `the change did not verify and was rolled back (${restoredVerified ? 'the previous configuration verified' : 'the previous configuration did NOT verify'}): ${problems.join('; ')}`,
      'FPMKIT_APPLY_FAILED',
      options,
    );
    this.problems = problems;
    this.restoredVerified = restoredVerified;
  }
}
