import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastCGIProtocolError } from '../../src/errors.js';
import { type CgiMemo, memoBodyStart, parseCgi } from '../../src/fastcgi/cgi.js';
import { parseCgiResponse } from '../../src/fastcgi/index.js';

describe('parseCgiResponse', () => {
  it.each([
    [
      'FPM status page, 200 without Status',
      'Expires: Thu, 01 Jan 1970 00:00:00 GMT\r\nContent-Type: application/json\r\n\r\n{"pool":"www"}',
      200,
      '',
      { expires: 'Thu, 01 Jan 1970 00:00:00 GMT', 'content-type': 'application/json' },
      '{"pool":"www"}',
    ],
    [
      'wrong status path',
      'Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\nFile not found.\n',
      404,
      'Not Found',
      { 'content-type': 'text/html; charset=UTF-8' },
      'File not found.\n',
    ],
    ['bare LF line ends', 'Status: 500\nX-A: 1\n\nbody', 500, '', { 'x-a': '1' }, 'body'],
    ['redirect without Status', 'Location: /x\r\n\r\n', 302, '', { location: '/x' }, ''],
    [
      'repeated headers',
      'Vary: a\r\nVary: b\r\nSet-Cookie: x=1\r\nSet-Cookie: y=2\r\n\r\n',
      200,
      '',
      { vary: 'a, b', 'set-cookie': 'x=1\ny=2' },
      '',
    ],
    ['body with blank lines', 'A: 1\r\n\r\nx\r\n\r\ny', 200, '', { a: '1' }, 'x\r\n\r\ny'],
    ['no headers at all', '\nbody', 200, '', {}, 'body'],
    // What php-cgi and php-fpm write for a script that sent no header at all.
    ['an empty header block written CRLF', '\r\nbody', 200, '', {}, 'body'],
    ['an empty header block and nothing else', '\r\n', 200, '', {}, ''],
    [
      'an empty header block before a body with blank lines and colons',
      '\r\nKey: value\r\n\r\nmore',
      200,
      '',
      {},
      'Key: value\r\n\r\nmore',
    ],
  ])('%s', (_name, text, status, statusText, headers, body) => {
    const parsed = parseCgiResponse(Buffer.from(text, 'latin1'));
    expect(parsed.status).toBe(status);
    expect(parsed.statusText).toBe(statusText);
    expect(parsed.headers).toEqual(headers);
    expect(parsed.body.toString('latin1')).toBe(body);
  });

  it.each([
    ['empty', ''],
    ['headers never end', 'Content-type: text/plain\r\n'],
    ['not a header line', 'garbage\r\n\r\n'],
    ['bad Status', 'Status: abc\r\n\r\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parseCgiResponse(Buffer.from(text))).toThrow(FastCGIProtocolError);
  });
});

describe('parseCgi with a memo', () => {
  it('reuses an identical header block, gives each caller its own headers, and re-parses a different one', () => {
    const memo: CgiMemo = { block: undefined, status: 0, statusText: '', headers: {} };
    const first = parseCgi(
      Buffer.from('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nFile not found.\n'),
      undefined,
      memo,
    );
    // The block runs up to the newline that ends the last header line.
    expect(memo.block?.toString('latin1')).toBe(
      'Status: 404 Not Found\r\nContent-Type: text/plain\r',
    );
    first.headers['content-type'] = 'changed by the caller';
    const second = parseCgi(
      Buffer.from('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nother body'),
      undefined,
      memo,
    );
    expect(second).toMatchObject({ status: 404, statusText: 'Not Found' });
    expect(second.headers).toEqual({ 'content-type': 'text/plain' });
    expect(second.body.toString()).toBe('other body');
    const third = parseCgi(
      Buffer.from('Content-Type: application/json\r\n\r\n{}'),
      undefined,
      memo,
    );
    expect(third.status).toBe(200);
    expect(third.headers).toEqual({ 'content-type': 'application/json' });
    expect(() => parseCgi(Buffer.from('Status: abc\r\n\r\n'), undefined, memo)).toThrow(
      FastCGIProtocolError,
    );
    expect(memo.block?.toString('latin1')).toBe('Content-Type: application/json\r');
  });
});

describe('parseCgi with a memo and empty header blocks', () => {
  it('never takes a CRLF-led body for the memo of an LF-led one, or the reverse', () => {
    const memo: CgiMemo = { block: undefined, status: 0, statusText: '', headers: {} };
    const texts = ['\r\nfirst', '\nsecond', '\r\nthird', 'A: b\r\n\r\nfourth', '\r\nfifth'];
    const bodies = texts.map((t) => parseCgi(Buffer.from(t), undefined, memo).body.toString());
    expect(bodies).toEqual(['first', 'second', 'third', 'fourth', 'fifth']);
  });
});

describe('memoBodyStart', () => {
  const block = Buffer.from('Content-Type: application/json\r');

  it('never reads past the end of the range (padding or the next record)', () => {
    // The range ends right after the block's newline; the two bytes after it are not the
    // response's, so they must not complete the empty line.
    const buf = Buffer.from('Content-Type: application/json\r\n\r\n');
    expect(memoBodyStart(buf, 0, block.length + 1, block)).toBe(-1);
    expect(memoBodyStart(buf, 0, buf.length, block)).toBe(buf.length);
  });

  it('agrees with a full parse on where the body starts (property)', () => {
    const piece = fc.constantFrom('Content-Type: application/json', '\r', '\n', 'X: y', '{}', ' ');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.nat(8), fc.nat(8), (parts, pre, post) => {
        const text = parts.join('');
        const buf = Buffer.concat([
          Buffer.alloc(pre, 0x0a),
          Buffer.from(text, 'latin1'),
          Buffer.alloc(post, 0x0a),
        ]);
        const start = pre;
        const end = pre + Buffer.byteLength(text, 'latin1');
        const at = memoBodyStart(buf, start, end, block);
        const stdout = buf.subarray(start, end);
        let expected = -1;
        try {
          const memo: CgiMemo = { block: undefined, status: 0, statusText: '', headers: {} };
          const parsed = parseCgi(stdout, undefined, memo);
          if (memo.block?.equals(block)) expected = start + (stdout.length - parsed.body.length);
        } catch {
          expected = -1;
        }
        expect(at).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
