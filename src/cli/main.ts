/** Injected input/output, so every command is a pure function testable without a process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  isTTY: boolean;
  env: Record<string, string | undefined>;
}

export const HELP = `Usage: fpmkit <command> [options]

Commands:
  check FILE    validate a php-fpm configuration as php-fpm -t would

Options:
  --help        show help
`;

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(HELP);
    return 0;
  }
  io.stderr(`fpmkit: unknown command '${argv[0]}'\n\n${HELP}`);
  return 2;
}
