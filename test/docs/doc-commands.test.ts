import { spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { findBinary, isRoot, phpFpmBinary } from '../support/integration.js';
import { type Daemon, freePort, run, startDaemon, waitForSockets } from '../support/process.js';

/**
 * Every `fpmkit` command shown in a fenced block of README.md and docs/*.md, run with the built
 * command and held to what the text shows.
 *
 * Conventions of the Markdown (docs/cli.md, "Commands in the docs are tested"):
 * - In a `sh` block each line naming `fpmkit` is a command; it must exit 0. A line with a
 *   `<placeholder>` is a synopsis and is not run.
 * - In a block without a language, `$ COMMAND` lines are commands and the lines after them,
 *   up to the next `$`, are their output; `...` stands for any lines. `$ echo $?` shows the exit
 *   status of the command before it.
 * - `<!-- doc-test: ... -->` right before a block sets it up:
 *   `live-fpm` runs the block against a php-fpm 8.2 this test starts, whose files and sockets
 *   take the places the text names (/etc/php/8.2/fpm/php-fpm.conf, /run/php/php8.2-fpm.sock,
 *   /run/php/www.sock, its status socket /run/php/php8.2-fpm-status.sock, 127.0.0.1:9000 and :9001, /run/php/php8.2-fpm.pid,
 *   /var/log/nginx/error.log); `no-fpm` runs it in a PID namespace of its own, where no FPM
 *   master runs; `stock-fpm` needs Debian's php8.2-fpm package installed (its stock
 *   configuration, not running), as the text says; `output-of=N` marks the block as the output of command N of the `sh` block
 *   before it; `numbers` lets numbers (times, sizes, counts measured on the host) differ;
 *   `exit=0,1` lists the exit statuses the text allows its commands.
 * - A command ending in `# until Ctrl-C` runs until its second line of output, then gets SIGINT
 *   and must exit 0; `fpmkit exporter` runs until it serves one scrape, then gets SIGTERM.
 */
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'cli', 'bin.js');
const EVIDENCE = join(root, 'test', 'fixtures', 'doctor', 'evidence');
/** Debian's stock configuration, which `stock-fpm` blocks read as they are. */
const STOCK_FPM_CONFIG = '/etc/php/8.2/fpm/php-fpm.conf';

interface DocCommand {
  where: string;
  command: string;
  setup: Set<string>;
  /** Output lines shown for it, with `...`; undefined when the text shows none. */
  output?: string[];
  numbers: boolean;
  /** Exit statuses the text allows: `$ echo $?`, else an `exit=` marker, else 0. */
  exits: number[];
}

function markerOf(lines: readonly string[], fence: number): Set<string> {
  for (let i = fence - 1; i >= Math.max(0, fence - 3); i--) {
    const m = /^<!-- doc-test: (.*) -->$/.exec(lines[i]!.trim());
    if (m) return new Set(m[1]!.split(/\s+/));
    if (lines[i]!.trim() !== '') break;
  }
  return new Set();
}

/** The fenced blocks of a Markdown file: language, body lines, markers and where it starts. */
function blocksOf(file: string) {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const blocks: { lang: string; body: string[]; marker: Set<string>; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    while (++i < lines.length && !/^```\s*$/.test(lines[i]!)) body.push(lines[i]!);
    blocks.push({ lang: open[1]!, body, marker: markerOf(lines, start), line: start + 1 });
  }
  return blocks;
}

/** `exit=0,1`: the exit statuses a block's commands may end with (what the text says of them). */
function exitsOf(marker: ReadonlySet<string>): number[] {
  const m = [...marker].find((x) => x.startsWith('exit='));
  return m === undefined ? [0] : m.slice('exit='.length).split(',').map(Number);
}

const NAMES_FPMKIT = /(^|\|\s*|sudo\s+|npx\s+)fpmkit(\s|$)/;

/** Every command the docs show, in order, with its output where the docs show it. */
function docCommands(): DocCommand[] {
  const files = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter(
    (f) => f.endsWith('.md'),
  );
  const out: DocCommand[] = [];
  for (const file of files) {
    let lastSh: DocCommand[] = [];
    for (const block of blocksOf(file)) {
      if (block.lang === 'sh' || block.lang === 'bash') {
        const joined = block.body.join('\n').replace(/\\\n\s*/g, '');
        lastSh = [];
        for (const line of joined.split('\n')) {
          if (!NAMES_FPMKIT.test(line) || /<[a-z]+>/.test(line)) continue;
          const cmd: DocCommand = {
            where: `${file}:${block.line}`,
            command: line.trim(),
            setup: block.marker,
            numbers: block.marker.has('numbers'),
            exits: exitsOf(block.marker),
          };
          lastSh.push(cmd);
          out.push(cmd);
        }
        continue;
      }
      const of = [...block.marker].find((m) => m.startsWith('output-of='));
      if (of !== undefined) {
        const target = lastSh[Number(of.slice('output-of='.length)) - 1];
        if (target === undefined) throw new Error(`${file}:${block.line}: no command ${of}`);
        target.output = block.body;
        target.numbers ||= block.marker.has('numbers');
        continue;
      }
      if (block.lang !== '' && block.lang !== 'text') continue;
      let current: DocCommand | undefined;
      for (const line of block.body) {
        const m = /^\$ (.*)$/.exec(line);
        if (!m) {
          current?.output?.push(line);
          continue;
        }
        if (m[1] === 'echo $?') {
          current = undefined;
          continue;
        }
        if (!NAMES_FPMKIT.test(m[1]!)) {
          current = undefined;
          continue;
        }
        current = {
          where: `${file}:${block.line}`,
          command: m[1]!.trim(),
          setup: block.marker,
          numbers: block.marker.has('numbers'),
          output: [],
          exits: exitsOf(block.marker),
        };
        out.push(current);
      }
      // `$ echo $?` followed by a number: the exit status of the command before it.
      const body = block.body.join('\n');
      for (const m of body.matchAll(/\$ (.*fpmkit.*)\n[\s\S]*?\$ echo \$\?\n(\d+)/g)) {
        const cmd = out.find(
          (c) => c.command === m[1]!.trim() && c.where === `${file}:${block.line}`,
        );
        if (cmd) cmd.exits = [Number(m[2])];
      }
    }
  }
  return out;
}

const normal = (line: string, numbers: boolean) => {
  const l = line.trim().replace(/\s+/g, ' ');
  return numbers ? l.replace(/\d+(\.\d+)?/g, 'N') : l;
};

/** Where `actual` fails to show the `expected` lines (`...` for any lines); undefined if it does. */
function mismatch(
  actual: string,
  expected: readonly string[],
  numbers: boolean,
): string | undefined {
  const got = actual
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => normal(l, numbers));
  const want = [...expected];
  while (want.length > 0 && want[want.length - 1]!.trim() === '') want.pop();
  const segments: string[][] = [[]];
  for (const line of want) {
    if (line.trim() === '...') segments.push([]);
    else segments[segments.length - 1]!.push(normal(line, numbers));
  }
  let pos = 0;
  for (const [i, segment] of segments.entries()) {
    if (segment.length === 0) continue;
    const fits = (at: number) => segment.every((l, k) => got[at + k] === l);
    let at = pos;
    if (i === 0) {
      if (!fits(0))
        return `the output does not start with:\n${segment.join('\n')}\n--- got:\n${got.slice(0, segment.length + 3).join('\n')}`;
    } else {
      while (at < got.length && !fits(at)) at++;
      if (at >= got.length) return `not found in order:\n${segment.join('\n')}`;
    }
    pos = at + segment.length;
    if (i === segments.length - 1 && pos !== got.length)
      return `the output goes on after:\n${segment.join('\n')}\n--- with:\n${got.slice(pos, pos + 3).join('\n')}`;
  }
  return undefined;
}

let work = '';
let shims = '';
let fpm: Daemon | undefined;
const live: Record<string, string> = {};
const HAS_FPM = phpFpmBinary().available;

/** A php-fpm 8.2 with pools shop and www on UNIX sockets and api on TCP, all with a status page. */
async function startLiveFpm(dir: string): Promise<void> {
  const port = await freePort();
  const pool = (name: string, listen: string) =>
    `[${name}]\nlisten = ${listen}\nlisten.mode = 0666\npm = static\npm.max_children = 2\npm.status_path = /status\nping.path = /ping\n`;
  mkdirSync(join(dir, 'pool.d'), { recursive: true });
  const conf = join(dir, 'php-fpm.conf');
  writeFileSync(
    conf,
    `[global]\npid = ${dir}/fpm.pid\nerror_log = ${dir}/fpm.log\ndaemonize = no\nprocess_control_timeout = 10s\ninclude = ${dir}/pool.d/*.conf\n`,
  );
  writeFileSync(join(dir, 'pool.d', 'shop.conf'), pool('shop', `${dir}/shop.sock`));
  writeFileSync(
    join(dir, 'pool.d', 'www.conf'),
    `${pool('www', `${dir}/www.sock`)}pm.status_listen = ${dir}/www-status.sock\n`,
  );
  writeFileSync(join(dir, 'pool.d', 'api.conf'), pool('api', `127.0.0.1:${port}`));
  fpm = startDaemon(phpFpmBinary().path!, ['-F', '-y', conf, '-p', dir, '-R'], { cwd: dir });
  await waitForSockets(
    [
      { path: `${dir}/shop.sock` },
      { path: `${dir}/www.sock` },
      { path: `${dir}/www-status.sock` },
      { host: '127.0.0.1', port },
    ],
    20_000,
    () => fpm!.child.exitCode === null,
  );
  cpSync(join(EVIDENCE, 'files/var/log/nginx/error.log'), join(dir, 'nginx-error.log'));
  Object.assign(live, {
    '/etc/php/8.2/fpm/php-fpm.conf': conf,
    '/run/php/php8.2-fpm.sock': `${dir}/www.sock`,
    '/run/php/php8.2-fpm-status.sock': `${dir}/www-status.sock`,
    '/run/php/php8.2-fpm.pid': `${dir}/fpm.pid`,
    '/run/php/www.sock': `${dir}/www.sock`,
    '/var/log/nginx/error.log': join(dir, 'nginx-error.log'),
    '127.0.0.1:9000': `127.0.0.1:${port}`,
    '127.0.0.1:9001': `127.0.0.1:${port}`,
  });
}

/** The command as it runs here: `npx` and `sudo` dropped, live paths in place of the shown ones. */
function localize(c: DocCommand): string {
  let text = c.command.replace(/^sudo\s+/, '').replace(/\bnpx fpmkit\b/g, 'fpmkit');
  text = text.replace(/\s+#.*$/, '');
  if (c.setup.has('live-fpm')) {
    for (const [shown, real] of Object.entries(live)) text = text.split(shown).join(real);
  }
  if (c.setup.has('no-fpm'))
    text = `unshare --pid --fork --mount-proc bash -c ${JSON.stringify(text)}`;
  return text;
}

const env = () => ({ PATH: `${shims}:${process.env.PATH ?? ''}`, HOME: work, LANG: 'C.UTF-8' });

/** Runs a command that serves or watches until stopped: waits for `ready`, then signals it. */
async function runUntil(
  text: string,
  ready: (output: string) => boolean,
  signal: NodeJS.Signals,
  extraEnv: Record<string, string> = {},
  during: () => Promise<unknown> = async () => undefined,
) {
  const child = spawn('bash', ['-c', `exec ${text}`], {
    cwd: work,
    env: { ...env(), ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    output += d;
  });
  const deadline = Date.now() + 60_000;
  while (!ready(output) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  const wasReady = ready(output);
  const result = wasReady ? await during() : undefined;
  child.kill(signal);
  const exit = await done;
  return { wasReady, exit, output, result };
}

const commands = docCommands();

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  work = await mkdtemp(join(tmpdir(), 'fpmkit-doc-commands-'));
  shims = join(work, '.bin');
  mkdirSync(shims);
  const shim = (name: string, body: string) => {
    writeFileSync(join(shims, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(shims, name), 0o755);
  };
  shim('fpmkit', `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"`);
  // The generator a panel would pipe in (docs/cli.md, fpmkit check -): one pool FPM accepts.
  const pool =
    '[global]\\nprocess_control_timeout = 10s\\n[site]\\nuser = www-data\\nlisten = /run/php/site.sock\\npm = static\\npm.max_children = 4\\n';
  shim('generate-pool-config', `printf '${pool}'`);
  writeFileSync(join(work, 'pool.conf'), pool.replace(/\\n/g, '\n'));
  cpSync(EVIDENCE, join(work, 'evidence'), { recursive: true });
  cpSync(EVIDENCE, join(work, 'test', 'fixtures', 'doctor', 'evidence'), { recursive: true });
  if (HAS_FPM) await startLiveFpm(join(work, 'fpm'));
}, 60_000);

afterAll(async () => {
  await fpm?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('every fpmkit command in README.md and docs/*.md', () => {
  it('finds the commands of every kind the docs show', () => {
    const names = new Set(commands.map((c) => /fpmkit\s+(\S+)/.exec(c.command)?.[1]));
    for (const name of Object.keys(COMMANDS)) expect(names, name).toContain(name);
    expect(commands.length).toBeGreaterThan(25);
  });

  for (const c of commands) {
    // A set-up this machine cannot give is a visible skip, or a failure in CI.
    const missing =
      c.setup.has('live-fpm') && !HAS_FPM
        ? phpFpmBinary().reason
        : c.setup.has('no-fpm') && !isRoot()
          ? ' [skipped: a PID namespace of its own needs root]'
          : c.setup.has('stock-fpm') && !existsSync(STOCK_FPM_CONFIG)
            ? ` [skipped: no ${STOCK_FPM_CONFIG}: Debian's php8.2-fpm is not installed]`
            : '';
    if (missing !== '' && process.env.FPMKIT_REQUIRE_INTEGRATION)
      throw new Error(`${c.where}: cannot set up ${c.command}${missing}`);
    it.skipIf(missing !== '')(
      `${c.where}: ${c.command}${missing}`,
      async () => {
        const text = localize(c);
        if (/#\s*until Ctrl-C/.test(c.command)) {
          // Two samples after the header, as the docs show.
          const r = await runUntil(text, (o) => o.split('\n').length > 3, 'SIGINT');
          expect(r.wasReady, r.output).toBe(true);
          expect(r.exit, r.output).toBe(0);
          if (c.output) expect(mismatch(r.output, c.output, c.numbers), r.output).toBeUndefined();
          return;
        }
        if (/fpmkit exporter/.test(text)) {
          const port = await freePort();
          const r = await runUntil(
            text,
            (o) => o.includes('listening on'),
            'SIGTERM',
            { FPMKIT_EXPORTER_LISTEN: `127.0.0.1:${port}` },
            async () => {
              const res = await fetch(`http://127.0.0.1:${port}/metrics`);
              return { status: res.status, body: await res.text() };
            },
          );
          expect(r.wasReady, r.output).toBe(true);
          expect(r.exit, r.output).toBe(0);
          const scrape = r.result as { status: number; body: string };
          expect(scrape.status).toBe(200);
          expect(scrape.body).toContain('fpmkit_exporter_scrapes_total');
          // A pool the command names is scraped: its accepted connections are exported.
          if (!text.endsWith('fpmkit exporter')) expect(scrape.body).toMatch(/accepted_conn/);
          return;
        }
        const r = await run('bash', ['-o', 'pipefail', '-c', text], {
          cwd: work,
          env: env(),
          timeoutMs: 120_000,
        });
        expect(r.output, text).not.toMatch(/\n\s+at .+:\d+:\d+/);
        expect(c.exits, `exit status of ${text}\n${r.output}`).toContain(r.exitCode);
        if (c.output && c.output.length > 0) {
          const why = mismatch(r.output, c.output, c.numbers);
          expect(why, `${c.where}: ${text}\n${r.output}`).toBeUndefined();
        }
      },
      180_000,
    );
  }
});

describe('the matcher of shown output', () => {
  it('holds `...` as any lines and refuses a missing or extra line', () => {
    expect(mismatch('a\nb\nc\nd\n', ['a', '...', 'd'], false)).toBeUndefined();
    expect(mismatch('a\nb\nc\n', ['a', 'b'], false)).toMatch(/goes on/);
    expect(mismatch('a\nb\n', ['a', '...', 'x'], false)).toMatch(/not found/);
    expect(mismatch('took 12 ms\n', ['took 3 ms'], false)).toBeDefined();
    expect(mismatch('took 12 ms\n', ['took 3 ms'], true)).toBeUndefined();
  });

  it('the exporter and watch examples are found, and findBinary sees bash', () => {
    expect(findBinary('bash')).toBeDefined();
    expect(commands.some((c) => /until Ctrl-C/.test(c.command))).toBe(true);
  });
});
