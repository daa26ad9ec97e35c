import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../support/process.js';

/**
 * test/types/user-code.ts, code written as a user writes it, compiles against the built
 * package's declarations under `strict` and `exactOptionalPropertyTypes`.
 */
const root = join(import.meta.dirname, '..', '..');
const built = existsSync(join(root, 'dist', 'index.d.ts'));
if (!built && process.env.FPMKIT_REQUIRE_INTEGRATION) {
  throw new Error('dist/index.d.ts is missing: run npm run build first');
}
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

describe.skipIf(!built)(
  `user code against the published types${built ? '' : ' (dist is not built)'}`,
  () => {
    it('compiles with exactOptionalPropertyTypes: input types, octal text modes, undefined options', {
      timeout: 120_000,
    }, async () => {
      const r = await run(
        process.execPath,
        [tsc, '-p', join(root, 'test', 'types', 'tsconfig.json')],
        {
          cwd: root,
        },
      );
      expect(r.output).toBe('');
      expect(r.exitCode).toBe(0);
    });
  },
);
