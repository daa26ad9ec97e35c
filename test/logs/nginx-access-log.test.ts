import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import {
  compileNginxLogFormat,
  type NginxAccessEntry,
  type NginxAccessRecord,
  nginxAccessRecordSchema,
  parseNginxAccessLog,
  streamNginxAccessLog,
} from '../../src/logs/index.js';
import { decodeNginxEscapes, parseUpstreamList } from '../../src/logs/nginx-access-log.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

/** The fixture's format exactly as written in its nginx.conf. */
const TIMING = `log_format timing '$remote_addr - $remote_user [$time_local] "$request" '
                  '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                  'rt=$request_time uct="$upstream_connect_time" '
                  'uht="$upstream_header_time" urt="$upstream_response_time" '
                  'us="$upstream_status" ua="$upstream_addr"';`;

const entries = (records: readonly NginxAccessRecord[]) =>
  records.filter((r): r is NginxAccessEntry => r.kind === 'entry');

describe('parseNginxAccessLog on nginx-access.log (format timing)', () => {
  const records = parseNginxAccessLog(fixture('nginx-access.log'), { format: TIMING });
  const all = entries(records);

  it('reads all 109 lines, valid against the schema', () => {
    expect(records).toHaveLength(109);
    expect(all).toHaveLength(109);
    for (const r of records) expect(nginxAccessRecordSchema.safeParse(r).success).toBe(true);
  });

  it('counts statuses as grep counts them: 69 × 200, 39 × 502 (29 of them the burst), 1 × 504', () => {
    const byStatus: Record<number, number> = {};
    for (const e of all) byStatus[e.status!] = (byStatus[e.status!] ?? 0) + 1;
    expect(byStatus).toEqual({ 200: 69, 502: 39, 504: 1 });
    const burst502 = all.filter((e) => e.uri === '/burst/sleep.php?ms=200' && e.status === 502);
    expect(burst502).toHaveLength(29);
    // A connect() refused with EAGAIN has no connect time: `-` is null, not 0.
    expect(burst502[0]!.upstreamConnectTimeSeconds).toBeUndefined();
    expect(burst502[0]!.upstreamResponseTimeSeconds).toEqual([[0]]);
  });

  it('types the first line completely', () => {
    expect(all[0]).toEqual({
      kind: 'entry',
      line: 1,
      raw: expect.any(String),
      fields: expect.objectContaining({ upstream_addr: 'unix:/run/php/fixture-lab/logs.sock' }),
      remoteAddr: '127.0.0.1',
      time: new Date('2026-11-21T08:47:16.000Z'),
      request: 'GET /logs/hello.php HTTP/1.1',
      method: 'GET',
      uri: '/logs/hello.php',
      protocol: 'HTTP/1.1',
      status: 200,
      bodyBytesSent: 31,
      httpUserAgent: 'curl/7.88.1',
      requestTimeSeconds: 0.001,
      upstreamConnectTimeSeconds: [[0]],
      upstreamHeaderTimeSeconds: [[0]],
      upstreamResponseTimeSeconds: [[0]],
      upstreamStatus: [[200]],
      upstreamAddr: [['unix:/run/php/fixture-lab/logs.sock']],
    });
    expect(all[0]!.fields.remote_user).toBe('-');
    expect(all[0]).not.toHaveProperty('remoteUser');
    expect(all[0]).not.toHaveProperty('httpReferer');
  });

  it('reads the 504 with its missing header time', () => {
    const e = all.find((x) => x.status === 504)!;
    expect(e.requestTimeSeconds).toBe(1.001);
    expect(e.upstreamHeaderTimeSeconds).toBeUndefined();
    expect(e.upstreamStatus).toEqual([[504]]);
  });
});

describe('parseNginxAccessLog, formats and values', () => {
  it('uses the combined format by default', () => {
    const [r] = parseNginxAccessLog(
      '203.0.113.9 - bob [02/Jan/2026:03:04:05 -0130] "GET /a%20b?x=1 HTTP/2.0" 404 0 "https://ref/" "Mozilla \\x22quoted\\x22 \\xC3\\xA9"\n',
    );
    expect(r).toMatchObject({
      kind: 'entry',
      remoteAddr: '203.0.113.9',
      remoteUser: 'bob',
      time: new Date('2026-01-02T04:34:05.000Z'),
      method: 'GET',
      uri: '/a%20b?x=1',
      protocol: 'HTTP/2.0',
      status: 404,
      bodyBytesSent: 0,
      httpReferer: 'https://ref/',
      httpUserAgent: 'Mozilla "quoted" é',
    });
  });

  it('reads upstream lists: comma for the next server, colon for the next group', () => {
    const format =
      'rt=$request_time urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr" uct=$upstream_connect_time';
    const [r] = parseNginxAccessLog(
      'rt=0.010 urt="0.001, 0.002 : 0.003" us="502, 502 : 200" ua="127.0.0.1:9000, unix:/run/php/a.sock : 10.0.0.2:9000" uct=-, 0.000 : 0.001',
      { format },
    );
    expect(r).toMatchObject({
      requestTimeSeconds: 0.01,
      upstreamResponseTimeSeconds: [[0.001, 0.002], [0.003]],
      upstreamStatus: [[502, 502], [200]],
      upstreamAddr: [['127.0.0.1:9000', 'unix:/run/php/a.sock'], ['10.0.0.2:9000']],
      upstreamConnectTimeSeconds: [[null, 0], [0.001]],
    });
  });

  it.each([
    ['a bare string', '$remote_addr $status'],
    ['quoted pieces', `'$remote_addr ' "$status"`],
    ['a whole directive with escape=', `log_format x escape=default '$remote_addr' ' $status';`],
    ['braced names', '${remote_addr} ${status}'],
  ])('compiles %s', (_name, format) => {
    const p = compileNginxLogFormat(format);
    expect(p.variables).toEqual(['remote_addr', 'status']);
    expect(p.parseLine('::1 200')).toMatchObject({ remoteAddr: '::1', status: 200 });
  });

  it('reads $time_iso8601 and $msec', () => {
    const [a] = parseNginxAccessLog('2026-01-02T03:04:05+02:00', { format: '$time_iso8601' });
    expect((a as NginxAccessEntry).time?.toISOString()).toBe('2026-01-02T01:04:05.000Z');
    const [b] = parseNginxAccessLog('1767315845.123', { format: '$msec' });
    expect((b as NginxAccessEntry).time?.toISOString()).toBe('2026-01-02T01:04:05.123Z');
  });

  it('falls back to the lenient pattern for a quote inside a quoted value (escape=none)', () => {
    const [r] = parseNginxAccessLog('"say "hi"" 200', { format: '"$http_user_agent" $status' });
    expect(r).toMatchObject({ httpUserAgent: 'say "hi"', status: 200 });
  });

  it('keeps a variable named __proto__ as a plain field', () => {
    const [r] = parseNginxAccessLog('x', { format: '$__proto__' });
    expect(Object.keys((r as NginxAccessEntry).fields)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf((r as NginxAccessEntry).fields)).toBe(Object.prototype);
  });

  it.each([
    ['no variable', 'just text'],
    ['empty', ''],
  ])('rejects a format with %s', (_name, format) => {
    expect(() => compileNginxLogFormat(format)).toThrow(FpmkitInvalidOptionError);
  });

  it.each([
    ['garbage', 'hello'],
    ['truncated', '127.0.0.1 - - [21/Nov/2026:08:47:16 +0000] "GET /'],
  ])('keeps %s lines as unknown and throws with strict', (_name, line) => {
    expect(parseNginxAccessLog(line)).toEqual([{ kind: 'unknown', line: 1, raw: line }]);
    expect(() => parseNginxAccessLog(line, { strict: true })).toThrow(FpmkitParseError);
  });

  it('leaves a value that is not a number untyped, in fields only', () => {
    const [r] = parseNginxAccessLog('abc', { format: '$status' });
    expect(r).toEqual({ kind: 'entry', line: 1, raw: 'abc', fields: { status: 'abc' } });
  });

  it('decodes escapes and splits lists as helpers', () => {
    expect(decodeNginxEscapes('a\\x5Cb\\xzz')).toBe('a\\b\\xzz');
    expect(parseUpstreamList('1 : -', Number)).toEqual([[1], [null]]);
  });
});

describe('streamNginxAccessLog', () => {
  it('yields the same records as parseNginxAccessLog', async () => {
    const text = fixture('nginx-access.log');
    const streamed: NginxAccessRecord[] = [];
    for await (const r of streamNginxAccessLog(text.split('\n'), { format: TIMING })) {
      streamed.push(r);
    }
    expect(streamed).toEqual(parseNginxAccessLog(text, { format: TIMING }));
  });
});
