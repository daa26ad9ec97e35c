import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { statusQueryString } from '../../src/status/fetch.js';
import {
  checkStatusResponse,
  FpmStatusError,
  fetchStatus,
  ping,
  statusRequestParams,
} from '../../src/status/index.js';
import { FIXTURE_ROOT, splitCapture } from './fixtures.js';
import { INTERNAL_ERROR, jsonAnswer, type ScriptedFpm, startScriptedFpm } from './scripted-fpm.js';

const JSON_PAGE = splitCapture(readFileSync(join(FIXTURE_ROOT, 'static/json.txt'), 'utf8')).body;
const TEXT = 'text/plain;charset=UTF-8';

describe('status request params', () => {
  it.each([
    ['text', false, ''],
    ['text', true, 'full'],
    ['json', false, 'json'],
    ['xml', true, 'xml&full'],
    ['openmetrics', true, 'openmetrics&full'],
  ] as const)('%s full=%s → %j', (format, full, query) => {
    expect(statusQueryString(format, full)).toBe(query);
  });

  it('sets what FPM matches on: a non-empty SCRIPT_FILENAME, SCRIPT_NAME = path, GET', () => {
    expect(statusRequestParams('/status', 'json&full')).toMatchObject({
      SCRIPT_FILENAME: '/status',
      SCRIPT_NAME: '/status',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'json&full',
    });
  });
});

describe('checkStatusResponse', () => {
  const request = {
    target: 'unix:/run/php/www.sock',
    path: '/status',
    endpoint: 'status',
  } as const;
  const rows: [
    string,
    Parameters<typeof checkStatusResponse>[0],
    string,
    string | undefined,
    string,
  ][] = [
    [
      'File not found. + Primary script unknown',
      {
        status: 404,
        headers: { 'content-type': TEXT },
        body: 'File not found.\n',
        stderr: 'Primary script unknown',
      },
      'path-not-configured',
      'pm.status_path',
      'FPMKIT_STATUS_MISCONFIGURED',
    ],
    [
      'No input file specified.',
      {
        status: 404,
        headers: { 'content-type': TEXT },
        body: 'No input file specified.\n',
        stderr: '',
      },
      'path-not-configured',
      'pm.status_path',
      'FPMKIT_STATUS_MISCONFIGURED',
    ],
    [
      'Access denied. (security.limit_extensions)',
      {
        status: 403,
        headers: { 'content-type': TEXT },
        body: 'Access denied.\n',
        stderr: "Access to the script '/status' has been denied (see security.limit_extensions)",
      },
      'access-denied',
      'pm.status_path',
      'FPMKIT_STATUS_MISCONFIGURED',
    ],
    [
      'a bare Status: 404',
      { status: 404, headers: {}, body: '', stderr: '' },
      'not-found',
      'pm.status_path',
      'FPMKIT_STATUS_MISCONFIGURED',
    ],
    [
      'a web page from a front controller',
      {
        status: 200,
        headers: { 'content-type': 'text/html; charset=UTF-8' },
        body: '<!DOCTYPE html><html><head><title>Shop</title></head></html>',
        stderr: '',
      },
      'not-status-page',
      'pm.status_path',
      'FPMKIT_STATUS_MISCONFIGURED',
    ],
    [
      'Status: 500',
      {
        status: 500,
        headers: { 'content-type': TEXT },
        body: 'Internal error. Please review log file for errors.',
        stderr: '',
      },
      'server-error',
      undefined,
      'FPMKIT_STATUS_HTTP',
    ],
    [
      'Status: 502',
      { status: 502, headers: {}, body: '', stderr: '' },
      'unexpected-status',
      undefined,
      'FPMKIT_STATUS_HTTP',
    ],
  ];
  for (const [title, response, kind, directive, code] of rows) {
    it(`${title} → ${kind}`, () => {
      let error: unknown;
      try {
        checkStatusResponse(response, request);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(FpmStatusError);
      expect(error).toMatchObject({
        kind,
        directive,
        code,
        path: '/status',
        httpStatus: response.status,
      });
      expect((error as Error).message).toContain('Fix:');
    });
  }

  it('names ping.path for the ping endpoint', () => {
    expect(() =>
      checkStatusResponse(
        { status: 404, headers: {}, body: 'File not found.\n', stderr: 'Primary script unknown' },
        { ...request, path: '/ping', endpoint: 'ping' },
      ),
    ).toThrow(/ping\.path = \/ping/);
  });

  it('passes a real status page through', () => {
    expect(
      checkStatusResponse(
        {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON_PAGE,
          stderr: '',
        },
        request,
      ),
    ).toBe(JSON_PAGE);
  });
});

describe('fetchStatus against a scripted FPM', () => {
  let fpm: ScriptedFpm | undefined;
  afterEach(async () => {
    await fpm?.close();
    fpm = undefined;
  });

  it('retries one Status: 500 and returns the page', async () => {
    fpm = await startScriptedFpm((n) => (n === 0 ? INTERNAL_ERROR : jsonAnswer(JSON_PAGE)));
    const status = await fetchStatus(fpm.target, { timeoutMs: 5000 });
    expect(status).toMatchObject({ pool: 'static', acceptedConn: 4 });
    expect(fpm.requests).toHaveLength(2);
    expect(fpm.requests[0]).toMatchObject({ SCRIPT_NAME: '/status', QUERY_STRING: 'json' });
  });

  it('gives up after the second Status: 500', async () => {
    fpm = await startScriptedFpm(() => INTERNAL_ERROR);
    const error = await fetchStatus(fpm.target).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'server-error', code: 'FPMKIT_STATUS_HTTP' });
    expect(fpm.requests).toHaveLength(2);
  });

  it('does not retry a misconfiguration', async () => {
    fpm = await startScriptedFpm(() => ({
      stdout:
        'Status: 404 Not Found\r\nContent-type: text/plain;charset=UTF-8\r\n\r\nFile not found.\n',
      stderr: 'Primary script unknown',
    }));
    const error = await fetchStatus(fpm.target, {
      path: '/fpm-status',
      full: true,
      format: 'xml',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'path-not-configured', path: '/fpm-status' });
    expect(fpm.requests).toHaveLength(1);
    expect(fpm.requests[0]).toMatchObject({ SCRIPT_NAME: '/fpm-status', QUERY_STRING: 'xml&full' });
  });

  it('ping compares the body with the expected response', async () => {
    fpm = await startScriptedFpm(() => ({ stdout: `Content-type: ${TEXT}\r\n\r\nalive` }));
    expect(await ping(fpm.target, { response: 'alive' })).toMatchObject({
      ok: true,
      body: 'alive',
    });
    expect(await ping(fpm.target)).toMatchObject({ ok: false, body: 'alive' });
  });

  it('leaves no handle behind after 300 mixed fetches, pings and failures', async () => {
    fpm = await startScriptedFpm((n) =>
      n % 3 === 0
        ? INTERNAL_ERROR
        : n % 3 === 1
          ? jsonAnswer(JSON_PAGE)
          : {
              stdout: 'Status: 404 Not Found\r\n\r\nFile not found.\n',
              stderr: 'Primary script unknown',
            },
    );
    const target = fpm.target;
    const handles = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    await fetchStatus(target).catch(() => undefined);
    const before = handles();
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      for (const call of [
        () => fetchStatus(target, { format: 'json' }),
        () => ping(target),
        () => fetchStatus(`${target}.missing`, { timeoutMs: 1000 }),
      ]) {
        const key = await call().then(
          () => 'ok',
          (e: unknown) => (e as { code?: string }).code ?? 'other',
        );
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
    }
    await new Promise((r) => setImmediate(r));
    expect(handles()).toBe(before);
    expect(outcomes.get('FPMKIT_CONNECT')).toBe(100);
    expect(outcomes.get('FPMKIT_STATUS_MISCONFIGURED')).toBeGreaterThan(0);
  });

  it('rejects bad options by name', async () => {
    await expect(fetchStatus('/nowhere.sock', { path: 'status' })).rejects.toBeInstanceOf(
      FpmkitInvalidOptionError,
    );
    await expect(fetchStatus('/nowhere.sock', { timeoutMs: 0 })).rejects.toMatchObject({
      option: 'timeoutMs',
    });
  });
});
