import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { readNginxConfigFile } from '../../src/host/web-config.js';
import {
  buildNginxConfigFiles,
  combineNginxConfig,
  type NginxConfigPayload,
  type NginxDirective,
  parseNginxConfig,
  parseNginxDump,
} from '../../src/web/index.js';
import { nginxBinary } from '../support/integration.js';
import { startNginx } from '../support/nginx.js';
import { run } from '../support/process.js';
import { generateTree, Rng, randomValue, spell } from './nginx-config-gen.js';

const nginxReq = nginxBinary();
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'nginx', 'debian-stock');
const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/** Directive names, arguments and nesting, without lines, comments or files. */
function shape(stmts: readonly NginxDirective[]): unknown[] {
  return stmts
    .filter((s) => s.directive !== '#')
    .map((s) => (s.block ? [s.directive, s.args, shape(s.block)] : [s.directive, s.args]));
}
const combined = (payload: NginxConfigPayload) =>
  shape(combineNginxConfig(payload).config[0]!.parsed);

/** The files in the order nginx opens them: depth first, each the first time it is met. */
function readOrder(payload: NginxConfigPayload): string[] {
  const order: string[] = [];
  const visit = (index: number) => {
    const file = payload.config[index]!;
    if (order.includes(file.file)) return;
    order.push(file.file);
    const walk = (stmts: readonly NginxDirective[]) => {
      for (const s of stmts) {
        for (const i of s.includes ?? []) visit(i);
        if (s.block) walk(s.block);
      }
    };
    walk(file.parsed);
  };
  visit(0);
  return order;
}

const parseNginxConfigText = (text: string) => parseNginxConfig({ text });

/** `nginx -T` with `dir` as prefix; the text it prints and whether it accepted the file. */
async function dump(
  dir: string,
  conf: string,
): Promise<{ ok: boolean; stdout: string; output: string }> {
  const r = await run(
    nginxReq.path!,
    ['-T', '-p', `${dir}/`, '-c', conf, '-e', join(dir, 'error.log')],
    {
      cwd: dir,
      env,
    },
  );
  return { ok: r.exitCode === 0, stdout: r.stdout, output: r.output };
}

async function writeTree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  await mkdir(join(dir, 'tmp'), { recursive: true });
}

/**
 * Parses the tree in `dir` from disk, checks it against nginx's own reading (`nginx -T`), then
 * overwrites every file with the built text and checks that nginx reads the same directives.
 */
async function roundTrip(dir: string): Promise<{ files: number; statements: number }> {
  const conf = join(dir, 'nginx.conf');
  const before = await dump(dir, conf);
  if (!before.ok) throw new Error(`nginx -T refused the original:\n${before.output}`);
  const ours = readNginxConfigFile(conf, { comments: true });
  const fromDump = parseNginxDump(before.stdout, { comments: true });
  expect(combined(ours)).toEqual(combined(fromDump));
  // nginx -T lists the files in the order nginx read them, globs in glob(3)'s order.
  const dumped = [...before.stdout.matchAll(/^# configuration file (.+):$/gm)].map((m) => m[1]);
  expect(readOrder(ours)).toEqual(dumped);
  for (const file of buildNginxConfigFiles(ours)) await writeFile(file.file, file.text);
  const after = await dump(dir, conf);
  if (!after.ok) throw new Error(`nginx -T refused the built configuration:\n${after.output}`);
  const rebuilt = parseNginxDump(after.stdout);
  expect(combined(rebuilt)).toEqual(combined(fromDump));
  const count = (s: readonly NginxDirective[]): number =>
    s.reduce((n, d) => n + (d.directive === '#' ? 0 : 1 + count(d.block ?? [])), 0);
  return {
    files: ours.config.length,
    statements: count(combineNginxConfig(ours).config[0]!.parsed),
  };
}

describe.skipIf(!nginxReq.available)(
  `nginx configuration against the real nginx -T${nginxReq.reason}`,
  () => {
    it("reads Debian's stock configuration as nginx does, and builds it back", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'fpmkit-ngxstock-'));
      try {
        await cp(FIXTURE, dir, { recursive: true });
        for (const d of ['conf.d', 'modules-enabled', 'log'])
          await mkdir(join(dir, d), { recursive: true });
        // The stock file names /etc/nginx, /var/log/nginx and /run: point them into the copy.
        for (const name of ['nginx.conf', 'sites-enabled/default', 'sites-available/default']) {
          const text = await readFile(join(dir, name), 'utf8');
          await writeFile(
            join(dir, name),
            text
              .replaceAll('/etc/nginx/', `${dir}/`)
              .replaceAll('/var/log/nginx/', `${dir}/log/`)
              .replaceAll('/run/nginx.pid', `${dir}/nginx.pid`),
          );
        }
        const result = await roundTrip(dir);
        expect(result.files).toBe(3);
        expect(result.statements).toBeGreaterThan(100);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('reads 200 generated configurations as nginx -T does, and nginx reads the built text the same', async () => {
      let files = 0;
      let statements = 0;
      for (let seed = 1; seed <= 200; seed++) {
        const dir = await mkdtemp(join(tmpdir(), 'fpmkit-ngxgen-'));
        try {
          const tree = generateTree(seed, dir);
          await writeTree(dir, tree.files);
          const r = await roundTrip(dir).catch((error: Error) => {
            throw new Error(`seed ${seed}: ${error.message}`);
          });
          files += r.files;
          statements += r.statements;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      console.log(
        `nginx -T differential: 200 configurations, ${files} files, ${statements} statements, all equal`,
      );
      expect(files).toBeGreaterThan(400);
    }, 600_000);

    it('reads each value as nginx does: return 200 VALUE answers with the value fpmkit parsed', async () => {
      const rng = new Rng(4242);
      const spelled = [
        'a\\;b',
        'x\\ y',
        '"a\\nb"',
        "'a\\'b'",
        '"\\\\d"',
        'a"b',
        "a'b",
        '"é\\t✓"',
        "'}{;#'",
        'a#b',
        '\\.php',
        '"a\\qb"',
        "'\\\\'",
      ];
      while (spelled.length < 300) {
        const value = randomValue(rng, 8).replace(/\$/g, 'S');
        spelled.push(spell(rng, value));
      }
      const http = spelled.map((v, i) => `location = /v${i} { return 200 ${v}; }`).join('\n');
      const server = `server {\n listen 127.0.0.1:@PORT@;\n default_type text/plain;\n${http}\n}`;
      const parsed = combineNginxConfig(
        parseNginxConfigText(server),
      ).config[0]!.parsed[0]!.block!.filter((s) => s.directive === 'location');
      const nginx = await startNginx({ http: server });
      try {
        for (const [i, location] of parsed.entries()) {
          const response = await fetch(`http://127.0.0.1:${nginx.port}/v${i}`, {
            headers: { connection: 'close' },
          });
          const body = Buffer.from(await response.arrayBuffer()).toString('utf8');
          expect([spelled[i], body]).toEqual([spelled[i], location.block![0]!.args[1]]);
        }
      } finally {
        await nginx.stop();
      }
    }, 120_000);

    it('reports the file, line and message nginx reports for broken configurations', async () => {
      const mutations: [string, (text: string, rng: Rng) => string][] = [
        ['lone ;', (t, rng) => `${'# c\n'.repeat(rng.int(0, 3))};\n${t}`],
        ['lone {', (t, rng) => `${'\n'.repeat(rng.int(0, 3))}{\n${t}`],
        ['text after a quote', (t, rng) => `${'#\n'.repeat(rng.int(0, 3))}add_header "a"b;\n${t}`],
        ['} after arguments', (t) => `add_header a }\n${t}`],
        ['open quote at the end', (t) => `${t}add_header "x;\n`],
        ['missing closing brace', (t) => t.replace(/}\s*$/, '\n')],
        [
          'word of 4 KiB',
          (t, rng) => `${'\n'.repeat(rng.int(0, 2))}add_header a ${'x'.repeat(5000)};\n${t}`,
        ],
        ['stray }', (t) => `}\n${t}`],
      ];
      let compared = 0;
      for (let seed = 1; seed <= 64; seed++) {
        const dir = await mkdtemp(join(tmpdir(), 'fpmkit-ngxbad-'));
        try {
          const rng = new Rng(seed * 7919);
          const tree = generateTree(seed, dir);
          // Break one file that nginx reads: the main file or one included from conf.d.
          const candidates = Object.keys(tree.files).filter(
            (f) => f === 'nginx.conf' || (/^conf\.d\/[^.].*\.conf$/.test(f) && f.endsWith('.conf')),
          );
          const target = rng.pick(candidates);
          const [name, mutate] = mutations[seed % mutations.length]!;
          tree.files[target] = mutate(tree.files[target]!, rng);
          await writeTree(dir, tree.files);
          const result = await dump(dir, join(dir, 'nginx.conf'));
          const m = /\[emerg\] (.*) in (\/.*):(\d+)\n/.exec(result.output);
          let ours: FpmkitParseError | undefined;
          try {
            readNginxConfigFile(join(dir, 'nginx.conf'));
          } catch (error) {
            if (!(error instanceof FpmkitParseError)) throw error;
            ours = error;
          }
          // The target may be a file no glob reads (conf.d/*.conf skips nothing named so):
          // then nginx and fpmkit must both accept it.
          if (!m) {
            expect(result.ok, `${name} (seed ${seed}): ${result.output}`).toBe(true);
            expect(ours).toBeUndefined();
            continue;
          }
          expect(ours, `${name} (seed ${seed}): nginx said ${m[0]}`).toBeDefined();
          expect([ours!.source, ours!.line, ours!.reason], `${name} (seed ${seed})`).toEqual([
            m[2],
            Number(m[3]),
            m[1],
          ]);
          compared++;
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }
      console.log(
        `nginx -t error differential: ${compared} broken configurations, same file, line and message`,
      );
      expect(compared).toBeGreaterThan(40);
    }, 300_000);
  },
);
