import { isFpmkitError } from '../errors.js';
import type { Finding } from '../findings.js';
import { checkFpmConfigFile } from '../host/fpm-config.js';
import { intOption, parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, styleFor } from './io.js';

export const CHECK_HELP = `Usage: fpmkit check FILE [options]

Decides as \`php-fpm -t\` run by the same user would, with FPM's own messages,
and warns about what FPM accepts but you would not want.

Options:
  --json            print { ok, file, findings } as JSON
  --as-root         decide as root would (every pool needs \`user\`)
  --not-root        decide as a non-root user would
  -R, --allow-root  as php-fpm -R: root may run pools without \`user\`
  --prefix DIR      the global prefix, as php-fpm -p
  --somaxconn N     warn when listen.backlog exceeds this net.core.somaxconn
  --help            show this help

Exit status: 0 when php-fpm would accept the file, 1 when it would refuse it,
2 for a bad command line, 3 when the file cannot be read.
`;

function formatFinding(f: Finding, style: ReturnType<typeof styleFor>): string {
  const label =
    f.severity === 'error'
      ? style.red('error  ')
      : f.severity === 'warning'
        ? style.yellow('warning')
        : style.dim('info   ');
  const where = f.file ? style.dim(` (${f.file}${f.line ? `:${f.line}` : ''})`) : '';
  const fix = f.fix ? `\n         ${style.dim(`fix: ${f.fix}`)}` : '';
  return `${label} ${f.message}${where}${fix}\n`;
}

/** `fpmkit check FILE`: returns the exit code. */
export function runCheck(argv: readonly string[], io: CliIo): number {
  const args = parseArgs(argv, {
    flags: ['json', 'as-root', 'not-root', 'allow-root', 'R', 'help'],
    valued: ['prefix', 'somaxconn'],
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
  let result: ReturnType<typeof checkFpmConfigFile>;
  try {
    result = checkFpmConfigFile(file, {
      env: io.env,
      ...(args.options['as-root']
        ? { asRoot: true }
        : args.options['not-root']
          ? { asRoot: false }
          : {}),
      ...(args.options['allow-root'] || args.options.R ? { allowRoot: true } : {}),
      ...(typeof prefix === 'string' ? { prefix } : {}),
      ...(somaxconn !== undefined ? { somaxconn } : {}),
    });
  } catch (error) {
    if (!isFpmkitError(error)) throw error;
    if (args.options.json)
      io.stdout(
        `${JSON.stringify({ ok: false, file, error: { code: error.code, message: error.message } })}\n`,
      );
    else io.stderr(`fpmkit check: ${error.message}\n`);
    return EXIT.input;
  }
  if (args.options.json) {
    io.stdout(`${JSON.stringify({ ok: result.ok, file, findings: result.findings }, null, 2)}\n`);
    return result.ok ? EXIT.ok : EXIT.problems;
  }
  const style = styleFor(io);
  for (const f of result.findings) io.stdout(formatFinding(f, style));
  const count = (s: Finding['severity']) => result.findings.filter((f) => f.severity === s).length;
  const tally = `${count('error')} error(s), ${count('warning')} warning(s)`;
  io.stdout(
    result.ok
      ? `${style.green('ok')}: php-fpm -t would accept ${file} (${tally})\n`
      : `${style.red('refused')}: php-fpm -t would refuse ${file} and exit 78 (${tally})\n`,
  );
  return result.ok ? EXIT.ok : EXIT.problems;
}
