/**
 * The settings of a parsed nginx configuration that face PHP-FPM: every `fastcgi_pass` with its
 * `server` and `location` context and upstream, and the values nginx applies there after
 * inheritance (http → server → location → if), or nginx's defaults where nothing is set.
 * Each value says where it was set (file and line), so a finding can cite it.
 *
 * Inheritance follows the merge functions of nginx's modules: a directive set in an inner
 * block wins over the outer ones, wherever it appears in the block; `fastcgi_param` is
 * inherited as a whole list, only by blocks that set none (ngx_http_fastcgi_merge_params).
 *
 * References: https://nginx.org/en/docs/http/ngx_http_fastcgi_module.html,
 * https://nginx.org/en/docs/http/ngx_http_core_module.html, src/http/modules/
 * ngx_http_fastcgi_module.c (`ngx_http_fastcgi_merge_loc_conf`), src/core/ngx_parse.c.
 */
import {
  FASTCGI_NEXT_UPSTREAM_CONDITIONS,
  type FastCGIBackend,
  type NginxFastCGIInput,
  nginxFastCGISchema,
  STANDARD_PARAMS,
} from './nginx.js';
import { combineNginxConfig } from './nginx-config-builder.js';
import type { NginxConfigPayload, NginxDirective } from './nginx-config-parser.js';

/** nginx's defaults for what fpmkit extracts, from the merge functions named beside each. */
export const NGINX_DEFAULTS = {
  /** fastcgi_connect_timeout, fastcgi_send_timeout, fastcgi_read_timeout: 60000 ms. */
  fastcgiTimeoutMs: 60_000,
  /** fastcgi_buffer_size and the size of each fastcgi_buffers: the page size, 4k on x86-64. */
  fastcgiBufferBytes: 4096,
  /** fastcgi_buffers count: 8. */
  fastcgiBufferCount: 8,
  /** fastcgi_next_upstream: `error timeout`. */
  fastcgiNextUpstream: ['error', 'timeout'] as readonly string[],
  /** client_max_body_size: 1m (ngx_http_core_merge_loc_conf). */
  clientMaxBodySizeBytes: 1024 * 1024,
  /** client_body_timeout: 60s. */
  clientBodyTimeoutMs: 60_000,
  /** worker_processes: 1 (ngx_core_module_init_conf). */
  workerProcesses: 1,
  /** worker_connections: 512 (ngx_event_core_init_conf). */
  workerConnections: 512,
  /** upstream keepalive_timeout: 60s (ngx_http_upstream_keepalive_module). */
  upstreamKeepaliveTimeoutMs: 60_000,
  /** upstream keepalive_requests: 1000 since nginx 1.19.10 (100 before). */
  upstreamKeepaliveRequests: 1000,
} as const;

/** Where a statement is: its file and 1-based line. */
export interface NginxSourceRef {
  /** The file, as in the payload's `config[].file`. */
  file: string;
  /** 1-based line of the statement. */
  line: number;
}

/** A value with where it was set; `source` is absent when nginx's default applies. */
export interface NginxSetting<T> {
  /** The value nginx applies, in the unit the field name says. */
  value: T;
  /** The statement that set it; absent for nginx's default. */
  source?: NginxSourceRef;
}

/** A block around a `fastcgi_pass`, outermost first. */
export interface NginxContextRef {
  /** The block's directive. */
  kind: 'http' | 'server' | 'location' | 'if' | 'limit_except';
  /** The block's arguments: a location's modifier and match, an if's condition. */
  args: string[];
  /** Where the block starts. */
  source: NginxSourceRef;
}

/** One `server` line of an `upstream` block. */
export interface NginxUpstreamServer {
  /** The address as written: `unix:/run/php/fpm.sock`, `127.0.0.1:9000`. */
  address: string;
  /** The address as fpmkit's model holds it; absent when it is not one (a variable). */
  backend?: FastCGIBackend;
  /** The parameters after the address (`weight=2`, `max_fails=3`, `backup`). */
  parameters: string[];
  /** Where the `server` line is. */
  source: NginxSourceRef;
}

/** An `upstream` block. */
export interface NginxUpstream {
  /** The name `fastcgi_pass` uses. */
  name: string;
  /** Where the block starts. */
  source: NginxSourceRef;
  /** Its `server` lines, in order. */
  servers: NginxUpstreamServer[];
  /** `keepalive N`: idle connections kept per worker; absent when unset (none are kept). */
  keepalive?: NginxSetting<number>;
  /** `keepalive_timeout`, in milliseconds. @default 60000 */
  keepaliveTimeoutMs: NginxSetting<number>;
  /** `keepalive_requests`. @default 1000 */
  keepaliveRequests: NginxSetting<number>;
}

/** The values nginx applies to requests passed by one `fastcgi_pass`. */
export interface NginxFastCGIEffective {
  /** `fastcgi_connect_timeout`, in milliseconds. @default 60000 */
  connectTimeoutMs: NginxSetting<number>;
  /** `fastcgi_send_timeout`, in milliseconds. @default 60000 */
  sendTimeoutMs: NginxSetting<number>;
  /** `fastcgi_read_timeout`, in milliseconds. @default 60000 */
  readTimeoutMs: NginxSetting<number>;
  /** `fastcgi_buffer_size`, in bytes. @default 4096 */
  bufferSizeBytes: NginxSetting<number>;
  /** `fastcgi_buffers`. @default 8 buffers of 4096 bytes */
  buffers: NginxSetting<{ count: number; sizeBytes: number }>;
  /** `fastcgi_buffering`. @default true */
  buffering: NginxSetting<boolean>;
  /** `fastcgi_request_buffering`. @default true */
  requestBuffering: NginxSetting<boolean>;
  /** `fastcgi_keep_conn`. @default false */
  keepConn: NginxSetting<boolean>;
  /** `fastcgi_next_upstream`. @default ['error', 'timeout'] */
  nextUpstream: NginxSetting<string[]>;
  /** `0` in the file means no limit: `'unlimited'`. */
  clientMaxBodySizeBytes: NginxSetting<number | 'unlimited'>;
  /** `client_body_timeout`, in milliseconds. @default 60000 */
  clientBodyTimeoutMs: NginxSetting<number>;
  /** `fastcgi_param` by name, from the innermost block that sets any. */
  params: NginxSetting<Record<string, string>>;
  /** `fastcgi_split_path_info` of the location, when set. */
  splitPathInfo?: NginxSetting<string>;
  /** `try_files` of the innermost location, when set (not inherited). */
  tryFiles?: NginxSetting<string[]>;
}

/** One `fastcgi_pass` and everything nginx applies with it. */
export interface NginxFastCGIPass {
  /** Where the `fastcgi_pass` line is. */
  source: NginxSourceRef;
  /** The argument as written: an upstream name, `unix:PATH`, `HOST:PORT` or a variable. */
  target: string;
  /** The upstream block the target names. */
  upstream?: NginxUpstream;
  /** The FPM addresses reached; empty when the target is a variable or names nothing known. */
  backends: FastCGIBackend[];
  /** The enclosing `server`: its `listen` lines and names. */
  server?: { source: NginxSourceRef; listen: string[][]; serverNames: string[] };
  /** The blocks around the `fastcgi_pass`, outermost (`http`) first. */
  contexts: NginxContextRef[];
  /** The values nginx applies to requests passed here. */
  effective: NginxFastCGIEffective;
  /**
   * The same settings in fpmkit's nginx model (`renderNginxFastCGI`'s and `checkStack`'s
   * input): only values set in the files, timeouts rounded up to whole seconds. Absent when
   * the model cannot hold them; `modelIssues` says why.
   */
  model?: NginxFastCGIInput;
  /** Why `model` is absent. */
  modelIssues?: string[];
}

/** What `extractNginxFpmSettings` returns. */
export interface NginxFpmSettings {
  /** `user USER [GROUP]`; absent when unset (nginx's compiled-in user applies when run as root). */
  user?: NginxSetting<{ name: string; group?: string }>;
  /** `worker_processes`. @default 1 */
  workerProcesses: NginxSetting<number | 'auto'>;
  /** `worker_connections` (events). @default 512 */
  workerConnections: NginxSetting<number>;
  /** `worker_rlimit_nofile`; absent when unset (the service's limit applies). */
  workerRlimitNofile?: NginxSetting<number>;
  /** Every `upstream` block of `http`. */
  upstreams: NginxUpstream[];
  /** Every `fastcgi_pass` in a location (or an `if` in one), in file order. */
  passes: NginxFastCGIPass[];
  /** Values that could not be read (a malformed time or size), with where they are. */
  problems: { message: string; source: NginxSourceRef }[];
}

/** Parses an nginx time (`ngx_parse_time`): `500ms`, `30s`, `1m30s`, `2h`, `60` (seconds). */
export function parseNginxTimeMs(text: string): number | undefined {
  const units: Record<string, number> = {
    y: 31_536_000_000,
    M: 2_592_000_000,
    w: 604_800_000,
    d: 86_400_000,
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
  };
  const order = ['y', 'M', 'w', 'd', 'h', 'm', 's', 'ms'];
  const re = /(\d+)(ms|[yMwdhms])?/y;
  let total = 0;
  let last = -1;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    const unit = m[2] ?? 's';
    const rank = order.indexOf(unit);
    if (rank <= last || (m[2] === undefined && re.lastIndex !== text.length)) return undefined;
    last = rank;
    total += Number(m[1]) * units[unit]!;
    at = re.lastIndex;
  }
  return at === 0 || !Number.isSafeInteger(total) ? undefined : total;
}

/** Parses an nginx size (`ngx_parse_offset`): `512`, `8k`, `1m`, `2g`. */
export function parseNginxSizeBytes(text: string): number | undefined {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) return undefined;
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase()]!;
  const value = Number(m[1]) * scale;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Reads an nginx address (`unix:PATH`, `HOST:PORT`, `[V6]:PORT`) as fpmkit's backend. */
export function nginxAddressBackend(
  address: string,
  defaultPort?: number,
): FastCGIBackend | undefined {
  if (address.includes('$')) return undefined;
  if (address.startsWith('unix:')) {
    const path = address.slice(5);
    return path.startsWith('/') ? { socketPath: path } : undefined;
  }
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(address);
  const v4 = /^([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(address);
  const m = v6 ?? v4;
  if (!m) return undefined;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined || !(port >= 1 && port <= 65535)) return undefined;
  return { host: m[1]!, port };
}

interface Level {
  kind: string;
  stmt?: NginxDirective;
  /** Non-block statements by name, in file order. */
  byName: Map<string, NginxDirective[]>;
}

const ref = (s: NginxDirective): NginxSourceRef => ({ file: s.file ?? '', line: s.line });

function levelOf(kind: string, stmts: readonly NginxDirective[], stmt?: NginxDirective): Level {
  const byName = new Map<string, NginxDirective[]>();
  for (const s of stmts) {
    if (s.block !== undefined || s.directive === '#') continue;
    const list = byName.get(s.directive);
    if (list) list.push(s);
    else byName.set(s.directive, [s]);
  }
  return stmt ? { kind, stmt, byName } : { kind, byName };
}

/** The innermost statement named `name` in `chain`, innermost level first. */
function nearest(chain: readonly Level[], name: string): NginxDirective | undefined {
  for (let i = chain.length - 1; i >= 0; i--) {
    const list = chain[i]!.byName.get(name);
    if (list && list.length > 0) return list[list.length - 1];
  }
  return undefined;
}

type Problems = NginxFpmSettings['problems'];

function setting<T>(
  chain: readonly Level[],
  name: string,
  fallback: T,
  read: (args: string[]) => T | undefined,
  problems: Problems,
): NginxSetting<T> {
  const s = nearest(chain, name);
  if (!s) return { value: fallback };
  const value = read(s.args);
  if (value === undefined) {
    problems.push({ message: `cannot read ${name} ${s.args.join(' ')}`, source: ref(s) });
    return { value: fallback };
  }
  return { value, source: ref(s) };
}

const time = (a: string[]) => (a.length === 1 ? parseNginxTimeMs(a[0]!) : undefined);
const flag = (a: string[]) => (a[0] === 'on' ? true : a[0] === 'off' ? false : undefined);
const size = (a: string[]) => (a.length === 1 ? parseNginxSizeBytes(a[0]!) : undefined);

function effectiveOf(chain: readonly Level[], problems: Problems): NginxFastCGIEffective {
  const d = NGINX_DEFAULTS;
  const params = (() => {
    for (let i = chain.length - 1; i >= 0; i--) {
      const list = chain[i]!.byName.get('fastcgi_param');
      if (!list || list.length === 0) continue;
      const value: Record<string, string> = {};
      for (const p of list) if (p.args.length >= 2) value[p.args[0]!] = p.args[1]!;
      return { value, source: ref(list[0]!) };
    }
    return { value: {} };
  })();
  const effective: NginxFastCGIEffective = {
    connectTimeoutMs: setting(chain, 'fastcgi_connect_timeout', d.fastcgiTimeoutMs, time, problems),
    sendTimeoutMs: setting(chain, 'fastcgi_send_timeout', d.fastcgiTimeoutMs, time, problems),
    readTimeoutMs: setting(chain, 'fastcgi_read_timeout', d.fastcgiTimeoutMs, time, problems),
    bufferSizeBytes: setting(chain, 'fastcgi_buffer_size', d.fastcgiBufferBytes, size, problems),
    buffers: setting(
      chain,
      'fastcgi_buffers',
      { count: d.fastcgiBufferCount, sizeBytes: d.fastcgiBufferBytes },
      (a) => {
        const count = a.length === 2 && /^\d+$/.test(a[0]!) ? Number(a[0]) : undefined;
        const each = a.length === 2 ? parseNginxSizeBytes(a[1]!) : undefined;
        return count !== undefined && each !== undefined ? { count, sizeBytes: each } : undefined;
      },
      problems,
    ),
    buffering: setting(chain, 'fastcgi_buffering', true, flag, problems),
    requestBuffering: setting(chain, 'fastcgi_request_buffering', true, flag, problems),
    keepConn: setting(chain, 'fastcgi_keep_conn', false, flag, problems),
    nextUpstream: setting(
      chain,
      'fastcgi_next_upstream',
      [...d.fastcgiNextUpstream],
      (a) => (a.length > 0 ? a : undefined),
      problems,
    ),
    clientMaxBodySizeBytes: setting<number | 'unlimited'>(
      chain,
      'client_max_body_size',
      d.clientMaxBodySizeBytes,
      (a) => {
        const v = size(a);
        return v === 0 ? 'unlimited' : v;
      },
      problems,
    ),
    clientBodyTimeoutMs: setting(
      chain,
      'client_body_timeout',
      d.clientBodyTimeoutMs,
      time,
      problems,
    ),
    params,
  };
  // Location-only directives: not inherited from outer blocks.
  const location = [...chain].reverse().find((l) => l.kind === 'location');
  const split = location?.byName.get('fastcgi_split_path_info')?.at(-1);
  if (split?.args[0] !== undefined)
    effective.splitPathInfo = { value: split.args[0], source: ref(split) };
  const tryFiles = location?.byName.get('try_files')?.at(-1);
  if (tryFiles) effective.tryFiles = { value: [...tryFiles.args], source: ref(tryFiles) };
  return effective;
}

function upstreamOf(stmt: NginxDirective, problems: Problems): NginxUpstream {
  const level = levelOf('upstream', stmt.block ?? []);
  const chain = [level];
  const servers: NginxUpstreamServer[] = (level.byName.get('server') ?? []).map((s) => {
    const address = s.args[0] ?? '';
    const backend = nginxAddressBackend(address, 80);
    return {
      address,
      ...(backend ? { backend } : {}),
      parameters: s.args.slice(1),
      source: ref(s),
    };
  });
  const up: NginxUpstream = {
    name: stmt.args[0] ?? '',
    source: ref(stmt),
    servers,
    keepaliveTimeoutMs: setting(
      chain,
      'keepalive_timeout',
      NGINX_DEFAULTS.upstreamKeepaliveTimeoutMs,
      time,
      problems,
    ),
    keepaliveRequests: setting(
      chain,
      'keepalive_requests',
      NGINX_DEFAULTS.upstreamKeepaliveRequests,
      (a) => (a.length === 1 && /^\d+$/.test(a[0]!) ? Number(a[0]) : undefined),
      problems,
    ),
  };
  const keepalive = level.byName.get('keepalive')?.at(-1);
  if (keepalive) {
    const n = /^\d+$/.test(keepalive.args[0] ?? '') ? Number(keepalive.args[0]) : undefined;
    if (n === undefined)
      problems.push({
        message: `cannot read keepalive ${keepalive.args.join(' ')}`,
        source: ref(keepalive),
      });
    else up.keepalive = { value: n, source: ref(keepalive) };
  }
  return up;
}

const wholeSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** fpmkit's nginx model of a pass: only what the files set; undefined with reasons otherwise. */
function modelOf(
  pass: Omit<NginxFastCGIPass, 'model' | 'modelIssues'>,
  main: Pick<NginxFpmSettings, 'workerProcesses' | 'workerConnections' | 'workerRlimitNofile'>,
): { model?: NginxFastCGIInput; issues?: string[] } {
  if (pass.backends.length === 0) {
    return { issues: [`fastcgi_pass ${pass.target} names no FPM address fpmkit can read`] };
  }
  const e = pass.effective;
  const up = pass.upstream;
  const model: NginxFastCGIInput = {
    upstream: {
      name: up && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(up.name) ? up.name : 'php_fpm',
      servers: pass.backends,
      ...(up?.keepalive ? { keepalive: up.keepalive.value } : {}),
      ...(up?.keepaliveTimeoutMs.source
        ? { keepaliveTimeoutSeconds: wholeSeconds(up.keepaliveTimeoutMs.value) }
        : {}),
      ...(up?.keepaliveRequests.source ? { keepaliveRequests: up.keepaliveRequests.value } : {}),
    },
    standardParams: false,
    tryFilesGuard: e.tryFiles !== undefined && e.tryFiles.value.at(-1) === '=404',
  };
  const params = { ...e.params.value };
  // Standard CGI parameters set as fpmkit's renderer writes them (Debian's fastcgi_params sets
  // them all) are `standardParams`, not extra parameters: their values reference request
  // variables by design, which the model refuses in `params`.
  for (const [name, value] of STANDARD_PARAMS) {
    if (params[name] !== value) continue;
    delete params[name];
    model.standardParams = true;
  }
  if (params.SCRIPT_FILENAME !== undefined) {
    model.scriptFilename = params.SCRIPT_FILENAME;
    delete params.SCRIPT_FILENAME;
  }
  model.params = params;
  const location = [...pass.contexts].reverse().find((c) => c.kind === 'location');
  if (location && (location.args[0] === '~' || location.args[0] === '~*') && location.args[1]) {
    model.locationRegex = location.args[1];
  }
  if (e.splitPathInfo) model.splitPathInfo = e.splitPathInfo.value;
  if (e.connectTimeoutMs.source)
    model.connectTimeoutSeconds = wholeSeconds(e.connectTimeoutMs.value);
  if (e.sendTimeoutMs.source) model.sendTimeoutSeconds = wholeSeconds(e.sendTimeoutMs.value);
  if (e.readTimeoutMs.source) model.readTimeoutSeconds = wholeSeconds(e.readTimeoutMs.value);
  if (e.requestBuffering.source) model.requestBuffering = e.requestBuffering.value;
  if (e.buffering.source) model.buffering = e.buffering.value;
  if (e.buffers.source) model.buffers = e.buffers.value;
  if (e.bufferSizeBytes.source) model.bufferSizeBytes = e.bufferSizeBytes.value;
  if (e.keepConn.source) model.keepConn = e.keepConn.value;
  if (e.nextUpstream.source) {
    const v = e.nextUpstream.value;
    const known = v.filter((c): c is (typeof FASTCGI_NEXT_UPSTREAM_CONDITIONS)[number] =>
      (FASTCGI_NEXT_UPSTREAM_CONDITIONS as readonly string[]).includes(c),
    );
    model.nextUpstream = v.includes('off') ? 'off' : known;
  }
  if (e.clientMaxBodySizeBytes.source)
    model.clientMaxBodySizeBytes = e.clientMaxBodySizeBytes.value;
  if (e.clientBodyTimeoutMs.source)
    model.clientBodyTimeoutSeconds = wholeSeconds(e.clientBodyTimeoutMs.value);
  if (main.workerProcesses.source) model.workerProcesses = main.workerProcesses.value;
  if (main.workerConnections.source) model.workerConnections = main.workerConnections.value;
  if (main.workerRlimitNofile) model.workerRlimitNofile = main.workerRlimitNofile.value;
  const checked = nginxFastCGISchema.safeParse(model);
  if (!checked.success) {
    return {
      issues: checked.error.issues.map((i) => `${i.path.join('.') || '(model)'}: ${i.message}`),
    };
  }
  return { model };
}

const CONTEXT_KINDS = new Set(['http', 'server', 'location', 'if', 'limit_except']);

/**
 * Extracts what faces PHP-FPM from a parsed nginx configuration (`parseNginxConfig`,
 * `parseNginxDump`): the worker settings, the upstreams, and every `fastcgi_pass` with the
 * values nginx applies there. Pure; never throws on a well-formed payload (values it cannot
 * read are listed in `problems` and their defaults used).
 */
export function extractNginxFpmSettings(payload: NginxConfigPayload): NginxFpmSettings {
  const root = combineNginxConfig(payload).config[0]!.parsed;
  const problems: Problems = [];
  const mainLevel = levelOf('main', root);
  const mainChain = [mainLevel];
  const events = root.find((s) => s.directive === 'events' && s.block);
  const userStmt = nearest(mainChain, 'user');
  const result: NginxFpmSettings = {
    ...(userStmt?.args[0]
      ? {
          user: {
            value: {
              name: userStmt.args[0],
              ...(userStmt.args[1] ? { group: userStmt.args[1] } : {}),
            },
            source: ref(userStmt),
          },
        }
      : {}),
    workerProcesses: setting<number | 'auto'>(
      mainChain,
      'worker_processes',
      NGINX_DEFAULTS.workerProcesses,
      (a) => (a[0] === 'auto' ? 'auto' : /^\d+$/.test(a[0] ?? '') ? Number(a[0]) : undefined),
      problems,
    ),
    workerConnections: setting(
      [levelOf('events', events?.block ?? [])],
      'worker_connections',
      NGINX_DEFAULTS.workerConnections,
      (a) => (/^\d+$/.test(a[0] ?? '') ? Number(a[0]) : undefined),
      problems,
    ),
    upstreams: [],
    passes: [],
    problems,
  };
  const rlimit = nearest(mainChain, 'worker_rlimit_nofile');
  if (rlimit && /^\d+$/.test(rlimit.args[0] ?? '')) {
    result.workerRlimitNofile = { value: Number(rlimit.args[0]), source: ref(rlimit) };
  }
  const found: { stmt: NginxDirective; chain: Level[] }[] = [];
  const walk = (stmts: readonly NginxDirective[], chain: Level[]) => {
    for (const s of stmts) {
      if (
        s.directive === 'fastcgi_pass' &&
        !s.block &&
        chain.some((l) => l.kind === 'location' || l.kind === 'if')
      ) {
        found.push({ stmt: s, chain });
      }
      if (!s.block) continue;
      if (s.directive === 'upstream' && chain.at(-1)?.kind === 'http') {
        result.upstreams.push(upstreamOf(s, problems));
      } else if (CONTEXT_KINDS.has(s.directive)) {
        walk(s.block, [...chain, levelOf(s.directive, s.block, s)]);
      }
    }
  };
  walk(root, mainChain);
  for (const { stmt, chain } of found) {
    const target = stmt.args[0] ?? '';
    const upstream = target.includes('$')
      ? undefined
      : result.upstreams.find((u) => u.name === target);
    const direct = upstream ? undefined : nginxAddressBackend(target);
    const backends = upstream
      ? upstream.servers.flatMap((s) => (s.backend ? [s.backend] : []))
      : direct
        ? [direct]
        : [];
    const serverLevel = chain.find((l) => l.kind === 'server');
    const pass: Omit<NginxFastCGIPass, 'model' | 'modelIssues'> = {
      source: ref(stmt),
      target,
      ...(upstream ? { upstream } : {}),
      backends,
      ...(serverLevel?.stmt
        ? {
            server: {
              source: ref(serverLevel.stmt),
              listen: (serverLevel.byName.get('listen') ?? []).map((l) => [...l.args]),
              serverNames: (serverLevel.byName.get('server_name') ?? []).flatMap((l) => l.args),
            },
          }
        : {}),
      contexts: chain
        .filter((l) => l.stmt !== undefined)
        .map((l) => ({
          kind: l.kind as NginxContextRef['kind'],
          args: [...l.stmt!.args],
          source: ref(l.stmt!),
        })),
      effective: effectiveOf(chain, problems),
    };
    const { model, issues } = modelOf(pass, result);
    result.passes.push({
      ...pass,
      ...(model ? { model } : {}),
      ...(issues ? { modelIssues: issues } : {}),
    });
  }
  return result;
}

/** @deprecated Use {@link NginxFastCGIEffective}. */
export type NginxFastcgiEffective = NginxFastCGIEffective;
/** @deprecated Use {@link NginxFastCGIPass}. */
export type NginxFastcgiPass = NginxFastCGIPass;
