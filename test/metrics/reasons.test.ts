import { describe, expect, it } from 'vitest';
import { FastCGIConnectError } from '../../src/errors.js';
import { gapErrorReason, poolErrorReason } from '../../src/metrics/sampler.js';

describe('the reason label of a pool whose status page was not read', () => {
  const connect = (errno: string) =>
    new FastCGIConnectError(`could not connect: ${errno}`, { target: 'unix:/x.sock', errno });

  it('tells a full accept queue (EAGAIN) from a refused connection and other connect failures', () => {
    expect(poolErrorReason(connect('EAGAIN'))).toBe('eagain');
    expect(poolErrorReason(connect('ECONNREFUSED'))).toBe('refused');
    expect(poolErrorReason(connect('ENOENT'))).toBe('connect');
    expect(poolErrorReason(new Error('not ours'))).toBe('error');
  });

  it('maps the sampler gaps the same way', () => {
    const gap = (reason: Parameters<typeof gapErrorReason>[0]['reason']) =>
      gapErrorReason({ reason, message: reason } as Parameters<typeof gapErrorReason>[0]);
    expect(gap('EAGAIN')).toBe('eagain');
    expect(gap('refused')).toBe('refused');
    expect(gap('no-socket')).toBe('connect');
    expect(gap('pending')).toBe('timeout');
  });
});
