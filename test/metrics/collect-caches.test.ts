import { afterEach, describe, expect, it, vi } from 'vitest';
import { FpmCollector, renderMetrics } from '../../src/metrics/index.js';
import type { MetricSample } from '../../src/metrics/samples.js';

const SOCKET = '/nonexistent/fpmkit-caches.sock';

/** `ss -lnxt` output with one UNIX listener whose backlog is `backlog`. */
function ssText(backlog: number): string {
  return [
    'Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port',
    `u_str LISTEN 0      ${backlog}    ${SOCKET} 12345 * 0`,
    '',
  ].join('\n');
}

const backlogOf = (samples: MetricSample[]) =>
  samples.find((s) => s.name === 'fpm_listen_backlog_connections')?.value;

afterEach(() => {
  vi.useRealTimers();
});

/** A collector of one pool that never answers, with the listener reader given. */
function unreachablePool(listListeners: () => Promise<string | undefined>): FpmCollector {
  return new FpmCollector({
    targets: [{ name: 'www', listen: SOCKET }],
    memory: false,
    sampler: async () => ({
      error: { reason: 'connect', message: 'no socket' },
      durationSeconds: 0,
    }),
    listListeners,
  });
}

describe('FpmCollector caches', () => {
  it('keeps answering with the last backlog while a slow ss runs, then uses the new one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    let backlog = 128;
    let release: (() => void) | undefined;
    let runs = 0;
    const collector = new FpmCollector({
      targets: [{ name: 'www', listen: SOCKET }],
      memory: false,
      sampler: async () => ({
        error: { reason: 'connect', message: 'no socket' },
        durationSeconds: 0,
      }),
      listListeners: () => {
        runs++;
        const text = ssText(backlog);
        if (runs === 1) return Promise.resolve(text);
        return new Promise((resolve) => {
          release = () => resolve(text);
        });
      },
    });
    try {
      // The first collection has nothing older to show: it waits for ss.
      expect(backlogOf(await collector.collect())).toBe(128);
      expect(runs).toBe(1);
      // Within 30 s the reading is reused.
      vi.setSystemTime(Date.now() + 10_000);
      expect(backlogOf(await collector.collect())).toBe(128);
      expect(runs).toBe(1);
      // Later, ss runs again, but the collection does not wait for it.
      backlog = 511;
      vi.setSystemTime(Date.now() + 30_000);
      expect(backlogOf(await collector.collect())).toBe(128);
      expect(runs).toBe(2);
      // A second collection while it still runs starts no other.
      expect(backlogOf(await collector.collect())).toBe(128);
      expect(runs).toBe(2);
      release?.();
      await vi.waitFor(async () => expect(backlogOf(await collector.collect())).toBe(511));
      expect(runs).toBe(2);
    } finally {
      collector.close();
    }
  });

  it('does not wait past the deadline for a first ss that hangs', async () => {
    const collector = unreachablePool(() => new Promise<string | undefined>(() => {}));
    try {
      const started = performance.now();
      const samples = await collector.collect({ deadlineMs: 300 });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(backlogOf(samples)).toBeUndefined();
      expect(samples.find((s) => s.name === 'fpm_up')?.value).toBe(0);
    } finally {
      collector.close();
    }
  });

  it('goes without backlogs when the listener reader throws', async () => {
    const collector = unreachablePool(() => {
      throw new Error('no ss here');
    });
    try {
      const samples = await collector.collect({ deadlineMs: 300 });
      expect(backlogOf(samples)).toBeUndefined();
      expect(samples.find((s) => s.name === 'fpm_up')?.value).toBe(0);
    } finally {
      collector.close();
    }
  });

  it('hands every collection the same frozen label objects, so their text is made once', async () => {
    const collector = new FpmCollector({
      targets: [
        { name: 'a"b', listen: SOCKET },
        { name: 'c\\d', listen: `${SOCKET}2` },
      ],
      memory: false,
      sampler: async () => ({
        error: { reason: 'refused', message: 'refused' },
        durationSeconds: 0,
      }),
      listListeners: async () => undefined,
    });
    try {
      const first = await collector.collect();
      const second = await collector.collect();
      const pools = (samples: MetricSample[]) =>
        samples.filter((s) => s.name === 'fpm_up' || s.name === 'fpm_scrape_error');
      expect(pools(first).length).toBe(4);
      pools(first).forEach((s, i) => {
        expect(Object.isFrozen(s.labels)).toBe(true);
        expect(pools(second)[i]!.labels).toBe(s.labels);
      });
      // Rendered text is the same whether it was made now or kept from before.
      expect(renderMetrics(second)).toBe(
        renderMetrics(second.map((s) => ({ ...s, labels: { ...s.labels } }))),
      );
      expect(renderMetrics(second)).toContain('fpm_up{pool="a\\"b",listen="');
      expect(renderMetrics(second)).toContain('fpm_scrape_error{pool="c\\\\d",listen="');
    } finally {
      collector.close();
    }
  });
});

describe('renderMetrics and label objects', () => {
  it('renders a labels object changed between two calls as it is now', () => {
    const labels: Record<string, string> = { pool: 'www', listen: '/run/php/www.sock' };
    const sample = { name: 'fpm_up', labels, value: 1 };
    expect(renderMetrics([sample])).toContain('fpm_up{pool="www",listen="/run/php/www.sock"} 1');
    labels.pool = 'api';
    expect(renderMetrics([sample])).toContain('fpm_up{pool="api",listen="/run/php/www.sock"} 1');
  });

  it("renders a frozen labels object in every family with that family's labels", () => {
    const labels = Object.freeze({ pool: 'www', listen: '/run/php/www.sock', state: 'idle' });
    const text = renderMetrics([
      { name: 'fpm_up', labels, value: 1 },
      { name: 'fpm_processes', labels, value: 2 },
    ]);
    expect(text).toContain('fpm_up{pool="www",listen="/run/php/www.sock"} 1\n');
    expect(text).toContain('fpm_processes{pool="www",listen="/run/php/www.sock",state="idle"} 2\n');
    // And again, from what was kept.
    expect(
      renderMetrics([
        { name: 'fpm_up', labels, value: 3 },
        { name: 'fpm_processes', labels, value: 4 },
      ]),
    ).toContain('fpm_processes{pool="www",listen="/run/php/www.sock",state="idle"} 4\n');
  });
});

describe('renderMetrics and families', () => {
  it('renders a family that is not frozen as it is at each call', () => {
    const family = { name: 'x_up', type: 'gauge' as const, help: 'one', labels: ['pool'] };
    const labels = Object.freeze({ pool: 'www' });
    const first = renderMetrics([{ name: 'x_up', labels, value: 1 }], 'prometheus', {
      families: [family],
    });
    expect(first).toBe('# HELP x_up one\n# TYPE x_up gauge\nx_up{pool="www"} 1\n');
    family.help = 'two';
    family.labels = [];
    expect(
      renderMetrics([{ name: 'x_up', labels, value: 1 }], 'prometheus', { families: [family] }),
    ).toBe('# HELP x_up two\n# TYPE x_up gauge\nx_up 1\n');
  });
});
