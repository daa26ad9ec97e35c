import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import { firstDuplicateListen } from '../../src/fpm/check.js';
import {
  checkFpmConfig,
  fpmConfigSchema,
  parseFpmConfig,
  renderFpmConfig,
} from '../../src/fpm/index.js';
import { type IniScanContext, scanIniLine, unescapeDoubleQuoted } from '../../src/fpm/ini-line.js';
import { phpFpmBinary } from '../support/integration.js';
import { MiB, runNodeMeasured } from '../support/measured.js';
import { phpFpmTest } from '../support/php-fpm.js';

/**
 * Inputs built to hurt the FPM configuration parser: deep nesting, long quote-heavy values,
 * many pools, and `__proto__` as an array key.
 */
const fpm = phpFpmBinary();
const ctx: IniScanContext = { variable: () => 'v', constant: () => undefined };
const root = join(import.meta.dirname, '..', '..');

/**
 * The deepest value of each shape that php-fpm 8.2 -t accepts (found by bisecting with the
 * real binary); one level more gives PHP's "memory exhausted", its parser's stack being full.
 */
const NESTING: [string, (n: number) => string, number][] = [
  ['( in an array entry', (n) => `php_value[k] = ${'('.repeat(n)}1${')'.repeat(n)}`, 9991],
  ['( in an entry', (n) => `pm.max_children = ${'('.repeat(n)}1${')'.repeat(n)}`, 9993],
  ['~', (n) => `php_value[k] = ${'~'.repeat(n)}1`, 9992],
  ['!', (n) => `php_value[k] = ${'!'.repeat(n)}1`, 9992],
  ['1|( nested to the right', (n) => `php_value[k] = ${'1|('.repeat(n)}1${')'.repeat(n)}`, 3330],
  ['~(', (n) => `php_value[k] = ${'~('.repeat(n)}1${')'.repeat(n)}`, 4995],
  ['( around a quoted string', (n) => `php_value[k] = ${'('.repeat(n)}"1"${')'.repeat(n)}`, 9990],
  ['( around ${X}', (n) => `php_value[k] = ${'('.repeat(n)}\${X}${')'.repeat(n)}`, 9990],
  ['( around "a${X}b"', (n) => `php_value[k] = ${'('.repeat(n)}"a\${X}b"${')'.repeat(n)}`, 9988],
  ['( around 1|2|3', (n) => `php_value[k] = ${'('.repeat(n)}1|2|3${')'.repeat(n)}`, 9990],
  ['( around a b', (n) => `php_value[k] = ${'('.repeat(n)}a b${')'.repeat(n)}`, 9991],
];

describe('deep nesting in a value', () => {
  it.each(NESTING)(
    '%s: accepted up to the depth php-fpm accepts, then memory exhausted',
    (_, line, max) => {
      expect(scanIniLine(line(max), ctx).syntaxError).toBeUndefined();
      expect(scanIniLine(line(max + 1), ctx).syntaxError).toBe(
        'memory exhausted in Unknown on line 1',
      );
    },
  );

  it('left-associative operators never nest: 20,000 of them are one flat value', () => {
    const r = scanIniLine(`php_value[k] = ${'1&'.repeat(20_000)}(1)`, ctx);
    expect(r.syntaxError).toBeUndefined();
    expect(r.statements).toEqual([{ kind: 'array', name: 'php_value', key: 'k', value: '1' }]);
  });

  it('5,000 nested ( is a value (it was a RangeError); 20,000 is a parse error with file and line', () => {
    const head = '[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 2\n';
    const ok = parseFpmConfig(
      `${head}php_value[error_reporting] = ${'('.repeat(5000)}E_ALL & ~E_NOTICE${')'.repeat(5000)}\n`,
    );
    expect(ok.config.pools[0]!.phpValue.error_reporting).toBe('32759');
    const deep = `${head}php_value[x] = ${'('.repeat(20_000)}1${')'.repeat(20_000)}\n`;
    let caught: unknown;
    try {
      parseFpmConfig(deep, { path: 'deep.conf' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FpmkitParseError);
    expect(caught).toMatchObject({ source: 'deep.conf', line: 5 });
    expect((caught as Error).message).toContain('memory exhausted');
    const checked = checkFpmConfig(deep, { path: 'deep.conf' });
    expect(checked.ok).toBe(false);
    expect(checked.findings[0]).toMatchObject({ code: 'fpm.syntax', file: 'deep.conf', line: 5 });
  });
});

describe.skipIf(!fpm.available)(`deep nesting decided by php-fpm8.2 -t${fpm.reason}`, () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-nest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const shapes = NESTING.filter(([name]) =>
    ['( in an array entry', '( in an entry', '~', '1|( nested to the right'].includes(name),
  );
  it.each(shapes)(
    '%s: php-fpm and checkFpmConfig agree at the limit and one past it',
    async (_, line, max) => {
      for (const depth of [max, max + 1]) {
        const text = `[global]\nerror_log = ${dir}/fpm.log\n[www]\nlisten = ${dir}/www.sock\npm = static\npm.max_children = 1\n${line(depth)}\n`;
        const real = await phpFpmTest(text, { allowRoot: true });
        const ours = checkFpmConfig(text, { allowRoot: true });
        expect(real.exitCode).toBe(depth === max ? 0 : 78);
        expect(ours.ok).toBe(depth === max);
        if (depth > max) {
          expect(real.output).toContain('PHP:  memory exhausted in Unknown on line 1');
          expect(ours.findings[0]!.evidence?.fpmMessage).toBe(
            'PHP:  memory exhausted in Unknown on line 1',
          );
        }
      }
    },
  );
});

/** Noise from every character the scanner treats specially, with runs of openers. */
const hostileLine = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'[]="\'\\$;{}()!~&|^#%\n\r\t\0 aZ9.-_/:'), maxLength: 80 }),
  fc
    .tuple(
      fc.constantFrom('php_value[k] = ', 'x = ', 'env[A] = "', '[', 'a[', ''),
      fc.constantFrom('(', '~', '!', '1|(', '"${', '${', '((~'),
      fc.integer({ min: 0, max: 30_000 }),
      fc.string({ maxLength: 10 }),
    )
    .map(([head, unit, n, tail]) => `${head}${unit.repeat(n)}${tail}`),
);

describe('any input gives a value or an FpmkitError', () => {
  it('scanIniLine never throws', () => {
    fc.assert(
      fc.property(hostileLine, (line) => {
        const r = scanIniLine(line, ctx);
        expect(Array.isArray(r.statements)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('parseFpmConfig and checkFpmConfig never throw a RangeError or TypeError', () => {
    fc.assert(
      fc.property(fc.array(hostileLine, { maxLength: 6 }), (lines) => {
        const text = `[www]\n${lines.join('\n')}\n`;
        try {
          parseFpmConfig(text);
        } catch (error) {
          expect(isFpmkitError(error), String(error)).toBe(true);
        }
        expect(typeof checkFpmConfig(text).ok).toBe('boolean');
      }),
      { numRuns: 200 },
    );
  });
});

/** PHP's double-quote escapes undone one character at a time: the plain reference. */
function unescapeReference(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    const next = raw[i + 1];
    if (ch === '\\' && (next === '"' || next === '\\' || next === '$')) {
      out += next;
      i++;
    } else out += ch;
  }
  return out;
}

describe('quote-heavy values', () => {
  it('unescapeDoubleQuoted matches the reference on any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: fc.constantFrom('\\', '"', '$', 'a', 'é', '\u{1F600}', '\uD800') }),
          fc.string({ unit: 'grapheme' }),
          fc.string({ unit: fc.constantFrom('\\', '"'), minLength: 8000, maxLength: 20_000 }),
        ),
        (raw) => {
          expect(unescapeDoubleQuoted(raw)).toBe(unescapeReference(raw));
        },
      ),
      { numRuns: 300 },
    );
  });

  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fpmkit-quotes-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Peak RSS added by parseFpmConfig over a file of `bytes`, measured in a child so nothing
   * else counts: the file is read first, so the baseline already holds it.
   */
  async function parsePeak(name: string, text: string): Promise<number> {
    const file = join(dir, name);
    await writeFile(file, text);
    const script = join(dir, `${name}.mts`);
    await writeFile(
      script,
      `import { readFileSync } from 'node:fs';
import { parseFpmConfig } from ${JSON.stringify(join(root, 'src', 'fpm', 'index.ts'))};
const text = readFileSync(${JSON.stringify(file)}, 'utf8');
const before = process.resourceUsage().maxRSS;
const result = parseFpmConfig(text);
const added = (process.resourceUsage().maxRSS - before) * 1024;
process.stdout.write(JSON.stringify({ added, keys: Object.keys(result.config.pools[0].phpValue).length }));
`,
    );
    const r = await runNodeMeasured(['--import', 'tsx', script], { cwd: root, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { added: number; keys: number };
    expect(out.keys).toBeGreaterThan(0);
    return out.added;
  }

  const head = '[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 1\n';
  const size = 4 * MiB;
  it.each([
    // Before: 31x (a piece per escape); now about 7x.
    ['one escaped value', `${head}php_value[q] = "${'ab\\"cd\\\\ef '.repeat(size / 12)}"\n`],
    // Before: 77x (a token object per operator); now about 6x.
    ['one flat operator chain', `${head}php_value[ops] = ${'1|'.repeat(size / 2)}1\n`],
  ])('%s of 4 MiB: parse peaks under 12 times its size', async (name, text) => {
    const added = await parsePeak(name.replaceAll(' ', '-'), text);
    expect(added).toBeLessThan(12 * text.length);
  });
});

describe('many pools', () => {
  /** FPM's own loop: every pool against every other, the first pair reported. */
  function referenceDuplicate<T extends { listen: string | undefined }>(pools: readonly T[]) {
    for (const a of pools)
      for (const b of pools)
        if (a !== b && a.listen && b.listen && a.listen === b.listen)
          return { first: a, second: b };
    return undefined;
  }

  it('firstDuplicateListen finds the pair FPM reports', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.option(fc.constantFrom('/a.sock', '/b.sock', '/c.sock', '9000', ''), {
            nil: undefined,
          }),
          { maxLength: 12 },
        ),
        (addresses) => {
          const pools = addresses.map((listen, i) => ({ listen, i }));
          expect(firstDuplicateListen(pools)).toEqual(referenceDuplicate(pools));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('checkFpmConfig on 40,000 pools ends in seconds (it compared every pair: 31 s at 20,000)', () => {
    const lines = ['[global]', 'process_control_timeout = 30s'];
    for (let i = 0; i < 40_000; i++)
      lines.push(`[p${i}]`, `listen = /run/php/p${i}.sock`, 'pm = static', 'pm.max_children = 2');
    lines.push('[last]', 'listen = /run/php/p39999.sock', 'pm = static', 'pm.max_children = 2');
    const started = performance.now();
    const r = checkFpmConfig(lines.join('\n'));
    const elapsed = performance.now() - started;
    expect(r.ok).toBe(false);
    expect(r.findings.find((f) => f.code === 'fpm.listen-duplicate')?.message).toBe(
      "[pool last] unable to set listen address as it's already used in another pool 'p39999'",
    );
    expect(elapsed).toBeLessThan(20_000);
  });
});

describe('__proto__ as an array key', () => {
  const text =
    '[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 1\n' +
    'env[__proto__] = "x"\nphp_value[__proto__] = "y"\nphp_admin_flag[__proto__] = on\nenv[A] = "b"\n';

  it('survives parse, render and parse again', () => {
    const first = parseFpmConfig(text).config;
    const pool = first.pools[0]!;
    expect(Object.hasOwn(pool.env, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(pool.env)).toBe(Object.prototype);
    const rendered = renderFpmConfig(first);
    expect(rendered).toContain('env[__proto__] = "x"\n');
    expect(rendered).toContain('php_value[__proto__] = "y"\n');
    expect(rendered).toContain('php_admin_flag[__proto__] = on\n');
    const again = parseFpmConfig(rendered).config;
    expect(Object.entries(again.pools[0]!.env)).toEqual([
      ['__proto__', 'x'],
      ['A', 'b'],
    ]);
    expect(Object.entries(again.pools[0]!.phpValue)).toEqual([['__proto__', 'y']]);
    expect(Object.entries(again.pools[0]!.phpAdminFlag)).toEqual([['__proto__', true]]);
  });

  it('a model from JSON keeps its own __proto__ key in renderFpmConfig and checkFpmConfig', () => {
    const model = JSON.parse(
      '{"pools":[{"name":"www","listen":{"address":"/run/php/www.sock"},"pm":{"mode":"static","maxChildren":1},"env":{"__proto__":"z"}}]}',
    );
    expect(renderFpmConfig(model)).toContain('env[__proto__] = "z"\n');
    expect(checkFpmConfig(model).ok).toBe(true);
    // A bad value under the key is validated, not dropped with it.
    const bad = JSON.parse(
      '{"pools":[{"name":"www","listen":{"address":"/run/php/www.sock"},"env":{"__proto__":1}}]}',
    );
    expect(fpmConfigSchema.safeParse(bad).error?.issues[0]?.path).toEqual([
      'pools',
      0,
      'env',
      '__proto__',
    ]);
    expect(() => checkFpmConfig(bad)).toThrow(FpmkitInvalidOptionError);
    expect(() => renderFpmConfig(bad)).toThrow(/pools\[0\]\.env\.__proto__/);
  });

  it.skipIf(!fpm.available)(`php-fpm -tt applies the rendered key${fpm.reason}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fpmkit-proto-'));
    try {
      const model = parseFpmConfig(text).config;
      model.global.errorLog = `${dir}/fpm.log`;
      model.pools[0]!.listen.address = `${dir}/www.sock`;
      const real = await phpFpmTest(renderFpmConfig(model), { tt: true, allowRoot: true });
      expect(real.exitCode).toBe(0);
      expect(real.messages).toContain('NOTICE: \tenv[__proto__] = x');
      expect(real.messages).toContain('NOTICE: \tphp_value[__proto__] = y');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
