import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { parseNginxErrorLog, readLines, streamNginxErrorLog } from '../../src/logs/index.js';

async function collect(input: Parameters<typeof readLines>[0], options = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const l of readLines(input, options)) out.push(l);
  return out;
}

describe('readLines', () => {
  it.each<[string, string[], string[]]>([
    ['empty input', [], []],
    ['one empty chunk', [''], []],
    ['no final newline', ['a\nb'], ['a', 'b']],
    ['final newline', ['a\nb\n'], ['a', 'b']],
    ['CRLF', ['a\r\nb\r\n'], ['a', 'b']],
    ['a line across chunks', ['ab', 'c\nd', 'e\n'], ['abc', 'de']],
    ['CR and LF in different chunks', ['a\r', '\nb'], ['a', 'b']],
    ['blank lines kept', ['\n\nx\n'], ['', '', 'x']],
  ])('splits %s', async (_name, chunks, lines) => {
    expect(await collect(chunks)).toEqual(lines);
  });

  it('decodes a multi-byte character split across byte chunks', async () => {
    const bytes = Buffer.from('é€\n😀x\n', 'utf8');
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(await collect(chunks)).toEqual(['é€', '😀x']);
  });

  it('cuts an over-long line and drops its rest, within one chunk or across many', async () => {
    expect(await collect(['abcdefgh\nxy\n'], { maxLineLength: 3 })).toEqual(['abc', 'xy']);
    expect(await collect(['ab', 'cd', 'ef', 'gh\nxy'], { maxLineLength: 3 })).toEqual([
      'abc',
      'xy',
    ]);
    expect(await collect(['ab', 'cdef'], { maxLineLength: 3 })).toEqual(['abc']);
  });

  it('rejects a bad maxLineLength or encoding', async () => {
    await expect(collect(['a'], { maxLineLength: 0 })).rejects.toThrow(FpmkitInvalidOptionError);
    await expect(collect(['a'], { encoding: 'klingon' as BufferEncoding })).rejects.toThrow(
      FpmkitInvalidOptionError,
    );
  });

  it('decodes latin1 when asked', async () => {
    expect(await collect([Buffer.from([0xe9, 0x0a])], { encoding: 'latin1' })).toEqual(['é']);
  });

  it('gives the same lines as split for any chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a', 'é', '\n', '\r\n', 'x y', '😀'), { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        async (parts, cuts) => {
          const text = parts.join('');
          const bytes = Buffer.from(text, 'utf8');
          const chunks: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < bytes.length; i++) {
            const n = cuts[i % cuts.length]!;
            chunks.push(bytes.subarray(at, at + n));
            at += n;
          }
          const expected = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
          if (expected[expected.length - 1] === '') expected.pop();
          expect(await collect(chunks)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads a file stream into the nginx error parser', async () => {
    const url = new URL('../fixtures/logs/nginx-error.log', import.meta.url);
    const streamed = [];
    for await (const r of streamNginxErrorLog(readLines(createReadStream(url)))) streamed.push(r);
    const { readFileSync } = await import('node:fs');
    expect(streamed).toEqual(parseNginxErrorLog(readFileSync(url, 'utf8')));
    expect(streamed).toHaveLength(52);
  });

  it('reads a Readable of strings', async () => {
    expect(await collect(Readable.from(['a\n', 'b']))).toEqual(['a', 'b']);
  });
});
