/**
 * The planner's last step: one explanation per number, in words, from the solved figures. The
 * words are written from the numbers, never the reverse: programs read `value` and `unit`.
 */
import { mib } from './memory.js';
import type { Explanation, ExplanationUnit } from './plan.js';
import {
  DEFAULT_POST_MAX_SIZE_BYTES,
  MASTER_BASE_FDS,
  MASTER_FDS_PER_CHILD,
  MIN_PLANNED_LIMIT_NOFILE,
  PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
  UNMEASURED_LEAK_MAX_REQUESTS,
} from './planner-input.js';
import type { SolvedHost, SolvedPool } from './planner-solve.js';

type Add = (
  setting: string,
  value: number | string,
  unit: ExplanationUnit,
  rule: string,
  inputs: Explanation['inputs'],
  text: string,
) => void;

function collector(): { list: Explanation[]; add: Add } {
  const list: Explanation[] = [];
  const add: Add = (setting, value, unit, rule, inputs, text) =>
    list.push({ setting, value, unit, rule, inputs, text });
  return { list, add };
}

function shareText(p: SolvedPool): string {
  const extra = p.want - p.need.neededChildren;
  return p.share.kind === 'headroom-fits'
    ? `${extra} extra for headroom fit the memory budget`
    : `memory beyond the need is shared by ${p.share.by}: ${p.children - p.need.neededChildren} of the ${extra} extra wanted`;
}

function maxRequestsText(p: SolvedPool): string {
  const w = p.worker;
  const leak = p.pool.leakBytesPerRequest ?? 0;
  if (w.maxRequestsRule === 'no-leak')
    return 'no leak (leakBytesPerRequest = 0): 0, FPM never recycles children';
  if (w.maxRequestsRule === 'unmeasured-leak')
    return `no leak measured: ${UNMEASURED_LEAK_MAX_REQUESTS}, a safety net that bounds what an unmeasured leak can grow to (give leakBytesPerRequest to set it from data)`;
  const budget = w.growthBudgetBytes ?? 0;
  const percent = Math.round((p.pool.growthBudgetFraction ?? 0) * 100);
  return `a worker grows ${leak} B per request; allowing ${percent} % growth (${mib(budget)}) recycles it after floor(${Math.round(budget)} / ${leak}) = ${w.maxRequests} requests`;
}

function explainChildren(p: SolvedPool, add: Add): void {
  const w = p.worker;
  add(
    'pm.max_children',
    p.children,
    'count',
    'erlang-c-target',
    {
      arrivalRate: p.pool.arrivalRate,
      serviceTimeSeconds: p.pool.serviceTimeSeconds,
      neededChildren: p.need.neededChildren,
      workerBytes: w.bytes,
      ...(p.need.cpuMaxChildren === undefined ? {} : { cpuMaxChildren: p.need.cpuMaxChildren }),
    },
    `${p.need.text}; ${shareText(p)}`,
  );
  const growth = w.growthBytes > 0 ? ` + leak growth before recycling ${mib(w.growthBytes)}` : '';
  add(
    'sizing.workerBytes',
    w.bytes,
    'bytes',
    w.source,
    { source: w.source },
    `${p.pool.baseWorker.text}${growth} = ${mib(w.bytes)}`,
  );
}

function explainPm(p: SolvedPool, add: Add): void {
  const c = p.children;
  const spare = p.spare;
  if (spare !== undefined) {
    const inputs = { offeredLoad: p.queue.offeredLoad, maxChildren: c };
    const { minSpareServers: min, maxSpareServers: max } = spare;
    add('pm.min_spare_servers', min, 'count', 'poisson-spare', inputs, spare.text);
    add('pm.max_spare_servers', max, 'count', 'twice-min-spare', inputs, spare.text);
    add(
      'pm.start_servers',
      spare.startServers,
      'count',
      'fpm-start-formula',
      { minSpareServers: min, maxSpareServers: max },
      "FPM's own default: min_spare + (max_spare − min_spare) / 2, integer division",
    );
    add(
      'pm.max_spawn_rate',
      spare.maxSpawnRate,
      'count',
      'power-of-two-over-min-spare',
      { minSpareServers: min },
      'the smallest power of two ≥ min_spare_servers: FPM forks at most min_spare − idle per second, and its doubling rate overshoots a maximum that is not a power of two',
    );
  } else if (p.processIdleTimeoutSeconds !== undefined) {
    const lambda = p.pool.arrivalRate;
    add(
      'pm.process_idle_timeout',
      p.processIdleTimeoutSeconds,
      'seconds',
      'three-gaps',
      { arrivalRate: lambda, children: c },
      `a child sees a request about every ${(c / Math.max(lambda, 1e-9)).toFixed(2)} s; it is kept for 3 such gaps, between FPM's 10 s default and 300 s`,
    );
  }
  add(
    'pm.max_requests',
    p.worker.maxRequests,
    'count',
    p.worker.maxRequestsRule,
    { leakBytesPerRequest: p.pool.leakBytesPerRequest ?? 0 },
    maxRequestsText(p),
  );
}

function explainTimeouts(p: SolvedPool, host: SolvedHost, add: Add): void {
  const corr = p.pool.corridor;
  const pct = host.processControlTimeoutSeconds;
  const raised =
    pct === corr.processControlTimeoutSeconds
      ? ''
      : `; raised to ${pct} s, the longest of any pool (the setting is global)`;
  const terminate = corr.requestTerminateTimeoutSeconds;
  add(
    'php.max_execution_time',
    corr.maxExecutionTimeSeconds,
    'seconds',
    'timeout-corridor',
    { longestRequestSeconds: p.pool.longestRequestSeconds },
    corr.text.maxExecutionTimeSeconds,
  );
  add(
    'request_terminate_timeout',
    terminate,
    'seconds',
    'timeout-corridor',
    { maxExecutionTimeSeconds: corr.maxExecutionTimeSeconds },
    corr.text.requestTerminateTimeoutSeconds,
  );
  add(
    'fastcgi_read_timeout',
    corr.fastcgiReadTimeoutSeconds,
    'seconds',
    'timeout-corridor',
    { requestTerminateTimeoutSeconds: terminate },
    corr.text.fastcgiReadTimeoutSeconds,
  );
  add(
    'process_control_timeout',
    pct,
    'seconds',
    'timeout-corridor',
    { requestTerminateTimeoutSeconds: terminate },
    `${corr.text.processControlTimeoutSeconds}${raised}`,
  );
  add(
    'fastcgi_connect_timeout',
    PLANNED_FASTCGI_CONNECT_TIMEOUT_SECONDS,
    'seconds',
    'fixed',
    {},
    'a UNIX connect() queues or fails with EAGAIN at once; over TCP a full queue drops the SYN and the kernel retries after 1 and 3 s, so 5 s allows two retries',
  );
}

function explainPhp(p: SolvedPool, add: Add): void {
  add(
    'client_max_body_size',
    DEFAULT_POST_MAX_SIZE_BYTES,
    'bytes',
    'php-post-max-size',
    { postMaxSizeBytes: DEFAULT_POST_MAX_SIZE_BYTES },
    "PHP's post_max_size (8M by default): nginx's own 1m is below PHP's upload_max_filesize (2M) and refuses with 413 uploads PHP would take, while a larger value lets through bodies PHP discards",
  );
  const limit = p.pool.memoryLimit;
  add(
    'php.memory_limit',
    limit.bytes,
    'bytes',
    limit.given ? 'input' : 'php-default',
    {},
    limit.given ? 'as given' : "PHP's default 128M; the worker size above stays within it",
  );
}

function explainBacklog(p: SolvedPool, host: SolvedHost, add: Add): void {
  const r = p.reload;
  const window = r.seconds;
  const now = host.normal.somaxconnNow;
  if (r.rule === 'input') {
    const text = `the no-accept window of a reload, as measured or given: ${window} s`;
    add('predictions.reloadWindowSeconds', window, 'seconds', 'input', {}, text);
  } else {
    add(
      'predictions.reloadWindowSeconds',
      window,
      'seconds',
      r.rule,
      {
        processControlTimeoutSeconds: p.pool.corridor.processControlTimeoutSeconds,
        longestRequestSeconds: p.pool.longestRequestSeconds,
        restartSeconds: host.normal.restartSeconds,
      },
      `worst case: ${r.text}; give reloadWindowSeconds if the longest request in flight at a reload is usually shorter`,
    );
  }
  const bl = p.backlog;
  add(
    'listen.backlog',
    bl.backlog,
    'count',
    bl.absorbs ? 'absorb-reload-window' : 'drain-bound',
    {
      arrivalRate: p.pool.arrivalRate,
      windowSeconds: window,
      maxChildren: p.children,
      meanQueued: p.queue.meanQueueLength,
      overflowProbability: host.normal.overflowProbability,
      fastcgiReadTimeoutSeconds: p.pool.corridor.fastcgiReadTimeoutSeconds,
    },
    bl.text,
  );
  const raised =
    host.somaxconn === bl.somaxconn
      ? ''
      : `; raised to ${host.somaxconn} for another pool on the host`;
  add(
    'net.core.somaxconn',
    host.somaxconn,
    'count',
    'at-least-backlog',
    { backlog: bl.backlog, currentSomaxconn: now },
    `at least listen.backlog ${bl.backlog}, since the kernel caps the backlog at somaxconn without a word; never lowered below the current ${now}${raised}`,
  );
}

function explainQueue(p: SolvedPool, add: Add): void {
  const { queue: q, children: c, predictions: pr } = p;
  const cv = p.pool.serviceTimeCv;
  const ac = cv === undefined ? '' : ` × Allen-Cunneen (1 + ${cv}²)/2`;
  const qIn = {
    arrivalRate: p.pool.arrivalRate,
    serviceTimeSeconds: p.pool.serviceTimeSeconds,
    maxChildren: c,
  };
  const busy = `busy children λ·S = ${q.offeredLoad.toFixed(2)} of ${c} (Little's law)`;
  add('predictions.utilization', pr.utilization, 'fraction', 'little-law', qIn, busy);
  add(
    'predictions.probabilityOfWait',
    pr.probabilityOfWait,
    'fraction',
    'erlang-c',
    qIn,
    'Erlang C: the share of requests that find every child busy',
  );
  add(
    'predictions.meanQueueWaitSeconds',
    pr.meanQueueWaitSeconds,
    'seconds',
    'erlang-c',
    qIn,
    `Erlang C: P(wait) / (c·μ − λ)${ac}`,
  );
  add(
    'predictions.p99QueueWaitSeconds',
    pr.p99QueueWaitSeconds,
    'seconds',
    'erlang-c',
    qIn,
    `Erlang C: ln(P(wait) / 0.01) / (c·μ − λ)${ac}, 0 when fewer than 1 % wait`,
  );
  const slots = p.backlog.queueCapacity;
  add(
    'predictions.steadyState502Rate',
    pr.steadyState502Rate,
    'fraction',
    'mmck',
    { ...qIn, capacity: c + slots },
    `M/M/c/K: the share of arrivals finding ${c} children and ${slots} queue slots all taken`,
  );
  add(
    'predictions.burstCapacity',
    pr.burstCapacity,
    'count',
    'children-plus-queue',
    { maxChildren: c, queueCapacity: slots },
    'simultaneous connections absorbed when every child is idle: children + min(backlog, somaxconn) + 1; fewer when nginx connects faster than idle children wake',
  );
}

function explainReload(p: SolvedPool, add: Add): void {
  const { predictions: pr } = p;
  const reloadInput = Object.fromEntries(
    Object.entries(p.reloadInput).filter(([, v]) => v !== undefined),
  ) as Record<string, string | number | boolean>;
  const lambda = p.pool.arrivalRate;
  const window = p.reload.seconds;
  add(
    'predictions.reloadArrivals',
    pr.reloadArrivals,
    'count',
    'rate-times-window',
    { arrivalRate: lambda, windowSeconds: window },
    `${lambda} req/s × ${window} s arrive while nothing is accepted`,
  );
  add(
    'predictions.reloadRefused',
    pr.reloadRefused,
    'count',
    'poisson-excess',
    reloadInput,
    `expected arrivals beyond the ${p.backlog.queueCapacity - p.queuedAtReload} free queue slots (Poisson), each a 502`,
  );
  add(
    'predictions.reloadRefusalProbability',
    pr.reloadRefusalProbability,
    'fraction',
    'poisson-tail',
    reloadInput,
    'chance that one reload refuses at least one connection',
  );
}

function explainCurrent(p: SolvedPool, host: SolvedHost, add: Add): void {
  const cur = p.current;
  if (cur === undefined) return;
  const now = host.normal.somaxconnNow;
  const read = p.pool.corridor.fastcgiReadTimeoutSeconds;
  const deep =
    cur.usefulQueueCapacity < cur.queueCapacity
      ? `, but only ${cur.usefulQueueCapacity} of them drain before nginx gives up after ${read} s, so a reload fails ${cur.refused.toFixed(1)} connections on average (refused with 502, or timed out with 504 in the queue)`
      : `, so a reload refuses ${cur.refused.toFixed(1)} connections on average`;
  add(
    'predictions.reloadRefusedWithCurrentSettings',
    cur.refused,
    'count',
    'poisson-excess',
    {
      listenBacklog: cur.listenBacklog,
      somaxconn: now,
      queueCapacity: cur.queueCapacity,
      drainableQueueCapacity: p.backlog.drainableQueueCapacity,
    },
    `today the queue holds min(${cur.listenBacklog < 0 ? 'somaxconn' : cur.listenBacklog}, ${now}) + 1 = ${cur.queueCapacity}${deep}`,
  );
}

/** The explanations of one pool's numbers, in the order a person reads the plan. */
export function explainPool(p: SolvedPool, host: SolvedHost): Explanation[] {
  const { list, add } = collector();
  explainChildren(p, add);
  explainPm(p, add);
  explainTimeouts(p, host, add);
  explainPhp(p, add);
  explainBacklog(p, host, add);
  explainQueue(p, add);
  explainReload(p, add);
  explainCurrent(p, host, add);
  return list;
}

/** Why LimitNOFILE is what it is; every pool's plan carries a copy. */
export function explainLimitNofile(host: SolvedHost): Explanation {
  const children = host.totalChildren;
  return {
    setting: 'LimitNOFILE',
    value: host.limitNofile,
    unit: 'count',
    rule: 'master-pipes-per-child',
    inputs: {
      children,
      fdsPerChild: MASTER_FDS_PER_CHILD,
      baseFds: MASTER_BASE_FDS,
      floor: MIN_PLANNED_LIMIT_NOFILE,
    },
    text: `the FPM master holds ${MASTER_FDS_PER_CHILD} pipes per child (its stdout and stderr) plus ${MASTER_BASE_FDS} for sockets and logs, and workers inherit the limit for their own connections: max(${MIN_PLANNED_LIMIT_NOFILE}, ${MASTER_FDS_PER_CHILD} × ${children} + ${MASTER_BASE_FDS})`,
  };
}

/** Why the memory the pools may take is within the budget. */
export function explainPlannedMemory(host: SolvedHost): Explanation {
  const memory = host.normal.memory;
  return {
    setting: 'memory.plannedBytes',
    value: host.plannedBytes,
    unit: 'bytes',
    rule: 'memory-budget',
    inputs: {
      budgetBytes: memory.budgetBytes,
      limitBytes: memory.limitBytes,
      reserveBytes: memory.reserveBytes,
      otherServicesBytes: memory.otherServicesBytes,
    },
    text: `Σ max_children × worker size = ${mib(host.plannedBytes)} within the budget: ${memory.text}`,
  };
}

/** The host-wide explanations: LimitNOFILE, somaxconn, process_control_timeout, memory. */
export function explainHost(host: SolvedHost): Explanation[] {
  const now = host.normal.somaxconnNow;
  return [
    explainLimitNofile(host),
    {
      setting: 'net.core.somaxconn',
      value: host.somaxconn,
      unit: 'count',
      rule: 'max-of-pools',
      inputs: {
        currentSomaxconn: now,
        ...Object.fromEntries(
          host.pools.map((p) => [`${p.pool.name}.listen.backlog`, p.backlog.backlog]),
        ),
      },
      text: `the largest listen.backlog of any pool, never below the current ${now}: the kernel silently caps every backlog at somaxconn`,
    },
    {
      setting: 'process_control_timeout',
      value: host.processControlTimeoutSeconds,
      unit: 'seconds',
      rule: 'max-of-pools',
      inputs: Object.fromEntries(
        host.pools.map((p) => [
          `${p.pool.name}.request_terminate_timeout`,
          p.pool.corridor.requestTerminateTimeoutSeconds,
        ]),
      ),
      text: 'a global setting: the longest request_terminate_timeout of any pool, so no reload kills a request that could still finish',
    },
    explainPlannedMemory(host),
  ];
}
