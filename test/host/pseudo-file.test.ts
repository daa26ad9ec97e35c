import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FpmkitIoError } from '../../src/errors.js';
import { PseudoFileReader } from '../../src/host/io.js';

const dir = mkdtempSync(join(tmpdir(), 'fpmkit-pseudo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

describe('PseudoFileReader', () => {
  it('reads what readFileSync reads, across buffer sizes, as a file is rewritten in place', () => {
    const path = join(dir, 'rewritten');
    writeFileSync(path, '');
    const reader = new PseudoFileReader(path);
    try {
      fc.assert(
        fc.property(
          fc.oneof(fc.nat(40_000), fc.constantFrom(0, 16_383, 16_384, 16_385, 32_768, 1_100_000)),
          fc.constantFrom('a', 'é', '\n', 'z\u00e9\n'),
          (length, unit) => {
            writeFileSync(path, unit.repeat(Math.ceil(length / unit.length)));
            expect(reader.read()).toBe(readFileSync(path, 'utf8'));
          },
        ),
        { numRuns: 60 },
      );
    } finally {
      reader.close();
    }
  });

  it('sees procfs content generated anew at each read', async () => {
    const socketPath = join(dir, 'listener.sock');
    const reader = new PseudoFileReader('/proc/net/unix');
    const server = createServer();
    try {
      expect(reader.read()).not.toContain(socketPath);
      await new Promise<void>((resolve) => server.listen(socketPath, resolve));
      const text = reader.read();
      expect(text).toContain(socketPath);
      expect(text.split('\n')[0]).toBe(readFileSync('/proc/net/unix', 'utf8').split('\n')[0]);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(reader.read()).not.toContain(socketPath);
    } finally {
      server.close();
      reader.close();
    }
  });

  it('throws FpmkitIoError for a missing file, opens it once it exists, and closes', () => {
    const path = join(dir, 'later');
    const before = openFds();
    const reader = new PseudoFileReader(path);
    expect(() => reader.read()).toThrow(FpmkitIoError);
    expect(openFds()).toBe(before);
    writeFileSync(path, 'now\n');
    expect(reader.read()).toBe('now\n');
    expect(openFds()).toBe(before + 1);
    reader.close();
    reader.close();
    expect(openFds()).toBe(before);
    expect(reader.read()).toBe('now\n');
    reader.close();
  });
});
