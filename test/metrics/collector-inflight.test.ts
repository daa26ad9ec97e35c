import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FpmCollector } from '../../src/metrics/collect.js';
import { createStatusSampler } from '../../src/metrics/sampler.js';

/**
 * A UNIX socket that accepts and never answers, counting connections and the most held at
 * once; `close()` drops what it holds and removes its directory.
 */
async function startMute() {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-inflight-'));
  const path = join(dir, 'mute.sock');
  const held = new Set<Socket>();
  const counts = { connections: 0, most: 0 };
  const server = createServer((s) => {
    counts.connections++;
    held.add(s);
    // Counted after the events of this poll round: a request the client gave up on is closed
    // before its successor connects, but both can reach this server in the same round.
    setImmediate(() => {
      counts.most = Math.max(counts.most, held.size);
    });
    s.resume();
    s.on('end', () => held.delete(s));
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return {
    path,
    held,
    counts,
    async close() {
      for (const s of held) s.destroy();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

it('FpmCollector keeps one status request in flight per pool across scrapes', async () => {
  const mute = await startMute();
  const { path, held } = mute;
  const collector = new FpmCollector({ targets: [{ name: 'mute', listen: path }], memory: false });
  try {
    // Back-to-back scrapes that each give up after 150 ms: a request still waiting is never
    // joined by a second one.
    for (let i = 0; i < 6; i++) {
      const samples = await collector.collect({ deadlineMs: 150 });
      const error = samples.find((s) => s.name === 'fpm_scrape_error');
      expect(error?.labels.reason).toBe('timeout');
    }
    expect(mute.counts.most).toBe(1);
    expect(mute.counts.connections).toBeGreaterThan(0);
    expect(mute.counts.connections).toBeLessThanOrEqual(6);
    collector.close();
    await expect.poll(() => held.size, { timeout: 2_000 }).toBe(0);

    // A caller's signal ends the collection's waits at once, long before the deadline (whose
    // 5 s also bound this collector's requests).
    const patient = new FpmCollector({ targets: [{ name: 'mute', listen: path }], memory: false });
    try {
      const abort = new AbortController();
      const started = performance.now();
      setTimeout(() => abort.abort(), 40);
      const cut = await patient.collect({ deadlineMs: 5_000, signal: abort.signal });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(cut.find((s) => s.name === 'fpm_scrape_error')?.labels.reason).toBe('timeout');
      const early = new AbortController();
      early.abort();
      const again = performance.now();
      const none = await patient.collect({ deadlineMs: 5_000, signal: early.signal });
      expect(performance.now() - again).toBeLessThan(1_000);
      expect(none.find((s) => s.name === 'fpm_up')?.value).toBe(0);
      expect(held.size).toBe(1);
    } finally {
      patient.close();
    }
    await expect.poll(() => held.size, { timeout: 2_000 }).toBe(0);
  } finally {
    collector.close();
    await mute.close();
  }
});

it('createStatusSampler bounds each wait by its deadline or signal and keeps the request in flight', async () => {
  const mute = await startMute();
  const { path, held } = mute;
  const sampler = createStatusSampler();
  const target = { name: 'mute', listen: path };
  try {
    // The first wait, ended by its signal: the request (bounded by this first deadline,
    // 1.5 s) stays in flight.
    const abort = new AbortController();
    const first = performance.now();
    setTimeout(() => abort.abort(), 40);
    const aborted = await sampler(target, { deadlineMs: 1_500, signal: abort.signal });
    expect(performance.now() - first).toBeLessThan(1_000);
    expect(aborted.error).toEqual({
      reason: 'timeout',
      message: 'the wait for the status page was aborted',
    });
    // A second wait, ended by its deadline: the same request, no new connection.
    const second = performance.now();
    const timedOut = await sampler(target, {
      deadlineMs: 120,
      signal: new AbortController().signal,
    });
    expect(performance.now() - second).toBeGreaterThanOrEqual(100);
    expect(timedOut.error?.reason).toBe('timeout');
    expect(timedOut.error?.message).toMatch(/has no answer yet; no other is sent meanwhile$/);
    expect(mute.counts.connections).toBe(1);
    expect(held.size).toBe(1);

    // close() ends the request in flight: the held connection goes away.
    sampler.close();
    await expect.poll(() => held.size, { timeout: 2_000 }).toBe(0);
  } finally {
    sampler.close();
    await mute.close();
  }
});
