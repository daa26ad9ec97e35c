import { isFpmkitError } from '../errors.js';
import { renderFpmConfig } from '../fpm/render.js';
import { readRegularFileSync } from '../host/safe-read.js';
import { parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, prose } from './io.js';

export const RENDER_HELP = `Usage: fpmkit render MODEL.json [options]

Renders a php-fpm configuration from a JSON model ({ "global": {...}, "pools": [...] },
the shape of fpmkit's FpmConfig) to standard output. Use - to read standard input.

Options:
  --allow-pool-variable  let values contain $pool (FPM substitutes the pool name)
  --help                 show this help

Exit status: 0 rendered, 2 bad command line, 3 unreadable or invalid model.
`;

/** `fpmkit render MODEL.json`: returns the exit code. */
export function runRender(argv: readonly string[], io: CliIo, readStdin: () => string): number {
  const args = parseArgs(argv, { flags: ['help', 'allow-pool-variable'] });
  if (args.options.help) {
    io.stdout(RENDER_HELP);
    return EXIT.ok;
  }
  const [file, ...extra] = args.positionals;
  if (!file) throw new UsageError('render needs a MODEL.json file (or - for standard input)');
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  let model: unknown;
  try {
    model = JSON.parse(file === '-' ? readStdin() : readRegularFileSync(file));
  } catch (error) {
    io.stderr(prose(io, `fpmkit render: cannot read ${file}: ${(error as Error).message}\n`, 2));
    return EXIT.input;
  }
  try {
    io.stdout(
      renderFpmConfig(model as never, {
        allowPoolVariable: args.options['allow-pool-variable'] === true,
      }),
    );
    return EXIT.ok;
  } catch (error) {
    if (!isFpmkitError(error)) throw error;
    io.stderr(prose(io, `fpmkit render: ${error.message}\n`, 2));
    return EXIT.input;
  }
}
