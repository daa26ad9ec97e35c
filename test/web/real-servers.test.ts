import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PHP_INI_DIRECTIVES,
  parsePhpIni,
  renderApacheProxyFcgi,
  renderNginxConf,
  renderPhpIni,
} from '../../src/web/index.js';
import { nginxBinary } from '../support/integration.js';
import { apacheSettingsArb, nginxSettingsArb, phpIniSettingsArb } from './arbitraries.js';
import { apacheBinary, apacheTest, nginxConfTest, phpCliBinary, phpIniGet } from './servers.js';

/** Runs against real servers use a fixed seed so CI checks the same cases; set FPMKIT_SEED to explore. */
const SEED = Number(process.env.FPMKIT_SEED ?? 20261121);

/** Random settings checked by each real server; sequential, as each run starts a process. */
const RUNS = 120;
const TIMEOUT_MS = 600_000;

const nginxReq = nginxBinary();
describe.skipIf(!nginxReq.available)(`nginx -t accepts rendered settings${nginxReq.reason}`, () => {
  it(
    `accepts ${RUNS} random settings inside a minimal nginx.conf`,
    async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(nginxSettingsArb, async (settings) => {
          // Relative paths are under the prefix nginxConfTest gives nginx (its temporary directory).
          const conf = renderNginxConf(settings, {
            documentRoot: '/srv/www',
            pidPath: 'nginx.pid',
            errorLogPath: 'error.log',
            tempDir: '.',
            listen: '127.0.0.1:8080',
          });
          const result = await nginxConfTest(conf);
          expect(result.output, conf).toContain('test is successful');
          expect(result.ok).toBe(true);
          accepted++;
        }),
        { numRuns: RUNS, seed: SEED },
      );
      console.log(`nginx -t accepted ${accepted} rendered configurations`);
      expect(accepted).toBe(RUNS);
    },
    TIMEOUT_MS,
  );
});

const apacheReq = apacheBinary();
describe.skipIf(!apacheReq.available)(
  `apache2 -t accepts rendered settings${apacheReq.reason}`,
  () => {
    it(
      `accepts ${RUNS} random settings in a private ServerRoot, without mpm warnings`,
      async () => {
        let accepted = 0;
        await fc.assert(
          fc.asyncProperty(apacheSettingsArb, async (settings) => {
            const rendered = renderApacheProxyFcgi(settings);
            const result = await apacheTest(rendered.all);
            expect(result.output, rendered.all).toContain('Syntax OK');
            expect(result.ok).toBe(true);
            // Apache silently corrects inconsistent worker limits with a WARNING; none expected.
            expect(result.output, rendered.all).not.toMatch(/WARNING/);
            accepted++;
          }),
          { numRuns: RUNS, seed: SEED },
        );
        console.log(`apache2 -t accepted ${accepted} rendered configurations`);
        expect(accepted).toBe(RUNS);
      },
      TIMEOUT_MS,
    );
  },
);

/**
 * The CLI forces `max_execution_time=0` and `max_input_time=-1` over php.ini and does not
 * register `cgi.*`: for those, what PHP's INI scanner read from the file is compared.
 */
const CLI_UNREGISTERED = new Set(['cgi.fix_pathinfo', 'max_execution_time', 'max_input_time']);

const phpReq = phpCliBinary();
describe.skipIf(!phpReq.available)(`php -n -c reads rendered php.ini${phpReq.reason}`, () => {
  it(
    `reads back every value of ${RUNS} random settings through ini_get`,
    async () => {
      let values = 0;
      await fc.assert(
        fc.asyncProperty(phpIniSettingsArb, async (settings) => {
          const ini = renderPhpIni(settings);
          const expected = new Map<string, string>();
          for (const line of ini.trimEnd().split('\n')) {
            if (line === '') continue;
            const at = line.indexOf(' = ');
            expected.set(line.slice(0, at), line.slice(at + 3).replace(/^"(.*)"$/, '$1'));
          }
          const names = PHP_INI_DIRECTIVES.map((d) => d.name);
          const got = await phpIniGet(ini, names);
          expect(got.output, ini).not.toMatch(/Warning|Fatal|Deprecated/);
          for (const name of names) {
            const actual = CLI_UNREGISTERED.has(name) ? got.cfg[name] : got.ini[name];
            if (expected.has(name)) {
              expect(got.cfg[name], `${name} as scanned`).toBe(expected.get(name));
              expect(actual, `${name} in\n${ini}`).toBe(expected.get(name));
              values++;
            }
          }
          expect(parsePhpIni(ini).settings).toEqual(settings);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      console.log(`php -n -c read back ${values} values from ${RUNS} rendered php.ini files`);
      expect(values).toBeGreaterThan(RUNS);
    },
    TIMEOUT_MS,
  );
});
