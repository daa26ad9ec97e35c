import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  diagnose,
  type HostSnapshot,
  LIVE_FINDING_CODES,
  type SnapshotMaster,
  type SnapshotPool,
} from '../../src/doctor/index.js';
import { parseFpmConfig } from '../../src/fpm/parse.js';
import type { FpmStatus } from '../../src/status/model.js';

const SOCK = '/run/php/app.sock';
const MiB = 1024 * 1024;

function nginxLine(time: string, errno: string, conn = 1): string {
  return `2026/11/21 ${time} [error] 10#10: *${conn} connect() to unix:${SOCK} failed (${errno}) while connecting to upstream, client: 127.0.0.1, server: app, request: "GET /x.php HTTP/1.1", upstream: "fastcgi://unix:${SOCK}:", host: "app"`;
}
const eagain = (time: string, conn = 1) =>
  nginxLine(time, '11: Resource temporarily unavailable', conn);
const reset = (time: string) =>
  `2026/11/21 ${time} [error] 10#10: *9 recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 127.0.0.1, server: app, request: "GET /long.php HTTP/1.1", upstream: "fastcgi://unix:${SOCK}:", host: "app"`;
const fpmLine = (time: string, level: string, msg: string) =>
  `[21-Nov-2026 ${time}] ${level}: ${msg}`;
const RELOAD = [
  fpmLine('00:00:05', 'NOTICE', 'Reloading in progress ...'),
  fpmLine(
    '00:00:05',
    'NOTICE',
    'reloading: execvp("/usr/sbin/php-fpm8.2", {"/usr/sbin/php-fpm8.2"})',
  ),
  fpmLine('00:00:06', 'NOTICE', 'ready to handle connections'),
];

interface Spec {
  pool?: string;
  global?: string;
  fpmLog?: string[];
  nginxLog?: string[];
  slowlog?: string;
  kernel?: HostSnapshot['kernel'];
  status?: SnapshotPool['status'];
  workerMemory?: SnapshotPool['workerMemory'];
  memTotalBytes?: number;
  noMaster?: boolean;
  untrusted?: HostSnapshot['untrustedMasters'];
  /** Connections in the accept queue now (/proc). @default 0 */
  queued?: number;
  listener?: SnapshotPool['listener'];
  /** A configuration examined with no master running it. */
  stopped?: boolean;
}

const text = (lines: string[]) => `${lines.join('\n')}\n`;
const window = (path: string, t: string) => ({
  ok: true as const,
  value: { path, text: t, truncated: false, sizeBytes: t.length },
});
const none = { ok: false as const, reason: 'not in this test' };

function snapshot(spec: Spec): HostSnapshot {
  const conf = `[global]\nerror_log = /var/log/fpm.log\n${spec.global ?? ''}\n[app]\nlisten = ${SOCK}\n${spec.pool ?? 'pm = static\npm.max_children = 2\nlisten.backlog = 8\n'}`;
  const { config, locations } = parseFpmConfig(conf, { path: '/etc/php-fpm.conf' });
  const poolConfig = config.pools[0]!;
  const pool: SnapshotPool = {
    name: 'app',
    config: poolConfig,
    workerPids: [101, 102],
    status: spec.status ?? none,
    queue: { ok: true, value: { queued: spec.queued ?? 0, address: SOCK } },
    ...(spec.listener === undefined ? {} : { listener: spec.listener }),
    slowlog: spec.slowlog === undefined ? none : window('/var/log/slow.log', spec.slowlog),
    workerMemory: spec.workerMemory ?? none,
  };
  const master: SnapshotMaster = {
    ...(spec.stopped ? {} : { pid: 100 }),
    configPath: '/etc/php-fpm.conf',
    config: { ok: true, value: config },
    configFindings: [],
    configLocations: locations,
    errorLog: spec.fpmLog ? window('/var/log/fpm.log', text(spec.fpmLog)) : none,
    pools: [pool],
  };
  return {
    takenAt: new Date('2026-11-21T00:01:00Z'),
    origin: 'live',
    ...(spec.noMaster ? { noFpm: 'nothing runs' } : {}),
    masters: spec.noMaster ? [] : [master],
    ...(spec.untrusted ? { untrustedMasters: spec.untrusted } : {}),
    unixQueues: { ok: true, value: [] },
    tcpQueues: none,
    netstat: none,
    kernel: spec.kernel ?? { ok: true, value: { somaxconn: 4096 } },
    meminfo:
      spec.memTotalBytes === undefined
        ? none
        : { ok: true, value: { totalBytes: spec.memTotalBytes, freeBytes: 0, fields: {} } },
    cgroup: { ok: true, value: null },
    nginxErrorLog: spec.nginxLog ? window('/var/log/nginx/error.log', text(spec.nginxLog)) : none,
  };
}

const codes = (s: HostSnapshot) =>
  diagnose(s)
    .findings.map((f) => f.code)
    .filter((c) => c.startsWith('live.'));

const status = (over: Partial<FpmStatus>): FpmStatus => ({
  pool: 'app',
  processManager: 'static',
  startTime: new Date(0),
  startSinceSeconds: 60,
  acceptedConn: 10,
  listenQueue: 0,
  maxListenQueue: 0,
  listenQueueLen: 0,
  listenQueueMeasured: false,
  idleProcesses: 1,
  activeProcesses: 1,
  totalProcesses: 2,
  maxActiveProcesses: 2,
  maxChildrenReached: 0,
  slowRequests: 0,
  format: 'json',
  ...over,
});

describe('diagnose: each live finding fires on its evidence and stays quiet without it', () => {
  const slowlog = readFileSync('test/fixtures/logs/php-fpm-slow.log', 'utf8');
  const rows: { code: string; fire: Spec; quiet: Spec }[] = [
    {
      code: 'live.accept-queue-overflow',
      fire: { nginxLog: [eagain('00:00:01', 1), eagain('00:00:01', 2)] },
      quiet: { nginxLog: [] },
    },
    {
      code: 'live.reload-overflow',
      fire: { fpmLog: RELOAD, nginxLog: [eagain('00:00:05'), eagain('00:00:06', 2)] },
      quiet: { fpmLog: RELOAD, nginxLog: [eagain('00:00:03'), eagain('00:00:07', 2)] },
    },
    {
      code: 'live.reload-kills-requests',
      fire: {
        fpmLog: [
          ...RELOAD.slice(0, 1),
          fpmLine(
            '00:00:05',
            'WARNING',
            '[pool app] child 101 exited on signal 15 (SIGTERM) after 4.2 seconds from start',
          ),
          ...RELOAD.slice(1),
        ],
      },
      quiet: {
        global: 'process_control_timeout = 10s',
        fpmLog: [
          ...RELOAD.slice(0, 1),
          fpmLine(
            '00:00:05',
            'WARNING',
            '[pool app] child 101 exited on signal 15 (SIGTERM) after 4.2 seconds from start',
          ),
          ...RELOAD.slice(1),
        ],
      },
    },
    {
      code: 'live.max-children-reached',
      fire: {
        pool: 'pm = dynamic\npm.max_children = 4\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 2\n',
        fpmLog: [
          fpmLine(
            '00:00:01',
            'WARNING',
            '[pool app] server reached pm.max_children setting (4), consider raising it',
          ),
        ],
      },
      quiet: { fpmLog: [fpmLine('00:00:01', 'NOTICE', 'ready to handle connections')] },
    },
    {
      code: 'live.memory-overcommit',
      fire: {
        pool: 'pm = static\npm.max_children = 20\n',
        memTotalBytes: 1024 * MiB,
        workerMemory: { ok: true, value: { meanBytes: 90 * MiB, maxBytes: 100 * MiB, count: 2 } },
      },
      quiet: {
        pool: 'pm = static\npm.max_children = 5\n',
        memTotalBytes: 1024 * MiB,
        workerMemory: { ok: true, value: { meanBytes: 90 * MiB, maxBytes: 100 * MiB, count: 2 } },
      },
    },
    { code: 'live.slow-requests', fire: { slowlog }, quiet: { slowlog: '' } },
    {
      code: 'live.socket-permission-denied',
      fire: { nginxLog: [nginxLine('00:00:01', '13: Permission denied')] },
      quiet: { nginxLog: [reset('00:00:01')] },
    },
    {
      code: 'live.socket-missing',
      fire: { nginxLog: [nginxLine('00:00:01', '2: No such file or directory')] },
      quiet: { nginxLog: [reset('00:00:01')] },
    },
    {
      code: 'live.status-misconfigured',
      fire: {
        pool: 'pm = static\npm.max_children = 2\npm.status_path = /status\n',
        status: {
          ok: false,
          reason: 'FPM answered "File not found."',
          code: 'FPMKIT_STATUS_MISCONFIGURED',
        },
      },
      quiet: {
        pool: 'pm = static\npm.max_children = 2\npm.status_path = /status\n',
        status: { ok: false, reason: 'connect ECONNREFUSED', code: 'FPMKIT_CONNECT' },
      },
    },
    {
      code: 'live.ondemand-cold-start',
      fire: {
        pool: 'pm = ondemand\npm.max_children = 2\n',
        fpmLog: [
          fpmLine(
            '00:00:01',
            'WARNING',
            '[pool app] server reached max_children setting (2), consider raising it',
          ),
        ],
      },
      quiet: { pool: 'pm = ondemand\npm.max_children = 2\n', fpmLog: [] },
    },
    { code: 'live.no-fpm-master', fire: { noMaster: true }, quiet: {} },
    { code: 'live.fpm-not-running', fire: { stopped: true }, quiet: {} },
    {
      code: 'live.backlog-drift',
      fire: { listener: { ok: true, value: { backlog: 16, queued: 0 } } },
      quiet: { listener: { ok: true, value: { backlog: 8, queued: 0 } } },
    },
    {
      code: 'live.saturated-now',
      fire: {
        queued: 3,
        status: { ok: false, reason: 'connect timed out', code: 'FPMKIT_CONNECT_TIMEOUT' },
      },
      quiet: {
        queued: 0,
        status: { ok: false, reason: 'connect timed out', code: 'FPMKIT_CONNECT_TIMEOUT' },
      },
    },
    {
      code: 'live.untrusted-master',
      fire: {
        untrusted: [
          {
            pid: 4242,
            configPath: '/root/secret',
            reason: 'it runs as uid 65534, neither root nor the user running fpmkit (uid 0)',
            uids: [65534, 65534, 65534, 65534],
          },
        ],
      },
      quiet: { untrusted: [] },
    },
  ];

  it('covers every live code', () => {
    expect(rows.map((r) => r.code).sort()).toEqual([...LIVE_FINDING_CODES].sort());
  });

  it.each(rows)('$code', ({ code, fire, quiet }) => {
    const report = diagnose(snapshot(fire));
    const finding = report.findings.find((f) => f.code === code);
    expect(finding, JSON.stringify(report.findings.map((f) => f.code))).toBeDefined();
    expect(finding!.fix?.length).toBeGreaterThan(10);
    expect(Object.keys(finding!.evidence ?? {}).length).toBeGreaterThan(0);
    expect(codes(snapshot(quiet))).not.toContain(code);
  });
});

describe('diagnose: the moment itself', () => {
  it('names the restart for a backlog a reload did not apply, with the file and line', () => {
    const report = diagnose(
      snapshot({ listener: { ok: true, value: { backlog: 16, queued: 2 } } }),
    );
    const f = report.findings.find((x) => x.code === 'live.backlog-drift')!;
    expect(f.severity).toBe('warning');
    expect(f).toMatchObject({ pool: 'app', file: '/etc/php-fpm.conf', line: 8 });
    expect(f.evidence).toMatchObject({ liveBacklog: 16, liveCapacity: 17, configuredBacklog: 8 });
    expect(f.message).toContain('backlog 16 in force (queue capacity 17)');
    expect(f.fix).toContain('/etc/php-fpm.conf line 8');
    expect(f.fix).toContain('restart FPM');
  });

  it('does not compare backlogs without a somaxconn reading, and says so', () => {
    const report = diagnose(
      snapshot({
        kernel: { ok: false, reason: 'EACCES' },
        listener: { ok: true, value: { backlog: 16, queued: 0 } },
      }),
    );
    expect(report.findings.map((f) => f.code)).not.toContain('live.backlog-drift');
    expect(report.missing.find((m) => m.part === 'live.backlog-drift')?.reason).toContain(
      'somaxconn was not read',
    );
  });

  it('words a backlog capped by an earlier somaxconn as a somaxconn change', () => {
    const report = diagnose(
      snapshot({
        pool: 'pm = static\npm.max_children = 2\nlisten.backlog = 1024\n',
        kernel: { ok: true, value: { somaxconn: 4096 } },
        listener: { ok: true, value: { backlog: 128, queued: 0 } },
      }),
    );
    const f = report.findings.find((x) => x.code === 'live.backlog-drift')!;
    expect(f.evidence).toMatchObject({ cause: 'somaxconn-changed', configuredBacklog: 1024 });
    expect(f.message).toContain('net.core.somaxconn was 128 when the socket was created');
    expect(f.message).not.toContain('the setting changed');
    expect(f.fix).toContain('restart FPM');
    const unset = diagnose(
      snapshot({
        pool: 'pm = static\npm.max_children = 2\n',
        kernel: { ok: true, value: { somaxconn: 4096 } },
        listener: { ok: true, value: { backlog: 4000, queued: 0 } },
      }),
    ).findings.find((x) => x.code === 'live.backlog-drift')!;
    expect(unset.evidence).toMatchObject({ cause: 'somaxconn-changed' });
    expect(unset.message).not.toContain('or listen.backlog was');
  });

  it('takes the accept queue capacity from the socket in force, not the file', () => {
    const report = diagnose(
      snapshot({
        nginxLog: [eagain('00:00:01', 1), eagain('00:00:01', 2)],
        listener: { ok: true, value: { backlog: 16, queued: 17 } },
      }),
    );
    const f = report.findings.find((x) => x.code === 'live.accept-queue-overflow')!;
    expect(f.evidence).toMatchObject({
      listenBacklog: 8,
      effectiveBacklog: 16,
      queueCapacity: 17,
      capacitySource: 'ss',
    });
    expect(f.message).toContain('capacity 17 = effective backlog 16 + 1');
  });

  it('calls a queue at its capacity saturated even with no status page', () => {
    const full = snapshot({
      queued: 9,
      pool: 'pm = static\npm.max_children = 2\nlisten.backlog = 8\n',
    });
    const f = diagnose(full).findings.find((x) => x.code === 'live.saturated-now')!;
    expect(f.evidence).toMatchObject({ queued: 9, capacity: 9, queueSource: '/proc/net' });
    expect(f.fix).toContain('pm.status_listen');
    const live = snapshot({
      queued: 0,
      listener: { ok: true, value: { backlog: 8, queued: 4 } },
      status: { ok: false, reason: 'connect EAGAIN', code: 'FPMKIT_CONNECT', errno: 'EAGAIN' },
    });
    const g = diagnose(live).findings.find((x) => x.code === 'live.saturated-now')!;
    expect(g.evidence).toMatchObject({ queued: 4, capacity: 9, statusUnavailable: 'EAGAIN' });
    expect(diagnose(live).summary.errors).toBeGreaterThan(0);
  });

  it('counts only running masters, and says a configuration has none', () => {
    const report = diagnose(snapshot({ stopped: true }));
    expect(report.summary.masters).toBe(0);
    expect(report.summary.text).toMatch(
      /^0 FPM master\(s\), 1 configuration\(s\) with no master running, 1 pool/,
    );
    const f = report.findings.find((x) => x.code === 'live.fpm-not-running')!;
    expect(f.severity).toBe('error');
    expect(f.evidence).toMatchObject({ configPath: '/etc/php-fpm.conf', pools: ['app'] });
    expect(diagnose(snapshot({})).summary.masters).toBe(1);
  });
});

describe('diagnose: a process that is not FPM', () => {
  it('names it, and writes the control characters of its title as escapes', () => {
    const report = diagnose(
      snapshot({
        untrusted: [
          {
            pid: 7,
            configPath: '/tmp/x\u001b[2J\u0007',
            reason: 'its executable is not a php-fpm binary',
            executable: '/usr/bin/cat',
          },
        ],
      }),
    );
    const f = report.findings.find((x) => x.code === 'live.untrusted-master')!;
    expect(f.severity).toBe('warning');
    expect(f.message).toContain(
      'Ignored process 7, titled "php-fpm: master process (/tmp/x\\x1b[2J\\x07)"',
    );
    expect(f.message).toContain('its executable is not a php-fpm binary');
    expect(JSON.stringify(report)).not.toMatch(/\\u001b|\\u0007/);
    expect(f.evidence).toMatchObject({ pid: 7, executable: '/usr/bin/cat' });
  });
});

describe('diagnose: the evidence and fix of the accept-queue overflow', () => {
  it('counts EAGAIN, sizes the queue from backlog and somaxconn, and renders the fix', () => {
    const report = diagnose(
      snapshot({
        fpmLog: RELOAD,
        nginxLog: [eagain('00:00:01', 1), eagain('00:00:05', 2), eagain('00:00:05', 3)],
        kernel: { ok: true, value: { somaxconn: 4 } },
      }),
    );
    const f = report.findings.find((x) => x.code === 'live.accept-queue-overflow')!;
    expect(f.severity).toBe('error');
    expect(f.pool).toBe('app');
    expect(f.evidence).toMatchObject({
      eagainCount: 3,
      eagainDuringReload: 2,
      worstSecondCount: 2,
      listenBacklog: 8,
      somaxconn: 4,
      effectiveBacklog: 4,
      queueCapacity: 5,
      queuePeak: 5,
      queuePeakSource: 'eagain',
      reloadTimes: ['2026-11-21T00:00:05.000Z'],
      suggested: { listenBacklog: 511, somaxconn: 511 },
    });
    expect(f.fix).toContain('listen.backlog = 511');
    expect(f.fix).toContain('net.core.somaxconn = 511');
    expect(f.fix).toContain('process_control_timeout = 10s');
    const fpm = report.files['changes to /etc/php-fpm.conf'];
    expect(fpm).toContain('listen.backlog = 511');
    expect(fpm).toContain('process_control_timeout = 10s');
    expect(report.files['sysctl.d/60-php-fpm.conf']).toContain('net.core.somaxconn = 511');
    expect(report.summary.errors).toBeGreaterThanOrEqual(2);
  });

  it('uses the observed queue peak when a sample saw the queue full', () => {
    const s = snapshot({ nginxLog: [eagain('00:00:01')] });
    s.masters[0]!.pools[0]!.queuePeak = 12;
    const f = diagnose(s).findings.find((x) => x.code === 'live.accept-queue-overflow')!;
    expect(f.evidence).toMatchObject({ queuePeak: 12, queuePeakSource: 'proc', queueCapacity: 9 });
  });

  it('keeps log lines before `since` out', () => {
    const s = snapshot({ nginxLog: [eagain('00:00:01'), eagain('00:00:09', 2)] });
    s.since = new Date('2026-11-21T00:00:05Z');
    const f = diagnose(s).findings.find((x) => x.code === 'live.accept-queue-overflow')!;
    expect(f.evidence?.eagainCount).toBe(1);
  });
});

describe('diagnose: other evidence', () => {
  it('names the most frequent slowlog frames', () => {
    const slowlog = readFileSync('test/fixtures/logs/php-fpm-slow.log', 'utf8');
    const f = diagnose(snapshot({ slowlog })).findings.find(
      (x) => x.code === 'live.slow-requests',
    )!;
    expect(f.evidence?.count).toBe(3);
    const top = f.evidence?.topFrames as { function: string; line: number; count: number }[];
    expect(top[0]).toMatchObject({ function: 'sleep', line: 4, count: 2 });
  });

  it('sees requests cut by a reload in nginx resets when FPM logs no exit', () => {
    const f = diagnose(snapshot({ fpmLog: RELOAD, nginxLog: [reset('00:00:05')] })).findings.find(
      (x) => x.code === 'live.reload-kills-requests',
    )!;
    expect(f.evidence).toMatchObject({
      resetRequests: ['GET /long.php HTTP/1.1'],
      processControlTimeoutSeconds: 0,
    });
  });

  it('sizes pm.max_children to the memory budget', () => {
    const f = diagnose(
      snapshot({
        pool: 'pm = static\npm.max_children = 20\n',
        memTotalBytes: 1024 * MiB,
        workerMemory: { ok: true, value: { meanBytes: 90 * MiB, maxBytes: 100 * MiB, count: 2 } },
      }),
    ).findings.find((x) => x.code === 'live.memory-overcommit')!;
    expect(f.evidence).toMatchObject({
      demandBytes: 2000 * MiB,
      budgetBytes: 1024 * MiB,
      budgetSource: 'MemTotal',
    });
    expect(f.fix).toBe('pool app: pm.max_children = 10');
  });

  it('runs checkStack when the config and kernel settings are there, and says why not otherwise', () => {
    const withKernel = diagnose(snapshot({}));
    expect(withKernel.findings.some((f) => f.code.startsWith('stack.'))).toBe(true);
    const without = diagnose(snapshot({ kernel: { ok: false, reason: 'EACCES' } }));
    expect(without.findings.some((f) => f.code.startsWith('stack.'))).toBe(false);
    expect(without.missing).toContainEqual({ part: 'sysctl', reason: 'EACCES' });
  });

  it('says plainly when no FPM master was found', () => {
    const r = diagnose(snapshot({ noMaster: true }));
    expect(r.noFpm).toBe(true);
    expect(r.summary.text).toBe('No PHP-FPM master was found (nothing runs).');
    expect(r.summary.errors).toBe(0);
  });

  it('counts max children reached from the status page too', () => {
    const f = diagnose(
      snapshot({ status: { ok: true, value: status({ maxChildrenReached: 3 }) } }),
    ).findings.find((x) => x.code === 'live.max-children-reached')!;
    expect(f.evidence).toMatchObject({ statusMaxChildrenReached: 3, logEvents: 0, maxChildren: 2 });
  });
});

describe('diagnose never throws on whatever the logs hold', () => {
  it('returns a report for any log text (300 runs)', () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom(eagain('00:00:01'), reset('00:00:05'), ...RELOAD),
      fc.string().map((s) => `2026/11/21 00:00:0${s.length % 10} [error] 1#1: *1 ${s}`),
      fc
        .string()
        .map(
          (s) =>
            `[21-Nov-2026 00:00:00] WARNING: [pool ${s}] child 1 exited on signal 15 (SIGTERM) after 1 seconds from start`,
        ),
    );
    fc.assert(
      fc.property(fc.array(line), fc.array(line), fc.string(), (nginx, fpm, slow) => {
        const r = diagnose(snapshot({ nginxLog: nginx, fpmLog: fpm, slowlog: slow }));
        expect(r.summary.errors + r.summary.warnings + r.summary.infos).toBe(r.findings.length);
      }),
      { numRuns: 300 },
    );
  });
});
