import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFpmConfig } from '../../src/host/index.js';
import {
  FpmCollector,
  type PromClientModule,
  poolTargetsFromConfig,
  registerPromClientMetrics,
  renderMetrics,
} from '../../src/metrics/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { run } from '../support/process.js';
import { BIN, sampleLines } from './support.js';

/** prom-client as a devDependency (a test may point NODE_PATH at another install). */
function loadPromClient():
  | (PromClientModule & {
      Registry: new () => {
        metrics(): Promise<string>;
        removeSingleMetric(n: string): void;
        getMetricsAsArray(): unknown[];
      };
    })
  | undefined {
  try {
    return createRequire(import.meta.url)('prom-client');
  } catch {
    return undefined;
  }
}

const promClient = loadPromClient();
const fpmReq = phpFpmBinary();
const why = promClient ? '' : ' [skipped: prom-client is not installed]';
if (!promClient && process.env.FPMKIT_REQUIRE_INTEGRATION)
  throw new Error(
    'prom-client is required (FPMKIT_REQUIRE_INTEGRATION is set); npm ci installs it',
  );

/** Series of a body with the values of families that cannot move between two collections. */
function series(body: string): string[] {
  return [...sampleLines(body).keys()].sort();
}

describe.skipIf(!promClient || !fpmReq.available)(
  `registerPromClientMetrics${why}${fpmReq.reason}`,
  () => {
    let a: StartedFpm;
    let b: StartedFpm;
    let c: StartedFpm;
    const STATUS = 'pm.status_path = /status\n';

    beforeAll(async () => {
      [a, b, c] = await Promise.all([
        startPhpFpm({ pools: [{ name: 'www', listen: 'unix', directives: STATUS }] }),
        startPhpFpm({ pools: [{ name: 'api', listen: 'tcp', directives: STATUS }] }),
        startPhpFpm({ pools: [{ name: 'www', listen: 'unix', directives: STATUS }] }),
      ]);
    }, 30_000);
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    });

    it("yields the same series as fpmkit's own renderer, from one collection per scrape", async () => {
      const targets = [a, b, c].flatMap((m) =>
        poolTargetsFromConfig(loadFpmConfig(m.confPath).config),
      );
      const collector = new FpmCollector({ targets });
      const registry = new promClient!.Registry();
      const unregister = registerPromClientMetrics(registry, collector, {
        promClient: promClient!,
      });
      const before = collector.collections;
      const fromPromClient = await registry.metrics();
      expect(collector.collections).toBe(before + 1);
      const fromFpmkit = renderMetrics(await collector.collect());
      const p = series(fromPromClient);
      const f = series(fromFpmkit);
      console.log(`prom-client registry: ${p.length} series; fpmkit renderer: ${f.length} series`);
      expect(p).toEqual(f);
      for (const key of [...sampleLines(fromFpmkit).keys()].filter((k) =>
        /^fpm_(up|max_children|process_manager)\{/.test(k),
      ))
        expect(sampleLines(fromPromClient).get(key)).toBe(sampleLines(fromFpmkit).get(key));
      unregister();
      expect(registry.getMetricsAsArray()).toEqual([]);
    });
  },
);

describe.skipIf(!fpmReq.available)('registerPromClientMetrics without prom-client', () => {
  let dir: string;
  beforeAll(async () => {
    // The built package beside its dependencies, without prom-client.
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-nopc-'));
    await cp(join(BIN, '..', '..'), join(dir, 'dist'), { recursive: true });
    await mkdir(join(dir, 'node_modules'));
    const root = join(import.meta.dirname, '..', '..', 'node_modules');
    for (const dep of ['zod', 'fast-xml-parser', 'strnum'])
      await symlink(join(root, dep), join(dir, 'node_modules', dep)).catch(() => {});
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('throws FpmkitError FPMKIT_MISSING_DEPENDENCY naming the package, in the ESM and CJS builds', async () => {
    const script = (load: string) =>
      `${load}.then((m) => { try { m.registerPromClientMetrics({ removeSingleMetric() {} }, new m.FpmCollector({ targets: [] })); console.log('no error'); } catch (e) { console.log(JSON.stringify({ code: e.code, isFpmkit: m.isFpmkitError(e), message: e.message })); } })`;
    for (const load of [
      `import('./dist/index.js')`,
      `Promise.resolve(require('./dist/index.cjs'))`,
    ]) {
      const r = await run(process.execPath, ['-e', script(load)], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '' },
      });
      const out = JSON.parse(r.output.trim().split('\n').pop()!);
      expect(out).toMatchObject({ code: 'FPMKIT_MISSING_DEPENDENCY', isFpmkit: true });
      expect(out.message).toContain("'prom-client'");
    }
  });
});
