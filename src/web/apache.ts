/**
 * Apache httpd in front of PHP-FPM: mod_proxy_fcgi handing `.php` files to FPM with
 * `SetHandler "proxy:..."`, the `<Proxy>` worker parameters, the server timeouts and the
 * mpm_event worker limits, with Apache's own consistency rules.
 *
 * References: https://httpd.apache.org/docs/2.4/mod/mod_proxy_fcgi.html,
 * https://httpd.apache.org/docs/2.4/mod/event.html
 */

import { z } from 'zod';
import { APACHE_EVENT_DEFAULTS } from '../defaults.js';
import {
  formatHostPort,
  hostSchema,
  parseSettings,
  portSchema,
  safeString,
  seconds,
  UNIX_PATH_MAX_BYTES,
} from './syntax.js';

/**
 * Characters refused in a socket path. Besides `"` (ends the value), `\` (escapes) and `<`,
 * `>` (sections), mod_proxy splits `unix:PATH|fcgi://...` at `|` and then reads PATH as a URI
 * (apr_uri_parse): `?` starts a query and `#` a fragment, both cut from the path, and `%` starts
 * an escape; a space splits a handler name.
 */
const APACHE_SOCKET_FORBIDDEN = '"\\<>|?#% ';
const URI_REASON = 'mod_proxy reads the socket path as a URI and would cut or change it there';
const SOCKET_REASONS: Readonly<Record<string, string>> = {
  '|': 'mod_proxy ends the socket path at the first |',
  '?': URI_REASON,
  '#': URI_REASON,
  '%': URI_REASON,
  ' ': URI_REASON,
};

/** `${NAME}` is replaced by a `Define`d variable anywhere on an Apache line. */
function noDefineReference(value: string): boolean {
  return !value.includes('${');
}
const DEFINE_RULE = "must not contain '${' (Apache expands Define variables there)";

const socketPathSchema = safeString('Apache', APACHE_SOCKET_FORBIDDEN, SOCKET_REASONS)
  .refine(noDefineReference, DEFINE_RULE)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine(
    (p) => !p.startsWith('//'),
    "must not start with '//' (mod_proxy would read what follows as a host name, not a path)",
  )
  .refine(
    (p) => Buffer.byteLength(p) <= UNIX_PATH_MAX_BYTES,
    `must be at most ${UNIX_PATH_MAX_BYTES} bytes (the kernel's sun_path limit)`,
  );

/**
 * Writes `value` between double quotes so that Apache's argument reader (`ap_getword_conf`,
 * which turns `\\` into `\` and `\"` into `"` inside quotes) hands back exactly `value`.
 */
export function quoteApacheArgument(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** A regex rendered with `quoteApacheArgument`: any backslash or quote is kept as written. */
const apacheRegexSchema = safeString('Apache', '')
  .refine(noDefineReference, DEFINE_RULE)
  .superRefine((value, ctx) => {
    try {
      new RegExp(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid regular expression' });
    }
  });

/** mpm_event's hard ceilings (`MAX_SERVER_LIMIT`, `MAX_THREAD_LIMIT` in event.c). */
export const APACHE_MAX_SERVER_LIMIT = 20_000;
/** mpm_event's hard ceiling for `ThreadLimit` (`MAX_THREAD_LIMIT` in event.c). */
export const APACHE_MAX_THREAD_LIMIT = 100_000;
export { APACHE_EVENT_DEFAULTS };

/** mpm_event limits. Absent fields keep Apache's defaults (`APACHE_EVENT_DEFAULTS`). */
export const apacheMpmEventSchema = z
  .strictObject({
    serverLimit: z.number().int().min(1).max(APACHE_MAX_SERVER_LIMIT).optional(),
    threadLimit: z.number().int().min(1).max(APACHE_MAX_THREAD_LIMIT).optional(),
    threadsPerChild: z.number().int().min(1).optional(),
    /** Total simultaneous requests: at most ServerLimit x ThreadsPerChild. */
    maxRequestWorkers: z.number().int().min(1).optional(),
    startServers: z.number().int().min(1).optional(),
    minSpareThreads: z.number().int().min(1).optional(),
    maxSpareThreads: z.number().int().min(1).optional(),
    /** Requests a child serves before it is replaced; `0` never replaces it. */
    maxConnectionsPerChild: z.number().int().min(0).optional(),
  })
  .superRefine((m, ctx) => {
    const threadLimit = m.threadLimit ?? APACHE_EVENT_DEFAULTS.threadLimit;
    const threads = m.threadsPerChild ?? APACHE_EVENT_DEFAULTS.threadsPerChild;
    const servers = m.serverLimit ?? APACHE_EVENT_DEFAULTS.serverLimit;
    // Apache lowers or raises these with a warning at start; refusing them keeps the rendered
    // numbers equal to the ones Apache runs with.
    if (threads > threadLimit) {
      ctx.addIssue({
        code: 'custom',
        path: ['threadsPerChild'],
        message: `must not exceed ThreadLimit (${threadLimit})`,
      });
    }
    if (m.maxRequestWorkers !== undefined) {
      const w = m.maxRequestWorkers;
      if (w < threads) {
        ctx.addIssue({
          code: 'custom',
          path: ['maxRequestWorkers'],
          message: `must be at least ThreadsPerChild (${threads})`,
        });
      } else if (w % threads !== 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['maxRequestWorkers'],
          message: `must be a multiple of ThreadsPerChild (${threads})`,
        });
      } else if (w > servers * threads) {
        ctx.addIssue({
          code: 'custom',
          path: ['maxRequestWorkers'],
          message: `must not exceed ServerLimit x ThreadsPerChild (${servers} x ${threads} = ${servers * threads})`,
        });
      }
    }
    const minSpare = m.minSpareThreads ?? APACHE_EVENT_DEFAULTS.minSpareThreads;
    const maxSpare = m.maxSpareThreads ?? APACHE_EVENT_DEFAULTS.maxSpareThreads;
    if (
      (m.minSpareThreads !== undefined || m.maxSpareThreads !== undefined) &&
      maxSpare < minSpare + threads
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [m.maxSpareThreads !== undefined ? 'maxSpareThreads' : 'minSpareThreads'],
        message: `MaxSpareThreads (${maxSpare}) must be at least MinSpareThreads + ThreadsPerChild (${minSpare + threads})`,
      });
    }
  });
/** mpm_event settings (`ServerLimit`, `ThreadsPerChild`, `MaxRequestWorkers`, ...). */
export type ApacheMpmEvent = z.infer<typeof apacheMpmEventSchema>;

/** The FPM listen address as mod_proxy_fcgi reaches it. */
export const apacheBackendSchema = z.union([
  z.strictObject({ socketPath: socketPathSchema }),
  z.strictObject({ host: hostSchema, port: portSchema }),
]);
/** The FPM listen address as mod_proxy_fcgi reaches it. */
export type ApacheBackend = z.infer<typeof apacheBackendSchema>;

/** Apache's `ProxySet flushpackets=` values. */
export const APACHE_FLUSH_PACKETS = ['on', 'off', 'auto'] as const;

/** The Apache side of one FPM pool. Times in seconds. */
export const apacheProxyFcgiSchema = z.strictObject({
  backend: apacheBackendSchema,
  /**
   * Host name in `fcgi://NAME` for a UNIX socket; give each pool its own so Apache does not
   * share one worker (and its connections) between sockets. @default 'localhost'
   */
  workerName: z
    .string()
    .regex(/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be a host name')
    .default('localhost'),
  /** Regex of `<FilesMatch>` selecting the scripts FPM runs. @default '\.php$' */
  filesMatch: apacheRegexSchema.default('\\.php$'),
  /** Pass only files that exist (`<If "-f %{REQUEST_FILENAME}">`), so others get Apache's 404. @default true */
  requireExistingFile: z.boolean().default(true),
  /** `ProxySet timeout=`: wait for FPM's response. */
  proxySetTimeoutSeconds: seconds(1).optional(),
  /** `ProxySet connectiontimeout=`: wait for the connection to FPM. */
  connectionTimeoutSeconds: seconds(1).optional(),
  /** `ProxySet flushpackets=`: send output to the client as FPM produces it. */
  flushPackets: z.enum(APACHE_FLUSH_PACKETS).optional(),
  /** `ProxySet enablereuse=`: keep connections to FPM open (each pins one FPM child). */
  enableReuse: z.boolean().optional(),
  /** `ProxySet max=`: connections per Apache child to this worker. */
  maxConnections: z.number().int().min(1).optional(),
  /** `ProxyTimeout` (server-wide proxy timeout). */
  proxyTimeoutSeconds: seconds(1).optional(),
  /** `Timeout` (server-wide I/O timeout). */
  timeoutSeconds: seconds(1).optional(),
  /** mpm_event limits; omitted directives keep Apache's defaults. */
  mpmEvent: apacheMpmEventSchema.optional(),
});

/** What `renderApacheProxyFcgi` accepts: defaults may be left out. */
export type ApacheProxyFcgiInput = z.input<typeof apacheProxyFcgiSchema>;
/** The Apache model with defaults applied. */
export type ApacheProxyFcgiSettings = z.infer<typeof apacheProxyFcgiSchema>;

/** Snippets of the Apache side; each ends with a newline, or is empty. */
export interface RenderedApacheProxyFcgi {
  /** mpm_event directives (server config context). */
  mpm: string;
  /** `Timeout` and `ProxyTimeout` (server config or virtual host). */
  server: string;
  /** `<FilesMatch>` with `SetHandler` and the `<Proxy>` worker block (server or virtual host). */
  handler: string;
  /** All of the above. */
  all: string;
}

/** The worker URL both `SetHandler` and `<Proxy>` name, e.g. `unix:/run/x.sock|fcgi://localhost`. */
export function apacheWorkerUrl(
  settings: Pick<ApacheProxyFcgiSettings, 'backend' | 'workerName'>,
): string {
  const b = settings.backend;
  return 'socketPath' in b
    ? `unix:${b.socketPath}|fcgi://${settings.workerName}`
    : `fcgi://${formatHostPort(b.host, b.port)}`;
}

const MPM_DIRECTIVES: readonly (readonly [keyof ApacheMpmEvent, string])[] = [
  // ServerLimit and ThreadLimit must come before the directives they bound.
  ['serverLimit', 'ServerLimit'],
  ['threadLimit', 'ThreadLimit'],
  ['threadsPerChild', 'ThreadsPerChild'],
  ['maxRequestWorkers', 'MaxRequestWorkers'],
  ['startServers', 'StartServers'],
  ['minSpareThreads', 'MinSpareThreads'],
  ['maxSpareThreads', 'MaxSpareThreads'],
  ['maxConnectionsPerChild', 'MaxConnectionsPerChild'],
];

/**
 * Renders the Apache parts of an FPM pool for mod_proxy_fcgi under mpm_event. Throws
 * `FpmkitInvalidOptionError` naming the option when a value breaks the schema, Apache's
 * mpm_event rules, or could add a directive or a section.
 */
export function renderApacheProxyFcgi(input: ApacheProxyFcgiInput): RenderedApacheProxyFcgi {
  const s = parseSettings(apacheProxyFcgiSchema, input);
  const mpmLines: string[] = [];
  for (const [key, name] of MPM_DIRECTIVES) {
    const value = s.mpmEvent?.[key];
    if (value !== undefined) mpmLines.push(`    ${name} ${value}`);
  }
  const mpm =
    mpmLines.length === 0
      ? ''
      : `<IfModule mpm_event_module>\n${mpmLines.join('\n')}\n</IfModule>\n`;

  const serverLines: string[] = [];
  if (s.timeoutSeconds !== undefined) serverLines.push(`Timeout ${s.timeoutSeconds}`);
  if (s.proxyTimeoutSeconds !== undefined)
    serverLines.push(`ProxyTimeout ${s.proxyTimeoutSeconds}`);
  const server = serverLines.map((l) => `${l}\n`).join('');

  const url = apacheWorkerUrl(s);
  const setHandler = `SetHandler "proxy:${url}"`;
  const files = s.requireExistingFile
    ? `    <If "-f %{REQUEST_FILENAME}">\n        ${setHandler}\n    </If>`
    : `    ${setHandler}`;
  const params: string[] = [];
  if (s.proxySetTimeoutSeconds !== undefined) params.push(`timeout=${s.proxySetTimeoutSeconds}`);
  if (s.connectionTimeoutSeconds !== undefined)
    params.push(`connectiontimeout=${s.connectionTimeoutSeconds}`);
  if (s.flushPackets !== undefined) params.push(`flushpackets=${s.flushPackets}`);
  if (s.enableReuse !== undefined) params.push(`enablereuse=${s.enableReuse ? 'on' : 'off'}`);
  if (s.maxConnections !== undefined) params.push(`max=${s.maxConnections}`);
  const proxy = `<Proxy "${url}">\n${params.length > 0 ? `    ProxySet ${params.join(' ')}\n` : ''}</Proxy>\n`;
  const handler = `<FilesMatch ${quoteApacheArgument(s.filesMatch)}>\n${files}\n</FilesMatch>\n${proxy}`;
  return { mpm, server, handler, all: [mpm, server, handler].filter((x) => x !== '').join('\n') };
}
