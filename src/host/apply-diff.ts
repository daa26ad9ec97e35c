/** Lines above and below each change in a unified diff. */
const CONTEXT_LINES = 3;
/** Above this many line pairs the diff shows the whole file replaced rather than an LCS. */
const MAX_LCS_CELLS = 16_000_000;

/** Marks a last line without a line break, so it differs from the same line with one. */
const NO_EOL = '\u0000no-eol';

function diffLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += NO_EOL;
  return lines;
}

/**
 * A unified diff (`diff -u` format) of two texts of one file, empty when they are equal.
 * Lines are compared whole; a file without a final newline is shown as diff shows it.
 */
export function unifiedDiff(path: string, before: string, after: string): string {
  if (before === after) return '';
  const a = diffLines(before);
  const b = diffLines(after);
  const ops: { op: ' ' | '-' | '+'; text: string; ai: number; bi: number }[] = [];
  if (a.length * b.length > MAX_LCS_CELLS) {
    for (const [i, t] of a.entries()) ops.push({ op: '-', text: t, ai: i, bi: 0 });
    for (const [i, t] of b.entries()) ops.push({ op: '+', text: t, ai: a.length, bi: i });
  } else {
    const n = a.length;
    const m = b.length;
    const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i]![j] =
          a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) ops.push({ op: ' ', text: a[i]!, ai: i++, bi: j++ });
      else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!))
        ops.push({ op: '-', text: a[i]!, ai: i++, bi: j });
      else ops.push({ op: '+', text: b[j]!, ai: i, bi: j++ });
    }
  }
  const out = [`--- ${path}`, `+++ ${path}`];
  let k = 0;
  while (k < ops.length) {
    if (ops[k]!.op === ' ') {
      k++;
      continue;
    }
    let start = Math.max(0, k - CONTEXT_LINES);
    let end = k;
    // extend the hunk while changes are within 2*context of each other
    for (;;) {
      while (end < ops.length && ops[end]!.op !== ' ') end++;
      let next = end;
      while (next < ops.length && ops[next]!.op === ' ' && next - end < 2 * CONTEXT_LINES + 1)
        next++;
      if (next < ops.length && ops[next]!.op !== ' ' && next - end <= 2 * CONTEXT_LINES) end = next;
      else break;
    }
    const stop = Math.min(ops.length, end + CONTEXT_LINES);
    const hunk = ops.slice(start, stop);
    const aCount = hunk.filter((o) => o.op !== '+').length;
    const bCount = hunk.filter((o) => o.op !== '-').length;
    const aStart = hunk[0]!.ai + (aCount ? 1 : 0);
    const bStart = hunk[0]!.bi + (bCount ? 1 : 0);
    out.push(`@@ -${aStart},${aCount} +${bStart},${bCount} @@`);
    for (const o of hunk) {
      out.push(`${o.op}${o.text.replace(NO_EOL, '')}`);
      if (o.text.endsWith(NO_EOL)) out.push('\\ No newline at end of file');
    }
    k = stop;
    start = stop;
  }
  return `${out.join('\n')}\n`;
}
