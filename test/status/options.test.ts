import { afterEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  type FetchStatusOptions,
  fetchStatus,
  type PingOptions,
  ping,
  STATUS_DEFAULTS,
  type WatchStatusOptions,
  watchStatus,
} from '../../src/status/index.js';
import { resolveWatchOptions } from '../../src/status/watch.js';
import { jsonAnswer, type ScriptedFpm, startScriptedFpm } from './scripted-fpm.js';

/**
 * Every option of fetchStatus, ping and watchStatus is checked before anything is sent, and a bad
 * one is reported under the name the caller wrote, not the FastCGI client option it feeds.
 */

const PAGE = JSON.stringify({
  pool: 'www',
  'process manager': 'dynamic',
  'start time': 1795250421,
  'start since': 100,
  'accepted conn': 1,
  'listen queue': 0,
  'max listen queue': 0,
  'listen queue len': 0,
  'idle processes': 1,
  'active processes': 1,
  'total processes': 2,
  'max active processes': 2,
  'max children reached': 0,
  'slow requests': 0,
});

/** Options shared by fetchStatus and watchStatus, each with the option name it must report. */
const shared: Array<[string, FetchStatusOptions]> = [
  ['path', { path: 'status' }],
  ['path', { path: '' }],
  ['path', { path: 5 as unknown as string }],
  ['format', { format: 'yaml' as never }],
  ['timeoutMs', { timeoutMs: -5 }],
  ['timeoutMs', { timeoutMs: 0 }],
  ['timeoutMs', { timeoutMs: Number.NaN }],
  ['timeoutMs', { timeoutMs: 2 ** 31 }],
  ['timeoutMs', { timeoutMs: '5000' as unknown as number }],
  ['full', { full: 'yes' as unknown as boolean }],
  ['listen', { listen: 9000 as unknown as string }],
  ['signal', { signal: {} as AbortSignal }],
];

const watchOnly: Array<[string, WatchStatusOptions]> = [
  ['intervalMs', { intervalMs: 5 }],
  ['intervalMs', { intervalMs: Number.POSITIVE_INFINITY }],
  ['intervalMs', { intervalMs: 2 ** 31 }],
  ['onError', { onError: 'log' as unknown as () => void }],
];

const optionOf = (error: unknown) =>
  error instanceof FpmkitInvalidOptionError ? error.option : `not an option error: ${error}`;

describe('status options are checked before anything is sent', () => {
  let fpm: ScriptedFpm | undefined;
  afterEach(async () => {
    await fpm?.close();
    fpm = undefined;
  });

  it.each([...shared, ...watchOnly])(
    'watchStatus names %s, throws at the first iteration and never calls onError',
    async (option, bad) => {
      fpm = await startScriptedFpm(() => jsonAnswer(PAGE));
      const errors: unknown[] = [];
      // The abort bounds the old behaviour (onError on every interval) so the test fails, not hangs.
      const iterator = watchStatus(fpm.target, {
        intervalMs: 10,
        onError: (e) => errors.push(e),
        signal: AbortSignal.timeout(1_000),
        ...bad,
      });
      const error = await iterator.next().then(
        (r) => `resolved ${JSON.stringify(r.done)}`,
        (e: unknown) => e,
      );
      expect(optionOf(error)).toBe(option);
      expect(errors).toEqual([]);
      expect(fpm.requests).toHaveLength(0);
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    },
  );

  it.each(shared)('fetchStatus names %s', async (option, bad) => {
    fpm = await startScriptedFpm(() => jsonAnswer(PAGE));
    const error = await fetchStatus(fpm.target, bad).catch((e: unknown) => e);
    expect(optionOf(error)).toBe(option);
    expect(fpm.requests).toHaveLength(0);
  });

  it.each<[string, PingOptions]>([
    ['path', { path: 'ping' }],
    ['timeoutMs', { timeoutMs: -5 }],
    ['timeoutMs', { timeoutMs: 2 ** 31 }],
    ['response', { response: 5 as unknown as string }],
    ['signal', { signal: 'stop' as unknown as AbortSignal }],
  ])('ping names %s', async (option, bad) => {
    fpm = await startScriptedFpm(() => jsonAnswer('pong'));
    const error = await ping(fpm.target, bad).catch((e: unknown) => e);
    expect(optionOf(error)).toBe(option);
    expect(fpm.requests).toHaveLength(0);
  });

  it('the reviewer case: a relative path with onError set ends the watch at once', async () => {
    const errors: unknown[] = [];
    const run = async () => {
      for await (const _ of watchStatus('/nowhere.sock', {
        path: 'status',
        intervalMs: 10,
        onError: (e) => errors.push(e),
        signal: AbortSignal.timeout(500),
      })) {
        // no sample expected
      }
    };
    await expect(run()).rejects.toMatchObject({ code: 'FPMKIT_INVALID_OPTION', option: 'path' });
    expect(errors).toHaveLength(0);
  });

  it('watchStatus({ timeoutMs: -5 }) reports timeoutMs, not connectTimeoutMs', async () => {
    await expect(watchStatus('/nowhere.sock', { timeoutMs: -5 }).next()).rejects.toMatchObject({
      option: 'timeoutMs',
    });
  });
});

describe('watchStatus defaults come from STATUS_DEFAULTS', () => {
  it('applies every default in one place', () => {
    expect(resolveWatchOptions({})).toEqual({
      format: STATUS_DEFAULTS.format,
      full: STATUS_DEFAULTS.full,
      path: STATUS_DEFAULTS.path,
      timeoutMs: STATUS_DEFAULTS.timeoutMs,
      intervalMs: STATUS_DEFAULTS.intervalMs,
      listen: undefined,
      signal: undefined,
      onError: undefined,
    });
    expect(STATUS_DEFAULTS).toMatchObject({ intervalMs: 1_000, timeoutMs: 5_000 });
  });

  it('keeps what the caller gave', () => {
    const onError = () => {};
    const signal = new AbortController().signal;
    expect(
      resolveWatchOptions({
        format: 'xml',
        full: true,
        path: '/fpm-status',
        timeoutMs: 250,
        intervalMs: 10,
        listen: '/run/php/www.sock',
        signal,
        onError,
      }),
    ).toEqual({
      format: 'xml',
      full: true,
      path: '/fpm-status',
      timeoutMs: 250,
      intervalMs: 10,
      listen: '/run/php/www.sock',
      signal,
      onError,
    });
  });
});
