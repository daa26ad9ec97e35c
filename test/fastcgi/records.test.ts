import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastCGIProtocolError, isFpmkitError } from '../../src/errors.js';
import {
  decodeNameValuePairs,
  decodeRecords,
  encodeBeginRequest,
  encodeNameValuePairs,
  encodeParams,
  encodeRecord,
  encodeRequest,
  FastCGIHttpPeerError,
  FCGI_MAX_CONTENT_LENGTH,
  RecordDecoder,
  RecordType,
  Role,
} from '../../src/fastcgi/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('encodeRecord', () => {
  it.each([
    ['empty STDIN', RecordType.STDIN, 1, '', '0105000100000000'],
    ['3 bytes padded to 8', RecordType.STDOUT, 1, 'abc', `0106000100030500616263${'00'.repeat(5)}`],
    [
      '8 bytes need no padding',
      RecordType.STDOUT,
      0x1234,
      'abcdefgh',
      '010612340008000061626364' + '65666768',
    ],
    ['request id 0 for management', RecordType.GET_VALUES, 0, '', '0109000000000000'],
  ])('%s', (_name, type, id, content, expected) => {
    expect(hex(encodeRecord(type, id, Buffer.from(content)))).toBe(expected);
  });

  it('rejects content over 65535 bytes and bad ids', () => {
    expect(() => encodeRecord(6, 1, Buffer.alloc(65536))).toThrow(/at most 65535/);
    expect(() => encodeRecord(6, 65536)).toThrow(/requestId/);
    expect(() => encodeRecord(256, 1)).toThrow(/type/);
  });
});

describe('encodeBeginRequest', () => {
  it.each([
    [Role.RESPONDER, false, '0101000100080000' + '0001000000000000'],
    [Role.RESPONDER, true, '0101000100080000' + '0001010000000000'],
    [Role.AUTHORIZER, false, '0101000100080000' + '0002000000000000'],
  ])('role %i keepConn %s', (role, keep, expected) => {
    expect(hex(encodeBeginRequest(1, role, keep))).toBe(expected);
  });
});

describe('name-value pairs', () => {
  it.each([
    ['1-byte lengths', [['A', 'bc']], '0102416263'],
    ['empty value', [['FCGI_MPXS_CONNS', '']], `0f00${hex(Buffer.from('FCGI_MPXS_CONNS'))}`],
    ['127 is still 1 byte', [['N', 'x'.repeat(127)]], `017f4e${'78'.repeat(127)}`],
    ['128 needs 4 bytes', [['N', 'x'.repeat(128)]], `01800000804e${'78'.repeat(128)}`],
    ['UTF-8 counted in bytes', [['K', 'é']], '0102' + '4b' + 'c3a9'],
  ])('%s', (_name, pairs, expected) => {
    const encoded = encodeNameValuePairs(pairs as Array<[string, string]>);
    expect(hex(encoded)).toBe(expected);
    expect(decodeNameValuePairs(encoded)).toEqual(pairs);
  });

  it('round-trips any pairs', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string({ maxLength: 300 }))), (pairs) => {
        expect(decodeNameValuePairs(encodeNameValuePairs(pairs))).toEqual(pairs);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ['length byte only', '05'],
    ['4-byte length cut', '8000'],
    ['value longer than body', '0105414243'],
  ])('truncated body (%s) is a FastCGIProtocolError', (_name, bytes) => {
    expect(() => decodeNameValuePairs(Buffer.from(bytes, 'hex'))).toThrow(FastCGIProtocolError);
  });
});

describe('encodeParams', () => {
  it('ends with an empty PARAMS record', () => {
    const records = decodeRecords(encodeParams({ A: 'b' }));
    expect(records.map((r) => [r.type, r.content.length])).toEqual([
      [RecordType.PARAMS, 4],
      [RecordType.PARAMS, 0],
    ]);
  });

  it('keeps every pair whole inside one PARAMS record', () => {
    // Three 30,000-byte values: two would overflow one record, so each lands whole in its own.
    const params = { A: 'a'.repeat(30_000), B: 'b'.repeat(30_000), C: 'c'.repeat(30_000) };
    const records = decodeRecords(encodeParams(params));
    expect(records.map((r) => r.content.length)).toEqual([30_006 * 2, 30_006, 0]);
    const pairs = records.flatMap((r) => decodeNameValuePairs(r.content));
    expect(Object.fromEntries(pairs)).toEqual(params);
  });

  it('rejects a pair that cannot fit in one record', () => {
    expect(() => encodeParams({ BIG: 'x'.repeat(FCGI_MAX_CONTENT_LENGTH) })).toThrow(
      /must fit in one PARAMS record/,
    );
  });

  it('never splits a pair, for any sizes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0, max: 40_000 })), {
          maxLength: 8,
        }),
        (spec) => {
          const pairs = spec.map(([n, len]) => [n, 'v'.repeat(len)] as [string, string]);
          const records = decodeRecords(encodeParams(pairs));
          // Each record decodes on its own, so no pair crosses a record boundary.
          const decoded = records.flatMap((r) => decodeNameValuePairs(r.content));
          expect(decoded).toEqual(pairs);
          expect(records.at(-1)!.content.length).toBe(0);
          for (const r of records) expect(r.content.length).toBeLessThanOrEqual(65535);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('encodeRequest', () => {
  it('writes BEGIN_REQUEST, PARAMS, empty PARAMS, STDIN, empty STDIN', () => {
    const stdin = Buffer.alloc(70_000, 7);
    const records = decodeRecords(
      encodeRequest({ requestId: 3, keepConn: true, params: { X: 'y' }, stdin }),
    );
    expect(records.map((r) => [r.type, r.requestId, r.content.length])).toEqual([
      [RecordType.BEGIN_REQUEST, 3, 8],
      [RecordType.PARAMS, 3, 4],
      [RecordType.PARAMS, 3, 0],
      [RecordType.STDIN, 3, 0xfff8],
      [RecordType.STDIN, 3, 70_000 - 0xfff8],
      [RecordType.STDIN, 3, 0],
    ]);
    expect(records[0]!.content[2]).toBe(1);
    expect(Buffer.concat([records[3]!.content, records[4]!.content]).equals(stdin)).toBe(true);
  });
});

describe('RecordDecoder', () => {
  const stream = Buffer.concat([
    encodeRecord(RecordType.STDOUT, 1, Buffer.from('Content-type: text/plain\r\n\r\nhello')),
    encodeRecord(RecordType.STDERR, 1, Buffer.from('warn')),
    encodeRecord(RecordType.STDOUT, 1, Buffer.alloc(1000, 0x41)),
    encodeRecord(RecordType.END_REQUEST, 1, Buffer.from('0000000000000000', 'hex')),
  ]);
  const expected = decodeRecords(stream).map((r) => [r.type, hex(r.content)]);

  it('decodes the same records however the stream is split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 12 }),
        (cuts) => {
          const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
          const decoder = new RecordDecoder();
          const seen: Array<[number, string]> = [];
          for (let i = 1; i < points.length; i++) {
            decoder.push(stream.subarray(points[i - 1], points[i]), (type, _id, content) => {
              seen.push([type, hex(content)]);
              return false;
            });
          }
          expect(seen).toEqual(expected);
          expect(decoder.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decodes a stream fed one byte at a time, header split included', () => {
    const decoder = new RecordDecoder();
    const seen: number[] = [];
    for (const byte of stream) {
      decoder.push(Buffer.from([byte]), (type) => {
        seen.push(type);
        return false;
      });
    }
    expect(seen).toEqual([6, 7, 6, 3]);
  });

  it('stops when the handler returns true and reports the unread bytes', () => {
    const decoder = new RecordDecoder();
    const rest = decoder.push(stream, (type) => type === RecordType.STDERR);
    expect(rest).toBe(stream.length - 48 - 16);
  });

  it.each([
    ['version 0', '0006000100000000', 0],
    ['version 2', '0206000100000000', 0],
  ])('rejects %s with a FastCGIProtocolError at its offset', (_name, header, offset) => {
    const error = (() => {
      try {
        new RecordDecoder().push(Buffer.from(header, 'hex'), () => false);
      } catch (e) {
        return e as FastCGIProtocolError;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(FastCGIProtocolError);
    expect(error!.offset).toBe(offset);
  });

  it('names an HTTP answer at the start of the stream, even when it arrives in pieces', () => {
    const decoder = new RecordDecoder();
    const text = 'HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n';
    expect(decoder.push(Buffer.from(text.slice(0, 5)), () => false)).toBe(0);
    let error: unknown;
    try {
      decoder.push(Buffer.from(text.slice(5)), () => false);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FastCGIHttpPeerError);
    expect(error).toMatchObject({
      code: 'FPMKIT_PROTOCOL',
      peerProtocol: 'http',
      statusLine: 'HTTP/1.1 400 Bad Request',
      offset: 0,
    });
  });

  it('keeps the plain error for HTTP-looking bytes after the first record', () => {
    const bytes = Buffer.concat([
      encodeRecord(RecordType.STDOUT, 1, Buffer.from('x')),
      Buffer.from('HTTP/1.1 200 OK\r\n\r\n'),
    ]);
    let error: unknown;
    try {
      decodeRecords(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FastCGIProtocolError);
    expect(error).not.toBeInstanceOf(FastCGIHttpPeerError);
    expect((error as Error).message).toMatch(
      /^unsupported FastCGI version 72 in record header at byte 16$/,
    );
  });
});

describe('decodeRecords on arbitrary bytes', () => {
  it('returns records or throws an FpmkitError, never anything else (10,000 inputs)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          // Mostly-valid streams with a few bytes changed reach deeper than pure noise.
          fc
            .tuple(
              fc.array(
                fc.tuple(fc.integer({ min: 0, max: 12 }), fc.uint8Array({ maxLength: 40 })),
                {
                  maxLength: 5,
                },
              ),
              fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
            )
            .map(([records, flips]) => {
              const bytes = Buffer.concat(records.map(([t, c]) => encodeRecord(t, 1, c)));
              for (const [at, value] of flips) if (bytes.length) bytes[at % bytes.length] = value;
              return new Uint8Array(bytes);
            }),
        ),
        (bytes) => {
          try {
            const records = decodeRecords(bytes);
            for (const r of records) expect(r.content.length).toBeLessThanOrEqual(65535);
          } catch (error) {
            expect(isFpmkitError(error)).toBe(true);
          }
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('reports a stream that ends inside a record', () => {
    const bytes = encodeRecord(RecordType.STDOUT, 1, Buffer.from('hello'));
    expect(() => decodeRecords(bytes.subarray(0, 10))).toThrow(/ends inside a record/);
  });
});
