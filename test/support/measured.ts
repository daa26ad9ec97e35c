import { spawn } from 'node:child_process';

export interface MeasuredRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** stderr without the measurement line. */
  stderr: string;
  /** Wall time from spawn to exit, in milliseconds. */
  elapsedMs: number;
  /** The child's peak resident set (`process.resourceUsage().maxRSS`), in bytes. */
  maxRssBytes: number | undefined;
}

export interface MeasuredOptions {
  /** The child's standard input: nothing, an open file descriptor, or text through a pipe. */
  stdin?: 'ignore' | number | { text: string };
  /**
   * A shell command whose output is piped (a real pipe(2)) into the child's standard input,
   * e.g. `head -c 20000000 /dev/zero`.
   */
  shellInput?: string;
  /** Kill the child (by its pid) and reject after this long. @default 30000 */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

const MARK = 'FPMKIT_TEST_MAXRSS=';
const PRELOAD = `import { writeSync } from 'node:fs';
process.on('exit', () => {
  try { writeSync(2, '\\n${MARK}' + process.resourceUsage().maxRSS + '\\n'); } catch {}
});
`;

/** The preload as a module of its own URL: nothing written to disk, nothing to remove. */
const PRELOAD_URL = `data:text/javascript,${encodeURIComponent(PRELOAD)}`;

/**
 * Runs `node [nodeArgs] script args` and measures its wall time and peak RSS. Never throws for a
 * non-zero exit; rejects when the child outlives `timeoutMs` (after killing it by pid).
 */
export async function runNodeMeasured(
  nodeArgs: readonly string[],
  options: MeasuredOptions = {},
): Promise<MeasuredRun> {
  const argv = ['--import', PRELOAD_URL, ...nodeArgs];
  const stdin = options.stdin ?? 'ignore';
  const child =
    options.shellInput === undefined
      ? spawn(process.execPath, argv, {
          cwd: options.cwd,
          env: options.env ?? process.env,
          stdio: [typeof stdin === 'object' ? 'pipe' : stdin, 'pipe', 'pipe'],
        })
      : spawn('sh', ['-c', `${options.shellInput} | exec "$0" "$@"`, process.execPath, ...argv], {
          cwd: options.cwd,
          env: options.env ?? process.env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${nodeArgs.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const at = stderr.lastIndexOf(`\n${MARK}`);
      let maxRssBytes: number | undefined;
      if (at >= 0) {
        maxRssBytes = Number.parseInt(stderr.slice(at + 1 + MARK.length), 10) * 1024;
        stderr = stderr.slice(0, at);
      }
      resolve({
        exitCode,
        signal,
        stdout,
        stderr,
        elapsedMs: performance.now() - started,
        maxRssBytes,
      });
    });
    if (typeof stdin === 'object' && child.stdin) {
      child.stdin.on('error', () => {});
      child.stdin.end(stdin.text);
    }
  });
}

/** Bytes in a mebibyte, for readable bounds. */
export const MiB = 1024 * 1024;
