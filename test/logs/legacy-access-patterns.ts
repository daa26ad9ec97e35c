/**
 * The regular expressions the access-log parsers were compiled into before they matched lines
 * field by field: kept only as the reference the new matcher is compared against. They backtrack
 * (cubic time) on lines that do not fit, so tests feed them short lines only.
 */

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One value per variable as the former nginx parser split the line, or undefined. */
export function legacyNginxValues(
  literals: readonly string[],
  variables: readonly string[],
): (line: string) => string[] | undefined {
  let fast = `^${escapeRegex(literals[0] ?? '')}`;
  let lenient = fast;
  for (let i = 0; i < variables.length; i++) {
    const before = literals[i] ?? '';
    const after = literals[i + 1] ?? '';
    const isLast = i === variables.length - 1 && after === '';
    const quoted = before.endsWith('"') && after.startsWith('"');
    fast += isLast ? '(.*)' : quoted ? '([^"]*)' : after === '' ? '(\\S*?)' : '(.*?)';
    lenient += isLast ? '(.*)' : '(.*?)';
    fast += escapeRegex(after);
    lenient += escapeRegex(after);
  }
  const fastRe = new RegExp(`${fast}$`, 's');
  const lenientRe = fast === lenient ? undefined : new RegExp(`${lenient}$`, 's');
  return (line) => {
    const m = fastRe.exec(line) ?? lenientRe?.exec(line);
    return m ? variables.map((_, i) => m[i + 1] ?? '') : undefined;
  };
}

/** One value per token as the former FPM parser split the line, or undefined. */
export function legacyFpmValues(
  literals: readonly string[],
  tokens: readonly string[],
): (line: string) => string[] | undefined {
  let source = `^${escapeRegex(literals[0] ?? '')}`;
  for (let i = 0; i < tokens.length; i++) {
    const after = literals[i + 1] ?? '';
    const letter = tokens[i]!.slice(-1);
    const atEnd = i === tokens.length - 1 && after === '';
    if (letter === 'Q') source += '(\\?|)';
    else if (letter === 'r' && after === '' && tokens[i + 1] === '%Q') source += '([^?\\s"]*)';
    else if (/^[sSpPldMC]$/.test(letter)) source += atEnd ? '(\\S*)' : '(\\S*?)';
    else source += atEnd ? '(.*)' : '(.*?)';
    source += escapeRegex(after);
  }
  const re = new RegExp(`${source}$`, 's');
  return (line) => {
    const m = re.exec(line);
    return m ? tokens.map((_, i) => m[i + 1] ?? '') : undefined;
  };
}
