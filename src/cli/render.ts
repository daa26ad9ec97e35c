import { FpmkitFpmRefusedError, isFpmkitError } from '../errors.js';
import { renderFpmConfig } from '../fpm/render.js';
import { readRegularFileSync } from '../host/safe-read.js';
import { parseArgs, UsageError } from './args.js';
import { type CliIo, EXIT, jsonDocument, jsonError, prose } from './io.js';

export const RENDER_HELP = `Usage: fpmkit render MODEL.json [options]

Renders a php-fpm configuration from a JSON model to standard output: the
shape of fpmkit's FpmConfigInput, { "global": {...}, "pools": [...] }. Use -
to read standard input.

Unknown keys in the model are an error naming them (pools[0].pmm). A model
php-fpm -t would refuse (no pool, spare servers above pm.max_children, a pool
without listen or pm) is not rendered: FPM's messages go to standard error.

Options:
  --allow-pool-variable  let values contain $pool (FPM puts the pool name there)
  --allow-refused        render a model php-fpm -t would refuse (a file that
                         other included files complete)
  --json                 print { ok, command, file, config } with the file as a string
  --help                 show this help

Exit status: 0 rendered, 1 php-fpm -t would refuse the result, 2 bad command
line, 3 unreadable or invalid model.
`;

/** `fpmkit render MODEL.json`: returns the exit code. */
export function runRender(argv: readonly string[], io: CliIo, readStdin: () => string): number {
  const args = parseArgs(argv, { flags: ['help', 'allow-pool-variable', 'allow-refused', 'json'] });
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
      allowRefused: args.options['allow-refused'] === true,
    });
    io.stdout(json ? jsonDocument('render', true, { file, config }) : config);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof FpmkitFpmRefusedError) {
      if (json) {
        const refusals = error.refusals.map((f) => ({ code: f.code, message: f.message }));
        io.stdout(
          jsonError('render', { code: error.code, message: error.message, refusals }, { file }),
        );
        return EXIT.problems;
      }
      io.stderr('fpmkit render: php-fpm -t would refuse this model; nothing was rendered\n');
      for (const f of error.refusals) io.stderr(prose(io, `error: ${f.message} [${f.code}]\n`, 2));
      return EXIT.problems;
    }
    if (!isFpmkitError(error)) throw error;
    if (json)
      io.stdout(jsonError('render', { code: error.code, message: error.message }, { file }));
    else io.stderr(prose(io, `fpmkit render: ${error.message}\n`, 2));
    return EXIT.input;
  }
}
