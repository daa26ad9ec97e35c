import { execFile } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { isAbsolute, join } from 'node:path';
import { listenConnectTarget, parseListen } from '../fpm/listen.js';
import type { FpmConfig } from '../fpm/schema.js';
import { parseSs } from '../kernel/ss.js';
import { fetchStatus, ping } from '../status/fetch.js';
import { processAlive } from './apply-master.js';

/** FPM's `listen.backlog` default on Linux (`FPM_BACKLOG_DEFAULT`, php-src sapi/fpm/fpm/fpm_sockets.h). */
export const FPM_LINUX_DEFAULT_BACKLOG = -1;
/** Error log lines that fail a verification: FPM's levels ERROR, ALERT and EMERG. */
const BAD_LOG_LINE = /\b(ERROR|ALERT|EMERG): /;
/** Bytes of new error log read at most. */
const MAX_LOG_READ_BYTES = 1024 * 1024;

/** One check of a verification, with its evidence. */
export interface VerifyCheck {
  /** `master`, `ping`, `status`, `accept`, `backlog` or `log`. */
  kind: 'master' | 'ping' | 'status' | 'accept' | 'backlog' | 'log';
  pool?: string;
  ok: boolean;
  /** What was seen: a ping answer, `backlog 511 (files say 511)`, a log line ... */
  evidence: string;
}

/** What `verifyFpm` found; `ok` when every check passed. */
export interface VerifyResult {
  ok: boolean;
  checks: VerifyCheck[];
  /** Milliseconds from the start of the verification to its last attempt. */
  elapsedMs: number;
}

/** Where FPM writes its log and how far it was written before a signal. */
export interface LogMark {
  path: string;
  offset: number;
}

/** The error log path the configuration names (undefined for syslog or none). */
export function errorLogPath(config: FpmConfig, prefix: string | undefined): string | undefined {
  const log = config.global.errorLog;
  if (!log || log.startsWith('syslog')) return undefined;
  return isAbsolute(log) ? log : join(prefix ?? '/var', log);
}

/** The size of the log now, so new lines can be read after a signal. */
export function markLog(path: string | undefined): LogMark | undefined {
  if (!path) return undefined;
  try {
    return { path, offset: statSync(path).size };
  } catch {
    return { path, offset: 0 };
  }
}

function newLogText(mark: LogMark): string {
  let fd: number;
  try {
    fd = openSync(mark.path, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(mark.path).size;
    const start = size < mark.offset ? 0 : mark.offset;
    const length = Math.min(size - start, MAX_LOG_READ_BYTES);
    const buf = Buffer.alloc(Math.max(length, 0));
    if (length > 0) readSync(fd, buf, 0, length, start);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function ssListeners(): Promise<string> {
  return new Promise((resolve) => {
    execFile('ss', ['-lnxt'], { timeout: 5000 }, (_e, stdout) => resolve(stdout ?? ''));
  });
}

function acceptCheck(target: { socketPath: string } | { host: string; port: number }) {
  return new Promise<string | undefined>((resolve) => {
    const socket = connect('socketPath' in target ? { path: target.socketPath } : target, () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve('timed out');
    });
    socket.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

/** Options of `verifyFpm`. */
export interface VerifyFpmOptions {
  /** The master's pid. */
  pid: number;
  /** The configuration the files now hold. */
  config: FpmConfig;
  /** The master's global prefix, for relative paths. */
  prefix?: string | undefined;
  /** The error log as it was before the signal; lines written since are checked. */
  log?: LogMark | undefined;
  /** How long the checks may keep failing before the verification fails, in milliseconds. @default 10000 */
  deadlineMs?: number | undefined;
  /** Each ping/status call's bound, in milliseconds. @default 2000 */
  requestTimeoutMs?: number | undefined;
}

async function checkOnce(options: VerifyFpmOptions, somaxconn: number): Promise<VerifyCheck[]> {
  const checks: VerifyCheck[] = [];
  const alive = processAlive(options.pid);
  checks.push({
    kind: 'master',
    ok: alive,
    evidence: alive ? `pid ${options.pid} running` : `pid ${options.pid} is gone`,
  });
  if (!alive) return checks;
  const sockets = parseSs(await ssListeners());
  const timeoutMs = options.requestTimeoutMs ?? 2000;
  for (const pool of options.config.pools) {
    const address = pool.listen.address;
    if (!address) continue;
    const listen = parseListen(
      address,
      options.prefix ? { prefix: pool.prefix ?? options.prefix } : {},
    );
    const target = listenConnectTarget(listen);
    const name = pool.name;
    try {
      if (pool.ping.path) {
        const r = await ping(target, {
          path: pool.ping.path,
          response: pool.ping.response ?? 'pong',
          timeoutMs,
        });
        checks.push({
          kind: 'ping',
          pool: name,
          ok: r.ok,
          evidence: `answered ${JSON.stringify(r.body.slice(0, 40))} in ${r.latencyMs.toFixed(1)} ms`,
        });
      }
      if (pool.pm.statusPath && !pool.pm.statusListen) {
        const s = await fetchStatus(target, { path: pool.pm.statusPath, timeoutMs });
        checks.push({
          kind: 'status',
          pool: name,
          ok: true,
          evidence: `pool ${s.pool}, ${s.totalProcesses} processes, max children reached ${s.maxChildrenReached}`,
        });
      }
      if (!pool.ping.path && !pool.pm.statusPath) {
        const err = await acceptCheck(target);
        checks.push({
          kind: 'accept',
          pool: name,
          ok: err === undefined,
          evidence: err ?? 'accepted a connection',
        });
      }
    } catch (error) {
      checks.push({
        kind: pool.ping.path ? 'ping' : 'status',
        pool: name,
        ok: false,
        evidence: (error as Error).message,
      });
    }
    const want = pool.listen.backlog ?? FPM_LINUX_DEFAULT_BACKLOG;
    const expected = want < 0 || want > somaxconn ? somaxconn : want;
    const row = sockets.find(
      (s) =>
        s.state === 'LISTEN' &&
        (listen.kind === 'unix'
          ? s.localAddress === listen.path
          : Number(s.localPort) === listen.port),
    );
    checks.push(
      row
        ? {
            kind: 'backlog',
            pool: name,
            ok: row.sendQ === expected,
            evidence: `live backlog ${row.sendQ}, files say ${expected} (listen.backlog ${want}, somaxconn ${somaxconn})`,
          }
        : {
            kind: 'backlog',
            pool: name,
            ok: false,
            evidence: `no listening socket ${address} in ss`,
          },
    );
  }
  if (options.log) {
    const bad = newLogText(options.log)
      .split('\n')
      .filter((l) => BAD_LOG_LINE.test(l));
    checks.push({
      kind: 'log',
      ok: bad.length === 0,
      evidence: bad.length
        ? bad.slice(0, 5).join(' | ')
        : `no new ERROR/ALERT in ${options.log.path}`,
    });
  }
  return checks;
}

/**
 * Checks, until every check passes or the deadline passes, that the master runs, each pool
 * answers ping (`ping.path`) and status (`pm.status_path`) or at least accepts, each listener's
 * live backlog (`ss` Send-Q) is what the files say after the kernel's somaxconn cap, and the
 * error log has no new ERROR, ALERT or EMERG line. A bad log line fails at once.
 */
export async function verifyFpm(options: VerifyFpmOptions): Promise<VerifyResult> {
  const start = Date.now();
  const deadline = start + (options.deadlineMs ?? 10_000);
  const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  for (;;) {
    const checks = await checkOnce(options, somaxconn);
    const ok = checks.every((c) => c.ok);
    const logBad = checks.some((c) => c.kind === 'log' && !c.ok);
    const dead = checks.some((c) => c.kind === 'master' && !c.ok);
    if (ok || logBad || dead || Date.now() >= deadline) {
      return { ok, checks, elapsedMs: Date.now() - start };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
