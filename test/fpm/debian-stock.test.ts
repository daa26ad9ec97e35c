import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { effectiveFpmConfig, parseFpmDump } from '../../src/fpm/index.js';
import { loadFpmConfig } from '../../src/host/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { run } from '../support/process.js';

const fpm = phpFpmBinary();
const STOCK = '/etc/php/8.2/fpm/php-fpm.conf';

describe.skipIf(!fpm.available)(
  `Debian's stock configuration against php-fpm8.2 -tt${fpm.reason}`,
  () => {
    afterAll(() => {});

    it('parses to the effective values php-fpm -tt prints, field by field', async () => {
      expect(existsSync(STOCK)).toBe(true);
      const real = await run(fpm.path!, ['-tt', '-y', STOCK, '-R'], {
        env: { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C' },
      });
      expect(real.exitCode).toBe(0);
      const printed = parseFpmDump(real.output);
      const { config, findings } = loadFpmConfig(STOCK, { env: {} });
      expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
      const ours = effectiveFpmConfig(config);
      expect(ours.pools.map((p) => p.name)).toEqual(printed.pools.map((p) => p.name));
      // log_level is printed from FPM's internal level, which is 0 ('unknown value') when unset.
      expect(ours.global).toEqual(printed.global);
      for (const [i, pool] of printed.pools.entries()) {
        expect(ours.pools[i]!.values).toEqual(pool.values);
      }
      expect(Object.keys(printed.pools[0]!.values).length).toBeGreaterThan(35);
    });
  },
);
