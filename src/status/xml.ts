import type { XMLParser } from 'fast-xml-parser';
import { lazyRequire } from '../lazy-require.js';
import { type MapContext, mapStatus, parseError } from './fields.js';
import type { FpmStatus } from './model.js';
import { STATUS_FIELD_KEYS } from './names.js';
import { mapContext, type ParseFormatOptions } from './options.js';

/** fast-xml-parser options for FPM's page; exported for the benchmark's like-for-like floor. */
export const XML_PARSER_OPTIONS = {
  ignoreAttributes: true,
  ignoreDeclaration: true,
  // Keep every value as text so counters near 2^64 reach the clamping rule with exact digits.
  parseTagValue: false,
  processEntities: true,
  // FPM writes user, script and pool raw; surrounding spaces are part of them.
  trimValues: false,
  isArray: (_name: string, jpath: unknown) => jpath === 'status.processes.process',
};

let parser: XMLParser | undefined;

/**
 * Configured once: built per call it would cost more than the parse of a small page. Loaded on
 * the first XML page, so callers that read JSON or text never load fast-xml-parser.
 */
function xmlParser(): XMLParser {
  if (parser === undefined) {
    const xml = lazyRequire('fast-xml-parser') as typeof import('fast-xml-parser');
    parser = new xml.XMLParser(XML_PARSER_OPTIONS);
  }
  return parser;
}

/** XML element name → the JSON key spelling the mapper uses. */
const TAG_KEYS: Record<string, string> = {};
for (const key of STATUS_FIELD_KEYS) {
  TAG_KEYS[key.replaceAll(' ', '-')] = key;
}

/**
 * A `<` that opens none of FPM's tags, or an `&` that starts none of the entities it writes:
 * raw text from a pool, user or script name, which fast-xml-parser would misread without
 * complaint (`<script></a</script>` parses as an empty script).
 */
const STRAY = new RegExp(
  `<(?!\\/?(?:status|processes|process|${Object.keys(TAG_KEYS).join('|')})>|\\?xml )|&(?!(?:amp|lt|gt|quot|apos);)`,
);

/** The fields of one process element FPM always writes (`last-request-cpu` only in some builds). */
const PROCESS_TAGS = [
  'pid',
  'state',
  'start-time',
  'start-since',
  'requests',
  'request-duration',
  'request-method',
  'request-uri',
  'content-length',
  'user',
  'script',
  'last-request-memory',
];

/**
 * Parses FPM's XML status page (`GET /status?xml`, `?xml&full`; `fpm_status.c`) with
 * fast-xml-parser:
 *
 * ```
 * <?xml version="1.0" ?>
 * <status>
 * <pool>www</pool>
 * <start-time>1795250421</start-time>
 * ```
 *
 * FPM escapes only the request URI; a `<` or `&` in a pool, user or script name breaks the XML.
 * When the parsed tree is not the shape FPM writes, the page is re-read element by element with
 * the raw text kept.
 */
export function parseStatusXml(body: string, options: ParseFormatOptions = {}): FpmStatus {
  const ctx = mapContext('xml', 'xml', options);
  // Also keeps a DOCTYPE, which could define entities that expand without bound, from the parser.
  if (STRAY.test(body)) return fromLenient(body, ctx);
  const xml = xmlParser();
  let tree: unknown;
  try {
    tree = xml.parse(body);
  } catch {
    return fromLenient(body, ctx);
  }
  const status = (tree as { status?: unknown } | undefined)?.status;
  if (!isPlainRecord(status) || !isFpmShape(status)) return fromLenient(body, ctx);
  const pool = renameKeys(status);
  let processes: Record<string, unknown>[] | undefined;
  const list = status.processes;
  if (list !== undefined) {
    processes = [];
    if (list !== '') {
      for (const p of (list as { process: Record<string, unknown>[] }).process) {
        processes.push(renameKeys(p));
      }
    }
  }
  return mapStatus(pool, processes, ctx);
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isFpmShape(status: Record<string, unknown>): boolean {
  for (const [tag, value] of Object.entries(status)) {
    if (tag === 'processes') continue;
    if (typeof value !== 'string') return false;
  }
  const list = status.processes;
  if (list === undefined || list === '') return true;
  if (!isPlainRecord(list) || !Array.isArray(list.process)) return false;
  for (const p of list.process as unknown[]) {
    if (!isPlainRecord(p)) return false;
    for (const tag of PROCESS_TAGS) if (typeof p[tag] !== 'string') return false;
    const cpu = p['last-request-cpu'];
    if (cpu !== undefined && typeof cpu !== 'string') return false;
  }
  return true;
}

function renameKeys(element: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const tag in element) {
    const key = TAG_KEYS[tag];
    if (key !== undefined) out[key] = element[tag];
  }
  return out;
}

const ENTITY = /&(amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g;
/** An opening or closing tag right after a `<`; FPM's longest tag name has 20 characters. */
const TAG = /(\/?)([a-z-]{1,24})>/y;

/** Decodes the entities FPM writes in the request URI. */
function decodeEntities(text: string): string {
  return text.replace(ENTITY, (whole, name: string) => {
    switch (name) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }
    const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/**
 * Reads FPM's `<tag>value</tag>` elements in one pass over the `<`s. A value runs to the closing
 * tag of the element that opened it, so raw `<` or `&` inside it stays text; each `<` is looked
 * at once, which keeps hostile input linear.
 */
function readElements(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let open: string | undefined;
  let contentStart = 0;
  for (let i = text.indexOf('<'); i >= 0; i = text.indexOf('<', i + 1)) {
    TAG.lastIndex = i + 1;
    const m = TAG.exec(text);
    if (!m) continue;
    const name = m[2]!;
    if (m[1] === '' && open === undefined && TAG_KEYS[name] !== undefined) {
      open = name;
      contentStart = TAG.lastIndex;
    } else if (m[1] === '/' && name === open) {
      const key = TAG_KEYS[name]!;
      const value = text.slice(contentStart, i);
      if (!(key in out)) out[key] = key === 'request uri' ? decodeEntities(value) : value;
      open = undefined;
    }
  }
  return out;
}

/** Element-by-element reading that tolerates raw `<` and `&` in FPM's unescaped fields. */
function fromLenient(body: string, ctx: MapContext): FpmStatus {
  const open = body.indexOf('<status>');
  if (open < 0) throw parseError(ctx, 'not an FPM XML status page: no <status> element');
  const listStart = body.indexOf('<processes>', open);
  const head = body.slice(open + '<status>'.length, listStart < 0 ? undefined : listStart);
  const pool = readElements(head);
  let processes: Record<string, string>[] | undefined;
  if (listStart >= 0) {
    processes = [];
    const parts = body.slice(listStart).split('<process>');
    for (const part of parts.slice(1)) {
      const end = part.lastIndexOf('</process>');
      processes.push(readElements(end < 0 ? part : part.slice(0, end)));
    }
  }
  return mapStatus(pool, processes, ctx);
}
