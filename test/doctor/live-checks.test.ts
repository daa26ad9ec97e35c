import { describe, expect, it } from 'vitest';
import {
  checkStack,
  diagnose,
  type HostSnapshot,
  type SnapshotMaster,
  type SnapshotPool,
} from '../../src/doctor/index.js';
import { MASTER_CHECKS, SNAPSHOT_CHECKS, UPSTREAM_CHECKS } from '../../src/doctor/live/checks.js';
import { backlogForRefusals } from '../../src/doctor/live/upstream.js';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { parseFpmConfig } from '../../src/fpm/parse.js';

const none = { ok: false as const, reason: 'not in this test' };
const log = (path: string, lines: string[]) => {
  const text = `${lines.join('\n')}\n`;
  return { ok: true as const, value: { path, text, truncated: false, sizeBytes: text.length } };
};
const eagain = (socket: string, time: string) =>
  `2026/11/21 ${time} [error] 10#10: *1 connect() to unix:${socket} failed (11: Resource temporarily unavailable) while connecting to upstream, client: 127.0.0.1, server: app, request: "GET /x.php HTTP/1.1", upstream: "fastcgi://unix:${socket}:", host: "app"`;

/** One master with pool `app` configured by `poolText`, and nginx's log. */
function snapshot(poolText: string, nginx: string[]): HostSnapshot {
  const conf = `[global]\nerror_log = /var/log/fpm.log\n[app]\n${poolText}`;
  const { config } = parseFpmConfig(conf, { path: '/etc/php-fpm.conf' });
  const pool: SnapshotPool = {
    name: 'app',
    config: config.pools[0]!,
    workerPids: [],
    status: none,
    queue: none,
    slowlog: none,
    workerMemory: none,
  };
  const master: SnapshotMaster = {
    pid: 100,
    configPath: '/etc/php-fpm.conf',
    config: { ok: true, value: config },
    configFindings: [],
    errorLog: none,
    pools: [pool],
  };
  return {
    takenAt: new Date('2026-11-21T00:01:00Z'),
    origin: 'live',
    masters: [master],
    unixQueues: none,
    tcpQueues: none,
    netstat: none,
    kernel: { ok: true, value: { somaxconn: 4096 } },
    meminfo: none,
    cgroup: none,
    nginxErrorLog: log('/var/log/nginx/error.log', nginx),
  };
}

describe('diagnose: live checks over one context', () => {
  it('runs each check from a list', () => {
    expect(SNAPSHOT_CHECKS.length + UPSTREAM_CHECKS.length + MASTER_CHECKS.length).toBe(14);
  });

  it('names the file and line to change instead of printing the configuration flattened', () => {
    const snap = snapshot(
      'listen = /run/php/app.sock\nlisten.backlog = 8\npm = static\npm.max_children = 2\n',
      [eagain('/run/php/app.sock', '00:00:01')],
    );
    snap.masters[0]!.configLocations = parseFpmConfig(
      '[global]\nerror_log = /var/log/fpm.log\n[app]\nlisten = /run/php/app.sock\nlisten.backlog = 8\n',
      { path: '/etc/php-fpm.conf' },
    ).locations;
    const report = diagnose(snap);
    const overflow = report.findings.find((f) => f.code === 'live.accept-queue-overflow');
    expect(overflow?.fix).toContain('listen.backlog = 511 in pool app (/etc/php-fpm.conf line 5)');
    expect(overflow?.fix).toContain('restart FPM');
    expect(report.files['changes to /etc/php-fpm.conf']).toBe(
      'line 5 ([app]): listen.backlog = 511\nadd to [global]: process_control_timeout = 10s\nthen restart FPM (stop and start the master: a reload keeps the listening socket as it was)\n',
    );
    expect(Object.keys(report.files).some((n) => n.startsWith('php-fpm.conf'))).toBe(false);
    expect(report.files['sysctl.d/60-php-fpm.conf']).toContain('net.core.somaxconn');
  });

  it('attributes nginx errors to a pool listening on a path relative to its prefix', () => {
    const report = diagnose(
      snapshot('prefix = /srv/fpm\nlisten = run/app.sock\npm = static\npm.max_children = 2\n', [
        eagain('/srv/fpm/run/app.sock', '00:00:01'),
      ]),
    );
    const overflow = report.findings.find((f) => f.code === 'live.accept-queue-overflow');
    expect(overflow?.pool).toBe('app');
    // listen.backlog -1 with somaxconn 4096 holds 4097; the next 2^n - 1 above 4098 is 8191.
    expect(report.files['changes to /etc/php-fpm.conf']).toContain('listen.backlog = 8191');
  });

  it('sizes the suggested backlog with the sizing floor and the 2^n - 1 rule', () => {
    expect(backlogForRefusals(9, 20)).toBe(511);
    expect(backlogForRefusals(512, 100)).toBe(1023);
    expect(backlogForRefusals(2 ** 31, 1)).toBe(2_147_483_647);
  });
});

describe('checkStack reads listen as FPM does', () => {
  const stack = (address: string) => ({
    fpm: {
      global: { processControlTimeoutSeconds: 70 },
      pools: [
        {
          name: 'www',
          listen: { address },
          pm: { mode: 'static' as const, maxChildren: 2, maxRequests: 100 },
          requestTerminateTimeoutSeconds: 60,
        },
      ],
    },
    kernel: {},
  });

  it('takes `*:9000` for a name FPM looks up, not for every interface', () => {
    const codes = (a: string) => checkStack(stack(a)).map((f) => f.code);
    expect(codes('9000')).toContain('stack.fpm-listen-open');
    expect(codes('[::]:9000')).toContain('stack.fpm-listen-open');
    expect(codes('*:9000')).not.toContain('stack.fpm-listen-open');
  });

  it('refuses `unix:/run/x.sock` (FPM reads host `unix`) and an over-long path, naming the field', () => {
    expect(() => checkStack(stack('unix:/run/x.sock'))).toThrow(FpmkitInvalidOptionError);
    expect(() => checkStack(stack('unix:/run/x.sock'))).toThrow(/fpm\.pools\.0\.listen\.address/);
    expect(() => checkStack(stack(`/run/${'a'.repeat(120)}.sock`))).toThrow(/sun_path/);
  });
});
