import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { readApacheConfigFile } from '../../src/host/web-config.js';
import { splitApacheWords } from '../../src/web/apache-config-parser.js';
import {
  type ApacheDirective,
  combineApacheConfig,
  extractApacheFpmSettings,
  parseApacheEnvvars,
} from '../../src/web/index.js';
import { isRoot, phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { type Daemon, freePort, run, startDaemon, waitForSockets } from '../support/process.js';
import { Rng } from './nginx-config-gen.js';
import { apacheBinary, apacheModulesDir } from './servers.js';

const apacheReq = apacheBinary();
const fpmReq = phpFpmBinary();
const modules = apacheModulesDir();
const available = apacheReq.available && modules !== undefined;
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'apache', 'debian-stock');
const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/** Directives httpd runs while reading, which mod_info's dump leaves out. */
const EXEC_ON_READ = new Set([
  'defaultruntimedir',
  'loadmodule',
  'loadfile',
  'define',
  'undefine',
  'serverroot',
  'include',
  'includeoptional',
]);

function loadModules(names: readonly string[]): string {
  return names.map((n) => `LoadModule ${n}_module ${join(modules!, `mod_${n}.so`)}`).join('\n');
}

/** `apache2` with a private ServerRoot; the exit code and everything it printed. */
async function apache(dir: string, args: readonly string[]) {
  const r = await run(apacheReq.path!, [...args, '-d', dir, '-f', join(dir, 'httpd.conf')], {
    cwd: dir,
    env,
  });
  return { ok: r.exitCode === 0, output: r.output, stdout: r.stdout };
}

/**
 * What mod_headers makes of a `Header set` value after httpd has split the line
 * (modules/metadata/mod_headers.c, `parse_misc_string`): `\\\\` is one backslash, `\\r`, `\\n`,
 * `\\t` are control characters, any other backslash stays.
 */
function modHeadersValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const next = value[i + 1];
    if (ch !== '\\') out += ch;
    else if (next === '\\') {
      out += '\\';
      i++;
    } else if (next === 'r' || next === 'n' || next === 't') {
      out += next === 'r' ? '\r' : next === 'n' ? '\n' : '\t';
      i++;
    } else out += '\\';
  }
  return out;
}

/** mod_info's `-D DUMP_CONFIG`: each directive with its file and line. */
function parseInfoDump(text: string): [string, number, string, string[]][] {
  const out: [string, number, string, string[]][] = [];
  let file = '';
  let line = 0;
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    const inFile = /^# In file: (.*)$/.exec(l);
    if (inFile) {
      file = inFile[1]!;
      continue;
    }
    const at = /^#\s+(\d+):$/.exec(l);
    if (at) {
      line = Number(at[1]);
      continue;
    }
    if (l === '' || l.startsWith('</') || l === 'Syntax OK') continue;
    const name = /^\S+/.exec(l)![0];
    let rest = l.slice(name.length);
    if (name.startsWith('<')) rest = rest.slice(0, rest.lastIndexOf('>'));
    out.push([file, line, name.replace(/>$/, ''), splitApacheWords(rest)]);
  }
  return out;
}

function flatten(stmts: readonly ApacheDirective[]): [string, number, string, string[]][] {
  const out: [string, number, string, string[]][] = [];
  for (const s of stmts) {
    if (EXEC_ON_READ.has(s.directive.toLowerCase())) continue;
    out.push([s.file!, s.line, s.directive, s.args]);
    if (s.block) out.push(...flatten(s.block));
  }
  return out;
}

/** A value written between double quotes or bare, the way httpd's ap_getword_conf reads it. */
function spell(rng: Rng, value: string): string {
  if (/^[A-Za-z0-9_./-]+$/.test(value) && rng.chance(0.5)) return value;
  const quote = rng.pick(['"', "'"]);
  return quote + value.replace(/\\/g, '\\\\').replaceAll(quote, `\\${quote}`) + quote;
}

function randomText(rng: Rng): string {
  let out = '';
  const n = rng.int(1, 6);
  for (let i = 0; i < n; i++)
    out += rng.pick([
      'a',
      'Z',
      '0',
      ' ',
      '#',
      "'",
      '"',
      '\\',
      '<',
      '>',
      '/',
      'é',
      '${V1}',
      '${NOPE}',
      ';',
    ]);
  return out.trim() === '' ? 'x' : out;
}

/** A statement, sometimes split over lines with a trailing backslash. */
function line(rng: Rng, indent: string, words: string[]): string {
  return (
    indent + words.map((w, i) => (i > 0 && rng.chance(0.1) ? `\\\n${indent}    ${w}` : w)).join(' ')
  );
}

/**
 * A configuration tree under `dir`: httpd.conf with Defines, conditional sections (true and
 * false, the false ones holding text httpd never parses), and Include/IncludeOptional of
 * globs, a directory and a missing optional pattern; virtual hosts with sections, quoted
 * values, comments (one ending in a backslash, which swallows the next line) and continuations.
 */
function generateApacheTree(seed: number, dir: string, port: number): Record<string, string> {
  const rng = new Rng(seed);
  const files: Record<string, string> = {};
  let k = 0;
  const headers = (indent: string) => {
    const out: string[] = [];
    for (let i = rng.int(0, 3); i > 0; i--) {
      out.push(line(rng, indent, ['Header', 'set', `X-${k++}`, spell(rng, randomText(rng))]));
      if (rng.chance(0.15))
        out.push(
          `${indent}# a comment${rng.chance(0.3) ? ` \\\n${indent}Header set X-swallowed "by the comment"` : ''}`,
        );
    }
    return out;
  };
  const vhost = () => {
    const body = [
      line(rng, '    ', ['ServerName', `v${k++}.test`]),
      line(rng, '    ', ['ServerAlias', spell(rng, `a${k++}.test`), spell(rng, `b ${k}`)]),
      ...headers('    '),
    ];
    for (let i = rng.int(0, 2); i > 0; i--) {
      const section = rng.pick(['Location', 'LocationMatch', 'FilesMatch', 'Directory']);
      const arg =
        section === 'Directory'
          ? `${dir}/d${k++}`
          : section === 'Location'
            ? `/l ${k++}`
            : `\\.x${k++}$`;
      body.push(
        `    <${section} ${spell(rng, arg)}>`,
        ...headers('        '),
        `    </${rng.chance(0.2) ? section.toLowerCase() : section}>`,
      );
    }
    if (rng.chance(0.3))
      body.push(
        '    <IfModule nope_module>',
        '        this is not parsed {',
        '        <Nested>',
        '        </Nested>',
        '    </IfModule>',
      );
    if (rng.chance(0.3))
      body.push('    <IfModule headers_module>', ...headers('        '), '    </IfModule>');
    return [`<VirtualHost 127.0.0.1:${port}>`, ...body, '</VirtualHost>', ''].join('\n');
  };
  const confd = ['a.conf', 'B.conf', '_c.conf', '.hidden.conf', 'z.txt'];
  for (const name of confd) {
    if (rng.chance(0.5) || name === 'a.conf' || name.startsWith('.')) {
      files[`conf.d/${name}`] = name.startsWith('.') ? 'Invalid syntax <here\n' : vhost();
    }
  }
  files['sites/one.conf'] = vhost();
  if (rng.chance(0.5)) files['sites/sub/two.conf'] = vhost();
  const main = [
    `ServerRoot ${spell(rng, dir)}`,
    loadModules(['mpm_event', 'authz_core', 'info', 'headers', 'proxy', 'proxy_fcgi']),
    `PidFile ${dir}/httpd.pid`,
    `ErrorLog ${dir}/error.log`,
    `Listen 127.0.0.1:${port}`,
    'ServerName localhost',
    `Define V1 ${spell(rng, `v${randomText(rng).replace(/[$\\"'{}]/g, '')}`)}`,
    ...(rng.chance(0.5) ? ['Define FLAG'] : []),
    '<IfDefine FLAG>',
    line(rng, '', ['Header', 'set', 'X-Flag', spell(rng, randomText(rng))]),
    '</IfDefine>',
    '<IfDefine !FLAG>',
    '    Timeout 33',
    '</IfDefine>',
    ...headers(''),
    `${rng.pick(['Include', 'IncludeOptional'])} ${spell(rng, rng.pick(['conf.d/*.conf', 'conf.d/[a-z_]*.conf', `${dir}/conf.d/*.conf`]))}`,
    `Include ${rng.pick(['sites', 'sites/', `${dir}/sites`])}`,
    'IncludeOptional nothere/*.conf',
    vhost(),
  ];
  files['httpd.conf'] = main.join('\n');
  return files;
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

describe.skipIf(!available)(
  `Apache configuration against the real apache2${apacheReq.reason}`,
  () => {
    it('reads each value as httpd does: Header set answers with the value fpmkit parsed (after mod_headers escapes)', async () => {
      const rng = new Rng(99);
      // Spellings with their own escapes: bare backslashes, a backslash before another character
      // than the quote, both quote characters.
      const spelled = [
        'a\\\\b',
        'a\\b',
        '"a\\b"',
        '"a\\\\b"',
        '"a\\"b"',
        "'a\\'b'",
        "'a\"b'",
        '"a\'b"',
        'a"b',
        '"#x"',
        '<a>',
        '"é ✓"',
        '"x \\\\"',
      ];
      while (spelled.length < 200) {
        const value = randomText(rng)
          .replace(/\$\{[A-Z0-9]+\}/g, 'v')
          .trim();
        spelled.push(spell(rng, value === '' ? 'x' : value));
      }
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apvalue-'));
      const port = await freePort();
      const headers = spelled.map((v, i) => `Header always set X-V${i} ${v}`).join('\n');
      const conf = [
        `ServerRoot "${dir}"`,
        loadModules(['mpm_event', 'authz_core', 'headers']),
        `PidFile "${dir}/httpd.pid"`,
        `ErrorLog "${dir}/error.log"`,
        ...(isRoot() ? ['User www-data', 'Group www-data'] : []),
        `Listen 127.0.0.1:${port}`,
        'ServerName localhost',
        headers,
        '',
      ].join('\n');
      await writeFile(join(dir, 'httpd.conf'), conf);
      const parsed = combineApacheConfig(
        readApacheConfigFile(join(dir, 'httpd.conf'), { serverRoot: dir }),
      )
        .filter((s) => s.directive === 'Header')
        .map((s) => s.args[3]);
      const server = startDaemon(
        apacheReq.path!,
        ['-d', dir, '-f', join(dir, 'httpd.conf'), '-DFOREGROUND'],
        {
          cwd: dir,
          env,
        },
      );
      try {
        await waitForSockets(
          [{ host: '127.0.0.1', port }],
          15_000,
          () => server.child.exitCode === null,
        );
        const raw = await new Promise<string[]>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
            res.resume();
            resolve(res.rawHeaders);
          });
          req.on('error', reject);
          req.end();
        });
        const got = new Map<string, string>();
        for (let i = 0; i < raw.length; i += 2) got.set(raw[i]!, raw[i + 1]!);
        for (const [i, value] of parsed.entries()) {
          // Node reads header bytes as latin1; the server sent UTF-8.
          const sent = Buffer.from(got.get(`X-V${i}`) ?? '', 'latin1').toString('utf8');
          expect([spelled[i], sent]).toEqual([spelled[i], modHeadersValue(value!)]);
        }
      } finally {
        await server.stop('SIGTERM', 10_000);
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("reads Debian's stock configuration directive for directive as httpd does", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apstock-'));
      try {
        await cp(FIXTURE, dir, { recursive: true });
        // envvars as apache2ctl exports it, with the run, lock and log directories moved here.
        const vars = {
          ...parseApacheEnvvars(await readFile(join(dir, 'envvars'), 'utf8')),
          APACHE_PID_FILE: join(dir, 'run', 'apache2.pid'),
          APACHE_RUN_DIR: join(dir, 'run'),
          APACHE_LOCK_DIR: join(dir, 'lock'),
          APACHE_LOG_DIR: join(dir, 'log'),
        };
        for (const d of ['run', 'lock', 'log']) await mkdir(join(dir, d));
        const info = `LoadModule info_module ${join(modules!, 'mod_info.so')}`;
        const args = ['-t', '-D', 'DUMP_CONFIG', '-D', 'DUMP_INCLUDES', '-C', info];
        const r = await run(
          apacheReq.path!,
          [...args, '-d', dir, '-f', join(dir, 'apache2.conf')],
          {
            cwd: dir,
            env: { ...env, ...vars },
          },
        );
        expect(r.exitCode, r.output).toBe(0);
        const payload = readApacheConfigFile(join(dir, 'apache2.conf'), {
          serverRoot: dir,
          env: vars,
        });
        const included = [...r.stdout.matchAll(/^\s+\((?:\*|\d+)\) (.*)$/gm)].map((m) => m[1]);
        expect(payload.config.map((c) => c.file)).toEqual(included);
        const ours = flatten(combineApacheConfig(payload));
        expect(ours).toEqual(parseInfoDump(r.stdout.slice(r.stdout.indexOf('# In file:'))));
        console.log(
          `Debian stock Apache: ${payload.config.length} files, ${ours.length} directives, equal to DUMP_CONFIG`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('reads 60 generated configurations directive for directive as httpd does (DUMP_CONFIG, DUMP_INCLUDES, -S)', async () => {
      let directives = 0;
      let vhosts = 0;
      for (let seed = 1; seed <= 60; seed++) {
        const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apgen-'));
        try {
          const port = 20_000 + seed;
          await writeTree(dir, generateApacheTree(seed, dir, port));
          const dump = await apache(dir, ['-t', '-D', 'DUMP_CONFIG', '-D', 'DUMP_INCLUDES']);
          expect(dump.ok, `seed ${seed}: ${dump.output}`).toBe(true);
          const payload = readApacheConfigFile(join(dir, 'httpd.conf'), { serverRoot: dir });
          // DUMP_INCLUDES: the files in the order httpd read them.
          const included = [...dump.stdout.matchAll(/^\s+\((?:\*|\d+)\) (.*)$/gm)].map((m) => m[1]);
          expect(
            payload.config.map((c) => c.file),
            `seed ${seed}`,
          ).toEqual(included);
          const theirs = parseInfoDump(dump.stdout.slice(dump.stdout.indexOf('# In file:')));
          const ours = flatten(combineApacheConfig(payload));
          expect(ours, `seed ${seed}`).toEqual(theirs);
          directives += ours.length;
          const s = await apache(dir, ['-S']);
          const theirVhosts = [...s.output.matchAll(/\((\/[^:]+):(\d+)\)/g)].map(
            (m) => `${m[1]}:${m[2]}`,
          );
          const ourVhosts = extractApacheFpmSettings(payload).virtualHosts.map(
            (v) => `${v.source.file}:${v.source.line}`,
          );
          expect(new Set(ourVhosts), `seed ${seed}: ${s.output}`).toEqual(new Set(theirVhosts));
          vhosts += ourVhosts.length;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      console.log(
        `apache2 DUMP_CONFIG differential: 60 configurations, ${directives} directives and ${vhosts} virtual hosts, all equal`,
      );
    }, 300_000);

    it('reports the file and line httpd reports for broken configurations', async () => {
      const mutations: [string, (t: string) => string][] = [
        ['unclosed section', (t) => t.replace(/<\/VirtualHost>\n(?![\s\S]*<\/VirtualHost>)/, '\n')],
        ['stray close', (t) => `${t}</Location>\n`],
        ['mismatched close', (t) => t.replace('</VirtualHost>', '</Directory>')],
        ['missing include', (t) => `Include missing-${t.length}.conf\n${t}`],
        ['wildcard without match', (t) => `${t}Include none/*.conf\n`],
        ['section without >', (t) => t.replace(/<VirtualHost ([^>]*)>/, '<VirtualHost $1')],
      ];
      let compared = 0;
      for (let seed = 1; seed <= 36; seed++) {
        const dir = await mkdtemp(join(tmpdir(), 'fpmkit-apbad-'));
        try {
          const files = generateApacheTree(seed + 1000, dir, 20_000 + seed);
          const target = seed % 2 === 0 ? 'httpd.conf' : 'sites/one.conf';
          const [name, mutate] = mutations[seed % mutations.length]!;
          files[target] = mutate(files[target]!);
          await writeTree(dir, files);
          const result = await apache(dir, ['-t']);
          expect(result.ok, `${name}: ${result.output}`).toBe(false);
          const unclosed = /(\/[^:\s]+):(\d+): <\w+> was not closed/.exec(result.output);
          const chain = [...result.output.matchAll(/Syntax error on line (\d+) of ([^:]+):/g)].at(
            -1,
          );
          const expected = unclosed
            ? [unclosed[1], Number(unclosed[2])]
            : [chain![2], Number(chain![1])];
          let ours: FpmkitParseError | undefined;
          try {
            readApacheConfigFile(join(dir, 'httpd.conf'), { serverRoot: dir });
          } catch (e) {
            if (!(e instanceof FpmkitParseError)) throw e;
            ours = e;
          }
          expect([ours?.source, ours?.line], `${name} (seed ${seed}): ${result.output}`).toEqual(
            expected,
          );
          compared++;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      console.log(
        `apache2 -t error differential: ${compared} broken configurations, same file and line`,
      );
    }, 120_000);
  },
);

/** One request on a fresh connection: the status, or -1 when the connection failed. */
function send(port: number, host: string, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: false, headers: { host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(-1));
    req.end();
  });
}

describe.skipIf(!available || !fpmReq.available)(
  `extracted Apache timeouts match what proxy_fcgi applies${apacheReq.reason}${fpmReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    let daemon: Daemon | undefined;
    let dir: string | undefined;
    let port = 0;
    const LAYOUTS = 30;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [
          { name: 'www', directives: 'pm = static\npm.max_children = 24' },
          { name: 'tcp', listen: 'tcp', directives: 'pm = static\npm.max_children = 8' },
        ],
        scripts: { 'probe.php': '<?php usleep((int)($_GET["ms"] ?? 0) * 1000); echo "ok";' },
      });
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-aplayout-'));
      port = await freePort();
    }, 60_000);

    afterAll(async () => {
      await daemon?.stop('SIGTERM', 10_000);
      await fpm?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 60_000);

    // Two servers: one whose main ProxyTimeout every host inherits, one with only Timeout.
    it.each([
      [777, true],
      [4242, false],
    ])(
      `shows the timeout the extraction reports, for ${LAYOUTS} virtual hosts (seed %i, main ProxyTimeout %s)`,
      async (seed, mainProxyTimeout) => {
        await daemon?.stop('SIGTERM', 10_000);
        const rng = new Rng(seed);
        const sock = fpm!.pool('www').socketPath!;
        const tcp = fpm!.pool('tcp');
        const seconds = () => rng.pick([1, 2]);
        const lines = [
          `ServerRoot "${dir}"`,
          loadModules(['mpm_event', 'authz_core', 'proxy', 'proxy_fcgi']),
          `PidFile "${dir}/httpd.pid"`,
          `ErrorLog "${dir}/error.log"`,
          ...(isRoot() ? ['User www-data', 'Group www-data'] : []),
          `Listen 127.0.0.1:${port}`,
          'ServerName localhost',
          '<IfModule mpm_event_module>',
          '    ServerLimit 2',
          '    ThreadsPerChild 25',
          '    MaxRequestWorkers 50',
          '</IfModule>',
          `Timeout ${seconds()}`,
          ...(mainProxyTimeout ? [`ProxyTimeout ${seconds()}`] : []),
          `DocumentRoot "${fpm!.wwwDir}"`,
          `<Directory "${fpm!.wwwDir}">`,
          '    Require all granted',
          '</Directory>',
        ];
        const mainWorkers = new Set<string>();
        for (let i = 0; i < LAYOUTS; i++) {
          const name = `w${i}`;
          const via = rng.pick(['sethandler', 'proxypassmatch', 'tcp', 'proxypass'] as const);
          const worker =
            via === 'tcp' ? `fcgi://${tcp.host}:${tcp.port}` : `unix:${sock}|fcgi://${name}`;
          const body = [`    ServerName v${i}.test`];
          if (rng.chance(0.4)) body.push(`    Timeout ${seconds()}`);
          if (rng.chance(0.4)) body.push(`    ProxyTimeout ${seconds()}`);
          // A worker defined in the virtual host, or in the main server (known to every host).
          const proxy = [
            `<Proxy "${worker}">`,
            `    ProxySet timeout=${rng.pick(['1', '2', '1500ms'])}`,
            '</Proxy>',
          ];
          const where = rng.pick(['none', 'vhost', 'main'] as const);
          if (where === 'vhost') body.push(...proxy.map((l) => `    ${l}`));
          if (where === 'main' && !mainWorkers.has(worker)) {
            mainWorkers.add(worker);
            lines.push(...proxy);
          }
          if (via === 'proxypassmatch') {
            body.push(
              `    ProxyPassMatch "^/(.*\\.php)$" "unix:${sock}|fcgi://${name}${fpm!.wwwDir}/$1"`,
            );
          } else if (via === 'proxypass') {
            // With a <Proxy> before it the worker is shared and this timeout= is ignored.
            const own = rng.chance(0.5) ? ` timeout=${rng.pick(['1', '2'])}` : '';
            body.push(`    ProxyPass "/pp/" "fcgi://${tcp.host}:${tcp.port}${fpm!.wwwDir}/"${own}`);
          } else if (via === 'tcp') {
            body.push(
              `    ProxyPassMatch "^/(.*\\.php)$" "fcgi://${tcp.host}:${tcp.port}${fpm!.wwwDir}/$1"`,
            );
          } else {
            body.push(
              '    <FilesMatch "\\.php$">',
              `        SetHandler "proxy:${worker}"`,
              '    </FilesMatch>',
            );
          }
          lines.push(`<VirtualHost 127.0.0.1:${port}>`, ...body, '</VirtualHost>');
        }
        const confPath = join(dir!, 'httpd.conf');
        await writeFile(confPath, `${lines.join('\n')}\n`);
        if (process.env.FPMKIT_DEBUG_APACHE) console.log(lines.join('\n'));
        const settings = extractApacheFpmSettings(
          readApacheConfigFile(confPath, { serverRoot: dir! }),
        );
        expect(settings.problems).toEqual([]);
        expect(settings.mpm).toMatchObject({
          name: 'event',
          limits: { MaxRequestWorkers: { value: 50 } },
        });
        expect(settings.handlers).toHaveLength(LAYOUTS);
        daemon = startDaemon(apacheReq.path!, ['-d', dir!, '-f', confPath, '-DFOREGROUND'], {
          cwd: dir!,
          env,
        });
        try {
          await waitForSockets(
            [{ host: '127.0.0.1', port }],
            15_000,
            () => daemon!.child.exitCode === null,
          );
        } catch (error) {
          const log = await readFile(join(dir!, 'error.log'), 'utf8').catch(() => '');
          throw new Error(
            `apache2 did not start: ${(error as Error).message}\n${daemon.output()}\n${log}`,
          );
        }
        const failures: string[] = [];
        let agreed = 0;
        // Which setting decided each timeout: a worker of the host, of the main server, or a directive.
        const by: Record<string, number> = {};
        const written = lines.join('\n').split('\n');
        const inMain = (line: number) =>
          written.slice(0, line).filter((l) => l.startsWith('<VirtualHost')).length ===
          written.slice(0, line).filter((l) => l.startsWith('</VirtualHost>')).length;
        for (const h of settings.handlers) {
          const key =
            h.timeoutMs.by === 'worker' && inMain(h.timeoutMs.source!.line)
              ? `${h.kind} main-server worker`
              : `${h.kind} ${h.timeoutMs.by}`;
          by[key] = (by[key] ?? 0) + 1;
        }
        const tasks = settings.handlers.map((h, i) => async () => {
          const host = `v${i}.test`;
          const t = h.timeoutMs.value;
          // `timeout=1500ms` is 1500 s in httpd 2.4: then only show that 2.5 s is not too long.
          const probes: (readonly [number, number])[] =
            t > 3000
              ? [[2500, 200]]
              : [
                  [t - 500, 200],
                  [t + 500, 504],
                ];
          for (const [ms, wanted] of probes) {
            const path = h.kind === 'ProxyPass' ? '/pp/probe.php' : '/probe.php';
            const status = await send(port, host, `${path}?ms=${ms}`);
            if (status === wanted) agreed++;
            else
              failures.push(
                `${host} ${h.kind} (timeout ${t} ms by ${h.timeoutMs.by}): sleeping ${ms} ms answered ${status}, expected ${wanted}`,
              );
          }
        });
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            while (next < tasks.length) await tasks[next++]!();
          }),
        );
        console.log(
          `Apache extraction: ${LAYOUTS} virtual hosts (${JSON.stringify(by)}), ${agreed} requests, all agreed with the extracted timeout`,
        );
        expect(failures).toEqual([]);
      },
      180_000,
    );
  },
);
