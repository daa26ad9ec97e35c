import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readLogWindow } from '../../src/host/snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'fpmkit-log-window-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const DAY = Date.UTC(2026, 10, 21);
const MON = 'Nov';
const nginxLine = (t: number, i: number) => {
  const d = new Date(t);
  return `2026/11/21 ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} [error] 10#10: *${i} connect() to unix:/run/php/a.sock failed (11: Resource temporarily unavailable) while connecting to upstream`;
};
const fpmLine = (t: number, i: number) => {
  const d = new Date(t);
  return `[21-${MON}-2026 ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}] WARNING: [pool www] child ${i} said something`;
};

/** A day of lines, some seconds with several lines, some lines followed by untimed ones. */
function writeDay(name: string, line: (t: number, i: number) => string, step: number) {
  const lines: { t: number | undefined; text: string }[] = [];
  let i = 0;
  for (let t = DAY; t < DAY + 86_400_000; t += step) {
    const n = 1 + (i % 3);
    for (let k = 0; k < n; k++) lines.push({ t, text: line(t, i++) });
    if (i % 7 === 0) lines.push({ t: undefined, text: '    untimed continuation' });
  }
  const path = join(dir, name);
  writeFileSync(path, `${lines.map((l) => l.text).join('\n')}\n`);
  return { path, lines };
}

describe('readLogWindow with since', () => {
  for (const [name, line] of [
    ['nginx', nginxLine],
    ['fpm', fpmLine],
  ] as const) {
    const day = writeDay(`${name}.log`, line, 7_000);
    it(`reads exactly the lines from since on (${name})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: -10, max: 86_410 }), async (second) => {
          const since = new Date(DAY + second * 1000);
          const w = await readLogWindow(day.path, 64 * 1024 * 1024, { since });
          const first = day.lines.findIndex((l) => l.t !== undefined && l.t >= since.getTime());
          const want =
            first < 0
              ? ''
              : `${day.lines
                  .slice(first)
                  .map((l) => l.text)
                  .join('\n')}\n`;
          expect(w.text).toBe(want);
          expect(w.truncated).toBe(first !== 0);
        }),
        { numRuns: 60 },
      );
    });
  }

  it('keeps the byte bound, and reads times in the zone given', async () => {
    const day = writeDay('bound.log', nginxLine, 60_000);
    const all = await readLogWindow(day.path, 64 * 1024 * 1024, { since: new Date(DAY - 1) });
    expect(all.truncated).toBe(false);
    const small = await readLogWindow(day.path, 4096, { since: new Date(DAY) });
    expect(small.text.length).toBeLessThanOrEqual(4096);
    expect(small.text.startsWith('2026/11/21 ')).toBe(true);
    // The same local times two hours east of UTC name instants two hours earlier.
    const east = await readLogWindow(day.path, 64 * 1024 * 1024, {
      since: new Date(DAY + 10 * 3_600_000),
      utcOffsetMinutes: 120,
    });
    expect(east.text.startsWith('2026/11/21 12:00:00')).toBe(true);
  });
});

describe('readLogWindow over long runs of untimed lines', () => {
  // Slowlog-like: timed headers followed by stack traces far longer than one probe reads.
  const frame = (i: number) =>
    `[0x${i.toString(16).padStart(16, '0')}] handle() /srv/app/a.php:${i}`;
  const lines: { t: number | undefined; text: string }[] = [];
  let i = 0;
  for (let t = DAY; t < DAY + 3_600_000; t += 60_000) {
    lines.push({ t, text: nginxLine(t, i++) });
    // Every fifth minute a run of about 400 KiB to 1 MiB without a time.
    const frames = i % 5 === 0 ? 8_000 + (i % 3) * 6_000 : i % 2;
    for (let k = 0; k < frames; k++) lines.push({ t: undefined, text: frame(k) });
  }
  const path = join(dir, 'untimed-runs.log');
  writeFileSync(path, `${lines.map((l) => l.text).join('\n')}\n`);

  it('reads exactly the lines from since on', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: -10, max: 3_610 }), async (second) => {
        const since = new Date(DAY + second * 1000);
        const w = await readLogWindow(path, 256 * 1024 * 1024, { since });
        const first = lines.findIndex((l) => l.t !== undefined && l.t >= since.getTime());
        const want =
          first < 0
            ? ''
            : `${lines
                .slice(first)
                .map((l) => l.text)
                .join('\n')}\n`;
        expect(w.text.length).toBe(want.length);
        expect(w.text === want).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
