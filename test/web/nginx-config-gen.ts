/**
 * Random nginx configuration trees for the differential tests: several files joined by
 * `include` (relative and absolute, plain names and globs, a hidden file the glob must skip),
 * every argument written bare, double- or single-quoted with escapes, and comments between
 * statements, after them and between arguments. Every tree is one `nginx -t` accepts.
 */

/** A small seeded PRNG (mulberry32), so a failing configuration can be generated again. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Characters of free-text values: separators, quotes and backslashes included. */
const VALUE_PIECES = [
  'a',
  'b',
  'Z',
  '0',
  '7',
  ' ',
  ' ',
  ';',
  '{',
  '}',
  '#',
  '"',
  "'",
  '\\',
  '\\d',
  '(',
  ')',
  '=',
  '/',
  '.',
  'é',
  '✓',
  '$host',
  '${host}',
  '$uri',
  '\t',
];

export function randomValue(rng: Rng, maxPieces = 6): string {
  let out = '';
  const n = rng.int(1, maxPieces);
  for (let i = 0; i < n; i++) out += rng.pick(VALUE_PIECES);
  // A value ending in `$host` followed by letters would name another variable.
  return out.replace(/(\$host|\$uri)(?=[A-Za-z0-9_])/g, '$1/');
}

/** An argument in one of nginx's spellings; the value nginx reads is always `value`. */
export function spell(rng: Rng, value: string): string {
  const bareSafe =
    value !== '' && /^[A-Za-z0-9_/.:=^*+?()|$-]+$/.test(value) && !/\$\{/.test(value);
  const style = bareSafe && rng.chance(0.5) ? 'bare' : rng.pick(['double', 'single'] as const);
  if (style === 'bare') return value;
  const quote = style === 'double' ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\t') out += rng.chance(0.5) ? '\\t' : '\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '"' || ch === "'") out += rng.chance(0.3) ? `\\${ch}` : ch;
    else out += ch;
  }
  return out + quote;
}

function comment(rng: Rng): string {
  return `#${rng.pick(['', ' ', '#'])}${rng.pick(['note', 'a;b {c}', 'it\'s "quoted"', 'é', 'include x;'])}`;
}

/** A statement with its arguments spelled at random and comments sprinkled in. */
function stmt(rng: Rng, indent: string, name: string, args: readonly string[], end = ';'): string {
  let out = indent + name;
  for (const arg of args) {
    out += rng.chance(0.08) ? ` ${comment(rng)}\n${indent}    ` : rng.pick([' ', ' ', '\t', '  ']);
    out += spell(rng, arg);
  }
  out += end;
  if (end === ';' && rng.chance(0.15)) out += ` ${comment(rng)}`;
  return out;
}

export interface GeneratedTree {
  /** Files by path relative to the configuration directory. */
  files: Record<string, string>;
  /** The main file, relative. */
  main: string;
}

interface Ctx {
  rng: Rng;
  dir: string;
  files: Record<string, string>;
  counter: number;
  snippets: string[];
}

function lines(rng: Rng, parts: string[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (rng.chance(0.1)) out.push(p.replace(/^(\s*).*$/s, `$1${comment(rng)}`));
    out.push(p);
    if (rng.chance(0.05)) out.push('');
  }
  return out.join('\n');
}

/** Free-form statements; `set` only where nginx allows it (not in `http`). */
function headerStmts(c: Ctx, indent: string, withSet = true): string[] {
  const out: string[] = [];
  const n = c.rng.int(0, 3);
  const kinds = [
    (k: number) => stmt(c.rng, indent, 'add_header', [`X-${k}`, randomValue(c.rng)]),
    (k: number) => stmt(c.rng, indent, 'fastcgi_param', [`P${k}`, randomValue(c.rng)]),
    ...(withSet ? [(k: number) => stmt(c.rng, indent, 'set', [`$v${k}`, randomValue(c.rng)])] : []),
  ];
  for (let i = 0; i < n; i++) out.push(c.rng.pick(kinds)(c.counter++));
  return out;
}

/** Letters, digits and spaces: a safe operand for `=` and `~`. */
function operand(rng: Rng): string {
  let out = '';
  const n = rng.int(1, 5);
  for (let i = 0; i < n; i++) out += rng.pick(['a', 'b', 'Z', '0', ' ', 'é']);
  return out.trim() === '' ? 'x' : out;
}

function locationBlock(c: Ctx, indent: string, prefix: string, depth: number): string {
  const { rng } = c;
  const k = c.counter++;
  const kind = rng.pick(['regex', 'prefix', 'prefix', 'exact', 'spaced'] as const);
  const args =
    kind === 'regex'
      ? [rng.pick(['~', '~*']), `^${prefix}/r${k}( x)?\\.php$`]
      : kind === 'exact'
        ? ['=', `${prefix}/e${k}`]
        : [`${prefix}/l${k}${kind === 'spaced' ? rng.pick([' s', '_é']) : ''}`];
  const head = stmt(rng, indent, 'location', args, ' {');
  const inner = `${indent}    `;
  const body = headerStmts(c, inner);
  if (rng.chance(0.3)) {
    const cond = [`($host`, rng.pick(['=', '!=', '~']), `${operand(rng)})`];
    body.push(
      `${stmt(rng, inner, 'if', cond, ' {')}\n${stmt(rng, `${inner}    `, 'set', [`$i${k}`, randomValue(rng)])}\n${inner}}`,
    );
  }
  if (c.snippets.length > 0 && rng.chance(0.3)) {
    body.push(stmt(rng, inner, 'include', [rng.pick(c.snippets)]));
  }
  if (kind === 'prefix' && depth < 2 && rng.chance(0.3)) {
    body.push(locationBlock(c, inner, `${prefix}/l${k}`, depth + 1));
  }
  if (rng.chance(0.5)) body.push(stmt(rng, inner, 'return', ['200', randomValue(rng)]));
  return `${head}\n${lines(rng, body)}\n${indent}}`;
}

function serverBlock(c: Ctx, indent: string): string {
  const { rng } = c;
  const k = c.counter++;
  const inner = `${indent}    `;
  const body = [
    stmt(rng, inner, 'listen', [`127.0.0.1:${rng.int(20000, 60000)}`]),
    stmt(rng, inner, 'server_name', [`s${k}.test`, ...(rng.chance(0.3) ? [`*.s${k}.test`] : [])]),
    ...headerStmts(c, inner),
  ];
  const n = rng.int(1, 3);
  for (let i = 0; i < n; i++) body.push(locationBlock(c, inner, '', 0));
  return `${stmt(rng, indent, 'server', [], ' {')}\n${lines(rng, body)}\n${indent}}`;
}

/**
 * A configuration tree: `nginx.conf` with `events` and `http`, servers spread over
 * `conf.d/*.conf` (relative glob), `abs/*.conf` (absolute glob under `dir`) and snippets
 * included by plain relative name from locations. `dir` is where the tree will be written.
 */
export function generateTree(seed: number, dir: string): GeneratedTree {
  const rng = new Rng(seed);
  const c: Ctx = { rng, dir, files: {}, counter: 0, snippets: [] };
  const nSnippets = rng.int(0, 2);
  for (let i = 0; i < nSnippets; i++) {
    const name = `snippets/s${i}${rng.pick(['', '.conf', ' x.conf'])}`;
    c.files[name] = `${lines(rng, headerStmts(c, ''))}\n`;
    c.snippets.push(name);
  }
  const confd = ['a.conf', 'B.conf', '_x.conf', '10-z.conf', 'é.conf', 'a b.conf'];
  const included: string[] = [];
  for (const name of confd) {
    if (rng.chance(0.4)) {
      c.files[`conf.d/${name}`] = `${lines(rng, [serverBlock(c, '')])}\n`;
      included.push(name);
    }
  }
  // Files the globs must not read: a hidden one and one with another extension.
  c.files['conf.d/.hidden.conf'] = 'this is not nginx syntax {\n';
  c.files['conf.d/readme.txt'] = 'neither is this {\n';
  const absCount = rng.int(0, 2);
  for (let i = 0; i < absCount; i++) c.files[`abs/${i}.conf`] = `${serverBlock(c, '')}\n`;
  const httpBody: string[] = [
    stmt(rng, '    ', 'access_log', ['off']),
    ...['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi'].map((kind) =>
      stmt(rng, '    ', `${kind}_temp_path`, [`${dir}/tmp/${kind}`]),
    ),
    stmt(rng, '    ', 'log_format', ['f', randomValue(rng)]),
    `${stmt(rng, '    ', 'map', ['$host', '$m'], ' {')}\n${stmt(rng, '        ', 'default', [randomValue(rng)])}\n        ${spell(rng, `k${operand(rng)}`)} ${spell(rng, randomValue(rng))};\n    }`,
    ...headerStmts(c, '    ', false),
    stmt(rng, '    ', 'include', [rng.pick(['conf.d/*.conf', 'conf.d/[!.]*.conf', 'conf.d/*'])]),
    stmt(rng, '    ', 'include', [`${dir}/abs/*.conf`]),
    stmt(rng, '    ', 'include', ['missing.d/*.conf']),
  ];
  // `conf.d/*` also reads readme.txt: keep it valid for that spelling.
  if (httpBody.some((l) => l.includes('conf.d/*') && !l.includes('.conf'))) {
    c.files['conf.d/readme.txt'] = '# plain text read as configuration\n';
  }
  if (included.length === 0 || rng.chance(0.5)) httpBody.push(serverBlock(c, '    '));
  const main = [
    comment(rng),
    stmt(rng, '', 'pid', [`${dir}/nginx.pid`]),
    stmt(rng, '', 'error_log', [`${dir}/error.log`]),
    stmt(rng, '', 'worker_processes', [String(rng.int(1, 4))]),
    `${stmt(rng, '', 'events', [], ' {')}\n${stmt(rng, '    ', 'worker_connections', [String(rng.int(16, 1024))])}\n}`,
    `${stmt(rng, '', 'http', [], ' {')}\n${lines(rng, httpBody)}\n}`,
  ];
  c.files['nginx.conf'] = `${lines(rng, main)}\n`;
  return { files: c.files, main: 'nginx.conf' };
}
