import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory()
      ? sources(path)
      : path.endsWith('.ts')
        ? [path]
        : [];
  });
}

describe('docs stay true', () => {
  it('docs/errors.md lists every error code the code can throw, and ERROR_CODES has them all', () => {
    const doc = read('docs/errors.md');
    const used = new Set<string>();
    for (const file of sources('src')) {
      for (const m of read(file).matchAll(/'(FPMKIT_[A-Z_]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    for (const code of used) {
      expect(doc, `${code} missing from docs/errors.md`).toContain(`\`${code}\``);
      expect(ERROR_CODES as readonly string[], `${code} missing from ERROR_CODES`).toContain(code);
    }
  });
});

describe('README', () => {
  it("the 'In code' example does what its comments say", async () => {
    const readme = read('README.md');
    const block = /## In code\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const { checkFpmConfig, parseFpmConfig, renderFpmConfig } = await import('../../src/index.js');
    const pool = /const pool = `([\s\S]*?)`;/.exec(block!)?.[1];
    expect(pool).toBeDefined();
    const verdict = checkFpmConfig(pool!, { path: 'shop.conf' });
    expect(verdict.ok).toBe(false);
    const claimed = /verdict\.findings\[0\]\.message;\n\/\/ "(.*)"/.exec(block!)?.[1];
    expect(verdict.findings[0]?.message).toBe(claimed);
    const { config } = parseFpmConfig(pool!);
    config.pools[0]!.pm.maxChildren = 12;
    const text = renderFpmConfig(config);
    expect(parseFpmConfig(text).config).toEqual(config);
    expect(checkFpmConfig(text).ok).toBe(true);
  });
});
