import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isFpmkitError } from '../errors.js';
import type { FpmEdit } from '../fpm/edit.js';
import { type ApplyFpmOptions, applyFpmChanges, recoverFpmApply } from '../host/apply.js';
import { FpmkitApplyFailedError, FpmkitApplyRejectedError } from '../host/apply-errors.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, styleFor } from './io.js';

export const APPLY_HELP = `Usage: fpmkit apply --config FILE --set POOL.DIRECTIVE=VALUE [...] [options]
       fpmkit apply --config FILE --recover [options]

Changes a running php-fpm: edits the files where each directive is set (comments,
order and includes kept), validates the whole changed configuration with the
running master's own \`php-fpm -t\`, replaces the files atomically with a
journal, reloads (SIGUSR2) or restarts as the change needs, and verifies that
every pool answers, each listener's live backlog matches the files and the
error log has no new ERROR. On failure the old files are put back, FPM is
reloaded or restarted again and verified.

Options:
  --config FILE          the master's main configuration file (php-fpm -y)
  --set P.D=V            set directive D of pool P (global.D for [global]);
                         repeatable; [P].D=V for a pool name with a dot
  --unset P.D            remove directive D of pool P; repeatable
  --pid N                the master's pid
  --pid-file FILE        a file with the master's pid (read again after a restart)
  --prefix DIR           the master's -p prefix (FPM overwrites its arguments
                         with its title, so it cannot be read back) [/usr]
  --restart-command CMD  how to restart the master (e.g. systemctl restart
                         php8.2-fpm); needed for listen.backlog, listen.mode ...
  --state-dir DIR        lock, journal and backups [.fpmkit-apply beside FILE]
  --lock-wait-ms N       wait this long for another apply [10000]
  --verify-deadline-ms N how long the verification may take [10000]
  --dry-run              print the diff and the signal; write nothing
  --recover              finish an interrupted apply and verify
  --json                 print the result as JSON
  --help                 show this help

Exit status: 0 applied (or nothing to do), 1 refused by php-fpm -t or rolled
back after a failed verification, 2 bad command line, 3 an input could not be
read, the lock is held, or a file changed since it was read.
`;

/** `POOL.DIRECTIVE=VALUE` (or `[POOL].DIRECTIVE=VALUE`) as an edit. */
export function parseSetArgument(text: string, remove: boolean): FpmEdit {
  const m = /^(?:\[([^\]]+)\]|([^.=[]+))\.([^=]+?)(?:=(.*))?$/s.exec(text);
  const section = m?.[1] ?? m?.[2];
  if (!m || !section || !m[3]) {
    throw new UsageError(
      `--${remove ? 'unset' : 'set'} ${text}: expected POOL.DIRECTIVE${remove ? '' : '=VALUE'}`,
    );
  }
  if (remove) {
    if (m[4] !== undefined) throw new UsageError(`--unset ${text}: takes no value`);
    return { section, directive: m[3], remove: true };
  }
  if (m[4] === undefined) throw new UsageError(`--set ${text}: expected POOL.DIRECTIVE=VALUE`);
  return { section, directive: m[3], value: m[4] };
}

/** Takes the repeatable --set/--unset out of argv (parseArgs keeps one value per name). */
function takeRepeated(argv: readonly string[]): { rest: string[]; edits: FpmEdit[] } {
  const rest: string[] = [];
  const edits: FpmEdit[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--(set|unset)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      rest.push(arg);
      if (arg === '--') {
        rest.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`option --${m[1]} needs a value`);
    edits.push(parseSetArgument(value, m[1] === 'unset'));
  }
  return { rest, edits };
}

/** `fpmkit apply`: returns the exit code. */
export async function runApply(argv: readonly string[], io: CliIo): Promise<number> {
  const style = styleFor(io);
  let options: ApplyFpmOptions;
  let edits: FpmEdit[];
  let args: ReturnType<typeof parseArgs>;
  {
    // A UsageError thrown here reaches main, which prints it with where the help is.
    const taken = takeRepeated(argv);
    edits = taken.edits;
    args = parseArgs(taken.rest, {
      flags: ['dry-run', 'recover', 'json', 'help'],
      valued: [
        'config',
        'pid',
        'pid-file',
        'prefix',
        'restart-command',
        'state-dir',
        'lock-wait-ms',
        'verify-deadline-ms',
      ],
    });
    if (args.options.help) {
      io.stdout(APPLY_HELP);
      return EXIT.ok;
    }
    const config = args.options.config;
    if (typeof config !== 'string') throw new UsageError('--config FILE is required');
    if (args.positionals.length) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
    if (!args.options.recover && edits.length === 0)
      throw new UsageError('give at least one --set or --unset');
    const pid = intOption(args, 'pid');
    const lockWaitMs = intOption(args, 'lock-wait-ms');
    const verifyDeadlineMs = intOption(args, 'verify-deadline-ms');
    const str = (name: string) =>
      typeof args.options[name] === 'string' ? (args.options[name] as string) : undefined;
    const pidFile = str('pid-file');
    const restartCommand = str('restart-command');
    if (restartCommand && !pidFile) {
      throw new UsageError('--restart-command needs --pid-file to find the new master');
    }
    options = {
      configPath: config,
      ...(pid !== undefined ? { pid } : {}),
      ...(pidFile ? { pidFile } : {}),
      ...(str('prefix') ? { prefix: str('prefix')! } : {}),
      ...(str('state-dir') ? { stateDir: str('state-dir')! } : {}),
      ...(lockWaitMs !== undefined ? { lockWaitMs } : {}),
      ...(verifyDeadlineMs !== undefined ? { verifyDeadlineMs } : {}),
      ...(args.options['dry-run'] ? { dryRun: true } : {}),
      env: io.env,
      ...(restartCommand
        ? {
            restart: async () => {
              const r = spawnSync('/bin/sh', ['-c', restartCommand], {
                encoding: 'utf8',
                timeout: 120_000,
              });
              if (r.status !== 0)
                throw new Error(`--restart-command exited ${r.status}: ${r.stderr}`);
              return Number(readFileSync(pidFile!, 'utf8').trim());
            },
          }
        : {}),
    };
  }
  try {
    if (args.options.recover) {
      const r = await recoverFpmApply(options);
      const failed = r.verification !== undefined && !r.verification.ok;
      if (args.options.json) io.stdout(jsonDocument('apply', !failed, { ...r }));
      else
        io.stdout(
          prose(
            io,
            `recovery: ${r.outcome}${r.step ? ` (interrupted at ${r.step})` : ''}${r.verification ? `, ${r.verification.ok ? 'verified' : 'NOT verified'}` : ''}\n`,
            2,
          ),
        );
      return failed ? EXIT.problems : EXIT.ok;
    }
    const r = await applyFpmChanges(edits, options);
    if (args.options.json) {
      io.stdout(jsonDocument('apply', true, { ...r }));
      return EXIT.ok;
    }
    io.stdout(r.diff);
    const validator = r.validation
      ? r.validation.validator === 'php-fpm'
        ? `php-fpm -t (${r.validation.binary})`
        : "fpmkit's own check (no php-fpm binary found)"
      : 'none';
    if (r.outcome === 'dry-run') {
      io.stdout(
        prose(
          io,
          `dry run: would ${r.action === 'reload' ? 'send SIGUSR2 (reload)' : 'restart the master'}; validated by ${validator}; nothing written\n`,
          2,
        ),
      );
    } else if (r.outcome === 'unchanged') {
      io.stdout('nothing to change: every value is already in force\n');
    } else {
      io.stdout(
        prose(
          io,
          `${style.green('applied')} by ${r.signal === 'SIGUSR2' ? 'SIGUSR2 (reload)' : 'restart'} in ${r.reloadWindowMs} ms; validated by ${validator}\n`,
          2,
        ),
      );
      for (const c of r.verification?.checks ?? [])
        io.stdout(prose(io, `  ${c.kind}${c.pool ? ` [${c.pool}]` : ''}: ${c.evidence}\n`, 4));
    }
    return EXIT.ok;
  } catch (error) {
    if (args.options.json && isFpmkitError(error)) {
      const output = error instanceof FpmkitApplyRejectedError ? { output: error.output } : {};
      io.stdout(jsonError('apply', { code: error.code, message: error.message, ...output }));
      return error instanceof FpmkitApplyRejectedError || error instanceof FpmkitApplyFailedError
        ? EXIT.problems
        : error.code === 'FPMKIT_INVALID_OPTION'
          ? EXIT.usage
          : EXIT.input;
    }
    if (error instanceof FpmkitApplyRejectedError) {
      io.stderr(
        `${prose(io, `${style.red('refused')}: ${error.validator === 'php-fpm' ? 'php-fpm -t' : "fpmkit's check"} rejected the change; nothing written, no signal sent`, 2)}\n${error.output}`,
      );
      return EXIT.problems;
    }
    if (error instanceof FpmkitApplyFailedError) {
      io.stderr(prose(io, `${style.red('rolled back')}: ${error.message}\n`, 2));
      return EXIT.problems;
    }
    if (isFpmkitError(error)) {
      io.stderr(prose(io, `fpmkit apply: ${error.message}\n`, 2));
      return error.code === 'FPMKIT_INVALID_OPTION' ? EXIT.usage : EXIT.input;
    }
    throw error;
  }
}
