import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isFpmkitError } from '../errors.js';
import type { FpmEdit } from '../fpm/edit.js';
import {
  type ApplyFpmOptions,
  type ApplyFpmResult,
  applyFpmChanges,
  recoverFpmApply,
} from '../host/apply.js';
import { FpmkitApplyFailedError, FpmkitApplyRejectedError } from '../host/apply-errors.js';
import { type ApplySource, readApplySource } from './apply-source.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, type Style, styleFor } from './io.js';

export const APPLY_HELP = `Usage: fpmkit apply --config FILE --set POOL.DIRECTIVE=VALUE [...] [options]
       fpmkit apply --config FILE --from PLAN_OR_REPORT [--pool NAME] [options]
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
  --from FILE            apply what a file sets, only where the running value
                         differs: the output of fpmkit plan --json, a pool file
                         fpmkit plan rendered, or fpmkit doctor --json (its
                         FPM fix); other files in it are listed, not written
  --pool NAME            with --from: the running pool a one-pool plan goes to
  --include-identity     with --from: also set user, group, listen and
                         listen.owner/group/mode (kept as they are by default)
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

/** What --from found, for people: the changes, what was kept and the files left to write. */
function sourceLines(source: ApplySource, from: string): string {
  const what = { plan: 'plan', doctor: "doctor's fix", fpm: 'FPM file' }[source.kind];
  const out = [
    `from ${what} ${from}: ${source.edits.length} value(s) differ from the running configuration`,
    ...source.edits.map(
      (e) => `  [${e.section}] ${e.directive}${e.remove ? ' (remove)' : ` = ${String(e.value)}`}`,
    ),
  ];
  for (const s of source.skipped)
    out.push(
      `  kept [${s.section}] ${s.directive} (${source.kind === 'plan' ? 'the plan' : 'the file'} says ${s.value}; --include-identity sets it)`,
    );
  for (const f of source.notApplied) out.push(`  not written by apply: ${f.name} (${f.how})`);
  return `${out.join('\n')}\n`;
}

/** The command line read: the options for `applyFpmChanges`, the edits and the flags. */
interface ApplyCommand {
  options: ApplyFpmOptions;
  edits: FpmEdit[];
  args: ReturnType<typeof parseArgs>;
}

/** A command that runs `--restart-command` and reads the new master's pid from the pid file. */
function restartBy(command: string, pidFile: string): () => Promise<number> {
  return async () => {
    const r = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`--restart-command exited ${r.status}: ${r.stderr}`);
    return Number(readFileSync(pidFile, 'utf8').trim());
  };
}

/** Reads the command line; throws UsageError. With --help only `args` matters. */
function readApplyCommand(argv: readonly string[]): ApplyCommand {
  const taken = takeRepeated(argv);
  const args = parseArgs(taken.rest, {
    flags: ['dry-run', 'recover', 'json', 'help', 'include-identity'],
    valued: [
      'config',
      'from',
      'pool',
      'pid',
      'pid-file',
      'prefix',
      'restart-command',
      'state-dir',
      'lock-wait-ms',
      'verify-deadline-ms',
    ],
  });
  const edits = taken.edits;
  if (args.options.help) return { options: { configPath: '' }, edits, args };
  const config = args.options.config;
  if (typeof config !== 'string') throw new UsageError('--config FILE is required');
  if (args.positionals.length) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  const from = typeof args.options.from === 'string';
  if (!args.options.recover && edits.length === 0 && !from)
    throw new UsageError('give --from FILE or at least one --set or --unset');
  if (!from && (args.options.pool || args.options['include-identity']))
    throw new UsageError('--pool and --include-identity go with --from');
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
  const options: ApplyFpmOptions = {
    configPath: config,
    ...(pid !== undefined ? { pid } : {}),
    ...(pidFile ? { pidFile } : {}),
    ...(str('prefix') ? { prefix: str('prefix')! } : {}),
    ...(str('state-dir') ? { stateDir: str('state-dir')! } : {}),
    ...(lockWaitMs !== undefined ? { lockWaitMs } : {}),
    ...(verifyDeadlineMs !== undefined ? { verifyDeadlineMs } : {}),
    ...(args.options['dry-run'] ? { dryRun: true } : {}),
    ...(restartCommand && pidFile ? { restart: restartBy(restartCommand, pidFile) } : {}),
  };
  return { options, edits, args };
}

/** What an apply did, for people. */
function printApplied(io: CliIo, style: Style, r: ApplyFpmResult): void {
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
}

/** Why an apply stopped, for people, as an exit code; rethrows what is not fpmkit's. */
function applyFailure(io: CliIo, style: Style, error: unknown, json: boolean): number {
  if (json && isFpmkitError(error)) {
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

/** `fpmkit apply`: returns the exit code. */
export async function runApply(argv: readonly string[], io: CliIo): Promise<number> {
  const style = styleFor(io);
  // A UsageError thrown here reaches main, which prints it with where the help is.
  const command = readApplyCommand(argv);
  const { args } = command;
  if (args.options.help) {
    io.stdout(APPLY_HELP);
    return EXIT.ok;
  }
  const options: ApplyFpmOptions = { ...command.options, env: io.env };
  let edits = command.edits;
  const json = args.options.json === true;
  try {
    if (args.options.recover) {
      const r = await recoverFpmApply(options);
      const failed = r.verification !== undefined && !r.verification.ok;
      if (json) io.stdout(jsonDocument('apply', !failed, { ...r }));
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
    let source: ApplySource | undefined;
    if (typeof args.options.from === 'string') {
      source = readApplySource({
        from: args.options.from,
        configPath: options.configPath,
        pool: typeof args.options.pool === 'string' ? args.options.pool : undefined,
        includeIdentity: args.options['include-identity'] === true,
        prefix: options.prefix,
        env: io.env,
      });
      edits = [...edits, ...source.edits];
      if (!json) io.stdout(sourceLines(source, args.options.from));
      if (edits.length === 0) {
        if (json) io.stdout(jsonDocument('apply', true, { outcome: 'unchanged', source }));
        else io.stdout('nothing to change: every value is already in force\n');
        return EXIT.ok;
      }
    }
    const r = await applyFpmChanges(edits, options);
    if (json) io.stdout(jsonDocument('apply', true, source ? { ...r, source } : { ...r }));
    else printApplied(io, style, r);
    return EXIT.ok;
  } catch (error) {
    return applyFailure(io, style, error, json);
  }
}
