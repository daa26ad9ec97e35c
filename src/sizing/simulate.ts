import { FPM_DEFAULT_LISTEN_BACKLOG } from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';
import { parseListen } from '../fpm/listen.js';
import type { PoolConfig } from '../fpm/schema.js';
import { acceptQueueCapacity, DEFAULT_SOMAXCONN } from '../kernel/backlog.js';
import { finiteAtLeast, finitePositive, integerIn } from './check.js';
import { FPM_DEFAULT_MAX_SPAWN_RATE, FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS } from './pm.js';
import { type ModelConfig, PoolModel } from './simulate-model.js';
import { createEventQueue, type EventQueueKind } from './simulate-queue.js';
import { SeededRandom, type ServiceTimeDistribution, serviceSampler } from './simulate-random.js';
import {
  acceptedWaits,
  SeriesRecorder,
  type SimulatedRequests,
  type SimulatedSeries,
  type SimulationSummary,
  waitSummary,
} from './simulate-results.js';
import { arrivalStream, type SimulationTraffic } from './simulate-traffic.js';

/**
 * Defaults for the costs the simulator cannot read from a configuration, measured with
 * php-fpm 8.2 (Debian's php8.2-fpm) on a 2-core virtual machine running Linux 6.x; see
 * docs/sizing.md (Simulation) for how. Give your own when your children start slower (large
 * opcache preloads, many extensions) or your machine is busier.
 */
export const SIMULATION_DEFAULTS = {
  /** From fork() until the new child waits in accept(), seconds. */
  forkSeconds: 0.004,
  /** Master time per fork, seconds: forks in one tick or accept event follow each other. */
  masterForkSeconds: 0.0005,
  /**
   * From a connection arriving to the master handling ondemand's accept event, seconds: the
   * master's wake-up latency, during which further connections add no event.
   */
  masterWakeSeconds: 0.0001,
  /** From a response's end until the child is back in accept(), seconds. */
  acceptGapSeconds: 0.0002,
  /**
   * From a connection reaching a child asleep in accept() until the child runs it, seconds
   * (the scheduler's wake-up latency plus FastCGI's read of the request).
   */
  acceptLatencySeconds: 0.0001,
  /** From a child's exit until the master has reaped it (and can fork its replacement), seconds. */
  exitSeconds: 0.001,
  /** From the last old child's exit until the re-executed master forks again, seconds. */
  restartSeconds: 0.03,
  /** nginx's `fastcgi_connect_timeout` default, seconds. */
  connectTimeoutSeconds: 60,
  /** nginx's `fastcgi_read_timeout` default, seconds. */
  readTimeoutSeconds: 60,
  /** Mean service time when none is given, seconds. */
  serviceTimeSeconds: 0.1,
  /** Interval of the time series, seconds. */
  sampleIntervalSeconds: 1,
} as const;

/** Largest `pm.max_children` simulated: state is kept per child. */
export const MAX_SIMULATED_CHILDREN = 100_000;
/** Most time series intervals one run records. */
export const MAX_SIMULATED_SAMPLES = 10_000_000;

/** The parts of a pool the simulator reads: `pm.*` and `listen.address` / `listen.backlog`. */
export interface SimulationPool {
  pm: PoolConfig['pm'];
  listen?: { address?: string | undefined; backlog?: number | undefined } | undefined;
}

/** Options of {@link simulatePool}. Times in seconds. */
export interface SimulatePoolOptions {
  /** Seed of the pseudo-random generator: the same seed gives the same run. @default 1 */
  seed?: number | undefined;
  /** Simulated time. @default until the traffic is over and nothing is queued or running */
  durationSeconds?: number | undefined;
  /** Mean service time of requests without their own. @default 0.1 */
  serviceTimeSeconds?: number | undefined;
  /** Coefficient of variation of the service time. @default 1 (exponential) */
  serviceTimeCv?: number | undefined;
  /**
   * Shape of the service time. @default 'exponential' when no cv is given, else 'lognormal'
   * (cv 0: fixed)
   */
  serviceTimeDistribution?: ServiceTimeDistribution | undefined;
  /** net.core.somaxconn. @default 4096 */
  somaxconn?: number | undefined;
  /** FPM's global `process_control_timeout`. @default 0 (FPM's default) */
  processControlTimeoutSeconds?: number | undefined;
  /** Times at which the master gets SIGUSR2. @default [] */
  reloadsAtSeconds?: readonly number[] | undefined;
  /** @default SIMULATION_DEFAULTS.forkSeconds */
  forkSeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.masterForkSeconds */
  masterForkSeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.masterWakeSeconds */
  masterWakeSeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.acceptGapSeconds */
  acceptGapSeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.acceptLatencySeconds */
  acceptLatencySeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.exitSeconds */
  exitSeconds?: number | undefined;
  /** @default SIMULATION_DEFAULTS.restartSeconds */
  restartSeconds?: number | undefined;
  /** nginx `fastcgi_connect_timeout` (TCP pools: how long SYNs are retried). @default 60 */
  connectTimeoutSeconds?: number | undefined;
  /** nginx `fastcgi_read_timeout` from connect to the response header (504 after). @default 60 */
  readTimeoutSeconds?: number | undefined;
  /**
   * When the master's first maintenance tick falls, in (0, 1]: the phase of the once-a-second
   * tick against the traffic. @default 1
   */
  firstTickSeconds?: number | undefined;
  /** Start with the initial children still forking instead of waiting in accept(). @default false */
  coldStart?: boolean | undefined;
  /**
   * Children waiting in accept() at time 0, for a pool caught mid-life (an ondemand pool with
   * children left from earlier traffic). At most `pm.max_children`. @default FPM's own start:
   * `pm.max_children` (static), `pm.start_servers` (dynamic), 0 (ondemand)
   */
  initialChildren?: number | undefined;
  /** Interval of the time series. @default 1 */
  sampleIntervalSeconds?: number | undefined;
  /** Requests arriving before this are left out of the wait statistics. @default 0 */
  warmupSeconds?: number | undefined;
  /** `'heap'`, or the plain `'sorted-array'` reference (same results, slower). @default 'heap' */
  eventQueue?: EventQueueKind | undefined;
}

/** The process-manager settings a run used, after FPM's defaults. */
export interface SimulationSettings {
  mode: 'static' | 'dynamic' | 'ondemand';
  maxChildren: number;
  startServers: number;
  minSpareServers: number;
  maxSpareServers: number;
  maxSpawnRate: number;
  processIdleTimeoutSeconds: number;
  /** 0: never recycle. */
  maxRequests: number;
  /** min(listen.backlog, somaxconn) + 1. */
  queueCapacity: number;
  listen: 'unix' | 'tcp';
  processControlTimeoutSeconds: number;
}

/** What {@link simulatePool} returns. */
export interface SimulationResult {
  summary: SimulationSummary;
  requests: SimulatedRequests;
  series: SimulatedSeries;
  settings: SimulationSettings;
  seed: number;
}

/**
 * Simulates one FPM 8.2 pool under `traffic`, event by event: the accept queue and its
 * capacity, the children of `pm = static | dynamic | ondemand` with the master's once-a-second
 * maintenance tick (spawn rate doubling to `pm.max_spawn_rate`, spare-server kills), ondemand's
 * fork on accept and idle kills, `pm.max_requests` recycling, reloads with
 * `process_control_timeout`, and nginx's connect and read timeouts. Deterministic for a seed.
 * Bad input throws `FpmkitInvalidOptionError` naming the field.
 *
 * @example simulatePool({ pm: { mode: 'dynamic', maxChildren: 20, minSpareServers: 1, maxSpareServers: 3 } },
 *   { kind: 'burst', requests: 100, spreadSeconds: 0.01 }, { serviceTimeSeconds: 0.2 })
 */
export function simulatePool(
  pool: SimulationPool,
  traffic: SimulationTraffic | readonly SimulationTraffic[],
  options: SimulatePoolOptions = {},
): SimulationResult {
  const seed = integerIn('seed', options.seed ?? 1, 0, 0xffffffff);
  const settings = poolSettings(pool, options);
  const config = modelConfig(settings, options);
  const interval = finitePositive(
    'sampleIntervalSeconds',
    options.sampleIntervalSeconds ?? SIMULATION_DEFAULTS.sampleIntervalSeconds,
  );
  const arrivals = arrivalStream(traffic, seed);
  const horizon = config.durationSeconds ?? lastUsefulTime(arrivals.expected, config);
  if (horizon / interval > MAX_SIMULATED_SAMPLES) {
    throw new FpmkitInvalidOptionError(
      'sampleIntervalSeconds',
      `gives more than ${MAX_SIMULATED_SAMPLES} samples; choose a longer interval`,
    );
  }
  const series = new SeriesRecorder(interval, settings.queueCapacity);
  const model = new PoolModel(
    config,
    createEventQueue(options.eventQueue ?? 'heap'),
    arrivals,
    sampler(options, new SeededRandom(seed)),
    series,
  );
  model.run();
  const requests = model.requests.view();
  const warmup = finiteAtLeast('warmupSeconds', options.warmupSeconds ?? 0, 0);
  const summary = summarize(model, requests, warmup);
  return { summary, requests, series: series.finish(), settings, seed };
}

/** A rough bound on the simulated time, only for the sample-count check. */
function lastUsefulTime(expected: number, config: ModelConfig): number {
  return Math.max(expected, ...config.reloadsAtSeconds, 1) + config.readTimeoutSeconds;
}

function sampler(options: SimulatePoolOptions, random: SeededRandom) {
  const mean = finitePositive(
    'serviceTimeSeconds',
    options.serviceTimeSeconds ?? SIMULATION_DEFAULTS.serviceTimeSeconds,
  );
  const cv = finiteAtLeast('serviceTimeCv', options.serviceTimeCv ?? 1, 0);
  const distribution =
    options.serviceTimeDistribution ??
    (options.serviceTimeCv === undefined ? 'exponential' : 'lognormal');
  if (!['exponential', 'fixed', 'lognormal'].includes(distribution)) {
    throw new FpmkitInvalidOptionError(
      'serviceTimeDistribution',
      "must be 'exponential', 'fixed' or 'lognormal'",
    );
  }
  return serviceSampler(random, distribution, mean, cv);
}

/** FPM's pm rules (`fpm_conf.c` `fpm_conf_process_all_pools`) and defaults, checked. */
export function poolSettings(
  pool: SimulationPool,
  options: SimulatePoolOptions,
): SimulationSettings {
  const pm = pool?.pm;
  if (pm === undefined || pm === null) throw new FpmkitInvalidOptionError('pool.pm', 'is required');
  const mode = pm.mode;
  if (mode !== 'static' && mode !== 'dynamic' && mode !== 'ondemand') {
    throw new FpmkitInvalidOptionError('pool.pm.mode', "must be 'static', 'dynamic' or 'ondemand'");
  }
  const max = integerIn('pool.pm.maxChildren', pm.maxChildren as number, 1, MAX_SIMULATED_CHILDREN);
  const spare = spares(pm, mode, max);
  const somaxconn = integerIn('somaxconn', options.somaxconn ?? DEFAULT_SOMAXCONN, 0, 0x7fffffff);
  const backlog = pool.listen?.backlog ?? FPM_DEFAULT_LISTEN_BACKLOG;
  integerIn('pool.listen.backlog', backlog, -0x80000000, 0x7fffffff);
  const address = pool.listen?.address;
  const listen = address === undefined ? 'unix' : parseListen(address).kind;
  return {
    mode,
    maxChildren: max,
    ...spare,
    maxSpawnRate: integerIn(
      'pool.pm.maxSpawnRate',
      pm.maxSpawnRate ?? FPM_DEFAULT_MAX_SPAWN_RATE,
      1,
      MAX_SIMULATED_CHILDREN,
    ),
    processIdleTimeoutSeconds: finiteAtLeast(
      'pool.pm.processIdleTimeoutSeconds',
      pm.processIdleTimeoutSeconds ?? FPM_DEFAULT_PROCESS_IDLE_TIMEOUT_SECONDS,
      1,
    ),
    maxRequests: integerIn('pool.pm.maxRequests', pm.maxRequests ?? 0, 0, 0x7fffffff),
    queueCapacity: acceptQueueCapacity({ listenBacklog: backlog, somaxconn }),
    listen,
    processControlTimeoutSeconds: finiteAtLeast(
      'processControlTimeoutSeconds',
      options.processControlTimeoutSeconds ?? 0,
      0,
    ),
  };
}

function spares(pm: PoolConfig['pm'], mode: string, max: number) {
  if (mode !== 'dynamic') return { startServers: 0, minSpareServers: 0, maxSpareServers: 0 };
  const min = integerIn('pool.pm.minSpareServers', pm.minSpareServers as number, 1, max);
  const maxSpare = integerIn('pool.pm.maxSpareServers', pm.maxSpareServers as number, min, max);
  const start = integerIn(
    'pool.pm.startServers',
    pm.startServers ?? min + Math.floor((maxSpare - min) / 2),
    min,
    maxSpare,
  );
  return { startServers: start, minSpareServers: min, maxSpareServers: maxSpare };
}

function modelConfig(s: SimulationSettings, o: SimulatePoolOptions): ModelConfig {
  const d = SIMULATION_DEFAULTS;
  const time = (name: keyof SimulatePoolOptions & keyof typeof d) =>
    finiteAtLeast(name, (o[name] as number | undefined) ?? d[name], 0);
  const reloads = o.reloadsAtSeconds ?? [];
  if (!Array.isArray(reloads))
    throw new FpmkitInvalidOptionError('reloadsAtSeconds', 'must be an array');
  for (const [i, r] of reloads.entries()) finiteAtLeast(`reloadsAtSeconds[${i}]`, r, 0);
  const firstTick = finitePositive('firstTickSeconds', o.firstTickSeconds ?? 1);
  if (firstTick > 1) throw new FpmkitInvalidOptionError('firstTickSeconds', 'must be in (0, 1]');
  return {
    mode: s.mode,
    maxChildren: s.maxChildren,
    startServers: s.startServers,
    minSpareServers: s.minSpareServers,
    maxSpareServers: s.maxSpareServers,
    maxSpawnRate: s.maxSpawnRate,
    processIdleTimeoutSeconds: s.processIdleTimeoutSeconds,
    maxRequests: s.maxRequests,
    queueCapacity: s.queueCapacity,
    unix: s.listen === 'unix',
    processControlTimeoutSeconds: s.processControlTimeoutSeconds,
    forkSeconds: time('forkSeconds'),
    masterForkSeconds: time('masterForkSeconds'),
    masterWakeSeconds: time('masterWakeSeconds'),
    acceptGapSeconds: time('acceptGapSeconds'),
    acceptLatencySeconds: time('acceptLatencySeconds'),
    exitSeconds: time('exitSeconds'),
    restartSeconds: time('restartSeconds'),
    connectTimeoutSeconds: time('connectTimeoutSeconds'),
    readTimeoutSeconds: time('readTimeoutSeconds'),
    firstTickSeconds: firstTick,
    coldStart: o.coldStart === true,
    initialChildren:
      o.initialChildren === undefined
        ? undefined
        : integerIn('initialChildren', o.initialChildren, 0, s.maxChildren),
    reloadsAtSeconds: [...reloads].sort((a, b) => a - b),
    durationSeconds:
      o.durationSeconds === undefined
        ? undefined
        : finitePositive('durationSeconds', o.durationSeconds),
  };
}

function summarize(
  model: PoolModel,
  requests: SimulatedRequests,
  warmupSeconds: number,
): SimulationSummary {
  const a = model.answered;
  const reloads = model.reloads;
  const perReload = reloads.reduce((sum, r) => sum + r.refused + r.killed, 0) / reloads.length;
  return {
    requests: requests.status.length,
    completed: a[200],
    status502: a[502],
    refused: model.refused,
    killed: model.killed,
    status504: a[504],
    unfinished: requests.status.length - a[200] - a[502] - a[504],
    ...waitSummary(acceptedWaits(requests, warmupSeconds)),
    peakQueueDepth: model.peakQueue,
    reloads,
    refusalsPerReload: reloads.length === 0 ? Number.NaN : perReload,
    pm: model.pm,
    simulatedSeconds: model.now,
    events: model.events,
  };
}
