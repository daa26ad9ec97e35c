import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../support/process.js';

const root = join(import.meta.dirname, '..', '..');

describe('examples/check-pool.ts', () => {
  it('reports the refusal, fixes the model and renders a pool php-fpm accepts', async () => {
    const r = await run(process.execPath, ['--import', 'tsx', 'examples/check-pool.ts'], {
      cwd: root,
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('php-fpm -t would refuse shop.conf');
    expect(r.stdout).toContain(
      'error: [pool shop] pm.min_spare_servers(2) and pm.max_spare_servers(10) cannot be greater than pm.max_children(8)',
    );
    expect(r.stdout).toContain('after the fix php-fpm -t would accept it, with 0 finding(s):');
    expect(r.stdout).toContain('listen = "/run/php/shop.sock"');
    expect(r.stdout).toContain('request_terminate_timeout = 60s');
  });
});
