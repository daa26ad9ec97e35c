import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { STATUS_FORMATS } from '../../src/status/names.js';
import { parseStatus } from '../../src/status/parse.js';
import { debian13Root } from '../support/debian13.js';
import { phpFpmBinary } from '../support/integration.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

async function page(client: FastCGIClient, format: string, full: boolean): Promise<string> {
  const keys = [...(format === 'text' ? [] : [format]), ...(full ? ['full'] : [])];
  const res = await client.request({
    params: {
      SCRIPT_FILENAME: '/status',
      SCRIPT_NAME: '/status',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: keys.join('&'),
    },
  });
  expect(res.status).toBe(200);
  return res.body.toString();
}

const root84 = debian13Root();
const fpm82 = phpFpmBinary();

describe.skipIf(!root84.available || !fpm82.available)(
  `status pages of real php-fpm 8.4 and 8.2 per version${root84.reason}${fpm82.reason}`,
  () => {
    const started: Partial<Record<'8.2' | '8.4', StartedFpm>> = {};
    beforeAll(async () => {
      for (const version of ['8.2', '8.4'] as const) {
        started[version] = await startPhpFpm({
          version,
          pools: [{ name: 'www', directives: 'pm.status_path = /status' }],
          scripts: { 'big.php': "<?php $s = str_repeat('x', 4 << 20); echo strlen($s);" },
        });
      }
    });
    afterAll(async () => {
      for (const fpm of Object.values(started)) await fpm?.stop();
    });

    it('8.4: all five formats parse, with the memory peak 8.4 adds, and agree', async () => {
      const fpm = started['8.4']!;
      const client = new FastCGIClient(fpm.pool('www').target);
      try {
        // The peak is recorded when a request ends: run one that takes 4 MiB first.
        const script = fpm.inside(join(fpm.wwwDir, 'big.php'));
        const ran = await client.request({
          params: { SCRIPT_FILENAME: script, SCRIPT_NAME: '/big.php', REQUEST_METHOD: 'GET' },
        });
        expect(ran.body.toString()).toContain(String(4 << 20));
        const peaks = new Set<number>();
        let pages = 0;
        for (const format of STATUS_FORMATS) {
          for (const full of [false, true]) {
            const body = await page(client, format, full);
            const status = parseStatus(body, { format, phpVersion: '8.4' });
            expect(status.pool).toBe('www');
            expect(status.memoryPeakBytes, `${format}\n${body}`).toBeGreaterThan(4 << 20);
            peaks.add(status.memoryPeakBytes!);
            // OpenMetrics has no per-process rows, even with full.
            if (full && format !== 'openmetrics') expect(status.processes?.length, format).toBe(2);
            // The same page is not an 8.2 page: 8.2 has no memory peak.
            expect(() => parseStatus(body, { format, phpVersion: '8.2' })).toThrowError(
              expect.objectContaining({ code: 'FPMKIT_PARSE' }),
            );
            pages++;
          }
        }
        console.log(
          `8.4 status: ${pages} pages in ${STATUS_FORMATS.length} formats, memory peak ${[...peaks].join(', ')} bytes`,
        );
        expect(pages).toBe(10);
        expect(peaks.size).toBe(1);
      } finally {
        client.close();
      }
    });

    it('8.2: the same five formats parse as 8.2 and are refused as 8.4 or, for openmetrics, as 8.0', async () => {
      const client = new FastCGIClient(started['8.2']!.pool('www').target);
      try {
        for (const format of STATUS_FORMATS) {
          const body = await page(client, format, false);
          expect(parseStatus(body, { format, phpVersion: '8.2' }).memoryPeakBytes).toBeUndefined();
          expect(() => parseStatus(body, { format, phpVersion: '8.4' })).toThrowError(
            /no memory peak/,
          );
          if (format === 'openmetrics')
            expect(() => parseStatus(body, { format, phpVersion: '8.0' })).toThrowError(
              /no openmetrics format/,
            );
        }
      } finally {
        client.close();
      }
    });
  },
);
