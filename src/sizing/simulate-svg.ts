import type { SimulatedSeries } from './simulate-results.js';

/**
 * The simulation's time series as a self-contained SVG chart, drawn without any library:
 * children, idle children and accept-queue depth against its capacity on one panel, 502 and
 * 504 refusals per interval as bars on a second. Every polyline carries `data-series` and its
 * points `data-values`, so a test (or a script) can read back what was drawn.
 */

/** Options of {@link renderSimulationSvg}. */
export interface SimulationSvgOptions {
  /** Width of the picture, pixels. @default 960 */
  width?: number | undefined;
  /** Height of the picture, pixels. @default 540 */
  height?: number | undefined;
  /** Title at the top. @default 'fpmkit simulate' */
  title?: string | undefined;
}

const MARGIN = { left: 64, right: 150, top: 52, bottom: 44 };
const GAP = 36;

/** Colours of the lines, chosen to stay apart for colour-blind readers (Okabe-Ito). */
export const SIMULATION_SVG_COLOURS = {
  children: '#0072B2',
  idle: '#009E73',
  queuePeak: '#E69F00',
  queueCapacity: '#D55E00',
  status502: '#CC79A7',
  status504: '#56B4E9',
} as const;

const LABELS: Record<keyof typeof SIMULATION_SVG_COLOURS, string> = {
  children: 'children',
  idle: 'idle children',
  queuePeak: 'queue depth (peak)',
  queueCapacity: 'queue capacity',
  status502: '502 per interval',
  status504: '504 per interval',
};

/** Text safe inside SVG elements and attributes. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A round step for `ticks` axis labels over [0, max]. */
export function niceStep(max: number, ticks: number): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

const num = (v: number) => Number(v.toFixed(2));

interface Panel {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  tMax: number;
  vMax: number;
}

const px = (p: Panel, t: number) => num(p.x0 + ((p.x1 - p.x0) * t) / p.tMax);
const py = (p: Panel, v: number) => num(p.y1 - ((p.y1 - p.y0) * v) / p.vMax);

function axes(p: Panel, name: string, unit: string, showTime: boolean): string[] {
  const out = [
    `<g class="axis" data-axis="${name}-y" data-max="${p.vMax}">`,
    `<line x1="${p.x0}" y1="${p.y0}" x2="${p.x0}" y2="${p.y1}" stroke="#333"/>`,
  ];
  const vStep = niceStep(p.vMax, 4);
  for (let v = 0; v <= p.vMax + 1e-9; v += vStep) {
    const y = py(p, v);
    out.push(
      `<line x1="${p.x0 - 4}" y1="${y}" x2="${p.x1}" y2="${y}" stroke="#ddd"/>`,
      `<text class="tick" x="${p.x0 - 8}" y="${y + 4}" text-anchor="end" font-size="11">${num(v)}</text>`,
    );
  }
  out.push(
    `<text x="${p.x0}" y="${p.y0 - 8}" font-size="12">${esc(unit)}</text>`,
    '</g>',
    `<g class="axis" data-axis="${name}-x" data-max="${p.tMax}">`,
    `<line x1="${p.x0}" y1="${p.y1}" x2="${p.x1}" y2="${p.y1}" stroke="#333"/>`,
  );
  if (showTime) {
    const tStep = niceStep(p.tMax, 8);
    for (let t = 0; t <= p.tMax + 1e-9; t += tStep) {
      const x = px(p, t);
      out.push(
        `<line x1="${x}" y1="${p.y1}" x2="${x}" y2="${p.y1 + 4}" stroke="#333"/>`,
        `<text class="tick" x="${x}" y="${p.y1 + 16}" text-anchor="middle" font-size="11">${num(t)}</text>`,
      );
    }
    out.push(
      `<text x="${(p.x0 + p.x1) / 2}" y="${p.y1 + 34}" text-anchor="middle" font-size="12">time (s)</text>`,
    );
  }
  out.push('</g>');
  return out;
}

function line(
  p: Panel,
  key: keyof typeof SIMULATION_SVG_COLOURS,
  t: number[],
  v: number[],
): string {
  const points = t.map((ti, i) => `${px(p, ti)},${py(p, v[i]!)}`).join(' ');
  const dash = key === 'queueCapacity' ? ' stroke-dasharray="6 4"' : '';
  return `<polyline class="series" data-series="${key}" data-values="${v.join(' ')}" data-times="${t.map(num).join(' ')}" fill="none" stroke="${SIMULATION_SVG_COLOURS[key]}" stroke-width="2"${dash} points="${points}"/>`;
}

function bars(
  p: Panel,
  key: 'status502' | 'status504',
  t: number[],
  v: number[],
  w: number,
  shift: number,
): string {
  const rects = v
    .map((vi, i) =>
      vi > 0
        ? `<rect x="${num(px(p, t[i]!) + shift)}" y="${py(p, vi)}" width="${num(w)}" height="${num(p.y1 - py(p, vi))}"/>`
        : '',
    )
    .join('');
  return `<g class="series" data-series="${key}" data-values="${v.join(' ')}" fill="${SIMULATION_SVG_COLOURS[key]}">${rects}</g>`;
}

function legend(x: number, y: number, keys: (keyof typeof SIMULATION_SVG_COLOURS)[]): string[] {
  return keys.map((k, i) => {
    const yy = y + i * 18;
    return `<g class="legend" data-series="${k}"><rect x="${x}" y="${yy - 9}" width="14" height="10" fill="${SIMULATION_SVG_COLOURS[k]}"/><text x="${x + 20}" y="${yy}" font-size="12">${esc(LABELS[k])}</text></g>`;
  });
}

/**
 * Draws the series: the upper panel plots children, idle children, the queue's peak depth per
 * interval and its capacity (dashed) over time; the lower panel plots 502s and 504s per
 * interval as bars. Values are drawn at the start of their interval.
 */
export function renderSimulationSvg(
  series: SimulatedSeries,
  options: SimulationSvgOptions = {},
): string {
  const width = options.width ?? 960;
  const height = options.height ?? 540;
  const title = options.title ?? 'fpmkit simulate';
  const t = series.timeSeconds;
  const tMax = Math.max(series.intervalSeconds, (t.at(-1) ?? 0) + series.intervalSeconds);
  const x0 = MARGIN.left;
  const x1 = width - MARGIN.right;
  const split = MARGIN.top + (height - MARGIN.top - MARGIN.bottom - GAP) * 0.68;
  const capacity = t.map(() => series.queueCapacity);
  const topMax = Math.max(1, ...series.children, ...series.queuePeak, series.queueCapacity);
  const top: Panel = { x0, x1, y0: MARGIN.top, y1: split, tMax, vMax: niceCeil(topMax) };
  const bottomMax = Math.max(1, ...series.status502, ...series.status504);
  const bottom: Panel = {
    x0,
    x1,
    y0: split + GAP,
    y1: height - MARGIN.bottom,
    tMax,
    vMax: niceCeil(bottomMax),
  };
  const w = Math.max(1, (x1 - x0) / Math.max(1, t.length) / 2 - 0.5);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text class="title" x="${x0}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...axes(top, 'processes', 'children / connections', false),
    line(top, 'queueCapacity', t, capacity),
    line(top, 'queuePeak', t, series.queuePeak),
    line(top, 'children', t, series.children),
    line(top, 'idle', t, series.idle),
    ...axes(bottom, 'refusals', 'requests per interval', true),
    bars(bottom, 'status502', t, series.status502, w, 0),
    bars(bottom, 'status504', t, series.status504, w, w),
    ...legend(x1 + 16, MARGIN.top + 10, ['children', 'idle', 'queuePeak', 'queueCapacity']),
    ...legend(x1 + 16, split + GAP + 10, ['status502', 'status504']),
    '</svg>',
    '',
  ].join('\n');
}

function niceCeil(v: number): number {
  const step = niceStep(v, 4);
  return Math.ceil(v / step) * step;
}
