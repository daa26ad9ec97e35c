import type { MetricFamily } from './catalog.js';

/** One sample: a family name, its label values by label name, and a value. */
export interface MetricSample {
  /** The family's sample name (counters end in `_total`). */
  readonly name: string;
  /** Label values by label name; names missing here render as empty values. */
  readonly labels: Readonly<Record<string, string>>;
  /** The value; counters are non-negative, NaN and ±Infinity render as such. */
  readonly value: number;
}

/** A family with its samples, in the catalog's order. */
export interface FamilySamples {
  readonly family: MetricFamily;
  readonly samples: readonly MetricSample[];
}

/**
 * Groups samples by family in the order of `families`, dropping families without samples and
 * samples of names outside `families` (a renderer never prints an undocumented name).
 */
export function groupSamples(
  samples: readonly MetricSample[],
  families: readonly MetricFamily[],
): FamilySamples[] {
  const byName = new Map<string, MetricSample[]>();
  for (const s of samples) {
    const list = byName.get(s.name);
    if (list) list.push(s);
    else byName.set(s.name, [s]);
  }
  const out: FamilySamples[] = [];
  for (const family of families) {
    const list = byName.get(family.name);
    if (list && list.length > 0) out.push({ family, samples: list });
  }
  return out;
}
