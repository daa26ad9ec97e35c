import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Daemon, poll, run, startDaemon } from '../support/process.js';

export const BIN = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'bin.js');

export interface StartedExporter {
  daemon: Daemon;
  port: number;
  url: string;
  /** GET /metrics with the given Accept and scrape-timeout headers. */
  scrape(
    headers?: Record<string, string>,
  ): Promise<{ status: number; contentType: string; body: string; ms: number }>;
  stop(): Promise<void>;
}

/** Starts `fpmkit exporter` from the build on a port the kernel picks, and waits for it to listen. */
export async function startExporter(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<StartedExporter> {
  if (!existsSync(BIN)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  const daemon = startDaemon(
    process.execPath,
    [BIN, 'exporter', '--listen', '127.0.0.1:0', ...args],
    {
      env: { ...process.env, ...env },
    },
  );
  const port = await poll(async () => {
    const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)\//.exec(daemon.output());
    if (m) return Number(m[1]);
    return daemon.child.exitCode === null ? undefined : -1;
  }, 10_000);
  if (port === undefined || port < 0) {
    await daemon.stop('SIGKILL');
    throw new Error(`the exporter did not start:\n${daemon.output()}`);
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    daemon,
    port,
    url,
    async scrape(headers = {}) {
      const started = performance.now();
      const res = await fetch(`${url}/metrics`, { headers });
      const body = await res.text();
      return {
        status: res.status,
        contentType: res.headers.get('content-type') ?? '',
        body,
        ms: performance.now() - started,
      };
    },
    stop: () => daemon.stop('SIGTERM', 5_000),
  };
}

/** Prometheus' own Accept header (2.42), which ranks OpenMetrics first. */
export const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** `promtool check metrics` on a 0.0.4 body: its exit code and what it printed. */
export async function promtoolCheckMetrics(
  body: string,
): Promise<{ exitCode: number | null; output: string }> {
  const r = await run('promtool', ['check', 'metrics'], { input: body });
  return { exitCode: r.exitCode, output: r.output };
}

/**
 * Parses an OpenMetrics body with Prometheus' own OpenMetrics parser, through
 * `promtool tsdb create-blocks-from openmetrics` (which needs a timestamp on every sample, so
 * one is appended): its exit code, output and the series count it wrote.
 */
export async function promtoolParseOpenMetrics(
  body: string,
): Promise<{ exitCode: number | null; output: string; series: number | undefined }> {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-om-'));
  try {
    const now = Math.floor(Date.now() / 1000);
    const stamped = body
      .split('\n')
      .map((line) => (line === '' || line.startsWith('#') ? line : `${line} ${now}`))
      .join('\n');
    const file = join(dir, 'metrics.om');
    await writeFile(file, stamped);
    const r = await run('promtool', [
      'tsdb',
      'create-blocks-from',
      'openmetrics',
      file,
      join(dir, 'blocks'),
    ]);
    const row = r.output.split('\n').find((l) => /^[0-9A-Z]{26}\s/.test(l));
    const series = row === undefined ? undefined : Number(row.trim().split(/\s+/)[6]);
    return { exitCode: r.exitCode, output: r.output, series };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sample lines of a body: `name{labels}` → value (comments left out). */
export function sampleLines(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}
