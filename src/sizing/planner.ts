import type { ZodType } from 'zod';
import { FpmkitInvalidOptionError } from '../errors.js';
import { listenConnectTarget, parseListen } from '../fpm/listen.js';
import { type GlobalConfig, globalSchema, type PoolConfig, poolSchema } from '../fpm/schema.js';
import { acceptQueueCapacity } from '../kernel/backlog.js';
import { type KernelSettings, kernelSettingsSchema } from '../kernel/settings.js';
import { type FastcgiBackend, nginxFastcgiSchema } from '../web/nginx.js';
import { phpIniSchema } from '../web/php-ini.js';
import { finiteAtLeast, finitePositive, integerIn, probability } from './check.js';
import { type ConcurrencyTarget, childrenForTarget } from './concurrency.js';
import { FpmkitInfeasiblePlanError, type InfeasibleReason } from './errors.js';
import { maxRequestsForLeak, memoryBudget, mib, workerSize } from './memory.js';
import {
  DEFAULT_OVERFLOW_PROBABILITY,
  DEFAULT_RESTART_SECONDS,
  DEFAULT_SOMAXCONN,
  MAX_BACKLOG,
  recommendBacklog,
  reloadOverflow,
  reloadOverflowProbability,
  reloadWindow,
} from './overflow.js';
import type { Explanation, HostPlan, Plan } from './plan.js';
import {
  checkPmMode,
  maxSpawnRate,
  type PlanPmMode,
  processIdleTimeoutSeconds,
  spareServers,
} from './pm.js';
import { erlangC, mmck } from './queueing.js';
import { simulatedPlanCheck } from './simulate-plan.js';

/** pm.max_requests when no leak was measured: recycles a worker long before a typical leak hurts. */
export const UNMEASURED_LEAK_MAX_REQUESTS = 1000;

import { timeoutCorridor } from './timeouts.js';

/** Default target: 99 % of requests wait at most 100 ms for a child. */
export const DEFAULT_TARGET: ConcurrencyTarget = { waitSeconds: 0.1, percentile: 0.99 };
/** Default longest legitimate request, seconds: PHP's own max_execution_time default. */
export const DEFAULT_LONGEST_REQUEST_SECONDS = 30;
/** PHP's default memory_limit, 128 MiB (main/main.c); fpmkit/doctor's `PHP_DEFAULT_MEMORY_LIMIT_BYTES`. */
export const DEFAULT_MEMORY_LIMIT_BYTES = 128 * 1024 * 1024;
/** PHP's default post_max_size, 8 MiB (main/main.c); fpmkit/doctor's `PHP_DEFAULT_POST_MAX_SIZE_BYTES`. */
export const DEFAULT_POST_MAX_SIZE_BYTES = 8 * 1024 * 1024;
/** Extra children above the need, as a share, when memory and CPU allow. */
export const DEFAULT_HEADROOM = 0.25;
/** Growth a leaking worker may show before recycling, as a share of its measured size. */
export const DEFAULT_GROWTH_BUDGET_FRACTION = 0.25;
/** nginx connect timeout planned, seconds: UNIX connects never wait; TCP retries SYNs at 1 and 3 s. */
export const PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS = 5;
/** Most pools one host plan takes. */
export const MAX_PLAN_POOLS = 10_000;
/** Smallest LimitNOFILE planned: room for sockets to databases and caches in every worker. */
export const MIN_PLANNED_LIMIT_NOFILE = 65_536;
/** File descriptors the FPM master holds per child: the child's stdout and stderr pipes. */
export const MASTER_FDS_PER_CHILD = 2;
/** File descriptors the master holds besides its children's pipes: sockets, logs, events. */
export const MASTER_BASE_FDS = 1024;

/** What one pool must serve and what is known about its requests. */
export interface PoolDemand {
  /** Pool name (the `[name]` section). */
  name: string;
  /** `listen` address. @default `/run/php/<name>.sock` */
  listenAddress?: string;
  /** Peak arrival rate, requests per second. */
  arrivalRate: number;
  /** Mean service time, seconds (time a child is busy with one request). */
  serviceTimeSeconds: number;
  /** Coefficient of variation of the service time; 0 for a fixed time. Absent: exponential. */
  serviceTimeCv?: number;
  /** Share of the service time spent on CPU. @default 0 */
  cpuShare?: number;
  /** Longest legitimate request, seconds; sets the timeout corridor. @default 30 */
  longestRequestSeconds?: number;
  /** @default { waitSeconds: 0.1, percentile: 0.99 } */
  target?: ConcurrencyTarget;
  /** @default 'dynamic' */
  mode?: PlanPmMode;
  /** Measured worker PSS samples, bytes. Without them `memoryLimitBytes` bounds the worker. */
  pssSamplesBytes?: readonly number[];
  /** Percentile of the samples. @default 0.95 */
  workerPercentile?: number;
  /** PHP memory_limit in bytes or `'unlimited'`. @default 128 MiB */
  memoryLimitBytes?: number | 'unlimited';
  /** Measured growth per request, bytes; sets pm.max_requests. Absent: no recycling. */
  leakBytesPerRequest?: number;
  /** Growth allowed before recycling as a share of the worker size. @default 0.25 */
  growthBudgetFraction?: number;
  /** Weight when memory is shared by weight. @default 1 */
  weight?: number;
  /** Children above the need, as a share. @default 0.25 */
  headroom?: number;
  /** No-accept window of a reload, seconds, when known; else from the timeout corridor. */
  reloadWindowSeconds?: number;
  /**
   * Bytes one worker takes, when known from elsewhere; overrides `pssSamplesBytes` and
   * `memoryLimitBytes` as the worker size (leak growth is still added).
   */
  workerBytes?: number;
  /** `user` of the pool's workers (needed when FPM runs as root). Absent: not set. */
  user?: string;
  /** `group` of the pool's workers. Absent: not set (FPM uses the user's group). */
  group?: string;
  /** `listen.owner` of a UNIX socket: the web server's user must be able to connect. */
  listenOwner?: string;
  /** `listen.group` of a UNIX socket. */
  listenGroup?: string;
  /** `listen.mode` of a UNIX socket, e.g. `0o660`. */
  listenMode?: number;
}

/** The host the pools share. */
export interface HostResources {
  /** CPU cores available to PHP. */
  cores: number;
  /** Host memory (MemTotal), bytes. */
  totalMemoryBytes: number;
  /** cgroup `memory.max` values from the leaf up; `'unlimited'` for `max`. */
  cgroupLimitsBytes?: ReadonlyArray<number | 'unlimited'>;
  /** @default max(256 MiB, 10 % of the limit) */
  reserveBytes?: number;
  /** @default 0 */
  otherServicesBytes?: number;
  /** Current net.core.somaxconn. @default 4096 */
  currentSomaxconn?: number;
  /** Current listen.backlog; -1 means somaxconn. Used for the "current settings" prediction. */
  currentListenBacklog?: number;
  /** Restart time of FPM after SIGUSR2, seconds. @default 0.05 */
  restartSeconds?: number;
  /** Accepted chance that one reload refuses a connection. @default 0.001 */
  overflowProbability?: number;
  /** Smallest backlog planned. @default 511 */
  minBacklog?: number;
  /** How memory beyond the need is shared: by need (`demand`) or by `weight`. @default 'demand' */
  share?: 'demand' | 'weight';
}

export type PlanPoolInput = PoolDemand & HostResources;

export interface PlanHostInput extends HostResources {
  pools: readonly PoolDemand[];
}

interface PoolWork {
  demand: PoolDemand;
  mode: PlanPmMode;
  workerBytes: number;
  workerSource: string;
  workerText: string;
  maxRequests: number;
  maxRequestsText: string;
  needed: number;
  cpuMax: number | undefined;
  needText: string;
  want: number;
  children: number;
  corridor: ReturnType<typeof timeoutCorridor>;
}

/**
 * Plans every pool of a host against one memory budget and one set of cores: children for
 * each pool's target (Erlang C), then spare servers, backlog and somaxconn, timeouts and
 * predictions, each with its explanation. Throws `FpmkitInfeasiblePlanError` listing every
 * reason when the demand does not fit; bad inputs throw `FpmkitInvalidOptionError`.
 */
export function planHost(input: PlanHostInput): HostPlan {
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
  const eps = probability(
    'overflowProbability',
    input.overflowProbability ?? DEFAULT_OVERFLOW_PROBABILITY,
  );
  const restart = finiteAtLeast(
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
  const reasons: InfeasibleReason[] = [];
  const works: PoolWork[] = input.pools.map((demand, i) => {
    const at = (k: string) => `pools[${i}].${k}`;
    if (typeof demand.name !== 'string' || demand.name === '' || /[\n\r\0[\]]/.test(demand.name)) {
      throw new FpmkitInvalidOptionError(
        at('name'),
        'must be a non-empty name without newlines or brackets',
      );
    }
    if (names.has(demand.name))
      throw new FpmkitInvalidOptionError(at('name'), `duplicate pool '${demand.name}'`);
    names.add(demand.name);
    const mode = checkPmMode(at('mode'), demand.mode ?? 'dynamic');
    const longest = finitePositive(
      at('longestRequestSeconds'),
      demand.longestRequestSeconds ?? DEFAULT_LONGEST_REQUEST_SECONDS,
    );
    const corridor = timeoutCorridor({ longestRequestSeconds: longest });
    const base =
      demand.workerBytes === undefined
        ? workerSize({
            ...(demand.pssSamplesBytes ? { pssSamplesBytes: demand.pssSamplesBytes } : {}),
            ...(demand.workerPercentile === undefined
              ? {}
              : { percentile: demand.workerPercentile }),
            memoryLimitBytes: demand.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES,
          })
        : {
            workerBytes: finitePositive(at('workerBytes'), demand.workerBytes),
            source: 'given' as const,
            text: `worker size as given: ${mib(demand.workerBytes)}`,
          };
    // Without a measurement, recycle now and then anyway: a leak nobody measured is the usual case.
    let maxRequests = demand.leakBytesPerRequest === 0 ? 0 : UNMEASURED_LEAK_MAX_REQUESTS;
    let growth = 0;
    let maxRequestsText =
      demand.leakBytesPerRequest === 0
        ? 'no leak (leakBytesPerRequest = 0): 0, FPM never recycles children'
        : `no leak measured: ${UNMEASURED_LEAK_MAX_REQUESTS}, a safety net that bounds what an unmeasured leak can grow to (give leakBytesPerRequest to set it from data)`;
    if (demand.leakBytesPerRequest !== undefined && demand.leakBytesPerRequest > 0) {
      const fraction = finiteAtLeast(
        at('growthBudgetFraction'),
        demand.growthBudgetFraction ?? DEFAULT_GROWTH_BUDGET_FRACTION,
        0,
      );
      const budget = base.workerBytes * fraction;
      maxRequests = maxRequestsForLeak({
        leakBytesPerRequest: demand.leakBytesPerRequest,
        growthBudgetBytes: budget,
      });
      growth = maxRequests * demand.leakBytesPerRequest;
      maxRequestsText = `a worker grows ${demand.leakBytesPerRequest} B per request; allowing ${Math.round(fraction * 100)} % growth (${mib(budget)}) recycles it after floor(${Math.round(budget)} / ${demand.leakBytesPerRequest}) = ${maxRequests} requests`;
    }
    const workerBytes = base.workerBytes + growth;
    const need = childrenForTarget({
      arrivalRate: demand.arrivalRate,
      serviceTimeSeconds: demand.serviceTimeSeconds,
      ...(demand.serviceTimeCv === undefined ? {} : { serviceTimeCv: demand.serviceTimeCv }),
      target: demand.target ?? DEFAULT_TARGET,
      cpuShare: demand.cpuShare ?? 0,
      cores,
    });
    if (need.boundBy === 'cpu') {
      reasons.push({
        code: 'cpu-bound-target',
        pool: demand.name,
        message: `the target needs ${need.neededChildren} children but with cpuShare ${demand.cpuShare} only ${need.cpuMaxChildren} can run on ${cores} cores; more children would just share them`,
        evidence: {
          neededChildren: need.neededChildren,
          cpuMaxChildren: need.cpuMaxChildren ?? 0,
          cores,
        },
      });
    }
    const headroom = finiteAtLeast(at('headroom'), demand.headroom ?? DEFAULT_HEADROOM, 0);
    const want = Math.min(
      need.cpuMaxChildren ?? Number.POSITIVE_INFINITY,
      Math.max(need.neededChildren, Math.ceil(need.neededChildren * (1 + headroom))),
    );
    return {
      demand,
      mode,
      workerBytes,
      workerSource: base.source,
      workerText: `${base.text}${growth > 0 ? ` + leak growth before recycling ${mib(growth)}` : ''} = ${mib(workerBytes)}`,
      maxRequests,
      maxRequestsText,
      needed: need.neededChildren,
      cpuMax: need.cpuMaxChildren,
      needText: need.text,
      want,
      children: need.neededChildren,
      corridor,
    };
  });
  const busyCores = input.pools.reduce(
    (sum, d) => sum + d.arrivalRate * d.serviceTimeSeconds * (d.cpuShare ?? 0),
    0,
  );
  if (busyCores >= cores) {
    reasons.push({
      code: 'cpu-saturated',
      message: `the pools keep ${busyCores.toFixed(1)} cores busy on average (Σ rate × service time × cpuShare) but only ${cores} exist`,
      evidence: { meanBusyCores: busyCores, cores },
    });
  }
  const neededBytes = works.reduce((sum, w) => sum + w.needed * w.workerBytes, 0);
  if (neededBytes > memory.budgetBytes) {
    reasons.push({
      code: 'memory',
      message: `the children needed take ${mib(neededBytes)} but the budget is ${mib(memory.budgetBytes)} (${memory.text})`,
      evidence: {
        neededBytes,
        budgetBytes: memory.budgetBytes,
        ...Object.fromEntries(works.map((w) => [`${w.demand.name}.children`, w.needed])),
      },
    });
  }
  if (reasons.length > 0) throw new FpmkitInfeasiblePlanError(reasons);

  // Share what is left above the need: all pools get their headroom if it fits, else a share.
  const extraBytes = memory.budgetBytes - neededBytes;
  const headroomBytes = works.reduce((sum, w) => sum + (w.want - w.needed) * w.workerBytes, 0);
  let shareText: (w: PoolWork) => string;
  if (headroomBytes <= extraBytes) {
    for (const w of works) w.children = w.want;
    shareText = (w) => `${w.want - w.needed} extra for headroom fit the memory budget`;
  } else {
    const weightOf = (w: PoolWork, i: number) =>
      share === 'weight'
        ? finitePositive(`pools[${i}].weight`, w.demand.weight ?? 1)
        : w.needed * w.workerBytes;
    const total = works.reduce((sum, w, i) => sum + weightOf(w, i), 0);
    works.forEach((w, i) => {
      const bytes = (extraBytes * weightOf(w, i)) / total;
      w.children = w.needed + Math.min(w.want - w.needed, Math.floor(bytes / w.workerBytes));
    });
    shareText = (w) =>
      `memory beyond the need is shared by ${share}: ${w.children - w.needed} of the ${w.want - w.needed} extra wanted`;
  }

  const plans = works.map((w) =>
    planOne(w, { somaxconnNow, eps, restart, input, shareText: shareText(w) }),
  );
  const somaxconn = Math.max(somaxconnNow, ...plans.map((p) => p.kernel.somaxconn ?? 0));
  const pct = Math.max(...plans.map((p) => p.global.processControlTimeoutSeconds ?? 0));
  const totalChildren = works.reduce((sum, w) => sum + w.children, 0);
  const limitNofile = Math.max(
    MIN_PLANNED_LIMIT_NOFILE,
    MASTER_FDS_PER_CHILD * totalChildren + MASTER_BASE_FDS,
  );
  const nofileExplanation: Explanation = {
    setting: 'LimitNOFILE',
    value: limitNofile,
    rule: 'master-pipes-per-child',
    inputs: {
      children: totalChildren,
      fdsPerChild: MASTER_FDS_PER_CHILD,
      baseFds: MASTER_BASE_FDS,
      floor: MIN_PLANNED_LIMIT_NOFILE,
    },
    text: `the FPM master holds ${MASTER_FDS_PER_CHILD} pipes per child (its stdout and stderr) plus ${MASTER_BASE_FDS} for sockets and logs, and workers inherit the limit for their own connections: max(${MIN_PLANNED_LIMIT_NOFILE}, ${MASTER_FDS_PER_CHILD} × ${totalChildren} + ${MASTER_BASE_FDS})`,
  };
  for (const p of plans) {
    p.kernel.somaxconn = somaxconn;
    p.kernel.limitNofile = limitNofile;
    p.global.processControlTimeoutSeconds = pct;
    p.explanations.push({ ...nofileExplanation, inputs: { ...nofileExplanation.inputs } });
    for (const e of p.explanations) {
      if (e.setting === 'net.core.somaxconn' && e.value !== somaxconn) {
        e.value = somaxconn;
        e.text += `; raised to ${somaxconn} for another pool on the host`;
      }
      if (e.setting === 'process_control_timeout' && e.value !== pct) {
        e.value = pct;
        e.text += `; raised to ${pct} s, the longest of any pool (the setting is global)`;
      }
    }
  }
  const plannedBytes = works.reduce((sum, w) => sum + w.children * w.workerBytes, 0);
  const explanations: Explanation[] = [
    nofileExplanation,
    {
      setting: 'net.core.somaxconn',
      value: somaxconn,
      rule: 'max-of-pools',
      inputs: {
        currentSomaxconn: somaxconnNow,
        ...Object.fromEntries(
          plans.map((p) => [`${p.pool.name}.listen.backlog`, p.pool.listen.backlog]),
        ),
      },
      text: `the largest listen.backlog of any pool, never below the current ${somaxconnNow}: the kernel silently caps every backlog at somaxconn`,
    },
    {
      setting: 'process_control_timeout',
      value: pct,
      rule: 'max-of-pools',
      inputs: Object.fromEntries(
        works.map((w) => [
          `${w.demand.name}.request_terminate_timeout`,
          w.corridor.requestTerminateTimeoutSeconds,
        ]),
      ),
      text: 'a global setting: the longest request_terminate_timeout of any pool, so no reload kills a request that could still finish',
    },
    {
      setting: 'memory.plannedBytes',
      value: plannedBytes,
      rule: 'memory-budget',
      inputs: {
        budgetBytes: memory.budgetBytes,
        limitBytes: memory.limitBytes,
        reserveBytes: memory.reserveBytes,
        otherServicesBytes: memory.otherServicesBytes,
      },
      text: `Σ max_children × worker size = ${mib(plannedBytes)} within the budget: ${memory.text}`,
    },
  ];
  return {
    pools: plans,
    global: model(globalSchema, { processControlTimeoutSeconds: pct }, 'global'),
    kernel: model(kernelSettingsSchema, { somaxconn, limitNofile }, 'kernel'),
    memory: { budgetBytes: memory.budgetBytes, plannedBytes, source: memory.source },
    meanBusyCores: busyCores,
    explanations,
    warnings: plans.flatMap((p) => p.warnings.map((x) => `[${p.pool.name}] ${x}`)),
  };
}

interface PlanContext {
  somaxconnNow: number;
  eps: number;
  restart: number;
  input: HostResources;
  shareText: string;
}

function planOne(w: PoolWork, ctx: PlanContext): Plan {
  const d = w.demand;
  const c = w.children;
  const s = d.serviceTimeSeconds;
  const lambda = d.arrivalRate;
  const ex: Explanation[] = [];
  const warnings: string[] = [];
  const add = (
    setting: string,
    value: number | string,
    rule: string,
    inputs: Explanation['inputs'],
    text: string,
  ) => ex.push({ setting, value, rule, inputs, text });

  const cv = d.serviceTimeCv === undefined ? {} : { serviceTimeCv: d.serviceTimeCv };
  const q = erlangC({ arrivalRate: lambda, serviceTimeSeconds: s, servers: c, ...cv });
  add(
    'pm.max_children',
    c,
    'erlang-c-target',
    {
      arrivalRate: lambda,
      serviceTimeSeconds: s,
      neededChildren: w.needed,
      workerBytes: w.workerBytes,
      ...(w.cpuMax === undefined ? {} : { cpuMaxChildren: w.cpuMax }),
    },
    `${w.needText}; ${ctx.shareText}`,
  );
  add(
    'sizing.workerBytes',
    w.workerBytes,
    w.workerSource,
    { source: w.workerSource },
    w.workerText,
  );

  const pm: PoolConfig['pm'] = { mode: w.mode, maxChildren: c, maxRequests: w.maxRequests };
  if (w.mode === 'dynamic') {
    const spare = spareServers({ offeredLoad: q.offeredLoad, maxChildren: c });
    pm.startServers = spare.startServers;
    pm.minSpareServers = spare.minSpareServers;
    pm.maxSpareServers = spare.maxSpareServers;
    pm.maxSpawnRate = maxSpawnRate(spare.minSpareServers);
    const inputs = { offeredLoad: q.offeredLoad, maxChildren: c };
    add('pm.min_spare_servers', spare.minSpareServers, 'poisson-spare', inputs, spare.text);
    add('pm.max_spare_servers', spare.maxSpareServers, 'twice-min-spare', inputs, spare.text);
    add(
      'pm.start_servers',
      spare.startServers,
      'fpm-start-formula',
      { minSpareServers: spare.minSpareServers, maxSpareServers: spare.maxSpareServers },
      "FPM's own default: min_spare + (max_spare − min_spare) / 2, integer division",
    );
    add(
      'pm.max_spawn_rate',
      pm.maxSpawnRate,
      'power-of-two-over-min-spare',
      { minSpareServers: spare.minSpareServers },
      'the smallest power of two ≥ min_spare_servers: FPM forks at most min_spare − idle per second, and its doubling rate overshoots a maximum that is not a power of two',
    );
  } else if (w.mode === 'ondemand') {
    pm.processIdleTimeoutSeconds = processIdleTimeoutSeconds(lambda, c);
    add(
      'pm.process_idle_timeout',
      pm.processIdleTimeoutSeconds,
      'three-gaps',
      { arrivalRate: lambda, children: c },
      `a child sees a request about every ${(c / Math.max(lambda, 1e-9)).toFixed(2)} s; it is kept for 3 such gaps, between FPM's 10 s default and 300 s`,
    );
  }
  add(
    'pm.max_requests',
    w.maxRequests,
    d.leakBytesPerRequest
      ? 'leak-budget'
      : d.leakBytesPerRequest === 0
        ? 'no-leak'
        : 'unmeasured-leak',
    { leakBytesPerRequest: d.leakBytesPerRequest ?? 0 },
    w.maxRequestsText,
  );

  const corr = w.corridor;
  const longest = d.longestRequestSeconds ?? DEFAULT_LONGEST_REQUEST_SECONDS;
  add(
    'php.max_execution_time',
    corr.maxExecutionTimeSeconds,
    'timeout-corridor',
    { longestRequestSeconds: longest },
    corr.text.maxExecutionTimeSeconds,
  );
  add(
    'request_terminate_timeout',
    corr.requestTerminateTimeoutSeconds,
    'timeout-corridor',
    { maxExecutionTimeSeconds: corr.maxExecutionTimeSeconds },
    corr.text.requestTerminateTimeoutSeconds,
  );
  add(
    'fastcgi_read_timeout',
    corr.fastcgiReadTimeoutSeconds,
    'timeout-corridor',
    { requestTerminateTimeoutSeconds: corr.requestTerminateTimeoutSeconds },
    corr.text.fastcgiReadTimeoutSeconds,
  );
  add(
    'process_control_timeout',
    corr.processControlTimeoutSeconds,
    'timeout-corridor',
    { requestTerminateTimeoutSeconds: corr.requestTerminateTimeoutSeconds },
    corr.text.processControlTimeoutSeconds,
  );
  add(
    'fastcgi_connect_timeout',
    PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
    'fixed',
    {},
    'a UNIX connect() queues or fails with EAGAIN at once; over TCP a full queue drops the SYN and the kernel retries after 1 and 3 s, so 5 s allows two retries',
  );
  add(
    'client_max_body_size',
    DEFAULT_POST_MAX_SIZE_BYTES,
    'php-post-max-size',
    { postMaxSizeBytes: DEFAULT_POST_MAX_SIZE_BYTES },
    "PHP's post_max_size (8M by default): nginx's own 1m is below PHP's upload_max_filesize (2M) and refuses with 413 uploads PHP would take, while a larger value lets through bodies PHP discards",
  );
  const memoryLimit = d.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT_BYTES;
  add(
    'php.memory_limit',
    memoryLimit === 'unlimited' ? 'unlimited' : memoryLimit,
    d.memoryLimitBytes === undefined ? 'php-default' : 'input',
    {},
    d.memoryLimitBytes === undefined
      ? "PHP's default 128M; the worker size above stays within it"
      : 'as given',
  );

  let window: number;
  if (d.reloadWindowSeconds !== undefined) {
    window = finiteAtLeast('reloadWindowSeconds', d.reloadWindowSeconds, 0);
    add(
      'predictions.reloadWindowSeconds',
      window,
      'input',
      {},
      `the no-accept window of a reload, as measured or given: ${window} s`,
    );
  } else {
    const rw = reloadWindow({
      processControlTimeoutSeconds: corr.processControlTimeoutSeconds,
      longestRequestSeconds: longest,
      restartSeconds: ctx.restart,
    });
    window = rw.windowSeconds;
    add(
      'predictions.reloadWindowSeconds',
      window,
      rw.rule,
      {
        processControlTimeoutSeconds: corr.processControlTimeoutSeconds,
        longestRequestSeconds: longest,
        restartSeconds: ctx.restart,
      },
      `worst case: ${rw.text}; give reloadWindowSeconds if the longest request in flight at a reload is usually shorter`,
    );
  }
  const bl = recommendBacklog({
    arrivalRate: lambda,
    windowSeconds: window,
    servers: c,
    serviceTimeSeconds: s,
    giveUpSeconds: corr.fastcgiReadTimeoutSeconds,
    queuedConnections: q.meanQueueLength,
    overflowProbability: ctx.eps,
    currentSomaxconn: ctx.somaxconnNow,
    ...(ctx.input.minBacklog === undefined ? {} : { minBacklog: ctx.input.minBacklog }),
  });
  if (!bl.absorbs) warnings.push(bl.text);
  const blInputs = {
    arrivalRate: lambda,
    windowSeconds: window,
    maxChildren: c,
    meanQueued: q.meanQueueLength,
    overflowProbability: ctx.eps,
    fastcgiReadTimeoutSeconds: corr.fastcgiReadTimeoutSeconds,
  };
  add(
    'listen.backlog',
    bl.backlog,
    bl.absorbs ? 'absorb-reload-window' : 'drain-bound',
    blInputs,
    bl.text,
  );
  add(
    'net.core.somaxconn',
    bl.somaxconn,
    'at-least-backlog',
    { backlog: bl.backlog, currentSomaxconn: ctx.somaxconnNow },
    `at least listen.backlog ${bl.backlog}, since the kernel caps the backlog at somaxconn without a word; never lowered below the current ${ctx.somaxconnNow}`,
  );

  const queued = Math.min(Math.round(q.meanQueueLength), bl.queueCapacity);
  const reloadIn = {
    arrivalRate: lambda,
    windowSeconds: window,
    queueCapacity: bl.queueCapacity,
    queuedConnections: queued,
  };
  const refused = reloadOverflow(reloadIn);
  const refusedP = reloadOverflowProbability(reloadIn);
  const k = mmck({
    arrivalRate: lambda,
    serviceTimeSeconds: s,
    servers: c,
    capacity: c + bl.queueCapacity,
  });
  const p99 = q.waitQuantileSeconds(0.99);
  const predictions: Plan['predictions'] = {
    utilization: q.utilization,
    probabilityOfWait: q.probabilityOfWait,
    meanQueueWaitSeconds: q.meanWaitSeconds,
    p99QueueWaitSeconds: p99,
    steadyState502Rate: k.blockingProbability,
    burstCapacity: c + bl.queueCapacity,
    reloadWindowSeconds: window,
    reloadArrivals: lambda * window,
    reloadRefused: refused,
    reloadRefusalProbability: refusedP,
  };
  const ac = d.serviceTimeCv === undefined ? '' : ` × Allen-Cunneen (1 + ${d.serviceTimeCv}²)/2`;
  const qIn = { arrivalRate: lambda, serviceTimeSeconds: s, maxChildren: c };
  add(
    'predictions.utilization',
    q.utilization,
    'little-law',
    qIn,
    `busy children λ·S = ${q.offeredLoad.toFixed(2)} of ${c} (Little's law)`,
  );
  add(
    'predictions.probabilityOfWait',
    q.probabilityOfWait,
    'erlang-c',
    qIn,
    'Erlang C: the share of requests that find every child busy',
  );
  add(
    'predictions.meanQueueWaitSeconds',
    q.meanWaitSeconds,
    'erlang-c',
    qIn,
    `Erlang C: P(wait) / (c·μ − λ)${ac}`,
  );
  add(
    'predictions.p99QueueWaitSeconds',
    p99,
    'erlang-c',
    qIn,
    `Erlang C: ln(P(wait) / 0.01) / (c·μ − λ)${ac}, 0 when fewer than 1 % wait`,
  );
  add(
    'predictions.steadyState502Rate',
    k.blockingProbability,
    'mmck',
    { ...qIn, capacity: c + bl.queueCapacity },
    `M/M/c/K: the share of arrivals finding ${c} children and ${bl.queueCapacity} queue slots all taken`,
  );
  add(
    'predictions.burstCapacity',
    c + bl.queueCapacity,
    'children-plus-queue',
    { maxChildren: c, queueCapacity: bl.queueCapacity },
    'simultaneous connections absorbed when every child is idle: children + min(backlog, somaxconn) + 1; fewer when nginx connects faster than idle children wake',
  );
  add(
    'predictions.reloadArrivals',
    lambda * window,
    'rate-times-window',
    { arrivalRate: lambda, windowSeconds: window },
    `${lambda} req/s × ${window} s arrive while nothing is accepted`,
  );
  add(
    'predictions.reloadRefused',
    refused,
    'poisson-excess',
    reloadIn,
    `expected arrivals beyond the ${bl.queueCapacity - queued} free queue slots (Poisson), each a 502`,
  );
  add(
    'predictions.reloadRefusalProbability',
    refusedP,
    'poisson-tail',
    reloadIn,
    'chance that one reload refuses at least one connection',
  );
  if (ctx.input.currentListenBacklog !== undefined || ctx.input.currentSomaxconn !== undefined) {
    const curBacklog = integerIn(
      'currentListenBacklog',
      ctx.input.currentListenBacklog ?? -1,
      -1,
      MAX_BACKLOG,
    );
    const curQueue = acceptQueueCapacity({
      listenBacklog: curBacklog,
      somaxconn: ctx.somaxconnNow,
    });
    // A queue deeper than the children drain before nginx gives up turns 502s into 504s: count
    // both, as the planned backlog (capped at that depth) does.
    const useful = Math.min(curQueue, bl.drainableQueueCapacity);
    const before = reloadOverflow({
      arrivalRate: lambda,
      windowSeconds: window,
      queueCapacity: useful,
      queuedConnections: Math.min(queued, useful),
    });
    predictions.reloadRefusedWithCurrentSettings = before;
    const deep =
      useful < curQueue
        ? `, but only ${useful} of them drain before nginx gives up after ${corr.fastcgiReadTimeoutSeconds} s, so a reload fails ${before.toFixed(1)} connections on average (refused with 502, or timed out with 504 in the queue)`
        : `, so a reload refuses ${before.toFixed(1)} connections on average`;
    add(
      'predictions.reloadRefusedWithCurrentSettings',
      before,
      'poisson-excess',
      {
        listenBacklog: curBacklog,
        somaxconn: ctx.somaxconnNow,
        queueCapacity: curQueue,
        drainableQueueCapacity: bl.drainableQueueCapacity,
      },
      `today the queue holds min(${curBacklog < 0 ? 'somaxconn' : curBacklog}, ${ctx.somaxconnNow}) + 1 = ${curQueue}${deep}`,
    );
  }

  const address = d.listenAddress ?? `/run/php/${d.name}.sock`;
  const unix = address.startsWith('/');
  const backend = fastcgiBackendOf(address);
  // A port on every interface takes FastCGI from anyone who reaches it; the planned nginx
  // connects over loopback, so only that address is let in.
  const wildcard = 'host' in backend && !address.includes(backend.host);
  const pool = model<PoolConfig>(
    poolSchema,
    {
      name: d.name,
      ...(d.user === undefined ? {} : { user: d.user }),
      ...(d.group === undefined ? {} : { group: d.group }),
      listen: {
        address,
        backlog: bl.backlog,
        ...(unix && d.listenOwner !== undefined ? { owner: d.listenOwner } : {}),
        ...(unix && d.listenGroup !== undefined ? { group: d.listenGroup } : {}),
        ...(unix && d.listenMode !== undefined ? { mode: d.listenMode } : {}),
        ...(wildcard && 'host' in backend ? { allowedClients: [backend.host] } : {}),
      },
      pm,
      requestTerminateTimeoutSeconds: corr.requestTerminateTimeoutSeconds,
    },
    'pool',
  );
  ex.push(
    ...simulatedPlanCheck(pool, {
      arrivalRate: lambda,
      serviceTimeSeconds: s,
      serviceTimeCv: d.serviceTimeCv,
      somaxconn: bl.somaxconn,
      processControlTimeoutSeconds: corr.processControlTimeoutSeconds,
      erlangP99Seconds: p99,
    }),
  );
  return {
    pool,
    global: model<GlobalConfig>(
      globalSchema,
      { processControlTimeoutSeconds: corr.processControlTimeoutSeconds },
      'global',
    ),
    kernel: model<KernelSettings>(kernelSettingsSchema, { somaxconn: bl.somaxconn }, 'kernel'),
    nginx: model(
      nginxFastcgiSchema,
      {
        upstream: { name: upstreamName(d.name), servers: [backend] },
        connectTimeoutSeconds: PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
        readTimeoutSeconds: corr.fastcgiReadTimeoutSeconds,
        // nginx's own default (1m) is below PHP's upload_max_filesize (2M) and answers 413 to
        // uploads PHP accepts; post_max_size is the largest body PHP reads at all.
        clientMaxBodySizeBytes: DEFAULT_POST_MAX_SIZE_BYTES,
      },
      'nginx',
    ),
    php: model(
      phpIniSchema,
      { maxExecutionTimeSeconds: corr.maxExecutionTimeSeconds, memoryLimitBytes: memoryLimit },
      'memoryLimitBytes',
    ),
    predictions,
    explanations: ex,
    warnings,
  };
}

/** A value through its area's schema, so a plan's parts are valid models by construction. */
function model<T>(schema: ZodType<T>, value: unknown, option: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map(String).join('.');
    throw new FpmkitInvalidOptionError(path === '' ? option : `${option}.${path}`, issue.message);
  }
  return result.data;
}

/** nginx upstream name for a pool: FPM pool names may hold `@` and `+`, upstream names not. */
function upstreamName(pool: string): string {
  return `php_fpm_${pool.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/**
 * Where nginx connects for an FPM `listen` value, as `parseListen` reads it: a UNIX socket at
 * its path (which must be absolute: nginx does not know FPM's prefix), a wildcard address on the
 * loopback address of its family (`9000` and `0.0.0.0:9000` on 127.0.0.1, `[::]:9000` on ::1).
 * Throws `FpmkitInvalidOptionError` (option `listenAddress`) for anything FPM would refuse.
 */
export function fastcgiBackendOf(listen: string): FastcgiBackend {
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
    return { host: '127.0.0.1', port: address.port };
  return listenConnectTarget(address);
}

/**
 * Plans one pool on a host: `planHost` with a single pool. Throws `FpmkitInfeasiblePlanError`
 * when the target does not fit the memory or the cores.
 */
export function planPool(input: PlanPoolInput): Plan {
  const {
    cores,
    totalMemoryBytes,
    cgroupLimitsBytes,
    reserveBytes,
    otherServicesBytes,
    currentSomaxconn,
    currentListenBacklog,
    restartSeconds,
    overflowProbability,
    minBacklog,
    share,
    ...demand
  } = input;
  const host = planHost({
    pools: [demand],
    cores,
    totalMemoryBytes,
    ...(cgroupLimitsBytes === undefined ? {} : { cgroupLimitsBytes }),
    ...(reserveBytes === undefined ? {} : { reserveBytes }),
    ...(otherServicesBytes === undefined ? {} : { otherServicesBytes }),
    ...(currentSomaxconn === undefined ? {} : { currentSomaxconn }),
    ...(currentListenBacklog === undefined ? {} : { currentListenBacklog }),
    ...(restartSeconds === undefined ? {} : { restartSeconds }),
    ...(overflowProbability === undefined ? {} : { overflowProbability }),
    ...(minBacklog === undefined ? {} : { minBacklog }),
    ...(share === undefined ? {} : { share }),
  });
  const plan = host.pools[0]!;
  return {
    ...plan,
    explanations: [
      ...plan.explanations,
      ...host.explanations.filter((e) => e.setting === 'memory.plannedBytes'),
    ],
  };
}

export type SafePlanResult<T> =
  | { success: true; data: T }
  | { success: false; error: FpmkitInfeasiblePlanError };

/** `planPool` returning a result instead of throwing when the plan is infeasible. */
export function safePlanPool(input: PlanPoolInput): SafePlanResult<Plan> {
  return safely(() => planPool(input));
}

/** `planHost` returning a result instead of throwing when the plan is infeasible. */
export function safePlanHost(input: PlanHostInput): SafePlanResult<HostPlan> {
  return safely(() => planHost(input));
}

function safely<T>(fn: () => T): SafePlanResult<T> {
  try {
    return { success: true, data: fn() };
  } catch (error) {
    if (error instanceof FpmkitInfeasiblePlanError) return { success: false, error };
    throw error;
  }
}
