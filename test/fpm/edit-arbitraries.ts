import fc from 'fast-check';
import type { FpmConfig, FpmEdit } from '../../src/fpm/index.js';
import { renderGlobal, renderPool } from '../../src/fpm/index.js';
import { awkwardText, configArb } from './arbitraries.js';

/**
 * Configurations as people leave them: the rendered model spread over a main file and
 * `pool.d/*.conf` (a pool split over two files, the second sometimes without a header so it
 * continues the section of the file before), comments above and after lines, commented-out
 * examples, blank lines, bare, double- and single-quoted values, uneven spacing, shadowed
 * duplicates, CRLF endings, a missing final newline and byte order marks.
 */
export interface FileSet {
  root: string;
  files: Map<string, string>;
  config: FpmConfig;
}

/** A small deterministic generator for the decorations, seeded by fast-check. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMMENTS = [
  '; a comment',
  ';;; pm.max_children = 99',
  '   ; indented comment with = and "quotes"',
  ';include = /nonexistent/*.conf',
  ';php_admin_value[memory_limit] = 32M',
  ';env[TMP] = /tmp',
  ';pm.max_requests = 500',
  ';listen.backlog = 511',
  ';process_control_timeout = 0',
];

/** Double-quoted text as FPM reads it. */
function unquote(body: string): string {
  return body.replace(/\\(["\\$])/g, '$1');
}

function decorateLine(line: string, rnd: () => number): string {
  const m = /^([A-Za-z0-9_.]+(?:\[[^\]]*\])?) = (.*)$/.exec(line);
  if (!m) return line;
  const [, name, value] = m as unknown as [string, string, string];
  let v = value;
  const quoted = /^"(.*)"$/.exec(value);
  if (quoted) {
    const text = unquote(quoted[1]!);
    const r = rnd();
    if (
      r < 0.4 &&
      /^[a-z0-9_./:-]+$/.test(text) &&
      !/^(true|on|yes|false|off|none|no|null)$/i.test(text)
    ) {
      v = text;
    } else if (r < 0.7 && text !== '' && !text.includes("'") && !/[\r\n]/.test(text)) {
      v = `'${text}'`;
    }
  }
  const s = rnd();
  const indent = s < 0.1 ? '  ' : s < 0.15 ? '\t' : '';
  const eq = s > 0.7 ? '=' : s > 0.6 ? '  =  ' : ' = ';
  const trailing = rnd() < 0.15 ? ' ; trailing note' : '';
  return `${indent}${name}${eq}${v}${trailing}`;
}

function decorateBody(lines: string[], rnd: () => number): string[] {
  const out: string[] = [];
  for (const line of lines) {
    const r = rnd();
    if (r < 0.12) out.push(COMMENTS[Math.floor(rnd() * COMMENTS.length)]!);
    else if (r < 0.2) out.push('');
    out.push(decorateLine(line, rnd));
  }
  if (rnd() < 0.5) out.push('', '; trailing comment block', ';pm.status_path = /status');
  return out;
}

/** Valid other values, written earlier than the real line so FPM ignores them. */
const SHADOWS: Record<string, string> = {
  'pm.max_requests': 'pm.max_requests = 7',
  'listen.backlog': 'listen.backlog = 77',
  rlimit_files: 'rlimit_files = 1234',
  catch_workers_output: 'catch_workers_output = yes',
};

function finish(lines: string[], rnd: () => number, bom: boolean): string {
  const eol = rnd() < 0.3 ? '\r\n' : '\n';
  const final = rnd() < 0.2 ? '' : eol;
  return `${bom && rnd() < 0.15 ? '\uFEFF' : ''}${lines.join(eol)}${final}`;
}

/** A file set under `runDir` from a model and a seed. */
export function buildFileSet(config: FpmConfig, seed: number, runDir: string): FileSet {
  const rnd = prng(seed);
  const files = new Map<string, string>();
  const root = `${runDir}/php-fpm.conf`;
  const globalLines = renderGlobal(config.global).trimEnd().split('\n');
  const include =
    rnd() < 0.5 ? `include=${runDir}/pool.d/*.conf` : `include = "${runDir}/pool.d/*.conf"`;
  const rootLines = [
    '; main file',
    globalLines[0]!,
    ...decorateBody(globalLines.slice(1), rnd),
    '',
    include,
  ];
  files.set(root, finish(rootLines, rnd, true));
  for (const [i, pool] of config.pools.entries()) {
    const [header, ...body] = renderPool(pool).trimEnd().split('\n');
    const decorated = decorateBody(body, rnd);
    for (const [name, shadow] of Object.entries(SHADOWS)) {
      if (body.some((l) => l.startsWith(`${name} = `)) && rnd() < 0.3) decorated.unshift(shadow);
    }
    const firstValue = body.find((l) => l.startsWith('php_value['));
    if (firstValue && rnd() < 0.4) {
      decorated.push(`${firstValue.slice(0, firstValue.indexOf(' = '))} = "shadowed later"`);
    }
    const split = rnd() < 0.4 ? Math.floor(decorated.length / 2) : decorated.length;
    const first = [`; pool ${pool.name}`, header!, ...decorated.slice(0, split)];
    files.set(`${runDir}/pool.d/${i}a-${pool.name}.conf`, finish(first, rnd, true));
    if (split < decorated.length) {
      const rest = decorated.slice(split);
      // Without a header the file continues the section the previous file left open.
      const second = rnd() < 0.5 ? ['; continued', ...rest] : [header!, ...rest];
      files.set(`${runDir}/pool.d/${i}b-${pool.name}.conf`, finish(second, rnd, true));
    }
  }
  return { root, files, config };
}

/** An edit with the value `php-fpm -tt` should print afterwards (undefined: the key is gone). */
export interface ExpectedEdit {
  edit: FpmEdit;
  /** `global` or the pool name, as -tt prints it. */
  dumpSection: string;
  dumpKey: string;
  expected: string | undefined;
}

const safeValue = awkwardText(1).filter((s) => !/^[ \t]|[ \t]$/.test(s));

/** One to four edits of a configuration whose printed effect is known in advance. */
export function editsArb(config: FpmConfig): fc.Arbitrary<ExpectedEdit[]> {
  const options: fc.Arbitrary<ExpectedEdit>[] = [
    fc.integer({ min: 512, max: 65536 }).map((n) => ({
      edit: { section: 'global', directive: 'log_limit', value: n },
      dumpSection: 'global',
      dumpKey: 'log_limit',
      expected: String(n),
    })),
    fc.integer({ min: 0, max: 3600 }).map((n) => ({
      edit: { section: 'global', directive: 'process_control_timeout', value: n },
      dumpSection: 'global',
      dumpKey: 'process_control_timeout',
      expected: `${n}s`,
    })),
    fc.boolean().map((b) => ({
      edit: { section: 'global', directive: 'logBuffering', value: b },
      dumpSection: 'global',
      dumpKey: 'log_buffering',
      expected: b ? 'yes' : 'no',
    })),
    fc.constant<ExpectedEdit>({
      edit: { section: 'global', directive: 'log_limit', remove: true },
      dumpSection: 'global',
      dumpKey: 'log_limit',
      expected: '1024',
    }),
  ];
  for (const pool of config.pools) {
    const name = pool.name;
    const section = [name.toUpperCase(), name, name.toLowerCase()];
    const sec = fc.constantFrom(...section);
    const valueKeys = [...Object.keys(pool.phpValue), ...Object.keys(pool.phpFlag), 'vnew.key'];
    const adminKeys = [...Object.keys(pool.phpAdminValue), 'memory_limit'];
    const envKeys = [...Object.keys(pool.env), 'APP_ENV'];
    options.push(
      fc.tuple(sec, fc.integer({ min: 0, max: 100000 })).map(([s, n]) => ({
        edit: { section: s, directive: 'pm.max_requests', value: n },
        dumpSection: name,
        dumpKey: 'pm.max_requests',
        expected: String(n),
      })),
      fc.tuple(sec, fc.integer({ min: -1, max: 65535 })).map(([s, n]) => ({
        edit: { section: s, directive: 'listen.backlog', value: n },
        dumpSection: name,
        dumpKey: 'listen.backlog',
        expected: String(n),
      })),
      fc.tuple(sec, fc.integer({ min: -19, max: 20 })).map(([s, n]) => ({
        edit: { section: s, directive: 'process.priority', value: n },
        dumpSection: name,
        dumpKey: 'process.priority',
        expected: String(n),
      })),
      fc.tuple(sec, fc.boolean()).map(([s, b]) => ({
        edit: { section: s, directive: 'catch_workers_output', value: b },
        dumpSection: name,
        dumpKey: 'catch_workers_output',
        expected: b ? 'yes' : 'no',
      })),
      fc.tuple(sec, fc.constantFrom(...valueKeys), safeValue).map(([s, k, v]) => ({
        edit: { section: s, directive: `php_value[${k}]`, value: v },
        dumpSection: name,
        dumpKey: `php_value[${k}]`,
        expected: v,
      })),
      fc.tuple(sec, fc.constantFrom(...adminKeys), safeValue).map(([s, k, v]) => ({
        edit: { section: s, directive: `phpAdminValue.${k}`, value: v },
        dumpSection: name,
        dumpKey: `php_admin_value[${k}]`,
        expected: v,
      })),
      fc.tuple(sec, fc.constantFrom(...envKeys), safeValue).map(([s, k, v]) => ({
        edit: { section: s, directive: `env[${k}]`, value: v },
        dumpSection: name,
        dumpKey: `env[${k}]`,
        expected: v,
      })),
      fc.constant<ExpectedEdit>({
        edit: { section: name, directive: 'pm.max_requests', remove: true },
        dumpSection: name,
        dumpKey: 'pm.max_requests',
        expected: '0',
      }),
      fc.constant<ExpectedEdit>({
        edit: { section: name, directive: 'listen.backlog', remove: true },
        dumpSection: name,
        dumpKey: 'listen.backlog',
        expected: '-1',
      }),
    );
    if (pool.ping.path) {
      options.push(
        fc.tuple(sec, safeValue).map(([s, v]) => ({
          edit: { section: s, directive: 'ping.response', value: v },
          dumpSection: name,
          dumpKey: 'ping.response',
          expected: v,
        })),
      );
    }
    const removable = Object.keys(pool.env).filter((k) => !Object.hasOwn(pool.phpValue, k));
    for (const k of removable) {
      options.push(
        fc.constant<ExpectedEdit>({
          edit: { section: name, directive: `env[${k}]`, remove: true },
          dumpSection: name,
          dumpKey: `env[${k}]`,
          expected: undefined,
        }),
      );
    }
  }
  return fc.uniqueArray(fc.oneof(...options), {
    minLength: 1,
    maxLength: 4,
    selector: (e) => `${e.dumpSection}\u0000${e.dumpKey}`,
  });
}

/**
 * A model and a decoration seed. `php-fpm -tt` prints the configuration as NOTICE lines, which
 * a log_level above notice hides, so the level stays at notice or debug.
 */
export const fileSetArb = (dir: string) =>
  fc.tuple(
    configArb(dir).map((config) => {
      const level = config.global.logLevel;
      if (level !== undefined && level !== 'debug') config.global.logLevel = 'notice';
      return config;
    }),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  );
