import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/client.js';
import { fpmApplyActionFor } from '../../src/fpm/reload-table.js';
import { childrenOf, reloadFpmMaster } from '../../src/host/apply-master.js';
import { fetchStatus, ping } from '../../src/status/fetch.js';
import { phpFpmBinary } from '../support/integration.js';
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

interface Row {
  directive: string;
  pool?: [string, string];
  global?: [string, string];
  /** What the running FPM shows for the directive. */
  observe(s: ApplyStack): Promise<string> | string;
  /** What it shows once the new value is in force. */
  expected: string | ((s: ApplyStack) => string);
  /** How many times to look before giving up (an observation that reloads FPM itself is slow). */
  tries?: number;
}

/** `+` when the file carries a POSIX ACL beyond its mode bits, as `ls -l` marks it. */
const aclMark = (path: string) =>
  execFileSync('ls', ['-l', path], { encoding: 'utf8' }).split(' ')[0]?.slice(10) || 'none';

/**
 * Whether a request in flight survives a reload: the master sends SIGQUIT, which lets a worker
 * finish its request, then SIGTERM after process_control_timeout seconds. With the default 0
 * the request is cut; with a timeout longer than the request it finishes. So this observes the
 * timeout of the master that receives the signal.
 */
async function requestAcrossReload(s: ApplyStack): Promise<string> {
  const script = join(s.dir, 'slow.php');
  // A signal ends one usleep() early; the loop keeps the request running for its 2.5 s anyway.
  writeFileSync(
    script,
    '<?php $end = microtime(true) + 2.5; while (microtime(true) < $end) usleep(10000); echo "done";',
  );
  const client = new FastCGIClient({ socketPath: s.socketPath });
  try {
    const pending = client
      .request({
        params: { SCRIPT_FILENAME: script, REQUEST_METHOD: 'GET', SCRIPT_NAME: '/slow.php' },
      })
      .then(
        (r) => (r.body.toString() === 'done' ? 'finished' : `answered ${r.body.toString()}`),
        () => 'cut',
      );
    // The request is in a worker once the status page counts two active processes.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const st = await fetchStatus({ socketPath: s.socketPath }, { timeoutMs: 2000 });
      if (st.activeProcesses >= 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await reloadFpmMaster(s.pid(), 15_000);
    return await pending;
  } finally {
    client.close();
  }
}

const ROWS: Row[] = [
  {
    directive: 'listen.backlog',
    pool: ['listen.backlog = 100', 'listen.backlog = 50'],
    observe: (s) => ssBacklog(s.socketPath),
    expected: '50',
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
    directive: 'listen.acl_users',
    pool: ['', 'listen.acl_users = nobody'],
    observe: (s) => aclMark(s.socketPath),
    expected: '+',
  },
  {
    directive: 'listen.acl_groups',
    pool: ['', 'listen.acl_groups = nogroup'],
    observe: (s) => aclMark(s.socketPath),
    expected: '+',
  },
  {
    directive: 'process_control_timeout',
    global: ['', 'process_control_timeout = 20'],
    observe: requestAcrossReload,
    expected: 'finished',
    tries: 1,
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

async function settle(
  read: () => Promise<string> | string,
  want: string,
  tries = 40,
): Promise<string> {
  let seen = '';
  for (let i = 0; i < tries; i++) {
    try {
      seen = await read();
      if (seen === want) return seen;
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
        const sub = (t: string, s: ApplyStack) =>
          t
            .replace('NEWSOCK', join(s.dir, 'new.sock'))
            .replace('STATUSSOCK', join(s.dir, 'status.sock'));
        const stack = await startApplyStack(row.pool?.[0] ?? '', row.global?.[0] ?? '');
        try {
          const want = typeof row.expected === 'string' ? row.expected : row.expected(stack);
          const before = await settle(() => row.observe(stack), '\0', row.tries);
          expect(before, 'already in force before the change').not.toBe(want);
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
          const afterReload = await settle(() => row.observe(stack), want, row.tries);
          const applied = afterReload === want;
          console.log(
            `${where} ${row.directive}: before ${JSON.stringify(before)}, after SIGUSR2 ${JSON.stringify(afterReload)} (new value ${want}): ${applied ? 'reload applies' : 'needs a restart'}`,
          );
          expect(applied ? 'reload' : 'restart').toBe(fpmApplyActionFor(row.directive));
          if (!applied) {
            await stack.restart();
            expect(await settle(() => row.observe(stack), want, row.tries)).toBe(want);
          }
        } finally {
          await stack.stop();
        }
      });
    }
  },
);
