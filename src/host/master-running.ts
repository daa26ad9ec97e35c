/**
 * Whether a configuration examined without a trusted master found for it may still be running:
 * process discovery failed, an untrusted process claims it, or its `pid` file names a live
 * master that the process list did not show (hidepid hides other users' processes).
 */
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { MasterRunState, SnapshotUntrustedMaster } from '../doctor/snapshot.js';
import { parseFpmProcessTitle } from '../kernel/cmdline.js';
import { DEFAULT_PROC_ROOT, readTextQuietly } from './io.js';
import { readRegularFileSync } from './safe-read.js';

/** The path with its links resolved, or resolved lexically when it cannot be (missing file). */
export async function realOrResolved(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    return resolve(path);
  }
}

/** Inputs of {@link masterRunState}. */
export interface MasterRunStateInput {
  configPath: string;
  procRoot: string;
  /** Why the process list could not be read, when it could not. */
  discoveryError?: string | undefined;
  untrusted: readonly SnapshotUntrustedMaster[];
  /** The `[global]` `pid` value, when set. */
  pidFile?: string | undefined;
  /** FPM's prefix, which a relative `pid` is under. */
  prefix: string;
}

/**
 * Decides how `live.fpm-not-running` should treat a configuration no trusted master was found
 * for: undefined when nothing suggests it runs (the finding holds).
 */
export async function masterRunState(
  input: MasterRunStateInput,
): Promise<MasterRunState | undefined> {
  if (input.discoveryError !== undefined)
    return {
      state: 'unknown',
      reason: `the processes could not be listed (${input.discoveryError})`,
    };
  const wanted = await realOrResolved(input.configPath);
  for (const u of input.untrusted) {
    if ((await realOrResolved(u.configPath)) === wanted)
      return {
        state: 'unknown',
        reason: `process ${u.pid} is titled as the master of this configuration but was not trusted: ${u.reason}`,
      };
  }
  if (input.pidFile === undefined || input.pidFile === '') return undefined;
  const pidFile = isAbsolute(input.pidFile) ? input.pidFile : join(input.prefix, input.pidFile);
  let text: string;
  try {
    text = readRegularFileSync(pidFile, { maxBytes: 64 });
  } catch {
    return undefined;
  }
  const pid = /^\s*(\d{1,10})\s*$/.exec(text)?.[1];
  if (pid === undefined || Number(pid) <= 0) return undefined;
  const n = Number(pid);
  const cmdline = await readTextQuietly(join(input.procRoot, pid, 'cmdline'), 'latin1');
  if (cmdline !== undefined) {
    const title = parseFpmProcessTitle(cmdline);
    return title?.role === 'master' ? { state: 'pid-file', pid: n, pidFile } : undefined;
  }
  // Not in the process list: gone, or hidden from fpmkit (hidepid). Only this host's processes
  // can be asked about directly.
  if (resolve(input.procRoot) !== DEFAULT_PROC_ROOT) return undefined;
  try {
    process.kill(n, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EPERM') return undefined;
  }
  return {
    state: 'unknown',
    reason: `its pid file ${pidFile} names process ${n}, which is alive but hidden from fpmkit (/proc mounted with hidepid, or another user's process)`,
  };
}
