/**
 * The planner's third step: the solved numbers written into the models of the areas that
 * render them (`PoolConfig`, `GlobalConfig`, `KernelSettings`, nginx and php.ini settings),
 * each through its schema so a plan is valid by construction.
 */
import type { ZodType } from 'zod';
import { type GlobalConfig, globalSchema, type PoolConfig, poolSchema } from '../fpm/schema.js';
import { type KernelSettings, kernelSettingsSchema } from '../kernel/settings.js';
import { parseOptions } from '../options.js';
import { type NginxFastCGISettings, nginxFastCGISchema } from '../web/nginx.js';
import { type PhpIniSettings, phpIniSchema } from '../web/php-ini.js';
import {
  DEFAULT_POST_MAX_SIZE_BYTES,
  PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
} from './planner-input.js';
import type { SolvedHost, SolvedPool } from './planner-solve.js';

/** A value through its area's schema; the first issue becomes an error naming its path. */
function model<T>(schema: ZodType<T>, value: unknown, option: string): T {
  return parseOptions(schema, value, option);
}

/** nginx upstream name for a pool: FPM pool names may hold `@` and `+`, upstream names not. */
function upstreamName(pool: string): string {
  return `php_fpm_${pool.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** The configuration parts of one pool's plan. */
export interface AssembledPool {
  pool: PoolConfig;
  global: GlobalConfig;
  kernel: KernelSettings;
  nginx: NginxFastCGISettings;
  php: PhpIniSettings;
}

function pmOf(p: SolvedPool): PoolConfig['pm'] {
  const pm: PoolConfig['pm'] = {
    mode: p.pool.mode,
    maxChildren: p.children,
    maxRequests: p.worker.maxRequests,
  };
  if (p.spare !== undefined) {
    pm.startServers = p.spare.startServers;
    pm.minSpareServers = p.spare.minSpareServers;
    pm.maxSpareServers = p.spare.maxSpareServers;
    pm.maxSpawnRate = p.spare.maxSpawnRate;
  }
  if (p.processIdleTimeoutSeconds !== undefined)
    pm.processIdleTimeoutSeconds = p.processIdleTimeoutSeconds;
  return pm;
}

/** `pm.status_path` of a planned pool that has a status socket. */
export const PLANNED_STATUS_PATH = '/status';

function poolConfigOf(p: SolvedPool): PoolConfig {
  const d = p.pool.demand;
  const listen = p.pool.listen;
  const unix = listen.address.kind === 'unix';
  return model<PoolConfig>(
    poolSchema,
    {
      name: p.pool.name,
      ...(d.user === undefined ? {} : { user: d.user }),
      ...(d.group === undefined ? {} : { group: d.group }),
      listen: {
        address: listen.text,
        backlog: p.backlog.backlog,
        ...(unix && d.listenOwner !== undefined ? { owner: d.listenOwner } : {}),
        ...(unix && d.listenGroup !== undefined ? { group: d.listenGroup } : {}),
        ...(unix && d.listenMode !== undefined ? { mode: d.listenMode } : {}),
        ...(listen.allowedClient === undefined ? {} : { allowedClients: [listen.allowedClient] }),
      },
      pm: {
        ...pmOf(p),
        ...(listen.statusListen === undefined
          ? {}
          : { statusPath: PLANNED_STATUS_PATH, statusListen: listen.statusListen }),
      },
      requestTerminateTimeoutSeconds: p.pool.corridor.requestTerminateTimeoutSeconds,
    },
    'pool',
  );
}

/**
 * The configuration of one pool with the host-wide values already settled: somaxconn and
 * LimitNOFILE of the host, the longest process_control_timeout of any pool.
 */
export function assemblePool(p: SolvedPool, host: SolvedHost): AssembledPool {
  const corridor = p.pool.corridor;
  return {
    pool: poolConfigOf(p),
    global: model<GlobalConfig>(
      globalSchema,
      { processControlTimeoutSeconds: host.processControlTimeoutSeconds },
      'global',
    ),
    kernel: model<KernelSettings>(
      kernelSettingsSchema,
      { somaxconn: host.somaxconn, limitNofile: host.limitNofile },
      'kernel',
    ),
    nginx: model(
      nginxFastCGISchema,
      {
        upstream: { name: upstreamName(p.pool.name), servers: [p.pool.listen.backend] },
        connectTimeoutSeconds: PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
        readTimeoutSeconds: corridor.fastcgiReadTimeoutSeconds,
        // nginx's own default (1m) is below PHP's upload_max_filesize (2M) and answers 413 to
        // uploads PHP accepts; post_max_size is the largest body PHP reads at all.
        clientMaxBodySizeBytes: DEFAULT_POST_MAX_SIZE_BYTES,
      },
      'nginx',
    ),
    php: model(
      phpIniSchema,
      {
        maxExecutionTimeSeconds: corridor.maxExecutionTimeSeconds,
        memoryLimitBytes: p.pool.memoryLimit.bytes,
      },
      'memoryLimitBytes',
    ),
  };
}

/** The host-wide parts of a host plan. */
export function assembleHost(host: SolvedHost): { global: GlobalConfig; kernel: KernelSettings } {
  return {
    global: model(
      globalSchema,
      { processControlTimeoutSeconds: host.processControlTimeoutSeconds },
      'global',
    ),
    kernel: model(
      kernelSettingsSchema,
      { somaxconn: host.somaxconn, limitNofile: host.limitNofile },
      'kernel',
    ),
  };
}
