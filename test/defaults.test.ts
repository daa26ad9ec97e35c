import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FPM_DEFAULT_ACCESS_FORMAT,
  FPM_DEFAULT_LISTEN_BACKLOG,
  FPM_DEFAULT_MAX_SPAWN_RATE,
  FPM_DEFAULT_PING_RESPONSE,
  FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
  FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS,
  OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES,
  OPCACHE_DEFAULT_MEMORY_MEGABYTES,
  PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
  PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES,
} from '../src/defaults.js';
import * as root from '../src/index.js';
import { parsePhpSize } from '../src/units.js';
import { phpFpmBinary, requireBinary } from './support/integration.js';
import { phpFpmTest } from './support/php-fpm.js';
import { run } from './support/process.js';

const fpm = phpFpmBinary();
const phpCgi = requireBinary('php-cgi', 'php8.2-cgi');
const phpCli = requireBinary('php', 'php8.2-cli');

describe(`FPM's defaults match what php-fpm -tt prints for a pool that sets none${fpm.reason}`, () => {
  it.skipIf(!fpm.available)('every FPM default fpmkit falls back to', async () => {
    const pool = [
      '[www]',
      'listen = 127.0.0.1:9',
      'user = nobody',
      'pm = static',
      'pm.max_children = 1',
      'access.log = /dev/null',
      'ping.path = /ping',
    ].join('\n');
    const r = await phpFpmTest(pool, { tt: true });
    expect(r.exitCode, r.output).toBe(0);
    const printed = new Map<string, string>();
    for (const m of r.messages) {
      const kv = /^NOTICE: \t(\S+) = (.*)$/.exec(m);
      if (kv) printed.set(kv[1]!, kv[2]!);
    }
    expect({
      'access.format': printed.get('access.format'),
      'listen.backlog': printed.get('listen.backlog'),
      'pm.max_spawn_rate': printed.get('pm.max_spawn_rate'),
      'pm.process_idle_timeout': printed.get('pm.process_idle_timeout'),
      'ping.response': printed.get('ping.response'),
      systemd_interval: printed.get('systemd_interval'),
    }).toEqual({
      'access.format': FPM_DEFAULT_ACCESS_FORMAT,
      'listen.backlog': String(FPM_DEFAULT_LISTEN_BACKLOG),
      'pm.max_spawn_rate': String(FPM_DEFAULT_MAX_SPAWN_RATE),
      'pm.process_idle_timeout': String(FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS),
      'ping.response': FPM_DEFAULT_PING_RESPONSE,
      systemd_interval: `${FPM_DEFAULT_SYSTEMD_INTERVAL_SECONDS}s`,
    });
  });
});

/** `ini_get` of each name under PHP's built-in values (`-n`: no php.ini), by a script file. */
async function builtIn(
  binary: string,
  names: string[],
  extra: string[] = [],
): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-defaults-'));
  try {
    const script = join(dir, 'ini.php');
    await writeFile(
      script,
      `<?php foreach (${JSON.stringify(names)} as $k) echo $k, "=", ini_get($k), "\\n";`,
    );
    const r = await run(binary, ['-n', ...extra, script], { env: { PATH: process.env.PATH } });
    expect(r.exitCode, r.output).toBe(0);
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('=', 2) as [string, string]),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe(`PHP's defaults match PHP's built-in ini values${phpCli.reason}${phpCgi.reason}`, () => {
  it.skipIf(!phpCli.available || !phpCgi.available)(
    'memory_limit, post_max_size, upload_max_filesize, max_execution_time, OPcache',
    async () => {
      // php-cgi keeps max_execution_time (the CLI forces 0); -q: no HTTP headers.
      const php = await builtIn(
        phpCgi.path!,
        ['max_execution_time', 'memory_limit', 'post_max_size', 'upload_max_filesize'],
        ['-q'],
      );
      const size = (v: string | undefined) => {
        const r = parsePhpSize(v ?? '');
        return r.ok ? r.value : undefined;
      };
      expect(Number(php.max_execution_time)).toBe(PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS);
      expect(size(php.memory_limit)).toBe(PHP_DEFAULT_MEMORY_LIMIT_BYTES);
      expect(size(php.post_max_size)).toBe(PHP_DEFAULT_POST_MAX_SIZE_BYTES);
      expect(size(php.upload_max_filesize)).toBe(PHP_DEFAULT_UPLOAD_MAX_FILESIZE_BYTES);

      const opcache = await builtIn(
        phpCli.path!,
        ['opcache.memory_consumption', 'opcache.interned_strings_buffer'],
        ['-d', 'zend_extension=opcache'],
      );
      expect(Number(opcache['opcache.memory_consumption'])).toBe(OPCACHE_DEFAULT_MEMORY_MEGABYTES);
      expect(Number(opcache['opcache.interned_strings_buffer'])).toBe(
        OPCACHE_DEFAULT_INTERNED_STRINGS_MEGABYTES,
      );
    },
  );
});

describe('the public names of the defaults are the same values', () => {
  it('aliases agree with src/defaults.ts', () => {
    expect(root.DEFAULT_MEMORY_LIMIT_BYTES).toBe(PHP_DEFAULT_MEMORY_LIMIT_BYTES);
    expect(root.PHP_DEFAULT_MEMORY_LIMIT_BYTES).toBe(PHP_DEFAULT_MEMORY_LIMIT_BYTES);
    expect(root.DEFAULT_POST_MAX_SIZE_BYTES).toBe(PHP_DEFAULT_POST_MAX_SIZE_BYTES);
    expect(root.DEFAULT_LONGEST_REQUEST_SECONDS).toBe(PHP_DEFAULT_MAX_EXECUTION_TIME_SECONDS);
    expect(root.FPM_DEFAULT_ACCESS_FORMAT).toBe(FPM_DEFAULT_ACCESS_FORMAT);
    expect(root.FPM_DEFAULT_LISTEN_BACKLOG).toBe(FPM_DEFAULT_LISTEN_BACKLOG);
    expect(root.FPM_DEFAULT_MAX_SPAWN_RATE).toBe(FPM_DEFAULT_MAX_SPAWN_RATE);
    expect(root.APACHE_DEFAULT_MAX_REQUEST_WORKERS).toBe(
      root.APACHE_EVENT_DEFAULTS.serverLimit * root.APACHE_EVENT_DEFAULTS.threadsPerChild,
    );
  });
});
