import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FINDING_CATALOG, type FindingRule } from '../src/findings-catalog.js';
import { checkFpmConfig } from '../src/fpm/check.js';
import { configArb } from './fpm/arbitraries.js';

const dir = mkdtempSync(join(tmpdir(), 'fpmkit-check-result-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one meaning of ok for every check: no finding is an error', () => {
  it('checkFpmConfig: ok is false exactly when a finding has severity error', () => {
    let failing = 0;
    fc.assert(
      // A machine that lacks some users, groups or directories makes some of them fail `-t`.
      fc.property(configArb(dir), fc.boolean(), fc.boolean(), (config, users, dirs) => {
        const result = checkFpmConfig(config, {
          system: { userExists: () => users, groupExists: () => users, isDirectory: () => dirs },
        });
        if (!result.ok) failing++;
        expect(result.ok).toBe(!result.findings.some((f) => f.severity === 'error'));
      }),
      { numRuns: 300 },
    );
    // The property saw both answers, so it could have failed either way.
    expect(failing).toBeGreaterThan(0);
  });

  it('checkFpmConfig on text: a refused file is not ok, advice alone is', () => {
    const refused = checkFpmConfig('[www]\nlisten = /run/x.sock\npm = static\n');
    expect(refused.ok).toBe(false);
    expect(refused.findings.some((f) => f.severity === 'error')).toBe(true);
    const advised = checkFpmConfig(
      '[www]\nlisten = /run/x.sock\npm = static\npm.max_children = 2\npm.max_requests = 0\n',
    );
    expect(advised.findings.length).toBeGreaterThan(0);
    expect(advised.findings.every((f) => f.severity !== 'error')).toBe(true);
    expect(advised.ok).toBe(true);
  });

  it('advice never has severity error, so it never changes ok', () => {
    const errors = Object.entries(FINDING_CATALOG as Record<string, FindingRule>)
      .filter(([, rule]) => rule.section === 'fpm-advice' && rule.severity === 'error')
      .map(([code]) => code);
    expect(errors).toEqual([]);
  });
});
