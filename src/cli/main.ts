import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { commandLoader } from './commands.js';
import { HELP } from './help.js';
import { type CliIo, EXIT } from './io.js';

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

/** Runs the command line; returns the exit code. Expected errors never print a stack trace. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? rest[0] : undefined;
    const load = topic === undefined ? undefined : commandLoader(topic);
    io.stdout(load ? (await load()).help : HELP);
    return EXIT.ok;
  }
  if (command === '--version') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const load = commandLoader(command);
  if (!load) {
    io.stderr(`fpmkit: unknown command '${command}'\n\n${HELP}`);
    return EXIT.usage;
  }
  const entry = await load();
  try {
    return await entry.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`fpmkit ${command}: ${error.message}\n\n${entry.help}`);
      return EXIT.usage;
    }
    throw error;
  }
}
