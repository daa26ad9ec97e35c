import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../../src/errors.js';
import {
  buildNginxConfig,
  buildNginxConfigFiles,
  combineNginxConfig,
  type NginxConfigPayload,
  type NginxDirective,
  parseNginxConfig,
  parseNginxDump,
} from '../../src/web/index.js';
import { quoteNginxArg } from '../../src/web/nginx-config-builder.js';
import { globNames, matchGlobComponent } from '../../src/web/nginx-config-glob.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'nginx', 'debian-stock');

/** Statements without lines, comments and files: what nginx acts on. */
function words(stmts: readonly NginxDirective[]): unknown[] {
  return stmts
    .filter((s) => s.directive !== '#')
    .map((s) => (s.block ? [s.directive, s.args, words(s.block)] : [s.directive, s.args]));
}

const parseText = (text: string, options = {}) =>
  parseNginxConfig({ text, path: '/etc/nginx/nginx.conf' }, options).config[0]!.parsed;

/** An in-memory tree for `readFile` and `glob`. */
function memoryFs(files: Record<string, string>) {
  return {
    readFile: (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error('No such file or directory');
      return text;
    },
    glob: (pattern: string) => globNames(pattern, Object.keys(files)).reverse(),
  };
}

/** `/etc/nginx/...` read from the Debian fixture. */
const fixtureFs = {
  readFile: (path: string) => readFileSync(path.replace(/^\/etc\/nginx/, FIXTURE)),
  glob: (pattern: string) => {
    const dir = pattern.slice(0, pattern.lastIndexOf('/'));
    let names: string[] = [];
    try {
      names = readdirSync(dir.replace(/^\/etc\/nginx/, FIXTURE)).map((n) => `${dir}/${n}`);
    } catch {}
    return globNames(pattern, names);
  },
};

describe('parseNginxConfig: words as ngx_conf_read_token reads them', () => {
  const rows: [string, string, unknown[]][] = [
    ['empty file', '', []],
    ['comments only', '# a\n  # b\n', []],
    ['one directive', 'worker_processes 2;', [['worker_processes', ['2']]]],
    [
      'no space before ;',
      'a b;c;',
      [
        ['a', ['b']],
        ['c', []],
      ],
    ],
    ['double quotes', 'a "b c" d;', [['a', ['b c', 'd']]]],
    ['single quotes', "a 'b \"c' ;", [['a', ['b "c']]]],
    ['empty quoted word', 'a "" \'\';', [['a', ['', '']]]],
    ['escaped quote in quotes', 'a "b\\"c";', [['a', ['b"c']]]],
    ['\\t \\r \\n escapes', 'a "x\\ty\\rz\\n";', [['a', ['x\ty\rz\n']]]],
    ['other escapes kept', 'a \\.php$ "\\d";', [['a', ['\\.php$', '\\d']]]],
    ['escaped backslash', 'a "\\\\";', [['a', ['\\']]]],
    ['escaped space in a bare word', 'a b\\ c;', [['a', ['b\\ c']]]],
    ['escaped ; in a bare word', 'a b\\;c;', [['a', ['b\\;c']]]],
    ['quote inside a bare word', 'a b"c d\';', [['a', ['b"c', "d'"]]]],
    ['# inside a word', 'a b#c;', [['a', ['b#c']]]],
    ['comment between arguments', 'a b # c ;\n d;', [['a', ['b', 'd']]]],
    ['${var} does not end a word', 'set $x ${host}x;', [['set', ['$x', '${host}x']]]],
    ['} inside a word', 'a b}c;', [['a', ['b}c']]]],
    ['newline inside quotes', 'a "b\nc";', [['a', ['b\nc']]]],
    [
      'tabs and CRLF',
      'a\tb;\r\nc;\r\n',
      [
        ['a', ['b']],
        ['c', []],
      ],
    ],
    [
      'block',
      'events { worker_connections 8; }',
      [['events', [], [['worker_connections', ['8']]]]],
    ],
    [
      'nested blocks',
      'http{server{listen 80;}}',
      [['http', [], [['server', [], [['listen', ['80']]]]]]],
    ],
    [
      'if parentheses removed',
      'if ($a = b) { return 404; }',
      [['if', ['$a', '=', 'b'], [['return', ['404']]]]],
    ],
    ['if with quoted operand', 'if ($a ~ "x y") { }', [['if', ['$a', '~', 'x y'], []]]],
    ['if with spaces inside', 'if ( $a ) { }', [['if', ['$a'], []]]],
    ['quote then )', 'a "b")c;', [['a', ['b', ')c']]]],
    ['unicode', 'add_header X "é✓😀";', [['add_header', ['X', 'é✓😀']]]],
    [
      'Lua block body kept whole',
      'content_by_lua_block { ngx.say("}") -- }\n local t = {1} }',
      [['content_by_lua_block', [' ngx.say("}") -- }\n local t = {1} ']]],
    ],
    [
      'set_by_lua_block keeps its variable',
      'set_by_lua_block $v { return [[ { ]] }',
      [['set_by_lua_block', ['$v', ' return [[ { ]] ']]],
    ],
  ];
  it.each(rows)('%s', (_name, text, expected) => {
    expect(words(parseText(text))).toEqual(expected);
  });

  it('gives each statement its line', () => {
    const parsed = parseText('a;\n\nb {\n  c "x\ny";\n  d;\n}\n');
    expect(parsed.map((s) => s.line)).toEqual([1, 3]);
    expect(parsed[1]!.block!.map((s) => s.line)).toEqual([4, 6]);
  });

  it('keeps comments as crossplane does when asked', () => {
    const parsed = parseText('# top\na b; # after\nc d # inside\n e;', { comments: true });
    expect(parsed).toEqual([
      { directive: '#', line: 1, args: [], comment: ' top' },
      { directive: 'a', line: 2, args: ['b'] },
      { directive: '#', line: 2, args: [], comment: ' after' },
      { directive: 'c', line: 3, args: ['d', 'e'] },
      { directive: '#', line: 3, args: [], comment: ' inside' },
    ]);
  });
});

describe('parseNginxConfig: errors carry the file and line', () => {
  const rows: [string, string, number, RegExp][] = [
    ['missing ;', 'a b', 1, /unexpected end of file, expecting ";" or "}"/],
    ['missing } at the end', 'http {\n a;\n', 3, /unexpected end of file, expecting "}"/],
    ['extra }', 'a;\n}\n', 2, /unexpected "}"/],
    ['} after arguments', 'a b }', 1, /unexpected "}"/],
    ['; alone', 'a;\n;', 2, /unexpected ";"/],
    ['{ alone', '{ }', 1, /unexpected "\{"/],
    ['text after a quote', 'a "b"c;', 1, /unexpected "c"/],
    ['# right after a quote', 'a "b"# c\n;', 1, /unexpected "#"/],
    ['open quote', 'a "b;\n\n', 3, /unexpected end of file/],
    ['include without a file', 'include;', 1, /invalid number of arguments in "include"/],
    ['include with a block', 'include a {}', 1, /not terminated by ";"/],
    ['word of 4 KiB', `a ${'x'.repeat(4096)};`, 1, /too long parameter/],
    ['open Lua block', 'content_by_lua_block { if x then', 1, /Lua block/],
  ];
  it.each(rows)('%s', (_name, text, line, message) => {
    let error: unknown;
    try {
      parseText(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitParseError);
    const e = error as FpmkitParseError;
    expect(e.source).toBe('/etc/nginx/nginx.conf');
    expect(e.line).toBe(line);
    expect(e.reason).toMatch(message);
  });

  it('accepts a word just under 4 KiB', () => {
    expect(parseText(`a ${'x'.repeat(4000)};`)[0]!.args[0]).toHaveLength(4000);
  });

  it('records errors in the payload with catchErrors, per file', () => {
    const fs = memoryFs({ '/c/main.conf': 'include a.conf;\nok;', '/c/a.conf': 'x {\n' });
    const payload = parseNginxConfig({ path: '/c/main.conf' }, { ...fs, catchErrors: true });
    expect(payload.status).toBe('failed');
    expect(payload.errors).toEqual([
      { file: '/c/a.conf', line: 2, error: 'unexpected end of file, expecting "}"' },
    ]);
    expect(payload.config[0]!.status).toBe('ok');
    expect(payload.config[1]!.status).toBe('failed');
  });
});

describe('parseNginxConfig: include', () => {
  it('resolves relative patterns from the main file directory, globs in byte order', () => {
    const fs = memoryFs({
      '/c/nginx.conf': 'http {\n include sites/*.conf;\n include /c/extra;\n}',
      '/c/sites/b.conf': 'server { listen 2; }',
      '/c/sites/a.conf': 'server { listen 1; include snip; }',
      '/c/sites/B.conf': 'server { listen 0; }',
      '/c/sites/.hidden.conf': 'server { listen 9; }',
      '/c/sites/sub/c.conf': 'server { listen 9; }',
      '/c/snip': 'root /x;',
      '/c/extra': 'y;',
    });
    const payload = parseNginxConfig({ path: '/c/nginx.conf' }, fs);
    expect(payload.config.map((c) => c.file)).toEqual([
      '/c/nginx.conf',
      '/c/sites/B.conf',
      '/c/sites/a.conf',
      '/c/sites/b.conf',
      '/c/extra',
      '/c/snip',
    ]);
    expect(payload.config[0]!.parsed[0]!.block![0]!.includes).toEqual([1, 2, 3]);
    expect(payload.config[0]!.parsed[0]!.block![1]!.includes).toEqual([4]);
    const combined = combineNginxConfig(payload).config[0]!.parsed;
    expect(words(combined)).toEqual([
      [
        'http',
        [],
        [
          ['server', [], [['listen', ['0']]]],
          [
            'server',
            [],
            [
              ['listen', ['1']],
              ['root', ['/x']],
            ],
          ],
          ['server', [], [['listen', ['2']]]],
          ['y', []],
        ],
      ],
    ]);
    expect(combined[0]!.block![1]!.block![1]!.file).toBe('/c/snip');
  });

  it('lets a glob match nothing but not a plain name', () => {
    const fs = memoryFs({ '/c/nginx.conf': 'include none/*.conf;\ninclude missing.conf;' });
    const error = (() => {
      try {
        parseNginxConfig({ path: '/c/nginx.conf' }, fs);
      } catch (e) {
        return e as FpmkitParseError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect(error!.line).toBe(2);
    expect(error!.message).toContain('open() "/c/missing.conf" failed');
  });

  it('reads a file included twice once, and refuses an include cycle when combining', () => {
    const fs = memoryFs({
      '/c/nginx.conf': 'include a;\ninclude a;',
      '/c/a': 'include b;',
      '/c/b': 'include a;',
    });
    const payload = parseNginxConfig({ path: '/c/nginx.conf' }, fs);
    expect(payload.config).toHaveLength(3);
    expect(() => combineNginxConfig(payload)).toThrow(FpmkitParseError);
  });

  it('takes a plain string as a path when readFile is given, as text otherwise', () => {
    const fs = memoryFs({ '/c/nginx.conf': 'a 1;' });
    expect(words(parseNginxConfig('/c/nginx.conf', fs).config[0]!.parsed)).toEqual([['a', ['1']]]);
    expect(parseNginxConfig('/c/nginx.conf', fs).config[0]!.file).toBe('/c/nginx.conf');
    expect(words(parseNginxConfig('b 2;').config[0]!.parsed)).toEqual([['b', ['2']]]);
    expect(words(parseNginxConfig('b 2;', fs).config[0]!.parsed)).toEqual([['b', ['2']]]);
  });

  it('does not follow include without readFile, and needs glob for a pattern', () => {
    expect(parseText('include x/*.conf;')[0]!.includes).toBeUndefined();
    expect(() =>
      parseNginxConfig({ text: 'include x/*;', path: '/c/n' }, { readFile: () => '' }),
    ).toThrow(FpmkitInvalidOptionError);
  });

  it('refuses more files than maxFiles', () => {
    const files: Record<string, string> = { '/c/nginx.conf': 'include d/*;' };
    for (let i = 0; i < 5; i++) files[`/c/d/${i}`] = 'a;';
    expect(() =>
      parseNginxConfig({ path: '/c/nginx.conf' }, { ...memoryFs(files), maxFiles: 3 }),
    ).toThrow(/more than 3 configuration files/);
  });

  it('reads Debian stock configuration', () => {
    const payload = parseNginxConfig({ path: '/etc/nginx/nginx.conf' }, fixtureFs);
    expect(payload.status).toBe('ok');
    expect(payload.config.map((c) => c.file)).toEqual([
      '/etc/nginx/nginx.conf',
      '/etc/nginx/mime.types',
      '/etc/nginx/sites-enabled/default',
    ]);
    const http = payload.config[0]!.parsed.find((s) => s.directive === 'http')!;
    expect(http.block!.find((s) => s.directive === 'ssl_protocols')!.args).toEqual([
      'TLSv1',
      'TLSv1.1',
      'TLSv1.2',
      'TLSv1.3',
    ]);
    const server = payload.config[2]!.parsed[0]!;
    expect(server.directive).toBe('server');
    expect(server.line).toBe(21);
    expect(server.block!.find((s) => s.directive === 'location')!.args).toEqual(['/']);
    const snippet = parseNginxConfig(
      { path: '/etc/nginx/snippets/fastcgi-php.conf' },
      {
        ...fixtureFs,
        prefix: '/etc/nginx',
      },
    );
    expect(snippet.config.map((c) => c.file)).toEqual([
      '/etc/nginx/snippets/fastcgi-php.conf',
      '/etc/nginx/fastcgi.conf',
    ]);
    expect(snippet.config[0]!.parsed[0]).toEqual({
      directive: 'fastcgi_split_path_info',
      line: 2,
      args: ['^(.+?\\.php)(/.*)$'],
    });
  });
});

describe('parseNginxDump: the output of nginx -T', () => {
  const dump = [
    'nginx: the configuration file /c/nginx.conf syntax is ok',
    '# configuration file /c/nginx.conf:',
    'http {',
    '    include conf.d/*.conf;',
    '}',
    '',
    '# configuration file /c/conf.d/a.conf:',
    'server {',
    '# configuration file /c/forged.conf:',
    '    listen 8080;',
    '}',
    '',
    '',
  ].join('\n');

  it('splits the files, resolves includes against them and keeps each file its lines', () => {
    const payload = parseNginxDump(dump);
    expect(payload.config.map((c) => c.file)).toEqual(['/c/nginx.conf', '/c/conf.d/a.conf']);
    expect(payload.config[0]!.parsed[0]!.block![0]!.includes).toEqual([1]);
    const server = payload.config[1]!.parsed[0]!;
    expect(words([server])).toEqual([['server', [], [['listen', ['8080']]]]]);
    expect(server.block![0]!.line).toBe(3);
  });

  it('refuses text that is not a dump, and names dumped twice', () => {
    expect(() => parseNginxDump('http {}')).toThrow(FpmkitParseError);
    const twice =
      '# configuration file /c/n:\ninclude a;\n\n# configuration file /c/a:\nx;\n\n# configuration file /c/a:\ny;\n';
    expect(() => parseNginxDump(twice)).toThrow(/dumped twice/);
  });
});

describe('buildNginxConfig', () => {
  it('writes statements back, quoting only when needed', () => {
    const text =
      'user www-data;\nhttp {\n  add_header X "a b";\n  location ~ \\.php$ { if ($a = "") { return 404; } }\n  content_by_lua_block { ngx.say("}") }\n}\n';
    const parsed = parseText(text);
    const built = buildNginxConfig(parsed);
    expect(built).toBe(
      'user www-data;\nhttp {\n    add_header X "a b";\n    location ~ \\.php$ {\n        if ($a = "") {\n            return 404;\n        }\n    }\n    content_by_lua_block { ngx.say("}") }\n}\n',
    );
    expect(words(parseText(built))).toEqual(words(parsed));
  });

  it('keeps comments on their lines', () => {
    const text = '# head\nevents { # inline\n    worker_connections 8; # after\n}\n';
    expect(buildNginxConfig(parseText(text, { comments: true }))).toBe(
      '# head\nevents { # inline\n    worker_connections 8; # after\n}\n',
    );
  });

  it('builds each file, or the whole payload combined', () => {
    const fs = memoryFs({ '/c/nginx.conf': 'http { include a; }', '/c/a': 'server { }' });
    const payload = parseNginxConfig({ path: '/c/nginx.conf' }, fs);
    expect(buildNginxConfigFiles(payload)).toEqual([
      { file: '/c/nginx.conf', text: 'http {\n    include a;\n}\n' },
      { file: '/c/a', text: 'server {\n}\n' },
    ]);
    expect(buildNginxConfig(payload)).toBe('http {\n    server {\n    }\n}\n');
  });

  it('refuses statements that would not read back (injection through a payload)', () => {
    const bad: [string, unknown][] = [
      [
        'comment with a newline',
        [{ directive: '#', line: 1, args: [], comment: ' x\ninclude /etc/shadow;' }],
      ],
      [
        'unbalanced Lua body',
        [{ directive: 'content_by_lua_block', line: 1, args: ['} user root; {'] }],
      ],
      ['args not strings', [{ directive: 'a', line: 1, args: [1] }]],
      ['not statements', [null]],
    ];
    for (const [, stmts] of bad) {
      expect(() => buildNginxConfig(stmts as NginxDirective[])).toThrow(FpmkitInvalidOptionError);
    }
  });

  it('quotes an argument so that nginx reads back exactly the value (property)', () => {
    const chars = fc.constantFrom(...'ab$ {};#"\'\\\t\n\r()x'.split(''), 'é', '😀');
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: chars, maxLength: 12 }), { maxLength: 4 }),
        fc.string({ unit: chars, minLength: 0, maxLength: 8 }),
        (args, name) => {
          const stmt: NginxDirective = {
            directive:
              name === '' || name === '#' || name === 'include' || name.endsWith('_by_lua_block')
                ? 'x'
                : name,
            line: 1,
            args,
          };
          const built = buildNginxConfig([stmt]);
          const back = parseText(built)[0]!;
          if (stmt.directive === 'if') return true;
          expect([back.directive, back.args]).toEqual([stmt.directive, stmt.args]);
          return true;
        },
      ),
      { numRuns: 2000 },
    );
    expect(quoteNginxArg('\\.php$')).toBe('\\.php$');
    expect(quoteNginxArg('a b')).toBe('"a b"');
    expect(quoteNginxArg('${x}')).toBe('${x}');
  });

  it('reads its own output of if statements back (property)', () => {
    const operand = fc.oneof(
      fc.constantFrom('$a', '=', '!=', '~', '""', '(', ')', 'x y', ''),
      fc.string({ maxLength: 5 }),
    );
    fc.assert(
      fc.property(fc.array(operand, { maxLength: 4 }), (args) => {
        let built: string;
        try {
          built = buildNginxConfig([{ directive: 'if', line: 1, args, block: [] }]);
        } catch (e) {
          expect(e).toBeInstanceOf(FpmkitInvalidOptionError);
          return true;
        }
        expect(parseText(built)[0]!.args).toEqual(args);
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parser and builder on hostile input', () => {
  const alphabet = fc.constantFrom(
    ...'abcdefghijklm $#{};"\'\\\n\r\t()_=~*'.split(''),
    'include ',
    'if (',
    'content_by_lua_block {',
    'set_by_lua_block $x {',
    '--[[',
    ']]',
    '${',
    '\u0000',
    'é',
  );

  it('returns a payload or throws FpmkitParseError for 10,000 inputs, and builds what it parsed', () => {
    let parsed = 0;
    let refused = 0;
    const fs = memoryFs({ '/c/a': 'x;', '/c/b.conf': 'y { z; }' });
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')),
        (text) => {
          let payload: NginxConfigPayload;
          try {
            payload = parseNginxConfig({ text, path: '/c/nginx.conf' }, { ...fs, comments: true });
          } catch (error) {
            if (!(error instanceof FpmkitParseError)) throw error;
            expect(error.source).toBeDefined();
            expect(error.line).toBeGreaterThanOrEqual(1);
            refused++;
            return true;
          }
          parsed++;
          for (const file of buildNginxConfigFiles(payload)) {
            const again = parseNginxConfig(
              { text: file.text, path: '/c/nginx.conf' },
              { comments: true },
            );
            const original = payload.config.find((c) => c.file === file.file)!;
            expect(words(again.config[0]!.parsed)).toEqual(words(original.parsed));
          }
          return true;
        },
      ),
      { numRuns: 10_000 },
    );
    expect(parsed).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  }, 120_000);

  it('reads 10,000 fuzzed nginx -T outputs into a payload or an FpmkitParseError', () => {
    const piece = fc.constantFrom(
      '# configuration file /c/nginx.conf:\n',
      '# configuration file /c/a.conf:\n',
      '# configuration file /c/d/b.conf:\n',
      'nginx: the configuration file /c/nginx.conf syntax is ok\n',
      'include a.conf;\n',
      'include d/*.conf;\n',
      'http {\n',
      '}\n',
      'x "y;\n',
      '\n',
      'z;\n',
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 30 }).map((a) => a.join('')),
        (text) => {
          try {
            const payload = parseNginxDump(text, { comments: true });
            combineNginxConfig(payload);
          } catch (error) {
            if (!(error instanceof FpmkitParseError)) throw error;
          }
        },
      ),
      { numRuns: 10_000 },
    );
  }, 120_000);

  it('builds any JSON value given as a payload, or throws FpmkitInvalidOptionError', () => {
    const stmt = fc.letrec((tie) => ({
      stmt: fc.record(
        {
          directive: fc.oneof(
            fc.string(),
            fc.constantFrom('#', 'if', 'include', 'content_by_lua_block'),
            fc.integer(),
          ),
          line: fc.oneof(fc.nat(), fc.string()),
          args: fc.oneof(
            fc.array(fc.string(), { maxLength: 3 }),
            fc.constant(null),
            fc.array(fc.integer()),
          ),
          comment: fc.oneof(fc.string(), fc.constant(undefined)),
          block: fc.oneof(fc.constant(undefined), fc.array(tie('stmt'), { maxLength: 3 })),
        },
        { requiredKeys: [] },
      ),
    })).stmt;
    fc.assert(
      fc.property(fc.oneof(fc.array(stmt, { maxLength: 4 }), fc.anything()), (input) => {
        try {
          const text = buildNginxConfig(input as NginxDirective[]);
          parseText(text, { comments: true });
        } catch (error) {
          if (!(error instanceof FpmkitInvalidOptionError)) throw error;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses blocks nested without bound instead of overflowing the stack', () => {
    const text = `${'a {'.repeat(100_000)}${'}'.repeat(100_000)}`;
    expect(() => parseText(text)).toThrow(FpmkitParseError);
  });
});

describe('glob matching as glob(3)', () => {
  const rows: [string, string, boolean][] = [
    ['*.conf', 'a.conf', true],
    ['*.conf', '.a.conf', false],
    ['.*', '.a', true],
    ['?', 'é', true],
    ['[a-c]x', 'bx', true],
    ['[!a-c]x', 'bx', false],
    ['[]]', ']', true],
    ['[', '[', true],
    ['\\*', '*', true],
    ['\\*', 'a', false],
    ['a*b*c', 'aXbYbZc', true],
    ['a*b', 'ab/', false],
  ];
  it.each(rows)('%s ~ %s', (pattern, name, expected) => {
    expect(matchGlobComponent(pattern, name)).toBe(expected);
  });
});
