import type { CliIo } from './io.js';

/** What main needs of a command once its module is loaded. */
export interface Command {
  /** The command's `--help` text, also printed under a usage error. */
  help: string;
  run(argv: readonly string[], io: CliIo): number | Promise<number>;
}

/**
 * Command name → a loader of its module. Only the command that runs is imported, so start-up
 * costs what that command needs: `--version` and `--help` load none, `status` loads neither
 * the configuration schemas nor the XML parser unless it parses XML.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  check: async () => {
    const { CHECK_HELP, runCheck } = await import('./check.js');
    return { help: CHECK_HELP, run: runCheck };
  },
  render: async () => {
    const [{ RENDER_HELP, runRender }, { readFpmConfigStdin }] = await Promise.all([
      import('./render.js'),
      import('../host/fpm-config.js'),
    ]);
    return {
      help: RENDER_HELP,
      // Standard input is bounded like a configuration file (16 MiB).
      run: (argv, io) => runRender(argv, io, () => readFpmConfigStdin()),
    };
  },
  plan: async () => {
    const { PLAN_HELP, runPlan } = await import('./plan.js');
    return { help: PLAN_HELP, run: (argv, io) => runPlan(argv, io) };
  },
  status: async () => {
    const { runStatus, STATUS_HELP } = await import('./status.js');
    return { help: STATUS_HELP, run: runStatus };
  },
  watch: async () => {
    const { runWatch, WATCH_HELP } = await import('./watch.js');
    return {
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
    };
  },
  doctor: async () => {
    const { DOCTOR_HELP, runDoctor } = await import('./doctor.js');
    return { help: DOCTOR_HELP, run: (argv, io) => runDoctor(argv, io) };
  },
  apply: async () => {
    const { APPLY_HELP, runApply } = await import('./apply.js');
    return { help: APPLY_HELP, run: runApply };
  },
  exporter: async () => {
    const { EXPORTER_HELP, runExporter } = await import('./exporter.js');
    return {
      help: EXPORTER_HELP,
      // SIGTERM (systemd, Kubernetes) and Ctrl-C stop the server cleanly (exit 0).
      run: async (argv, io) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGTERM', onSignal);
        process.once('SIGINT', onSignal);
        try {
          return await runExporter(argv, io, stop.signal);
        } finally {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
        }
      },
    };
  },
  simulate: async () => {
    const { runSimulate, SIMULATE_HELP } = await import('./simulate.js');
    return { help: SIMULATE_HELP, run: (argv, io) => runSimulate(argv, io) };
  },
};

/** The loader of a command by name; undefined for anything else, inherited names included. */
export function commandLoader(name: string): (() => Promise<Command>) | undefined {
  return Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
}
