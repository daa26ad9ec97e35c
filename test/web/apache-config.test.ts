import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { workerTimeoutMs } from '../../src/web/apache-config-extract.js';
import { splitApacheWords } from '../../src/web/apache-config-parser.js';
import {
  type ApacheDirective,
  combineApacheConfig,
  extractApacheFpmSettings,
  parseApacheConfig,
  parseApacheCtlModules,
  parseApacheCtlVhosts,
  parseApacheEnvvars,
} from '../../src/web/index.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'apache', 'debian-stock');

function shape(stmts: readonly ApacheDirective[]): unknown[] {
  return stmts.map((s) =>
    s.block ? [s.directive, s.args, s.line, shape(s.block)] : [s.directive, s.args, s.line],
  );
}

/** An in-memory tree: files by path, directories implied. */
function memoryFs(files: Record<string, string>) {
  return {
    readFile: (path: string) => {
      const text = files[path];
      if (text === undefined)
        throw Object.assign(new Error('No such file or directory'), { code: 'ENOENT' });
      return text;
    },
    readDir: (path: string) => {
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const names = new Map<string, boolean>();
      for (const f of Object.keys(files)) {
        if (!f.startsWith(prefix)) continue;
        const rest = f.slice(prefix.length);
        const slash = rest.indexOf('/');
        names.set(slash === -1 ? rest : rest.slice(0, slash), slash !== -1);
      }
      return names.size === 0
        ? undefined
        : [...names].map(([name, isDirectory]) => ({ name, isDirectory }));
    },
  };
}

const parse = (text: string, options = {}) =>
  parseApacheConfig({ text, path: '/etc/apache2/apache2.conf' }, options).config[0]!.parsed;

describe('splitApacheWords: ap_getword_conf', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a \"b' c", ['a "b', 'c']],
    ['"a \\" b"', ['a " b']],
    ['"a \\\\ b"', ['a \\ b']],
    ['"a \\n b"', ['a \\n b']],
    ['a\\\\b', ['a\\b']],
    ['a"b c"', ['a"b', 'c"']],
    ['"open', ['open']],
    ['# not a comment here', ['#', 'not', 'a', 'comment', 'here']],
  ])('%j', (line, words) => {
    expect(splitApacheWords(line)).toEqual(words);
  });
});

describe('parseApacheConfig: lines as httpd reads them', () => {
  it('joins continued lines, numbers a statement by its last line, skips comments', () => {
    const text =
      '# comment \\\nSwallowed by the comment\nTimeout \\\n  30\n\n  ServerName  "a b"  \n';
    expect(shape(parse(text))).toEqual([
      ['Timeout', ['30'], 4],
      ['ServerName', ['a b'], 6],
    ]);
  });

  it('reads sections, their arguments up to the last > and closes them without case', () => {
    const text =
      '<VirtualHost *:80>\n  <If "-f %{REQUEST_FILENAME}">\n    SetHandler x\n  </if>\n  <Location>\n  </Location>\n</VIRTUALHOST>\n';
    expect(shape(parse(text))).toEqual([
      [
        '<VirtualHost',
        ['*:80'],
        1,
        [
          ['<If', ['-f %{REQUEST_FILENAME}'], 2, [['SetHandler', ['x'], 3]]],
          ['<Location', [], 5, []],
        ],
      ],
    ]);
  });

  it('replaces ${NAME} by a Define, then the environment, and keeps unknown names', () => {
    const text =
      'Define PORT 8080\nListen ${PORT}\nUser ${APACHE_RUN_USER}\nGroup ${NOPE}\nDefine TWO "a b"\nServerAlias ${TWO}\n';
    const stmts = parse(text, { env: { APACHE_RUN_USER: 'www-data' } });
    expect(stmts.map((s) => [s.directive, s.args])).toEqual([
      ['Define', ['PORT', '8080']],
      ['Listen', ['8080']],
      ['User', ['www-data']],
      ['Group', ['${NOPE}']],
      ['Define', ['TWO', 'a b']],
      ['ServerAlias', ['a', 'b']],
    ]);
  });

  it('skips a false <IfModule>/<IfDefine> unread, and opens a true one', () => {
    const text = [
      'LoadModule proxy_module x.so',
      '<IfModule mod_proxy.c>',
      '  ProxyTimeout 5',
      '</IfModule>',
      '<IfModule !proxy_module>',
      '  this is { not parsed "',
      '  <Anything>',
      '  </Anything>',
      '</IfModule>',
      '<IfDefine !FOO>',
      '  Timeout 7',
      '</IfDefine>',
      '<IfModule version_module>',
      '  KeepAlive On',
      '</IfModule>',
    ].join('\n');
    const payload = parseApacheConfig({ text, path: '/x' });
    expect(payload.config[0]!.parsed.map((s) => [s.directive, s.skipped ?? false])).toEqual([
      ['LoadModule', false],
      ['<IfModule', false],
      ['<IfModule', true],
      ['<IfDefine', false],
      ['<IfModule', false],
    ]);
    expect(combineApacheConfig(payload).map((s) => s.directive)).toEqual([
      'LoadModule',
      'ProxyTimeout',
      'Timeout',
      'KeepAlive',
    ]);
  });
});

describe('parseApacheConfig: errors carry the file and line httpd names', () => {
  const rows: [string, string, number, RegExp][] = [
    ['unclosed section', 'a\n<VirtualHost *:80>\n<Location /x>\n', 3, /<Location> was not closed/],
    ['stray close', 'a\n</Files>', 2, /<\/Files> without matching <Files> section/],
    ['mismatched close', '<Location /x>\n</Files>', 2, /Expected <\/Location> but saw <\/Files>/],
    ['missing >', 'x\n<Location /x\n</Location>', 2, /<Location> directive missing closing '>'/],
    ['false section never closed', '<IfModule nope>\nx\n', 2, /Expected <\/IfModule> before end/],
  ];
  it.each(rows)('%s', (_name, text, line, message) => {
    let error: FpmkitParseError | undefined;
    try {
      parse(text);
    } catch (e) {
      error = e as FpmkitParseError;
    }
    expect(error).toBeInstanceOf(FpmkitParseError);
    expect([error!.source, error!.line]).toEqual(['/etc/apache2/apache2.conf', line]);
    expect(error!.reason).toMatch(message);
  });
});

describe('parseApacheConfig: Include', () => {
  const files = {
    '/etc/apache2/apache2.conf':
      'Include conf.d/*.conf\nIncludeOptional none/*.conf\nIncludeOptional missing.conf\nInclude dir\n<VirtualHost *:80>\nInclude /etc/apache2/v*/*.conf\n</VirtualHost>\n',
    '/etc/apache2/conf.d/b.conf': 'B 1',
    '/etc/apache2/conf.d/A.conf': 'A 1',
    '/etc/apache2/conf.d/.hidden.conf': 'Hidden 1',
    '/etc/apache2/conf.d/c.txt': 'C 1',
    '/etc/apache2/dir/z': 'Z 1',
    '/etc/apache2/dir/.dot': 'Dot 1',
    '/etc/apache2/dir/sub/y': 'Y 1',
    '/etc/apache2/v1/x.conf': 'X 1',
    '/etc/apache2/v2/x.conf': 'X 2',
  };

  it('reads files in httpd order: wildcards sorted, directories recursively (dot files too)', () => {
    const payload = parseApacheConfig({ path: '/etc/apache2/apache2.conf' }, memoryFs(files));
    expect(payload.config.map((c) => c.file)).toEqual([
      '/etc/apache2/apache2.conf',
      '/etc/apache2/conf.d/A.conf',
      '/etc/apache2/conf.d/b.conf',
      '/etc/apache2/dir/.dot',
      '/etc/apache2/dir/sub/y',
      '/etc/apache2/dir/z',
      '/etc/apache2/v1/x.conf',
      '/etc/apache2/v2/x.conf',
    ]);
    const combined = combineApacheConfig(payload);
    expect(combined.at(-1)!.block!.map((s) => [s.directive, s.args, s.file])).toEqual([
      ['X', ['1'], '/etc/apache2/v1/x.conf'],
      ['X', ['2'], '/etc/apache2/v2/x.conf'],
    ]);
  });

  it('refuses a wildcard that matches nothing and a missing file, at the Include line', () => {
    for (const text of ['a\nInclude none/*.conf', 'a\nInclude missing.conf']) {
      let error: FpmkitParseError | undefined;
      try {
        parseApacheConfig({ text, path: '/etc/apache2/apache2.conf' }, memoryFs(files));
      } catch (e) {
        error = e as FpmkitParseError;
      }
      expect(error).toBeInstanceOf(FpmkitParseError);
      expect(error!.line).toBe(2);
    }
  });

  it('stops an include loop at httpd nesting limit', () => {
    const loop = { '/etc/apache2/apache2.conf': 'Include apache2.conf' };
    expect(() => parseApacheConfig({ path: '/etc/apache2/apache2.conf' }, memoryFs(loop))).toThrow(
      /maximum include directory nesting level/,
    );
  });
});

describe("Debian's stock Apache configuration", () => {
  const env = parseApacheEnvvars(readFileSync(join(FIXTURE, 'envvars'), 'utf8'));
  const fs = {
    readFile: (p: string) => readFileSync(p),
    readDir: (p: string) => {
      try {
        if (!statSync(p).isDirectory()) return undefined;
        return readdirSync(p).map((name) => ({
          name,
          isDirectory: statSync(join(p, name)).isDirectory(),
        }));
      } catch {
        return undefined;
      }
    },
  };

  it('reads envvars as apache2ctl exports them', () => {
    expect(env).toMatchObject({
      APACHE_RUN_USER: 'www-data',
      APACHE_RUN_GROUP: 'www-data',
      APACHE_PID_FILE: '/var/run/apache2/apache2.pid',
      APACHE_LOG_DIR: '/var/log/apache2',
    });
  });

  it('parses apache2.conf with its includes and extracts User, Group, Timeout and the MPM', () => {
    const payload = parseApacheConfig(
      { path: join(FIXTURE, 'apache2.conf') },
      { ...fs, env, serverRoot: FIXTURE },
    );
    expect(payload.status).toBe('ok');
    expect(payload.config.map((c) => c.file.slice(FIXTURE.length + 1))).toContain(
      'mods-enabled/mpm_event.conf',
    );
    expect(payload.modules).toContain('mpm_event_module');
    const s = extractApacheFpmSettings(payload);
    expect(s.user?.value).toBe('www-data');
    expect(s.group?.value).toBe('www-data');
    expect(s.timeoutSeconds).toMatchObject({ value: 300 });
    expect(s.mpm.name).toBe('event');
    expect(Object.fromEntries(Object.entries(s.mpm.limits).map(([k, v]) => [k, v.value]))).toEqual({
      StartServers: 2,
      MinSpareThreads: 25,
      MaxSpareThreads: 75,
      ThreadLimit: 64,
      ThreadsPerChild: 25,
      MaxRequestWorkers: 150,
      MaxConnectionsPerChild: 0,
    });
    expect(
      s.virtualHosts.map((v) => [
        v.addresses,
        v.source.file.slice(FIXTURE.length + 1),
        v.source.line,
      ]),
    ).toEqual([[['*:80'], 'sites-enabled/000-default.conf', 1]]);
    expect(s.handlers).toEqual([]);
  });
});

describe('extractApacheFpmSettings', () => {
  const text = `LoadModule mpm_event_module m.so
User www-data
Timeout 90
ProxyTimeout 45
<Proxy "unix:/run/php/www.sock|fcgi://www">
    ProxySet timeout=120 connectiontimeout=500ms enablereuse=on max=10 flushpackets=on
</Proxy>
ServerLimit 4
ThreadsPerChild 25
MaxRequestWorkers 100
<VirtualHost *:80>
    ServerName app.test
    Timeout 30
    <FilesMatch "\\.php$">
        <If "-f %{REQUEST_FILENAME}">
            SetHandler "proxy:unix:/run/php/www.sock|fcgi://www"
        </If>
    </FilesMatch>
    ProxyPassMatch "^/api/(.*\\.php)$" "fcgi://127.0.0.1:9000/srv/api/$1" timeout=7
    ProxyPass /legacy/ fcgi://[::1]:9001/srv/legacy/
</VirtualHost>
`;
  const s = extractApacheFpmSettings(parseApacheConfig({ text, path: '/a.conf' }));

  it('finds each handler with its worker, its timeout and where they are set', () => {
    expect(
      s.handlers.map((h) => [
        h.kind,
        h.backend,
        h.timeoutMs.value,
        h.timeoutMs.by,
        h.timeoutMs.source?.line,
      ]),
    ).toEqual([
      ['SetHandler', { socketPath: '/run/php/www.sock' }, 120_000, 'worker', 6],
      ['ProxyPassMatch', { host: '127.0.0.1', port: 9000 }, 7000, 'worker', 19],
      ['ProxyPass', { host: '::1', port: 9001 }, 45_000, 'ProxyTimeout', 4],
    ]);
    expect(s.handlers[0]!.contexts.map((c) => c.kind)).toEqual(['VirtualHost', 'FilesMatch', 'If']);
    expect(s.virtualHosts[0]).toMatchObject({
      serverName: 'app.test',
      timeoutSeconds: { value: 30 },
    });
  });

  it("fills fpmkit's Apache model", () => {
    expect(s.handlers[0]!.model).toEqual({
      backend: { socketPath: '/run/php/www.sock' },
      workerName: 'www',
      filesMatch: '\\.php$',
      requireExistingFile: true,
      proxySetTimeoutSeconds: 120,
      connectionTimeoutSeconds: 1,
      flushPackets: 'on',
      enableReuse: true,
      maxConnections: 10,
      proxyTimeoutSeconds: 45,
      timeoutSeconds: 30,
      mpmEvent: { serverLimit: 4, threadsPerChild: 25, maxRequestWorkers: 100 },
    });
  });

  it('reads worker timeouts as httpd 2.4 does: whole seconds', () => {
    expect(workerTimeoutMs('2')).toBe(2000);
    expect(workerTimeoutMs('1500ms')).toBe(1_500_000);
    expect(workerTimeoutMs('0')).toBeUndefined();
  });
});

describe('apache2ctl output', () => {
  it('reads -M', () => {
    const text =
      'AH00558: apache2: Could not reliably determine ...\nLoaded Modules:\n core_module (static)\n mpm_event_module (shared)\n proxy_fcgi_module (shared)\n';
    expect(parseApacheCtlModules(text)).toEqual([
      { name: 'core_module', kind: 'static' },
      { name: 'mpm_event_module', kind: 'shared' },
      { name: 'proxy_fcgi_module', kind: 'shared' },
    ]);
    expect(() => parseApacheCtlModules('nothing')).toThrow(FpmkitParseError);
  });

  it('reads -S, single and name-based hosts', () => {
    const text = `VirtualHost configuration:
127.0.0.1:8081         localhost (/tmp/a.conf:18)
*:80                   is a NameVirtualHost
         default server a.test (/etc/apache2/sites-enabled/a.conf:1)
         port 80 namevhost a.test (/etc/apache2/sites-enabled/a.conf:1)
                 alias www.a.test
         port 80 namevhost b.test (/etc/apache2/sites-enabled/b.conf:3)
ServerRoot: "/etc/apache2"
Define: DUMP_VHOSTS
User: name="www-data" id=33
Group: name="www-data" id=33
`;
    expect(parseApacheCtlVhosts(text)).toEqual({
      virtualHosts: [
        {
          address: '127.0.0.1:8081',
          name: 'localhost',
          file: '/tmp/a.conf',
          line: 18,
          default: true,
        },
        {
          address: '*:80',
          name: 'a.test',
          file: '/etc/apache2/sites-enabled/a.conf',
          line: 1,
          default: true,
        },
        {
          address: '*:80',
          name: 'b.test',
          file: '/etc/apache2/sites-enabled/b.conf',
          line: 3,
          default: false,
        },
      ],
      serverRoot: '/etc/apache2',
      user: { name: 'www-data', id: 33 },
      group: { name: 'www-data', id: 33 },
      defines: ['DUMP_VHOSTS'],
    });
  });
});

describe('parseApacheConfig on hostile input', () => {
  it('returns a payload or throws FpmkitParseError for 10,000 inputs', () => {
    const piece = fc.constantFrom(
      ...'ab <>/"\'\\\n\t#$'.split(''),
      '<VirtualHost *:80>',
      '</VirtualHost>',
      '<IfModule nope>',
      '</IfModule>',
      '<IfDefine X>',
      'Define X 1\n',
      '${X}',
      'Include a*.conf\n',
      'IncludeOptional b/\n',
      '\\\n',
      'SetHandler "proxy:unix:/s|fcgi://x"\n',
    );
    const fs = memoryFs({ '/c/a1.conf': 'Timeout 3\n', '/c/b/x': '<Location />\n</Location>\n' });
    let ok = 0;
    let refused = 0;
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 40 }).map((a) => a.join('')),
        (text) => {
          try {
            const payload = parseApacheConfig(
              { text, path: '/c/httpd.conf' },
              { ...fs, serverRoot: '/c' },
            );
            extractApacheFpmSettings(payload);
            ok++;
          } catch (error) {
            if (!(error instanceof FpmkitParseError)) throw error;
            expect(error.line).toBeGreaterThanOrEqual(1);
            refused++;
          }
        },
      ),
      { numRuns: 10_000 },
    );
    expect(ok).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
  }, 120_000);
});
