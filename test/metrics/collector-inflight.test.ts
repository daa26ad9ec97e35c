import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FpmCollector } from '../../src/metrics/collect.js';

it('FpmCollector keeps one status request in flight per pool across scrapes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fpmkit-inflight-'));
  const path = join(dir, 'mute.sock');
  const held = new Set<Socket>();
  let connections = 0;
  let most = 0;
  const mute = createServer((s) => {
    connections++;
    held.add(s);
    // Counted after the events of this poll round: a request the client gave up on is closed
    // before its successor connects, but both can reach this server in the same round.
    setImmediate(() => {
      most = Math.max(most, held.size);
    });
    s.resume();
    s.on('end', () => held.delete(s));
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => mute.listen(path, r));
  const collector = new FpmCollector({ targets: [{ name: 'mute', listen: path }], memory: false });
  try {
    // Back-to-back scrapes that each give up after 150 ms: a request still waiting is never
    // joined by a second one.
    for (let i = 0; i < 6; i++) {
      const samples = await collector.collect({ deadlineMs: 150 });
      const error = samples.find((s) => s.name === 'fpm_scrape_error');
      expect(error?.labels.reason).toBe('timeout');
    }
    expect(most).toBe(1);
    expect(connections).toBeGreaterThan(0);
    expect(connections).toBeLessThanOrEqual(6);
    collector.close();
    await expect.poll(() => held.size, { timeout: 2_000 }).toBe(0);
  } finally {
    collector.close();
    for (const s of held) s.destroy();
    await new Promise((r) => mute.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});
