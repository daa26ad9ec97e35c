/**
 * How systemd 252 reads a unit file or drop-in, written from its rules so a test can see every
 * assignment a file makes (`systemd-analyze verify` only reports problems):
 *
 * - `read_line_full` (src/basic/fileio.c): a line ends at LF, at CR (CR LF is one end), and
 *   at NUL.
 * - `config_parse` (src/shared/conf-parser.c): a line whose first non-blank is `#` or `;` is
 *   skipped, even in the middle of a continuation; a line ending in an unescaped backslash
 *   continues on the next one, the backslash read as a space; a UTF-8 BOM is dropped once.
 * - `parse_line`: blanks (space, tab, CR, LF) are stripped, `[NAME]` opens a section, an
 *   assignment outside a section is ignored, a line without `=` is ignored with a warning,
 *   and key and value are stripped around the first `=`.
 */
export interface SystemdAssignment {
  section: string;
  key: string;
  value: string;
  /** Physical line (1-based) where the logical line ended. */
  line: number;
}

export interface SystemdFileReading {
  sections: string[];
  assignments: SystemdAssignment[];
  /** What systemd would warn about and ignore. */
  ignored: string[];
}

const WHITESPACE = ' \t\n\r';
const strip = (s: string) => {
  let a = 0;
  let b = s.length;
  while (a < b && WHITESPACE.includes(s[a]!)) a++;
  while (b > a && WHITESPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
};

/** Physical lines as systemd's read_line splits them. */
function readLines(text: string): string[] {
  const lines: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n' || ch === '\0') {
      lines.push(current);
      current = '';
    } else if (ch === '\r') {
      lines.push(current);
      current = '';
      if (text[i + 1] === '\n') i++;
    } else {
      current += ch;
    }
  }
  if (current !== '') lines.push(current);
  return lines;
}

/** Reads `bytes` (the file as written) the way systemd's unit file parser does. */
export function readSystemdFile(bytes: Buffer | string): SystemdFileReading {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  const out: SystemdFileReading = { sections: [], assignments: [], ignored: [] };
  let section: string | undefined;
  let continuation: string | undefined;
  let bomSeen = false;
  const lines = readLines(text);
  for (const [index, raw] of lines.entries()) {
    const skipped = raw.replace(/^[ \t\n\r]+/, '');
    if (skipped !== '' && (skipped[0] === '#' || skipped[0] === ';')) continue;
    let l = raw;
    if (!bomSeen && l.startsWith('\uFEFF')) {
      l = l.slice(1);
      bomSeen = true;
    }
    let p = continuation === undefined ? l : continuation + l;
    let escaped = false;
    for (const ch of p) escaped = escaped ? false : ch === '\\';
    if (escaped) {
      continuation = `${p.slice(0, -1)} `;
      continue;
    }
    continuation = undefined;
    p = strip(p);
    if (p === '') continue;
    if (p[0] === '[') {
      if (!p.endsWith(']')) {
        out.ignored.push(`invalid section header '${p}'`);
        continue;
      }
      section = p.slice(1, -1);
      out.sections.push(section);
      continue;
    }
    if (section === undefined) {
      out.ignored.push(`assignment outside of section: '${p}'`);
      continue;
    }
    const eq = p.indexOf('=');
    if (eq < 0) {
      out.ignored.push(`missing '=': '${p}'`);
      continue;
    }
    out.assignments.push({
      section,
      key: strip(p.slice(0, eq)),
      value: strip(p.slice(eq + 1)),
      line: index + 1,
    });
  }
  return out;
}
