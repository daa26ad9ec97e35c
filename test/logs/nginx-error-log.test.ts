import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import {
  type NginxErrorEntry,
  type NginxErrorEvent,
  type NginxErrorRecord,
  nginxErrorRecordSchema,
  parseNginxErrorLog,
  streamNginxErrorLog,
} from '../../src/logs/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

const entries = (records: readonly NginxErrorRecord[]) =>
  records.filter((r): r is NginxErrorEntry => r.kind === 'entry');

const classOf = (e: NginxErrorEntry) =>
  e.event.kind === 'upstream_error' ? e.event.class : e.event.kind;

describe('parseNginxErrorLog on nginx-error.log', () => {
  const records = parseNginxErrorLog(fixture('nginx-error.log'));
  const all = entries(records);

  it('reads all 52 lines, valid against the schema', () => {
    expect(records).toHaveLength(52);
    expect(all).toHaveLength(52);
    for (const r of records) expect(nginxErrorRecordSchema.safeParse(r).success).toBe(true);
  });

  it('classifies every upstream failure of the run', () => {
    const counts: Record<string, number> = {};
    for (const e of all) counts[classOf(e)] = (counts[classOf(e)] ?? 0) + 1;
    expect(counts).toEqual({
      fastcgi_stderr: 1,
      connection_reset: 4,
      read_timeout: 1,
      premature_close: 2,
      connection_refused: 2,
      socket_missing: 1,
      permission_denied: 1,
      backlog_full: 29,
      signal: 3,
      other: 8,
    });
  });

  it('reads the EAGAIN line of the burst with every context field', () => {
    const e = all[12]!;
    expect(e).toMatchObject({
      line: 13,
      level: 'error',
      pid: 2799,
      tid: 2799,
      connection: 722,
      message:
        'connect() to unix:/run/php/fixture-lab/burst.sock failed (11: Resource temporarily unavailable)',
      action: 'connecting to upstream',
      client: '127.0.0.1',
      server: 'lab.local',
      request: 'GET /burst/sleep.php?ms=200 HTTP/1.1',
      upstream: 'fastcgi://unix:/run/php/fixture-lab/burst.sock:',
      host: 'lab.local',
    });
    expect(e.date.toISOString()).toBe('2026-11-21T08:47:32.000Z');
    expect(e.event).toEqual({
      kind: 'upstream_error',
      class: 'backlog_full',
      phase: 'connect',
      syscall: 'connect',
      errno: 11,
      errnoName: 'EAGAIN',
      errnoText: 'Resource temporarily unavailable',
      socketPath: '/run/php/fixture-lab/burst.sock',
    });
  });

  it('reads ENOENT and EACCES at crit level, and TCP connection refused', () => {
    expect(all[9]!.level).toBe('crit');
    expect(all[9]!.event).toMatchObject({ class: 'socket_missing', errnoName: 'ENOENT' });
    expect(all[10]!.level).toBe('crit');
    expect(all[10]!.event).toMatchObject({ class: 'permission_denied', errno: 13 });
    expect(all[8]!.event).toMatchObject({ class: 'connection_refused', errnoName: 'ECONNREFUSED' });
    expect(all[8]!.upstream).toBe('fastcgi://127.0.0.1:18099');
    expect(all[8]!.event).not.toHaveProperty('socketPath');
  });

  it('tells a read timeout from a reset and a premature close', () => {
    expect(all[2]!.event).toEqual({
      kind: 'upstream_error',
      class: 'read_timeout',
      phase: 'read',
      errno: 110,
      errnoName: 'ETIMEDOUT',
      errnoText: 'Connection timed out',
    });
    expect(all[1]!.event).toMatchObject({
      class: 'connection_reset',
      syscall: 'recv',
      phase: 'read',
    });
    expect(all[5]!.event).toEqual({
      kind: 'upstream_error',
      class: 'premature_close',
      phase: 'read',
    });
  });

  it('splits FastCGI stderr into PHP messages', () => {
    expect(all[0]!.event).toEqual({
      kind: 'fastcgi_stderr',
      text: 'PHP message: lab: error_log() call from worker 3070',
      phpMessages: ['lab: error_log() call from worker 3070'],
      truncated: false,
    });
    expect(all[0]!.request).toBe('GET /logs/warn.php HTTP/1.1');
  });

  it('reads notice lines without a connection, and signals', () => {
    const hup = all[41]!;
    expect(hup.level).toBe('notice');
    expect(hup.pid).toBe(18437);
    expect(hup).not.toHaveProperty('connection');
    expect(hup.event).toEqual({ kind: 'signal', signal: 1, signalName: 'SIGHUP', fromPid: 2932 });
    expect(all[51]!.event).toEqual({ kind: 'signal', signal: 29, signalName: 'SIGIO' });
  });
});

describe('parseNginxErrorLog, line by line', () => {
  const ctx =
    ', client: 10.0.0.1, server: example.com, request: "POST /a.php HTTP/2.0", upstream: "fastcgi://127.0.0.1:9000", host: "example.com", referrer: "https://example.com/"';
  const one = (msg: string) => {
    const r = parseNginxErrorLog(`2026/01/02 03:04:05 [error] 10#11: *7 ${msg}`)[0]!;
    expect(r.kind).toBe('entry');
    return r as NginxErrorEntry;
  };

  it.each<[string, string, Partial<NginxErrorEvent>]>([
    [
      'connect timeout',
      'upstream timed out (110: Connection timed out) while connecting to upstream',
      { class: 'connect_timeout', phase: 'connect' },
    ],
    [
      'send timeout',
      'upstream timed out (110: Connection timed out) while sending request to upstream',
      { class: 'send_timeout', phase: 'send' },
    ],
    [
      'no live upstreams',
      'no live upstreams while connecting to upstream',
      { class: 'no_live_upstreams', phase: 'connect' },
    ],
    [
      'broken pipe while sending',
      'writev() failed (32: Broken pipe) while sending request to upstream',
      { class: 'other', errnoName: 'EPIPE', phase: 'send' },
    ],
    [
      'other upstream trouble',
      'upstream sent too big header while reading response header from upstream',
      { kind: 'upstream_error', class: 'other', phase: 'read' },
    ],
  ])('classifies %s', (_name, msg, event) => {
    const e = one(msg + ctx);
    expect(e.event).toMatchObject(event);
    expect(e).toMatchObject({
      client: '10.0.0.1',
      server: 'example.com',
      request: 'POST /a.php HTTP/2.0',
      host: 'example.com',
      referrer: 'https://example.com/',
      tid: 11,
    });
  });

  it('keeps ", client: " inside PHP output apart from the real context', () => {
    const e = one(
      `FastCGI sent in stderr: "PHP message: PHP Warning:  bad, client: x in /a.php on line 3; PHP message: PHP Notice:  second" while reading response header from upstream${ctx}`,
    );
    expect(e.client).toBe('10.0.0.1');
    expect(e.action).toBe('reading response header from upstream');
    expect(e.event).toEqual({
      kind: 'fastcgi_stderr',
      text: 'PHP message: PHP Warning:  bad, client: x in /a.php on line 3; PHP message: PHP Notice:  second',
      phpMessages: ['PHP Warning:  bad, client: x in /a.php on line 3', 'PHP Notice:  second'],
      truncated: false,
    });
  });

  it('reads Primary script unknown, which has no PHP message prefix', () => {
    const e = one(
      `FastCGI sent in stderr: "Primary script unknown" while reading response header from upstream${ctx}`,
    );
    expect(e.event).toEqual({
      kind: 'fastcgi_stderr',
      text: 'Primary script unknown',
      phpMessages: [],
      truncated: false,
    });
  });

  it('marks FastCGI stderr cut at the line limit as truncated', () => {
    const e = one('FastCGI sent in stderr: "PHP message: a while b and then the line ends');
    expect(e.event).toMatchObject({ kind: 'fastcgi_stderr', truncated: true });
    expect(e.action).toBeUndefined();
  });

  it.each([
    ['empty', ''],
    ['garbage', 'hello'],
    ['truncated frame', '2026/01/02 03:04'],
    ['unknown level', '2026/01/02 03:04:05 [loud] 1#1: x'],
    ['month 13', '2026/13/02 03:04:05 [error] 1#1: x'],
  ])('keeps %s as unknown and throws with strict', (_name, line) => {
    const records = parseNginxErrorLog(line);
    if (line === '') {
      expect(records).toEqual([]);
      return;
    }
    expect(records).toEqual([{ kind: 'unknown', line: 1, raw: line }]);
    expect(() => parseNginxErrorLog(line, { strict: true })).toThrow(FpmkitParseError);
  });

  it('reads local time in the zone given by utcOffsetMinutes', () => {
    const [r] = parseNginxErrorLog('2026/01/02 03:04:05 [warn] 1#1: x', { utcOffsetMinutes: 120 });
    expect((r as NginxErrorEntry).date.toISOString()).toBe('2026-01-02T01:04:05.000Z');
  });
});

describe('streamNginxErrorLog', () => {
  it('yields the same records as parseNginxErrorLog', async () => {
    const text = fixture('nginx-error.log');
    const streamed: NginxErrorRecord[] = [];
    for await (const r of streamNginxErrorLog(text.split('\n'))) streamed.push(r);
    expect(streamed).toEqual(parseNginxErrorLog(text));
  });
});
