import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diagnose } from '../../src/doctor/index.js';
import {
  checkMasterTrust,
  collectSnapshot,
  discoverFpm,
  readUnixListenQueues,
} from '../../src/host/index.js';
import { isRoot, phpFpmBinary, requireBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { poll, run } from '../support/process.js';

/**
 * A process of user `nobody` titled as an FPM master must not make root's doctor read, open or
 * connect to anything its title names. These tests need root (to start processes as another
 * user and to be the victim); CI runs them as root.
 */
const NOBODY = 65534;
const root = isRoot();
if (!root && process.env.FPMKIT_REQUIRE_INTEGRATION)
  throw new Error('these tests must run as root (FPMKIT_REQUIRE_INTEGRATION is set)');
const rootReason = root ? '' : ' [skipped: needs root to start processes as another user]';
const fpmReq = phpFpmBinary();
const straceReq = requireBinary('strace', 'strace');
const repo = join(import.meta.dirname, '..', '..');
const CANARY = 'DB_PASSWORD_CANARY_7f3a';

/** Starts `/bin/cat` as nobody with only argv[0] = the title; its stdin stays open until killed. */
function forge(configPath: string): ChildProcess {
  const child = spawn('/bin/cat', [], {
    argv0: `php-fpm: master process (${configPath})`,
    uid: NOBODY,
    gid: NOBODY,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  if (child.pid === undefined) throw new Error('could not start the forged master');
  return child;
}

interface Trap {
  dir: string;
  secretConf: string;
  rootLog: string;
  fifo: string;
  listenConf: string;
  trapSock: string;
  server: Server;
  accepted: () => number;
  forged: ChildProcess[];
  cleanup(): Promise<void>;
}

async function setTrap(): Promise<Trap> {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-forged-'));
  await chmod(dir, 0o755);
  const rootLog = join(dir, 'root-only.log');
  await writeFile(
    rootLog,
    `[01-Jan-2026 00:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it\n${CANARY}_LOG\n`,
    { mode: 0o600 },
  );
  const secretInclude = join(dir, 'secret-include.conf');
  await writeFile(secretInclude, `${CANARY}_INCLUDE = 1\n`, { mode: 0o600 });
  const secretConf = join(dir, 'secret.conf');
  await writeFile(
    secretConf,
    `${CANARY} = hunter2\n[global]\nerror_log = ${rootLog}\ninclude = ${secretInclude}\n[www]\nlisten = ${dir}/none.sock\nslowlog = ${rootLog}\n`,
    { mode: 0o600 },
  );
  const fifo = join(dir, 'fifo');
  const mk = spawnSync('mkfifo', ['-m', '0666', fifo]);
  if (mk.status !== 0) throw new Error(`mkfifo failed: ${mk.stderr}`);
  const trapSock = join(dir, 'trap.sock');
  let accepted = 0;
  const server = createServer((c) => {
    accepted++;
    c.destroy();
  });
  await new Promise<void>((r) => server.listen(trapSock, r));
  await chmod(trapSock, 0o777);
  const listenConf = join(dir, 'listen.conf');
  await writeFile(
    listenConf,
    `[global]\nerror_log = ${fifo}\n[www]\nlisten = ${trapSock}\npm.status_path = /status\nping.path = /ping\nslowlog = ${fifo}\n`,
  );
  await chown(listenConf, NOBODY, NOBODY);
  const forged = [secretConf, '/dev/zero', fifo, listenConf].map(forge);
  // Each forged process has its title once it has exec'd cat.
  await poll(async () => {
    for (const f of forged) {
      const cmd = await readFile(`/proc/${f.pid}/cmdline`, 'latin1').catch(() => '');
      if (!cmd.startsWith('php-fpm: master')) return undefined;
    }
    return true;
  }, 5000);
  return {
    dir,
    secretConf,
    rootLog,
    fifo,
    listenConf,
    trapSock,
    server,
    accepted: () => accepted,
    forged,
    async cleanup() {
      for (const f of forged) f.kill('SIGKILL');
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!root || !straceReq.available)(
  `fpmkit doctor as root beside masters forged by nobody${rootReason}${straceReq.reason}`,
  () => {
    let trap: Trap;
    beforeAll(async () => {
      trap = await setTrap();
    });
    afterAll(async () => {
      await trap?.cleanup();
    });

    it('reads, opens and connects to nothing they name, and says it ignored each of them', async () => {
      const trace = join(trap.dir, 'strace.txt');
      const started = Date.now();
      const r = await run(
        straceReq.path!,
        [
          '-f',
          '-qq',
          '-e',
          'trace=open,openat,openat2,connect',
          '-o',
          trace,
          process.execPath,
          '--import',
          'tsx',
          'src/cli/bin.ts',
          'doctor',
          '--json',
        ],
        { cwd: repo, env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 60_000 },
      );
      const elapsedMs = Date.now() - started;
      const report = JSON.parse(r.stdout) as ReturnType<typeof diagnose>;
      const ignored = report.findings.filter((f) => f.code === 'live.untrusted-master');
      const pids = trap.forged.map((f) => f.pid);
      expect(ignored.map((f) => f.evidence?.pid).filter((p) => pids.includes(p as number))).toEqual(
        expect.arrayContaining(pids),
      );
      for (const f of ignored.filter((x) => pids.includes(x.evidence?.pid as number))) {
        expect(f.severity).toBe('warning');
        expect(f.message).toMatch(/runs as uid 65534, neither root nor the user running fpmkit/);
      }
      // None of their configuration reached the output: no key names, no log lines.
      expect(r.output).not.toContain(CANARY);
      expect(r.output).not.toContain('unknown entry');
      // The system calls say the same: nothing named was opened, nothing was connected to.
      const calls = await readFile(trace, 'utf8');
      for (const path of [trap.secretConf, trap.rootLog, trap.fifo, trap.listenConf, trap.trapSock])
        expect(calls).not.toContain(path);
      expect(calls).not.toMatch(/open(at)?\([^)]*"\/dev\/zero"/);
      expect(trap.accepted()).toBe(0);
      console.log(
        `forged masters ${pids.join(', ')}: doctor exit ${r.exitCode} in ${elapsedMs} ms under strace, ${ignored.length} live.untrusted-master finding(s), trap socket accepted ${trap.accepted()}`,
      );
    }, 90_000);

    it('decides trust from the process, not its title', async () => {
      const found = await discoverFpm();
      for (const f of trap.forged) {
        expect(found.masters.find((m) => m.pid === f.pid)).toBeUndefined();
        const u = found.untrustedMasters.find((m) => m.pid === f.pid);
        // The uids decide first: nothing else of the process is looked at.
        expect(u).toEqual({
          pid: f.pid,
          configPath: expect.any(String),
          uids: [NOBODY, NOBODY, NOBODY, NOBODY],
          reason: 'it runs as uid 65534, neither root nor the user running fpmkit (uid 0)',
        });
      }
      const trust = await checkMasterTrust('/proc', trap.forged[0]!.pid!);
      expect(trust.trusted).toBe(false);
    });
  },
);

describe.skipIf(!root || !fpmReq.available)(
  `a real php-fpm master beside forged ones${rootReason}${fpmReq.reason}`,
  () => {
    let trap: Trap;
    let fpm: StartedFpm;
    beforeAll(async () => {
      trap = await setTrap();
      fpm = await startPhpFpm({
        pools: [
          {
            name: 'www',
            directives: 'pm = static\npm.max_children = 1\npm.status_path = /status\n',
          },
        ],
      });
    }, 30_000);
    afterAll(async () => {
      await fpm?.stop();
      await trap?.cleanup();
    });

    it('diagnoses the real master and ignores the forged ones', async () => {
      const s = await collectSnapshot({ statusTimeoutMs: 2000 });
      const real = s.masters.find((m) => m.pid === fpm.pid);
      expect(real).toBeDefined();
      expect(real!.config.ok).toBe(true);
      const pool = real!.pools.find((p) => p.name === 'www')!;
      expect(pool.status.ok && pool.status.value.pool).toBe('www');
      expect(pool.queue).toMatchObject({
        ok: true,
        value: { address: fpm.pool('www').socketPath },
      });
      expect(real!.errorLog.ok && real!.errorLog.value.text).toContain(
        'ready to handle connections',
      );
      for (const f of trap.forged) expect(s.masters.some((m) => m.pid === f.pid)).toBe(false);
      const report = diagnose(s);
      const ignored = report.findings
        .filter((f) => f.code === 'live.untrusted-master')
        .map((f) => f.evidence?.pid);
      expect(ignored).toEqual(expect.arrayContaining(trap.forged.map((f) => f.pid)));
      expect(ignored).not.toContain(fpm.pid);
      expect(report.noFpm).toBe(false);
      expect(JSON.stringify(report)).not.toContain(CANARY);
      expect(trap.accepted()).toBe(0);
      const found = await discoverFpm();
      expect(found.masters.find((m) => m.pid === fpm.pid)).toMatchObject({
        trust: 'executable',
        executable: expect.stringMatching(/\/php-fpm8\.2$/),
      });
    }, 30_000);

    it('run as nobody, trusts the root master on its uids (the kernel hides its executable) and still ignores the forged ones', async () => {
      const script = `
        const { discoverFpm } = await import('./src/host/index.ts');
        const found = await discoverFpm({ parseConfig: false });
        console.log(JSON.stringify({
          masters: found.masters.map((m) => [m.pid, m.trust, m.configError ?? null]),
          untrusted: found.untrustedMasters.map((m) => [m.pid, m.reason]),
        }));`;
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {
          cwd: repo,
          env: { PATH: process.env.PATH ?? '', HOME: '/tmp' },
          timeout: 60_000,
          uid: NOBODY,
          gid: NOBODY,
          encoding: 'utf8',
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        masters: [number, string, string | null][];
        untrusted: [number, string][];
      };
      const real = out.masters.find(([pid]) => pid === fpm.pid);
      expect(real?.[1]).toBe('root-uid');
      for (const f of trap.forged) {
        // To nobody the forged processes are its own: their executable is readable, and it is cat.
        expect(out.untrusted.find(([pid]) => pid === f.pid)?.[1]).toBe(
          'its executable is not a php-fpm binary',
        );
      }
    }, 60_000);
  },
);

describe.skipIf(!fpmReq.available)(
  `a socket whose name holds a newline beside a real pool${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm;
    let odd: Server;
    let oddPath: string;
    const held: import('node:net').Socket[] = [];
    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [{ name: 'www', directives: 'pm = static\npm.max_children = 1\n' }],
      });
      oddPath = join(fpm.dir, 'odd\nname.sock');
      odd = createServer(() => {});
      await new Promise<void>((r) => odd.listen(oddPath, r));
    }, 30_000);
    afterAll(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => odd.close(() => r()));
      await fpm?.stop();
    });

    it('still reports the pool queue, in readUnixListenQueues and in the doctor', async () => {
      const { connect } = await import('node:net');
      // One worker takes the first connection and waits for its request; the rest queue.
      for (let i = 0; i < 4; i++) {
        const s = connect(fpm.pool('www').socketPath!);
        s.on('error', () => {});
        held.push(s);
      }
      const socketPath = fpm.pool('www').socketPath!;
      const q = await poll(async () => {
        const all = await readUnixListenQueues();
        const mine = all.find((x) => x.path === socketPath);
        return mine && mine.queued >= 3 ? { all, mine } : undefined;
      }, 10_000);
      expect(q).toBeDefined();
      expect(q!.all.find((x) => x.path === oddPath)).toMatchObject({ queued: 0 });
      const s = await collectSnapshot({ configPath: fpm.confPath, fetchStatus: false });
      expect(s.unixQueues.ok).toBe(true);
      const pool = s.masters[0]!.pools[0]!;
      expect(pool.queue.ok && pool.queue.value.queued).toBeGreaterThanOrEqual(3);
      expect(s.masters[0]!.pid).toBe(fpm.pid);
      const report = diagnose(s);
      expect(report.noFpm).toBe(false);
      expect(report.missing.some((m) => m.part.includes('queue'))).toBe(false);
      console.log(
        `newline socket beside pool www: queue ${q!.mine.queued} (readUnixListenQueues), ${pool.queue.ok ? pool.queue.value.queued : '?'} (doctor)`,
      );
    }, 30_000);
  },
);
