import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classifyNginxErrorLine,
  type NginxErrorLineClass,
  parseNginxErrorLog,
} from '../../src/logs/nginx-error-log.js';

/** The reference: the class the full parse gives. */
function reference(line: string): NginxErrorLineClass | undefined {
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
  'using inherited sockets from "6;"',
];
const FRAMES = [
  frame,
  '2026/11/21 00:00:01 [crit] 10#10: ',
  '2026/13/21 00:00:01 [error] 10#10: *7 ',
  '2026/11/21 00:00:01 [fatal] 10#10: *7 ',
  '2026/11/21 00:00:01 [error] 10#10: *x ',
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
      fc.constantFrom('\t', '\u00a0', '\u0001', '\u007f', 'é'),
    );
    fc.assert(
      fc.property(fc.constantFrom(...FRAMES), fc.array(piece, { maxLength: 6 }), (f, parts) => {
        const line = f + parts.join('');
        expect(classifyNginxErrorLine(line)).toBe(reference(line));
      }),
      { numRuns: 3000 },
    );
  });
});
