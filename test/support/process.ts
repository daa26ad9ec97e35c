import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in arrival order. */
  output: string;
}

/** Runs a command to completion with a time bound; never throws for a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      output += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      output += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${file} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 30_000} ms`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ exitCode, signal, stdout, stderr, output });
    });
    if (child.stdin) {
      // A program that exits before reading its input must not crash the test with EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** Processes started by tests, stopped at exit even when a test forgets. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {}
    }
  }
});

export interface Daemon {
  child: ChildProcess;
  pid: number;
  /** Output captured so far (stdout and stderr). */
  output(): string;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILL. Idempotent. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Starts a long-running program in the foreground of a child process, so its pid is ours. */
export function startDaemon(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Daemon {
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${file}`);
  live.add(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  const pid = child.pid;
  return {
    child,
    pid,
    output: () => output,
    async stop(signal = 'SIGQUIT', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A connect target for a readiness probe: a UNIX socket path or a TCP host and port. */
export type ProbeTarget = { path: string } | { host: string; port: number };

function tryConnect(target: ProbeTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Calls `probe` until it returns something other than undefined and returns that, or returns
 * undefined once `timeoutMs` has passed; `intervalMs` between calls.
 */
export async function poll<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Polls until every target accepts a connection, or throws after `timeoutMs`. */
export async function waitForSockets(
  targets: readonly ProbeTarget[],
  timeoutMs = 10_000,
  isAlive: () => boolean = () => true,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const target of targets) {
    for (;;) {
      if (await tryConnect(target)) break;
      if (!isAlive()) throw new Error('the process exited before it accepted connections');
      if (Date.now() > deadline)
        throw new Error(`nothing accepted on ${JSON.stringify(target)} in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ createServer }) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        server.close(() => {
          if (address && typeof address === 'object') resolve(address.port);
          else reject(new Error('no port'));
        });
      });
    }, reject);
  });
}
