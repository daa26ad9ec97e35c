import { FpmkitInvalidOptionError, FpmkitMissingDependencyError } from '../errors.js';
import { lazyRequire } from '../lazy-require.js';
import { METRIC_FAMILIES, type MetricFamily } from './catalog.js';
import type { FpmCollector } from './collect.js';
import type { MetricSample } from './samples.js';

/** The parts of a prom-client metric the adapter uses (prom-client 14 and 15). */
export interface PromMetric {
  /** Forgets every labelled value, before a collection fills them again. */
  reset(): void;
}
/** A prom-client `Gauge`, as far as the adapter needs it. */
export interface PromGauge extends PromMetric {
  /** Sets the value of one labelled series. */
  set(labels: Record<string, string>, value: number): void;
}
/** A prom-client `Counter`, as far as the adapter needs it. */
export interface PromCounter extends PromMetric {
  /** Adds to the value of one labelled series. */
  inc(labels: Record<string, string>, value: number): void;
}
/** What the adapter passes to prom-client's metric constructors. */
export interface PromMetricConfig {
  /** The family's name. */
  name: string;
  /** The family's help text. */
  help: string;
  /** The label names of the family's series. */
  labelNames: string[];
  /** The registries to register in. */
  registers: unknown[];
  /** Called by prom-client on each scrape of the registry. */
  collect?: (this: never) => Promise<void> | void;
}

/** The parts of the prom-client module the adapter uses. */
export interface PromClientModule {
  Gauge: new (config: PromMetricConfig) => PromGauge;
  Counter: new (config: PromMetricConfig) => PromCounter;
}

/** A prom-client `Registry`, as far as the adapter needs it. */
export interface PromRegistryLike {
  /** Removes a family by name (used to unregister). */
  removeSingleMetric(name: string): void;
}

/** Options of `registerPromClientMetrics`. */
export interface PromClientMetricsOptions {
  /** The prom-client module to use. @default `require('prom-client')`, loaded at the first call */
  promClient?: PromClientModule | undefined;
  /** Bound on the collection a scrape of the registry runs, in milliseconds. @default 5000 */
  deadlineMs?: number | undefined;
  /** Register the per-process families too (the collector must emit them). @default false */
  perProcess?: boolean | undefined;
}

/** The package the adapter needs, named once. */
export const PROM_CLIENT_PACKAGE = 'prom-client';

function loadPromClient(): PromClientModule {
  try {
    return lazyRequire(PROM_CLIENT_PACKAGE) as PromClientModule;
  } catch (error) {
    throw new FpmkitMissingDependencyError(
      PROM_CLIENT_PACKAGE,
      `registerPromClientMetrics needs the optional peer dependency '${PROM_CLIENT_PACKAGE}': install it (npm install ${PROM_CLIENT_PACKAGE}) or pass options.promClient`,
      { cause: error },
    );
  }
}

/**
 * Registers fpmkit's metric families in a prom-client registry, so an application that already
 * serves prom-client metrics serves the pools' too: each scrape of the registry runs one
 * collection (shared by all families) and fills the families from it, the same series that
 * `renderMetrics` prints. prom-client is an optional peer dependency, loaded at the first call;
 * without it this throws `FpmkitMissingDependencyError` (code `FPMKIT_MISSING_DEPENDENCY`).
 *
 * Returns a function that removes the families from the registry again.
 */
export function registerPromClientMetrics(
  registry: PromRegistryLike,
  collector: FpmCollector,
  options: PromClientMetricsOptions = {},
): () => void {
  if (
    typeof registry !== 'object' ||
    registry === null ||
    typeof registry.removeSingleMetric !== 'function'
  )
    throw new FpmkitInvalidOptionError('registry', 'must be a prom-client Registry');
  const client = options.promClient ?? loadPromClient();
  const deadlineMs = options.deadlineMs ?? 5_000;
  const families = (METRIC_FAMILIES as readonly MetricFamily[]).filter(
    (f) => (options.perProcess || !f.perProcess) && !f.exporterOnly,
  );
  // One collection per scrape: the registry asks every family at once, and the collector
  // shares the collection in flight among them.
  const byName = async (): Promise<Map<string, MetricSample[]>> => {
    const out = new Map<string, MetricSample[]>();
    for (const s of await collector.collect({ deadlineMs })) {
      const list = out.get(s.name);
      if (list) list.push(s);
      else out.set(s.name, [s]);
    }
    return out;
  };
  const registered: string[] = [];
  try {
    for (const family of families) {
      const labelValues = (s: MetricSample) =>
        Object.fromEntries(
          family.labels.map((l) => [l, Object.hasOwn(s.labels, l) ? s.labels[l]! : '']),
        );
      const config: PromMetricConfig = {
        name: family.name,
        help: family.help,
        labelNames: [...family.labels],
        registers: [registry],
      };
      if (family.type === 'counter') {
        const counter: PromCounter = new client.Counter({
          ...config,
          async collect() {
            const samples = (await byName()).get(family.name) ?? [];
            counter.reset();
            for (const s of samples) counter.inc(labelValues(s), s.value);
          },
        });
      } else {
        const gauge: PromGauge = new client.Gauge({
          ...config,
          async collect() {
            const samples = (await byName()).get(family.name) ?? [];
            gauge.reset();
            for (const s of samples) gauge.set(labelValues(s), s.value);
          },
        });
      }
      registered.push(family.name);
    }
  } catch (error) {
    for (const name of registered) registry.removeSingleMetric(name);
    throw error;
  }
  return () => {
    for (const name of registered) registry.removeSingleMetric(name);
  };
}
