import { FPM_DEFAULT_LISTEN_BACKLOG } from '../defaults.js';
/**
 * The planner's first step: every input checked once and every default filled in, so the
 * solver works on plain numbers. Throws `FpmkitInvalidOptionError` naming the option.
 */
import { FpmkitInvalidOptionError } from '../errors.js';
import {
  type ListenAddress,
  listenConnectTarget,
  MAX_UNIX_SOCKET_PATH_BYTES,
  parseListen,
} from '../fpm/listen.js';
import type { FastCGIBackend } from '../web/nginx.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';
import type { ConcurrencyTarget } from './concurrency.js';
import { type MemoryBudget, memoryBudget, mib, type WorkerSize, workerSize } from './memory.js';
import {
  DEFAULT_OVERFLOW_PROBABILITY,
  DEFAULT_RESTART_SECONDS,
  DEFAULT_SOMAXCONN,
  MAX_BACKLOG,
} from './overflow.js';
import {
  DEFAULT_CPU_SHARE,
  DEFAULT_GROWTH_BUDGET_FRACTION,
  DEFAULT_HEADROOM,
  DEFAULT_LONGEST_REQUEST_SECONDS,
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_TARGET,
  MAX_PLAN_POOLS,
  type PlanHostInput,
  type PoolDemand,
} from './planner-input.js';
import { checkPmMode, type PlanPmMode } from './pm.js';
import { type TimeoutCorridor, timeoutCorridor } from './timeouts.js';

/** Where a pool listens and where the planned nginx connects. */
export interface NormalListen {
  /** The `listen` value written to the pool. */
  text: string;
  address: ListenAddress;
  backend: FastCGIBackend;
  /**
   * The one client address let in when the pool listens on more addresses than nginx uses (a
   * wildcard): FastCGI on a reachable port runs code for anyone who connects.
   */
  allowedClient: string | undefined;
  /** `pm.status_listen`, or undefined when the plan leaves it out. */
  statusListen: string | undefined;
}

/** The status socket next to a pool's: `/run/php/shop.sock` gives `/run/php/shop-status.sock`. */
export function defaultStatusListen(name: string, address: ListenAddress): string {
  if (address.kind === 'tcp') return `/run/php/${name}-status.sock`;
  const path = address.path;
  return path.endsWith('.sock')
    ? `${path.slice(0, -'.sock'.length)}-status.sock`
    : `${path}-status`;
}

function statusListenOf(demand: PoolDemand, address: ListenAddress): string | undefined {
  const given = demand.statusListen;
  if (given === false) return undefined;
  if (given !== undefined) {
    if (typeof given !== 'string')
      throw new FpmkitInvalidOptionError('statusListen', 'must be a listen address or false');
    const parsed = parseListen(given, { option: 'statusListen' });
    if (parsed.kind === 'unix' && parsed.relative)
      throw new FpmkitInvalidOptionError('statusListen', `'${given}' is a relative socket path`);
    return given;
  }
  const text = defaultStatusListen(demand.name, address);
  // A path the kernel cannot hold is left out rather than refused: it was not asked for.
  return Buffer.byteLength(text) <= MAX_UNIX_SOCKET_PATH_BYTES ? text : undefined;
}

/** One pool's demand with its defaults applied and its inputs checked. */
export interface NormalPool {
  demand: PoolDemand;
  name: string;
  mode: PlanPmMode;
  arrivalRate: number;
  serviceTimeSeconds: number;
  serviceTimeCv: number | undefined;
  cpuShare: number;
  target: ConcurrencyTarget;
  headroom: number;
  longestRequestSeconds: number;
  corridor: TimeoutCorridor;
  /** The worker before leak growth. */
  baseWorker: WorkerSize | { workerBytes: number; source: 'given'; text: string };
  /** Growth allowed before recycling, as a share of the worker; set when a leak was measured. */
  growthBudgetFraction: number | undefined;
  leakBytesPerRequest: number | undefined;
  memoryLimit: { bytes: number | 'unlimited'; given: boolean };
  /** The no-accept window of a reload when given, seconds. */
  reloadWindowSeconds: number | undefined;
  listen: NormalListen;
}

/** The host's inputs with defaults applied and checked. */
export interface NormalHost {
  cores: number;
  /** net.core.somaxconn now. */
  somaxconnNow: number;
  /** Accepted chance that one reload refuses a connection. */
  overflowProbability: number;
  restartSeconds: number;
  share: 'demand' | 'weight';
  memory: MemoryBudget;
  minBacklog: number | undefined;
  /** listen.backlog now (-1: somaxconn), when the current settings are to be predicted. */
  currentListenBacklog: number | undefined;
  pools: NormalPool[];
}

/**
 * Where the planned nginx connects for a pool's `listen` value, as `parseListen` reads it.
 * Throws `FpmkitInvalidOptionError` (option `listenAddress`) for a value FPM refuses and for a
 * relative socket path, which nginx cannot resolve against FPM's prefix.
 */
export function backendOfListen(listen: string): {
  address: ListenAddress;
  backend: FastCGIBackend;
} {
  const address = parseListen(listen, { option: 'listenAddress' });
  if (address.kind === 'unix' && address.relative) {
    throw new FpmkitInvalidOptionError(
      'listenAddress',
      `'${listen}' is a relative socket path; give nginx the absolute path FPM resolves it to`,
    );
  }
  // nginx cannot look `*` up; FPM binds what the resolver gives for it, loopback on the hosts
  // seen, so nginx is pointed at 127.0.0.1.
  if (address.kind === 'tcp' && address.host === '*')
    return { address, backend: { host: '127.0.0.1', port: address.port } };
  return { address, backend: listenConnectTarget(address) };
}

function normalListen(demand: PoolDemand): NormalListen {
  const text = demand.listenAddress ?? `/run/php/${demand.name}.sock`;
  const { address, backend } = backendOfListen(text);
  const differs = address.kind === 'tcp' && 'host' in backend && backend.host !== address.host;
  return {
    text,
    address,
    backend,
    allowedClient: differs ? backend.host : undefined,
    statusListen: statusListenOf(demand, address),
  };
}

function checkName(demand: PoolDemand, at: (k: string) => string, names: Set<string>): string {
  if (typeof demand.name !== 'string' || demand.name === '' || /[\n\r\0[\]]/.test(demand.name)) {
    throw new FpmkitInvalidOptionError(
      at('name'),
      'must be a non-empty name without newlines or brackets',
    );
  }
  if (names.has(demand.name))
    throw new FpmkitInvalidOptionError(at('name'), `duplicate pool '${demand.name}'`);
  names.add(demand.name);
  return demand.name;
}

function baseWorkerOf(demand: PoolDemand, at: (k: string) => string): NormalPool['baseWorker'] {
  if (demand.workerBytes !== undefined) {
    return {
      workerBytes: finitePositive(at('workerBytes'), demand.workerBytes),
      source: 'given',
      text: `worker size as given: ${mib(demand.workerBytes)}`,
    };
  }
  return workerSize({
    ...(demand.pssSamplesBytes ? { pssSamplesBytes: demand.pssSamplesBytes } : {}),
    ...(demand.workerPercentile === undefined ? {} : { percentile: demand.workerPercentile }),
    memoryLimitBytes: demand.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES,
  });
}

function normalPool(demand: PoolDemand, i: number, names: Set<string>): NormalPool {
  const at = (k: string) => `pools[${i}].${k}`;
  const name = checkName(demand, at, names);
  const mode = checkPmMode(at('mode'), demand.mode ?? 'dynamic');
  const longest = finitePositive(
    at('longestRequestSeconds'),
    demand.longestRequestSeconds ?? DEFAULT_LONGEST_REQUEST_SECONDS,
  );
  const baseWorker = baseWorkerOf(demand, at);
  const leaking = demand.leakBytesPerRequest !== undefined && demand.leakBytesPerRequest > 0;
  const fraction = leaking
    ? finiteAtLeast(
        at('growthBudgetFraction'),
        demand.growthBudgetFraction ?? DEFAULT_GROWTH_BUDGET_FRACTION,
        0,
      )
    : undefined;
  return {
    demand,
    name,
    mode,
    arrivalRate: demand.arrivalRate,
    serviceTimeSeconds: demand.serviceTimeSeconds,
    serviceTimeCv: demand.serviceTimeCv,
    cpuShare: demand.cpuShare ?? DEFAULT_CPU_SHARE,
    target: demand.target ?? DEFAULT_TARGET,
    headroom: finiteAtLeast(at('headroom'), demand.headroom ?? DEFAULT_HEADROOM, 0),
    longestRequestSeconds: longest,
    corridor: timeoutCorridor({ longestRequestSeconds: longest }),
    baseWorker,
    growthBudgetFraction: fraction,
    leakBytesPerRequest: demand.leakBytesPerRequest,
    memoryLimit: {
      bytes: demand.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES,
      given: demand.memoryLimitBytes !== undefined,
    },
    reloadWindowSeconds:
      demand.reloadWindowSeconds === undefined
        ? undefined
        : finiteAtLeast('reloadWindowSeconds', demand.reloadWindowSeconds, 0),
    listen: normalListen(demand),
  };
}

/** Checks the host's inputs and each pool's, filling the defaults. */
export function normalizeHost(input: PlanHostInput): NormalHost {
  if (!Array.isArray(input.pools) || input.pools.length === 0) {
    throw new FpmkitInvalidOptionError('pools', 'must list at least one pool');
  }
  integerIn('pools.length', input.pools.length, 1, MAX_PLAN_POOLS);
  const cores = finitePositive('cores', input.cores);
  const somaxconnNow = integerIn(
    'currentSomaxconn',
    input.currentSomaxconn ?? DEFAULT_SOMAXCONN,
    0,
    MAX_BACKLOG,
  );
  const overflowProbability = probability(
    'overflowProbability',
    input.overflowProbability ?? DEFAULT_OVERFLOW_PROBABILITY,
  );
  const restartSeconds = finiteAtLeast(
    'restartSeconds',
    input.restartSeconds ?? DEFAULT_RESTART_SECONDS,
    0,
  );
  const share = input.share ?? 'demand';
  if (share !== 'demand' && share !== 'weight') {
    throw new FpmkitInvalidOptionError('share', "must be 'demand' or 'weight'");
  }
  const memory = memoryBudget({
    totalBytes: input.totalMemoryBytes,
    ...(input.cgroupLimitsBytes ? { cgroupLimitsBytes: input.cgroupLimitsBytes } : {}),
    ...(input.reserveBytes === undefined ? {} : { reserveBytes: input.reserveBytes }),
    ...(input.otherServicesBytes === undefined
      ? {}
      : { otherServicesBytes: input.otherServicesBytes }),
  });
  const names = new Set<string>();
  return {
    cores,
    somaxconnNow,
    overflowProbability,
    restartSeconds,
    share,
    memory,
    minBacklog: input.minBacklog,
    currentListenBacklog:
      input.currentListenBacklog === undefined && input.currentSomaxconn === undefined
        ? undefined
        : integerIn(
            'currentListenBacklog',
            input.currentListenBacklog ?? FPM_DEFAULT_LISTEN_BACKLOG,
            -1,
            MAX_BACKLOG,
          ),
    pools: input.pools.map((demand, i) => normalPool(demand, i, names)),
  };
}
