export {
  METRIC_FAMILIES,
  METRIC_TYPES,
  type MetricFamily,
  type MetricName,
  type MetricType,
  metricFamily,
  POOL_LABELS,
} from './catalog.js';
export {
  COLLECTOR_DEFAULTS,
  type CollectOptions,
  FpmCollector,
  type FpmCollectorOptions,
  MAX_POOLS,
} from './collect.js';
export {
  COMPAT_MODES,
  type CompatMode,
  HIPAGES_FAMILIES,
  HIPAGES_PROCESS_STATES,
  hipagesPoolSamples,
  hipagesScrapeUri,
} from './hipages.js';
export {
  PROM_CLIENT_PACKAGE,
  type PromClientMetricsOptions,
  type PromClientModule,
  type PromCounter,
  type PromGauge,
  type PromMetric,
  type PromMetricConfig,
  type PromRegistryLike,
  registerPromClientMetrics,
} from './prom-client.js';
export {
  EXPOSITION_FORMATS,
  type ExpositionFormat,
  escapeLabelValue,
  formatSampleValue,
  negotiateFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  type RenderMetricsOptions,
  renderMetrics,
} from './render.js';
export {
  type AlertRulesOptions,
  DASHBOARD_PANELS,
  type DashboardPanel,
  type GrafanaDashboardOptions,
  RECORDING_RULES,
  renderAlertRules,
  renderGrafanaDashboard,
} from './rules.js';
export {
  createStatusSampler,
  fetchStatusSampler,
  gapErrorReason,
  listenToTarget,
  type PoolErrorReason,
  type PoolSample,
  type PoolSampler,
  type PoolSamplerContext,
  type PoolTarget,
  poolErrorReason,
  type StatefulPoolSampler,
} from './sampler.js';
export { type FamilySamples, groupSamples, type MetricSample } from './samples.js';
export { parsePoolTarget, poolTargetsFromConfig, poolTargetsFromDiscovery } from './targets.js';
