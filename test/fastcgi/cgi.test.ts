import { describe, expect, it } from 'vitest';
import { FastCGIProtocolError } from '../../src/errors.js';
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
