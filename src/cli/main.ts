import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { CHECK_HELP, runCheck } from './check.js';
import { DOCTOR_HELP, runDoctor } from './doctor.js';
import { type CliIo, EXIT } from './io.js';
import { PLAN_HELP, runPlan } from './plan.js';
import { RENDER_HELP, runRender } from './render.js';
import { runSimulate, SIMULATE_HELP } from './simulate.js';
import { runStatus, STATUS_HELP } from './status.js';
import { runWatch, WATCH_HELP } from './watch.js';

export type { CliIo } from './io.js';

export const HELP = `Usage: fpmkit <command> [options]

Commands:
  plan               plan a pool for this host: numbers, reasons, predictions, files
  check FILE         decide as php-fpm -t would, with FPM's messages, plus warnings
  status TARGET      fetch a pool's status page over FastCGI
  watch TARGET       a live view of a pool's status with rates
  doctor             find what is wrong with the FPM here (or in saved evidence)
  render MODEL.json  render a php-fpm configuration from a JSON model
  simulate           simulate the process manager under a plan's traffic

Options:
  --help, -h         show help (also: fpmkit <command> --help)
  --version          print the version

Commands that report take --json (render prints the file itself).
Exit status: 0 ok, 1 problems found, 2 bad command line, 3 unreadable input.
`;

const COMMANDS: Record<
  string,
  { help: string; run(argv: readonly string[], io: CliIo): number | Promise<number> }
> = {
  check: { help: CHECK_HELP, run: runCheck },
  render: {
    help: RENDER_HELP,
    run: (argv, io) => runRender(argv, io, () => readFileSync(0, 'utf8')),
  },
  plan: { help: PLAN_HELP, run: (argv, io) => runPlan(argv, io) },
  status: { help: STATUS_HELP, run: runStatus },
  watch: {
    help: WATCH_HELP,
    // Ctrl-C ends the watch cleanly (exit 0) instead of killing it mid-line.
    run: async (argv, io) => {
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once('SIGINT', onSigint);
      try {
        return await runWatch(argv, io, stop.signal);
      } finally {
        process.off('SIGINT', onSigint);
      }
    },
  },
  doctor: { help: DOCTOR_HELP, run: (argv, io) => runDoctor(argv, io) },
  simulate: { help: SIMULATE_HELP, run: (argv, io) => runSimulate(argv, io) },
};

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
    io.stdout(topic && COMMANDS[topic] ? COMMANDS[topic].help : HELP);
    return EXIT.ok;
  }
  if (command === '--version') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    io.stderr(`fpmkit: unknown command '${command}'\n\n${HELP}`);
    return EXIT.usage;
  }
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
