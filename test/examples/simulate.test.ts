import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareModes } from '../../examples/simulate.js';

describe('examples/simulate.ts', () => {
  it('compares the modes on one burst', () => {
    const [dynamic, ondemand, fixed] = compareModes();
    // 32 queue slots + 1 idle child take 33; static's 20 children take 20 more.
    expect(dynamic!.status502).toBe(47);
    expect(fixed!.status502).toBe(28);
    expect(dynamic!.p99).toBeGreaterThan(1.5);
    expect(fixed!.p99).toBeLessThan(0.25);
    expect(ondemand!.peakChildren).toBeGreaterThan(1);
  });

  it('runs as a program', () => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', 'examples/simulate.ts'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      /^ {2}dynamic {2}502s 47, queue wait p50 \d+ ms, p99 \d+ ms, peak \d+ children$/m,
    );
    expect(out.stdout).toMatch(/^ {2}static {3}502s 28/m);
  });
});
