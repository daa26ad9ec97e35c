import type { StatusFormat } from '../../src/status/index.js';

/** An abstract status page, rendered below the way fpm_status.c writes each format. */
export interface PageModel {
  pool: string;
  pm: string;
  startEpoch: number;
  /** Offset of the local time FPM prints in text/html, in minutes east of UTC. */
  offsetMinutes: number;
  counters: number[];
  memoryPeak?: number | undefined;
  processes?: ProcessModel[] | undefined;
}

export interface ProcessModel {
  pid: number;
  state: string;
  startEpoch: number;
  startSince: number;
  requests: number;
  duration: number;
  method: string;
  uri: string;
  contentLength: number;
  user: string;
  script: string;
  cpu: string;
  memory: number;
}

/** Pool counters in page order, after pool, process manager and start time. */
export const COUNTER_LABELS = [
  'start since',
  'accepted conn',
  'listen queue',
  'max listen queue',
  'listen queue len',
  'idle processes',
  'active processes',
  'total processes',
  'max active processes',
  'max children reached',
  'slow requests',
];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

export function localTime(epoch: number, offsetMinutes: number): string {
  const d = new Date((epoch + offsetMinutes * 60) * 1000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
}

const entities = (s: string) =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
/** FPM's JSON escaping of the request URI: JSON string rules plus `\/`. */
const jsonUri = (s: string) => JSON.stringify(s).slice(1, -1).replaceAll('/', '\\/');

function poolRows(m: PageModel, time: (e: number) => string | number): [string, string | number][] {
  const rows: [string, string | number][] = [
    ['pool', m.pool],
    ['process manager', m.pm],
    ['start time', time(m.startEpoch)],
    ...COUNTER_LABELS.map((l, i): [string, number] => [l, m.counters[i]!]),
  ];
  if (m.memoryPeak !== undefined) rows.push(['memory peak', m.memoryPeak]);
  return rows;
}

function processRows(
  p: ProcessModel,
  time: (e: number) => string | number,
  uri: (s: string) => string,
): [string, string | number][] {
  return [
    ['pid', p.pid],
    ['state', p.state],
    ['start time', time(p.startEpoch)],
    ['start since', p.startSince],
    ['requests', p.requests],
    ['request duration', p.duration],
    ['request method', p.method],
    ['request uri', uri(p.uri)],
    ['content length', p.contentLength],
    ['user', p.user],
    ['script', p.script],
    ['last request cpu', p.cpu],
    ['last request memory', p.memory],
  ];
}

export function renderPage(m: PageModel, format: StatusFormat): string {
  const local = (e: number) => localTime(e, m.offsetMinutes);
  const epoch = (e: number) => e;
  const raw = (s: string) => s;
  switch (format) {
    case 'text': {
      const line = ([k, v]: [string, string | number]) =>
        `${`${k === 'request uri' ? 'request URI' : k}:`.padEnd(22)}${v}`;
      let out = `${poolRows(m, local).map(line).join('\n')}\n`;
      for (const p of m.processes ?? []) {
        out += `\n************************\n${processRows(p, local, raw).map(line).join('\n')}\n`;
      }
      return out;
    }
    case 'json': {
      const value = (k: string, v: string | number) =>
        typeof v === 'number' || k === 'last request cpu' ? String(v) : `"${v}"`;
      const obj = (rows: [string, string | number][]) =>
        rows.map(([k, v]) => `"${k}":${value(k, v)}`).join(',');
      let out = `{${obj(poolRows(m, epoch))}`;
      if (m.processes) {
        out += `, "processes":[${m.processes.map((p) => `{${obj(processRows(p, epoch, jsonUri))}}`).join(',')}]`;
      }
      return `${out}}`;
    }
    case 'xml': {
      const el = ([k, v]: [string, string | number]) => {
        const tag = k.replaceAll(' ', '-');
        return `<${tag}>${v}</${tag}>`;
      };
      let out = `<?xml version="1.0" ?>\n<status>\n${poolRows(m, epoch).map(el).join('\n')}\n`;
      if (m.processes) {
        out += `<processes>\n${m.processes.map((p) => `<process>${processRows(p, epoch, entities).map(el).join('')}</process>\n`).join('')}</processes>\n`;
      }
      return `${out}</status>`;
    }
    case 'html': {
      let out = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head><title>PHP-FPM Status Page</title></head>\n<body>\n<table>\n${poolRows(
        m,
        local,
      )
        .map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`)
        .join('\n')}\n</table>\n`;
      if (m.processes) {
        const header = processRows(m.processes[0] ?? ({} as ProcessModel), local, raw)
          .map(([k]) => `<th>${k}</th>`)
          .join('');
        out += `<table border="1">\n<tr>${header}</tr>\n${m.processes
          .map(
            (p) =>
              `<tr>${processRows(p, local, entities)
                .map(([, v]) => `<td>${v}</td>`)
                .join('')}</tr>\n`,
          )
          .join('')}</table>`;
      }
      return `${out}</body></html>`;
    }
    case 'openmetrics': {
      const names = [
        'phpfpm_start_since',
        'phpfpm_accepted_connections',
        'phpfpm_listen_queue',
        'phpfpm_max_listen_queue',
        'phpfpm_listen_queue_length',
        'phpfpm_idle_processes',
        'phpfpm_active_processes',
        'phpfpm_total_processes',
        'phpfpm_max_active_processes',
        'phpfpm_max_children_reached',
        'phpfpm_slow_requests',
      ];
      let out = `# HELP phpfpm_up Could pool ${m.pool} using a ${m.pm} PM on PHP-FPM be reached?\n# TYPE phpfpm_up gauge\nphpfpm_up 1\n`;
      names.forEach((n, i) => {
        out += `# HELP ${n} Help.\n# TYPE ${n} gauge\n${n} ${m.counters[i]}\n`;
      });
      if (m.memoryPeak !== undefined)
        out += `# HELP phpfpm_memory_peak Help.\n# TYPE phpfpm_memory_peak gauge\nphpfpm_memory_peak ${m.memoryPeak}\n`;
      return `${out}# EOF\n`;
    }
  }
}
