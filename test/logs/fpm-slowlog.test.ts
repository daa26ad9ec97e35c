import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import {
  MAX_SLOWLOG_FRAMES,
  parseFpmSlowlog,
  type SlowlogRecord,
  slowlogRecordSchema,
  streamFpmSlowlog,
} from '../../src/logs/index.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/logs/${name}`, import.meta.url), 'utf8');

const entries = (records: readonly SlowlogRecord[]) =>
  records.filter((r): r is Extract<SlowlogRecord, { kind: 'entry' }> => r.kind === 'entry');

describe('parseFpmSlowlog on php-fpm-slow.log', () => {
  const records = parseFpmSlowlog(fixture('php-fpm-slow.log'));

  it('finds the three entries with pool, pid, script and frames', () => {
    expect(records).toHaveLength(3);
    expect(records.every((r) => r.kind === 'entry')).toBe(true);
    for (const r of records) expect(slowlogRecordSchema.safeParse(r).success).toBe(true);
    const all = entries(records);
    expect(all.map((e) => [e.line, e.pool, e.pid, e.scriptFilename, e.frames.length])).toEqual([
      [2, 'logs', 2985, '/var/www/fixture-lab/slow.php', 4],
      [9, 'logs', 2986, '/var/www/fixture-lab/slow.php', 4],
      [16, 'logs', 3070, '/var/www/fixture-lab/sleep.php', 1],
    ]);
    expect(all[0]!.frames.map((f) => f.function)).toEqual([
      'sleep',
      'fetch_remote_data',
      'build_report',
      'show',
    ]);
    expect(all[0]!.frames[3]).toEqual({
      address: '0x00007f79bde130a0',
      function: 'show',
      file: '/var/www/fixture-lab/slow.php',
      line: 17,
    });
    expect(all[2]!.date.toISOString()).toBe('2026-11-21T08:47:22.000Z');
    expect(all.every((e) => !e.dumpFailed)).toBe(true);
  });
});

describe('parseFpmSlowlog, edge cases', () => {
  const header = '[05-May-2017 13:44:39]  [pool www] pid 4109';

  it('keeps a failed dump, with and without an address, and frames of internal functions', () => {
    const [entry] = entries(
      parseFpmSlowlog(
        [
          header,
          'script_filename = /srv/index.php',
          '[0x00007fff39d538b0] __call() unknown:0',
          '[0x00007fec119d1590] Foo\\Bar->run() /srv/a b/c.php:284',
          '[0x00007fec119d0ff8] +++ dump failed',
        ].join('\n'),
      ),
    );
    expect(entry!.frames).toEqual([
      { address: '0x00007fff39d538b0', function: '__call', file: 'unknown', line: 0 },
      {
        address: '0x00007fec119d1590',
        function: 'Foo\\Bar->run',
        file: '/srv/a b/c.php',
        line: 284,
      },
    ]);
    expect(entry!.dumpFailed).toBe(true);
    expect(entry!.dumpFailedAddress).toBe('0x00007fec119d0ff8');
    const [bare] = entries(parseFpmSlowlog(`${header}\n+++ dump failed\n`));
    expect(bare!.dumpFailed).toBe(true);
    expect(bare!.dumpFailedAddress).toBeUndefined();
    expect(bare!.scriptFilename).toBeUndefined();
  });

  it.each([
    ['empty', '', []],
    ['blank lines', '\n\n', []],
    ['header only (truncated file)', header, [1]],
  ])('parses %s', (_name, text, lines) => {
    expect(parseFpmSlowlog(text).map((r) => r.line)).toEqual(lines);
  });

  it('returns stray lines as unknown, ending the entry before them', () => {
    const records = parseFpmSlowlog(`garbage\n${header}\nscript_filename = /x.php\nnot a frame\n`);
    expect(records.map((r) => r.kind)).toEqual(['unknown', 'entry', 'unknown']);
    expect(records[2]).toEqual({ kind: 'unknown', line: 4, raw: 'not a frame' });
  });

  it('throws FpmkitParseError with strict', () => {
    expect(() => parseFpmSlowlog(`${header}\nnot a frame\n`, { strict: true })).toThrow(
      FpmkitParseError,
    );
  });

  it('caps the frames kept per entry', () => {
    const frames = Array.from(
      { length: MAX_SLOWLOG_FRAMES + 5 },
      (_, i) => `[0x${i.toString(16)}] f() /x.php:${i}`,
    );
    const [entry] = entries(parseFpmSlowlog([header, ...frames].join('\n')));
    expect(entry!.frames).toHaveLength(MAX_SLOWLOG_FRAMES);
  });
});

describe('streamFpmSlowlog', () => {
  it('yields the same entries as parseFpmSlowlog, each as soon as it is complete', async () => {
    const text = fixture('php-fpm-slow.log');
    const lines = text.split('\n');
    let consumed = 0;
    async function* source() {
      for (const l of lines) {
        consumed++;
        yield l;
      }
    }
    const seenAt: number[] = [];
    const streamed: SlowlogRecord[] = [];
    for await (const r of streamFpmSlowlog(source())) {
      seenAt.push(consumed);
      streamed.push(r);
    }
    expect(streamed).toEqual(parseFpmSlowlog(text));
    // The first entry ends at the blank line 7, before the rest of the file is read.
    expect(seenAt[0]).toBe(8);
  });
});
