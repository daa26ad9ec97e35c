/**
 * The metric families fpmkit exports, in the order they are rendered. Names follow the
 * Prometheus conventions (https://prometheus.io/docs/practices/naming/): base units in the
 * name (`_seconds`, `_bytes`, `_ratio`), counters end in `_total`. docs/metrics.md lists them.
 */

/** The two types fpmkit exports. */
export const METRIC_TYPES = ['gauge', 'counter'] as const;
/** `gauge` or `counter`. */
export type MetricType = (typeof METRIC_TYPES)[number];

/** One metric family: the name samples carry, its type, help text, unit and label names. */
export interface MetricFamily {
  /** The sample name; for counters it ends in `_total`. */
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** Base unit named at the end of the name (OpenMetrics `# UNIT`); absent for counts. */
  readonly unit?: 'seconds' | 'bytes' | 'ratio';
  /** Label names in the order they are rendered. */
  readonly labels: readonly string[];
  /** True for per-process families, rendered only when per-process series are asked for. */
  readonly perProcess?: boolean;
  /** True for families only the exporter command produces (not the collector). */
  readonly exporterOnly?: boolean;
}

/** Labels of every pool series: the pool name and its listen address keep same-named pools of different masters apart. */
export const POOL_LABELS = ['pool', 'listen'] as const;

const pool = POOL_LABELS;

/** Every family fpmkit's collector emits, by name. */
export const METRIC_FAMILIES = [
  {
    name: 'fpm_up',
    type: 'gauge',
    help: '1 when the pool answered its status page within the deadline, 0 otherwise.',
    labels: pool,
  },
  {
    name: 'fpm_scrape_error',
    type: 'gauge',
    help: 'Present with value 1 when the status page could not be read; reason is timeout, eagain (accept queue full), connect, refused, misconfigured, protocol or error.',
    labels: [...pool, 'reason'],
  },
  {
    name: 'fpm_status_duration_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: 'Time the status request took (to the deadline when it did not answer).',
    labels: pool,
  },
  {
    name: 'fpm_start_time_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: "When the pool's scoreboard was created (master start or reload), in seconds since the Unix epoch.",
    labels: pool,
  },
  {
    name: 'fpm_restarts_observed_total',
    type: 'counter',
    help: 'Changes of the pool start time seen by this exporter since it started (master restarts and reloads).',
    labels: pool,
  },
  {
    name: 'fpm_accepted_connections_total',
    type: 'counter',
    help: 'Requests the pool accepted since it started (status and ping requests included).',
    labels: pool,
  },
  {
    name: 'fpm_processes',
    type: 'gauge',
    help: 'Worker processes by state as FPM counts them: idle, or active (every other state, the worker serving this status request included).',
    labels: [...pool, 'state'],
  },
  {
    name: 'fpm_active_processes_by_phase',
    type: 'gauge',
    help: 'Active workers by request phase from the per-worker list: running, reading_headers, info, finishing, ending.',
    labels: [...pool, 'phase'],
  },
  {
    name: 'fpm_max_active_processes',
    type: 'gauge',
    help: 'Highest number of active workers since the pool started.',
    labels: pool,
  },
  {
    name: 'fpm_max_children_reached_total',
    type: 'counter',
    help: 'Times the process manager wanted another worker but pm.max_children was reached (never moves for pm = static).',
    labels: pool,
  },
  {
    name: 'fpm_slow_requests_total',
    type: 'counter',
    help: 'Requests that ran past request_slowlog_timeout.',
    labels: pool,
  },
  {
    name: 'fpm_process_manager',
    type: 'gauge',
    help: 'Constant 1, labelled with the process manager mode the pool reports (static, dynamic, ondemand).',
    labels: [...pool, 'pm'],
  },
  {
    name: 'fpm_max_children',
    type: 'gauge',
    help: 'The configured pm.max_children, when the pool configuration was read.',
    labels: pool,
  },
  {
    name: 'fpm_saturation_ratio',
    type: 'gauge',
    unit: 'ratio',
    help: 'Active workers divided by pm.max_children (1 means every worker the pool may have is busy).',
    labels: pool,
  },
  {
    name: 'fpm_listen_queue_connections',
    type: 'gauge',
    help: "Connections waiting in the listening socket's kernel accept queue now, read from /proc/net (UNIX and TCP alike), whether or not FPM answered.",
    labels: pool,
  },
  {
    name: 'fpm_listen_backlog_connections',
    type: 'gauge',
    help: 'Capacity of the accept queue: the backlog the kernel applies to the listening socket (after the somaxconn cap), from ss.',
    labels: pool,
  },
  {
    name: 'fpm_max_listen_queue_connections',
    type: 'gauge',
    help: 'Highest accept queue FPM sampled since the pool started; only for TCP pools, where FPM measures it.',
    labels: pool,
  },
  {
    name: 'fpm_worker_memory_pss_bytes',
    type: 'gauge',
    unit: 'bytes',
    help: "Sum of the workers' proportional set size (PSS; RSS where smaps_rollup is unreadable).",
    labels: pool,
  },
  {
    name: 'fpm_memory_budget_bytes',
    type: 'gauge',
    unit: 'bytes',
    help: 'pm.max_children times the mean worker PSS: what the pool needs when every worker runs.',
    labels: pool,
  },
  {
    name: 'fpm_cgroup_memory_limit_bytes',
    type: 'gauge',
    unit: 'bytes',
    help: "The tightest memory limit of the master's cgroup; absent when unlimited.",
    labels: pool,
  },
  {
    name: 'fpm_process_requests_total',
    type: 'counter',
    help: 'Requests one worker served (per-process series, off by default).',
    labels: [...pool, 'pid'],
    perProcess: true,
  },
  {
    name: 'fpm_process_state',
    type: 'gauge',
    help: "Constant 1, labelled with one worker's state as FPM prints it (per-process series).",
    labels: [...pool, 'pid', 'state'],
    perProcess: true,
  },
  {
    name: 'fpm_process_request_duration_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: "One worker's current request duration, or its last one when idle (per-process series).",
    labels: [...pool, 'pid'],
    perProcess: true,
  },
  {
    name: 'fpm_process_last_request_memory_bytes',
    type: 'gauge',
    unit: 'bytes',
    help: "Peak memory of one worker's last request, printed by FPM only while idle (per-process series).",
    labels: [...pool, 'pid'],
    perProcess: true,
  },
  {
    name: 'fpm_nginx_upstream_eagain_total',
    type: 'counter',
    help: "nginx error-log lines since the exporter started saying the pool's accept queue was full (connect() failed with 11: Resource temporarily unavailable); only with an nginx error log given.",
    labels: pool,
  },
  {
    name: 'fpm_nginx_upstream_timed_out_total',
    type: 'counter',
    help: 'nginx error-log lines since the exporter started saying the pool timed out (upstream timed out while connecting, sending or reading); only with an nginx error log given.',
    labels: pool,
  },
  {
    name: 'fpm_nginx_error_log_readable',
    type: 'gauge',
    help: 'Only with an nginx error log given: 1 when the last collection could read it, 0 otherwise; path is the log file.',
    labels: ['path'],
  },
  {
    name: 'fpm_tcp_listen_overflows_total',
    type: 'counter',
    help: 'TcpExt ListenOverflows of the network namespace: connections dropped because an accept queue was full.',
    labels: [],
  },
  {
    name: 'fpm_tcp_listen_drops_total',
    type: 'counter',
    help: 'TcpExt ListenDrops of the network namespace: SYNs dropped at listening sockets for any reason.',
    labels: [],
  },
  {
    name: 'fpmkit_exporter_collection_duration_seconds',
    type: 'gauge',
    unit: 'seconds',
    help: 'Time the last collection took.',
    labels: [],
  },
  {
    name: 'fpmkit_exporter_collections_total',
    type: 'counter',
    help: 'Collections run; concurrent scrapes share one, so this grows slower than scrapes.',
    labels: [],
  },
  {
    name: 'fpmkit_exporter_scrapes_total',
    type: 'counter',
    help: 'Scrapes of /metrics answered.',
    labels: [],
    exporterOnly: true,
  },
] as const satisfies readonly MetricFamily[];
freezeFamilies(METRIC_FAMILIES);

/**
 * @internal Freezes a catalog, its families and their label lists: the renderer keeps the text
 * it makes of a frozen family.
 */
export function freezeFamilies(families: readonly MetricFamily[]): void {
  for (const family of families) {
    Object.freeze(family.labels);
    Object.freeze(family);
  }
  Object.freeze(families);
}

/** A family name from the catalog. */
export type MetricName = (typeof METRIC_FAMILIES)[number]['name'];

const BY_NAME: ReadonlyMap<string, MetricFamily> = new Map(METRIC_FAMILIES.map((f) => [f.name, f]));

/** The catalog entry of a family name; undefined for names outside the catalog. */
export function metricFamily(name: string): MetricFamily | undefined {
  return BY_NAME.get(name);
}
