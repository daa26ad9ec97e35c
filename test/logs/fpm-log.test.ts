import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import {
  classifyFpmMessage,
  type FpmLogEvent,
  type FpmLogRecord,
  fpmLogRecordSchema,
  parseFpmLog,
  streamFpmLog,
} from '../../src/logs/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

function countKinds(records: readonly FpmLogRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[r.event.kind] = (counts[r.event.kind] ?? 0) + 1;
  return counts;
}

function only<K extends FpmLogEvent['kind']>(records: readonly FpmLogRecord[], kind: K) {
  return records.filter(
    (r): r is FpmLogRecord & { event: Extract<FpmLogEvent, { kind: K }> } => r.event.kind === kind,
  );
}

describe('parseFpmLog on php-fpm-error.log (notice level, one full run)', () => {
  const records = parseFpmLog(fixture('php-fpm-error.log'));

  it('returns one record per line, all classified, all valid against the schema', () => {
    expect(records).toHaveLength(87);
    expect(countKinds(records)).toEqual({
      master_started: 2,
      ready: 2,
      systemd_interval: 2,
      slow_request: 3,
      trace: 9,
      worker_output: 2,
      child_exited: 19,
      child_started: 19,
      request_timed_out: 4,
      seems_busy: 3,
      max_children_reached: 2,
      log_reopened: 2,
      reload_started: 1,
      reload_exec: 1,
      inherited_socket: 14,
      finishing: 1,
      master_exited: 1,
    });
    for (const r of records) expect(fpmLogRecordSchema.safeParse(r).success).toBe(true);
  });

  it('reads the frame: time, level, pool and child pid', () => {
    const first = records[0]!;
    expect(first.time).toEqual({
      year: 2026,
      month: 11,
      day: 21,
      hour: 8,
      minute: 47,
      second: 15,
      microsecond: 0,
    });
    expect(first.date?.toISOString()).toBe('2026-11-21T08:47:15.000Z');
    expect(first.level).toBe('NOTICE');
    expect(first.event).toEqual({ kind: 'master_started', masterPid: 2984 });
    const killed = records.find((r) => r.line === 14)!;
    expect(killed.pool).toBe('logs');
    expect(killed.childPid).toBe(2986);
    expect(killed.level).toBe('WARNING');
  });

  it('gives seems busy its spawn rate, idle and total numbers', () => {
    expect(only(records, 'seems_busy').map((r) => [r.pool, r.event])).toEqual([
      ['busy', { kind: 'seems_busy', spawnRate: 8, idle: 0, total: 7 }],
      ['busy', { kind: 'seems_busy', spawnRate: 16, idle: 0, total: 9 }],
      ['busy', { kind: 'seems_busy', spawnRate: 32, idle: 0, total: 11 }],
    ]);
  });

  it('tells the dynamic and the ondemand max_children wordings apart', () => {
    expect(only(records, 'max_children_reached').map((r) => [r.pool, r.event])).toEqual([
      ['busy', { kind: 'max_children_reached', maxChildren: 12, processManager: 'dynamic' }],
      ['ondem', { kind: 'max_children_reached', maxChildren: 2, processManager: 'ondemand' }],
    ]);
  });

  it('reads slow and timed-out requests with script, method, uri and seconds', () => {
    expect(only(records, 'slow_request')[0]!.event).toEqual({
      kind: 'slow_request',
      childPid: 2986,
      script: '/var/www/fixture-lab/slow.php',
      method: 'GET',
      uri: '/logs/slow.php?s=2',
      elapsedSeconds: 1.321524,
    });
    const timedOut = only(records, 'request_timed_out');
    expect(timedOut.map((r) => r.pool)).toEqual([
      'terminate',
      'terminate',
      'terminate',
      'terminate',
    ]);
    expect(timedOut[0]!.event).toMatchObject({
      childPid: 2990,
      uri: '/terminate/sleep.php?ms=5000',
      elapsedSeconds: 2.158245,
    });
  });

  it('reads child exits by code and by signal', () => {
    const exits = only(records, 'child_exited');
    expect(exits.filter((r) => r.event.exitCode === 0)).toHaveLength(14);
    const bySignal = exits.filter((r) => r.event.signal !== undefined).map((r) => r.event);
    expect(bySignal.map((e) => e.signalName)).toEqual([
      'SIGKILL',
      'SIGTERM',
      'SIGTERM',
      'SIGTERM',
      'SIGTERM',
    ]);
    expect(bySignal[0]).toEqual({
      kind: 'child_exited',
      childPid: 2986,
      signal: 9,
      signalName: 'SIGKILL',
      coreDumped: false,
      uptimeSeconds: 4.775945,
    });
  });

  it('reads worker output, reload, reopen and inherited sockets', () => {
    expect(only(records, 'worker_output').map((r) => r.event.text)).toEqual([
      'lab: something went wrong in worker 3070',
      'NOTICE: PHP message: lab: error_log() call from worker 3070',
    ]);
    expect(only(records, 'reload_exec')[0]!.event.executable).toBe('/usr/sbin/php-fpm8.2');
    expect(only(records, 'log_reopened').map((r) => r.event.log)).toEqual(['error', 'access']);
    const sockets = only(records, 'inherited_socket').map((r) => r.event);
    expect(sockets[0]).toEqual({
      kind: 'inherited_socket',
      fd: 11,
      address: '/run/php/fixture-lab/logs.sock',
    });
    expect(sockets[13]).toEqual({ kind: 'inherited_socket', fd: 17, address: '127.0.0.1:18095' });
  });
});

describe('parseFpmLog on php-fpm-error-debug-level.log (log_level = debug)', () => {
  const records = parseFpmLog(fixture('php-fpm-error-debug-level.log'));

  it('reads every line with microseconds and the pid, function and source line prefix', () => {
    expect(records).toHaveLength(76);
    expect(records.filter((r) => r.level === 'DEBUG')).toHaveLength(64);
    expect(records.filter((r) => r.level === 'NOTICE')).toHaveLength(12);
    expect(records.every((r) => r.debug !== undefined)).toBe(true);
    const started = records.find((r) => r.event.kind === 'child_started')!;
    expect(started.debug).toEqual({ pid: 3874, function: 'fpm_children_make', sourceLine: 460 });
    expect(started.pool).toBe('dbg');
    expect(started.childPid).toBe(3875);
    expect(started.time?.microsecond).toBe(565592);
    expect(started.date?.toISOString()).toBe('2026-11-21T08:48:14.565Z');
  });

  it('classifies debug-only messages', () => {
    const counts = countKinds(records);
    expect(counts.pm_state).toBe(7);
    expect(counts.signal_received).toBe(5);
    expect(counts.child_reaped).toBe(1);
    expect(counts.child_exited).toBe(3);
    expect(records.find((r) => r.event.kind === 'pm_state')!.event).toEqual({
      kind: 'pm_state',
      active: 0,
      idle: 1,
      total: 1,
      spawnRate: 1,
    });
    expect(records.find((r) => r.event.kind === 'child_reaped')!.event).toEqual({
      kind: 'child_reaped',
      childPid: 3875,
      uptimeSeconds: 5.010382,
    });
  });
});

describe('parseFpmLog, line by line', () => {
  const one = (line: string, options = {}) => parseFpmLog(line, options)[0];

  it.each<[string, string, FpmLogEvent]>([
    [
      'core dump',
      'child 77 exited on signal 11 (SIGSEGV - core dumped) after 1.500000 seconds from start',
      {
        kind: 'child_exited',
        childPid: 77,
        signal: 11,
        signalName: 'SIGSEGV',
        coreDumped: true,
        uptimeSeconds: 1.5,
      },
    ],
    [
      'non-zero exit code',
      'child 78 exited with code 255 after 0.010000 seconds from start',
      {
        kind: 'child_exited',
        childPid: 78,
        exitCode: 255,
        coreDumped: false,
        uptimeSeconds: 0.01,
      },
    ],
    [
      'pipe closed',
      'child 79 said into stdout: "bye", pipe is closed',
      {
        kind: 'worker_output',
        childPid: 79,
        stream: 'stdout',
        text: 'bye',
        pipeClosed: true,
        truncated: false,
      },
    ],
    [
      'worker output cut at log_limit',
      'child 80 said into stderr: "a very long line that was cu...',
      {
        kind: 'worker_output',
        childPid: 80,
        stream: 'stderr',
        text: 'a very long line that was cu...',
        pipeClosed: false,
        truncated: true,
      },
    ],
    [
      'emergency restart',
      'failed processes threshold (10 in 60 sec) is reached, initiating reload',
      { kind: 'emergency_restart', threshold: 10, intervalSeconds: 60 },
    ],
    [
      'process.max',
      "The maximum number of processes has been reached. Please review your configuration and consider raising 'process.max'",
      { kind: 'process_max_reached' },
    ],
    ['terminating', 'Terminating ...', { kind: 'terminating' }],
    [
      'idle keep-alive worker killed by request_terminate_timeout',
      `child 81, script '' (request: " ") execution timed out (3.100000 sec), terminating`,
      {
        kind: 'request_timed_out',
        childPid: 81,
        script: '',
        method: '',
        uri: '',
        elapsedSeconds: 3.1,
      },
    ],
    [
      'disallowed client',
      "Connection disallowed: IP address '10.0.0.9' has been dropped.",
      { kind: 'connection_disallowed', address: '10.0.0.9' },
    ],
    ['unclassified message', 'something FPM says that fpmkit does not know', { kind: 'other' }],
  ])('classifies %s', (_name, message, event) => {
    expect(classifyFpmMessage(message)).toEqual(event);
    const r = one(`[01-Jan-2026 00:00:00] WARNING: [pool www] ${message}`)!;
    expect(r.event).toEqual(event);
    expect(r.pool).toBe('www');
  });

  it('reads the errno of a system error', () => {
    const r = one(
      '[18-Aug-2012 17:39:43] ERROR: failed to ptrace(PEEKDATA) pid 3202: Input/output error (5)',
    )!;
    expect(r.systemError).toEqual({ message: 'Input/output error', errno: 5 });
  });

  it.each([
    ['empty input', '', 0],
    ['blank lines only', '\n\n\r\n', 0],
  ])('returns nothing for %s', (_name, text, n) => {
    expect(parseFpmLog(text)).toHaveLength(n);
  });

  it.each([
    ['undecorated worker output', 'plain text from a worker'],
    ['truncated frame', '[21-Nov-2026 08:47'],
    ['unknown level', '[21-Nov-2026 08:47:15] VERBOSE: hi'],
    ['impossible date', '[21-Foo-2026 08:47:15] NOTICE: hi'],
    ['hour out of range', '[21-Nov-2026 25:47:15] NOTICE: hi'],
  ])('keeps %s as a raw record, and throws with strict', (_name, line) => {
    expect(one(line)).toEqual({ line: 1, raw: line, message: line, event: { kind: 'raw' } });
    let error: unknown;
    try {
      parseFpmLog(`[21-Nov-2026 08:47:15] NOTICE: ready to handle connections\n${line}\n`, {
        strict: true,
        source: 'fpm.log',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect(error).toMatchObject({ source: 'fpm.log', line: 2, lineText: line });
  });

  it('reads local time in the zone given by utcOffsetMinutes', () => {
    const line = '[21-Nov-2026 08:47:15] NOTICE: ready to handle connections';
    expect(one(line, { utcOffsetMinutes: 60 })!.date?.toISOString()).toBe(
      '2026-11-21T07:47:15.000Z',
    );
    expect(one(line, { utcOffsetMinutes: -300 })!.date?.toISOString()).toBe(
      '2026-11-21T13:47:15.000Z',
    );
    expect(() => parseFpmLog(line, { utcOffsetMinutes: 1.5 })).toThrow(FpmkitInvalidOptionError);
    expect(() => parseFpmLog(line, { utcOffsetMinutes: 100_000 })).toThrow(
      FpmkitInvalidOptionError,
    );
  });

  it('numbers lines from firstLine and counts skipped blank lines', () => {
    const r = parseFpmLog('\nplain\n', { firstLine: 100 });
    expect(r.map((x) => x.line)).toEqual([101]);
  });
});

describe('streamFpmLog', () => {
  it('yields the same records as parseFpmLog', async () => {
    const text = fixture('php-fpm-error.log');
    const streamed: FpmLogRecord[] = [];
    for await (const r of streamFpmLog(text.split('\n'))) streamed.push(r);
    expect(streamed).toEqual(parseFpmLog(text));
  });
});

describe('parseFpmLog, odd characters', () => {
  it('keeps a lone CR and U+2028 inside a message', () => {
    const [r] = parseFpmLog(
      '[01-Jan-2026 00:00:00] WARNING: [pool www] child 5 said into stderr: "a\rb\u2028c"',
    );
    expect(r?.event).toMatchObject({ kind: 'worker_output', text: 'a\rb\u2028c' });
  });
});
