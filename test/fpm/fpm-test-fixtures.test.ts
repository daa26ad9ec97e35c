import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFpmConfig, type FpmSystem } from '../../src/fpm/index.js';
import { stripMessages } from '../support/php-fpm.js';

/**
 * The 76 cases recorded with `php-fpm8.2 -t -y CASE.conf` as root (see the fixture README).
 * The system below answers as the recording machine did: www-data existed and nosuchuser did
 * not; /nonexistent and /srv/does-not-exist did not exist; the compiled prefix was /usr.
 */
const dir = join(import.meta.dirname, '..', 'fixtures', 'fpm-test');
const LAB = '/etc/php/fixture-lab/fpm-test/';
const MISSING = [
  '/nonexistent',
  '/srv/does-not-exist',
  '/usr/var',
  '/usr/pool.d',
  `${LAB}does-not-exist.d`,
];
const missing = (path: string) => MISSING.some((m) => path === m || path.startsWith(`${m}/`));
const enoent = () => Object.assign(new Error('ENOENT'), { code: 'ENOENT' });

const recordingMachine: FpmSystem = {
  userExists: (name) => /^\d+$/.test(name) || ['root', 'www-data', 'nobody'].includes(name),
  groupExists: (name) => /^\d+$/.test(name) || ['root', 'www-data', 'nogroup'].includes(name),
  isDirectory: (path) => !missing(path),
  openForAppend: (path) => (missing(path) ? 'ENOENT' : undefined),
};

function glob(pattern: string): string[] {
  const slash = pattern.lastIndexOf('/');
  const base = pattern.slice(0, slash);
  if (missing(base)) throw enoent();
  const local = join(dir, base.slice(LAB.length));
  const re = new RegExp(
    `^${pattern
      .slice(slash + 1)
      .replace(/\./g, '\\.')
      .replace(/\*/g, '.*')}$`,
  );
  return readdirSync(local)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => `${base}/${f}`);
}

const readFile = (path: string) => {
  if (!path.startsWith(LAB)) throw enoent();
  return readFileSync(join(dir, path.slice(LAB.length)), 'utf8');
};

function envOf(name: string): Record<string, string> {
  try {
    const text = readFileSync(join(dir, `${name}.env`), 'utf8');
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  } catch {
    return {};
  }
}

const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.conf'))
  .map((f) => f.slice(0, -'.conf'.length))
  .sort();

describe('checkFpmConfig agrees with recorded php-fpm -t verdicts', () => {
  it('has all 76 cases', () => {
    expect(cases).toHaveLength(76);
  });

  it.each(cases)('%s', (name) => {
    const [exitLine, ...rest] = readFileSync(join(dir, `${name}.out`), 'utf8').split('\n');
    const messages = stripMessages(rest.join('\n'));
    const text = readFileSync(join(dir, `${name}.conf`), 'utf8');
    const result = checkFpmConfig(text, {
      path: `${name}.conf`,
      env: envOf(name),
      asRoot: true,
      system: recordingMachine,
      glob,
      readFile,
    });
    expect(result.ok).toBe(exitLine === '0');
    const firstFailure = messages.find((m) => /^(ERROR|ALERT|PHP):/.test(m));
    const firstError = result.findings.find((f) => f.severity === 'error');
    if (exitLine === '0') {
      expect(firstFailure).toBeUndefined();
      expect(firstError).toBeUndefined();
    } else {
      expect(firstError?.evidence?.fpmMessage).toBe(firstFailure);
    }
    const notice = messages.find((m) => m.includes('pm.start_servers is not set'));
    if (notice) {
      expect(result.findings.map((f) => f.evidence?.fpmMessage)).toContain(notice);
    }
    const warning = messages.find((m) => m.startsWith('WARNING: Invalid token'));
    if (warning) expect(firstError?.evidence?.fpmWarning).toBe(warning);
  });
});
