/**
 * Reads a pool's status page straight from PHP-FPM over FastCGI (no web server in between),
 * pings it, and prints what matters, with the listen queue shown as "not measured" on UNIX
 * sockets instead of a misleading 0.
 *
 *   node --import tsx examples/status.ts unix:/run/php/php8.2-fpm.sock --full
 *   node --import tsx examples/status.ts 127.0.0.1:9000 --format xml --path /fpm-status
 */

import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isFpmkitError } from 'fpmkit';
import { type FpmStatus, fetchStatus, ping, type StatusFormat } from 'fpmkit/status';

export interface StatusReportOptions {
  format?: StatusFormat;
  full?: boolean;
  path?: string;
  pingPath?: string;
}

function describeQueue(s: FpmStatus): string {
  if (s.listenQueue === undefined) {
    return 'listen queue: not reported (this FPM was built without listen-queue support)';
  }
  if (!s.listenQueueMeasured) {
    return 'listen queue: not measured (FPM reports 0 for UNIX sockets; read the kernel queue instead)';
  }
  return `listen queue: ${s.listenQueue} waiting, at most ${s.maxListenQueue} since start, backlog ${s.listenQueueLen}`;
}

/** Fetches the status page and the ping answer and returns the report as lines. */
export async function statusReport(
  target: string,
  options: StatusReportOptions = {},
): Promise<string[]> {
  const s = await fetchStatus(target, {
    format: options.format ?? 'json',
    full: options.full ?? false,
    path: options.path ?? '/status',
  });
  const lines = [
    `pool ${s.pool} (pm = ${s.processManager}), up ${s.startSinceSeconds} s, since ${s.startTime.toISOString()}`,
    `accepted requests: ${s.acceptedConn}`,
    `processes: ${s.activeProcesses} active, ${s.idleProcesses} idle, ${s.totalProcesses} total; max active ${s.maxActiveProcesses}; max children reached ${s.maxChildrenReached} times`,
    describeQueue(s),
    // Absent (not 0) on pages of FPM releases from before the counter existed.
    `slow requests: ${s.slowRequests ?? 'not reported by this FPM'}`,
  ];
  if (s.memoryPeakBytes !== undefined) {
    lines.push(`memory peak: ${(s.memoryPeakBytes / 1048576).toFixed(1)} MiB`);
  }
  for (const p of s.processes ?? []) {
    const duration = (p.requestDurationMicros / 1000).toFixed(1);
    lines.push(
      `  pid ${p.pid} ${p.state.padEnd(16)} requests ${String(p.requests).padStart(6)}  last ${duration} ms  ${p.requestMethod} ${p.requestUri}`,
    );
  }
  const pong = await ping(target, { path: options.pingPath ?? '/ping' });
  lines.push(
    `ping: ${pong.ok ? 'ok' : `unexpected answer ${JSON.stringify(pong.body)}`} in ${pong.latencyMs.toFixed(2)} ms`,
  );
  return lines;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'json' },
      full: { type: 'boolean', default: false },
      path: { type: 'string', default: '/status' },
      'ping-path': { type: 'string', default: '/ping' },
    },
  });
  const target = positionals[0];
  if (!target) {
    console.error(
      'usage: status.ts <target> [--format json|xml|html|text|openmetrics] [--full] [--path /status]',
    );
    process.exitCode = 2;
    return;
  }
  try {
    const lines = await statusReport(target, {
      format: values.format as StatusFormat,
      full: values.full,
      path: values.path,
      pingPath: values['ping-path'],
    });
    console.log(lines.join('\n'));
  } catch (error) {
    // fpmkit errors carry a stable code and a message that names the fix.
    console.error(isFpmkitError(error) ? `${error.code}: ${error.message}` : error);
    process.exitCode = 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
