import { afterEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  diffStatus,
  type FpmStatus,
  parseStatusJson,
  type StatusSample,
  watchStatus,
} from '../../src/status/index.js';
import { jsonAnswer, type ScriptedFpm, startScriptedFpm } from './scripted-fpm.js';

interface PageSpec {
  start?: number;
  since?: number;
  accepted: number;
  slow?: number;
  reached?: number;
  maxActive?: number;
}

function page(spec: PageSpec): string {
  return JSON.stringify({
    pool: 'www',
    'process manager': 'dynamic',
    'start time': spec.start ?? 1795250421,
    'start since': spec.since ?? 100,
    'accepted conn': spec.accepted,
    'listen queue': 0,
    'max listen queue': 0,
    'listen queue len': 0,
    'idle processes': 1,
    'active processes': 1,
    'total processes': 2,
    'max active processes': spec.maxActive ?? 2,
    'max children reached': spec.reached ?? 0,
    'slow requests': spec.slow ?? 0,
  });
}
const status = (spec: PageSpec): FpmStatus => parseStatusJson(page(spec));

describe('diffStatus', () => {
  it('gives increments and per-second rates', () => {
    const delta = diffStatus(
      status({ accepted: 100, slow: 1 }),
      status({ accepted: 150, slow: 3, reached: 1, since: 102 }),
      2000,
    );
    expect(delta).toEqual({
      restarted: false,
      increments: { acceptedConn: 50, slowRequests: 2, maxChildrenReached: 1 },
      rates: {
        acceptedConnPerSecond: 25,
        slowRequestsPerSecond: 1,
        maxChildrenReachedPerSecond: 0.5,
      },
    });
  });

  it.each<[string, PageSpec]>([
    ['a new start time (reload)', { start: 1795250521, since: 1, accepted: 200 }],
    ['accepted conn fell', { accepted: 3, since: 101 }],
    ['slow requests fell', { accepted: 120, slow: 0, since: 101 }],
    ['max active processes fell', { accepted: 120, maxActive: 1, since: 101 }],
    ['start since went back', { accepted: 120, since: 5 }],
  ])('resets the baseline when %s, never a negative rate', (_title, next) => {
    const delta = diffStatus(status({ accepted: 100, slow: 2 }), status(next), 1000);
    expect(delta).toEqual({ restarted: true });
  });

  it('tolerates a derived (OpenMetrics) start time one second off', () => {
    const prev = { ...status({ accepted: 1 }), startTimeDerived: true };
    const next = {
      ...status({ accepted: 2 }),
      startTime: new Date(prev.startTime.getTime() + 1000),
    };
    expect(diffStatus(prev, next, 1000).restarted).toBe(false);
  });

  it('has increments but no rates for a zero interval', () => {
    expect(diffStatus(status({ accepted: 1 }), status({ accepted: 2 }), 0)).toEqual({
      restarted: false,
      increments: { acceptedConn: 1, slowRequests: 0, maxChildrenReached: 0 },
    });
  });
});

describe('watchStatus against a scripted FPM', () => {
  let fpm: ScriptedFpm | undefined;
  afterEach(async () => {
    await fpm?.close();
    fpm = undefined;
  });

  it('yields samples with rates, resets on a restart, and stops on abort', async () => {
    const pages: PageSpec[] = [
      { accepted: 10 },
      { accepted: 20 },
      { accepted: 5, start: 1795250600, since: 0 },
      { accepted: 9, start: 1795250600, since: 1 },
    ];
    fpm = await startScriptedFpm((n) => jsonAnswer(page(pages[Math.min(n, pages.length - 1)]!)));
    const controller = new AbortController();
    const samples: StatusSample[] = [];
    for await (const sample of watchStatus(fpm.target, {
      intervalMs: 20,
      signal: controller.signal,
    })) {
      samples.push(sample);
      if (samples.length === 4) controller.abort();
    }
    expect(samples.map((s) => s.status.acceptedConn)).toEqual([10, 20, 5, 9]);
    expect(samples.map((s) => s.restarted)).toEqual([false, false, true, false]);
    expect(samples[0]!.rates).toBeUndefined();
    expect(samples[1]!.increments?.acceptedConn).toBe(10);
    expect(samples[1]!.rates!.acceptedConnPerSecond).toBeGreaterThan(0);
    expect(samples[1]!.elapsedMs).toBeGreaterThan(0);
    expect(samples[2]!.rates).toBeUndefined();
    expect(samples[3]!.increments?.acceptedConn).toBe(4);
    expect(fpm.requests).toHaveLength(4);
  });

  it('reports failed fetches to onError and goes on', async () => {
    let n = 0;
    fpm = await startScriptedFpm(() => {
      n++;
      return n === 2
        ? {
            stdout: 'Status: 404 Not Found\r\n\r\nFile not found.\n',
            stderr: 'Primary script unknown',
          }
        : jsonAnswer(page({ accepted: n }));
    });
    const errors: unknown[] = [];
    const samples: StatusSample[] = [];
    for await (const sample of watchStatus(fpm.target, {
      intervalMs: 10,
      onError: (e) => errors.push(e),
    })) {
      samples.push(sample);
      if (samples.length === 2) break;
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ kind: 'path-not-configured' });
    expect(samples[1]!.increments?.acceptedConn).toBe(2);
  });

  it('throws the first failure without onError', async () => {
    fpm = await startScriptedFpm(() => ({ stdout: 'Status: 404 Not Found\r\n\r\n' }));
    const run = async () => {
      for await (const _ of watchStatus(fpm!.target, { intervalMs: 10 })) {
        // no sample expected
      }
    };
    await expect(run()).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('rejects an interval below the minimum', async () => {
    const iterator = watchStatus('/nowhere.sock', { intervalMs: 1 });
    await expect(iterator.next()).rejects.toBeInstanceOf(FpmkitInvalidOptionError);
  });
});
