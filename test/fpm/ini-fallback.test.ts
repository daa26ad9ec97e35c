import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFpmConfig, parseFpmConfig } from '../../src/fpm/index.js';
import { debian13Root } from '../support/debian13.js';
import { phpFpmBinary } from '../support/integration.js';
import { run } from '../support/process.js';

/**
 * `${NAME:-fallback}` (PHP 8.3 and later): random values built from the pieces the fallback
 * lexer tells apart, read by the real php-fpm 8.4 -tt (and 8.2, which has no fallback) and by
 * parseFpmConfig with that phpVersion. ping.response shows the value FPM stored.
 */
const root84 = debian13Root();
const fpm82 = phpFpmBinary();
const ENV = { SET: 'val', EMPTY: '' };

const piece = fc.constantFrom(
  'a',
  'b c',
  ' ',
  '  ',
  'E_ALL',
  'PHP_OS',
  'E_ALL ',
  '12',
  '"q"',
  ' "q"',
  '"x y"',
  '"${SET}"',
  '${SET}',
  '${UNSET}',
  '${UNSET:-in}',
  '\\}',
  '$}',
  '$x',
  ':-',
  "'",
  ';',
  '-',
  '=',
);
const valueArb = fc
  .tuple(
    fc.constantFrom('', 'pre', '"', 'x '),
    fc.constantFrom('UNSET', 'SET', 'EMPTY', '', ' UNSET '),
    fc.array(piece, { maxLength: 4 }),
    fc.constantFrom('}', '}post', '', '}"'),
  )
  .map(([before, name, fallback, after]) => `${before}\${${name}:-${fallback.join('')}${after}`);

async function realResponse(
  command: string,
  leading: string[],
  dir: string,
  inside: string,
  value: string,
): Promise<{ ok: boolean; response: string | undefined; output: string }> {
  const text = `[global]\nerror_log = ${inside}/fpm.log\n[www]\nlisten = ${inside}/www.sock\npm = static\npm.max_children = 1\nping.path = /ping\nping.response = ${value}\n`;
  await writeFile(join(dir, 'php-fpm.conf'), text);
  const r = await run(command, [...leading, '-tt', '-R', '-y', `${inside}/php-fpm.conf`], {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C', ...ENV },
  });
  return {
    ok: r.exitCode === 0,
    response: /\tping\.response = (.*)/.exec(r.output)?.[1],
    output: r.output,
  };
}

function ours(value: string, phpVersion: string): { ok: boolean; response: string | undefined } {
  const text = `[global]\nerror_log = /tmp/fpm.log\n[www]\nlisten = /tmp/www.sock\npm = static\npm.max_children = 1\nping.path = /ping\nping.response = ${value}\n`;
  const checked = checkFpmConfig(text, { env: ENV, allowRoot: true, asRoot: true, phpVersion });
  if (!checked.ok) return { ok: false, response: undefined };
  return {
    ok: true,
    response: parseFpmConfig(text, { env: ENV, phpVersion }).config.pools[0]?.ping.response,
  };
}

describe.skipIf(!root84.available || !fpm82.available)(
  `\${NAME:-fallback} against real php-fpm 8.4 and 8.2${root84.reason}${fpm82.reason}`,
  () => {
    it('300 random values read as each binary reads them', { timeout: 600_000 }, async () => {
      const root = root84.path!;
      const dir84 = await mkdtemp(join(root, 'tmp', 'fpmkit-fb-'));
      const inside = dir84.slice(root.length);
      const dir82 = await mkdtemp(join('/tmp', 'fpmkit-fb82-'));
      const stats = { values: 0, fallbackUsed: 0, refused: 0 };
      try {
        await fc.assert(
          fc.asyncProperty(valueArb, async (value) => {
            const r84 = await realResponse(
              'chroot',
              [root, '/usr/sbin/php-fpm8.4'],
              dir84,
              inside,
              value,
            );
            const r82 = await realResponse(fpm82.path!, [], dir82, dir82, value);
            stats.values++;
            if (!r84.ok) stats.refused++;
            if (r84.ok && r84.response !== r82.response) stats.fallbackUsed++;
            expect(ours(value, '8.4'), `${value}\n${r84.output}`).toEqual({
              ok: r84.ok,
              response: r84.ok ? r84.response : undefined,
            });
            expect(ours(value, '8.2'), `${value}\n${r82.output}`).toEqual({
              ok: r82.ok,
              response: r82.ok ? r82.response : undefined,
            });
          }),
          { numRuns: 300, seed: Number(process.env.FPMKIT_SEED ?? 20261207) },
        );
      } finally {
        await rm(dir84, { recursive: true, force: true });
        await rm(dir82, { recursive: true, force: true });
        console.log(
          `fallbacks: ${stats.values} values; 8.4 refused ${stats.refused}, read ${stats.fallbackUsed} otherwise than 8.2; fpmkit agreed with both on all`,
        );
      }
    });
  },
);
