import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderFindingsDoc } from '../../scripts/findings-doc.js';
import {
  checkStack,
  diagnose,
  LIVE_FINDING_CODES,
  STACK_FINDING_CODES,
} from '../../src/doctor/index.js';
import type { Finding } from '../../src/findings.js';
import {
  FINDING_CATALOG,
  FINDING_CODES,
  type FindingCode,
  type FindingRule,
  findingDocAnchor,
  isFindingCode,
} from '../../src/findings-catalog.js';
import { checkFpmConfig, parseFpmConfig } from '../../src/fpm/index.js';
import { snapshotFromDirectory } from '../../src/host/index.js';

const rule = (code: string): FindingRule => FINDING_CATALOG[code as FindingCode];

/** Code literals in the sources, outside the catalog itself: `'fpm.x'`, `'stack.x'`, `'live.x'`, `code: 'a.b'`. */
function codesInSources(dir: string): Map<string, string> {
  const codes = new Map<string, string>();
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    if (path.endsWith('findings-catalog.ts')) continue;
    const text = readFileSync(path, 'utf8');
    for (const m of text.matchAll(/'((?:fpm|stack|live)\.[a-z][a-z-]*)'/g)) codes.set(m[1]!, path);
    for (const m of text.matchAll(/\bcode: '([a-z]+\.[a-z][a-z-]*)'/g)) codes.set(m[1]!, path);
  }
  return codes;
}

/** Checks a produced finding against the catalog: known code, the catalog's severity. */
function expectCatalogued(f: Finding, where: string): void {
  expect(isFindingCode(f.code), `${f.code} from ${where} is not in FINDING_CATALOG`).toBe(true);
  const r = rule(f.code);
  if (r.severityNote === undefined) expect(f.severity, `${f.code} from ${where}`).toBe(r.severity);
}

describe('FINDING_CATALOG', () => {
  it('has every finding code written in src/, and nothing else', () => {
    const used = codesInSources('src');
    expect(used.size).toBeGreaterThanOrEqual(109);
    const unknown = [...used].filter(([c]) => !isFindingCode(c)).map(([c, p]) => `${c} (${p})`);
    expect(unknown).toEqual([]);
    expect(FINDING_CODES.filter((c) => !used.has(c))).toEqual([]);
  });

  it('counts 67 fpm, 30 stack and 15 live codes, each with a summary, fix and anchor', () => {
    const per = (p: string) => FINDING_CODES.filter((c) => c.startsWith(p)).length;
    expect([per('fpm.'), per('stack.'), per('live.')]).toEqual([67, 30, 15]);
    expect(FINDING_CODES).toHaveLength(112);
    expect(STACK_FINDING_CODES).toHaveLength(30);
    expect(LIVE_FINDING_CODES).toContain('live.untrusted-master');
    const doc = readFileSync('docs/findings.md', 'utf8');
    for (const code of FINDING_CODES) {
      const r = rule(code);
      expect(r.summary.length, code).toBeGreaterThan(5);
      expect(r.fix.length, code).toBeGreaterThan(5);
      const anchor = findingDocAnchor(code).split('#')[1]!;
      // The anchor is a heading of the page, and the code sits under it.
      const headings = [...doc.matchAll(/^#+ (.*)$/gm)];
      const heading = headings.find(
        (h) =>
          h[1]!
            .toLowerCase()
            .replace(/[^a-z0-9 _-]/g, '')
            .replace(/ /g, '-') === anchor,
      );
      expect(heading, `${code} -> #${anchor}`).toBeDefined();
      const next = headings.find((h) => h.index! > heading!.index!);
      const row = doc.indexOf(`| \`${code}\``);
      expect(row, code).toBeGreaterThan(heading!.index!);
      if (next && !next[0].startsWith('### ')) expect(row, code).toBeLessThan(next.index!);
    }
  });

  it('aliases name a rule of the catalog with the same severity', () => {
    const aliases = FINDING_CODES.filter((c) => rule(c).aliasOf !== undefined);
    expect(aliases.sort()).toEqual([
      'fpm.process-control-timeout-zero',
      'stack.allowed-clients-unix',
      'stack.backlog-above-somaxconn',
      'stack.listen-owner-ignored',
      'stack.max-requests-zero',
    ]);
    for (const code of aliases) {
      const target = rule(code).aliasOf!;
      expect(isFindingCode(target), code).toBe(true);
      expect(rule(target).aliasOf, code).toBeUndefined();
      expect(rule(code).severity, code).toBe(rule(target).severity);
    }
  });
});

describe('docs/findings.md', () => {
  it('is the text generated from the catalog (npm run docs:findings)', () => {
    expect(readFileSync('docs/findings.md', 'utf8')).toBe(renderFindingsDoc());
  });
});

describe('each rule has one severity in fpmkit check and checkStack', () => {
  const FPM_TEXT = `[global]
process_control_timeout = 0
[www]
user = www-data
listen = /run/php/www.sock
listen.backlog = 1024
listen.allowed_clients = 127.0.0.1
listen.acl_users = www-data
listen.owner = www-data
pm = static
pm.max_children = 4
pm.max_requests = 0
`;

  it('gives the five shared rules under both names, with the catalog severity', () => {
    const fromCheck = checkFpmConfig(FPM_TEXT, { somaxconn: 128 }).findings;
    const { config } = parseFpmConfig(FPM_TEXT);
    const fromStack = checkStack({ fpm: config, kernel: { somaxconn: 128 } });
    const pairs: [FindingCode, FindingCode][] = [
      ['fpm.max-requests-zero', 'stack.max-requests-zero'],
      ['fpm.backlog-above-somaxconn', 'stack.backlog-above-somaxconn'],
      ['fpm.allowed-clients-unix', 'stack.allowed-clients-unix'],
      ['fpm.listen-owner-ignored', 'stack.listen-owner-ignored'],
      ['fpm.process-control-timeout-zero', 'stack.process-control-timeout-short'],
    ];
    for (const [fpm, stack] of pairs) {
      const a = fromCheck.find((f) => f.code === fpm);
      const b = fromStack.find((f) => f.code === stack);
      expect(a, fpm).toBeDefined();
      expect(b, stack).toBeDefined();
      expect(a!.severity, `${fpm} / ${stack}`).toBe(b!.severity);
      expect(a!.severity).toBe(rule(fpm).severity);
      // One implementation: the same fix under both names, and the same message where the
      // two checks know the same facts (checkStack also names the master's user, and the
      // longest request).
      if (fpm !== 'fpm.process-control-timeout-zero') expect(a!.fix).toBe(b!.fix);
      if (fpm !== 'fpm.process-control-timeout-zero' && fpm !== 'fpm.listen-owner-ignored')
        expect(a!.message).toBe(b!.message);
    }
    // pm.max_requests was a warning from checkFpmConfig and a note from checkStack.
    expect(fromCheck.find((f) => f.code === 'fpm.max-requests-zero')!.severity).toBe('info');
    for (const f of [...fromCheck, ...fromStack]) expectCatalogued(f, 'the shared-rule config');
  });

  it('produces only catalogued codes at the catalog severity over every php-fpm -t fixture', () => {
    const dir = 'test/fixtures/fpm-test';
    let seen = 0;
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.conf'))) {
      const text = readFileSync(join(dir, name), 'utf8');
      const result = checkFpmConfig(text, { path: name, asRoot: true, somaxconn: 128 });
      for (const f of result.findings) expectCatalogued(f, name);
      seen += result.findings.length;
      let config: ReturnType<typeof parseFpmConfig>['config'];
      try {
        config = parseFpmConfig(text, { path: name }).config;
      } catch {
        continue;
      }
      let stack: Finding[] = [];
      try {
        stack = checkStack({ fpm: config, kernel: { somaxconn: 128, nrOpen: 1024 } });
      } catch {
        continue;
      }
      for (const f of stack) expectCatalogued(f, `checkStack(${name})`);
      seen += stack.length;
    }
    expect(seen).toBeGreaterThan(50);
  });

  it('produces only catalogued live codes at the catalog severity from saved evidence', async () => {
    const snapshot = await snapshotFromDirectory('test/fixtures/doctor/evidence', {});
    const report = diagnose(snapshot);
    for (const f of report.findings) expectCatalogued(f, 'diagnose(evidence)');
    const live = report.findings.filter((f) => f.code.startsWith('live.'));
    expect(live.length).toBeGreaterThan(3);
  });
});
