import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFpmConfig, parseFpmConfig } from '../../src/fpm/index.js';
import { parseSysctlConf } from '../../src/kernel/index.js';
import { parsePhpIni } from '../../src/web/index.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { nginxTest } from '../support/nginx.js';
import { phpFpmTest } from '../support/php-fpm.js';

function runExample(args: string[] = []) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'examples/render-stack.ts', ...args],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const sections = new Map<string, string>();
  let title: string | undefined;
  for (const line of result.stdout.split('\n')) {
    const m = /^# ==== (.*) ====$/.exec(line);
    if (m) {
      title = m[1]!;
      sections.set(title, '');
    } else if (title !== undefined) {
      sections.set(title, `${sections.get(title)}${line}\n`);
    }
  }
  return { ...result, sections };
}

const plain = runExample();
const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();

describe('examples/render-stack.ts', () => {
  it('prints every layer of the stack, in order, and no findings for the planned stack', () => {
    expect(plain.status, plain.stderr).toBe(0);
    expect([...plain.sections.keys()]).toEqual([
      'php-fpm.conf',
      'conf.d/90-shop.ini',
      'nginx http {}',
      'nginx server {}',
      '/etc/sysctl.d/60-php-fpm.conf',
      'php8.2-fpm.service.d/fpmkit.conf',
      'checkStack: 0 findings',
    ]);
  });

  it('renders a pool that checkFpmConfig passes without a warning', () => {
    const text = plain.sections.get('php-fpm.conf')!;
    const result = checkFpmConfig(text, { somaxconn: 4096 });
    expect(result.findings).toEqual([]);
    expect(result.ok).toBe(true);
    const pool = parseFpmConfig(text).config.pools[0]!;
    expect(pool).toMatchObject({
      name: 'shop',
      listen: { address: '/run/php/shop.sock', owner: 'www-data', mode: 0o660, backlog: 1024 },
      pm: { mode: 'dynamic', maxChildren: 24, maxRequests: 500 },
      requestTerminateTimeoutSeconds: 60,
    });
  });

  it('derives the other layers from the same description', () => {
    const ini = parsePhpIni(plain.sections.get('conf.d/90-shop.ini')!).settings;
    expect(ini).toMatchObject({
      maxExecutionTimeSeconds: 50,
      uploadMaxFilesizeBytes: 64 * 2 ** 20,
    });
    const server = plain.sections.get('nginx server {}')!;
    expect(server).toContain('fastcgi_read_timeout 70s;');
    expect(server).toContain('client_max_body_size 65m;');
    expect(plain.sections.get('nginx http {}')).toContain('server "unix:/run/php/shop.sock";');
    expect(parseSysctlConf(plain.sections.get('/etc/sysctl.d/60-php-fpm.conf')!)).toEqual({
      somaxconn: 4096,
      nrOpen: 1048576,
    });
    expect(plain.sections.get('php8.2-fpm.service.d/fpmkit.conf')).toContain('LimitNOFILE=65536');
  });

  it('reports what breaks on a host with a small somaxconn and database limit, exit 1', () => {
    const r = runExample(['--somaxconn', '128', '--db-max-connections', '20']);
    expect(r.status).toBe(1);
    const checks = r.sections.get('checkStack: 2 findings');
    expect(checks, r.stdout).toBeDefined();
    // Errors first (sortFindings).
    expect(checks!.split('\n')[0]).toMatch(
      /^error stack\.database-connections \[shop\]: 24 FPM children x 1 database connection each = 24, above the database's max_connections \(20\)/,
    );
    expect(checks).toMatch(
      /^warning stack\.backlog-above-somaxconn \[shop\]: listen\.backlog \(1024\)/m,
    );
    expect(checks).toContain('  fix: raise net.core.somaxconn to at least 1024');
  });

  describe.skipIf(!fpmReq.available)(`the pool under php-fpm -t${fpmReq.reason}`, () => {
    it('is accepted by the real php-fpm', async () => {
      const prefix = await mkdtemp(join(tmpdir(), 'fpmkit-stack-'));
      try {
        // A prefix keeps the default error_log (log/php-fpm.log) inside the temporary directory.
        await mkdir(join(prefix, 'log'));
        const result = await phpFpmTest(plain.sections.get('php-fpm.conf')!, { prefix });
        expect(result.exitCode, result.output).toBe(0);
        expect(result.output).toContain('test is successful');
      } finally {
        await rm(prefix, { recursive: true, force: true });
      }
    });
  });

  describe.skipIf(!nginxReq.available)(`the nginx parts under nginx -t${nginxReq.reason}`, () => {
    it('are accepted inside a minimal nginx.conf', async () => {
      const temp = ['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']
        .map((k) => `${k}_temp_path ${k}_temp;`)
        .join(' ');
      const conf = [
        'pid nginx.pid;',
        'events {}',
        'http {',
        `access_log off; ${temp}`,
        plain.sections.get('nginx http {}')!,
        'server {',
        'listen 127.0.0.1:8080;',
        'root html;',
        plain.sections.get('nginx server {}')!,
        '}',
        '}',
      ].join('\n');
      const result = await nginxTest(conf);
      expect(result.ok, result.output).toBe(true);
    });
  });
});
