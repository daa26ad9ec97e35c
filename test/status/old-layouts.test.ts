import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runStatus } from '../../src/cli/status.js';
import { encodeRecord, FastCGIClient, RecordType } from '../../src/fastcgi/index.js';
import {
  diffStatus,
  type FpmStatus,
  fetchStatus,
  parseStatus,
  STATUS_FORMATS,
  type StatusFormat,
} from '../../src/status/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { loadStatusFixtures } from './fixtures.js';
import { OLDER_LAYOUTS, olderLayout, type Removal } from './old-layouts.js';

/**
 * Status pages of older FPM releases and of builds without listen-queue support: the fields
 * they lack are absent from the model, never 0, and everything else reads as on today's page.
 */

const NOW = () => new Date('2026-11-21T08:40:25Z');
const KIND_FORMAT: Record<string, StatusFormat> = {
  plain: 'text',
  json: 'json',
  xml: 'xml',
  html: 'html',
  openmetrics: 'openmetrics',
};

/** What the model of `status` becomes when the page lacks `removals`. */
function without(status: FpmStatus, removals: readonly Removal[]): FpmStatus {
  const copy = structuredClone(status);
  if (removals.includes('slow')) delete copy.slowRequests;
  if (removals.includes('queue')) {
    delete copy.listenQueue;
    delete copy.maxListenQueue;
    delete copy.listenQueueLen;
    copy.listenQueueMeasured = false;
  }
  if (removals.includes('cpu')) {
    for (const p of copy.processes ?? []) delete p.lastRequestCpuPercent;
  }
  return copy;
}

function expectOlderLayoutsToRead(body: string, format: StatusFormat): number {
  const today = parseStatus(body, { format, now: NOW });
  let checked = 0;
  for (const [name, removals] of Object.entries(OLDER_LAYOUTS[format])) {
    const older = olderLayout(body, format, removals);
    expect(older, name).not.toBe(body);
    const parsed = parseStatus(older, { format, now: NOW });
    expect(parsed, name).toEqual(without(today, removals));
    if (removals.includes('slow')) expect('slowRequests' in parsed, name).toBe(false);
    if (removals.includes('queue')) {
      expect('listenQueue' in parsed, name).toBe(false);
      expect(parsed.listenQueueMeasured, name).toBe(false);
    }
    // Detection by the body alone picks the same format.
    expect(parseStatus(older, { now: NOW }), name).toEqual(parsed);
    checked++;
  }
  return checked;
}

describe('older status page layouts, made from the captured 8.2 pages', () => {
  const fixtures = loadStatusFixtures().filter((f) => KIND_FORMAT[f.kind] !== undefined);

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', (_name, fixture) => {
    expect(expectOlderLayoutsToRead(fixture.body, KIND_FORMAT[fixture.kind]!)).toBeGreaterThan(0);
  });

  it('covers every format, with and without full', () => {
    const seen = new Set(fixtures.map((f) => `${KIND_FORMAT[f.kind]}${f.full ? ' full' : ''}`));
    for (const format of STATUS_FORMATS) {
      expect(seen).toContain(format);
      expect(seen).toContain(`${format} full`);
    }
  });

  it('a TCP pool whose queue was measured reads as not measured once the lines are gone', () => {
    const fixture = loadStatusFixtures().find((f) => f.name === 'tcp-queued-behind/json-full.txt');
    expect(fixture).toBeDefined();
    const today = parseStatus(fixture!.body, { format: 'json' });
    expect(today.listenQueueMeasured).toBe(true);
    const older = parseStatus(olderLayout(fixture!.body, 'json', ['slow', 'queue']));
    expect(older.listenQueueMeasured).toBe(false);
    expect(older.listenQueue).toBeUndefined();
  });

  it('keeps a raw quote in a script name when the CPU field no longer follows it (JSON)', () => {
    const fixture = loadStatusFixtures().find((f) => f.name === 'static/json-full.txt')!;
    const raw = fixture.body.replace('/var/www/fixture-lab/sleep.php', '/var/www/a"b\\.php');
    expect(raw).not.toBe(fixture.body);
    const older = olderLayout(raw, 'json', ['slow', 'queue', 'cpu']);
    const status = parseStatus(older, { format: 'json' });
    expect(status.processes?.[0]?.script).toBe('/var/www/a"b\\.php');
    expect(status.processes?.[0]?.lastRequestCpuPercent).toBeUndefined();
  });

  it('refuses a page with some but not all of the listen-queue lines', () => {
    const fixture = loadStatusFixtures().find((f) => f.name === 'static/plain.txt')!;
    const damaged = fixture.body.replace(/^max listen queue: +\d+\n/m, '');
    expect(damaged).not.toBe(fixture.body);
    expect(() => parseStatus(damaged)).toThrow(/missing field 'max listen queue'/);
  });
});

describe('watch arithmetic over pages without slow requests', () => {
  const fixture = loadStatusFixtures().find((f) => f.name === 'static/json.txt')!;
  const page = (accepted: number, removals: readonly Removal[]) =>
    parseStatus(
      olderLayout(
        fixture.body.replace(/"accepted conn":\d+/, `"accepted conn":${accepted}`),
        'json',
        removals,
      ),
    );

  it('reports increments and rates without a slow-requests figure, not NaN', () => {
    const delta = diffStatus(page(10, ['slow']), page(30, ['slow']), 2_000);
    expect(delta.restarted).toBe(false);
    expect(delta.increments).toEqual({ acceptedConn: 20, maxChildrenReached: 0 });
    expect(delta.rates).toEqual({ acceptedConnPerSecond: 10, maxChildrenReachedPerSecond: 0 });
  });

  it('treats a field that appears between two pages as another FPM answering', () => {
    expect(diffStatus(page(10, ['slow']), page(30, []), 2_000).restarted).toBe(true);
    expect(diffStatus(page(10, []), page(30, ['slow', 'queue']), 2_000).restarted).toBe(true);
  });
});

describe('a scripted peer serving the 2011 layout', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    server = undefined;
  });

  /** Serves the static pool's full text page without `removals`, as FPM's 2011 source sent it. */
  async function serveOlderTextPage(removals: readonly Removal[]): Promise<string> {
    const fixture = loadStatusFixtures().find((f) => f.name === 'static/plain-full.txt')!;
    const body = olderLayout(fixture.body, 'text', removals);
    // The 2011 source sent `Content-Type: text/plain` and no charset.
    const stdout = Buffer.from(
      `Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\nCache-Control: no-cache, no-store, must-revalidate, max-age=0\r\nContent-Type: text/plain\r\n\r\n${body}`,
    );
    server = createServer((socket) => {
      socket.once('data', () => {
        socket.end(
          Buffer.concat([
            encodeRecord(RecordType.STDOUT, 1, stdout),
            encodeRecord(RecordType.END_REQUEST, 1, Buffer.alloc(8)),
          ]),
        );
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  it('fetchStatus reads the text page of an FPM built without listen-queue support', async () => {
    const target = await serveOlderTextPage(['slow', 'queue']);
    const status = await fetchStatus(target, { format: 'text', full: true });
    expect(status.pool).toBe('static');
    expect(status.slowRequests).toBeUndefined();
    expect(status.listenQueue).toBeUndefined();
    expect(status.listenQueueMeasured).toBe(false);
    expect(status.processes?.length).toBeGreaterThan(0);
    expect(status.processes!.every((p) => typeof p.lastRequestCpuPercent === 'number')).toBe(true);
  });

  it('fpmkit status says what the page lacks instead of printing undefined', async () => {
    const target = await serveOlderTextPage(['slow', 'queue']);
    let out = '';
    const code = await runStatus([target, '--format', 'text'], {
      stdout: (t) => {
        out += t;
      },
      stderr: (t) => {
        out += t;
      },
      isTTY: false,
      env: {},
    });
    console.log(out);
    expect(code).toBe(0);
    expect(out).not.toMatch(/undefined|NaN/);
    // The kernel still knows the queue of the (TCP) listener.
    expect(out).toMatch(/^listen queue +not reported by this FPM build; kernel queue now \d+$/m);
    expect(out).toMatch(/^slow requests +not reported by this FPM version$/m);
  });
});

const fpmReq = phpFpmBinary();

describe.skipIf(!fpmReq.available)(`older layouts of live php-fpm pages${fpmReq.reason}`, () => {
  let fpm: StartedFpm;
  beforeAll(async () => {
    fpm = await startPhpFpm({
      pools: [
        { name: 'unixpool', directives: 'pm.status_path = /status' },
        { name: 'tcppool', listen: 'tcp', directives: 'pm.status_path = /status' },
      ],
    });
  });
  afterAll(async () => {
    await fpm?.stop();
  });

  it.each(['unixpool', 'tcppool'])(
    '%s: every format, with and without full, reads without the older layouts fields',
    async (pool) => {
      const client = new FastCGIClient(fpm.pool(pool).target);
      let checked = 0;
      for (const format of STATUS_FORMATS) {
        for (const full of [false, true]) {
          const keys = [...(format === 'text' ? [] : [format]), ...(full ? ['full'] : [])];
          const query = keys.join('&');
          const res = await client.request({
            params: {
              SCRIPT_FILENAME: '/status',
              SCRIPT_NAME: '/status',
              REQUEST_METHOD: 'GET',
              QUERY_STRING: query,
            },
          });
          expect(res.status).toBe(200);
          checked += expectOlderLayoutsToRead(res.body.toString(), format);
        }
      }
      console.log(
        `${pool}: ${checked} older-layout pages made from live php-fpm 8.2 pages read as expected`,
      );
      expect(checked).toBe(2 * (3 + 2 + 2 + 2 + 2));
    },
  );
});
