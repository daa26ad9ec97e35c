/**
 * The exporter's web configuration: a YAML file in the shape the Prometheus exporter-toolkit
 * reads (`tls_server_config`, `http_server_config`, `basic_auth_users`), for TLS and basic
 * authentication. Only the part of YAML such a file needs is read (nested mappings of scalars).
 * Passwords are bcrypt hashes (`$2a$`, `$2b$`, `$2y$`, the toolkit's kind, verified by the
 * Blowfish code in bcrypt.ts since Node's crypto has none) or SHA-crypt hashes (`$5$`, `$6$`,
 * as `openssl passwd -5` / `-6` write them).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { FpmkitParseError } from '../errors.js';
import { readRegularFileSync } from '../host/safe-read.js';
import { bcryptHash, parseBcryptHash } from './bcrypt.js';

/** Largest web configuration file read. */
const MAX_WEB_CONFIG_BYTES = 64 * 1024;

/** A scalar or a nested mapping, as the YAML subset yields it. */
export type YamlValue = string | boolean | null | { [key: string]: YamlValue };

interface YamlLine {
  line: number;
  indent: number;
  key: string;
  value: string | undefined;
}

function fail(source: string, line: number | undefined, reason: string): never {
  throw new FpmkitParseError(reason, line === undefined ? { source } : { source, line });
}

/** Strips a comment: `#` at the start or after a space, outside quotes. */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t'))
      return text.slice(0, i);
  }
  return text;
}

function unquote(text: string, source: string, line: number): string {
  if (text.startsWith("'")) {
    if (text.length < 2 || !text.endsWith("'"))
      fail(source, line, `unterminated quoted string ${text}`);
    const inner = text.slice(1, -1);
    if (/(^|[^'])'($|[^'])/.test(inner.replace(/''/g, '')))
      fail(source, line, `stray quote in ${text}`);
    return inner.replace(/''/g, "'");
  }
  if (text.length < 2 || !text.endsWith('"') || (text.endsWith('\\"') && !text.endsWith('\\\\"')))
    fail(source, line, `unterminated quoted string ${text}`);
  const inner = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (c === '"') fail(source, line, `stray quote in ${text}`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = inner[++i];
    const simple: Record<string, string> = {
      '\\': '\\',
      '"': '"',
      '/': '/',
      n: '\n',
      t: '\t',
      r: '\r',
      '0': '\0',
    };
    if (e !== undefined && e in simple) out += simple[e];
    else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(inner.slice(i + 1, i + 5))) {
      out += String.fromCharCode(Number.parseInt(inner.slice(i + 1, i + 5), 16));
      i += 4;
    } else fail(source, line, `unknown escape \\${e ?? ''} in ${text}`);
  }
  return out;
}

function scalar(text: string, source: string, line: number): YamlValue {
  if (text.startsWith('"') || text.startsWith("'")) return unquote(text, source, line);
  if (text === '~' || text === 'null' || text === 'Null' || text === 'NULL') return null;
  if (/^(true|True|TRUE)$/.test(text)) return true;
  if (/^(false|False|FALSE)$/.test(text)) return false;
  if (text === '{}') return {};
  if (/^[[{&*!|>%@`]/.test(text))
    fail(source, line, `'${text}': only plain or quoted scalars and nested mappings are read here`);
  return text;
}

/**
 * Parses the YAML subset a web configuration uses: nested mappings (indented by spaces) of
 * plain, single- or double-quoted scalars, `true`/`false`, `null`/`~`, comments, and a leading
 * `---`. Anything else (sequences, flow collections, anchors, tags, block scalars, tabs as
 * indentation, duplicate keys) throws `FpmkitParseError` naming the file and line.
 */
export function parseYamlMapping(
  text: string,
  source = 'web config',
): { [key: string]: YamlValue } {
  if (typeof text !== 'string') fail(source, undefined, 'the configuration must be text');
  const lines: YamlLine[] = [];
  const raw = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const n = i + 1;
    const body = stripComment(raw[i]!).replace(/[ \t]+$/, '');
    if (body.trim() === '') continue;
    if (body === '---' && lines.length === 0) continue;
    if (body === '...') break;
    const indent = /^ */.exec(body)![0].length;
    const rest = body.slice(indent);
    if (rest.startsWith('\t')) fail(source, n, 'tabs may not indent YAML');
    if (rest === '-' || rest.startsWith('- ')) fail(source, n, 'sequences are not read here');
    let key: string;
    let after: string;
    if (rest.startsWith('"') || rest.startsWith("'")) {
      const q = rest[0]!;
      let end = 1;
      while (end < rest.length) {
        if (q === '"' && rest[end] === '\\') end += 2;
        else if (rest[end] === q && q === "'" && rest[end + 1] === "'") end += 2;
        else if (rest[end] === q) break;
        else end++;
      }
      if (end >= rest.length) fail(source, n, 'unterminated quoted key');
      key = unquote(rest.slice(0, end + 1), source, n);
      after = rest.slice(end + 1);
      if (!after.startsWith(':'))
        fail(source, n, `expected ':' after the key ${rest.slice(0, end + 1)}`);
    } else {
      const colon = rest.search(/:( |$)/);
      if (colon <= 0) fail(source, n, `expected 'key: value', not '${rest.slice(0, 80)}'`);
      key = rest.slice(0, colon);
      after = rest.slice(colon);
    }
    const value = after.slice(1).trim();
    lines.push({ line: n, indent, key, value: value === '' ? undefined : value });
  }
  let at = 0;
  const block = (indent: number): { [key: string]: YamlValue } => {
    const out: { [key: string]: YamlValue } = Object.create(null);
    while (at < lines.length && lines[at]!.indent >= indent) {
      const l = lines[at]!;
      if (l.indent !== indent) fail(source, l.line, 'indentation does not match the lines above');
      if (Object.hasOwn(out, l.key)) fail(source, l.line, `duplicate key '${l.key}'`);
      at++;
      if (l.value !== undefined) {
        out[l.key] = scalar(l.value, source, l.line);
      } else if (at < lines.length && lines[at]!.indent > indent) {
        out[l.key] = block(lines[at]!.indent);
      } else out[l.key] = null;
    }
    return out;
  };
  const top = block(lines[0]?.indent ?? 0);
  if (at < lines.length)
    fail(source, lines[at]!.line, 'indentation does not match the lines above');
  return top;
}

const CRYPT64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Three bytes as four crypt-base64 characters, least significant six bits first. */
function crypt64(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < n; i++) {
    out += CRYPT64[w & 0x3f];
    w >>>= 6;
  }
  return out;
}

/** Byte `length` bytes long made of `block` repeated. */
function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += block.length)
    block.copy(out, i, 0, Math.min(block.length, length - i));
  return out;
}

/**
 * SHA-crypt (the `$5$` / `$6$` scheme of glibc's crypt, specified by Ulrich Drepper's
 * "Unix crypt using SHA-256 and SHA-512"): the encoded hash of `password` with `salt` (at most
 * 16 characters used) and `rounds` (1,000 to 999,999,999; 5,000 when absent).
 */
export function shaCrypt(kind: 5 | 6, password: string, salt: string, rounds?: number): string {
  const algo = kind === 5 ? 'sha256' : 'sha512';
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(salt.slice(0, 16), 'utf8').subarray(0, 16);
  const r = rounds === undefined ? 5000 : Math.min(999_999_999, Math.max(1000, Math.floor(rounds)));
  const h = () => createHash(algo);
  const b = h().update(p).update(s).update(p).digest();
  const ctxA = h().update(p).update(s).update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>>= 1) ctxA.update(n & 1 ? b : p);
  const a = ctxA.digest();
  const dp = h();
  for (let i = 0; i < p.length; i++) dp.update(p);
  const pBytes = repeatTo(dp.digest(), p.length);
  const ds = h();
  for (let i = 0; i < 16 + a[0]!; i++) ds.update(s);
  const sBytes = repeatTo(ds.digest(), s.length);
  let c = a;
  for (let i = 0; i < r; i++) {
    const ctx = h();
    ctx.update(i & 1 ? pBytes : c);
    if (i % 3 !== 0) ctx.update(sBytes);
    if (i % 7 !== 0) ctx.update(pBytes);
    ctx.update(i & 1 ? c : pBytes);
    c = ctx.digest();
  }
  let out = '';
  if (kind === 5) {
    for (let i = 0; i < 10; i++) {
      const t = [i, i + 10, i + 20];
      const [x, y, z] =
        i % 3 === 0 ? t : i % 3 === 1 ? [t[2]!, t[0]!, t[1]!] : [t[1]!, t[2]!, t[0]!];
      out += crypt64(c[x!]!, c[y!]!, c[z!]!, 4);
    }
    out += crypt64(0, c[31]!, c[30]!, 3);
  } else {
    for (let i = 0; i < 21; i++) {
      const t = [i, i + 21, i + 42];
      const [x, y, z] =
        i % 3 === 0 ? t : i % 3 === 1 ? [t[1]!, t[2]!, t[0]!] : [t[2]!, t[0]!, t[1]!];
      out += crypt64(c[x!]!, c[y!]!, c[z!]!, 4);
    }
    out += crypt64(0, 0, c[63]!, 2);
  }
  const roundsPart = rounds === undefined ? '' : `rounds=${r}$`;
  return `$${kind}$${roundsPart}${s.toString('utf8')}$${out}`;
}

/**
 * Highest bcrypt cost accepted: every check runs on the exporter's one thread, and a cost-12
 * hash already takes about a second there.
 */
export const MAX_BCRYPT_COST = 12;

/** Highest SHA-crypt `rounds=` accepted, for the same reason (the scheme allows 999,999,999). */
export const MAX_SHA_CRYPT_ROUNDS = 1_000_000;

/** A parsed `$5$` / `$6$` (SHA-crypt) or `$2a$` / `$2b$` / `$2y$` (bcrypt) hash. */
export type CryptHash =
  | { kind: 5 | 6; salt: string; rounds: number | undefined; text: string }
  | { kind: 'bcrypt'; cost: number; salt: string; prefix: string; text: string };

/** Reads a stored hash; returns a reason (a string) when it is not one fpmkit can verify. */
export function parseCryptHash(text: string): CryptHash | string {
  if (text.startsWith('$2x$'))
    return "is a '$2x$' bcrypt hash (the variant kept for a historic bug), which is not verified; write a '$2b$' hash (htpasswd -nB USER)";
  if (/^\$2[aby]?\$/.test(text)) {
    const b = parseBcryptHash(text);
    if (typeof b === 'string') return b;
    if (b.cost > MAX_BCRYPT_COST)
      return `has bcrypt cost ${b.cost}; at most ${MAX_BCRYPT_COST} is accepted, since each check runs in this process (htpasswd -nB -C 10 USER)`;
    return { kind: 'bcrypt', cost: b.cost, salt: b.saltText, prefix: b.prefix, text };
  }
  const m = /^\$([56])\$(?:rounds=(\d{1,9})\$)?([^$:\n]{0,16})\$([./0-9A-Za-z]+)$/.exec(text);
  if (!m)
    return "is not a '$6$' (SHA-512-crypt) or '$5$' (SHA-256-crypt) hash, as openssl passwd -6 writes";
  const kind = Number(m[1]) as 5 | 6;
  if (m[4]!.length !== (kind === 5 ? 43 : 86)) return 'has a digest of the wrong length';
  if (m[2] !== undefined && Number(m[2]) > MAX_SHA_CRYPT_ROUNDS)
    return `has rounds=${Number(m[2])}; at most ${MAX_SHA_CRYPT_ROUNDS} is accepted, since each check runs in this process (openssl passwd -6 uses 5000)`;
  return { kind, salt: m[3]!, rounds: m[2] === undefined ? undefined : Number(m[2]), text };
}

/** The checked web configuration. */
export interface ExporterWebConfig {
  /** TLS: certificate and key (PEM text) and client-certificate settings. */
  tls?: {
    cert: Buffer;
    key: Buffer;
    ca?: Buffer;
    requestCert: boolean;
    rejectUnauthorized: boolean;
    /** A client certificate, when one is presented, must verify against `ca` (VerifyClientCertIfGiven). */
    verifyGiven: boolean;
    minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
    maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  };
  /** Users and their hashes; absent: no authentication. */
  users?: Map<string, CryptHash>;
  /** Extra response headers (security headers only), by their usual spelling. */
  headers: Map<string, string>;
}

/**
 * The response headers a web configuration may set, as the exporter-toolkit allows them, with
 * the values allowed where the toolkit restricts them.
 */
const SETTABLE_HEADERS: ReadonlyMap<string, { name: string; values?: readonly string[] }> = new Map(
  [
    { name: 'Strict-Transport-Security' },
    { name: 'X-Content-Type-Options', values: ['nosniff'] },
    { name: 'X-Frame-Options', values: ['deny', 'sameorigin'] },
    { name: 'X-XSS-Protection' },
    { name: 'Content-Security-Policy' },
  ].map((h) => [h.name.toLowerCase(), h]),
);

const TLS_VERSIONS = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
} as const;
const CLIENT_AUTH = {
  NoClientCert: [false, false],
  RequestClientCert: [true, false],
  RequireAnyClientCert: undefined,
  VerifyClientCertIfGiven: [true, false],
  RequireAndVerifyClientCert: [true, true],
} as const;

function isMap(v: YamlValue | undefined): v is { [key: string]: YamlValue } {
  return typeof v === 'object' && v !== null;
}

/**
 * Reads and checks a web configuration file. Relative `cert_file`, `key_file` and
 * `client_ca_file` are read against the file's directory, as the exporter-toolkit does. Every
 * problem throws `FpmkitParseError` naming the file and the key.
 */
export function loadExporterWebConfig(path: string): ExporterWebConfig {
  const text = readRegularFileSync(path, { maxBytes: MAX_WEB_CONFIG_BYTES });
  return checkWebConfig(parseYamlMapping(text, path), path, (file) =>
    Buffer.from(readRegularFileSync(resolve(dirname(path), file), { maxBytes: 1024 * 1024 })),
  );
}

/** Checks a parsed web configuration; `read` loads the certificate files it names. */
export function checkWebConfig(
  doc: { [key: string]: YamlValue },
  source: string,
  read: (file: string) => Buffer,
): ExporterWebConfig {
  const bad = (key: string, reason: string): never => fail(source, undefined, `${key}: ${reason}`);
  const known = (map: { [key: string]: YamlValue }, where: string, keys: readonly string[]) => {
    for (const k of Object.keys(map))
      if (!keys.includes(k))
        bad(`${where}${k}`, `not a setting this exporter reads (it reads ${keys.join(', ')})`);
  };
  const str = (map: { [key: string]: YamlValue }, key: string, where: string) => {
    const v = map[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '')
      return bad(`${where}${key}`, 'must be a non-empty string');
    return v;
  };
  known(doc, '', ['tls_server_config', 'http_server_config', 'basic_auth_users']);
  const out: ExporterWebConfig = { headers: new Map() };
  const tls = doc.tls_server_config;
  if (tls !== undefined && tls !== null) {
    if (!isMap(tls)) return bad('tls_server_config', 'must be a mapping');
    const w = 'tls_server_config.';
    known(tls, w, [
      'cert_file',
      'key_file',
      'client_auth_type',
      'client_ca_file',
      'min_version',
      'max_version',
    ]);
    const certFile = str(tls, 'cert_file', w) ?? bad(`${w}cert_file`, 'is required');
    const keyFile = str(tls, 'key_file', w) ?? bad(`${w}key_file`, 'is required');
    const load = (key: string, file: string) => {
      try {
        return read(file);
      } catch (error) {
        return bad(`${w}${key}`, `cannot read ${file}: ${(error as Error).message}`);
      }
    };
    const authType = str(tls, 'client_auth_type', w) ?? 'NoClientCert';
    if (!Object.hasOwn(CLIENT_AUTH, authType))
      bad(`${w}client_auth_type`, `must be one of ${Object.keys(CLIENT_AUTH).join(', ')}`);
    const auth = CLIENT_AUTH[authType as keyof typeof CLIENT_AUTH];
    if (auth === undefined)
      bad(
        `${w}client_auth_type`,
        `${authType} (accept any certificate unverified) is not offered; use RequireAndVerifyClientCert`,
      );
    const caFile = str(tls, 'client_ca_file', w);
    const verify = authType.includes('Verify');
    if (verify && caFile === undefined) bad(`${w}client_ca_file`, `is required with ${authType}`);
    const version = (key: string) => {
      const v = str(tls, key, w);
      if (v === undefined) return undefined;
      if (!Object.hasOwn(TLS_VERSIONS, v))
        bad(`${w}${key}`, `must be one of ${Object.keys(TLS_VERSIONS).join(', ')}`);
      return TLS_VERSIONS[v as keyof typeof TLS_VERSIONS];
    };
    const min = version('min_version') ?? 'TLSv1.2';
    const max = version('max_version');
    out.tls = {
      cert: load('cert_file', certFile),
      key: load('key_file', keyFile),
      requestCert: auth![0],
      rejectUnauthorized: auth![1],
      verifyGiven: verify && !auth![1],
      minVersion: min,
    };
    if (max !== undefined) out.tls.maxVersion = max;
    if (caFile !== undefined) out.tls.ca = load('client_ca_file', caFile);
  }
  const http = doc.http_server_config;
  if (http !== undefined && http !== null) {
    if (!isMap(http)) return bad('http_server_config', 'must be a mapping');
    known(http, 'http_server_config.', ['headers']);
    const headers = http.headers;
    if (headers !== undefined && headers !== null) {
      if (!isMap(headers)) return bad('http_server_config.headers', 'must be a mapping');
      for (const [name, value] of Object.entries(headers)) {
        const where = `http_server_config.headers.${name}`;
        const allowed = SETTABLE_HEADERS.get(name.toLowerCase());
        if (!allowed)
          bad(
            where,
            `is not a header this exporter lets you set (it sets ${[...SETTABLE_HEADERS.values()].map((h) => h.name).join(', ')})`,
          );
        if (typeof value !== 'string' || value === '' || /[\r\n\0]/.test(value))
          bad(where, 'must be a non-empty one-line string');
        const v = value as string;
        if (allowed!.values && !allowed!.values.includes(v.toLowerCase()))
          bad(where, `must be one of ${allowed!.values.join(', ')}, not '${v}'`);
        if (out.headers.has(allowed!.name)) bad(where, `sets ${allowed!.name} a second time`);
        out.headers.set(allowed!.name, v);
      }
    }
  }
  const users = doc.basic_auth_users;
  if (users !== undefined && users !== null) {
    if (!isMap(users))
      return bad('basic_auth_users', 'must be a mapping of user names to password hashes');
    out.users = new Map();
    for (const [user, hash] of Object.entries(users)) {
      if (user.includes(':') || user === '')
        bad(`basic_auth_users.${user}`, 'a user name may not be empty or hold a colon');
      if (typeof hash !== 'string')
        return bad(`basic_auth_users.${user}`, 'must be a password hash');
      const parsed = parseCryptHash(hash);
      if (typeof parsed === 'string') bad(`basic_auth_users.${user}`, parsed);
      out.users.set(user, parsed as CryptHash);
    }
  }
  return out;
}

/** What {@link BasicAuth.check} decided. */
export type AuthVerdict = 'ok' | 'denied' | 'busy';

/** Options of {@link BasicAuth}. */
export interface BasicAuthOptions {
  /**
   * Milliseconds of hashing that checks which fail (wrong password, unknown user) may spend in
   * any one-second window; once spent, further unremembered credentials get `busy` without
   * hashing. Default 250.
   */
  failureBudgetMs?: number;
  /** Headers remembered after a successful check. Default 256. */
  remember?: number;
  /** Clock in milliseconds (for tests). Default `performance.now`. */
  now?: () => number;
}

/**
 * Checks an `Authorization` header against the users. A header that once verified is
 * remembered (by its SHA-256, at most `remember` of them), so repeated scrapes by the right user
 * hash nothing. Checks that fail are bounded: they may hash for at most `failureBudgetMs` in any
 * second, beyond that credentials not remembered are answered `busy` at once. An unknown user is
 * hashed against the costliest hash of the file, inside the same budget, so it costs no less than
 * a wrong password.
 */
export class BasicAuth {
  readonly #users: Map<string, CryptHash>;
  readonly #dummy: CryptHash | undefined;
  readonly #good = new Map<string, true>();
  readonly #budget: number;
  readonly #remember: number;
  readonly #now: () => number;
  /** End time and duration of recent failed checks, oldest first. */
  #failures: { end: number; took: number }[] = [];
  /** Number of hashes computed so far. */
  hashes = 0;

  constructor(users: Map<string, CryptHash>, options: BasicAuthOptions = {}) {
    this.#users = users;
    this.#budget = options.failureBudgetMs ?? 250;
    this.#remember = Math.max(1, options.remember ?? 256);
    this.#now = options.now ?? (() => performance.now());
    let dummy: CryptHash | undefined;
    for (const h of users.values()) if (!dummy || cost(h) > cost(dummy)) dummy = h;
    this.#dummy = dummy;
  }

  /** `ok` when the header names a user of the file with the right password. */
  check(header: string | undefined): AuthVerdict {
    const m = /^Basic +([A-Za-z0-9+/=]{1,1024})$/i.exec(header ?? '');
    if (!m) return 'denied';
    const key = createHash('sha256').update(header!).digest('hex');
    if (this.#good.has(key)) return 'ok';
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'denied';
    const now = this.#now();
    this.#failures = this.#failures.filter((f) => f.end > now - 1000);
    if (this.#failures.reduce((sum, f) => sum + f.took, 0) >= this.#budget) return 'busy';
    const hash = this.#users.get(decoded.slice(0, colon));
    const stored = hash ?? this.#dummy;
    if (stored === undefined) return 'denied';
    const password = decoded.slice(colon + 1);
    this.hashes++;
    const computed = Buffer.from(
      stored.kind === 'bcrypt'
        ? bcryptHash(password, stored.cost, stored.salt, stored.prefix)
        : shaCrypt(stored.kind, password, stored.salt, stored.rounds),
    );
    const expected = Buffer.from(stored.text);
    const ok = computed.length === expected.length && timingSafeEqual(computed, expected) && !!hash;
    if (!ok) {
      const end = this.#now();
      this.#failures.push({ end, took: Math.max(end - now, 1) });
      return 'denied';
    }
    if (this.#good.size >= this.#remember) this.#good.delete(this.#good.keys().next().value!);
    this.#good.set(key, true);
    return 'ok';
  }
}

/** A rough measure of a hash's cost, to pick the dummy for unknown users. */
function cost(h: CryptHash): number {
  return h.kind === 'bcrypt' ? 2 ** h.cost * 64 : (h.rounds ?? 5000) * (h.kind === 6 ? 1.5 : 1);
}
