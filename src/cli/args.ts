/** A parsed command line: positional arguments and `--name value` / `--flag` options. */
export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | true>;
}

/** Thrown for a command line the user got wrong; the command prints it and exits 2. */
export class UsageError extends Error {}

/**
 * Splits argv by the option specs: names in `valued` take a value (`--x 1` or `--x=1`), names
 * in `flags` take none. Anything else starting with `-` is a usage error.
 */
export function parseArgs(
  argv: readonly string[],
  spec: { flags?: readonly string[]; valued?: readonly string[] },
): ParsedArgs {
  const flags = new Set(spec.flags ?? []);
  const valued = new Set(spec.valued ?? []);
  const out: ParsedArgs = { positionals: [], options: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    if (flags.has(name)) {
      if (eq > 0) throw new UsageError(`option --${name} takes no value`);
      out.options[name] = true;
    } else if (valued.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
      out.options[name] = value;
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return out;
}

/** An option that must be a whole number, or a usage error naming it. */
export function intOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.options[name];
  if (raw === undefined) return undefined;
  if (raw === true || !/^-?\d+$/.test(raw))
    throw new UsageError(`--${name} must be a whole number`);
  return Number(raw);
}
