import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ApplyStack, readText, startApplyStack } from '../host/apply-harness.js';
import { phpFpmBinary } from '../support/integration.js';
import { run } from '../support/process.js';

const root = join(import.meta.dirname, '..', '..');
const fpm = phpFpmBinary();

describe.skipIf(!fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION)(
  `examples/panel-apply.ts${fpm.reason}`,
  () => {
    let stack: ApplyStack | undefined;
    afterEach(async () => {
      await stack?.stop();
    });
    it('applies the customer value by reload, verifies, and shows the refused value changing nothing', async () => {
      stack = await startApplyStack();
      const r = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          'examples/panel-apply.ts',
          '--config',
          stack.confPath,
          '--pid-file',
          stack.pidFile,
          '--prefix',
          stack.dir,
          '--pool',
          'www',
          '--max-children',
          '5',
        ],
        { cwd: root },
      );
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('[www] pm.max_children = 5: applied by SIGUSR2');
      expect(r.stdout).toContain('+pm.max_children = 5');
      expect(r.stdout).toMatch(/ok {2}status: pool www, \d+ processes/);
      expect(r.stdout).toContain(
        '[www] pm.max_children = 0 refused by php-fpm; nothing was changed:',
      );
      expect(readText(stack.poolPath)).toContain('pm.max_children = 5\n');
    });
  },
);
