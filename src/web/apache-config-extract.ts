/**
 * The settings of a parsed Apache configuration that face PHP-FPM: every handler that passes
 * requests to FastCGI (`SetHandler "proxy:..."`, `AddHandler "proxy:..."`, `ProxyPass` and
 * `ProxyPassMatch` to `fcgi://`), the worker parameters that apply to it (`<Proxy>` with
 * `ProxySet`, or the `key=value` pairs of `ProxyPass`), the timeout httpd uses for it, `User`
 * and `Group`, and the MPM with its limits. Each value says where it was set.
 *
 * The timeout of a request to FPM is the worker's `timeout=` when set, else `ProxyTimeout`,
 * else `Timeout` (modules/proxy/proxy_util.c, `ap_proxy_connect_backend`); `ProxyTimeout` and
 * `Timeout` of a `<VirtualHost>` fall back to the main server's, and workers defined in the
 * main server are known to every virtual host (mod_proxy's `merge_proxy_config`).
 *
 * References: https://httpd.apache.org/docs/2.4/mod/mod_proxy.html,
 * https://httpd.apache.org/docs/2.4/mod/mod_proxy_fcgi.html,
 * https://httpd.apache.org/docs/2.4/mod/mpm_common.html
 */
import {
  APACHE_FLUSH_PACKETS,
  type ApacheBackend,
  type ApacheMpmEvent,
  type ApacheProxyFcgiInput,
  apacheProxyFcgiSchema,
} from './apache.js';
import {
  type ApacheConfigPayload,
  type ApacheDirective,
  combineApacheConfig,
} from './apache-config-parser.js';

/** httpd's default `Timeout` (server/core.c, `DEFAULT_TIMEOUT`): 60 seconds. */
export const APACHE_DEFAULT_TIMEOUT_SECONDS = 60;

/** Where a statement is. */
export interface ApacheSourceRef {
  /** The file, as in the payload's `config[].file`. */
  file: string;
  /** 1-based line, as httpd numbers it (the last line of a continued statement). */
  line: number;
}

/** A value and where it was set; no `source` for httpd's default. */
export interface ApacheSetting<T> {
  /** The value httpd applies, in the unit the field name says. */
  value: T;
  /** The statement that set it; absent for httpd's default. */
  source?: ApacheSourceRef;
}

/** A section around a handler, outermost first (`<VirtualHost>`, `<Directory>`, `<FilesMatch>` ...). */
export interface ApacheContextRef {
  /** The section name without `<`, as written (`VirtualHost`, `FilesMatch`). */
  kind: string;
  /** The section's arguments (a path, a regex, an address). */
  args: string[];
  /** Where the section starts. */
  source: ApacheSourceRef;
}

/** One way requests reach FPM. */
export interface ApacheFcgiHandler {
  /** The directive that passes requests to FPM. */
  kind: 'SetHandler' | 'AddHandler' | 'ProxyPass' | 'ProxyPassMatch';
  /** Where that directive is. */
  source: ApacheSourceRef;
  /** The worker URL: `unix:/run/php/fpm.sock|fcgi://localhost` or `fcgi://127.0.0.1:9000/path`. */
  url: string;
  /** For ProxyPass/ProxyPassMatch: the path or regex matched; for AddHandler: the extensions. */
  match?: string[];
  /** The FPM address, when the URL names one fpmkit can read. */
  backend?: ApacheBackend;
  /** The `fcgi://NAME` of a UNIX-socket worker. */
  workerName?: string;
  /** Sections around it, outermost first. */
  contexts: ApacheContextRef[];
  /** The worker parameters in force (`timeout`, `connectiontimeout`, `enablereuse`, `max` ...). */
  workerParameters: Record<string, ApacheSetting<string>>;
  /** The timeout httpd waits on FPM, in milliseconds, and which directive set it. */
  timeoutMs: ApacheSetting<number> & { by: 'worker' | 'ProxyTimeout' | 'Timeout' };
  /** fpmkit's Apache model of this handler; absent (with `modelIssues`) when it cannot hold it. */
  model?: ApacheProxyFcgiInput;
  /** Why `model` is absent. */
  modelIssues?: string[];
}

/** The MPM and its limits. */
export interface ApacheMpm {
  /** `event`, `worker` or `prefork`, from `LoadModule mpm_*_module`. */
  name?: string;
  /** The LoadModule line that chose it. */
  source?: ApacheSourceRef;
  /** Limits by directive name (`MaxRequestWorkers`, `ThreadsPerChild` ...), as set. */
  limits: Record<string, ApacheSetting<number>>;
}

/** A virtual host. */
export interface ApacheVirtualHost {
  /** The `<VirtualHost>` addresses (`*:80`, `127.0.0.1:8080`). */
  addresses: string[];
  /** Its `ServerName`, when set. */
  serverName?: string;
  /** Where the section starts (what `apache2ctl -S` prints). */
  source: ApacheSourceRef;
  /** `Timeout` in force for the host, in seconds (its own, else the main server's). @default 60 */
  timeoutSeconds: ApacheSetting<number>;
  /** `ProxyTimeout` in force for the host, in seconds; absent when unset everywhere. */
  proxyTimeoutSeconds?: ApacheSetting<number>;
}

/** What `extractApacheFpmSettings` returns. */
export interface ApacheFpmSettings {
  /** `User` of the children; absent when unset (httpd's compiled-in user applies). */
  user?: ApacheSetting<string>;
  /** `Group` of the children; absent when unset. */
  group?: ApacheSetting<string>;
  /** The MPM and its limits. */
  mpm: ApacheMpm;
  /** The main server's `Timeout`, in seconds. @default 60 */
  timeoutSeconds: ApacheSetting<number>;
  /** The main server's `ProxyTimeout`, in seconds; absent when unset. */
  proxyTimeoutSeconds?: ApacheSetting<number>;
  /** Every `<VirtualHost>`. */
  virtualHosts: ApacheVirtualHost[];
  /** Every way requests reach FPM, in file order. */
  handlers: ApacheFcgiHandler[];
  /** Values that could not be read, with where they are. */
  problems: { message: string; source: ApacheSourceRef }[];
}

const MPM_LIMITS: Record<string, string> = {
  serverlimit: 'ServerLimit',
  threadlimit: 'ThreadLimit',
  threadsperchild: 'ThreadsPerChild',
  maxrequestworkers: 'MaxRequestWorkers',
  maxclients: 'MaxRequestWorkers',
  startservers: 'StartServers',
  minsparethreads: 'MinSpareThreads',
  maxsparethreads: 'MaxSpareThreads',
  minspareservers: 'MinSpareServers',
  maxspareservers: 'MaxSpareServers',
  maxconnectionsperchild: 'MaxConnectionsPerChild',
  maxrequestsperchild: 'MaxConnectionsPerChild',
};

const ref = (s: ApacheDirective): ApacheSourceRef => ({ file: s.file ?? '', line: s.line });
const lower = (s: ApacheDirective) => s.directive.toLowerCase();

/** `atoi` as httpd reads `Timeout` and the MPM numbers: leading digits, else 0. */
function atoi(text: string | undefined): number {
  const m = /^\s*([+-]?\d+)/.exec(text ?? '');
  return m ? Number(m[1]) : 0;
}

/**
 * `ap_timeout_parameter_parse`, which httpd 2.4 uses for `connectiontimeout=`: `N` seconds, or
 * `Nms`, `Ns`, `Nmi`, `Nh`.
 */
export function parseApacheTimeoutMs(text: string): number | undefined {
  const m = /^(\d+)(ms|s|mi|h)?$/.exec(text);
  if (!m) return undefined;
  const scale = { ms: 1, s: 1000, mi: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  return Number(m[1]) * scale;
}

/**
 * A worker's `timeout=` as httpd 2.4 reads it: `atoi`, whole seconds, at least 1 (mod_proxy.c
 * `set_worker_param`), so `timeout=1500ms` is 1500 seconds. httpd's trunk reads units; 2.4
 * does not.
 */
export function workerTimeoutMs(text: string): number | undefined {
  const seconds = atoi(text);
  return seconds >= 1 ? seconds * 1000 : undefined;
}

/** Reads a FastCGI worker URL (`unix:PATH|fcgi://NAME`, `fcgi://HOST:PORT/...`). */
export function apacheFcgiBackend(
  url: string,
): { backend?: ApacheBackend; workerName?: string } | undefined {
  const unix = /^unix:([^|]+)\|fcgi:\/\/([^/:]*)/i.exec(url);
  if (unix) return { backend: { socketPath: unix[1]! }, workerName: unix[2]! };
  const tcp = /^fcgi:\/\/(\[[0-9A-Fa-f:.]+\]|[^/:]+)(?::(\d+))?/i.exec(url);
  if (!tcp) return undefined;
  const host = tcp[1]!.replace(/^\[|\]$/g, '');
  const port = tcp[2] === undefined ? 8000 : Number(tcp[2]);
  return { backend: { host, port } };
}

interface Scope {
  /** Directives of this server (main or virtual host), outside of sections. */
  stmts: ApacheDirective[];
  vhost?: ApacheDirective;
  /** `<Proxy URL>` sections and ProxyPass parameters defining workers, by URL. */
  workers: {
    url: string;
    params: Map<string, ApacheSetting<string>>;
    /** Defined by a `<Proxy>` section (a prefix worker), not by ProxyPass. */
    proxy: boolean;
    /** Position in document order. */
    seq: number;
  }[];
}

function lastOf(stmts: readonly ApacheDirective[], name: string): ApacheDirective | undefined {
  for (let i = stmts.length - 1; i >= 0; i--) if (lower(stmts[i]!) === name) return stmts[i];
  return undefined;
}

function keyValues(
  args: readonly string[],
  source: ApacheSourceRef,
): Map<string, ApacheSetting<string>> {
  const out = new Map<string, ApacheSetting<string>>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) out.set(a.slice(0, eq).toLowerCase(), { value: a.slice(eq + 1), source });
  }
  return out;
}

/** Worker URLs compare without case in the scheme and host, and without a trailing `/`. */
const normalizeUrl = (url: string) => url.replace(/\/+$/, '').toLowerCase();

/**
 * Extracts what faces PHP-FPM from a parsed Apache configuration (`parseApacheConfig`): pure,
 * with httpd's defaults where nothing is set and `problems` for values it cannot read.
 */
export function extractApacheFpmSettings(payload: ApacheConfigPayload): ApacheFpmSettings {
  const root = combineApacheConfig(payload);
  // Document order, for "defined before".
  const order = new Map<ApacheDirective, number>();
  const number = (stmts: readonly ApacheDirective[]) => {
    for (const s of stmts) {
      order.set(s, order.size);
      if (s.block) number(s.block);
    }
  };
  number(root);
  const problems: ApacheFpmSettings['problems'] = [];
  const main: Scope = { stmts: [], workers: [] };
  const vhosts: Scope[] = [];
  const found: { stmt: ApacheDirective; chain: ApacheDirective[]; scope: Scope }[] = [];

  const collectWorkers = (scope: Scope, stmts: readonly ApacheDirective[]) => {
    for (const s of stmts) {
      const name = lower(s);
      if ((name === '<proxy' || name === '<proxymatch') && s.args[0]) {
        const params = new Map<string, ApacheSetting<string>>();
        for (const inner of s.block ?? []) {
          if (lower(inner) === 'proxyset')
            for (const [k, v] of keyValues(inner.args, ref(inner))) params.set(k, v);
        }
        scope.workers.push({
          url: s.args[0],
          params,
          proxy: name === '<proxy',
          seq: order.get(s) ?? 0,
        });
      }
      if ((name === 'proxypass' || name === 'proxypassmatch') && s.args.length >= 3) {
        const params = keyValues(s.args.slice(2), ref(s));
        scope.workers.push({ url: s.args[1]!, params, proxy: false, seq: order.get(s) ?? 0 });
      }
      if (s.block && name !== '<virtualhost') collectWorkers(scope, s.block);
    }
  };

  const walk = (stmts: readonly ApacheDirective[], chain: ApacheDirective[], scope: Scope) => {
    for (const s of stmts) {
      const name = lower(s);
      if (name === '<virtualhost') {
        const vscope: Scope = {
          stmts: (s.block ?? []).filter((x) => !x.block),
          vhost: s,
          workers: [],
        };
        vhosts.push(vscope);
        walk(s.block ?? [], [...chain, s], vscope);
        continue;
      }
      if (s.block) {
        walk(s.block, [...chain, s], scope);
        continue;
      }
      const first = (s.args[0] ?? '').toLowerCase();
      if ((name === 'sethandler' || name === 'addhandler') && first.startsWith('proxy:'))
        found.push({ stmt: s, chain, scope });
      const target = (s.args[1] ?? '').toLowerCase();
      if (
        (name === 'proxypass' || name === 'proxypassmatch') &&
        (target.startsWith('fcgi://') ||
          (target.startsWith('unix:') && target.includes('|fcgi://')))
      ) {
        found.push({ stmt: s, chain, scope });
      }
    }
  };
  main.stmts = root.filter((s) => !s.block);
  collectWorkers(main, root);
  walk(root, [], main);
  for (const v of vhosts) collectWorkers(v, v.vhost?.block ?? []);

  const secondsSetting = (stmt: ApacheDirective | undefined): ApacheSetting<number> | undefined =>
    stmt ? { value: atoi(stmt.args[0]), source: ref(stmt) } : undefined;
  const mainTimeout = secondsSetting(lastOf(main.stmts, 'timeout')) ?? {
    value: APACHE_DEFAULT_TIMEOUT_SECONDS,
  };
  const mainProxyTimeout = secondsSetting(lastOf(main.stmts, 'proxytimeout'));
  const timeoutOf = (scope: Scope) =>
    (scope.vhost ? secondsSetting(lastOf(scope.stmts, 'timeout')) : undefined) ?? mainTimeout;
  const proxyTimeoutOf = (scope: Scope) =>
    (scope.vhost ? secondsSetting(lastOf(scope.stmts, 'proxytimeout')) : undefined) ??
    mainProxyTimeout;

  const result: ApacheFpmSettings = {
    mpm: { limits: {} },
    timeoutSeconds: mainTimeout,
    ...(mainProxyTimeout ? { proxyTimeoutSeconds: mainProxyTimeout } : {}),
    virtualHosts: vhosts.map((v) => {
      const serverName = lastOf(v.stmts, 'servername')?.args[0];
      const proxyTimeout = proxyTimeoutOf(v);
      return {
        addresses: [...v.vhost!.args],
        ...(serverName ? { serverName } : {}),
        source: ref(v.vhost!),
        timeoutSeconds: timeoutOf(v),
        ...(proxyTimeout ? { proxyTimeoutSeconds: proxyTimeout } : {}),
      };
    }),
    handlers: [],
    problems,
  };
  const user = lastOf(main.stmts, 'user');
  if (user?.args[0]) result.user = { value: user.args[0], source: ref(user) };
  const group = lastOf(main.stmts, 'group');
  if (group?.args[0]) result.group = { value: group.args[0], source: ref(group) };
  for (const s of main.stmts) {
    const name = lower(s);
    const mpm = name === 'loadmodule' ? /^mpm_(\w+)_module$/.exec(s.args[0] ?? '') : null;
    if (mpm) {
      result.mpm.name = mpm[1]!;
      result.mpm.source = ref(s);
    }
    const limit = MPM_LIMITS[name];
    if (limit) result.mpm.limits[limit] = { value: atoi(s.args[0]), source: ref(s) };
  }
  // An MPM named in payload.modules (e.g. compiled in) when no LoadModule chose one.
  if (!result.mpm.name) {
    const loaded = payload.modules
      .map((m) => /^mpm_(\w+)_module$/.exec(m)?.[1])
      .find((m) => m !== undefined);
    if (loaded) result.mpm.name = loaded;
  }

  for (const { stmt, chain, scope } of found) {
    const name = lower(stmt);
    const isHandler = name === 'sethandler' || name === 'addhandler';
    const url = isHandler ? stmt.args[0]!.slice('proxy:'.length) : stmt.args[1]!;
    const parsed = apacheFcgiBackend(url);
    const kind = (
      isHandler
        ? name === 'sethandler'
          ? 'SetHandler'
          : 'AddHandler'
        : name === 'proxypass'
          ? 'ProxyPass'
          : 'ProxyPassMatch'
    ) as ApacheFcgiHandler['kind'];
    // SetHandler looks its worker up per request among this server's and the main server's
    // <Proxy> workers, longest URL prefix first. ProxyPass shares a <Proxy> worker of its own
    // server defined before it (its own key=value pairs are then ignored, as httpd warns);
    // ProxyPassMatch always defines its own worker (AP_PROXY_WORKER_IS_MATCH).
    const seq = order.get(stmt) ?? 0;
    const candidates =
      kind === 'ProxyPassMatch'
        ? []
        : kind === 'ProxyPass'
          ? scope.workers.filter((w) => w.proxy && w.seq < seq)
          : [...scope.workers, ...(scope.vhost ? main.workers : [])].filter((w) => w.proxy);
    const wanted = normalizeUrl(url);
    let worker: Scope['workers'][number] | undefined;
    for (const w of candidates) {
      const n = normalizeUrl(w.url);
      const longer = !worker || n.length > normalizeUrl(worker.url).length;
      if ((wanted === n || wanted.startsWith(`${n}/`)) && longer) worker = w;
    }
    const params: Record<string, ApacheSetting<string>> = {};
    for (const [k, v] of worker?.params ?? []) params[k] = v;
    if (!isHandler && !worker) {
      for (const [k, v] of keyValues(stmt.args.slice(2), ref(stmt))) params[k] = v;
    }
    let timeoutMs: ApacheFcgiHandler['timeoutMs'];
    const workerTimeout = params.timeout;
    const proxyTimeout = proxyTimeoutOf(scope);
    const ms = workerTimeout ? workerTimeoutMs(workerTimeout.value) : undefined;
    if (workerTimeout && ms === undefined)
      problems.push({
        message: `cannot read timeout=${workerTimeout.value}`,
        source: workerTimeout.source ?? ref(stmt),
      });
    if (workerTimeout && ms !== undefined)
      timeoutMs = {
        value: ms,
        ...(workerTimeout.source ? { source: workerTimeout.source } : {}),
        by: 'worker',
      };
    else if (proxyTimeout)
      timeoutMs = {
        value: proxyTimeout.value * 1000,
        ...(proxyTimeout.source ? { source: proxyTimeout.source } : {}),
        by: 'ProxyTimeout',
      };
    else {
      const t = timeoutOf(scope);
      timeoutMs = {
        value: t.value * 1000,
        ...(t.source ? { source: t.source } : {}),
        by: 'Timeout',
      };
    }
    const handler: ApacheFcgiHandler = {
      kind,
      source: ref(stmt),
      url,
      ...(isHandler
        ? name === 'addhandler'
          ? { match: stmt.args.slice(1) }
          : {}
        : { match: [stmt.args[0]!] }),
      ...(parsed?.backend ? { backend: parsed.backend } : {}),
      ...(parsed?.workerName !== undefined ? { workerName: parsed.workerName } : {}),
      contexts: chain.map((c) => ({
        kind: c.directive.slice(1),
        args: [...c.args],
        source: ref(c),
      })),
      workerParameters: params,
      timeoutMs,
    };
    const { model, issues } = modelOf(handler, result, timeoutOf(scope), proxyTimeout);
    if (model) handler.model = model;
    if (issues) handler.modelIssues = issues;
    result.handlers.push(handler);
  }
  return result;
}

function modelOf(
  h: ApacheFcgiHandler,
  settings: ApacheFpmSettings,
  timeout: ApacheSetting<number>,
  proxyTimeout: ApacheSetting<number> | undefined,
): { model?: ApacheProxyFcgiInput; issues?: string[] } {
  if (!h.backend) return { issues: [`${h.url} is not a FastCGI address fpmkit can read`] };
  const model: ApacheProxyFcgiInput = { backend: h.backend };
  if (h.workerName) model.workerName = h.workerName;
  const files = [...h.contexts].reverse().find((c) => c.kind.toLowerCase() === 'filesmatch');
  if (files?.args[0]) model.filesMatch = files.args[0];
  model.requireExistingFile = h.contexts.some(
    (c) => c.kind.toLowerCase() === 'if' && /-f\s+%\{REQUEST_FILENAME\}/.test(c.args.join(' ')),
  );
  const p = h.workerParameters;
  const seconds = (v: string | undefined) => {
    const ms = v === undefined ? undefined : parseApacheTimeoutMs(v);
    return ms === undefined ? undefined : Math.max(1, Math.ceil(ms / 1000));
  };
  const workerMs = p.timeout ? workerTimeoutMs(p.timeout.value) : undefined;
  const t = workerMs === undefined ? undefined : workerMs / 1000;
  if (t !== undefined) model.proxySetTimeoutSeconds = t;
  const c = seconds(p.connectiontimeout?.value);
  if (c !== undefined) model.connectionTimeoutSeconds = c;
  const flush = p.flushpackets?.value.toLowerCase();
  if (flush && (APACHE_FLUSH_PACKETS as readonly string[]).includes(flush))
    model.flushPackets = flush as (typeof APACHE_FLUSH_PACKETS)[number];
  if (p.enablereuse) model.enableReuse = p.enablereuse.value.toLowerCase() === 'on';
  else if (p.disablereuse) model.enableReuse = p.disablereuse.value.toLowerCase() !== 'on';
  if (p.max && /^\d+$/.test(p.max.value)) model.maxConnections = Number(p.max.value);
  if (proxyTimeout) model.proxyTimeoutSeconds = proxyTimeout.value;
  if (timeout.source) model.timeoutSeconds = timeout.value;
  if (settings.mpm.name === 'event') {
    const keys: [string, keyof ApacheMpmEvent][] = [
      ['ServerLimit', 'serverLimit'],
      ['ThreadLimit', 'threadLimit'],
      ['ThreadsPerChild', 'threadsPerChild'],
      ['MaxRequestWorkers', 'maxRequestWorkers'],
      ['StartServers', 'startServers'],
      ['MinSpareThreads', 'minSpareThreads'],
      ['MaxSpareThreads', 'maxSpareThreads'],
      ['MaxConnectionsPerChild', 'maxConnectionsPerChild'],
    ];
    const mpm: ApacheMpmEvent = {};
    for (const [name, key] of keys) {
      const v = settings.mpm.limits[name];
      if (v) mpm[key] = v.value;
    }
    if (Object.keys(mpm).length > 0) model.mpmEvent = mpm;
  }
  const checked = apacheProxyFcgiSchema.safeParse(model);
  if (!checked.success)
    return {
      issues: checked.error.issues.map((i) => `${i.path.join('.') || '(model)'}: ${i.message}`),
    };
  return { model };
}
