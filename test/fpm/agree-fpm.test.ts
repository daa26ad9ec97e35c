import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveFpmConfig, parseFpmDump } from '../../src/fpm/index.js';
import { checkFpmConfigFile, loadFpmConfig } from '../../src/host/index.js';
import { isRoot, phpFpmBinary } from '../support/integration.js';
import { stripMessages } from '../support/php-fpm.js';
import { run } from '../support/process.js';

/**
 * Cases where fpmkit once read a configuration differently from php-fpm8.2: each is written to
 * disk, judged by the real `php-fpm8.2 -t` (or printed with `-tt`) and by fpmkit, and the two
 * verdicts and first error messages must be the same.
 */
const fpm = phpFpmBinary();
const BOM = '\uFEFF';

describe.skipIf(!fpm.available)(`fpmkit and php-fpm8.2 agree on odd files${fpm.reason}`, () => {
  let dir = '';
  let count = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-agree-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes the files (main file first) into a new directory; `@DIR@` is that directory. */
  async function write(files: Record<string, string>): Promise<{ root: string; main: string }> {
    const root = join(dir, `c${count++}`);
    await mkdir(root);
    let main = '';
    for (const [name, text] of Object.entries(files)) {
      const path = join(root, name);
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, text.replaceAll('@DIR@', root));
      main ||= path;
    }
    return { root, main };
  }

  async function fpmRun(main: string, root: string, tt = false) {
    return run(fpm.path!, [tt ? '-tt' : '-t', '-y', main], {
      cwd: root,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    });
  }

  /** Both verdicts and both first error messages. */
  async function judge(files: Record<string, string>) {
    const { root, main } = await write(files);
    const real = await fpmRun(main, root);
    const ours = checkFpmConfigFile(main, { env: {}, asRoot: isRoot() });
    const firstReal = stripMessages(real.output).find((m) => /^(ERROR|ALERT|PHP):/.test(m));
    const firstOurs = ours.findings.find((f) => f.severity === 'error')?.evidence?.fpmMessage;
    return {
      real: { ok: real.exitCode === 0, first: firstReal ?? null },
      ours: { ok: ours.ok, first: firstOurs ?? null },
      output: real.output,
    };
  }

  const head = '[global]\nerror_log = @DIR@/fpm.log\n';
  const pool = (name = 'www') =>
    `[${name}]\nuser = nobody\nlisten = @DIR@/${name}.sock\npm = static\npm.max_children = 1\n`;

  it('skips a byte order mark at the start of a file, an included file and any line', async () => {
    const r = await judge({
      'php-fpm.conf': `${BOM}${head}include = @DIR@/pool.d/*.conf\n${BOM}; note\n`,
      'pool.d/www.conf': `${BOM}${pool()}${BOM}pm.max_requests = 5\n`,
    });
    expect(r.real.ok, r.output).toBe(true);
    expect(r.ours).toEqual(r.real);
  });

  it('refuses a section header indented with spaces, and takes one indented with a tab', async () => {
    const spaces = await judge({ 'php-fpm.conf': `${head}  ${pool()}` });
    expect(spaces.real.first).toBe(
      "PHP:  syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2",
    );
    expect(spaces.ours).toEqual(spaces.real);
    const tab = await judge({ 'php-fpm.conf': `${head}\t ${pool()}` });
    expect(tab.real.ok, tab.output).toBe(true);
    expect(tab.ours).toEqual(tab.real);
  });

  it('refuses an include whose directory does not exist, as FPM does', async () => {
    const r = await judge({
      'php-fpm.conf': `${head}${pool()}include = @DIR@/missing/*.conf\n`,
    });
    expect(r.real.first).toMatch(/^ERROR: Unable to globalize '.*\/missing\/\*\.conf' \(ret=2\)/);
    expect(r.ours).toEqual(r.real);
    // A pattern without a wildcard that names nothing is only a warning, for both.
    const plain = await judge({
      'php-fpm.conf': `${head}${pool()}include = @DIR@/missing/www.conf\n`,
    });
    expect(plain.real.ok, plain.output).toBe(true);
    expect(plain.ours).toEqual(plain.real);
  });

  it('refuses an empty access.log, which FPM tries to open', async () => {
    for (const value of ['', '""']) {
      const r = await judge({ 'php-fpm.conf': `${head}${pool()}access.log = ${value}\n` });
      expect(r.real.first).toBe(
        'ERROR: failed to open access log (): No such file or directory (2)',
      );
      expect(r.ours).toEqual(r.real);
    }
  });

  it('numbers lines after an include as FPM does', async () => {
    for (const tail of ['', 'pm.max_requests = 1\n', 'pm.max_requests = 1']) {
      const r = await judge({
        'php-fpm.conf': `${head}include = @DIR@/pool.d/*.conf\n\nbogus = 1\n`,
        'pool.d/a.conf': `${pool('a')}${tail}`,
        'pool.d/b.conf': `${pool('b')}\n\n`,
      });
      expect(r.real.first).toMatch(/unknown entry 'bogus'/);
      expect(r.ours).toEqual(r.real);
    }
    // An error inside an included file, and the include line FPM names after it.
    const inner = await judge({
      'php-fpm.conf': `${head}\n\ninclude = @DIR@/pool.d/*.conf\n`,
      'pool.d/a.conf': `${pool('a')}\nbogus = 1\n\n`,
    });
    expect(inner.ours).toEqual(inner.real);
  });

  it('prints the effective configuration as php-fpm -tt does', async () => {
    const { root, main } = await write({
      'php-fpm.conf': [
        '[global]',
        'pid =',
        'error_log = @DIR@/fpm.log',
        'events.mechanism = EPOLL',
        'process.priority = 64',
        '[www]',
        'user = nobody',
        'listen = 127.0.0.1:19871',
        'listen.mode = 660',
        'listen.allowed_clients =',
        'pm = ondemand',
        'pm.max_children = 2',
        'listen.backlog = -5',
        'process.priority = 64',
        'security.limit_extensions = .php  .PHP',
        'access.suppress_path[] = /a',
        'access.suppress_path[] = /b',
        'access.suppress_path[] = /c',
        '[api]',
        'user = nobody',
        'listen = @DIR@/api.sock',
        'listen.mode = 0660',
        'pm = static',
        'pm.max_children = 1',
        'security.limit_extensions = .php',
        '',
      ].join('\n'),
    });
    const real = await fpmRun(main, root, true);
    expect(real.exitCode, real.output).toBe(0);
    const loaded = loadFpmConfig(main, { env: {} });
    const ours = effectiveFpmConfig(loaded.config, { written: loaded.written });
    expect(ours).toEqual(parseFpmDump(real.output));
  });

  it('reads a -tt dump made with error_log = syslog', async () => {
    const text = `[global]\nerror_log = syslog\n${pool()}access.suppress_path[] = /a\naccess.suppress_path[] = /b\n`;
    const { root, main } = await write({ 'php-fpm.conf': text });
    const real = await fpmRun(main, root, true);
    expect(real.exitCode, real.output).toBe(0);
    const dump = parseFpmDump(real.output);
    expect(dump.global.error_log).toBe('syslog');
    expect(dump.pools.map((p) => p.name)).toEqual(['www']);
    const loaded = loadFpmConfig(main, { env: {} });
    expect(effectiveFpmConfig(loaded.config, { written: loaded.written })).toEqual(dump);
  });

  it('accepts a bare word followed by a NUL byte, as FPM does', async () => {
    for (const line of ['ELF\0junk', 'pm.max_children\0 = 0', '  \0', 'listen.owner = \0x']) {
      const r = await judge({ 'php-fpm.conf': `${head}${pool()}${line}\n` });
      expect(r.real.ok, `${JSON.stringify(line)}\n${r.output}`).toBe(true);
      expect(r.ours, JSON.stringify(line)).toEqual(r.real);
    }
    const refused = await judge({ 'php-fpm.conf': `${head}${pool()}env[A\0] = 1\n` });
    expect(refused.real.ok).toBe(false);
    expect(refused.ours).toEqual(refused.real);
  });
});
