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

/** Small numbers for frozen families: where their line starts sit in `frozenLines`' arrays. */
const familyIds = new WeakMap<MetricFamily, number>();
let nextFamilyId = 0;

/**
 * The line starts of frozen labels objects, by family id: neither object can change, so the
 * text stays true while both live.
 */
const frozenLines = new WeakMap<Readonly<Record<string, string>>, (string | undefined)[]>();

/** The line start of a frozen family without labels, whatever labels object its samples carry. */
const barePrefixes = new WeakMap<MetricFamily, string>();

/** `# HELP`, `# TYPE` (and `# UNIT`) lines of a frozen family (the catalogs' are), per format. */
const familyHeads = new WeakMap<
  MetricFamily,
  { prometheus?: string | undefined; openmetrics?: string | undefined }
>();

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

/** Label texts made during one render, per label list and labels object. */
type LabelTexts = Map<readonly string[], Map<Readonly<Record<string, string>>, string>>;

/** What a render looks up once per family rather than once per sample. */
interface FamilyLines {
  readonly family: MetricFamily;
  /** The family's id when it is frozen (its line starts are kept). */
  readonly id: number | undefined;
  /** The kept line start of a frozen family without labels. */
  readonly bare: string | undefined;
}

function familyLines(family: MetricFamily): FamilyLines {
  if (!Object.isFrozen(family)) return { family, id: undefined, bare: undefined };
  let id = familyIds.get(family);
  if (id === undefined) {
    id = nextFamilyId++;
    familyIds.set(family, id);
  }
  let bare: string | undefined;
  if (family.labels.length === 0) {
    bare = barePrefixes.get(family);
    if (bare === undefined) {
      bare = `${family.name} `;
      barePrefixes.set(family, bare);
    }
  }
  return { family, id, bare };
}

/**
 * The start of a sample's line, `name{labels} `. Of a frozen family, it is kept while the
 * labels object lives when that is frozen too, and for good when the family has no labels;
 * otherwise the label text is made once per labels object during one render (`texts`), since
 * the collector gives all of a pool's samples with the same labels one object.
 */
function linePrefix(
  lines: FamilyLines,
  labels: Readonly<Record<string, string>>,
  texts: LabelTexts,
): string {
  if (lines.bare !== undefined) return lines.bare;
  const family = lines.family;
  if (lines.id !== undefined) {
    // Only frozen objects are ever entered, so a hit needs no Object.isFrozen call.
    let byId = frozenLines.get(labels);
    if (byId === undefined && Object.isFrozen(labels)) {
      byId = [];
      frozenLines.set(labels, byId);
    }
    if (byId !== undefined) {
      let kept = byId[lines.id];
      if (kept === undefined) {
        kept = `${family.name}${labelText(family, labels)} `;
        byId[lines.id] = kept;
      }
      return kept;
    }
  }
  let known = texts.get(family.labels);
  if (known === undefined) {
    known = new Map();
    texts.set(family.labels, known);
  }
  let text = known.get(labels);
  if (text === undefined) {
    text = labelText(family, labels);
    known.set(labels, text);
  }
  return `${family.name}${text} `;
}

/** The families a render prints, in order. */
function renderedFamilies(options: RenderMetricsOptions): readonly MetricFamily[] {
  const perProcess = options.perProcess ?? true;
  const all: readonly MetricFamily[] = options.families ?? METRIC_FAMILIES;
  return perProcess ? all : all.filter((f) => !f.perProcess);
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
  let out = '';
  const texts: LabelTexts = new Map();
  for (const { family, samples: list } of groupSamples(samples, renderedFamilies(options))) {
    out += familyHead(family, format);
    const lines = familyLines(family);
    for (const s of list)
      out += `${linePrefix(lines, s.labels, texts)}${formatSampleValue(s.value)}\n`;
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
