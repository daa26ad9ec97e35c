import { FpmkitInvalidOptionError } from '../errors.js';

/** Options of `renderAlertRules`. */
export interface AlertRulesOptions {
  /** The `job` label Prometheus gives the exporter's targets. @default 'fpmkit' */
  job?: string | undefined;
  /** Queue fill (queued / backlog) above which the accept-queue alert fires. @default 0.8 */
  acceptQueueRatio?: number | undefined;
  /** How long the accept queue must stay that full. @default '30s' */
  acceptQueueFor?: string | undefined;
  /** Saturation above which `FpmSaturationSustained` fires. @default 0.9 */
  saturationRatio?: number | undefined;
  /** How long saturation must last. @default '10m' */
  saturationFor?: string | undefined;
  /** How long a pool or the exporter must be down. @default '1m' */
  downFor?: string | undefined;
}

/** Names of the recording rules, shared by the alerts and the dashboard. */
export const RECORDING_RULES = {
  /** Accept-queue fill per pool: queued connections over the backlog (1 = full). */
  queueFill: 'fpm_pool:listen_queue_fill:ratio',
  /** Requests accepted per second per pool over 1 minute. */
  acceptRate: 'fpm_pool:accepted_connections:rate1m',
  /** Active workers per pool. */
  active: 'fpm_pool:active_processes:sum',
} as const;

const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

function duration(name: string, value: string): string {
  if (!DURATION.test(value))
    throw new FpmkitInvalidOptionError(name, 'must be a Prometheus duration such as 30s or 5m');
  return value;
}

function ratio(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 10)
    throw new FpmkitInvalidOptionError(name, 'must be a number in (0, 10]');
  return value;
}

/** A YAML scalar: a JSON string is a valid double-quoted YAML string. */
const q = (text: string) => JSON.stringify(text);

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function renderRule(rule: Rule): string {
  const lines = [
    rule.record ? `      - record: ${rule.record}` : `      - alert: ${rule.alert}`,
    `        expr: ${q(rule.expr)}`,
  ];
  if (rule.for) lines.push(`        for: ${rule.for}`);
  for (const key of ['labels', 'annotations'] as const) {
    const map = rule[key];
    if (!map) continue;
    lines.push(`        ${key}:`);
    for (const [k, v] of Object.entries(map)) lines.push(`          ${k}: ${q(v)}`);
  }
  return lines.join('\n');
}

/**
 * Prometheus rule file (YAML) for fpmkit's metrics: recording rules the dashboard shares, and
 * alerts for an accept queue near its capacity, 502 risk during reloads, `pm.max_children`
 * reached, sustained saturation, a pool or the exporter down, and backlog drift. Load it with
 * `rule_files`; `promtool check rules` accepts it.
 */
export function renderAlertRules(options: AlertRulesOptions = {}): string {
  const job = options.job ?? 'fpmkit';
  if (!/^[\x20-\x7e]+$/.test(job))
    throw new FpmkitInvalidOptionError('job', 'must be printable ASCII');
  const fill = ratio('acceptQueueRatio', options.acceptQueueRatio ?? 0.8);
  const fillFor = duration('acceptQueueFor', options.acceptQueueFor ?? '30s');
  const sat = ratio('saturationRatio', options.saturationRatio ?? 0.9);
  const satFor = duration('saturationFor', options.saturationFor ?? '10m');
  const downFor = duration('downFor', options.downFor ?? '1m');
  const jobMatcher = `job=${JSON.stringify(job)}`;
  const recording: Rule[] = [
    {
      record: RECORDING_RULES.queueFill,
      expr: 'fpm_listen_queue_connections / fpm_listen_backlog_connections',
    },
    { record: RECORDING_RULES.acceptRate, expr: 'rate(fpm_accepted_connections_total[1m])' },
    {
      record: RECORDING_RULES.active,
      expr: 'sum without (state) (fpm_processes{state="active"})',
    },
  ];
  const page = { severity: 'page' };
  const ticket = { severity: 'ticket' };
  const alerts: Rule[] = [
    {
      alert: 'FpmAcceptQueueNearCapacity',
      expr: `${RECORDING_RULES.queueFill} > ${fill}`,
      for: fillFor,
      labels: page,
      annotations: {
        summary:
          'Accept queue of {{ $labels.pool }} ({{ $labels.listen }}) is {{ $value | humanizePercentage }} full',
        description:
          'Once the backlog is full, nginx gets EAGAIN (UNIX sockets) or SYNs are dropped (TCP) and clients see 502/504. Add workers or raise listen.backlog and net.core.somaxconn.',
      },
    },
    {
      alert: 'FpmReload502Risk',
      expr: `increase(fpm_restarts_observed_total[5m]) > 0 and on (instance, pool, listen) ${RECORDING_RULES.queueFill} > 0.5`,
      labels: page,
      annotations: {
        summary: '{{ $labels.pool }} restarted while its accept queue filled',
        description:
          'During a reload FPM accepts nothing until the new workers start; connections pile up in the backlog and overflow into 502s.',
      },
    },
    {
      alert: 'FpmMaxChildrenReached',
      expr: 'increase(fpm_max_children_reached_total[5m]) > 0',
      labels: ticket,
      annotations: {
        summary: '{{ $labels.pool }} hit pm.max_children',
        description:
          'The process manager wanted more workers than pm.max_children allows; requests waited in the accept queue.',
      },
    },
    {
      alert: 'FpmSaturationSustained',
      expr: `fpm_saturation_ratio >= ${sat}`,
      for: satFor,
      labels: ticket,
      annotations: {
        summary:
          '{{ $labels.pool }} has run at {{ $value | humanizePercentage }} of pm.max_children',
        description:
          'Sustained saturation leaves no headroom for a burst: plan the pool again (fpmkit plan).',
      },
    },
    {
      alert: 'FpmPoolDown',
      expr: 'fpm_up == 0',
      for: downFor,
      labels: page,
      annotations: {
        summary: '{{ $labels.pool }} ({{ $labels.listen }}) does not answer its status page',
        description:
          'fpm_scrape_error gives the reason (timeout, eagain, connect, refused, misconfigured, protocol).',
      },
    },
    {
      alert: 'FpmExporterDown',
      expr: `up{${jobMatcher}} == 0`,
      for: downFor,
      labels: page,
      annotations: { summary: 'fpmkit exporter {{ $labels.instance }} is down' },
    },
    {
      alert: 'FpmBacklogDrift',
      expr: 'changes(fpm_listen_backlog_connections[1h]) > 0',
      labels: ticket,
      annotations: {
        summary: 'Backlog of {{ $labels.pool }} changed {{ $value }} time(s) within the hour',
        description:
          'listen.backlog or net.core.somaxconn changed on a restart; check that the change was meant.',
      },
    },
  ];
  return [
    'groups:',
    '  - name: fpmkit-recording',
    '    rules:',
    ...recording.map(renderRule),
    '  - name: fpmkit-alerts',
    '    rules:',
    ...alerts.map(renderRule),
    '',
  ].join('\n');
}

/** Options of `renderGrafanaDashboard`. */
export interface GrafanaDashboardOptions {
  /** Dashboard title. @default 'PHP-FPM (fpmkit)' */
  title?: string | undefined;
  /** Dashboard uid. @default 'fpmkit-php-fpm' */
  uid?: string | undefined;
}

/** One panel of the dashboard: title, PromQL, unit. */
export interface DashboardPanel {
  title: string;
  expr: string;
  unit: string;
}

/** The panels `renderGrafanaDashboard` draws, in order; `$pool` is the dashboard's pool variable. */
export const DASHBOARD_PANELS: readonly DashboardPanel[] = [
  { title: 'Pools up', expr: 'fpm_up{pool=~"$pool"}', unit: 'none' },
  {
    title: 'Accept queue fill',
    expr: `${RECORDING_RULES.queueFill}{pool=~"$pool"}`,
    unit: 'percentunit',
  },
  {
    title: 'Accept queue (connections)',
    expr: 'fpm_listen_queue_connections{pool=~"$pool"}',
    unit: 'none',
  },
  {
    title: 'Requests per second',
    expr: `${RECORDING_RULES.acceptRate}{pool=~"$pool"}`,
    unit: 'reqps',
  },
  { title: 'Active workers', expr: `${RECORDING_RULES.active}{pool=~"$pool"}`, unit: 'none' },
  {
    title: 'Saturation against pm.max_children',
    expr: 'fpm_saturation_ratio{pool=~"$pool"}',
    unit: 'percentunit',
  },
  { title: 'Workers by phase', expr: 'fpm_active_processes_by_phase{pool=~"$pool"}', unit: 'none' },
  {
    title: 'max_children reached (5m)',
    expr: 'increase(fpm_max_children_reached_total{pool=~"$pool"}[5m])',
    unit: 'none',
  },
  {
    title: 'Slow requests (5m)',
    expr: 'increase(fpm_slow_requests_total{pool=~"$pool"}[5m])',
    unit: 'none',
  },
  {
    title: 'Worker memory (PSS)',
    expr: 'fpm_worker_memory_pss_bytes{pool=~"$pool"}',
    unit: 'bytes',
  },
  { title: 'Memory budget', expr: 'fpm_memory_budget_bytes{pool=~"$pool"}', unit: 'bytes' },
  { title: 'Status request time', expr: 'fpm_status_duration_seconds{pool=~"$pool"}', unit: 's' },
  {
    title: 'TCP listen overflows per second',
    expr: 'rate(fpm_tcp_listen_overflows_total[5m])',
    unit: 'ops',
  },
];

/**
 * A Grafana dashboard (JSON, schema 39) over fpmkit's metrics, one time-series panel per entry
 * of `DASHBOARD_PANELS`, with a `pool` variable and a Prometheus data source variable.
 */
export function renderGrafanaDashboard(options: GrafanaDashboardOptions = {}): string {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  const panels = DASHBOARD_PANELS.map((p, i) => ({
    id: i + 1,
    type: 'timeseries',
    title: p.title,
    datasource: ds,
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
    targets: [
      {
        refId: 'A',
        datasource: ds,
        expr: p.expr,
        legendFormat: '{{instance}} {{pool}} {{listen}}',
      },
    ],
  }));
  const dashboard = {
    uid: options.uid ?? 'fpmkit-php-fpm',
    title: options.title ?? 'PHP-FPM (fpmkit)',
    tags: ['php-fpm', 'fpmkit'],
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        {
          name: 'pool',
          type: 'query',
          datasource: ds,
          query: 'label_values(fpm_up, pool)',
          includeAll: true,
          multi: true,
          allValue: '.+',
          current: { text: 'All', value: '$__all' },
        },
      ],
    },
    panels,
  };
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
