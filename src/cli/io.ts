/** Injected input/output, so every command is a function testable without a process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal: only then is output coloured (unless FORCE_COLOR). */
  isTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** The terminal's width in columns, when stdout is one; COLUMNS in `env` wins. */
  columns?: number;
}

/** Exit codes scripts can branch on (docs/cli.md). */
export const EXIT = {
  /** Success; for `check`: php-fpm would accept the file. */
  ok: 0,
  /** The command ran and found a problem (for `check`: php-fpm -t would exit 78). */
  problems: 1,
  /** Bad command line. */
  usage: 2,
  /** An input could not be read or was not what was expected. */
  input: 3,
} as const;

export interface Style {
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
  green(s: string): string;
}

const plain: Style = {
  red: (s) => s,
  yellow: (s) => s,
  dim: (s) => s,
  bold: (s) => s,
  green: (s) => s,
};
const ansi = (code: number) => (s: string) => `\u001b[${code}m${s}\u001b[0m`;

/**
 * Whether output is coloured: FORCE_COLOR set to anything but `0` or `false` forces it (as
 * Node's own tools read it); otherwise only on a terminal, and not when NO_COLOR is set to a
 * non-empty value (no-color.org: an empty NO_COLOR is as if unset).
 */
export function colourWanted(io: Pick<CliIo, 'isTTY' | 'env'>): boolean {
  const force = io.env.FORCE_COLOR;
  if (force !== undefined) return !/^(0|false)$/i.test(force.trim());
  const noColor = io.env.NO_COLOR;
  if (noColor !== undefined && noColor !== '') return false;
  return io.isTTY;
}

/** The colours of `io`'s output, or none (colourWanted). */
export function styleFor(io: CliIo): Style {
  if (!colourWanted(io)) return plain;
  return { red: ansi(31), yellow: ansi(33), dim: ansi(2), bold: ansi(1), green: ansi(32) };
}

/** Width assumed for a terminal whose width is unknown, in columns. */
export const DEFAULT_COLUMNS = 80;
/** Narrowest width wrapped to, in columns: below it a reason would be a word a line. */
export const MIN_COLUMNS = 40;

/**
 * The width output is wrapped to, in columns: COLUMNS when it is a whole number, else the
 * terminal's width (80 when unknown); never below 40. Output that is neither (piped or
 * redirected, COLUMNS unset) is not wrapped, so each message stays one line for grep:
 * `Infinity`.
 */
export function outputWidth(io: Pick<CliIo, 'isTTY' | 'env' | 'columns'>): number {
  const fromEnv = io.env.COLUMNS?.trim();
  let width: number;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) width = Number(fromEnv);
  else if (io.isTTY)
    width = io.columns !== undefined && io.columns > 0 ? io.columns : DEFAULT_COLUMNS;
  else return Number.POSITIVE_INFINITY;
  return Math.max(MIN_COLUMNS, width);
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Columns `text` takes on a terminal: its length without colour codes. */
export function visibleWidth(text: string): number {
  return text.replace(ANSI, '').length;
}

/**
 * One line wrapped to `width` columns at spaces. Continuation lines are indented like the line
 * itself, or by `hang` spaces when that is more. A word wider than a line is cut where it must be.
 */
export function wrapLine(line: string, width: number, hang = 0): string[] {
  if (visibleWidth(line) <= width) return [line];
  const indent = /^ */.exec(line)![0].length;
  const cont = ' '.repeat(Math.min(Math.max(indent, hang), Math.floor(width / 2)));
  const out: string[] = [];
  let current = line.slice(0, indent);
  let fresh = true;
  for (let word of line.slice(indent).split(' ')) {
    if (!fresh && visibleWidth(current) + 1 + visibleWidth(word) <= width) {
      current += ` ${word}`;
      continue;
    }
    if (!fresh) {
      out.push(current);
      current = cont;
    }
    while (visibleWidth(current) + visibleWidth(word) > width && !word.includes('\u001b')) {
      const room = width - current.length;
      if (room <= 0) {
        out.push(current);
        current = cont;
        continue;
      }
      out.push(current + word.slice(0, room));
      word = word.slice(room);
      current = cont;
    }
    current += word;
    fresh = false;
  }
  out.push(current);
  return out;
}

/** Every line of `text` wrapped by wrapLine; a trailing newline is kept. */
export function wrapText(text: string, width: number, hang?: number): string {
  return text
    .split('\n')
    .flatMap((line) => wrapLine(line, width, hang))
    .join('\n');
}

/** `text` with `paint` applied to each line, so a colour never spans a line break. */
export function perLine(text: string, paint: (line: string) => string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : paint(line)))
    .join('\n');
}

/**
 * SDK option names that messages from the library carry, and the flag a user of the command
 * types instead. Only names with a capital letter are listed, so no ordinary word is replaced.
 */
export const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  allowPoolVariable: '--allow-pool-variable',
  reloadWindowSeconds: '--reload-window',
  serviceTimeSeconds: '--service-time',
  cpuShare: '--cpu-share',
  arrivalRate: '--rps',
  totalMemoryBytes: '--memory',
  reserveBytes: '--reserve',
  workerBytes: '--worker-memory',
  currentSomaxconn: '--somaxconn',
  longestRequestSeconds: '--longest-request',
  listenAddress: '--listen',
  configPath: '--config',
  pidFile: '--pid-file',
  stateDir: '--state-dir',
  lockWaitMs: '--lock-wait-ms',
  verifyDeadlineMs: '--verify-deadline-ms',
  nginxErrorLogPath: '--nginx-error-log',
  fpmErrorLogPath: '--fpm-error-log',
  procRoot: '--proc-root',
  sysRoot: '--sys-root',
  utcOffsetMinutes: '--utc-offset',
  maxLogBytes: '--max-log-bytes',
  queueSamples: '--queue-samples',
  timeoutMs: '--timeout',
  intervalMs: '--interval',
};

// Not a field of a path such as `sizing.workerBytes` or `options.cpuShare`.
const OPTION_NAME = new RegExp(
  `(?<![\\w.$])(${Object.keys(FLAG_OF_OPTION).join('|')})(?![\\w.[])`,
  'g',
);

/** `text` with each SDK option name replaced by its command-line flag (FLAG_OF_OPTION). */
export function flagNames(text: string): string {
  return text.replace(OPTION_NAME, (name) => FLAG_OF_OPTION[name] ?? name);
}

/**
 * Prose for people: SDK option names as flags, then wrapped to the output width (`hang`:
 * indentation of continuation lines, default each line's own).
 */
export function prose(io: CliIo, text: string, hang?: number): string {
  return wrapText(flagNames(text), outputWidth(io), hang);
}

/**
 * The one `--json` document every command prints: `ok` (true exactly when the exit status is
 * 0), `command`, then the command's own fields; failures carry `error: { code, message, ... }`.
 */
export function jsonDocument(
  command: string,
  ok: boolean,
  body: Readonly<Record<string, unknown>>,
  indent: 0 | 2 = 2,
): string {
  const { ok: _ok, command: _command, ...rest } = body;
  return `${JSON.stringify({ ok, command, ...rest }, null, indent || undefined)}\n`;
}

/** The JSON document of an expected failure: `{ ok: false, command, error: { code, message, ... } }`. */
export function jsonError(
  command: string,
  error: { code: string; message: string } & Record<string, unknown>,
  extra: Readonly<Record<string, unknown>> = {},
): string {
  const body = { ...extra, error: { ...error, message: flagNames(error.message) } };
  return jsonDocument(command, false, body, 0);
}

/** The two lines a usage error prints: what was wrong, and where the command's help is. */
export function usageMessage(command: string | undefined, message: string): string {
  const name = command === undefined ? 'fpmkit' : `fpmkit ${command}`;
  return `${name}: ${flagNames(message)}\nsee '${name} --help'\n`;
}

/**
 * A help text wrapped to `width`: an option line (`  --name ARG   what it does`) continues
 * under its description, any other line under itself.
 */
export function wrapHelp(text: string, width: number): string {
  return text
    .split('\n')
    .flatMap((line) => {
      const column = /^( +\S.*? {2,})\S/.exec(line)?.[1]?.length;
      return wrapLine(line, width, column ?? 0);
    })
    .join('\n');
}
