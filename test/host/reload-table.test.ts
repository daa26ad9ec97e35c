import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/client.js';
import { fpmApplyActionFor } from '../../src/fpm/reload-table.js';
import { childrenOf, reloadFpmMaster } from '../../src/host/apply-master.js';
import { fetchStatus, ping } from '../../src/status/fetch.js';
import { phpFpmBinary } from '../support/integration.js';
import { freePort, poll, startDaemon, waitForSockets } from '../support/process.js';
import { type ApplyStack, POOL_TEXT, startApplyStack } from './apply-harness.js';

const fpm = phpFpmBinary();

function ssBacklog(path: string): string {
  const row = execFileSync('ss', ['-lnx'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.includes(` ${path} `));
  return row ? (row.trim().split(/\s+/)[3] ?? '') : 'none';
}
function worker(s: ApplyStack): number {
  const [pid] = childrenOf(s.pid()).keys();
  if (pid === undefined) throw new Error('no worker yet');
  return pid;
}
const statusField = (pid: number, field: string) =>
  new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ??
  '';
const limit = (pid: number, name: string) =>
  new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1] ??
  '';

/**
 * The named users and groups of the socket file's POSIX ACL (`system.posix_acl_access`, read
 * through Python's os.getxattr: entries of tag u16, perm u16, id u32 after a 4-byte header),
 * `none` when it has none.
 */
function socketAcl(path: string): string {
  const script = [
    'import os, struct, sys',
    'try:',
    "    b = os.getxattr(sys.argv[1], 'system.posix_acl_access')",
    'except OSError:',
    "    print('none'); sys.exit()",
    "names = {2: 'user', 8: 'group'}",
    "out = ['%s:%d' % (names[t], i) for t, p, i in (struct.unpack('<HHI', b[k:k + 8]) for k in range(4, len(b), 8)) if t in names]",
    "print(','.join(out) or 'base')",
  ].join('\n');
  return execFileSync('python3', ['-c', script, path], { encoding: 'utf8' }).trim();
}

/** Whether a TCP pool serves a client connecting from 127.0.0.1: FPM closes a disallowed one. */
async function servesLoopback(port: number): Promise<string> {
  try {
    return (await ping({ host: '127.0.0.1', port }, { timeoutMs: 2000 })).ok
      ? 'answers'
      : 'no answer';
  } catch (e) {
    return `refused (${(e as { code?: string }).code ?? (e as Error).message})`;
  }
}

/**
 * A request of 1.5 s of CPU in flight when SIGUSR2 arrives: `finished` when the reload waited for it
 * (process_control_timeout above 1.5 s), `killed` when the worker was stopped at once.
 */
async function requestAcrossReload(s: ApplyStack): Promise<string> {
  const script = join(s.dir, 'slow.php');
  // A busy loop: a signal would cut a sleep short and end the script early.
  writeFileSync(
    script,
    '<?php $t = microtime(true); while (microtime(true) - $t < 1.5) {} echo "done";',
  );
  const client = new FastCGIClient({ socketPath: s.socketPath });
  try {
    const answer = client
      .request({
        params: { SCRIPT_FILENAME: script, REQUEST_METHOD: 'GET', SCRIPT_NAME: '/slow.php' },
        timeoutMs: 20_000,
      })
      .then(
        (r) => (r.body.toString() === 'done' ? 'finished' : 'killed'),
        () => 'killed',
      );
    // SIGUSR2 must find the request on a worker: wait until the status page shows it running
    // (a fixed pause can be too short on a loaded machine).
    const running = await poll(async () => {
      try {
        const status = await fetchStatus(
          { socketPath: s.socketPath },
          { full: true, timeoutMs: 2000 },
        );
        return status.processes?.some((p) => p.state === 'Running' && p.script.endsWith('slow.php'))
          ? true
          : undefined;
      } catch {
        return undefined;
      }
    }, 15_000);
    if (!running) throw new Error('the slow request never showed as running on the status page');
    await reloadFpmMaster(s.pid(), 15_000);
    return await answer;
  } finally {
    client.close();
  }
}

interface Row {
  directive: string;
  /** The observation costs a reload or seconds: taken once, not polled. */
  once?: boolean;
  pool?: [string, string];
  global?: [string, string];
  /** What the running FPM shows for the directive. */
  observe(s: ApplyStack): Promise<string> | string;
  /** What it shows once the new value is in force. */
  expected: string | ((s: ApplyStack) => string);
}

const ROWS: Row[] = [
  {
    directive: 'listen.backlog',
    pool: ['listen.backlog = 100', 'listen.backlog = 50'],
    observe: (s) => ssBacklog(s.socketPath),
    expected: '50',
  },
  {
    directive: 'listen.acl_users',
    pool: ['listen.mode = 0600', 'listen.mode = 0600\nlisten.acl_users = nobody'],
    observe: (s) => socketAcl(s.socketPath),
    expected: 'user:65534',
  },
  {
    directive: 'listen.acl_groups',
    pool: ['listen.mode = 0600', 'listen.mode = 0600\nlisten.acl_groups = nogroup'],
    observe: (s) => socketAcl(s.socketPath),
    expected: 'group:65534',
  },
  {
    directive: 'listen.allowed_clients',
    pool: [
      'TCPPOOL\nlisten.allowed_clients = 127.0.0.1',
      'TCPPOOL\nlisten.allowed_clients = 127.0.0.2',
    ],
    observe: () => servesLoopback(tcpPort),
    expected: 'refused',
  },
  {
    directive: 'listen.mode',
    pool: ['', 'listen.mode = 0600'],
    observe: (s) => (statSync(s.socketPath).mode & 0o777).toString(8),
    expected: '600',
  },
  {
    directive: 'listen.owner',
    pool: ['', 'listen.owner = nobody'],
    observe: (s) => String(statSync(s.socketPath).uid),
    expected: '65534',
  },
  {
    directive: 'listen.group',
    pool: ['', 'listen.group = nogroup'],
    observe: (s) => String(statSync(s.socketPath).gid),
    expected: '65534',
  },
  {
    directive: 'listen',
    pool: ['', 'listen = NEWSOCK'],
    observe: async (s) => {
      const p = join(s.dir, 'new.sock');
      if (!existsSync(p)) return 'absent';
      return (await ping({ socketPath: p }, { timeoutMs: 2000 })).ok ? 'answers' : 'no answer';
    },
    expected: 'answers',
  },
  {
    directive: 'pm.max_children',
    pool: ['', 'pm.max_children = 3'],
    observe: async (s) =>
      String((await fetchStatus({ socketPath: s.socketPath }, { timeoutMs: 2000 })).totalProcesses),
    expected: '3',
  },
  {
    directive: 'pm',
    pool: ['', 'pm = ondemand'],
    observe: async (s) =>
      (await fetchStatus({ socketPath: s.socketPath }, { timeoutMs: 2000 })).processManager,
    expected: 'ondemand',
  },
  {
    directive: 'pm.max_requests',
    pool: ['', 'pm.max_requests = 1'],
    observe: async (s) => {
      const before = [...childrenOf(s.pid()).keys()];
      for (let i = 0; i < 4; i++) await ping({ socketPath: s.socketPath }, { timeoutMs: 2000 });
      await new Promise((r) => setTimeout(r, 200));
      const now = childrenOf(s.pid());
      return before.every((pid) => now.has(pid)) ? 'kept' : 'recycled';
    },
    expected: 'recycled',
  },
  {
    directive: 'user',
    pool: ['', 'user = nobody'],
    observe: (s) => statusField(worker(s), 'Uid'),
    expected: '65534',
  },
  {
    directive: 'group',
    pool: ['user = nobody', 'user = nobody\ngroup = daemon'],
    observe: (s) => statusField(worker(s), 'Gid'),
    expected: '1',
  },
  {
    directive: 'rlimit_files',
    pool: ['', 'rlimit_files = 1000'],
    observe: (s) => limit(worker(s), 'Max open files'),
    expected: '1000',
  },
  {
    directive: 'rlimit_core',
    pool: ['', 'rlimit_core = 4096'],
    observe: (s) => limit(worker(s), 'Max core file size'),
    expected: '4096',
  },
  {
    directive: 'rlimit_files',
    global: ['', 'rlimit_files = 1100'],
    observe: (s) => limit(s.pid(), 'Max open files'),
    expected: '1100',
  },
  {
    directive: 'rlimit_core',
    global: ['', 'rlimit_core = 8192'],
    observe: (s) => limit(s.pid(), 'Max core file size'),
    expected: '8192',
  },
  {
    directive: 'process_control_timeout',
    global: ['', 'process_control_timeout = 10s'],
    once: true,
    observe: (s) => requestAcrossReload(s),
    expected: 'finished',
  },
  {
    directive: 'events.mechanism',
    global: ['log_level = debug', 'log_level = debug\nevents.mechanism = poll'],
    observe: (s) =>
      /event module is (\w+)/g.exec(
        readFileSync(s.logPath, 'utf8').split('Reloading in progress').at(-1) ?? '',
      )?.[1] ?? 'none',
    expected: 'poll',
  },
  {
    directive: 'pm.status_listen',
    pool: ['', 'pm.status_listen = STATUSSOCK'],
    observe: async (s) => {
      const p = join(s.dir, 'status.sock');
      if (!existsSync(p)) return 'absent';
      return (await fetchStatus({ socketPath: p }, { timeoutMs: 2000 })).pool;
    },
    expected: 'www',
  },
  {
    directive: 'php_admin_value[memory_limit]',
    pool: ['', 'php_admin_value[memory_limit] = 123M'],
    observe: async (s) => {
      const script = join(s.dir, 'ini.php');
      writeFileSync(script, '<?php echo ini_get("memory_limit");');
      const client = new FastCGIClient({ socketPath: s.socketPath });
      try {
        const r = await client.request({
          params: { SCRIPT_FILENAME: script, REQUEST_METHOD: 'GET', SCRIPT_NAME: '/ini.php' },
        });
        return r.body.toString();
      } finally {
        client.close();
      }
    },
    expected: '123M',
  },
];

/**
 * How long a reloaded FPM may take to show a change, milliseconds: a row that needs a restart
 * waits this long once, so it is generous for a loaded machine, not unbounded.
 */
const SETTLE_MS = 8_000;

/** The port of the TCP pool `TCPPOOL` adds, chosen before each stack starts. */
let tcpPort = 0;
const tcpPool = () =>
  `\n[tcp]\nlisten = 127.0.0.1:${tcpPort}\npm = static\npm.max_children = 1\nping.path = /ping`;

/**
 * The observation once it equals `want` (a prefix for `refused`), polled for up to `ms`
 * milliseconds unless `once`.
 */
async function settle(
  read: () => Promise<string> | string,
  want: string,
  once = false,
  ms = SETTLE_MS,
): Promise<string> {
  let seen = '';
  const deadline = Date.now() + ms;
  for (let i = 0; i === 0 || (!once && Date.now() < deadline); i++) {
    try {
      seen = await read();
      if (seen === want || (want === 'refused' && seen.startsWith('refused'))) return want;
    } catch (e) {
      seen = `error: ${(e as Error).message}`;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

describe.skipIf(!fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `what SIGUSR2 applies, measured on php-fpm 8.2${fpm.reason}`,
  () => {
    for (const row of ROWS) {
      const where = row.global ? 'global' : 'pool';
      it(`${where} ${row.directive}: the table says ${fpmApplyActionFor(row.directive)}`, async () => {
        tcpPort = await freePort();
        const sub = (t: string, s: ApplyStack) =>
          t
            .replace('NEWSOCK', join(s.dir, 'new.sock'))
            .replace('STATUSSOCK', join(s.dir, 'status.sock'))
            .replace('TCPPOOL', tcpPool());
        const stack = await startApplyStack(
          (row.pool?.[0] ?? '').replace('TCPPOOL', tcpPool()),
          row.global?.[0] ?? '',
        );
        try {
          const want = typeof row.expected === 'string' ? row.expected : row.expected(stack);
          expect(
            // What the fresh master shows, after it has had time to settle.
            await settle(() => row.observe(stack), '\0', row.once, 2_000),
            'already in force before the change',
          ).not.toBe(want);
          if (row.pool)
            writeFileSync(
              stack.poolPath,
              POOL_TEXT(stack.socketPath, `${sub(row.pool[1], stack)}\n`),
            );
          if (row.global) {
            const main = readFileSync(stack.confPath, 'utf8');
            writeFileSync(
              stack.confPath,
              main.replace(`daemonize = no\n${row.global[0]}`, `daemonize = no\n${row.global[1]}`),
            );
          }
          expect(await reloadFpmMaster(stack.pid(), 10_000)).toBe(true);
          const afterReload = await settle(() => row.observe(stack), want, row.once);
          const applied = afterReload === want;
          console.log(
            `${where} ${row.directive}: after SIGUSR2 ${JSON.stringify(afterReload)} (new value ${want}): ${applied ? 'reload applies' : 'needs a restart'}`,
          );
          expect(applied ? 'reload' : 'restart').toBe(fpmApplyActionFor(row.directive));
          if (!applied) {
            await stack.restart();
            expect(await settle(() => row.observe(stack), want, row.once)).toBe(want);
          }
        } finally {
          await stack.stop();
        }
      });
    }
  },
);

describe.skipIf(!fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `daemonize across SIGUSR2, measured on php-fpm 8.2${fpm.reason}`,
  () => {
    it('a master that reloads into daemonize = yes forks away from its supervisor: the table says restart', async () => {
      expect(fpmApplyActionFor('daemonize')).toBe('restart');
      const dir = mkdtempSync(join(tmpdir(), 'fpmkit-daemonize-'));
      const conf = join(dir, 'php-fpm.conf');
      const pidFile = join(dir, 'fpm.pid');
      const socketPath = join(dir, 'www.sock');
      const text = (daemonize: string) =>
        `[global]\npid = ${pidFile}\nerror_log = ${join(dir, 'fpm.log')}\ndaemonize = ${daemonize}\n[www]\nlisten = ${socketPath}\npm = static\npm.max_children = 1\nping.path = /ping\n`;
      writeFileSync(conf, text('no'));
      // Without -F, so that the file's daemonize is what FPM reads.
      const daemon = startDaemon(fpm.path!, ['-y', conf, '-p', dir, '-R'], { cwd: dir });
      let detached: number | undefined;
      try {
        await waitForSockets([{ path: socketPath }], 10_000, () => daemon.child.exitCode === null);
        writeFileSync(conf, text('yes'));
        process.kill(daemon.pid, 'SIGUSR2');
        const newPid = await poll(async () => {
          const p = Number(readFileSync(pidFile, 'utf8').trim());
          return p > 0 && p !== daemon.pid ? p : undefined;
        }, 10_000);
        detached = newPid;
        console.log(
          `global daemonize: after SIGUSR2 the master ${daemon.pid} ${daemon.child.exitCode === null ? 'still runs' : 'exited'}, the pid file names ${newPid ?? daemon.pid}: needs a restart`,
        );
        expect(newPid).toBeDefined();
        await poll(async () => (daemon.child.exitCode === null ? undefined : true), 10_000);
        expect(daemon.child.exitCode).not.toBeNull();
        expect((await ping({ socketPath }, { timeoutMs: 2000 })).ok).toBe(true);
      } finally {
        await daemon.stop('SIGQUIT', 5000);
        if (detached !== undefined) {
          try {
            process.kill(detached, 'SIGQUIT');
          } catch {}
          await poll(async () => (existsSync(`/proc/${detached}`) ? undefined : true), 5000);
        }
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
