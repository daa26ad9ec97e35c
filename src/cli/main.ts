import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { commandLoader } from './commands.js';
import { HELP } from './help.js';
import { type CliIo, EXIT, outputWidth, prose, usageMessage, wrapHelp } from './io.js';

export { HELP } from './help.js';
export type { CliIo } from './io.js';

function version(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

/** The arguments before `--`, where `-h` and `-v` are options rather than values. */
function optionsOf(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

/** Runs the command line; returns the exit code. Expected errors never print a stack trace. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    const load = topic === undefined ? undefined : commandLoader(topic);
    io.stdout(wrapHelp(load ? (await load()).help : HELP, outputWidth(io)));
    return EXIT.ok;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const load = commandLoader(command);
  if (!load) {
    io.stderr(prose(io, usageMessage(undefined, `unknown command '${command}'`), 2));
    return EXIT.usage;
  }
  const given = optionsOf(rest);
  if (given.includes('--version') || given.includes('-v')) {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const entry = await load();
  if (given.includes('--help') || given.includes('-h')) {
    io.stdout(wrapHelp(entry.help, outputWidth(io)));
    return EXIT.ok;
  }
  try {
    return await entry.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(prose(io, usageMessage(command, error.message), 2));
      return EXIT.usage;
    }
    throw error;
  }
}
