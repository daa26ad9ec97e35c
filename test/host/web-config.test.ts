import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FpmkitIoError, FpmkitParseError } from '../../src/errors.js';
import {
  globConfigPaths,
  readApacheConfigFile,
  readNginxConfigFile,
} from '../../src/host/web-config.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fpmkit-webcfg-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('reading web server configurations from disk', () => {
  it('expands globs as glob(3): byte order, no dot files, unreadable directories skipped', async () => {
    await mkdir(join(dir, 'd'));
    for (const name of ['b.conf', 'B.conf', 'a.conf', '.x.conf', 'c.txt'])
      await writeFile(join(dir, 'd', name), '');
    expect(globConfigPaths(join(dir, 'd', '*.conf'))).toEqual(
      ['B.conf', 'a.conf', 'b.conf'].map((n) => join(dir, 'd', n)),
    );
    expect(globConfigPaths(join(dir, 'none', '*.conf'))).toEqual([]);
    expect(globConfigPaths(join(dir, '*', 'a.conf'))).toEqual([join(dir, 'd', 'a.conf')]);
  });

  it('refuses an nginx include that is a FIFO instead of waiting for a writer', async () => {
    execFileSync('mkfifo', [join(dir, 'fifo.conf')]);
    await writeFile(join(dir, 'nginx.conf'), 'events {}\ninclude fifo.conf;\n');
    const error = thrown(() => readNginxConfigFile(join(dir, 'nginx.conf')));
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect((error as FpmkitParseError).line).toBe(2);
    expect((error as FpmkitParseError).cause).toBeInstanceOf(FpmkitIoError);
    expect((error as Error).message).toMatch(/FIFO/);
  });

  it('refuses a device and an oversized file reached through a glob', async () => {
    await mkdir(join(dir, 'conf.d'));
    await symlink('/dev/zero', join(dir, 'conf.d', 'zero.conf'));
    await writeFile(join(dir, 'nginx.conf'), 'include conf.d/*.conf;\n');
    expect(thrown(() => readNginxConfigFile(join(dir, 'nginx.conf')))).toBeInstanceOf(
      FpmkitParseError,
    );
    await rm(join(dir, 'conf.d', 'zero.conf'));
    await writeFile(join(dir, 'conf.d', 'big.conf'), Buffer.alloc(2048, 0x61));
    const error = thrown(() =>
      readNginxConfigFile(join(dir, 'nginx.conf'), { read: { maxBytes: 1024 } }),
    );
    expect((error as FpmkitParseError).cause).toMatchObject({ errno: 'EFBIG' });
  });

  it('throws FpmkitIoError when the main file cannot be read', () => {
    expect(thrown(() => readNginxConfigFile(join(dir, 'missing.conf')))).toBeInstanceOf(
      FpmkitIoError,
    );
    expect(thrown(() => readApacheConfigFile(join(dir, 'missing.conf')))).toBeInstanceOf(
      FpmkitIoError,
    );
  });

  it('reads an Apache tree with a directory include, and refuses a FIFO in it', async () => {
    await mkdir(join(dir, 'sites'));
    await writeFile(
      join(dir, 'sites', 'a.conf'),
      '<VirtualHost *:80>\nServerName a\n</VirtualHost>\n',
    );
    await writeFile(join(dir, 'httpd.conf'), 'Include sites\nIncludeOptional nothing/*.conf\n');
    const payload = readApacheConfigFile(join(dir, 'httpd.conf'), { serverRoot: dir });
    expect(payload.config.map((c) => c.file)).toEqual([
      join(dir, 'httpd.conf'),
      join(dir, 'sites', 'a.conf'),
    ]);
    execFileSync('mkfifo', [join(dir, 'sites', 'b.conf')]);
    const error = thrown(() => readApacheConfigFile(join(dir, 'httpd.conf'), { serverRoot: dir }));
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect((error as FpmkitParseError).line).toBe(1);
  });
});
