import { METRIC_FAMILIES, type MetricFamily } from './catalog.js';
import { groupSamples, type MetricSample } from './samples.js';

/** The text formats fpmkit renders. */
export const EXPOSITION_FORMATS = ['prometheus', 'openmetrics'] as const;
/** `prometheus` (text format 0.0.4) or `openmetrics` (OpenMetrics 1.0). */
export type ExpositionFormat = (typeof EXPOSITION_FORMATS)[number];

/** Content-Type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Content-Type of OpenMetrics 1.0 text. */
export const OPENMETRICS_CONTENT_TYPE =
  'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Options of `renderMetrics`. */
export interface RenderMetricsOptions {
  /** The families to render, in order; samples of other names are left out. @default METRIC_FAMILIES */
  families?: readonly MetricFamily[] | undefined;
  /** Render per-process families. @default true (the collector decides whether it made them) */
  perProcess?: boolean | undefined;
}

const NEEDS_ESCAPE = /[\\"\n]/;

/**
 * Escapes a label value for both formats: backslash, double quote and line feed
 * (https://github.com/prometheus/docs/blob/main/content/docs/instrumenting/exposition_formats.md,
 * OpenMetrics 1.0 "ABNF": `escaped-string`).
 */
export function escapeLabelValue(value: string): string {
  // Most values (pool names, socket paths) need nothing: one scan instead of a rebuild.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** HELP text: 0.0.4 escapes backslash and line feed; OpenMetrics also the double quote. */
function escapeHelp(text: string, format: ExpositionFormat): string {
  const re = format === 'openmetrics' ? /[\\"\n]/g : /[\\\n]/g;
  return text.replace(re, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** A number as both formats spell it: `NaN`, `+Inf`, `-Inf`, or Go-parsable decimal. */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

function labelText(family: MetricFamily, labels: Readonly<Record<string, string>>): string {
  if (family.labels.length === 0) return '';
  let out = '{';
  for (let i = 0; i < family.labels.length; i++) {
    const name = family.labels[i]!;
    const value = Object.hasOwn(labels, name) ? labels[name]! : '';
    out += `${i === 0 ? '' : ','}${name}="${escapeLabelValue(value)}"`;
  }
  return `${out}}`;
}

/**
 * The start of a sample's line, `name{labels} `, of frozen labels objects, per frozen family:
 * neither can change, so the text stays true while both live.
 */
const frozenPrefixes = new WeakMap<Readonly<Record<string, string>>, Map<MetricFamily, string>>();

/** `# HELP`, `# TYPE` (and `# UNIT`) lines of a frozen family (the catalogs' are), per format. */
const familyHeads = new WeakMap<MetricFamily, { prometheus?: string; openmetrics?: string }>();

function familyHead(family: MetricFamily, format: ExpositionFormat): string {
  if (!Object.isFrozen(family)) return makeFamilyHead(family, format);
  let heads = familyHeads.get(family);
  if (heads === undefined) {
    heads = {};
    familyHeads.set(family, heads);
  }
  let head = heads[format];
  if (head === undefined) {
    head = makeFamilyHead(family, format);
    heads[format] = head;
  }
  return head;
}

function makeFamilyHead(family: MetricFamily, format: ExpositionFormat): string {
  const om = format === 'openmetrics';
  const name = om && family.type === 'counter' ? family.name.replace(/_total$/, '') : family.name;
  let head = `# HELP ${name} ${escapeHelp(family.help, format)}\n# TYPE ${name} ${family.type}\n`;
  if (om && family.unit) head += `# UNIT ${name} ${family.unit}\n`;
  return head;
}

/**
 * Renders samples as the Prometheus text format 0.0.4 or OpenMetrics 1.0 text: a `# HELP` and
 * `# TYPE` per family (plus `# UNIT` in OpenMetrics, whose counter families are named without
 * `_total`), one line per sample with the labels in catalog order, and OpenMetrics' `# EOF`.
 * Samples of one family with the same labels are rendered as given; the collector makes none.
 */
export function renderMetrics(
  samples: readonly MetricSample[],
  format: ExpositionFormat = 'prometheus',
  options: RenderMetricsOptions = {},
): string {
  const perProcess = options.perProcess ?? true;
  const all: readonly MetricFamily[] = options.families ?? METRIC_FAMILIES;
  const families = all.filter((f) => perProcess || !f.perProcess);
  let out = '';
  // Label text is built once per labels object and label list (the collector gives all of a
  // pool's samples with the same labels one object); of a frozen object, whose text cannot
  // change, the line's whole `name{labels} ` is kept while the object lives.
  const texts = new Map<readonly string[], Map<Readonly<Record<string, string>>, string>>();
  for (const { family, samples: list } of groupSamples(samples, families)) {
    out += familyHead(family, format);
    const frozenFamily = Object.isFrozen(family);
    let known: Map<Readonly<Record<string, string>>, string> | undefined;
    for (const s of list) {
      let prefix: string | undefined;
      if (frozenFamily && Object.isFrozen(s.labels)) {
        let byFamily = frozenPrefixes.get(s.labels);
        if (byFamily === undefined) {
          byFamily = new Map();
          frozenPrefixes.set(s.labels, byFamily);
        }
        prefix = byFamily.get(family);
        if (prefix === undefined) {
          prefix = `${family.name}${labelText(family, s.labels)} `;
          byFamily.set(family, prefix);
        }
      } else {
        if (known === undefined) {
          known = texts.get(family.labels);
          if (known === undefined) {
            known = new Map();
            texts.set(family.labels, known);
          }
        }
        let text = known.get(s.labels);
        if (text === undefined) {
          text = labelText(family, s.labels);
          known.set(s.labels, text);
        }
        prefix = `${family.name}${text} `;
      }
      out += `${prefix}${formatSampleValue(s.value)}\n`;
    }
  }
  if (format === 'openmetrics') out += '# EOF\n';
  return out;
}

/** One media range of an Accept header with its quality. */
interface MediaRange {
  type: string;
  params: Record<string, string>;
  q: number;
}

function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of header.slice(0, 4096).split(',')) {
    const [type, ...rest] = part.split(';');
    const params: Record<string, string> = {};
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '');
      if (key === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
      } else params[key] = value;
    }
    const t = (type ?? '').trim().toLowerCase();
    if (t !== '') out.push({ type: t, params, q });
  }
  return out;
}

/**
 * The format to answer an `Accept` header with: OpenMetrics when the client ranks
 * `application/openmetrics-text` (version 1.0.0, or no version) at least as high as anything
 * fpmkit could send instead, else the 0.0.4 text format, which is also the answer to a missing
 * or unknown header, as Prometheus' own client libraries do.
 */
export function negotiateFormat(accept: string | undefined): {
  format: ExpositionFormat;
  contentType: string;
} {
  let om = -1;
  let text = -1;
  for (const r of parseAccept(accept ?? '')) {
    if (r.type === 'application/openmetrics-text') {
      const v = r.params.version;
      if (v === undefined || v === '1.0.0') om = Math.max(om, r.q);
    } else if (r.type === 'text/plain' || r.type === 'text/*' || r.type === '*/*') {
      const v = r.params.version;
      if (v === undefined || v === '0.0.4') text = Math.max(text, r.q);
    }
  }
  return om > 0 && om >= text
    ? { format: 'openmetrics', contentType: OPENMETRICS_CONTENT_TYPE }
    : { format: 'prometheus', contentType: PROMETHEUS_CONTENT_TYPE };
}
