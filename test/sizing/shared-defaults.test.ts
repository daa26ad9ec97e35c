/**
 * Each default lives in one place: sizing takes the kernel's somaxconn default and accept-queue
 * rule, and doctor takes sizing's PHP defaults, so the two areas cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkStack,
  PHP_DEFAULT_MEMORY_LIMIT_BYTES,
  PHP_DEFAULT_POST_MAX_SIZE_BYTES,
} from '../../src/doctor/index.js';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { DEFAULT_SOMAXCONN as KERNEL_DEFAULT_SOMAXCONN } from '../../src/kernel/index.js';
import {
  DEFAULT_MEMORY_LIMIT_BYTES,
  DEFAULT_POST_MAX_SIZE_BYTES,
  planPool,
} from '../../src/sizing/index.js';
import { DEFAULT_SOMAXCONN } from '../../src/sizing/overflow.js';

const source = (path: string) =>
  readFileSync(new URL(`../../src/${path}`, import.meta.url), 'utf8');

describe('shared defaults', () => {
  it('keeps the exported names as aliases of one value', () => {
    expect(DEFAULT_SOMAXCONN).toBe(KERNEL_DEFAULT_SOMAXCONN);
    expect(PHP_DEFAULT_MEMORY_LIMIT_BYTES).toBe(DEFAULT_MEMORY_LIMIT_BYTES);
    expect(PHP_DEFAULT_POST_MAX_SIZE_BYTES).toBe(DEFAULT_POST_MAX_SIZE_BYTES);
  });

  it('defines each of them once', () => {
    for (const file of ['sizing/overflow.ts', 'sizing/planner.ts']) {
      expect(source(file), file).not.toMatch(/DEFAULT_SOMAXCONN\s*=/);
      expect(source(file), file).not.toMatch(/function queueCapacityOf/);
    }
    const stack = source('doctor/check-stack.ts');
    expect(stack).not.toMatch(/PHP_DEFAULT_MEMORY_LIMIT_BYTES\s*=\s*\d/);
    expect(stack).not.toMatch(/PHP_DEFAULT_POST_MAX_SIZE_BYTES\s*=\s*\d/);
  });

  it('checkStack counts an unset memory_limit at the shared default', () => {
    const findings = checkStack({
      fpm: {
        pool: {
          name: 'www',
          listen: { address: '/run/php/www.sock' },
          pm: { mode: 'static', maxChildren: 10, maxRequests: 500 },
          requestTerminateTimeoutSeconds: 40,
        },
        global: { processControlTimeoutSeconds: 40 },
      },
      kernel: {},
      php: { opcache: { enable: false } },
      memoryBudgetBytes: 10 * DEFAULT_MEMORY_LIMIT_BYTES - 1,
    });
    const over = findings.find((f) => f.code === 'stack.memory-over-budget');
    expect(over?.evidence?.worstCaseBytes).toBe(10 * DEFAULT_MEMORY_LIMIT_BYTES);
  });

  it('checks the current listen.backlog with the kernel rule, refusing a broken one', () => {
    const base = {
      name: 'www',
      arrivalRate: 20,
      serviceTimeSeconds: 0.1,
      cores: 4,
      totalMemoryBytes: 8 * 1024 ** 3,
      currentSomaxconn: 128,
    };
    // -1 and anything above somaxconn give somaxconn + 1 slots.
    const slots = (backlog: number) =>
      planPool({ ...base, currentListenBacklog: backlog }).explanations.find(
        (e) => e.setting === 'predictions.reloadRefusedWithCurrentSettings',
      )?.inputs.queueCapacity;
    expect(slots(-1)).toBe(129);
    expect(slots(5000)).toBe(129);
    expect(slots(10)).toBe(11);
    for (const bad of [1.5, -2, Number.NaN]) {
      expect(() => planPool({ ...base, currentListenBacklog: bad })).toThrow(
        FpmkitInvalidOptionError,
      );
    }
  });
});
