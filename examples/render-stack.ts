/**
 * From one description of a PHP site, renders every layer of its stack and checks the layers
 * against each other:
 *
 *   php-fpm.conf (global + pool)  renderFpmConfig
 *   php.ini fragment              renderPhpIni
 *   nginx http and server parts   renderNginxFastCGI
 *   sysctl.d file                 renderSysctlConf
 *   systemd drop-in               renderSystemdDropIn
 *   cross-layer findings          checkStack
 *
 *   node --import tsx examples/render-stack.ts
 *   node --import tsx examples/render-stack.ts --somaxconn 128 --db-max-connections 20
 *
 * The flags describe the host as it is (its current somaxconn, its database limit), so the
 * checks show what would break there. The exit code is 1 when a check reports an error.
 */

import { parseArgs } from 'node:util';
import { hasErrors, sortFindings } from 'fpmkit';
import { checkStack, type StackInput } from 'fpmkit/doctor';
import { type FpmConfigInput, renderFpmConfig } from 'fpmkit/fpm';
import { type KernelSettings, renderSysctlConf, renderSystemdDropIn } from 'fpmkit/kernel';
import {
  type NginxFastCGIInput,
  type PhpIniInput,
  renderNginxFastCGI,
  renderPhpIni,
} from 'fpmkit/web';

const MiB = 1024 * 1024;

/** The one description everything below is derived from. */
export interface SiteDescription {
  name: string;
  socketPath: string;
  /** The account nginx runs as; it must be able to connect to the socket. */
  webServer: { user: string; group: string; workerProcesses: number };
  maxChildren: number;
  /** The longest a request may take, wall clock. */
  requestSeconds: number;
  uploadBytes: number;
  memoryLimitBytes: number;
  /** Connections the accept queue should hold while every child is busy or FPM reloads. */
  backlog: number;
  openFiles: number;
  database: { maxConnections: number; connectionsPerChild: number };
  memoryBudgetBytes: number;
}

export const SHOP: SiteDescription = {
  name: 'shop',
  socketPath: '/run/php/shop.sock',
  webServer: { user: 'www-data', group: 'www-data', workerProcesses: 2 },
  maxChildren: 24,
  requestSeconds: 60,
  uploadBytes: 64 * MiB,
  memoryLimitBytes: 256 * MiB,
  backlog: 1024,
  openFiles: 65536,
  database: { maxConnections: 151, connectionsPerChild: 1 },
  memoryBudgetBytes: 8192 * MiB,
};

/** The margin each outer timeout keeps over the one inside it. */
const MARGIN_SECONDS = 10;

export function describeStack(site: SiteDescription) {
  const fpm: FpmConfigInput = {
    // The reload waits for the longest request instead of killing it.
    global: { processControlTimeoutSeconds: site.requestSeconds, rlimitFiles: site.openFiles },
    pools: [
      {
        name: site.name,
        user: site.webServer.user,
        group: site.webServer.group,
        listen: {
          address: site.socketPath,
          owner: site.webServer.user,
          group: site.webServer.group,
          mode: 0o660,
          backlog: site.backlog,
        },
        pm: {
          mode: 'dynamic',
          maxChildren: site.maxChildren,
          startServers: Math.max(1, Math.floor(site.maxChildren / 4)),
          minSpareServers: Math.max(1, Math.floor(site.maxChildren / 8)),
          maxSpareServers: Math.max(1, Math.floor(site.maxChildren / 2)),
          maxRequests: 500,
          statusPath: '/fpm-status',
          // A hidden pool answers status here while every worker is busy (FPM 8.0+).
          statusListen: site.socketPath.replace(/\.sock$/, '-status.sock'),
        },
        ping: { path: '/fpm-ping' },
        requestTerminateTimeoutSeconds: site.requestSeconds,
      },
    ],
  };
  const php: PhpIniInput = {
    // PHP's own limit fires first, with an error message, inside FPM's.
    maxExecutionTimeSeconds: site.requestSeconds - MARGIN_SECONDS,
    memoryLimitBytes: site.memoryLimitBytes,
    uploadMaxFilesizeBytes: site.uploadBytes,
    postMaxSizeBytes: site.uploadBytes + MiB,
    exposePhp: false,
  };
  const keepalive = Math.max(
    1,
    Math.floor(site.maxChildren / (4 * site.webServer.workerProcesses)),
  );
  const nginx: NginxFastCGIInput = {
    upstream: {
      servers: [{ socketPath: site.socketPath }],
      keepalive,
      keepaliveTimeoutSeconds: Math.max(1, site.requestSeconds - MARGIN_SECONDS),
    },
    keepConn: true,
    workerProcesses: site.webServer.workerProcesses,
    connectTimeoutSeconds: 5,
    readTimeoutSeconds: site.requestSeconds + MARGIN_SECONDS,
    clientMaxBodySizeBytes: site.uploadBytes + MiB,
    status: { path: '/fpm-status', allow: ['127.0.0.1', '::1'] },
    ping: { path: '/fpm-ping', allow: ['127.0.0.1', '::1'] },
  };
  const kernel: KernelSettings = {
    somaxconn: Math.max(site.backlog, 4096),
    nrOpen: Math.max(1048576, site.openFiles),
    limitNofile: site.openFiles,
  };
  const stack: StackInput = {
    fpm,
    kernel,
    nginx,
    php,
    webServerUser: { name: site.webServer.user, groups: [site.webServer.group] },
    database: site.database,
    memoryBudgetBytes: site.memoryBudgetBytes,
  };
  return stack;
}

export interface HostFacts {
  /** The host's current net.core.somaxconn, when it differs from the planned one. */
  somaxconn?: number;
  dbMaxConnections?: number;
}

/** Renders every part and the findings; returns the text to print and whether an error was found. */
export function main(args: readonly string[] = process.argv.slice(2)): {
  text: string;
  errors: boolean;
} {
  const { values } = parseArgs({
    args: [...args],
    options: {
      somaxconn: { type: 'string' },
      'db-max-connections': { type: 'string' },
    },
  });
  const site = { ...SHOP };
  if (values['db-max-connections'] !== undefined) {
    site.database = { ...site.database, maxConnections: Number(values['db-max-connections']) };
  }
  const stack = describeStack(site);
  const nginx = renderNginxFastCGI(stack.nginx!);
  const out: string[] = [];
  const section = (title: string, body: string) =>
    out.push(`# ==== ${title} ====`, body.trimEnd(), '');
  section('php-fpm.conf', renderFpmConfig(stack.fpm as FpmConfigInput));
  section(`conf.d/90-${site.name}.ini`, renderPhpIni(stack.php!));
  section('nginx http {}', nginx.http);
  section('nginx server {}', nginx.server);
  section('/etc/sysctl.d/60-php-fpm.conf', renderSysctlConf(stack.kernel));
  section('php8.2-fpm.service.d/fpmkit.conf', renderSystemdDropIn(stack.kernel));

  // Check the plan against the host as it is.
  const checked: StackInput =
    values.somaxconn === undefined
      ? stack
      : { ...stack, kernel: { ...stack.kernel, somaxconn: Number(values.somaxconn) } };
  const findings = sortFindings(checkStack(checked));
  section(
    `checkStack: ${findings.length} finding${findings.length === 1 ? '' : 's'}`,
    findings
      .map(
        (f) =>
          `${f.severity} ${f.code}${f.pool ? ` [${f.pool}]` : ''}: ${f.message}\n  fix: ${f.fix}`,
      )
      .join('\n'),
  );
  return { text: out.join('\n'), errors: hasErrors(findings) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { text, errors } = main();
  process.stdout.write(text);
  process.exitCode = errors ? 1 : 0;
}
