/**
 * The nginx settings that touch PHP-FPM, and their rendering: an `upstream` block, the PHP
 * `location` with `fastcgi_pass`, the FastCGI parameters, timeouts and buffering, and status and
 * ping locations reachable only from listed addresses.
 *
 * Reference: https://nginx.org/en/docs/http/ngx_http_fastcgi_module.html
 */

import { z } from 'zod';
import { NGINX_DEFAULT_BUFFER_BYTES, NGINX_DEFAULT_BUFFER_COUNT } from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import {
  bytes,
  formatHostPort,
  hostSchema,
  isIpOrCidr,
  parseSettings,
  portSchema,
  safeString,
  seconds,
  UNIX_PATH_MAX_BYTES,
} from './syntax.js';

/**
 * Characters refused in values nginx reads between double quotes. Inside quotes `;`, `{`, `}`
 * and `#` are plain text; a `"` would end the value and a `\` escapes the next character.
 */
const NGINX_QUOTED_FORBIDDEN = '"\\';

/** A string rendered between double quotes in nginx syntax. */
const nginxString = () => safeString('nginx', NGINX_QUOTED_FORBIDDEN);

/**
 * A file or socket path. nginx substitutes variables on every request in some paths (`root`,
 * `access_log`), so a `$http_x` there lets each client choose the path; `$` is refused in all
 * of them, one rule for every path field.
 */
const nginxPath = () =>
  safeString('nginx', `${NGINX_QUOTED_FORBIDDEN}$`, {
    $: 'nginx substitutes variables in paths, so a request could choose the path',
  });

/**
 * An `include` path. nginx reads a path holding `*`, `?` or `[` as a glob pattern: it includes
 * every matching file, or none at all without an error.
 */
const nginxIncludePath = () =>
  safeString('nginx', `${NGINX_QUOTED_FORBIDDEN}$*?[`, {
    $: 'nginx substitutes variables in paths, so a request could choose the path',
    '*': 'nginx reads the path as a glob pattern and includes other files, or none',
    '?': 'nginx reads the path as a glob pattern and includes other files, or none',
    '[': 'nginx reads the path as a glob pattern and includes other files, or none',
  });

/**
 * Variables a `scriptFilename` or `params` value may reference: what nginx derives from its own
 * configuration, the connection or the normalized request path. Variables a client sets freely
 * (`$http_*`, `$arg_*`, `$cookie_*`, `$args`, `$request_uri`, ...) are refused, since a value
 * built from them lets each request choose the script, a path or a PHP setting.
 */
export const NGINX_EXPRESSION_VARIABLES = [
  'document_root',
  'realpath_root',
  'fastcgi_script_name',
  'fastcgi_path_info',
  'document_uri',
  'uri',
  'request_method',
  'scheme',
  'https',
  'host',
  'server_name',
  'server_addr',
  'server_port',
  'server_protocol',
  'remote_addr',
  'remote_port',
  'request_id',
  'nginx_version',
] as const;
const EXPRESSION_VARIABLES: ReadonlySet<string> = new Set(NGINX_EXPRESSION_VARIABLES);

/**
 * The first variable reference of an nginx value that is not allowed, as written (`$http_x`,
 * `${arg_a}`, or a bare `$`), following nginx's script compiler: `$` then `{NAME}` or a run of
 * letters, digits and `_`.
 */
function disallowedVariable(value: string): string | undefined {
  for (let at = value.indexOf('$'); at !== -1; at = value.indexOf('$', at + 1)) {
    const braced = value[at + 1] === '{';
    const match = braced
      ? /^\$\{([A-Za-z0-9_]*)\}/.exec(value.slice(at))
      : /^\$([A-Za-z0-9_]*)/.exec(value.slice(at));
    const name = match?.[1] ?? '';
    if (name === '' || !EXPRESSION_VARIABLES.has(name))
      return match ? match[0] : value.slice(at, at + 2);
  }
  return undefined;
}

/**
 * A value nginx evaluates (`fastcgi_param`): nginx variables may be used, only those listed in
 * `NGINX_EXPRESSION_VARIABLES`.
 */
const nginxExpression = () =>
  nginxString().superRefine((value, ctx) => {
    const variable = disallowedVariable(value);
    if (variable !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `must not reference '${variable}': nginx substitutes it on every request; allowed variables are ${NGINX_EXPRESSION_VARIABLES.map((v) => `$${v}`).join(', ')} (nginx has no escape for a literal '$')`,
      });
    }
  });

/**
 * A regular expression rendered between double quotes. Backslashes are needed (`\.php$`), but
 * nginx turns `\"`, `\'`, `\\`, `\t`, `\r` and `\n` into other characters while reading the
 * file, so those pairs and a trailing backslash are refused.
 */
const nginxRegex = () =>
  safeString('nginx', '"').superRefine((value, ctx) => {
    if (/\\(["'\\tnr]|$)/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must not contain \\", \\\', \\\\, \\t, \\r, \\n or end with a backslash (nginx rewrites those escapes)',
      });
      return;
    }
    try {
      new RegExp(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid regular expression' });
    }
  });

/** An absolute UNIX socket path as nginx's `unix:` URLs take it. */
const socketPathSchema = nginxPath()
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(
    (p) => Buffer.byteLength(p) <= UNIX_PATH_MAX_BYTES,
    `must be at most ${UNIX_PATH_MAX_BYTES} bytes (the kernel's sun_path limit)`,
  );

/** Where FPM listens: a UNIX socket or a TCP address. */
export const fastcgiBackendSchema = z.union([
  z.strictObject({ socketPath: socketPathSchema }),
  z.strictObject({ host: hostSchema, port: portSchema }),
]);
/** The FPM listen address as nginx's `fastcgi_pass` reaches it. */
export type FastCGIBackend = z.infer<typeof fastcgiBackendSchema>;

/** Conditions of `fastcgi_next_upstream` (besides `off`). */
export const FASTCGI_NEXT_UPSTREAM_CONDITIONS = [
  'error',
  'timeout',
  'invalid_header',
  'http_500',
  'http_503',
  'http_403',
  'http_404',
  'http_429',
  'non_idempotent',
] as const;
/** A condition of `fastcgi_next_upstream` (besides `off`). */
export type FastCGINextUpstreamCondition = (typeof FASTCGI_NEXT_UPSTREAM_CONDITIONS)[number];

/** An nginx `allow` address: IPv4 or IPv6, with an optional CIDR prefix, or `unix:`. */
const allowAddressSchema = z
  .string()
  .refine(
    (a) => a === 'unix:' || isIpOrCidr(a),
    "must be an IPv4 or IPv6 address with an optional /prefix, or 'unix:'",
  );

/**
 * A path FPM accepts for `pm.status_path` and `ping.path`: starts with `/`, then only letters,
 * digits and `/_-.~`, already normalized. nginx matches it exactly (`location = PATH`).
 */
const fpmPathSchema = z
  .string()
  .regex(/^\/[A-Za-z0-9/_\-.~]*$/, "must start with '/' and contain only [alphanum]/_-.~")
  .refine(
    (p) => !/\/\/|\/\.\.?(?:\/|$)/.test(p),
    "must not contain '//', '/./' or '/../' (nginx matches the normalized URI, so such a location is never reached)",
  );

/** A status or ping location: the path FPM answers on and who may reach it. */
export const nginxRestrictedLocationSchema = z.strictObject({
  /** Exact path, the same as the pool's `pm.status_path` or `ping.path`. */
  path: fpmPathSchema,
  /** Addresses allowed (`allow ADDR;` each, then `deny all;`). At least one. */
  allow: z.array(allowAddressSchema).min(1, 'must list at least one address'),
});
/** A location (e.g. the status page) allowed only from the listed addresses. */
export type NginxRestrictedLocation = z.infer<typeof nginxRestrictedLocationSchema>;

export { NGINX_DEFAULT_BUFFER_BYTES, NGINX_DEFAULT_BUFFER_COUNT };

/** nginx's default `fastcgi_max_temp_file_size` (1024m); a buffer must not exceed it. */
const NGINX_MAX_TEMP_FILE_BYTES = 1024 * 1024 * 1024;

const paramNameSchema = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be letters, digits and underscores');

/** A `fastcgi_param` value; empty is allowed (`HTTP_PROXY ""` clears a header). */
const paramValueSchema = z.string().superRefine((value, ctx) => {
  if (value === '') return;
  const result = nginxExpression().safeParse(value);
  if (!result.success) ctx.addIssue({ code: 'custom', message: result.error.issues[0]!.message });
});

/** The nginx side of one FPM pool. Times in seconds, sizes in bytes. */
export const nginxFastCGISchema = z
  .strictObject({
    upstream: z.strictObject({
      /** Name of the `upstream` block and of `fastcgi_pass`. @default 'php_fpm' */
      name: z
        .string()
        .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'must be letters, digits, `_`, `.` and `-`')
        .default('php_fpm'),
      /** FPM listen addresses; more than one spreads requests over several pools. */
      servers: z.array(fastcgiBackendSchema).min(1, 'must list at least one server'),
      /** Idle connections each nginx worker keeps open (`keepalive`); needs `keepConn`. */
      keepalive: z.number().int().min(1).optional(),
      /** `keepalive_timeout`: how long an idle kept connection stays open. */
      keepaliveTimeoutSeconds: seconds(1).optional(),
      /** `keepalive_requests`: requests served over one kept connection. */
      keepaliveRequests: z.number().int().min(1).optional(),
    }),
    /**
     * Regex of the PHP `location ~ ...`. @default `[^/]\.php(/|$)` with `splitPathInfo`,
     * else `\.php$`
     */
    locationRegex: nginxRegex().optional(),
    /** `fastcgi_split_path_info` regex with two captures, e.g. `^(.+?\.php)(/.*)$`. */
    splitPathInfo: nginxRegex().optional(),
    /** Answer 404 for scripts that do not exist instead of passing them to FPM. @default true */
    tryFilesGuard: z.boolean().default(true),
    /**
     * `SCRIPT_FILENAME`, an nginx value: it may use the variables of
     * `NGINX_EXPRESSION_VARIABLES`, no others. @default '$document_root$fastcgi_script_name'
     */
    scriptFilename: nginxExpression().default('$document_root$fastcgi_script_name'),
    /** Write the standard CGI parameters (QUERY_STRING, REQUEST_METHOD, ...). @default true */
    standardParams: z.boolean().default(true),
    /**
     * A file of `fastcgi_param` lines to `include` first, e.g. `fastcgi_params`; without `$`
     * and the glob characters `*`, `?`, `[`.
     */
    include: nginxIncludePath().optional(),
    /**
     * Extra or overriding parameters, by name. Values are nginx values: they may use the
     * variables of `NGINX_EXPRESSION_VARIABLES`, no others.
     */
    params: z.record(paramNameSchema, paramValueSchema).default({}),
    connectTimeoutSeconds: seconds(1).optional(),
    sendTimeoutSeconds: seconds(1).optional(),
    readTimeoutSeconds: seconds(1).optional(),
    /** `fastcgi_request_buffering`: read the whole body before passing it to FPM. */
    requestBuffering: z.boolean().optional(),
    /** `fastcgi_buffering`: buffer FPM's response. */
    buffering: z.boolean().optional(),
    /** `fastcgi_buffers COUNT SIZE`. */
    buffers: z
      .strictObject({
        count: z.number().int().min(2, 'nginx needs at least 2 buffers').max(1_000_000),
        sizeBytes: bytes(1).max(NGINX_MAX_TEMP_FILE_BYTES),
      })
      .optional(),
    /** `fastcgi_buffer_size`: the buffer for the response headers. */
    bufferSizeBytes: bytes(1).max(NGINX_MAX_TEMP_FILE_BYTES).optional(),
    /** `fastcgi_keep_conn`: keep the FastCGI connection open (needed by `upstream.keepalive`). */
    keepConn: z.boolean().optional(),
    /** `fastcgi_next_upstream`: `'off'` or the conditions that try the next server. */
    nextUpstream: z
      .union([z.literal('off'), z.array(z.enum(FASTCGI_NEXT_UPSTREAM_CONDITIONS)).min(1)])
      .optional(),
    /** `client_max_body_size`; `'unlimited'` renders `0`. */
    clientMaxBodySizeBytes: z.union([bytes(1), z.literal('unlimited')]).optional(),
    clientBodyTimeoutSeconds: seconds(1).optional(),
    /** `worker_processes` (main context). */
    workerProcesses: z.union([z.number().int().min(1), z.literal('auto')]).optional(),
    /** `worker_connections` (events context). */
    workerConnections: z.number().int().min(1).optional(),
    /** `worker_rlimit_nofile` (main context). */
    workerRlimitNofile: z.number().int().min(1).optional(),
    /** `location = PATH` for FPM's status page. */
    status: nginxRestrictedLocationSchema.optional(),
    /** `location = PATH` for FPM's ping page. */
    ping: nginxRestrictedLocationSchema.optional(),
  })
  .superRefine((s, ctx) => {
    // nginx -t's rules for the defaults of fastcgi_busy_buffers_size (twice the larger buffer):
    // it must not exceed all buffers but one.
    const count = s.buffers?.count ?? NGINX_DEFAULT_BUFFER_COUNT;
    const each = s.buffers?.sizeBytes ?? NGINX_DEFAULT_BUFFER_BYTES;
    const largest = Math.max(s.bufferSizeBytes ?? NGINX_DEFAULT_BUFFER_BYTES, each);
    if (2 * largest > (count - 1) * each) {
      ctx.addIssue({
        code: 'custom',
        path: s.buffers ? ['buffers'] : ['bufferSizeBytes'],
        message: `twice the larger of fastcgi_buffer_size and one buffer (${2 * largest} bytes) must not exceed all fastcgi_buffers but one (${(count - 1) * each} bytes), or nginx -t fails`,
      });
    }
    if (s.status && s.ping && s.status.path === s.ping.path) {
      ctx.addIssue({
        code: 'custom',
        path: ['ping', 'path'],
        message: 'must differ from status.path (nginx refuses duplicate locations)',
      });
    }
  });

/** What `renderNginxFastCGI` accepts: defaults may be left out. */
export type NginxFastCGIInput = z.input<typeof nginxFastCGISchema>;
/** The nginx model with defaults applied. */
export type NginxFastCGISettings = z.infer<typeof nginxFastCGISchema>;

/** Snippets for each nginx context; each ends with a newline, or is empty. */
export interface RenderedNginxFastCGI {
  /** Main context: `worker_processes`, `worker_rlimit_nofile`. */
  main: string;
  /** Inside `events {}`: `worker_connections`. */
  events: string;
  /** The `upstream` block, for the `http` context. */
  upstream: string;
  /** The PHP `location` block, for a `server` block. */
  phpLocation: string;
  /** The status `location`, when `status` is set. */
  statusLocation: string;
  /** The ping `location`, when `ping` is set. */
  pingLocation: string;
  /** Everything for the `http` context (the upstream). */
  http: string;
  /** Everything for a `server` block: the PHP, status and ping locations. */
  server: string;
}

/** Standard CGI/1.1 parameters PHP reads, each a nginx variable or constant. */
export const STANDARD_PARAMS: readonly (readonly [string, string])[] = [
  ['QUERY_STRING', '$query_string'],
  ['REQUEST_METHOD', '$request_method'],
  ['CONTENT_TYPE', '$content_type'],
  ['CONTENT_LENGTH', '$content_length'],
  ['SCRIPT_NAME', '$fastcgi_script_name'],
  ['REQUEST_URI', '$request_uri'],
  ['DOCUMENT_URI', '$document_uri'],
  ['DOCUMENT_ROOT', '$document_root'],
  ['SERVER_PROTOCOL', '$server_protocol'],
  ['REQUEST_SCHEME', '$scheme'],
  ['GATEWAY_INTERFACE', 'CGI/1.1'],
  ['SERVER_SOFTWARE', 'nginx/$nginx_version'],
  ['REMOTE_ADDR', '$remote_addr'],
  ['REMOTE_PORT', '$remote_port'],
  ['SERVER_ADDR', '$server_addr'],
  ['SERVER_PORT', '$server_port'],
  ['SERVER_NAME', '$server_name'],
  // PHP built with force-cgi-redirect refuses requests without it.
  ['REDIRECT_STATUS', '200'],
];

/** Variable that keeps `$fastcgi_path_info`, which `try_files` would otherwise reset. */
const PATH_INFO_VARIABLE = '$fpmkit_path_info';

/** Formats bytes as an nginx size (`8k`, `1m`), using the largest exact unit. */
export function formatNginxSize(sizeBytes: number): string {
  if (sizeBytes !== 0 && sizeBytes % (1024 * 1024) === 0) return `${sizeBytes / (1024 * 1024)}m`;
  if (sizeBytes !== 0 && sizeBytes % 1024 === 0) return `${sizeBytes / 1024}k`;
  return String(sizeBytes);
}

/** Formats seconds as an nginx time, e.g. `60s`. */
export function formatNginxSeconds(value: number): string {
  return `${value}s`;
}

const q = (value: string) => `"${value}"`;
const onOff = (value: boolean) => (value ? 'on' : 'off');

function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

function block(head: string, lines: readonly string[]): string {
  return `${head} {\n${lines.map((l) => indent(l)).join('\n')}\n}\n`;
}

/** The directives every FastCGI location carries: pass, timeouts, buffering, parameters. */
function fastcgiLines(s: NginxFastCGISettings, pathInfo: boolean): string[] {
  const lines: string[] = [];
  if (s.include !== undefined) lines.push(`include ${q(s.include)};`);
  const params = new Map<string, string>();
  if (s.standardParams) for (const [name, value] of STANDARD_PARAMS) params.set(name, value);
  params.set('SCRIPT_FILENAME', s.scriptFilename);
  if (pathInfo) params.set('PATH_INFO', PATH_INFO_VARIABLE);
  for (const [name, value] of Object.entries(s.params)) params.set(name, value);
  for (const [name, value] of params) lines.push(`fastcgi_param ${name} ${q(value)};`);
  // HTTPS is only sent when set, as PHP tests it with !empty().
  if (s.standardParams && !('HTTPS' in s.params)) {
    lines.push('fastcgi_param HTTPS $https if_not_empty;');
  }
  if (s.connectTimeoutSeconds !== undefined)
    lines.push(`fastcgi_connect_timeout ${formatNginxSeconds(s.connectTimeoutSeconds)};`);
  if (s.sendTimeoutSeconds !== undefined)
    lines.push(`fastcgi_send_timeout ${formatNginxSeconds(s.sendTimeoutSeconds)};`);
  if (s.readTimeoutSeconds !== undefined)
    lines.push(`fastcgi_read_timeout ${formatNginxSeconds(s.readTimeoutSeconds)};`);
  if (s.requestBuffering !== undefined)
    lines.push(`fastcgi_request_buffering ${onOff(s.requestBuffering)};`);
  if (s.buffering !== undefined) lines.push(`fastcgi_buffering ${onOff(s.buffering)};`);
  if (s.buffers !== undefined)
    lines.push(`fastcgi_buffers ${s.buffers.count} ${formatNginxSize(s.buffers.sizeBytes)};`);
  if (s.bufferSizeBytes !== undefined)
    lines.push(`fastcgi_buffer_size ${formatNginxSize(s.bufferSizeBytes)};`);
  if (s.keepConn !== undefined) lines.push(`fastcgi_keep_conn ${onOff(s.keepConn)};`);
  if (s.nextUpstream !== undefined) {
    const value = s.nextUpstream === 'off' ? 'off' : [...new Set(s.nextUpstream)].join(' ');
    lines.push(`fastcgi_next_upstream ${value};`);
  }
  lines.push(`fastcgi_pass ${s.upstream.name};`);
  return lines;
}

function restrictedLocation(s: NginxFastCGISettings, loc: NginxRestrictedLocation): string {
  return block(`location = ${loc.path}`, [
    ...loc.allow.map((a) => `allow ${a};`),
    'deny all;',
    ...fastcgiLines(s, false),
  ]);
}

/**
 * Renders the nginx parts of an FPM pool. Drop `http` (the upstream) into the `http` block and
 * `server` (the locations) into a `server` block; `main` and `events` carry the worker limits.
 * Throws `FpmkitInvalidOptionError` naming the option when a value breaks the schema or could
 * add a directive or a block.
 */
export function renderNginxFastCGI(input: NginxFastCGIInput): RenderedNginxFastCGI {
  // zod drops an own `__proto__` key of a record silently; refuse it rather than lose it.
  const params: unknown = (input as { params?: unknown } | null)?.params;
  if (typeof params === 'object' && params !== null && Object.hasOwn(params, '__proto__')) {
    throw new FpmkitInvalidOptionError(
      'params.__proto__',
      "a parameter must not be named '__proto__'",
    );
  }
  const s = parseSettings(nginxFastCGISchema, input);
  const main: string[] = [];
  if (s.workerProcesses !== undefined) main.push(`worker_processes ${s.workerProcesses};`);
  if (s.workerRlimitNofile !== undefined)
    main.push(`worker_rlimit_nofile ${s.workerRlimitNofile};`);
  const events =
    s.workerConnections !== undefined ? `worker_connections ${s.workerConnections};\n` : '';

  const up: string[] = s.upstream.servers.map((server) =>
    'socketPath' in server
      ? `server ${q(`unix:${server.socketPath}`)};`
      : `server ${formatHostPort(server.host, server.port)};`,
  );
  if (s.upstream.keepalive !== undefined) up.push(`keepalive ${s.upstream.keepalive};`);
  if (s.upstream.keepaliveTimeoutSeconds !== undefined)
    up.push(`keepalive_timeout ${formatNginxSeconds(s.upstream.keepaliveTimeoutSeconds)};`);
  if (s.upstream.keepaliveRequests !== undefined)
    up.push(`keepalive_requests ${s.upstream.keepaliveRequests};`);
  const upstream = block(`upstream ${s.upstream.name}`, up);

  const split = s.splitPathInfo !== undefined;
  const regex = s.locationRegex ?? (split ? '[^/]\\.php(/|$)' : '\\.php$');
  const php: string[] = [];
  if (split) {
    php.push(`fastcgi_split_path_info ${q(s.splitPathInfo!)};`);
    php.push(`set ${PATH_INFO_VARIABLE} $fastcgi_path_info;`);
  }
  if (s.tryFilesGuard) php.push('try_files $fastcgi_script_name =404;');
  if (s.clientMaxBodySizeBytes !== undefined) {
    const size = s.clientMaxBodySizeBytes === 'unlimited' ? 0 : s.clientMaxBodySizeBytes;
    php.push(`client_max_body_size ${formatNginxSize(size)};`);
  }
  if (s.clientBodyTimeoutSeconds !== undefined)
    php.push(`client_body_timeout ${formatNginxSeconds(s.clientBodyTimeoutSeconds)};`);
  php.push(...fastcgiLines(s, split));
  const phpLocation = block(`location ~ ${q(regex)}`, php);
  const statusLocation = s.status ? restrictedLocation(s, s.status) : '';
  const pingLocation = s.ping ? restrictedLocation(s, s.ping) : '';

  return {
    main: main.map((l) => `${l}\n`).join(''),
    events,
    upstream,
    phpLocation,
    statusLocation,
    pingLocation,
    http: upstream,
    server: [statusLocation, pingLocation, phpLocation].filter((x) => x !== '').join('\n'),
  };
}

/** Options of `renderNginxConf`: the parts of a complete nginx.conf that are not about FPM. */
export const nginxConfOptionsSchema = z.strictObject({
  /** `listen` of the server: a port, or `address:port`. @default 8080 */
  listen: z
    .union([
      portSchema,
      z
        .string()
        .regex(
          /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
          'must be PORT or ADDRESS:PORT',
        ),
    ])
    .default(8080),
  /** `server_name`. @default '_' */
  serverName: z
    .string()
    .regex(/^[A-Za-z0-9_.*~-][A-Za-z0-9_.*-]*$/, 'must be a host name pattern')
    .default('_'),
  /** `root` of the server: where the PHP scripts are. Paths here never hold `$`. */
  documentRoot: nginxPath(),
  /** `user` of the worker processes; omitted when absent. */
  user: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'must be a user name')
    .optional(),
  /** `pid` file; relative paths are under nginx's prefix. */
  pidPath: nginxPath().optional(),
  /** `error_log` file. */
  errorLogPath: nginxPath().optional(),
  /** `access_log` file, or `'off'`. @default 'off' */
  accessLogPath: nginxPath().default('off'),
  /** Directory for the `*_temp_path` directories (it must exist); nginx's built-in paths when absent. */
  tempDir: nginxPath().optional(),
  /** `daemon off;` for running in the foreground. @default true */
  daemon: z.boolean().default(true),
});
/** Options of {@link renderNginxConf}. */
export type NginxConfOptions = z.input<typeof nginxConfOptionsSchema>;

/**
 * A complete, minimal nginx.conf around `renderNginxFastCGI(settings)`: main and events
 * contexts, the upstream in `http`, and one `server` with the locations.
 */
export function renderNginxConf(settings: NginxFastCGIInput, options: NginxConfOptions): string {
  const parts = renderNginxFastCGI(settings);
  const o = parseSettings(nginxConfOptionsSchema, options, 'options');
  const main: string[] = [];
  if (o.user !== undefined) main.push(`user ${o.user};`);
  if (!o.daemon) main.push('daemon off;');
  if (o.pidPath !== undefined) main.push(`pid ${q(o.pidPath)};`);
  if (o.errorLogPath !== undefined) main.push(`error_log ${q(o.errorLogPath)};`);
  const http: string[] = [
    o.accessLogPath === 'off' ? 'access_log off;' : `access_log ${q(o.accessLogPath)};`,
  ];
  if (o.tempDir !== undefined) {
    for (const kind of ['client_body', 'fastcgi', 'proxy', 'uwsgi', 'scgi']) {
      http.push(`${kind}_temp_path ${q(`${o.tempDir}/${kind}_temp`)};`);
    }
  }
  const server = [
    `listen ${o.listen};`,
    `server_name ${o.serverName};`,
    `root ${q(o.documentRoot)};`,
    '',
    parts.server.trimEnd(),
  ];
  const http2 = [...http, '', parts.http.trimEnd(), '', block('server', server).trimEnd()];
  return [
    ...main,
    parts.main.trimEnd(),
    block('events', parts.events === '' ? [] : [parts.events.trimEnd()]).trimEnd(),
    block('http', http2),
  ]
    .filter((x) => x !== '')
    .join('\n');
}

/** @deprecated Use {@link FastCGIBackend}; this spelling remains for existing callers. */
export type FastcgiBackend = FastCGIBackend;
/** @deprecated Use {@link FastCGINextUpstreamCondition}. */
export type FastcgiNextUpstreamCondition = FastCGINextUpstreamCondition;
/** @deprecated Use {@link NginxFastCGIInput}. */
export type NginxFastcgiInput = NginxFastCGIInput;
/** @deprecated Use {@link NginxFastCGISettings}. */
export type NginxFastcgiSettings = NginxFastCGISettings;
/** @deprecated Use {@link RenderedNginxFastCGI}. */
export type RenderedNginxFastcgi = RenderedNginxFastCGI;
/** @deprecated Use {@link nginxFastCGISchema}. */
export const nginxFastcgiSchema = nginxFastCGISchema;
/**
 * Same function as {@link renderNginxFastCGI}, under the name the design documents; kept as a
 * stable alias.
 */
export const renderNginxFastcgi = renderNginxFastCGI;
