import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import { splitFpmLines } from '../../src/fpm/edit.js';
import {
  editFpmConfig,
  type FpmEdit,
  locateFpmDirective,
  mapFpmSources,
  parseFpmConfig,
  planFpmEdits,
} from '../../src/fpm/index.js';
import { buildFileSet, fileSetArb } from './edit-arbitraries.js';

const STOCK = join(import.meta.dirname, '../fixtures/fpm-stock');
const MAIN = '/etc/php/8.2/fpm/php-fpm.conf';
const WWW = '/etc/php/8.2/fpm/pool.d/www.conf';
const stock = new Map([
  [MAIN, readFileSync(join(STOCK, 'php-fpm.conf'), 'utf8')],
  [WWW, readFileSync(join(STOCK, 'www.conf'), 'utf8')],
]);

const set = (section: string, directive: string, value: FpmEdit['value']): FpmEdit =>
  ({ section, directive, value }) as FpmEdit;

function invalid(fn: () => unknown, option: RegExp | string): FpmkitInvalidOptionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toMatch(option);
    return error as FpmkitInvalidOptionError;
  }
  throw new Error('expected FpmkitInvalidOptionError');
}

describe("Debian's stock files", () => {
  it('come back byte for byte with no edits and with edits to the values already there', () => {
    for (const text of stock.values()) {
      expect(editFpmConfig(text, []).text).toBe(text);
      expect(
        splitFpmLines(text)
          .map((l) => l.text + l.eol)
          .join(''),
      ).toBe(text);
    }
    const www = stock.get(WWW)!;
    const same = editFpmConfig(www, [
      set('www', 'pm.max_children', 5),
      set('www', 'pm', 'dynamic'),
      set('www', 'user', 'www-data'),
    ]);
    expect(same.text).toBe(www);
    expect(same.changes.map((c) => c.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    const there = editFpmConfig(www, [set('www', 'pm.max_children', 20)]).text;
    expect(editFpmConfig(there, [set('www', 'pm.max_children', 5)]).text).toBe(www);
  });

  it('puts edits where a person would and touches nothing else', () => {
    const plan = planFpmEdits(stock, MAIN, [
      set('www', 'pm.max_children', 20),
      set('www', 'pm.max_requests', 500),
      set('www', 'listen.backlog', 4096),
      set('www', 'php_admin_value[memory_limit]', '256M'),
      set('www', 'env[APP_ENV]', 'prod'),
      set('global', 'process_control_timeout', '10s'),
      { section: 'www', directive: 'pm.min_spare_servers', remove: true },
    ]);
    const byDirective = Object.fromEntries(plan.changes.map((c) => [c.directive, c]));
    const after = new Map(plan.files.map((f) => [f.path, splitFpmLines(f.after)]));
    const line = (file: string, n: number) => after.get(file)![n - 1]!.text;
    const at = (d: string) => {
      const c = byDirective[d]!;
      return { file: c.file!, n: c.linesAfter[0]! };
    };
    expect(line(WWW, at('pm.max_children').n)).toBe('pm.max_children = 20');
    expect(byDirective['pm.max_children']!.linesBefore).toEqual([127]);
    // Right after the commented-out example of the same directive.
    for (const [d, example] of [
      ['pm.max_requests', ';pm.max_requests = 500'],
      ['listen.backlog', ';listen.backlog = 511'],
      ['php_admin_value[memory_limit]', ';php_admin_value[memory_limit] = 32M'],
      ['env[APP_ENV]', ';env[TEMP] = /tmp'],
    ] as const) {
      const { file, n } = at(d);
      expect(file).toBe(WWW);
      expect(line(file, n - 1)).toBe(example);
    }
    const pct = at('process_control_timeout');
    expect(pct.file).toBe(MAIN);
    expect(line(MAIN, pct.n)).toBe('process_control_timeout = 10s');
    expect(line(MAIN, pct.n - 1)).toBe(';process_control_timeout = 0');
    // Still before the include, so it stays in [global].
    const include = after.get(MAIN)!.findIndex((l) => l.text.startsWith('include='));
    expect(pct.n).toBeLessThan(include + 1);
    expect(byDirective['pm.min_spare_servers']).toMatchObject({
      action: 'remove',
      linesBefore: [137],
    });
    // Everything else is the same bytes: 7 changes, 6 inserted lines, 1 removed.
    const mainBefore = stock.get(MAIN)!.split('\n').length;
    expect(plan.files.find((f) => f.path === MAIN)!.after.split('\n').length).toBe(mainBefore + 1);
    const parsed = parseFpmConfig(plan.files.find((f) => f.path === WWW)!.after);
    expect(parsed.config.pools[0]!.pm).toMatchObject({ maxChildren: 20, maxRequests: 500 });
    expect(parsed.config.pools[0]!.pm.minSpareServers).toBeUndefined();
    expect(parsed.config.pools[0]!.phpAdminValue).toEqual({ memory_limit: '256M' });
  });

  it('locates directives across the include', () => {
    const map = mapFpmSources(MAIN, { readFile: (p) => stock.get(p)!, glob: () => [WWW] });
    expect(locateFpmDirective(map, 'www', 'pm.max_children')).toEqual({
      file: WWW,
      line: 127,
      shadowed: [],
    });
    expect(locateFpmDirective(map, 'global', 'error_log')).toMatchObject({ file: MAIN, line: 26 });
    expect(locateFpmDirective(map, 'WWW', 'pm.maxRequests')).toBeUndefined();
    expect(map.files.map((f) => f.initialSection)).toEqual(['global', 'global']);
    const parsed = parseFpmConfig(stock.get(MAIN)!, {
      readFile: (p) => stock.get(p)!,
      glob: () => [WWW],
    });
    expect(locateFpmDirective(parsed, 'www', 'pm.max_children')).toEqual({
      file: WWW,
      line: 127,
      shadowed: [],
    });
    invalid(() => locateFpmDirective(parsed, 'www', 'env[X]'), 'directive');
    invalid(() => locateFpmDirective(map, 'shop', 'pm'), 'section');
  });
});

describe('editFpmConfig', () => {
  it('keeps CRLF, a missing final newline and a byte order mark', () => {
    const text = '\uFEFF[www]\r\nlisten = /s\r\npm = static\r\npm.max_children = 2';
    const r = editFpmConfig(text, [
      set('www', 'pm.max_children', 4),
      set('www', 'pm.max_requests', 9),
    ]);
    expect(r.text).toBe(
      '\uFEFF[www]\r\nlisten = /s\r\npm = static\r\npm.max_children = 4\r\npm.max_requests = 9',
    );
    const bom = editFpmConfig('\uFEFFpid = /a\n[www]\n', [set('global', 'pid', '/b')]);
    expect(bom.text).toBe('\uFEFFpid = /b\n[www]\n');
  });

  it('changes the last of repeated scalars and the first of repeated array keys, and says so', () => {
    const text =
      '[www]\npm.max_requests = 1\nphp_value[a] = x\npm.max_requests = 2 ; why\nphp_value[a] = y\n';
    const r = editFpmConfig(text, [
      set('www', 'pm.max_requests', 3),
      set('www', 'php_value[a]', 'z'),
    ]);
    expect(r.text).toBe(
      '[www]\npm.max_requests = 1\nphp_value[a] = z\npm.max_requests = 3 ; why\nphp_value[a] = y\n',
    );
    expect(r.changes[0]).toMatchObject({ linesBefore: [4], shadowed: [2] });
    expect(r.changes[0]!.note).toMatch(/last one, which FPM uses/);
    expect(r.changes[1]).toMatchObject({ linesBefore: [3], shadowed: [5] });
    const parsed = parseFpmConfig(r.text).config.pools[0]!;
    expect(parsed.pm.maxRequests).toBe(3);
    expect(parsed.phpValue).toEqual({ a: 'z' });
  });

  it('rewrites a php_flag that would shadow a php_value of the same key', () => {
    const r = editFpmConfig('[www]\nphp_flag[display_errors] = off\n', [
      set('www', 'php_value[display_errors]', 'stderr'),
    ]);
    expect(r.text).toBe('[www]\nphp_value[display_errors] = stderr\n');
  });

  it('quotes values only when FPM needs it, and reads them back', () => {
    const cases: [string, string][] = [
      ['/run/php/a.sock', '/run/php/a.sock'],
      ['a b', '"a b"'],
      ['yes', '"yes"'],
      ['E_ALL', '"E_ALL"'],
      ['x;y', '"x;y"'],
      ['${HOME}', '"\\${HOME}"'],
      ['say "hi"\\', '"say \\"hi\\"\\\\"'],
      ["it's", '"it\'s"'],
    ];
    for (const [value, written] of cases) {
      const r = editFpmConfig('[www]\nping.path = /ping\n', [set('www', 'ping.response', value)]);
      expect(r.text).toBe(`[www]\nping.path = /ping\nping.response = ${written}\n`);
      expect(
        parseFpmConfig(r.text, { env: { HOME: '/root' } }).config.pools[0]!.ping.response,
      ).toBe(value);
    }
  });

  it('takes model paths and typed values', () => {
    const r = editFpmConfig('[global]\n[www]\nlisten = /s\n', [
      set('www', 'pm.maxChildren', 8),
      set('www', 'listen.mode', 0o660),
      set('www', 'catchWorkersOutput', true),
      set('www', 'requestTerminateTimeoutSeconds', 30),
      set('www', 'phpAdminFlag.log_errors', true),
      set('www', 'securityLimitExtensions', ['.php', '.php8']),
      set('global', 'logLevel', 'warn'),
    ]);
    const parsed = parseFpmConfig(r.text);
    expect(parsed.findings).toEqual([]);
    const pool = parsed.config.pools[0]!;
    expect(pool.pm.maxChildren).toBe(8);
    expect(pool.listen.mode).toBe(0o660);
    expect(pool.catchWorkersOutput).toBe(true);
    expect(pool.requestTerminateTimeoutSeconds).toBe(30);
    expect(pool.phpAdminFlag).toEqual({ log_errors: true });
    expect(pool.securityLimitExtensions).toEqual(['.php', '.php8']);
    expect(parsed.config.global.logLevel).toBe('warning');
  });

  it('adds and removes access.suppress_path entries', () => {
    const text = '[www]\naccess.suppress_path[] = /ping\n';
    const add = editFpmConfig(text, [set('www', 'access.suppress_path[]', '/status')]);
    expect(add.text).toBe(`${text}access.suppress_path[] = /status\n`);
    const again = editFpmConfig(add.text, [set('www', 'access.suppress_path[]', '/ping')]);
    expect(again.changes[0]!.action).toBe('unchanged');
    const rm = editFpmConfig(add.text, [
      { section: 'www', directive: 'access.suppress_path[]', remove: true, value: '/ping' },
    ]);
    expect(rm.text).toBe('[www]\naccess.suppress_path[] = /status\n');
  });

  it('appends a missing section only when asked, after a blank line', () => {
    invalid(() => editFpmConfig('[www]\nlisten = /s', [set('api', 'listen', '/a')]), 'api');
    const r = editFpmConfig('[www]\nlisten = /s', [set('api', 'listen', '/a')], {
      createSections: true,
    });
    expect(r.text).toBe('[www]\nlisten = /s\n\n[api]\nlisten = /a');
    expect(r.changes[0]).toMatchObject({ action: 'add-section', linesAfter: [5] });
  });

  it('never writes after an include into a section it cannot know', () => {
    const text = '[global]\nerror_log = /l\ninclude = /p/*.conf\nlog_limit = 4096\n';
    const r = editFpmConfig(text, [set('global', 'log_level', 'debug')]);
    expect(r.text).toBe(
      '[global]\nerror_log = /l\nlog_level = debug\ninclude = /p/*.conf\nlog_limit = 4096\n',
    );
    // The line after the include is in whatever section the included files leave open.
    const mapped = editFpmConfig(text, [set('global', 'log_limit', 2048)], {
      sectionsAfterInclude: new Map([[3, 'global']]),
    });
    expect(mapped.text).toBe('[global]\nerror_log = /l\ninclude = /p/*.conf\nlog_limit = 2048\n');
  });

  it('removes the last line of a file without a final newline', () => {
    const r = editFpmConfig('[www]\nlisten = /s\npm = static', [
      { section: 'www', directive: 'pm', remove: true },
    ]);
    expect(r.text).toBe('[www]\nlisten = /s');
    expect(
      editFpmConfig('[www]\n', [{ section: 'www', directive: 'pm', remove: true }]).changes[0]!
        .action,
    ).toBe('absent');
  });

  it('refuses bad edits with a typed error naming the directive', () => {
    const text = '[www]\nlisten = /s\n';
    for (const value of ['a\nb', 'a\rb', 'a\0b', 'a\uD800b', 'x\uDC00']) {
      const e = invalid(
        () => editFpmConfig(text, [set('www', 'ping.response', value)]),
        'www.ping.response',
      );
      expect(e.rule).toMatch(/line break|NUL|surrogate/);
    }
    invalid(
      () => editFpmConfig(text, [set('www', 'php_admin_value[x]', 'a\nphp_admin_value[y] = 1')]),
      'www.php_admin_value[x]',
    );
    invalid(() => editFpmConfig(text, [set('www', 'env[A B]', 'v')]), 'www.env[A B]');
    invalid(() => editFpmConfig(text, [set('www', 'listen', '/run/$pool.sock')]), 'www.listen');
    invalid(() => editFpmConfig(text, [set('www', 'pm.max_childs', 5)]), 'edits[0].directive');
    const misplaced = invalid(
      () => editFpmConfig(text, [set('www', 'log_level', 'debug')]),
      'edits[0].directive',
    );
    expect(misplaced.rule).toMatch(/\[global\]/);
    invalid(() => editFpmConfig(text, [set('global', 'env[X]', 'v')]), 'edits[0].directive');
    invalid(
      () => editFpmConfig(text, [set('www', 'pm.max_children', 'many')]),
      'www.pm.max_children',
    );
    invalid(() => editFpmConfig(text, [set('www', 'pm.max_children', 1.5)]), 'www.pm.max_children');
    invalid(() => editFpmConfig(text, [set('www', 'pm', 'auto')]), 'www.pm');
    invalid(
      () => editFpmConfig(text, [set('www', 'catch_workers_output', 'maybe')]),
      'www.catch_workers_output',
    );
    invalid(() => editFpmConfig(text, [set('www', 'env[X]', '')]), 'www.env[X]');
    invalid(
      () => editFpmConfig(text, [set('www', 'pm', 'static'), set('WWW', 'pm', 'static')]),
      'edits[1]',
    );
    invalid(() => editFpmConfig('[www] pm = static\n', [set('www', 'pm', 'dynamic')]), 'www.pm');
    expect(() =>
      editFpmConfig('[www]\nping.response = "open\n', [set('www', 'pm', 'static')]),
    ).toThrow(FpmkitParseError);
    // Nothing is checked when nothing is edited: the bytes come back.
    expect(editFpmConfig('[www]\n# x\n', []).text).toBe('[www]\n# x\n');
  });

  it('keeps every byte of 200 generated configurations and changes only the lines it names', () => {
    let files = 0;
    let crlf = 0;
    let edits = 0;
    fc.assert(
      fc.property(fileSetArb('/srv/x'), fc.nat(), ([config, seed], pick) => {
        const fileSet = buildFileSet(config, seed, '/srv/x/run');
        expect(planFpmEdits(fileSet.files, fileSet.root, []).files).toEqual([]);
        for (const [path, text] of fileSet.files) {
          files++;
          if (text.includes('\r\n')) crlf++;
          expect(editFpmConfig(text, [], { path }).text).toBe(text);
          const lines = splitFpmLines(text);
          expect(lines.map((l) => l.text + l.eol).join('')).toBe(text);
        }
        // Setting a value already in force changes nothing; a real change touches one line.
        const pool = config.pools[pick % config.pools.length]!;
        const same = planFpmEdits(fileSet.files, fileSet.root, [
          set(pool.name, 'pm', pool.pm.mode!),
        ]);
        expect(same.files.every((f) => f.after === f.before)).toBe(true);
        const plan = planFpmEdits(fileSet.files, fileSet.root, [
          set(pool.name, 'pm.max_spawn_rate', 77),
        ]);
        edits++;
        const [file] = plan.files;
        const before = splitFpmLines(file!.before);
        const after = splitFpmLines(file!.after);
        const change = plan.changes[0]!;
        expect(after.length - before.length).toBe(change.action === 'set' ? 0 : 1);
        const kept = after.filter((_, i) => i + 1 !== change.linesAfter[0]).map((l) => l.text);
        const was = before.filter((_, i) => i + 1 !== change.linesBefore[0]).map((l) => l.text);
        expect(kept).toEqual(was);
      }),
      { numRuns: 200, seed: Number(process.env.FPMKIT_SEED ?? 20261207) },
    );
    console.log(
      `edit round trip: ${files} files of 200 configurations (${crlf} CRLF) identical; ${edits} single edits touched one line each`,
    );
    expect(files).toBeGreaterThan(400);
    expect(crlf).toBeGreaterThan(50);
  });
});
