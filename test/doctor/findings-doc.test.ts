import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STACK_FINDING_CODES } from '../../src/doctor/index.js';

/** Every Finding code written as a literal in the sources (`'fpm.xxx'`, `'stack.xxx'`, `code: 'x.y'`). */
function codesInSources(dir: string): Set<string> {
  const codes = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    // The catalog lists every code; the producers are everywhere else.
    if (entry.name === 'findings-catalog.ts') continue;
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
    for (const m of text.matchAll(/'((?:fpm|stack|live)\.[a-z][a-z-]*)'/g)) codes.add(m[1]!);
    // Any other area's codes, written as `code: 'area.name'`.
    for (const m of text.matchAll(/\bcode: '([a-z]+\.[a-z][a-z-]*)'/g)) codes.add(m[1]!);
  }
  return codes;
}

describe('docs/findings.md', () => {
  const doc = readFileSync('docs/findings.md', 'utf8');
  const documented = new Set([...doc.matchAll(/^\| `([a-z]+\.[a-z-]+)`/gm)].map((m) => m[1]!));
  const used = codesInSources('src');

  it('has a table row for every Finding code in the sources', () => {
    expect(used.size).toBeGreaterThan(90);
    expect([...used].filter((c) => !documented.has(c))).toEqual([]);
  });

  it('documents no code that nothing produces', () => {
    expect([...documented].filter((c) => !used.has(c))).toEqual([]);
  });

  it('lists every checkStack code with a severity and a fix', () => {
    for (const code of STACK_FINDING_CODES) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${code}\``));
      expect(row, code).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(cells[2], code).toMatch(/error|warning|info/);
      expect(cells[4]?.length, code).toBeGreaterThan(5);
    }
  });
});
