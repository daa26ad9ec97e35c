import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStatus } from '../../src/status/index.js';
import { MiB, runNodeMeasured } from '../support/measured.js';
import { loadStatusFixtures } from './fixtures.js';

/**
 * JSON status pages as large as the fetch cap (16 MiB) shaped to make `JSON.parse` build
 * something huge: each must be refused with a parse error, quickly and in little memory.
 */
const root = join(import.meta.dirname, '..', '..');
const PAGE_BYTES = 16 * MiB;

const SHAPES: [string, string][] = [
  // Before: 656 MiB and 1.6 s in JSON.parse, then the depth check.
  ['only [', `'['.repeat(${PAGE_BYTES})`],
  ['[ under a key', `'{"pool":' + '['.repeat(${PAGE_BYTES - 8})`],
  ['nested objects', `'{"a":'.repeat(${PAGE_BYTES / 5})`],
  // Before: 382 MiB of empty arrays.
  ['millions of empty arrays', `'{"pool":[' + '[],'.repeat(${(PAGE_BYTES - 12) / 3}) + '[]]}'`],
];

describe('JSON status pages shaped to exhaust memory', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-json-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(SHAPES)('%s (16 MiB): a parse error, in bounded time and memory', async (name, make) => {
    const script = join(dir, `${name.replaceAll(' ', '-')}.mts`);
    await writeFile(
      script,
      `import { parseStatus } from ${JSON.stringify(join(root, 'src', 'status', 'index.ts'))};
const body = ${make};
body.charCodeAt(body.length >> 1);
const before = process.resourceUsage().maxRSS;
const started = performance.now();
let code = 'none';
try { parseStatus(body, { format: 'json' }); } catch (error) { code = error.code ?? error.constructor.name; }
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ code, ms, added: (process.resourceUsage().maxRSS - before) * 1024 }));
`,
    );
    const r = await runNodeMeasured(['--import', 'tsx', script], { cwd: root, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { code: string; ms: number; added: number };
    expect(out.code).toBe('FPMKIT_PARSE');
    expect(out.ms).toBeLessThan(3000);
    expect(out.added).toBeLessThan(128 * MiB);
  });

  const page = loadStatusFixtures().find((f) => f.name === 'dynamic/json-full.txt')!.body;

  it('brackets inside strings are not nesting: the page still parses', () => {
    const body = page.replace('"request uri":"', `"request uri":"${'['.repeat(40)}`);
    expect(body).not.toBe(page);
    const status = parseStatus(body, { format: 'json' });
    expect(status.processes?.some((p) => p.requestUri.startsWith('['.repeat(40)))).toBe(true);
  });

  it("FPM's raw quote in a user name before brackets in a URI still parses leniently", () => {
    const body = page
      .replace('"user":"-"', '"user":"a"b"')
      .replace('"request uri":"', `"request uri":"${'['.repeat(40)}`);
    expect(() => JSON.parse(body)).toThrow();
    const status = parseStatus(body, { format: 'json' });
    expect(status.processes?.some((p) => p.user === 'a"b')).toBe(true);
    expect(status.processes?.some((p) => p.requestUri.startsWith('['.repeat(40)))).toBe(true);
  });
});
