import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { FastCGIClient, type FastCGITarget } from '../src/fastcgi/index.js';
import { statusRequestParams } from '../src/status/index.js';

/** The minimal exporter's header with the milliseconds its floor work took. */
export const FLOOR_WORK_HEADER = 'x-floor-work-ms';

/**
 * The exporter benchmark's floor: the 20 status pages fetched concurrently with the raw
 * FastCGI client (JSON with the per-worker list, as the exporter asks), plus one read of
 * /proc/net/unix. The benchmark runs it in its own process, and this file's main runs it as a
 * minimal exporter (`--http BODY TARGET...`) to show the least any exporter's scrape costs.
 */
export function floorWork(targets: readonly FastCGITarget[]): {
  once: () => Promise<void>;
  close: () => void;
} {
  const clients = targets.map((t) => new FastCGIClient(t));
  return {
    once: async () => {
      await Promise.all(
        clients.map((c) =>
          c
            .request({ params: statusRequestParams('/status', 'json&full') })
            .then((r) => r.body.length),
        ),
      );
      readFileSync('/proc/net/unix', 'utf8');
    },
    close: () => {
      for (const c of clients) c.close();
    },
  };
}

// As a minimal exporter: argv names a file of fixed bytes to answer with, then the targets;
// each request does the floor's work, then answers those bytes, with the milliseconds the work
// took in this process (which sleeps between requests, as an exporter does) in a header.
if (process.argv[2] === '--http') {
  const body = readFileSync(process.argv[3]!);
  const work = floorWork(process.argv.slice(4));
  const server = createServer((_req, res) => {
    const started = performance.now();
    work.once().then(
      () => {
        res.writeHead(200, {
          'content-type': 'text/plain; version=0.0.4; charset=utf-8',
          'content-length': body.length,
          [FLOOR_WORK_HEADER]: (performance.now() - started).toFixed(4),
        });
        res.end(body);
      },
      (error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      },
    );
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(`listening on ${typeof address === 'object' && address ? address.port : ''}`);
  });
  process.on('SIGTERM', () => {
    work.close();
    server.close(() => process.exit(0));
  });
}
