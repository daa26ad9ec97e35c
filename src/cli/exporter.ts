import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { isFpmkitError } from '../errors.js';
import { discoverFpm } from '../host/discover.js';
import { loadFpmConfig } from '../host/fpm-config.js';
import { METRIC_FAMILIES } from '../metrics/catalog.js';
import { FpmCollector } from '../metrics/collect.js';
import { COMPAT_MODES, type CompatMode, HIPAGES_FAMILIES } from '../metrics/hipages.js';
import { negotiateFormat, PROMETHEUS_CONTENT_TYPE, renderMetrics } from '../metrics/render.js';
import type { PoolTarget } from '../metrics/sampler.js';
import type { MetricSample } from '../metrics/samples.js';
import {
  parsePoolTarget,
  poolTargetsFromConfig,
  poolTargetsFromDiscovery,
} from '../metrics/targets.js';
import { parseArgs, UsageError } from './args.js';
import { BasicAuth, type ExporterWebConfig, loadExporterWebConfig } from './exporter-web.js';
import { type CliIo, EXIT, prose } from './io.js';

export const EXPORTER_HELP = `Usage: fpmkit exporter [options]

Serves the metrics of every PHP-FPM pool on this host to Prometheus over HTTP:
/metrics in the Prometheus text format 0.0.4 or OpenMetrics 1.0 (by the Accept
header), and a small page at /. Without --target or --fpm-config the pools are
found as \`fpmkit doctor\` finds them (running masters and their configuration).

Options (each also read from the environment variable named after it):
  --listen ADDR         HOST:PORT, [IPV6]:PORT or :PORT to serve on
                        (FPMKIT_EXPORTER_LISTEN, default :9253)
  --target T            a pool to scrape, repeatable: [NAME=]LISTEN[;status=PATH]
                        [;max_children=N], e.g. www=/run/php/www.sock
                        (FPMKIT_EXPORTER_TARGET, separated by spaces)
  --fpm-config FILE     read the pools of a php-fpm configuration, repeatable
                        (FPMKIT_EXPORTER_FPM_CONFIG, separated by ':')
  --deadline MS         longest a scrape may take; a shorter scrape timeout sent
                        by Prometheus wins (FPMKIT_EXPORTER_DEADLINE, default 5000)
  --per-process         also export one set of series per worker
                        (FPMKIT_EXPORTER_PER_PROCESS=1)
  --no-memory           do not read worker PSS and cgroup limits
                        (FPMKIT_EXPORTER_NO_MEMORY=1)
  --compat hipages      also emit hipages/php-fpm_exporter's metric names and
                        labels, for its dashboards; answers are then always
                        in the 0.0.4 text format (FPMKIT_EXPORTER_COMPAT)
  --nginx-error-log F   count nginx's EAGAIN and 'upstream timed out' lines per
                        pool from this log (FPMKIT_EXPORTER_NGINX_ERROR_LOG)
  --web-config-file F   TLS and basic authentication, in the exporter-toolkit's
                        web-config shape (FPMKIT_EXPORTER_WEB_CONFIG_FILE)
  --telemetry-path P    where the metrics are served
                        (FPMKIT_EXPORTER_TELEMETRY_PATH, default /metrics)
  --help                show this help

It stops cleanly on SIGTERM or SIGINT. Exit status: 0 stopped, 2 bad command
line, 3 the address could not be bound.
`;

/** Defaults of the exporter command. */
export const EXPORTER_DEFAULTS = {
  listen: ':9253',
  deadlineMs: 5_000,
  telemetryPath: '/metrics',
  /** Time kept back from Prometheus' scrape timeout for rendering and the network. */
  marginMs: 250,
  /** Shortest deadline a scrape gets, however short its timeout. */
  minDeadlineMs: 100,
  /** Open connections at once; more wait in the kernel's backlog. */
  maxConnections: 64,
} as const;

interface ExporterConfig {
  host: string | undefined;
  port: number;
  deadlineMs: number;
  perProcess: boolean;
  memory: boolean;
  telemetryPath: string;
  compat: CompatMode | undefined;
  web: ExporterWebConfig | undefined;
  nginxErrorLog: string | undefined;
  targets: PoolTarget[] | (() => Promise<PoolTarget[]>);
}

/** `HOST:PORT`, `[V6]:PORT` or `:PORT`. */
function parseListenAddress(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535)
    throw new UsageError(`--listen must be HOST:PORT, [IPV6]:PORT or :PORT, not '${text}'`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port };
}

/** The environment variable of a flag: `--fpm-config` → `FPMKIT_EXPORTER_FPM_CONFIG`. */
export function envName(flag: string): string {
  return ['FPMKIT', 'EXPORTER', flag.toUpperCase().replace(/-/g, '_')].join('_');
}

function flagFromEnv(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

/** Pulls the repeatable options out of argv, since parseArgs keeps the last value only. */
function takeRepeated(
  argv: readonly string[],
  names: readonly string[],
): { rest: string[]; values: Record<string, string[]> } {
  const values: Record<string, string[]> = Object.fromEntries(names.map((n) => [n, []]));
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const name = names.find((n) => arg === `--${n}` || arg.startsWith(`--${n}=`));
    if (name === undefined) {
      rest.push(arg);
      continue;
    }
    const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    values[name]!.push(value);
  }
  return { rest, values };
}

function resolveConfig(argv: readonly string[], env: CliIo['env']): ExporterConfig {
  const { rest, values } = takeRepeated(argv, ['target', 'fpm-config']);
  const args = parseArgs(rest, {
    flags: ['per-process', 'no-memory'],
    valued: [
      'listen',
      'deadline',
      'telemetry-path',
      'compat',
      'web-config-file',
      'nginx-error-log',
    ],
  });
  if (args.positionals.length > 0)
    throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
  const opt = (name: string): string | undefined => {
    const v = args.options[name];
    return typeof v === 'string' ? v : env[envName(name)];
  };
  const { host, port } = parseListenAddress(opt('listen') ?? EXPORTER_DEFAULTS.listen);
  const deadlineText = opt('deadline');
  const deadlineMs =
    deadlineText === undefined ? EXPORTER_DEFAULTS.deadlineMs : Number(deadlineText);
  if (
    !/^\d+$/.test(deadlineText ?? '1') ||
    deadlineMs < EXPORTER_DEFAULTS.minDeadlineMs ||
    deadlineMs > 600_000
  )
    throw new UsageError(
      `--deadline must be a whole number of milliseconds from ${EXPORTER_DEFAULTS.minDeadlineMs} to 600000`,
    );
  const telemetryPath = opt('telemetry-path') ?? EXPORTER_DEFAULTS.telemetryPath;
  if (!/^\/[\x21-\x7e]*$/.test(telemetryPath) || telemetryPath === '/')
    throw new UsageError('--telemetry-path must start with / and name a path other than /');
  const compatText = opt('compat');
  if (compatText !== undefined && !(COMPAT_MODES as readonly string[]).includes(compatText))
    throw new UsageError(`--compat must be one of ${COMPAT_MODES.join(', ')}, not '${compatText}'`);
  const compat = compatText as CompatMode | undefined;
  const webPath = opt('web-config-file');
  let web: ExporterWebConfig | undefined;
  if (webPath !== undefined) {
    try {
      web = loadExporterWebConfig(webPath);
    } catch (error) {
      throw new UsageError(`--web-config-file: ${(error as Error).message}`);
    }
  }
  const targetTexts =
    values.target!.length > 0
      ? values.target!
      : (env[envName('target')] ?? '').split(/\s+/).filter(Boolean);
  const configPaths =
    values['fpm-config']!.length > 0
      ? values['fpm-config']!
      : (env[envName('fpm-config')] ?? '').split(':').filter(Boolean);
  const explicit: PoolTarget[] = [];
  try {
    for (const t of targetTexts) explicit.push(parsePoolTarget(t, '--target'));
  } catch (error) {
    throw new UsageError(isFpmkitError(error) ? (error as Error).message : String(error));
  }
  for (const path of configPaths) {
    try {
      explicit.push(...poolTargetsFromConfig(loadFpmConfig(path).config));
    } catch (error) {
      throw new UsageError(`--fpm-config ${path}: ${(error as Error).message}`);
    }
  }
  let targets: ExporterConfig['targets'] = explicit;
  if (explicit.length === 0) {
    // Discovery reads /proc for every process: reuse its answer for a few seconds.
    let cached: { at: number; targets: PoolTarget[] } | undefined;
    targets = async () => {
      if (cached && Date.now() - cached.at < 10_000) return cached.targets;
      cached = { at: Date.now(), targets: poolTargetsFromDiscovery(await discoverFpm()) };
      return cached.targets;
    };
  }
  return {
    host,
    port,
    deadlineMs,
    perProcess: args.options['per-process'] === true || flagFromEnv(env[envName('per-process')]),
    memory: !(args.options['no-memory'] === true || flagFromEnv(env[envName('no-memory')])),
    telemetryPath,
    compat,
    web,
    nginxErrorLog: opt('nginx-error-log'),
    targets,
  };
}

/** The deadline of one scrape: the exporter's, or less when Prometheus' timeout is shorter. */
export function scrapeDeadlineMs(
  header: string | string[] | undefined,
  configuredMs: number,
): number {
  const text = Array.isArray(header) ? header[0] : header;
  const seconds = text === undefined ? Number.NaN : Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) return configuredMs;
  return Math.max(
    EXPORTER_DEFAULTS.minDeadlineMs,
    Math.min(configuredMs, seconds * 1000 - EXPORTER_DEFAULTS.marginMs),
  );
}

function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Runs the exporter until `signal` aborts; resolves with the exit code. */
export async function runExporter(
  argv: readonly string[],
  io: CliIo,
  signal: AbortSignal,
): Promise<number> {
  // A UsageError reaches main, which prints it with where the help is.
  const config = resolveConfig(argv, io.env);
  const collector = new FpmCollector({
    targets: config.targets,
    perProcess: config.perProcess,
    memory: config.memory,
    compat: config.compat,
    nginxErrorLog: config.nginxErrorLog,
  });
  const families =
    config.compat === 'hipages' ? [...METRIC_FAMILIES, ...HIPAGES_FAMILIES] : METRIC_FAMILIES;
  let scrapes = 0;
  const page = `<!doctype html><html><head><title>fpmkit exporter</title></head><body><h1>fpmkit exporter</h1><p><a href="${htmlEscape(config.telemetryPath)}">Metrics</a></p></body></html>\n`;

  const serveMetrics = async (req: IncomingMessage, res: ServerResponse) => {
    const deadlineMs = scrapeDeadlineMs(
      req.headers['x-prometheus-scrape-timeout-seconds'],
      config.deadlineMs,
    );
    // hipages' counters have no _total suffix, which OpenMetrics requires: 0.0.4 only then.
    const { format, contentType } =
      config.compat === undefined
        ? negotiateFormat(req.headers.accept)
        : { format: 'prometheus' as const, contentType: PROMETHEUS_CONTENT_TYPE };
    let samples: MetricSample[];
    try {
      samples = await collector.collect({ deadlineMs });
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`collection failed: ${(error as Error).message}\n`);
      return;
    }
    scrapes++;
    const body = renderMetrics(
      [...samples, { name: 'fpmkit_exporter_scrapes_total', labels: {}, value: scrapes }],
      format,
      { perProcess: config.perProcess, families },
    );
    // Encoded once: the length header and the answer are the same bytes.
    const bytes = Buffer.from(body);
    res.writeHead(200, { 'content-type': contentType, 'content-length': bytes.length });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  };

  const auth = config.web?.users ? new BasicAuth(config.web.users) : undefined;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    for (const [name, value] of config.web?.headers ?? []) res.setHeader(name, value);
    if (config.web?.tls?.verifyGiven) {
      // VerifyClientCertIfGiven: TLS let an unverified certificate through (the handshake only
      // makes a missing one optional), so one that was presented must have verified.
      const socket = req.socket as TLSSocket;
      if (!socket.authorized && Object.keys(socket.getPeerCertificate() ?? {}).length > 0) {
        res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
        res.end('client certificate not verified\n');
        return;
      }
    }
    const verdict = auth?.check(req.headers.authorization) ?? 'ok';
    if (verdict === 'busy') {
      // Too many failed checks this second: answered without hashing.
      res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain; charset=utf-8' });
      res.end('too many failed authentication attempts; retry later\n');
      return;
    }
    if (verdict !== 'ok') {
      res.writeHead(401, {
        'www-authenticate': 'Basic realm="fpmkit exporter", charset="UTF-8"',
        'content-type': 'text/plain; charset=utf-8',
      });
      res.end('authentication required\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    if (path === config.telemetryPath) {
      serveMetrics(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String((error as Error)?.message ?? error));
      });
    } else if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : page);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found\n');
    }
  };
  const tls = config.web?.tls;
  const server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          requestCert: tls.requestCert,
          rejectUnauthorized: tls.rejectUnauthorized,
          minVersion: tls.minVersion,
          ...(tls.maxVersion === undefined ? {} : { maxVersion: tls.maxVersion }),
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        },
        handler,
      )
    : createServer(handler);
  server.maxConnections = EXPORTER_DEFAULTS.maxConnections;
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  const bound = await new Promise<Error | undefined>((resolve) => {
    server.once('error', resolve);
    server.listen(
      { port: config.port, ...(config.host === undefined ? {} : { host: config.host }) },
      () => {
        server.off('error', resolve);
        resolve(undefined);
      },
    );
  });
  if (bound) {
    io.stderr(
      prose(
        io,
        `fpmkit exporter: cannot listen on ${config.host ?? ''}:${config.port}: ${bound.message}\n`,
        2,
      ),
    );
    return EXIT.input;
  }
  const address = server.address();
  const shown =
    typeof address === 'object' && address !== null
      ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : String(address);
  io.stderr(
    `fpmkit exporter: listening on ${tls ? 'https' : 'http'}://${shown}${config.telemetryPath}${auth ? ' (basic authentication)' : ''}\n`,
  );
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  collector.close();
  io.stderr('fpmkit exporter: stopped\n');
  return EXIT.ok;
}
