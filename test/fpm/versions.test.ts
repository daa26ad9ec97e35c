import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFpmkitError } from '../../src/errors.js';
import {
  checkFpmConfig,
  compareFpmPhpVersions,
  FPM_PHP_VERSIONS,
  FPM_VERSION_FACTS,
  fpmDirectivesFor,
  parseFpmConfig,
  parseFpmPhpVersion,
} from '../../src/fpm/index.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'php-src');
const namesOf = (version: string) =>
  readFileSync(join(fixtures, `fpm-directives-${version}.txt`), 'utf8')
    .trim()
    .split('\n');
const tableNames = (version: (typeof FPM_PHP_VERSIONS)[number]) =>
  [...new Set(fpmDirectivesFor(version).map((d) => d.name))].sort();

describe('the directive table per PHP version', () => {
  for (const version of ['8.1', '8.2', '8.3', '8.4'] as const) {
    it(`${version}: the names fpm_conf.c of ${version} lists`, () => {
      expect(tableNames(version)).toEqual(namesOf(version));
    });
  }
  it('8.0: 8.1 without pm.max_spawn_rate', () => {
    expect(tableNames('8.0')).toEqual(namesOf('8.1').filter((n) => n !== 'pm.max_spawn_rate'));
  });
});

const pool = (extra: string) =>
  `[global]\nerror_log = /tmp/fpm.log\n[www]\nuser = nosuchuser\nlisten = /tmp/www.sock\npm = static\npm.max_children = 2\n${extra}`;
const firstError = (text: string, phpVersion: string) =>
  checkFpmConfig(text, { phpVersion, system: { userExists: () => false } }).findings.find(
    (f) => f.severity === 'error',
  )?.evidence?.fpmMessage;

describe('checkFpmConfig decides as the version given', () => {
  it('pm.max_spawn_rate is an unknown entry before 8.1', () => {
    const text = pool('pm.max_spawn_rate = 8\n');
    expect(firstError(text, '8.0')).toBe(
      "ERROR: [php-fpm.conf:8] unknown entry 'pm.max_spawn_rate'",
    );
    expect(firstError(text, '8.1')).toBeUndefined();
  });
  it('access.suppress_path[] is a misspelled array before 8.2, an unknown directive with a key', () => {
    expect(firstError(pool('access.suppress_path[] = /ping\n'), '8.1')).toBe(
      'ERROR: [php-fpm.conf:8] Misspelled  array ?',
    );
    expect(firstError(pool('access.suppress_path[a] = /ping\n'), '8.1')).toBe(
      "ERROR: [php-fpm.conf:8] unknown directive 'access.suppress_path'",
    );
    expect(firstError(pool('env[] = 1\n'), '8.2')).toBe(
      "ERROR: [php-fpm.conf:8] You must provide a key for field 'env'",
    );
  });
  it('a quoted boolean word is refused before 8.2', () => {
    const text = pool('catch_workers_output = "yes"\n');
    expect(firstError(text, '8.1')).toBe(
      "ERROR: [php-fpm.conf:8] unable to parse value for entry 'catch_workers_output': invalid boolean value",
    );
    expect(firstError(text, '8.2')).toBe("ERROR: [pool www] cannot get uid for user 'nosuchuser'");
  });
  it('-t looks up accounts from 8.2 and the socket path length from 8.3', () => {
    expect(firstError(pool(''), '8.1')).toBeUndefined();
    expect(firstError(pool(''), '8.2')).toBe(
      "ERROR: [pool www] cannot get uid for user 'nosuchuser'",
    );
    const long = `[global]\nerror_log = /tmp/fpm.log\n[www]\nlisten = /tmp/${'s'.repeat(100)}.sock\npm = static\npm.max_children = 2\n`;
    expect(checkFpmConfig(long, { phpVersion: '8.2' }).ok).toBe(true);
    expect(firstError(long, '8.3')).toMatch(
      /^ERROR: \[pool www\] cannot bind to UNIX socket '\/tmp\/s+\.sock' as path is too long \(found length: 110, maximal length: 108\): Success \(0\)$/,
    );
  });
  it('parseFpmConfig reads the version too', () => {
    const { findings } = parseFpmConfig(pool('pm.max_spawn_rate = 8\n'), { phpVersion: '8.0' });
    expect(findings.map((f) => f.code)).toContain('fpm.unknown-entry');
  });
});

describe('parseFpmPhpVersion', () => {
  it.each([
    ['8.4', '8.4'],
    ['8.3.6', '8.3'],
    ['PHP 8.4.27 (fpm-fcgi) (built: Oct 21 2026 07:53:46) (NTS)', '8.4'],
    ['php-fpm8.1', '8.1'],
  ])('%s is %s', (text, version) => {
    expect(parseFpmPhpVersion(text)).toBe(version);
  });
  it.each(['7.4', '9.0', '', 'eight', '8'])('refuses %j with FPMKIT_INVALID_OPTION', (text) => {
    expect(() => parseFpmPhpVersion(text)).toThrowError(
      expect.objectContaining({ code: 'FPMKIT_INVALID_OPTION' }),
    );
  });
  it('any text gives a version or an FpmkitError', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          expect(FPM_PHP_VERSIONS).toContain(parseFpmPhpVersion(text));
        } catch (error) {
          expect(isFpmkitError(error)).toBe(true);
        }
      }),
    );
  });
  it('orders versions and gives every version its facts', () => {
    expect(compareFpmPhpVersions('8.0', '8.4')).toBeLessThan(0);
    expect(compareFpmPhpVersions('old', '8.0')).toBeLessThan(0);
    expect(compareFpmPhpVersions('8.10', '8.9')).toBeGreaterThan(0);
    expect(Object.keys(FPM_VERSION_FACTS)).toEqual([...FPM_PHP_VERSIONS]);
  });
});

describe('${NAME:-fallback} and constants by version', () => {
  const response = (value: string, phpVersion: string, env: Record<string, string> = {}) =>
    parseFpmConfig(`[www]\nping.response = ${value}\n`, { phpVersion, env }).config.pools[0]?.ping
      .response;
  it('8.3 and 8.4 use the fallback when the name is unset; 8.2 reads one name', () => {
    expect(response('${UNSET:-fb}', '8.4')).toBe('fb');
    expect(response('${UNSET:-fb}', '8.3')).toBe('fb');
    expect(response('${UNSET:-fb}', '8.2')).toBe('');
    expect(response('${SET:-fb}', '8.4', { SET: 'val' })).toBe('val');
    expect(response('${SET:-fb}', '8.4', { SET: '' })).toBe('');
    expect(response('pre${UNSET:- "q" }post', '8.4')).toBe('preqpost');
    expect(response('${UNSET:-${SET}x}', '8.4', { SET: 'val' })).toBe('valx');
    expect(response('${UNSET:-PHP_OS}', '8.4')).toBe('Linux');
    expect(() => response("${UNSET:-a'b}", '8.4')).toThrowError(/expecting '\}'/);
    expect(() => response('${:-x}', '8.4')).toThrowError(/unexpected TC_FALLBACK/);
  });
  it('E_ALL is 30719 in 8.4, 32767 before', () => {
    expect(response('E_ALL', '8.4')).toBe('30719');
    expect(response('E_ALL', '8.3')).toBe('32767');
  });
  it('any value read as 8.4 gives a configuration or an FpmkitError', () => {
    const unit = fc.constantFrom(...'${}:-"\'; \\ab_E$\t=');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 24 }), (value) => {
        try {
          parseFpmConfig(`[www]\nping.response = ${value}\n`, { phpVersion: '8.4' });
        } catch (error) {
          expect(isFpmkitError(error), String(error)).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
