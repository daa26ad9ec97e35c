import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNginxConfigFile } from '../../src/host/web-config.js';
import { extractNginxFpmSettings, type NginxFastcgiPass } from '../../src/web/index.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import { Rng } from './nginx-config-gen.js';

const fpmReq = phpFpmBinary();
const nginxReq = nginxBinary();
const available = fpmReq.available && nginxReq.available;

/** FPM children: the most requests that sleep at once. */
const CHILDREN = 32;
/** Requests in flight at once: fewer than the children, as kept connections pin some. */
const CONCURRENCY = 12;
const LAYOUTS = 50;
const INSTANCES = 5;
/** How far under and over the timeout the script sleeps, in milliseconds. */
const MARGIN_MS = 400;

const TIMEOUTS = ['800ms', '1200ms', '1s', '1600ms', '2s'];
const SIZES = ['1k', '3000', '8k', '20k', '64k', '1m', '0'];

/** One request on a fresh connection; the status code, or -1 when the connection failed. */
function send(port: number, host: string, path: string, body?: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        agent: false,
        headers: {
          host,
          ...(body
            ? { 'content-type': 'application/octet-stream', 'content-length': body.length }
            : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(-1));
    req.end(body);
  });
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < tasks.length) {
        const i = next++;
        out[i] = await tasks[i]!();
      }
    }),
  );
  return out;
}

interface Instance {
  http: string;
  /** Files to write before nginx starts, by absolute path. */
  files: Record<string, string>;
  /** server_name of each layout in this instance. */
  names: string[];
}

/**
 * One nginx configuration holding several layouts: `fastcgi_read_timeout` and
 * `client_max_body_size` set at random levels (http, server, an included file, locations, nested
 * locations), with sibling locations as decoys, and the pass through an upstream or directly.
 */
function generateInstance(
  rng: Rng,
  index: number,
  dir: string,
  socket: string,
  script: string,
): Instance {
  const files: Record<string, string> = {};
  const params = join(dir, 'probe_params.conf');
  files[params] = [
    `fastcgi_param SCRIPT_FILENAME ${script};`,
    'fastcgi_param QUERY_STRING $query_string;',
    'fastcgi_param REQUEST_METHOD $request_method;',
    'fastcgi_param CONTENT_TYPE $content_type;',
    'fastcgi_param CONTENT_LENGTH $content_length;',
    '',
  ].join('\n');
  const maybe = (p: number, line: string) => (rng.chance(p) ? `${line}\n` : '');
  const read = () => `fastcgi_read_timeout ${rng.pick(TIMEOUTS)};`;
  const body = () => `client_max_body_size ${rng.pick(SIZES)};`;
  const pass = () =>
    `include ${params};\n${rng.chance(0.5) ? 'fastcgi_pass fpm_up;\nfastcgi_keep_conn on;' : `fastcgi_pass unix:${socket};`}\n`;
  let http = `upstream fpm_up {\n    server unix:${socket};\n    keepalive 1;\n}\n${read()}\n${maybe(0.6, body())}`;
  const names: string[] = [];
  for (let l = 0; l < LAYOUTS / INSTANCES; l++) {
    const name = `l${index}-${l}.test`;
    names.push(name);
    let server = `listen 127.0.0.1:@PORT@;\nserver_name ${name};\n`;
    // Server-level values written in the server block or in a file it includes (not both:
    // nginx refuses a duplicate).
    const serverValues = `${maybe(0.5, read())}${maybe(0.4, body())}`;
    if (rng.chance(0.3)) {
      const inc = join(dir, `server-${index}-${l}.conf`);
      files[inc] = serverValues;
      server += `include ${inc};\n`;
    } else server += serverValues;
    const nLocations = rng.int(1, 3);
    for (let k = 0; k < nLocations; k++) {
      const prefix = `/a${k}/`;
      let loc = `location ${prefix} {\n${maybe(0.4, read())}${maybe(0.4, body())}`;
      if (rng.chance(0.5)) {
        loc += `location ${prefix}n/ {\n${maybe(0.5, read())}${maybe(0.5, body())}${pass()}}\n`;
        if (rng.chance(0.5)) loc += pass();
      } else {
        loc += pass();
      }
      // A decoy next to it: different values, never requested.
      loc += `location ${prefix}decoy/ {\nfastcgi_read_timeout 55s;\nclient_max_body_size 99m;\n${pass()}}\n`;
      server += `${loc}}\n`;
    }
    http += `server {\n${server}}\n`;
  }
  return { http, files, names };
}

/** A URI that nginx routes to the location holding `pass`. */
function uriOf(pass: NginxFastcgiPass): string {
  const location = pass.contexts.filter((c) => c.kind === 'location').at(-1)!;
  return `${location.args.at(-1)}probe.php`;
}

describe.skipIf(!available)(
  `extracted nginx settings match what nginx applies${fpmReq.reason}${nginxReq.reason}`,
  () => {
    let fpm: StartedFpm | undefined;
    const nginxes: StartedNginx[] = [];
    let dir: string | undefined;

    beforeAll(async () => {
      fpm = await startPhpFpm({
        pools: [{ name: 'www', directives: `pm = static\npm.max_children = ${CHILDREN}` }],
        scripts: {
          'probe.php':
            '<?php usleep((int)($_GET["ms"] ?? 0) * 1000); echo strlen(file_get_contents("php://input"));',
        },
      });
      dir = await mkdtemp(join(tmpdir(), 'fpmkit-ngxlayout-'));
    }, 60_000);

    afterAll(async () => {
      for (const n of nginxes) await n.stop();
      await fpm?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    }, 60_000);

    it(`shows the fastcgi_read_timeout and client_max_body_size the extraction reports, for ${LAYOUTS} layouts`, async () => {
      const rng = new Rng(20_260_518);
      const socket = fpm!.pool('www').socketPath!;
      const script = join(fpm!.wwwDir, 'probe.php');
      const checks: { pass: NginxFastcgiPass; port: number; host: string }[] = [];
      for (let i = 0; i < INSTANCES; i++) {
        const instance = generateInstance(rng, i, dir!, socket, script);
        for (const [path, text] of Object.entries(instance.files)) await writeFile(path, text);
        const nginx = await startNginx({ http: instance.http });
        nginxes.push(nginx);
        // The file nginx runs, read from disk with its includes.
        const settings = extractNginxFpmSettings(readNginxConfigFile(nginx.confPath));
        expect(settings.problems).toEqual([]);
        for (const pass of settings.passes) {
          const host = pass.server!.serverNames[0]!;
          if (uriOf(pass).includes('decoy')) {
            expect(pass.effective.readTimeoutMs).toMatchObject({ value: 55_000 });
            continue;
          }
          checks.push({ pass, port: nginx.port, host });
        }
      }
      expect(new Set(checks.map((c) => c.host)).size).toBe(LAYOUTS);
      const tasks: (() => Promise<string | undefined>)[] = [];
      let agreed = 0;
      for (const { pass, port, host } of checks) {
        const uri = uriOf(pass);
        const timeout = pass.effective.readTimeoutMs.value;
        const limit = pass.effective.clientMaxBodySizeBytes.value;
        const where = `${host}${uri} (read timeout ${timeout} ms from ${JSON.stringify(pass.effective.readTimeoutMs.source)}, body ${limit})`;
        const expectStatus = async (status: Promise<number>, wanted: number, what: string) => {
          const got = await status;
          if (got === wanted) {
            agreed++;
            return undefined;
          }
          return `${where}: ${what} answered ${got}, expected ${wanted}`;
        };
        expect(timeout).toBeLessThanOrEqual(2000);
        tasks.push(() =>
          expectStatus(send(port, host, `${uri}?ms=${timeout - MARGIN_MS}`), 200, 'sleep under'),
        );
        tasks.push(() =>
          expectStatus(send(port, host, `${uri}?ms=${timeout + MARGIN_MS}`), 504, 'sleep over'),
        );
        if (limit === 'unlimited') {
          tasks.push(() =>
            expectStatus(send(port, host, uri, Buffer.alloc(2 * 1024 * 1024)), 200, 'a 2 MiB body'),
          );
        } else {
          tasks.push(() =>
            expectStatus(send(port, host, uri, Buffer.alloc(limit)), 200, 'a body of the limit'),
          );
          tasks.push(() =>
            expectStatus(
              send(port, host, uri, Buffer.alloc(limit + 1)),
              413,
              'a body one byte over',
            ),
          );
        }
      }
      const failures = (await pool(tasks, CONCURRENCY)).filter((f) => f !== undefined);
      console.log(
        `nginx extraction: ${LAYOUTS} layouts, ${checks.length} fastcgi_pass locations, ${tasks.length} requests, ${agreed} agreed with the extracted values`,
      );
      expect(failures).toEqual([]);
    }, 300_000);
  },
);
