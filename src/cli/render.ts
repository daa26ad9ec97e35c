import { isFpmkitError } from '../errors.js';
import { renderFpmConfig } from '../fpm/render.js';
import { readRegularFileSync } from '../host/safe-read.js';
import { parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose } from './io.js';

export const RENDER_HELP = `Usage: fpmkit render MODEL.json [options]

Renders a php-fpm configuration from a JSON model ({ "global": {...}, "pools": [...] },
the shape of fpmkit's FpmConfig) to standard output. Use - to read standard input.

Options:
  --allow-pool-variable  let values contain $pool (FPM substitutes the pool name)
  --json                 print { ok, command, file, config } with the file as a string
  --help                 show this help

Exit status: 0 rendered, 2 bad command line, 3 unreadable or invalid model.
`;

/** `fpmkit render MODEL.json`: returns the exit code. */
export function runRender(argv: readonly string[], io: CliIo, readStdin: () => string): number {
  const args = parseArgs(argv, { flags: ['help', 'allow-pool-variable', 'json'] });
  const json = args.options.json === true;
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
    const message = `cannot read ${file}: ${(error as Error).message}`;
    // A model that is not JSON is a parse error; a file that cannot be read, an I/O error.
    const code = isFpmkitError(error) ? error.code : 'FPMKIT_PARSE';
    if (json) io.stdout(jsonError('render', { code, message }, { file }));
    else io.stderr(prose(io, `fpmkit render: ${message}\n`, 2));
    return EXIT.input;
  }
  try {
    const config = renderFpmConfig(model as never, {
      allowPoolVariable: args.options['allow-pool-variable'] === true,
    });
    io.stdout(json ? jsonDocument('render', true, { file, config }) : config);
    return EXIT.ok;
  } catch (error) {
    if (!isFpmkitError(error)) throw error;
    if (json)
      io.stdout(jsonError('render', { code: error.code, message: error.message }, { file }));
    else io.stderr(prose(io, `fpmkit render: ${error.message}\n`, 2));
    return EXIT.input;
  }
}
