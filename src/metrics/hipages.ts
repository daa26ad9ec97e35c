import type { FastCGITarget } from '../fastcgi/target.js';
import { freezeFamilies, type MetricFamily } from './catalog.js';
import { listenToTarget, type PoolSample, type PoolTarget } from './sampler.js';
import type { MetricSample } from './samples.js';

/**
 * Families emitted in hipages/php-fpm_exporter's names and labels (its `phpfpm/exporter.go`,
 * read at commit 0ef3d97 of github.com/hipages/php-fpm_exporter), so dashboards and alerts
 * written for that exporter, its published Grafana dashboard among them, work unchanged.
 * Values keep that exporter's units: `phpfpm_start_since` is seconds since the pool started,
 * `phpfpm_process_request_duration` microseconds, `phpfpm_process_last_request_cpu` percent.
 * Its counters carry no `_total` suffix, so they are served only in the 0.0.4 text format, and
 * `promtool check metrics` reports the missing suffix on them, as it does for that exporter.
 */
export const HIPAGES_FAMILIES = [
  {
    name: 'phpfpm_up',
    type: 'gauge',
    help: 'Compatibility: 1 when the pool answered its status page, 0 otherwise.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_scrape_failures',
    type: 'counter',
    help: 'Compatibility: failed status reads of the pool since the exporter started.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_start_since',
    type: 'counter',
    help: 'Compatibility: seconds since the pool started (status page "start since").',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_accepted_connections',
    type: 'counter',
    help: 'Compatibility: requests the pool accepted since it started.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_listen_queue',
    type: 'gauge',
    help: 'Compatibility: connections waiting to be accepted, as the status page prints it (0 for UNIX sockets; see fpm_listen_queue_connections).',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_max_listen_queue',
    type: 'counter',
    help: 'Compatibility: highest listen queue since the pool started, as the status page prints it.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_listen_queue_length',
    type: 'gauge',
    help: 'Compatibility: size of the accept queue, as the status page prints it.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_idle_processes',
    type: 'gauge',
    help: 'Compatibility: idle workers.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_active_processes',
    type: 'gauge',
    help: 'Compatibility: active workers.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_total_processes',
    type: 'gauge',
    help: 'Compatibility: idle plus active workers.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_max_active_processes',
    type: 'counter',
    help: 'Compatibility: highest number of active workers since the pool started.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_max_children_reached',
    type: 'counter',
    help: 'Compatibility: times pm.max_children stopped the process manager from adding a worker.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_slow_requests',
    type: 'counter',
    help: 'Compatibility: requests that ran past request_slowlog_timeout.',
    labels: ['pool', 'scrape_uri'],
  },
  {
    name: 'phpfpm_process_requests',
    type: 'counter',
    help: 'Compatibility: requests one worker served; child is its position in the worker list.',
    labels: ['pool', 'child', 'scrape_uri'],
  },
  {
    name: 'phpfpm_process_last_request_memory',
    type: 'gauge',
    help: "Compatibility: peak memory in bytes of one worker's last request.",
    labels: ['pool', 'child', 'scrape_uri'],
  },
  {
    name: 'phpfpm_process_last_request_cpu',
    type: 'gauge',
    help: "Compatibility: percent of one CPU one worker's last request used.",
    labels: ['pool', 'child', 'scrape_uri'],
  },
  {
    name: 'phpfpm_process_request_duration',
    type: 'gauge',
    help: "Compatibility: one worker's request duration in microseconds.",
    labels: ['pool', 'child', 'scrape_uri'],
  },
  {
    name: 'phpfpm_process_state',
    type: 'gauge',
    help: 'Compatibility: 1 for the state one worker is in, 0 for the other states.',
    labels: ['pool', 'child', 'state', 'scrape_uri'],
  },
] as const satisfies readonly MetricFamily[];
freezeFamilies(HIPAGES_FAMILIES);

/** The compatibility modes of the collector and the exporter. */
export const COMPAT_MODES = ['hipages'] as const;
/** `hipages`: also emit hipages/php-fpm_exporter's families. */
export type CompatMode = (typeof COMPAT_MODES)[number];

/**
 * The states that exporter lists for every worker (its state table, with the pre-7.4 spelling
 * of the request-information state); a worker in another state adds that state with value 1.
 */
export const HIPAGES_PROCESS_STATES = [
  'Idle',
  'Running',
  'Finishing',
  'Reading headers',
  'Getting request informations',
  'Ending',
] as const;

/**
 * The `scrape_uri` label that exporter gives a pool: `unix://PATH;STATUS_PATH` or
 * `tcp://HOST:PORT/STATUS_PATH` (the form of its `--phpfpm.scrape-uri`).
 */
export function hipagesScrapeUri(target: PoolTarget): string {
  const path = target.statusPath ?? '/status';
  let address: FastCGITarget;
  try {
    address = listenToTarget(target.statusListen ?? target.listen);
  } catch {
    return `tcp://${target.statusListen ?? target.listen}${path}`;
  }
  if (typeof address === 'string') return `tcp://${address}${path}`;
  if ('socketPath' in address) return `unix://${address.socketPath};${path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `tcp://${host}:${address.port}${path}`;
}

/**
 * One pool's samples in hipages' names: `phpfpm_up` and `phpfpm_scrape_failures` always, the
 * rest when the pool answered, per-worker series included (that exporter always emits them).
 * `failures` is the pool's failure count so far, this collection included.
 */
export function hipagesPoolSamples(
  target: PoolTarget,
  sample: PoolSample,
  scrapeUri: string,
  failures: number,
  out: MetricSample[],
): void {
  const status = sample.status;
  const pool = target.name ?? status?.pool ?? '';
  const labels = { pool, scrape_uri: scrapeUri };
  const push = (name: string, value: number, extra?: Record<string, string>) =>
    out.push({ name, labels: extra ? { ...labels, ...extra } : labels, value });
  push('phpfpm_scrape_failures', failures);
  push('phpfpm_up', status ? 1 : 0);
  if (!status) return;
  push('phpfpm_start_since', status.startSinceSeconds);
  push('phpfpm_accepted_connections', status.acceptedConn);
  push('phpfpm_listen_queue', status.listenQueue ?? 0);
  push('phpfpm_max_listen_queue', status.maxListenQueue ?? 0);
  push('phpfpm_listen_queue_length', status.listenQueueLen ?? 0);
  push('phpfpm_idle_processes', status.idleProcesses);
  push('phpfpm_active_processes', status.activeProcesses);
  push('phpfpm_total_processes', status.totalProcesses);
  push('phpfpm_max_active_processes', status.maxActiveProcesses);
  push('phpfpm_max_children_reached', status.maxChildrenReached);
  push('phpfpm_slow_requests', status.slowRequests ?? 0);
  const processes = status.processes ?? [];
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i]!;
    const child = String(i);
    for (const state of HIPAGES_PROCESS_STATES)
      push('phpfpm_process_state', p.state === state ? 1 : 0, { child, state });
    if (!(HIPAGES_PROCESS_STATES as readonly string[]).includes(p.state))
      push('phpfpm_process_state', 1, { child, state: p.state });
    push('phpfpm_process_requests', p.requests, { child });
    push('phpfpm_process_last_request_memory', p.lastRequestMemoryBytes, { child });
    push('phpfpm_process_last_request_cpu', p.lastRequestCpuPercent ?? 0, { child });
    push('phpfpm_process_request_duration', p.requestDurationMicros, { child });
  }
}
