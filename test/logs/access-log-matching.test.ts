import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import {
  compileFpmAccessFormat,
  compileNginxLogFormat,
  FPM_DEFAULT_ACCESS_FORMAT,
  NGINX_COMBINED_FORMAT,
  parseFpmAccessLog,
  parseNginxAccessLog,
  streamNginxAccessLog,
} from '../../src/logs/index.js';
import { legacyFpmValues, legacyNginxValues } from './legacy-access-patterns.js';

/** The longest line `readLines` passes on by default. */
const LINE_BYTES = 64 * 1024;
const fill = (head: string, unit: string, tail = '') =>
  head + unit.repeat(Math.floor((LINE_BYTES - head.length - tail.length) / unit.length)) + tail;

const CUSTOM =
  '$remote_addr - $remote_user [$time_local] $request_time $upstream_response_time $status;';
const TIMING =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" us="$upstream_status" ua="$upstream_addr"';

// Lines that made the former regular expressions try every way of cutting them (cubic time:
// 16 KB took over a minute). Linear matching returns at once; the test timeout is the guard.
describe('hostile lines of 64 KiB', () => {
  const hostile: [string, string, string][] = [
    ['custom format, numbers without the closing `;`', CUSTOM, fill('1.2.3.4 - - [x] ', '1 ')],
    [
      'combined format, truncated inside the request',
      'combined',
      fill('1.2.3.4 - - [x] "', 'a " '),
    ],
    ['combined format, quotes and spaces only', 'combined', fill('', 'a " ')],
    ['timing format, literals repeated', TIMING, fill('1 - - [x] "GET" 200 0 "', '" "" rt= uct="')],
  ];

  it.each(hostile)('nginx %s: unknown, or FpmkitParseError with strict', (_name, format, line) => {
    expect(line.length).toBeGreaterThan(LINE_BYTES - 16);
    expect(compileNginxLogFormat(format).parseLine(line)).toBeUndefined();
    expect(parseNginxAccessLog(line, { format })).toEqual([
      { kind: 'unknown', line: 1, raw: line },
    ]);
    expect(() => parseNginxAccessLog(line, { format, strict: true })).toThrow(FpmkitParseError);
  });

  it('streams 8 truncated combined-format lines as unknown', async () => {
    const lines = Array.from({ length: 8 }, () => hostile[1]![2]);
    const kinds: string[] = [];
    for await (const r of streamNginxAccessLog(lines)) kinds.push(r.kind);
    expect(kinds).toEqual(Array(8).fill('unknown'));
  });

  it('still reads a 64 KiB line that fits, with a quote inside a quoted value (escape=none)', () => {
    const agent = fill('', 'Mozilla "x" ');
    const line = `1.2.3.4 - - [21/Nov/2026:08:47:16 +0000] "GET / HTTP/1.1" 200 5 "-" "${agent}"`;
    expect(parseNginxAccessLog(line)[0]).toMatchObject({
      kind: 'entry',
      status: 200,
      httpUserAgent: agent,
    });
  });

  it.each([
    [
      'default format, a quote after every space',
      FPM_DEFAULT_ACCESS_FORMAT,
      fill('a - b c "', 'x " ', ' '),
    ],
    ['default format, separators repeated', FPM_DEFAULT_ACCESS_FORMAT, fill('a - ', ' - ', ' ')],
    [
      'custom format with %Q',
      '%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%',
      fill('- -  x "GET /a', '? " 1 ', ' '),
    ],
  ])('php-fpm %s: unknown, or FpmkitParseError with strict', (_name, format, line) => {
    expect(compileFpmAccessFormat(format).parseLine(line)).toBeUndefined();
    expect(parseFpmAccessLog(line, { format })).toEqual([{ kind: 'unknown', line: 1, raw: line }]);
    expect(() => parseFpmAccessLog(line, { format, strict: true })).toThrow(FpmkitParseError);
  });
});

/** Characters the literals of the formats below are made of, so values collide with them. */
const valueChar = fc.constantFrom(
  ' ',
  '"',
  '[',
  ']',
  '-',
  ':',
  '=',
  ';',
  '?',
  '%',
  'x',
  '1',
  '.',
  '\\',
  '\t',
  '\u00a0',
  'é',
);
const value = fc.string({ unit: valueChar, maxLength: 8 });

/** A line from `literals` and random values: as built, cut short, or with one character inserted. */
function lineFrom(literals: readonly string[], count: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.array(value, { minLength: count, maxLength: count }),
      fc.nat(),
      fc.nat({ max: 3 }),
      valueChar,
    )
    .map(([values, at, how, ch]) => {
      const built = literals[0] + values.map((v, i) => v + literals[i + 1]).join('');
      const i = at % (built.length + 1);
      if (how === 1) return built.slice(0, i);
      if (how === 2) return built.slice(0, i) + ch + built.slice(i);
      return built;
    });
}

/** Splits a format the way both parsers see it (braced names so a literal cannot extend a name). */
function nginxPieces(format: string): { literals: string[]; variables: string[] } {
  const literals: string[] = [];
  const variables: string[] = [];
  const token = /\$(?:\{(\w+)\}|(\w+))/g;
  let last = 0;
  for (let m = token.exec(format); m !== null; m = token.exec(format)) {
    literals.push(format.slice(last, m.index));
    variables.push(m[1] ?? m[2] ?? '');
    last = m.index + m[0].length;
  }
  literals.push(format.slice(last));
  return { literals, variables };
}

const literal = fc.string({
  unit: fc.constantFrom(' ', '"', '[', ']', '-', ':', '=', ';', 'x'),
  maxLength: 3,
});

/** Random formats whose text survives the parser's trimming and unquoting unchanged. */
const randomNginxFormat = fc
  .array(
    fc.tuple(
      literal,
      fc.constantFrom(
        'remote_addr',
        'remote_user',
        'time_local',
        'request',
        'status',
        'body_bytes_sent',
        'http_user_agent',
        'request_time',
        'upstream_response_time',
        'upstream_addr',
        'msec',
        'x',
      ),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .chain((pairs) =>
    literal.map((tail) => {
      let format = pairs.map(([lit, name]) => `${lit}\${${name}}`).join('') + tail;
      if (/^[\s'"]/.test(format)) format = `x${format}`;
      if (/\s$/.test(format)) format = `${format}x`;
      return format;
    }),
  );

const nginxCase = fc
  .oneof(
    fc.constantFrom(
      NGINX_COMBINED_FORMAT,
      TIMING,
      CUSTOM,
      '$remote_addr$remote_user "$request"$status',
    ),
    randomNginxFormat,
  )
  .chain((format) => {
    const { literals, variables } = nginxPieces(format);
    return lineFrom(literals, variables.length).map((line) => ({
      format,
      literals,
      variables,
      line,
    }));
  });

function fieldsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  names.forEach((n, i) => {
    Object.defineProperty(fields, n, {
      value: values[i],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });
  return fields;
}

describe('the linear matcher splits lines as the former regular expressions did', () => {
  it('fuzzing nginx: 2000 formats and lines built from them give the same fields', () => {
    let entries = 0;
    fc.assert(
      fc.property(nginxCase, ({ format, literals, variables, line }) => {
        const before = legacyNginxValues(literals, variables)(line);
        const after = compileNginxLogFormat(format).parseLine(line);
        if (after) entries++;
        expect(after?.fields).toEqual(before && fieldsOf(variables, before));
      }),
      { numRuns: 2_000 },
    );
    expect(entries).toBeGreaterThan(500);
    expect(entries).toBeLessThan(2_000);
  });

  const FPM_TOKENS = [
    '%R',
    '%u',
    '%t',
    '%m',
    '%r',
    '%Q',
    '%q',
    '%s',
    '%f',
    '%{mili}d',
    '%{kilo}M',
    '%C',
    '%p',
    '%n',
    '%l',
  ];
  const fpmCase = fc
    .oneof(
      fc.constantFrom(
        FPM_DEFAULT_ACCESS_FORMAT,
        '%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%',
      ),
      fc
        .array(fc.tuple(literal, fc.constantFrom(...FPM_TOKENS)), { minLength: 1, maxLength: 6 })
        .chain((pairs) => literal.map((tail) => pairs.map(([lit, t]) => lit + t).join('') + tail))
        .map((f) => (/^[\s"]/.test(f) ? `x${f}` : f))
        .map((f) => (/\s$/.test(f) ? `${f}x` : f)),
    )
    .chain((format) => {
      const literals = format.split(/%\{\w+\}[a-zA-Z]|%[a-zA-Z]/).map((l) => l.replace(/%%/g, '%'));
      const tokens = format.match(/%\{\w+\}[a-zA-Z]|%[a-zA-Z]/g) ?? [];
      return lineFrom(literals, tokens.length).map((line) => ({ format, literals, tokens, line }));
    });

  it('fuzzing php-fpm: 2000 formats and lines built from them give the same fields', () => {
    let entries = 0;
    fc.assert(
      fc.property(fpmCase, ({ format, literals, tokens, line }) => {
        const parser = compileFpmAccessFormat(format);
        expect(parser.tokens).toEqual(tokens);
        const before = legacyFpmValues(literals, tokens)(line);
        const after = parser.parseLine(line);
        if (after) entries++;
        expect(after?.fields).toEqual(before && fieldsOf(tokens, before));
      }),
      { numRuns: 2_000 },
    );
    expect(entries).toBeGreaterThan(500);
    expect(entries).toBeLessThan(2_000);
  });
});
