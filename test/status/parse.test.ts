import { describe, expect, it } from 'vitest';
import {
  detectStatusFormat,
  type FpmProcess,
  type FpmStatus,
  fpmStatusSchema,
  parseStatus,
  type StatusFormat,
  safeParseStatus,
} from '../../src/status/index.js';
import { loadStatusFixtures, type StatusFixture } from './fixtures.js';

const fixtures = loadStatusFixtures();
const statusFixtures = fixtures.filter((f) => f.kind !== 'ping');
const FORMAT_OF: Record<string, StatusFormat> = {
  plain: 'text',
  json: 'json',
  xml: 'xml',
  html: 'html',
  openmetrics: 'openmetrics',
};
/** The order the captures were taken in; each one is an accepted request. */
const CAPTURE_ORDER = ['plain', 'plain-full', 'json', 'json-full', 'xml', 'xml-full', 'html'];
const NOW = new Date('2026-11-21T08:40:25Z');

function parseFixture(f: StatusFixture): FpmStatus {
  return parseStatus(f.body, { contentType: f.contentType, now: () => NOW });
}

describe('parseStatus on every captured page', () => {
  it('has captures of all five formats, with and without full', () => {
    expect(new Set(statusFixtures.map((f) => f.kind))).toEqual(new Set(Object.keys(FORMAT_OF)));
    expect(statusFixtures).toHaveLength(50);
  });

  for (const f of statusFixtures) {
    it(`${f.name}: parses to a valid model in the right format`, () => {
      const status = parseFixture(f);
      expect(fpmStatusSchema.parse(status)).toEqual(status);
      expect(status.format).toBe(FORMAT_OF[f.kind]);
      // Detection from the body alone agrees with the Content-Type.
      expect(detectStatusFormat(f.body)).toBe(FORMAT_OF[f.kind]);
      expect(parseStatus(f.body, { now: () => NOW })).toEqual(status);
      expect(status.memoryPeakBytes).toBeUndefined();
      if (f.kind === 'openmetrics') {
        expect(status.processes).toBeUndefined();
        expect(status.startTimeDerived).toBe(true);
        expect(status.startTime.getTime()).toBe(NOW.getTime() - status.startSinceSeconds * 1000);
      } else {
        expect(status.processes === undefined).toBe(!f.full);
        expect(status.startTimeDerived).toBeUndefined();
      }
      expect(status.clamped).toBeUndefined();
    });
  }
});

describe('the same pool in all formats', () => {
  const dirs = [...new Set(statusFixtures.map((f) => f.dir))];
  for (const dir of dirs) {
    const pages = statusFixtures
      .filter((f) => f.dir === dir)
      .map((f) => ({ f, s: parseFixture(f) }));
    it(`${dir}: pool, process manager, start time and listen-queue fields agree`, () => {
      const first = pages[0]!.s;
      for (const { f, s } of pages) {
        expect([f.name, s.pool, s.processManager]).toEqual([
          f.name,
          first.pool,
          first.processManager,
        ]);
        expect([f.name, s.listenQueueLen, s.listenQueueMeasured]).toEqual([
          f.name,
          first.listenQueueLen,
          first.listenQueueMeasured,
        ]);
        if (f.kind !== 'openmetrics' && !first.startTimeDerived) {
          expect(s.startTime.getTime()).toBe(first.startTime.getTime());
        }
      }
    });
  }

  for (const dir of ['dynamic', 'static', 'ondemand']) {
    it(`${dir}: accepted conn grows by one per capture, in capture order`, () => {
      const byKind = new Map(
        statusFixtures
          .filter((f) => f.dir === dir)
          .map((f) => [`${f.kind}${f.full ? '-full' : ''}`, parseFixture(f).acceptedConn]),
      );
      const seq = CAPTURE_ORDER.map((k) => byKind.get(k)!);
      for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe(seq[0]! + i);
    });

    it(`${dir}: each sleeping worker reads the same in text, json, xml and html`, () => {
      const full = statusFixtures.filter(
        (f) => f.dir === dir && f.full && f.kind !== 'openmetrics',
      );
      const sleepers = (f: StatusFixture) =>
        new Map(
          parseFixture(f)
            .processes!.filter((p) => p.script !== '-')
            .map((p): [number, Omit<FpmProcess, 'requestDurationMicros'>] => {
              const { requestDurationMicros: _, ...rest } = p;
              return [p.pid, rest];
            }),
        );
      const reference = sleepers(full[0]!);
      expect(reference.size).toBeGreaterThan(0);
      for (const f of full.slice(1)) expect(sleepers(f)).toEqual(reference);
    });
  }
});

describe('values that the escaping rules make easy to get wrong', () => {
  const dyn = (kind: string) =>
    parseFixture(statusFixtures.find((f) => f.name === `dynamic/${kind}-full.txt`)!);

  it.each(['plain', 'json', 'xml', 'html'])('%s: request URIs come back unescaped', (kind) => {
    const uris = dyn(kind).processes!.map((p) => p.requestUri);
    expect(uris).toContain('/dyn/sleep.php?ms=20000&q="quoted"&tag=<b>bold</b>&amp=a&b');
    expect(uris).toContain('/dyn/sleep.php?ms=20000&json={"k":"<v>"}&lt=%3Cscript%3E');
    expect(uris).toContain("/dyn/sleep.php?ms=20000&u=héllo✓&bs=C:\\path\\to\\file&apos='single'");
  });

  it('keeps the POST method and its content length', () => {
    const post = dyn('json').processes!.find((p) => p.requestMethod === 'POST')!;
    expect(post).toMatchObject({ contentLength: 34, state: 'Running', requests: 1 });
    expect(post.startTime.toISOString()).toBe('2026-11-21T08:40:21.000Z');
  });

  it('reads astral characters from JSON surrogate pairs', () => {
    const page = parseFixture(statusFixtures.find((f) => f.name === 'ondemand/json-full.txt')!);
    expect(page.processes!.map((p) => p.requestUri)).toContain(
      '/ondemand/sleep.php?ms=20000&emoji=😀&t=a\\b',
    );
  });

  it('reads the idle worker’s last request memory and the listen queue of a TCP pool', () => {
    expect(dyn('plain').processes!.find((p) => p.state === 'Idle')!.lastRequestMemoryBytes).toBe(
      2097152,
    );
    const tcp = parseFixture(statusFixtures.find((f) => f.name === 'tcp/plain.txt')!);
    expect(tcp).toMatchObject({
      listenQueue: 8,
      maxListenQueue: 8,
      listenQueueLen: 16,
      listenQueueMeasured: true,
    });
    const capped = parseFixture(
      statusFixtures.find((f) => f.name === 'tcp-backlog65535/plain.txt')!,
    );
    expect(capped.listenQueueLen).toBe(4096);
  });

  it('marks UNIX-socket pools as not measured even with connections queued in the kernel', () => {
    const sat = parseFixture(statusFixtures.find((f) => f.name === 'unix-saturated/plain.txt')!);
    expect(sat).toMatchObject({ listenQueue: 0, listenQueueLen: 0, listenQueueMeasured: false });
  });

  it('marks the listen queue not measured when the caller says the pool listens on a UNIX path', () => {
    const tcp = statusFixtures.find((f) => f.name === 'tcp/json.txt')!;
    expect(parseStatus(tcp.body, { listen: '127.0.0.1:18090' }).listenQueueMeasured).toBe(true);
    expect(parseStatus(tcp.body, { listen: '/run/php/tcp.sock' }).listenQueueMeasured).toBe(false);
  });

  it('reports a slot FPM is still creating (pid 0, "(null)") without its clock-origin times', () => {
    const page = parseFixture(statusFixtures.find((f) => f.name === 'starting/json-full.txt')!);
    const slot = page.processes!.find((p) => p.pid === 0)!;
    expect(slot).toMatchObject({
      state: 'Creating',
      startSinceSeconds: 0,
      requestDurationMicros: 0,
      requests: 0,
      clamped: { startSinceSeconds: '1795253438', requestDurationMicros: '931552649' },
    });
    expect(slot.startTime.getTime()).toBe(0);
    expect(page.processes!.find((p) => p.pid !== 0)!.clamped).toBeUndefined();
  });

  it('safeParseStatus returns the page or the parse error', () => {
    const f = statusFixtures.find((x) => x.name === 'tcp/plain.txt')!;
    expect(safeParseStatus(f.body)).toMatchObject({ success: true, data: { pool: 'tcp' } });
    const bad = safeParseStatus('File not found.\n');
    expect(bad.success).toBe(false);
    expect(!bad.success && bad.error.code).toBe('FPMKIT_PARSE');
    expect(() => safeParseStatus('', { format: 'yaml' as never })).toThrow(/format/);
  });

  it('accepts bytes as well as text', () => {
    const f = statusFixtures.find((x) => x.name === 'dynamic/json-full.txt')!;
    expect(parseStatus(Buffer.from(f.body), { now: () => NOW })).toEqual(parseFixture(f));
  });
});
