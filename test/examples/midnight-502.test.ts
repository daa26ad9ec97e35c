import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { midnight } from '../../examples/midnight-502.js';

describe('examples/midnight-502.ts', () => {
  it('predicts the refused connections today and a plan that absorbs them', () => {
    const r = midnight();
    // 150 Poisson arrivals against 129 slots: E[(N − 129)+] ≈ 21.2 (21 if evenly spaced).
    expect(r.refusedToday).toBeGreaterThan(21);
    expect(r.refusedToday).toBeLessThan(21.5);
    expect(r.plan.pool.listen.backlog).toBeGreaterThanOrEqual(150);
    expect(r.plan.kernel.somaxconn).toBeGreaterThanOrEqual(r.plan.pool.listen.backlog!);
    expect(r.refusedWithPlan).toBeLessThan(1e-6);
    expect(r.plan.predictions.reloadRefusedWithCurrentSettings).toBeCloseTo(r.refusedToday, 9);
    expect(r.lines.join('\n')).toMatch(/Expected 502s per reload: 21\.\d\d/);
  });

  it('runs as a program and prints the explanation', () => {
    const out = spawnSync(process.execPath, ['--import', 'tsx', 'examples/midnight-502.ts'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('the queue holds 128 + 1 = 129');
    expect(out.stdout).toMatch(/listen\.backlog = \d+\n {4}because .*probability 0\.999/);
    expect(out.stdout).toMatch(/net\.core\.somaxconn = \d+\n {4}because at least listen\.backlog/);
  });
});
