import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { processStartTime } from './apply-lock.js';

/** What apply needs of a running FPM master, read from /proc/PID. */
export interface FpmMasterProcess {
  pid: number;
  /** The master's binary (`/proc/PID/exe`), without a ` (deleted)` suffix. */
  binary: string;
  /** Arguments of the master that `php-fpm -t` must repeat: `-R`, `-n`, `-c FILE`, `-d K=V`. */
  testArgs: string[];
  /** The `-p`/`--prefix` of the master, if it had one. */
  prefix?: string;
}

/** Reads the master's binary and its arguments; undefined when the process is gone. */
export function readFpmMaster(pid: number, procRoot = '/proc'): FpmMasterProcess | undefined {
  let binary: string;
  let argv: string[];
  try {
    binary = readlinkSync(`${procRoot}/${pid}/exe`).replace(/ \(deleted\)$/, '');
    argv = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
  const testArgs: string[] = [];
  let prefix: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-R' || a === '--allow-to-run-as-root' || a === '-n' || a === '--no-php-ini') {
      testArgs.push(a);
    } else if ((a === '-c' || a === '-d' || a === '--php-ini' || a === '--define') && argv[i + 1]) {
      testArgs.push(a, argv[++i]!);
    } else if ((a === '-p' || a === '--prefix') && argv[i + 1]) {
      prefix = argv[++i]!;
    } else if (a.startsWith('--prefix=')) {
      prefix = a.slice('--prefix='.length);
    }
  }
  // FPM overwrites its argv with the process title ("php-fpm: master process (FILE)"), so the
  // arguments are usually gone: a master running as root was started with -R or has users on
  // every pool, and -R changes nothing for the latter.
  if (!testArgs.includes('-R') && !testArgs.includes('--allow-to-run-as-root')) {
    try {
      const status = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
      if (/^Uid:\s+\d+\s+0\s/m.test(status)) testArgs.push('-R');
    } catch {
      // gone
    }
  }
  return { pid, binary, testArgs, ...(prefix !== undefined ? { prefix } : {}) };
}

/** True while the process exists and is not a zombie. */
export function processAlive(pid: number, procRoot = '/proc'): boolean {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Children of a process (pid and start time), from /proc/PID/stat of every process. */
export function childrenOf(pid: number, procRoot = '/proc'): Map<number, string | null> {
  const out = new Map<number, string | null>();
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`${procRoot}/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.set(Number(name), processStartTime(Number(name)));
    } catch {
      // exited while listing
    }
  }
  return out;
}

/**
 * Sends SIGUSR2 and waits until the re-executed master has replaced its workers: every worker
 * that existed before is gone (FPM stops them on reload). The pid stays the same: the master
 * execs itself in place. Returns false when the master died or the deadline passed.
 */
export async function reloadFpmMaster(pid: number, deadlineMs: number): Promise<boolean> {
  const before = childrenOf(pid);
  process.kill(pid, 'SIGUSR2');
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (!processAlive(pid)) return false;
    const now = childrenOf(pid);
    const oldLeft = [...before].some(([p, t]) => now.has(p) && now.get(p) === t);
    if (!oldLeft) return true;
  }
  return false;
}
