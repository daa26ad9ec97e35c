import { XMLParser } from 'fast-xml-parser';
import { parseStatus, type StatusFormat } from '../src/status/index.js';
import { XML_PARSER_OPTIONS } from '../src/status/xml.js';
import { checkLoad, compare, consume, report } from './lib.js';

/** Workers on the synthetic page: a large pool, the size where parse cost starts to matter. */
const PROCESSES = 200;
/** Parses per timed run, so one run lasts long enough to time reliably. */
const REPEAT = 50;
const START = 1795250421;
const START_TEXT = '21/Nov/2026:08:40:21 +0000';

interface Worker {
  pid: number;
  state: string;
  since: number;
  requests: number;
  duration: number;
  method: string;
  uri: string;
  length: number;
  user: string;
  script: string;
  cpu: string;
  memory: number;
}

function workers(): Worker[] {
  return Array.from({ length: PROCESSES }, (_, i) => ({
    pid: 20000 + i,
    state: i % 3 === 0 ? 'Idle' : 'Running',
    since: 3600 - i,
    requests: 500 + i * 7,
    duration: 1000 + i * 131,
    method: i % 5 === 0 ? 'POST' : 'GET',
    uri: `/shop/cart.php?item=${i}&q=a"b<c>&d`,
    length: i % 5 === 0 ? 512 : 0,
    user: i % 7 === 0 ? 'alice' : '-',
    script: '/var/www/shop/cart.php',
    cpu: i % 3 === 0 ? '12.50' : '0.00',
    memory: i % 3 === 0 ? 2097152 : 0,
  }));
}

const POOL: [string, string | number][] = [
  ['pool', 'www'],
  ['process manager', 'dynamic'],
  ['start time', START],
  ['start since', 3600],
  ['accepted conn', 123456],
  ['listen queue', 0],
  ['max listen queue', 3],
  ['listen queue len', 4096],
  ['idle processes', 67],
  ['active processes', 133],
  ['total processes', PROCESSES],
  ['max active processes', 180],
  ['max children reached', 2],
  ['slow requests', 9],
];

const label = (k: string) => (k === 'request uri' ? 'request URI' : k);
const pad = (k: string) => `${label(k)}:`.padEnd(22);
const htmlEscape = (s: string) =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');

function processFields(w: Worker, epoch: boolean): [string, string | number][] {
  return [
    ['pid', w.pid],
    ['state', w.state],
    ['start time', epoch ? START + 10 : START_TEXT],
    ['start since', w.since],
    ['requests', w.requests],
    ['request duration', w.duration],
    ['request method', w.method],
    ['request uri', w.uri],
    ['content length', w.length],
    ['user', w.user],
    ['script', w.script],
    ['last request cpu', w.cpu],
    ['last request memory', w.memory],
  ];
}

function pages(): Record<StatusFormat, string> {
  const list = workers();
  const poolText = POOL.map(([k, v]) => (k === 'start time' ? [k, START_TEXT] : [k, v]));
  const text = [
    ...poolText.map(([k, v]) => `${pad(k as string)}${v}`),
    ...list.flatMap((w) => [
      '',
      '************************',
      ...processFields(w, false).map(([k, v]) => `${pad(k)}${v}`),
    ]),
    '',
  ].join('\n');
  const jsonValue = (k: string, v: string | number) =>
    typeof v === 'number' || k === 'last request cpu'
      ? String(v)
      : k === 'request uri'
        ? JSON.stringify(v).replaceAll('/', '\\/')
        : `"${v}"`;
  const json = `{${POOL.map(([k, v]) => `"${k}":${jsonValue(k, v)}`).join(',')}, "processes":[${list
    .map(
      (w) =>
        `{${processFields(w, true)
          .map(([k, v]) => `"${k}":${jsonValue(k, v)}`)
          .join(',')}}`,
    )
    .join(',')}]}`;
  const tag = (k: string) => k.replaceAll(' ', '-');
  const xmlValue = (k: string, v: string | number) =>
    k === 'request uri' ? htmlEscape(String(v)) : v;
  const xml = `<?xml version="1.0" ?>\n<status>\n${POOL.map(([k, v]) => `<${tag(k)}>${v}</${tag(k)}>`).join('\n')}\n<processes>\n${list
    .map(
      (w) =>
        `<process>${processFields(w, true)
          .map(([k, v]) => `<${tag(k)}>${xmlValue(k, v)}</${tag(k)}>`)
          .join('')}</process>`,
    )
    .join('\n')}\n</processes>\n</status>`;
  const html = `<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
<head><title>PHP-FPM Status Page</title></head>
<body>
<table>
${poolText.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('\n')}
</table>
<table border="1">
<tr>${processFields(list[0]!, false)
    .map(([k]) => `<th>${k}</th>`)
    .join('')}</tr>
${list
  .map(
    (w) =>
      `<tr>${processFields(w, false)
        .map(([k, v]) => `<td>${k === 'request uri' ? htmlEscape(String(v)) : v}</td>`)
        .join('')}</tr>`,
  )
  .join('\n')}
</table></body></html>`;
  const metric = (name: string, type: string, value: number) =>
    `# HELP ${name} help text.\n# TYPE ${name} ${type}\n${name} ${value}\n`;
  const openmetrics = `# HELP phpfpm_up Could pool www using a dynamic PM on PHP-FPM be reached?\n# TYPE phpfpm_up gauge\nphpfpm_up 1\n${[
    ['phpfpm_start_since', 3600],
    ['phpfpm_accepted_connections', 123456],
    ['phpfpm_listen_queue', 0],
    ['phpfpm_max_listen_queue', 3],
    ['phpfpm_listen_queue_length', 4096],
    ['phpfpm_idle_processes', 67],
    ['phpfpm_active_processes', 133],
    ['phpfpm_total_processes', PROCESSES],
    ['phpfpm_max_active_processes', 180],
    ['phpfpm_max_children_reached', 2],
    ['phpfpm_slow_requests', 9],
  ]
    .map(([n, v]) => metric(n as string, 'gauge', v as number))
    .join('')}# EOF\n`;
  return { text, json, xml, html, openmetrics };
}

/** fast-xml-parser with its defaults, built once. */
const bareXml = new XMLParser();
/** fast-xml-parser with the options fpmkit uses: the exact parse the model is built on. */
const sameOptionsXml = new XMLParser(XML_PARSER_OPTIONS);

function repeat(fn: () => unknown): () => unknown {
  return () => {
    let last: unknown;
    for (let i = 0; i < REPEAT; i++) last = fn();
    return last;
  };
}

/** Line splitting plus a label/value cut per line: the least a text-format parser must do. */
function splitLines(body: string): number {
  let n = 0;
  for (const line of body.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) n += line.slice(colon + 1).trim().length;
  }
  return n;
}

/** One regex pass collecting every table cell: the least an HTML-table reader must do. */
function scanCells(body: string): number {
  let n = 0;
  for (const m of body.matchAll(/<t[hd]>([^<]*)<\/t[hd]>/g)) n += m[1]!.length;
  return n;
}

async function main(): Promise<void> {
  checkLoad();
  const p = pages();
  // Every page must parse to the same pool before anything is timed.
  for (const format of ['text', 'json', 'xml', 'html', 'openmetrics'] as const) {
    const s = parseStatus(p[format], { format });
    if (
      s.acceptedConn !== 123456 ||
      (format !== 'openmetrics' && s.processes?.length !== PROCESSES)
    ) {
      throw new Error(`${format} page did not parse as expected`);
    }
  }
  console.log(
    `page sizes: ${Object.entries(p)
      .map(([f, b]) => `${f} ${(b.length / 1024).toFixed(1)} KiB`)
      .join(', ')}; ${REPEAT} parses per run`,
  );
  const options = { rounds: 25, warmup: 5 };
  const rows: [StatusFormat, string, () => unknown][] = [
    ['json', 'JSON.parse (same body)', () => JSON.parse(p.json)],
    ['xml', 'fast-xml-parser bare parse, defaults', () => bareXml.parse(p.xml)],
    ['xml', 'fast-xml-parser bare parse, same options', () => sameOptionsXml.parse(p.xml)],
    ['text', 'split lines + cut at colon', () => splitLines(p.text)],
    ['html', 'regex scan of every table cell', () => scanCells(p.html)],
    ['openmetrics', 'split lines + cut at colon', () => splitLines(p.openmetrics)],
  ];
  for (const [format, floorName, floor] of rows) {
    const results = await compare(
      [
        { name: floorName, role: 'floor', run: repeat(floor) },
        {
          name: `parseStatus (${format})`,
          role: 'fpmkit',
          run: repeat(() => parseStatus(p[format], { format })),
        },
      ],
      options,
    );
    report(`${format}: a full page with ${PROCESSES} processes, beside ${floorName}`, results);
    consume(results);
  }
}

await main();
