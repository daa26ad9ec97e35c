import type { StatusFormat } from '../../src/status/index.js';

/**
 * Older status page layouts, made from a page of today's FPM by removing what older releases
 * did not print. The older format strings (php-src sapi/fpm/fpm/fpm_status.c of 2011, before
 * the slow-request counter) are today's minus these lines, word for word:
 *
 * - `slow`: the `slow requests` line (every format), which FPM did not have yet;
 * - `queue`: the three listen-queue lines, which that source wrapped in `#if HAVE_FPM_LQ`, so
 *   builds without listen-queue support (no TCP_INFO: macOS and some BSDs then) left them out;
 * - `cpu`: the `last request cpu` field of each worker, which the same `#if` removed from the
 *   HTML, XML and JSON pages (the text page used `#ifdef`, true there, and kept it).
 *
 * OpenMetrics did not exist then (it came with 8.1, printing every field); removing its
 * samples tests that the parser treats a missing metric the way the other formats do.
 */
export type Removal = 'slow' | 'queue' | 'cpu';

const QUEUE_LABELS = ['listen queue', 'max listen queue', 'listen queue len'];

function removeAll(text: string, pattern: RegExp): string {
  const out = text.replace(pattern, '');
  if (out === text) throw new Error(`nothing matched ${pattern}`);
  return out;
}

function htmlWithoutCpu(body: string): string {
  const header = '<th>last request cpu</th>';
  if (!body.includes(header)) throw new Error('no cpu column');
  const columns = body
    .slice(body.indexOf('<table border="1">'))
    .split('</tr>', 1)[0]!
    .split('<th>')
    .slice(1)
    .map((c) => c.replace('</th>', ''));
  const cpu = columns.indexOf('last request cpu');
  return body.replace(header, '').replace(/<tr><td>(.*)<\/td><\/tr>/g, (_row, inner: string) => {
    const cells = inner.split('</td><td>');
    cells.splice(cpu, 1);
    return `<tr><td>${cells.join('</td><td>')}</td></tr>`;
  });
}

/** `body` (a page in `format`) as FPM would have printed it without `removals`. */
export function olderLayout(
  body: string,
  format: StatusFormat,
  removals: readonly Removal[],
): string {
  let out = body;
  for (const removal of removals) {
    // Only a `full` page has workers, and so a CPU field to remove.
    if (removal === 'cpu' && !/last[ -]request[ -]cpu/.test(out)) continue;
    switch (format) {
      case 'text':
        if (removal === 'slow') out = removeAll(out, /^slow requests: +\d+\n/m);
        if (removal === 'queue') {
          for (const label of QUEUE_LABELS)
            out = removeAll(out, new RegExp(`^${label}: +\\d+\\n`, 'm'));
        }
        if (removal === 'cpu') out = removeAll(out, /^last request cpu: +[\d.]+\n/gm);
        break;
      case 'json':
        if (removal === 'slow') out = removeAll(out, /,"slow requests":\d+/);
        if (removal === 'queue') {
          out = removeAll(out, /"listen queue":\d+,"max listen queue":\d+,"listen queue len":\d+,/);
        }
        if (removal === 'cpu') out = removeAll(out, /"last request cpu":[\d.]+,/g);
        break;
      case 'xml':
        if (removal === 'slow') out = removeAll(out, /<slow-requests>\d+<\/slow-requests>\n/);
        if (removal === 'queue') {
          for (const label of QUEUE_LABELS) {
            const tag = label.replaceAll(' ', '-');
            out = removeAll(out, new RegExp(`<${tag}>\\d+</${tag}>\\n`));
          }
        }
        if (removal === 'cpu')
          out = removeAll(out, /<last-request-cpu>[\d.]+<\/last-request-cpu>/g);
        break;
      case 'html':
        if (removal === 'slow')
          out = removeAll(out, /<tr><th>slow requests<\/th><td>\d+<\/td><\/tr>\n/);
        if (removal === 'queue') {
          for (const label of QUEUE_LABELS) {
            out = removeAll(out, new RegExp(`<tr><th>${label}</th><td>\\d+</td></tr>\\n`));
          }
        }
        if (removal === 'cpu') out = htmlWithoutCpu(out);
        break;
      case 'openmetrics': {
        const names =
          removal === 'slow'
            ? ['phpfpm_slow_requests']
            : removal === 'queue'
              ? ['phpfpm_listen_queue', 'phpfpm_max_listen_queue', 'phpfpm_listen_queue_length']
              : [];
        for (const name of names) {
          out = removeAll(out, new RegExp(`^(?:# (?:HELP|TYPE) )?${name}\\b.*\\n`, 'gm'));
        }
        break;
      }
    }
  }
  return out;
}

/** The removals each format's older layouts have, as the 2011 source printed them. */
export const OLDER_LAYOUTS: Record<StatusFormat, Record<string, readonly Removal[]>> = {
  text: {
    'before slow requests': ['slow'],
    'before slow requests, built without listen-queue support': ['slow', 'queue'],
    'no listen-queue lines and no cpu line': ['slow', 'queue', 'cpu'],
  },
  json: {
    'before slow requests': ['slow'],
    'before slow requests, built without listen-queue support': ['slow', 'queue', 'cpu'],
  },
  xml: {
    'before slow requests': ['slow'],
    'before slow requests, built without listen-queue support': ['slow', 'queue', 'cpu'],
  },
  html: {
    'before slow requests': ['slow'],
    'before slow requests, built without listen-queue support': ['slow', 'queue', 'cpu'],
  },
  openmetrics: {
    'without the slow-requests metric': ['slow'],
    'without the listen-queue and slow-requests metrics': ['slow', 'queue'],
  },
};
