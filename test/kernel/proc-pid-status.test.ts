import { describe, expect, it } from 'vitest';
import type { FpmkitParseError } from '../../src/errors.js';
import { parseProcPidStatus } from '../../src/kernel/index.js';
import { fixture, fuzz } from './helpers.js';

describe('parseProcPidStatus', () => {
  it('reads a php-fpm worker', () => {
    const s = parseProcPidStatus(fixture('proc-files', 'php-fpm-worker-status.txt'));
    expect(s.name).toBe('php-fpm8.2');
    expect(s.ppid).toBeGreaterThan(0);
    expect(s.rssBytes).toBe(5644 * 1024);
    expect(s.rssAnonBytes! + s.rssFileBytes! + s.rssShmemBytes!).toBe(s.rssBytes);
    expect(s.uids).toHaveLength(4);
  });

  it('leaves memory absent for kernel threads', () => {
    const s = parseProcPidStatus('Name:\tkthreadd\nState:\tS (sleeping)\nPid:\t2\nPPid:\t0\n');
    expect(s.rssBytes).toBeUndefined();
    expect(s).toMatchObject({ name: 'kthreadd', pid: 2, ppid: 0 });
  });

  it('rejects a line without a colon, with its number', () => {
    try {
      parseProcPidStatus('Name:\tx\nbroken\n');
      expect.unreachable();
    } catch (e) {
      expect((e as FpmkitParseError).line).toBe(2);
    }
  });

  it('survives 10,000 mutations', () => {
    fuzz([fixture('proc-files', 'php-fpm-worker-status.txt')], parseProcPidStatus);
  });
});
