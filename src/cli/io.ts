/** Injected input/output, so every command is a function testable without a process. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal: only then is output coloured. */
  isTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
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

/** Colours only on a terminal, and never when NO_COLOR is set. */
export function styleFor(io: CliIo): Style {
  if (!io.isTTY || io.env.NO_COLOR !== undefined) return plain;
  return { red: ansi(31), yellow: ansi(33), dim: ansi(2), bold: ansi(1), green: ansi(32) };
}
