import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError, isFpmkitError } from '../../src/errors.js';
import { PHP_ERROR_CONSTANTS, parseFpmConfig, safeParseFpmConfig } from '../../src/fpm/index.js';
import { scanIniLine } from '../../src/fpm/ini-line.js';

const ctx = {
  variable: (name: string) => ({ FOO: 'foo', CHILDREN: '12' })[name] ?? '',
  constant: (name: string) =>
    PHP_ERROR_CONSTANTS[name] ?? (name === 'PHP_OS' ? 'Linux' : undefined),
};
const scannedValue = (line: string) => {
  const r = scanIniLine(line, ctx);
  return r.syntaxError ?? (r.statements[0] as { value: unknown } | undefined)?.value;
};

describe('scanIniLine: values as php-fpm 8.2 reads them (each row checked against php-fpm -tt)', () => {
  it.each([
    ['x = yes', '1'],
    ['x = "yes"', 'yes'],
    ['x = TRUE', '1'],
    ['x = null', ''],
    ['x = nullx', 'nullx'],
    ["x = 'a b'", 'a b'],
    ["x = ''", null],
    ["x = it's", 'it'],
    ['x = a "b c" d', 'ab cd'],
    ['x =    a   b   ', 'a   b'],
    ['x = a\tb', 'a\tb'],
    ['x = E_ALL & ~E_NOTICE', '32759'],
    ['x = E_ALL', '32767'],
    ['x = PHP_OS', 'Linux'],
    ['x = ${FOO}x', 'foox'],
    ['x = "${FOO}${FOO}"', 'foofoo'],
    ['x = $FOO', '$FOO'],
    // A `$` takes the next character with it, even the newline FPM appends to the line.
    ['x = $', '$\n'],
    ['x = a;b', 'a'],
    ['x = "a;b"', 'a;b'],
    ['x = a#b', 'a#b'],
    ['x = (1)', '1'],
    ['x = !1', '0'],
    ['x = 5 | 2', '7'],
    ['x = 1 | a', '1'],
    ['x = a^b', '0'],
    ['x = a{b}', 'a{b}'],
    ['x = 1.5', '1.5'],
    ['x = "a" "b"', 'ab'],
    ['x = "a\\"b\\\\c\\$d\\n"', 'a"b\\c$d\\n'],
    ['x = "a\\"', 'a\\'],
    ['x = a=b', "syntax error, unexpected '=' in Unknown on line 1"],
    ['x = on foo', 'syntax error, unexpected TC_CONSTANT in Unknown on line 1'],
    ['x = a yes', 'syntax error, unexpected BOOL_TRUE in Unknown on line 1'],
    ['x = /p!ng', "syntax error, unexpected '!' in Unknown on line 1"],
    [
      'x = "abc',
      `syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '"' in Unknown on line 2`,
    ],
    ['x = ${FOO', "syntax error, unexpected end of file, expecting '}' in Unknown on line 1"],
    [
      'x = (1',
      "syntax error, unexpected END_OF_LINE, expecting '^' or '|' or '&' or ')' in Unknown on line 2",
    ],
    ['x = a & ', 'syntax error, unexpected END_OF_LINE in Unknown on line 2'],
    ['x = ~', 'syntax error, unexpected END_OF_LINE in Unknown on line 2'],
  ])('%s', (line, expected) => {
    expect(scannedValue(line)).toBe(expected);
  });

  it.each([
    [
      '[www',
      {
        syntaxError: "syntax error, unexpected end of file, expecting ']' in Unknown on line 1",
        statements: [],
      },
    ],
    [
      'yes',
      { syntaxError: 'syntax error, unexpected BOOL_TRUE in Unknown on line 1', statements: [] },
    ],
    ['= 5', { syntaxError: "syntax error, unexpected '=' in Unknown on line 1", statements: [] }],
    ['listen.backlog', { statements: [{ kind: 'entry', name: 'listen.backlog', value: null }] }],
    ['# pool', { statements: [{ kind: 'entry', name: '# pool', value: null }] }],
    [']', { statements: [{ kind: 'entry', name: ']', value: null }] }],
    [
      'php_value[ a b ] = 1',
      { statements: [{ kind: 'array', name: 'php_value', key: 'a b ', value: '1' }] },
    ],
    [
      'php_value["q r"] = 2',
      { statements: [{ kind: 'array', name: 'php_value', key: 'q r', value: '2' }] },
    ],
    [
      "php_value['s'] = 3",
      { statements: [{ kind: 'array', name: 'php_value', key: 's', value: '3' }] },
    ],
    [
      'php_value[${FOO}] = 4',
      { statements: [{ kind: 'array', name: 'php_value', key: 'foo', value: '4' }] },
    ],
    [
      'php_value[x]',
      {
        syntaxError: "syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2",
        statements: [],
      },
    ],
    [
      'php_value = memory_limit=128M',
      {
        syntaxError: "syntax error, unexpected '=' in Unknown on line 1",
        statements: [{ kind: 'entry', name: 'php_value', value: 'memory_limit' }],
      },
    ],
    ['\t [www]  ', { statements: [{ kind: 'section', name: 'www' }] }],
    [
      '  [www]  ',
      {
        syntaxError: "syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2",
        statements: [],
      },
    ],
    ['  [www] = 1', { statements: [{ kind: 'array', name: '', key: 'www', value: '1' }] }],
    ['\uFEFF[www]', { statements: [{ kind: 'section', name: 'www' }] }],
    ['\uFEFF\uFEFFuser = a', { statements: [{ kind: 'entry', name: '\uFEFFuser', value: 'a' }] }],
    ['\u00a0user = a', { statements: [{ kind: 'entry', name: '\u00a0user', value: 'a' }] }],
    ['ELF\0junk', { statements: [] }],
    ['x = /a \0junk', { statements: [{ kind: 'entry', name: 'x', value: '/a ' }] }],
    ['x =\0', { statements: [{ kind: 'entry', name: 'x', value: '' }] }],
    ['x = $\0', { statements: [{ kind: 'entry', name: 'x', value: '' }] }],
    [
      "x = 'raw",
      { syntaxError: 'syntax error, unexpected end of file in Unknown on line 1', statements: [] },
    ],
    ["x = a 'raw", { statements: [{ kind: 'entry', name: 'x', value: 'a ' }] }],
    [
      'pm.max_children = 5\0 garbage',
      { statements: [{ kind: 'entry', name: 'pm.max_children', value: '5' }] },
    ],
    ['; comment', { statements: [] }],
  ])('%s', (line, expected) => {
    expect(scanIniLine(line, ctx)).toEqual(expected);
  });
});

describe('parseFpmConfig', () => {
  const parse = (text: string, options = {}) =>
    parseFpmConfig(text, { path: 't.conf', ...options });

  it('reads scalar names ignoring case, and keeps array names case-sensitive', () => {
    const { config, findings } = parse('[www]\nPM.MAX_CHILDREN = 7\nPHP_VALUE[x] = 1\n');
    expect(config.pools[0]!.pm.maxChildren).toBe(7);
    expect(findings.map((f) => f.message)).toEqual(["[t.conf:3] unknown directive 'PHP_VALUE'"]);
  });

  it("applies FPM's time quirks: 5ms is 5 s, 1.5m is 60 s, negatives are kept", () => {
    const { config } = parse(
      '[global]\nprocess_control_timeout = 5ms\nemergency_restart_interval = 1.5m\n[www]\nrequest_terminate_timeout = -5\npm.process_idle_timeout = 1h\n',
    );
    expect(config.global.processControlTimeoutSeconds).toBe(5);
    expect(config.global.emergencyRestartIntervalSeconds).toBe(60);
    expect(config.pools[0]!.requestTerminateTimeoutSeconds).toBe(-5);
    expect(config.pools[0]!.pm.processIdleTimeoutSeconds).toBe(3600);
  });

  it('merges re-opened sections: the last scalar wins, the first array key wins', () => {
    const { config, findings } = parse(
      '[www]\npm.max_children = 5\nphp_value[memory_limit] = 100M\n[WWW]\npm.max_children = 3\nphp_value[memory_limit] = 200M\n',
    );
    expect(config.pools).toHaveLength(1);
    expect(config.pools[0]!.pm.maxChildren).toBe(3);
    expect(config.pools[0]!.phpValue).toEqual({ memory_limit: '100M' });
    expect(findings).toMatchObject([
      { code: 'fpm.duplicate-array-key', severity: 'warning', line: 6 },
    ]);
  });

  it('substitutes $pool in string values and array values, not in keys', () => {
    const { config } = parse('[shop]\nlisten = /run/$pool.sock\nenv[$pool] = $pool-x\n');
    expect(config.pools[0]!.listen.address).toBe('/run/shop.sock');
    expect(config.pools[0]!.env).toEqual({ $pool: 'shop-x' });
  });

  it('refuses $pool in [global] with FPM message', () => {
    const { findings } = parse('[global]\nerror_log = /var/log/$pool.log\n');
    expect(findings[0]).toMatchObject({
      code: 'fpm.pool-variable-in-global',
      message:
        "[t.conf:2] unable to parse value for entry 'error_log': Can't use '$pool' when the pool is not defined",
      file: 't.conf',
      line: 2,
    });
  });

  it('expands ${NAME} from the given environment, empty when unset', () => {
    const { config } = parse('[www]\npm.max_children = ${CHILDREN}\npm.max_requests = ${NOPE}\n', {
      env: { CHILDREN: '12' },
    });
    expect(config.pools[0]!.pm.maxChildren).toBe(12);
    expect(config.pools[0]!.pm.maxRequests).toBe(0);
  });

  it('follows includes in glob order, carrying the section across them, relative to the prefix', () => {
    const files: Record<string, string> = {
      '/etc/fpm/pool.d/a.conf': '[a]\nlisten = /a.sock\n',
      '/etc/fpm/pool.d/b.conf': '[b]\nlisten = /b.sock\n',
    };
    const { config } = parse('[global]\ninclude = pool.d/*.conf\npm = static\n', {
      prefix: '/etc/fpm',
      glob: (pattern: string) => {
        expect(pattern).toBe('/etc/fpm/pool.d/*.conf');
        return Object.keys(files).sort();
      },
      readFile: (path: string) => files[path]!,
    });
    expect(config.pools.map((p) => p.name)).toEqual(['a', 'b']);
    // The line after the include lands in the last pool the included files opened.
    expect(config.pools[1]!.pm.mode).toBe('static');
    expect(config.global).not.toHaveProperty('pm');
  });

  it('reports an include nobody can read, and a nesting deeper than five files', () => {
    const loop = parse('include = /self.conf\n', { readFile: () => 'include = /self.conf\n' });
    expect(loop.findings.map((f) => f.code)).toContain('fpm.include-depth');
    const missing = parse('include = /nope.conf\n', {
      readFile: () => {
        throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      },
    });
    expect(missing.findings[0]!.message).toBe(
      "failed to open configuration file '/nope.conf': No such file or directory (2)",
    );
  });

  it('throws FpmkitParseError with file and line on INI syntax errors; safeParse returns it', () => {
    expect(() => parse('[www]\nlisten = a=b\n')).toThrow(FpmkitParseError);
    const result = safeParseFpmConfig('[www]\n\nlisten = "open\n', { path: 'x.conf' });
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(result.error).toMatchObject({ source: 'x.conf', line: 3, lineText: 'listen = "open' });
    }
  });

  it('keeps listen.mode as a number and warns about modes FPM misreads', () => {
    const { config, findings } = parse('[a]\nlisten.mode = 0660\n[b]\nlisten.mode = 0899\n');
    expect(config.pools[0]!.listen.mode).toBe(0o660);
    expect(config.pools[1]!.listen.mode).toBe(0);
    expect(findings).toMatchObject([{ code: 'fpm.listen-mode-not-octal', pool: 'b' }]);
  });
});

describe('parseFpmConfig robustness', () => {
  const fixtureDir = join(import.meta.dirname, '..', 'fixtures', 'fpm-test');
  const seeds = readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.conf'))
    .map((f) => readFileSync(join(fixtureDir, f), 'utf8'));
  const noise = fc.string({
    unit: fc.constantFrom(...'[]="\'\\$;{}()!~&|^#%\n\r\t\0 aZ9.-_/:'),
    maxLength: 12,
  });
  const mutated = fc
    .tuple(
      fc.constantFrom(...seeds),
      fc.array(fc.tuple(fc.nat(), noise, fc.nat({ max: 4 })), { minLength: 1, maxLength: 6 }),
    )
    .map(([seed, edits]) => {
      let text = seed;
      for (const [at, insert, cut] of edits) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + insert + text.slice(i + cut);
      }
      return text;
    });

  it('returns a result or throws FpmkitParseError with file and line for 10,000 fuzzed inputs', () => {
    let thrown = 0;
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        try {
          const result = parseFpmConfig(text, { path: 'fuzz.conf' });
          expect(Array.isArray(result.config.pools)).toBe(true);
        } catch (error) {
          thrown++;
          expect(isFpmkitError(error)).toBe(true);
          expect(error).toBeInstanceOf(FpmkitParseError);
          expect((error as FpmkitParseError).source).toBe('fuzz.conf');
          expect((error as FpmkitParseError).line).toBeGreaterThan(0);
        }
      }),
      { numRuns: 10_000 },
    );
    expect(thrown).toBeGreaterThan(100);
  });
});

describe('scanIniLine fast paths give what the full scanner gives', () => {
  it.each([
    'pm.max_children = 5\r',
    '[www]\r',
    'php_value[memory_limit] = 128M\r',
    'x = On',
    'x = none',
    'x = nonex',
    'x = E_ALL',
    'x = $HOME/x',
    'x = -5',
    'x = 1.5m',
    'x = a#b?c*d<e>f%g+h,i@j:k',
    'x = ',
    'on = 1',
    '  ; comment',
    'php_value[] = x',
  ])('%j', (line) => {
    // A leading NUL-free prefix of spaces and a trailing NUL force the full scanner.
    const full = scanIniLine(`${line}\0`, ctx);
    expect(scanIniLine(line, ctx)).toEqual(full);
  });
});
