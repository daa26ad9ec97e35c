import { describe, expect, it } from 'vitest';
import { FpmkitParseError } from '../../src/errors.js';
import { tighterLimit } from '../../src/kernel/cgroup-memory.js';
import {
  parseCgroupMemory,
  parseCgroupMemoryLimit,
  parseCgroupMemoryStat,
  parseCgroupMemoryUsage,
  parseProcPidCgroup,
} from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('cgroup memory', () => {
  it.each([
    ['max\n', 2, 'unlimited'],
    ['536870912\n', 2, 536870912],
    ['9223372036854771712\n', 1, 'unlimited'],
    ['1073741824', 1, 1073741824],
  ] as const)('limit %j (v%d) → %j', (text, version, expected) => {
    expect(parseCgroupMemoryLimit(text, version)).toBe(expected);
  });

  it('never turns max into a number, and rejects max in v1', () => {
    expect(() => parseCgroupMemoryLimit('max', 1)).toThrow(FpmkitParseError);
    expect(() => parseCgroupMemoryLimit('-1', 2)).toThrow(FpmkitParseError);
  });

  it('reads the v1 capture of this machine (no limit set)', () => {
    const m = parseCgroupMemory({
      version: 1,
      limitInBytes: fixture('proc-files', 'v1-memory.limit_in_bytes.txt'),
      usageInBytes: fixture('proc-files', 'v1-memory.usage_in_bytes.txt'),
      stat: fixture('proc-files', 'v1-memory.stat.txt'),
    });
    expect(m.limitBytes).toBe('unlimited');
    expect(m.usageBytes).toBeGreaterThan(0);
    expect(m.stat!.hierarchical_memory_limit).toBeGreaterThan(0);
  });

  it('reads v2 files', () => {
    expect(
      parseCgroupMemory({
        version: 2,
        max: fixture('proc-files', 'v2-memory.max-512m.txt'),
        high: fixture('proc-files', 'v2-memory.max.txt'),
        current: fixture('proc-files', 'v2-memory.current.txt'),
        stat: fixture('proc-files', 'v2-memory.stat.txt'),
      }),
    ).toEqual({
      version: 2,
      limitBytes: 536870912,
      highBytes: 'unlimited',
      usageBytes: 123928576,
      stat: { anon: 10485760, file: 52428800, kernel: 4194304, shmem: 0, pgfault: 1200 },
    });
  });

  it('orders limits with unlimited as the largest', () => {
    expect(tighterLimit('unlimited', 5)).toBe(5);
    expect(tighterLimit(7, 5)).toBe(5);
    expect(tighterLimit(undefined, 'unlimited')).toBe('unlimited');
    expect(tighterLimit(undefined, undefined)).toBeUndefined();
  });

  it('reads /proc/PID/cgroup for v1 hybrids and v2', () => {
    const v1 = parseProcPidCgroup(fixture('proc-files', 'cgroup-v1-hybrid.txt'));
    expect(v1.find((c) => c.controllers.includes('memory'))!.path).toMatch(/^\//);
    expect(v1.find((c) => c.hierarchyId === 0)).toEqual({
      hierarchyId: 0,
      controllers: [],
      path: '/',
    });
    expect(parseProcPidCgroup(fixture('proc-files', 'cgroup-v2.txt'))).toEqual([
      { hierarchyId: 0, controllers: [], path: '/system.slice/php8.2-fpm.service' },
    ]);
  });

  it('survives 10,000 mutations of each file kind', () => {
    fuzz(
      [fixture('proc-files', 'v1-memory.stat.txt'), fixture('proc-files', 'v2-memory.stat.txt')],
      parseCgroupMemoryStat,
    );
    fuzz(
      [fixture('proc-files', 'v2-memory.max.txt'), fixture('proc-files', 'v2-memory.max-512m.txt')],
      (t) => parseCgroupMemoryLimit(t, 2),
    );
    fuzz([fixture('proc-files', 'cgroup-v1-hybrid.txt')], parseProcPidCgroup);
    fuzz([fixture('proc-files', 'v2-memory.current.txt')], parseCgroupMemoryUsage);
  });
});
