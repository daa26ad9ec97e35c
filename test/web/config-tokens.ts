/**
 * Independent readers of the structure of rendered configs, written from the servers' own
 * reading rules (nginx's ngx_conf_read_token, Apache's line reader and ap_getword_conf), used
 * to prove that a value stays one value.
 */

export interface Statement {
  /** Nesting depth of the statement. */
  depth: number;
  kind: 'directive' | 'open' | 'close';
  name: string;
  args: string[];
}

/** Splits nginx configuration text into statements the way nginx's reader does. */
export function nginxStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let depth = 0;
  let words: string[] = [];
  let i = 0;
  const flush = (kind: Statement['kind']) => {
    const [name = '', ...args] = words;
    out.push({ depth, kind, name, args });
    words = [];
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (ch === ';') {
      flush('directive');
      i++;
    } else if (ch === '{') {
      flush('open');
      depth++;
      i++;
    } else if (ch === '}') {
      if (words.length > 0) flush('directive');
      depth--;
      out.push({ depth, kind: 'close', name: '}', args: [] });
      i++;
    } else if (ch === '"' || ch === "'") {
      let value = '';
      i++;
      while (i < text.length && text[i] !== ch) {
        if (text[i] === '\\' && i + 1 < text.length) {
          const next = text[i + 1]!;
          const mapped = { '"': '"', "'": "'", '\\': '\\', t: '\t', r: '\r', n: '\n' }[next];
          value += mapped ?? `\\${next}`;
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
      i++;
      words.push(value);
    } else {
      let value = '';
      while (i < text.length && !/[\s;{}]/.test(text[i]!)) {
        value += text[i];
        i++;
      }
      words.push(value);
    }
  }
  if (words.length > 0) flush('directive');
  return out;
}

/**
 * Arguments of one Apache line as ap_getword_conf reads them: inside quotes `\\` is one
 * backslash and a backslash before the quote is the quote; other backslashes stay.
 */
function apacheWords(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    const quote = line[i];
    if (quote === '"' || quote === "'") {
      let value = '';
      i++;
      while (i < line.length && line[i] !== quote) {
        if (line[i] === '\\' && (line[i + 1] === quote || line[i + 1] === '\\')) {
          value += line[i + 1];
          i += 2;
        } else {
          value += line[i];
          i++;
        }
      }
      i++;
      words.push(value);
    } else {
      let value = '';
      while (i < line.length && !/\s/.test(line[i]!)) {
        value += line[i];
        i++;
      }
      words.push(value);
    }
  }
  return words;
}

/** Splits Apache configuration text into statements: lines (joined at a trailing `\`). */
export function apacheStatements(text: string): Statement[] {
  const out: Statement[] = [];
  let depth = 0;
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n|\r/)) {
    const joined = pending + raw;
    if (/\\$/.test(joined)) {
      pending = joined.slice(0, -1);
      continue;
    }
    pending = '';
    logical.push(joined);
  }
  if (pending !== '') logical.push(pending);
  for (const l of logical) {
    const line = l.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('</')) {
      depth--;
      out.push({ depth, kind: 'close', name: line.slice(2).replace(/>$/, ''), args: [] });
    } else if (line.startsWith('<')) {
      const [name = '', ...args] = apacheWords(line.slice(1).replace(/>$/, ''));
      out.push({ depth, kind: 'open', name, args });
      depth++;
    } else {
      const [name = '', ...args] = apacheWords(line);
      out.push({ depth, kind: 'directive', name, args });
    }
  }
  return out;
}

/** The shape of a statement list: kinds, names and argument counts, not the values. */
export function shape(statements: readonly Statement[]): string[] {
  return statements.map((s) => `${s.depth}:${s.kind}:${s.name}:${s.args.length}`);
}
