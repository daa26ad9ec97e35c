import { isFpmkitError } from '../errors.js';
import type { Finding } from '../findings.js';
import { parseFpmPhpVersion } from '../fpm/versions.js';
import {
  checkFpmConfigFile,
  checkFpmConfigOnHost,
  readFpmConfigStdin,
} from '../host/fpm-config.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose, styleFor } from './io.js';

export const CHECK_HELP = `Usage: fpmkit check FILE [options]

Decides as \`php-fpm -t\` run by the same user would, with FPM's own messages,
and warns about what FPM accepts but you would not want. FILE - reads the
configuration from standard input (at most 16 MiB).

Only regular files are read, at most 16 MiB each: a FIFO, a device or a larger
file, named directly or by an \`include\`, is refused without reading it.

Options:
  --json            print { ok, file, findings } as JSON
  --as-root         decide as root would (every pool needs \`user\`)
  --not-root        decide as a non-root user would
  -R, --allow-root  as php-fpm -R: root may run pools without \`user\`
  --prefix DIR      the global prefix, as php-fpm -p
  --somaxconn N     warn when listen.backlog exceeds this net.core.somaxconn
  --php-version V   decide as php-fpm of PHP V does (8.0 to 8.4; default 8.2)
  --help            show this help

Exit status: 0 when php-fpm would accept the file, 1 when it would refuse it,
2 for a bad command line, 3 when the file or an include cannot be read or is
refused.
`;

/** FPM's own `[file:line] ` at the start of a load message. */
const FPM_WHERE_RE = /^\[(.+):(\d+)\] /;

/**
 * One finding as `file:line: severity: message [code]`, the location said once: FPM's own
 * `[file:line]` prefix is dropped, and kept as a note only where FPM counts the line otherwise
 * (after an include).
 */
function formatFinding(f: Finding, style: ReturnType<typeof styleFor>): string {
  const label =
    f.severity === 'error'
      ? style.red('error')
      : f.severity === 'warning'
        ? style.yellow('warning')
        : style.dim('info');
  let message = f.message;
  const fpmWhere = FPM_WHERE_RE.exec(message);
  if (fpmWhere && f.file !== undefined && fpmWhere[1] === f.file) {
    message = message.slice(fpmWhere[0].length);
    if (f.line !== undefined && Number(fpmWhere[2]) !== f.line)
      message += ` (php-fpm counts this as line ${fpmWhere[2]})`;
  }
  const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ''}: ` : '';
  const fix = f.fix ? `\n    ${style.dim(`fix: ${f.fix}`)}` : '';
  return `${where}${label}: ${message} ${style.dim(`[${f.code}]`)}${fix}\n`;
}

/** Names by which standard input is opened as a path, where `-` was probably meant. */
const STDIN_PATHS = new Set(['/dev/stdin', '/dev/fd/0', '/proc/self/fd/0']);

/**
 * `fpmkit check FILE`: returns the exit code. `readStdin` reads the configuration for
 * `FILE` `-`. @default a bounded read of standard input (`readFpmConfigStdin`)
 */
export function runCheck(
  argv: readonly string[],
  io: CliIo,
  readStdin: () => string = readFpmConfigStdin,
): number {
  const args = parseArgs(argv, {
    flags: ['json', 'as-root', 'not-root', 'allow-root', 'R', 'help'],
    valued: ['prefix', 'somaxconn', 'php-version'],
  });
  if (args.options.help) {
    io.stdout(CHECK_HELP);
    return EXIT.ok;
  }
  const [file, ...extra] = args.positionals;
  if (!file) throw new UsageError('check needs a FILE');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  if (args.options['as-root'] && args.options['not-root'])
    throw new UsageError('--as-root and --not-root exclude each other');
  const somaxconn = intOption(args, 'somaxconn');
  const prefix = args.options.prefix;
  const phpVersion = args.options['php-version'];
  if (phpVersion !== undefined) {
    try {
      parseFpmPhpVersion(String(phpVersion), '--php-version');
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  let result: ReturnType<typeof checkFpmConfigFile>;
  try {
    const options = {
      env: io.env,
      ...(args.options['as-root']
        ? { asRoot: true }
        : args.options['not-root']
          ? { asRoot: false }
          : {}),
      ...(args.options['allow-root'] || args.options.R ? { allowRoot: true } : {}),
      ...(typeof prefix === 'string' ? { prefix } : {}),
      ...(somaxconn !== undefined ? { somaxconn } : {}),
      ...(typeof phpVersion === 'string' ? { phpVersion } : {}),
    };
    result =
      file === '-' ? checkFpmConfigOnHost(readStdin(), options) : checkFpmConfigFile(file, options);
  } catch (error) {
    if (!isFpmkitError(error)) throw error;
    const hint = STDIN_PATHS.has(file) ? ' (to check standard input, name it as -)' : '';
    const message = `${error.message}${hint}`;
    if (args.options.json) io.stdout(jsonError('check', { code: error.code, message }, { file }));
    else io.stderr(prose(io, `fpmkit check: ${message}\n`, 2));
    return EXIT.input;
  }
  if (args.options.json) {
    io.stdout(jsonDocument('check', result.ok, { file, findings: result.findings }));
    return result.ok ? EXIT.ok : EXIT.problems;
  }
  const style = styleFor(io);
  const shown = file === '-' ? 'standard input' : file;
  for (const f of result.findings) io.stdout(prose(io, formatFinding(f, style), 8));
  const count = (s: Finding['severity']) => result.findings.filter((f) => f.severity === s).length;
  const tally = `${count('error')} error(s), ${count('warning')} warning(s)`;
  io.stdout(
    prose(
      io,
      result.ok
        ? `${style.green('ok')}: php-fpm -t would accept ${shown} (${tally})\n`
        : `${style.red('refused')}: php-fpm -t would refuse ${shown} and exit 78 (${tally})\n`,
      2,
    ),
  );
  return result.ok ? EXIT.ok : EXIT.problems;
}
