import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyNginxErrorLine } from '../../src/logs/nginx-error-classify.js';
import {
  type NginxErrorLineClass,
  parsedLineClass,
  parseNginxErrorLog,
} from '../../src/logs/nginx-error-log.js';

/**
 * The reference: the class the full parse gives. A text holding a line break is more than one
 * line to `parseNginxErrorLog`, so such a text is read as one line by the parser's line reader.
 */
function reference(line: string): NginxErrorLineClass | undefined {
  if (/[\r\n]/.test(line)) return parsedLineClass(line);
  const [r] = parseNginxErrorLog(line);
  if (r === undefined || r.kind !== 'entry') return undefined;
  return r.event.kind === 'upstream_error' ? r.event.class : r.event.kind;
}

const SOCK = '/run/php/php8.2-fpm.sock';
const ctx = `, client: 127.0.0.1, server: app, request: "GET /x.php HTTP/1.1", upstream: "fastcgi://unix:${SOCK}:", host: "app"`;
const frame = '2026/11/21 00:00:01 [error] 10#10: *7 ';
const SHAPES = [
  `connect() to unix:${SOCK} failed (11: Resource temporarily unavailable) while connecting to upstream${ctx}`,
  `connect() to unix:${SOCK} failed (111: Connection refused) while connecting to upstream${ctx}`,
  `connect() to unix:${SOCK} failed (2: No such file or directory) while connecting to upstream${ctx}`,
  `connect() to unix:${SOCK} failed (13: Permission denied) while connecting to upstream${ctx}`,
  `connect() to 127.0.0.1:9000 failed (110: Connection timed out) while connecting to upstream${ctx}`,
  `recv() failed (104: Connection reset by peer) while reading response header from upstream${ctx}`,
  `upstream timed out (110: Connection timed out) while reading response header from upstream${ctx}`,
  `upstream timed out (110: Connection timed out) while connecting to upstream${ctx}`,
  `upstream timed out (110: Connection timed out) while sending request to upstream${ctx}`,
  `upstream prematurely closed connection while reading response header from upstream${ctx}`,
  `no live upstreams while connecting to upstream${ctx}`,
  `FastCGI sent in stderr: "PHP message: PHP Warning:  x in /a.php on line 3" while reading response header from upstream${ctx}`,
  'signal 1 (SIGHUP) received from 2932, reconfiguring',
  'open() "/srv/www/favicon.ico" failed (2: No such file or directory), client: 1.2.3.4, server: app, request: "GET /favicon.ico HTTP/1.1", host: "app"',
  'writev() failed (32: Broken pipe) while sending to client, client: 1.2.3.4, server: app',
  `connect() to unix:${SOCK} failed (11: Resource temporarily unavailable) while connecting to upstream, client: weird`,
  `connect() to unix:${SOCK} failed (11: x while y) while connecting to upstream${ctx}`,
  `upstream sent too big header while reading response header from upstream${ctx}`,
  // A reset not about the upstream, whose context names one.
  `recv() failed (104: Connection reset by peer) while sending to client${ctx}`,
  // A context nginx did not write, inside the errno text: the parser cuts there.
  `connect() to unix:${SOCK} failed (11: a, client: b, server: c) while connecting to upstream`,
  'recv() failed (104: a, client: b, server: c) while reading upstream',
  'upstream timed out (110: a, client: b, server: c) while connecting to upstream',
  'using inherited sockets from "6;"',
];
const FRAMES = [
  frame,
  '2026/11/21 00:00:01 [crit] 10#10: ',
  '2026/13/21 00:00:01 [error] 10#10: *7 ',
  '2026/11/21 00:00:01 [fatal] 10#10: *7 ',
  '2026/11/21 00:00:01 [error] 10#10: *x ',
  '2026/12/31 23:59:60 [emerg] 123456789012345#1: *123456789012345 ',
  '2026/11/21 24:00:01 [error] 10#10: *7 ',
  '2026/11/21 00:60:01 [error] 10#10: *7 ',
  '2026/11/00 00:00:01 [error] 10#10: *7 ',
  '2026/11/21 00:00:01 [error] 1234567890123456#10: *7 ',
  '2026/11/21 00:00:01 [error] 10#10: *1234567890123456 ',
  '2026/11/21 00:00:01 [errors] 10#10: ',
  '2026/11/21 00:00:01 [notice] 10#10:  ',
];

/** Every character JavaScript's `\s` takes beyond the space, and some it does not. */
const ODD_CHARACTERS = [
  '\t',
  '\n',
  '\v',
  '\f',
  '\r',
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u200a',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u205f',
  '\u3000',
  '\ufeff',
  '\u180e',
  '\u200b',
  '\u0001',
  '\u007f',
  'é',
  '\ud83d',
];

describe('classifyNginxErrorLine', () => {
  it("gives the full parse's class on every line of the captured log", () => {
    const lines = readFileSync('test/fixtures/logs/nginx-error.log', 'utf8').split('\n');
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines) expect(classifyNginxErrorLine(line), line).toBe(reference(line));
    expect(lines.some((l) => classifyNginxErrorLine(l) === 'backlog_full')).toBe(true);
  });

  it("gives the full parse's class on each line shape, in each frame", () => {
    for (const f of FRAMES)
      for (const shape of SHAPES) {
        const line = f + shape;
        expect(classifyNginxErrorLine(line), line).toBe(reference(line));
      }
    expect(classifyNginxErrorLine(frame + SHAPES[0]!)).toBe('backlog_full');
    expect(classifyNginxErrorLine('not nginx')).toBeUndefined();
  });

  it('agrees with the full parse on lines spliced from the shapes and arbitrary text', () => {
    const piece = fc.oneof(
      fc.constantFrom(...SHAPES),
      fc.constantFrom(
        ' while ',
        ', client: ',
        'upstream',
        ' failed (',
        '11: ',
        ')',
        '"',
        ', server: ',
      ),
      fc.string({ maxLength: 12 }),
      fc.string({ maxLength: 6, unit: 'binary' }),
      fc.constantFrom(...ODD_CHARACTERS),
    );
    fc.assert(
      fc.property(fc.constantFrom(...FRAMES), fc.array(piece, { maxLength: 6 }), (f, parts) => {
        const line = f + parts.join('');
        expect(classifyNginxErrorLine(line)).toBe(reference(line));
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the full parse on generated nginx lines, well-formed and slightly off', () => {
    // A line as nginx writes it, from its parts, each of which may be varied or damaged.
    const word = fc.constantFrom('connect', 'recv', 'readv', 'writev', 'send', 'open', 'x_1');
    const target = fc.oneof(
      fc.constantFrom(`unix:${SOCK}`, '127.0.0.1:9000', '[::1]:9000', 'unix:/a,b.sock', 'while'),
      fc
        .tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...ODD_CHARACTERS, ' ', ''))
        .map(([a, b]) => `unix:/run/${a}${b}x.sock`),
    );
    const errno = fc.oneof(
      fc.constantFrom('11', '111', '2', '13', '110', '104', '32', '0011', '99999999999999999011'),
      fc.nat({ max: 200 }).map(String),
      fc.constant(''),
    );
    const errnoText = fc.constantFrom(
      'Resource temporarily unavailable',
      'Connection refused',
      'x while y',
      'a, client: b, server: c',
      '',
    );
    const action = fc.constantFrom(
      ' while connecting to upstream',
      ' while reading response header from upstream',
      ' while sending request to upstream',
      ' while reading upstream',
      ' while sending to client',
      ' while SSL handshaking',
      ' while reading, upstream',
      ' while waiting for request',
      ' while connecting to upstream while sending to client',
      ' while reading upstream while reading upstream',
      'while connecting to upstream',
      '',
    );
    const context = fc.oneof(
      fc.constantFrom(
        ctx,
        ', client: 1.2.3.4, server: app',
        ', client: 1.2.3.4, server: app, request: "GET / HTTP/1.1", host: "app"',
        ', client: 1.2.3.4, server: app, request: "GET /a while b HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "app"',
        ', client: 1.2.3.4, server: app, request: "GET /, client: x, server: y HTTP/1.1"',
        ', client: weird',
        ', client: 1.2.3.4 while sending to client',
        ', upstream: "x"',
        '',
      ),
      fc.string({ maxLength: 10 }).map((t) => `, client: ${t}, server: app`),
    );
    const shape = fc.oneof(
      fc
        .tuple(word, fc.option(target), errno, errnoText)
        .map(([w, t, e, x]) => `${w}()${t === null ? '' : ` to ${t}`} failed (${e}: ${x})`),
      fc.tuple(errno, errnoText).map(([e, x]) => `upstream timed out (${e}: ${x})`),
      fc.constantFrom(
        'upstream prematurely closed connection',
        'no live upstreams',
        'upstream sent too big header',
        'FastCGI sent in stderr: "PHP message: x"',
        'signal 1 (SIGHUP) received from 2932, reconfiguring',
        'signal 15 (SIGTERM) received',
        'signal x (SIGHUP) received',
        'open() "/srv/a.ico" failed (2: No such file or directory)',
      ),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...FRAMES),
        shape,
        action,
        context,
        fc.option(fc.tuple(fc.nat({ max: 300 }), fc.constantFrom(...ODD_CHARACTERS, ',', ')'))),
        (f, sh, a, c, damage) => {
          let line = f + sh + a + c;
          if (damage !== null) {
            const [at, ch] = damage;
            const i = at % (line.length + 1);
            line = line.slice(0, i) + ch + line.slice(i);
          }
          expect(classifyNginxErrorLine(line), line).toBe(reference(line));
        },
      ),
      { numRuns: 20000 },
    );
  });
});
