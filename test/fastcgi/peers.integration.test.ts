import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIProtocolError, FastCGITimeoutError, isFpmkitError } from '../../src/errors.js';
import {
  FastCGIClient,
  FastCGIHttpPeerError,
  GET_VALUES_TIMEOUT_MS,
} from '../../src/fastcgi/index.js';
import { fetchStatus } from '../../src/status/index.js';
import { nginxBinary, phpFpmBinary } from '../support/integration.js';
import { httpStatus, type StartedNginx, startNginx } from '../support/nginx.js';
import { type StartedFpm, startPhpFpm } from '../support/php-fpm.js';
import {
  fcgiwrapBinary,
  phpCgiBinary,
  type StartedPeer,
  startFcgiwrap,
  startPhpCgi,
} from './peers.js';

/**
 * FastCGI against servers other than a well-configured php-fpm pool: php-cgi in FastCGI mode,
 * fcgiwrap, an nginx HTTP port given as a FastCGI target, and scripted peers for what no real
 * server sends on demand.
 */

/**
 * A script that sends no header at all: with `default_mimetype` empty PHP adds no
 * Content-type, and header_remove() drops the rest (X-Powered-By under `-n`). PHP's CGI and FPM
 * SAPIs then write the empty line alone, `\r\n`, before the body.
 */
const NO_HEADERS = `<?php ini_set('default_mimetype', ''); header_remove(); echo "no headers here\\n\\nsecond paragraph";`;
const NO_HEADERS_BODY = 'no headers here\n\nsecond paragraph';

function params(scriptFilename: string): Record<string, string> {
  return {
    SCRIPT_FILENAME: scriptFilename,
    SCRIPT_NAME: `/${scriptFilename.split('/').pop()}`,
    REQUEST_METHOD: 'GET',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
}

/** The three management variables FastCGI 1.0 defines, as a client usually asks for them. */
const ALL_NAMES = ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS'];

const phpCgi = phpCgiBinary();
const fpmReq = phpFpmBinary();
const fcgiwrap = fcgiwrapBinary();
const nginxReq = nginxBinary();

describe.skipIf(!phpCgi.available)(`an empty CGI header block from php-cgi${phpCgi.reason}`, () => {
  let peer: StartedPeer;
  beforeAll(async () => {
    peer = await startPhpCgi({ 'none.php': NO_HEADERS });
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('is a 200 response with no headers and the whole body', async () => {
    const client = new FastCGIClient(peer.target);
    const res = await client.request({ params: params(`${peer.dir}/none.php`) });
    console.log(
      `php-cgi -b: status ${res.status}, headers ${JSON.stringify(res.headers)}, body ${JSON.stringify(res.body.toString())}`,
    );
    expect(res.status).toBe(200);
    expect(res.headers).toEqual({});
    expect(res.body.toString()).toBe(NO_HEADERS_BODY);
  });
});

describe.skipIf(!fpmReq.available)(`an empty CGI header block from php-fpm${fpmReq.reason}`, () => {
  let fpm: StartedFpm;
  let nginx: StartedNginx | undefined;
  beforeAll(async () => {
    fpm = await startPhpFpm({
      pools: [{ name: 'www', directives: 'pm.status_path = /status' }],
      scripts: { 'none.php': NO_HEADERS },
    });
  });
  afterAll(async () => {
    await nginx?.stop();
    await fpm?.stop();
  });

  it('is a 200 response with no headers, twice on one client (the header memo included)', async () => {
    const client = new FastCGIClient(fpm.pool('www').target);
    for (let i = 0; i < 2; i++) {
      const res = await client.request({ params: params(`${fpm.wwwDir}/none.php`) });
      console.log(
        `php-fpm: status ${res.status}, headers ${JSON.stringify(res.headers)}, body ${JSON.stringify(res.body.toString())}`,
      );
      expect(res.status).toBe(200);
      expect(res.headers).toEqual({});
      expect(res.body.toString()).toBe(NO_HEADERS_BODY);
    }
  });

  it.skipIf(!nginxReq.available)(
    `is served as 200 by nginx in front of the same pool${nginxReq.reason}`,
    async () => {
      nginx = await startNginx({
        http: `server {
  listen 127.0.0.1:@PORT@;
  location / {
    fastcgi_pass unix:${fpm.pool('www').socketPath};
    fastcgi_param SCRIPT_FILENAME ${fpm.wwwDir}/none.php;
    fastcgi_param REQUEST_METHOD GET;
  }
}`,
      });
      const status = await httpStatus(nginx.port, '/');
      console.log(`nginx -> php-fpm, script without headers: HTTP ${status}`);
      expect(status).toBe(200);
    },
  );
});

describe.skipIf(!nginxReq.available)(
  `an HTTP server given as a FastCGI target${nginxReq.reason}`,
  () => {
    let nginx: StartedNginx;
    beforeAll(async () => {
      nginx = await startNginx({
        http: 'server { listen 127.0.0.1:@PORT@; location / { return 200 "web page\\n"; } }',
      });
    });
    afterAll(async () => {
      await nginx?.stop();
    });

    it('fails with FastCGIHttpPeerError quoting nginx status line', async () => {
      const client = new FastCGIClient(`127.0.0.1:${nginx.port}`);
      const error = await client.request({ params: params('/status') }).catch((e: unknown) => e);
      console.log(`FastCGI request to nginx's HTTP port: ${(error as Error).message}`);
      expect(error).toBeInstanceOf(FastCGIHttpPeerError);
      expect(error).toBeInstanceOf(FastCGIProtocolError);
      const e = error as FastCGIHttpPeerError;
      expect(e.code).toBe('FPMKIT_PROTOCOL');
      expect(e.peerProtocol).toBe('http');
      expect(e.statusLine).toMatch(/^HTTP\/1\.1 400 Bad Request$/);
      expect(e.target).toBe(`127.0.0.1:${nginx.port}`);
      expect(e.message).toMatch(/looks like an HTTP server/);
      expect(e.message).not.toMatch(/version 72/);
    });

    it('fails the same way from fetchStatus and getValues', async () => {
      const target = `127.0.0.1:${nginx.port}`;
      const fromStatus = await fetchStatus(target).catch((e: unknown) => e);
      expect(fromStatus).toBeInstanceOf(FastCGIHttpPeerError);
      const fromValues = await new FastCGIClient(target)
        .getValues(['FCGI_MPXS_CONNS'])
        .catch((e: unknown) => e);
      console.log(`getValues against nginx: ${(fromValues as Error).message}`);
      expect(fromValues).toBeInstanceOf(FastCGIHttpPeerError);
    });
  },
);

describe('scripted peers that answer in another protocol', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A TCP peer on loopback that writes `chunks` (a few ms apart) once the request arrives. */
  async function peer(chunks: string[]): Promise<string> {
    const server = createServer((socket: Socket) => {
      socket.once('data', async () => {
        for (const chunk of chunks) {
          if (socket.destroyed) return;
          socket.write(chunk);
          await new Promise((r) => setTimeout(r, 5));
        }
        socket.end();
      });
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return `127.0.0.1:${address.port}`;
  }

  it('recognises an HTTP answer split in pieces shorter than a record header', async () => {
    const target = await peer(['HTT', 'P/1.0 5', '03 Service Unavailable\r\n\r\n']);
    const error = await new FastCGIClient(target)
      .request({ params: params('/x') })
      .catch((e: unknown) => e);
    // The error comes as soon as one record header's worth has arrived: 'HTT' + 'P/1.0 5'.
    expect(error).toBeInstanceOf(FastCGIHttpPeerError);
    expect((error as FastCGIHttpPeerError).statusLine).toBe('HTTP/1.0 5');
  });

  it('quotes what any other non-FastCGI peer sent, as a plain protocol error', async () => {
    const target = await peer(['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n']);
    const error = await new FastCGIClient(target)
      .request({ params: params('/x') })
      .catch((e: unknown) => e);
    expect(isFpmkitError(error) && error.code).toBe('FPMKIT_PROTOCOL');
    expect(error).not.toBeInstanceOf(FastCGIHttpPeerError);
    expect((error as Error).message).toMatch(/version 83 .*'SSH-2\.0-OpenSSH_9\.2p1 Debian-2'/);
  });
});

describe.skipIf(!fcgiwrap.available)(`getValues against fcgiwrap${fcgiwrap.reason}`, () => {
  let peer: StartedPeer;
  beforeAll(async () => {
    peer = await startFcgiwrap({
      'hello.cgi': '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\nhello from cgi"\n',
    });
  });
  afterAll(async () => {
    await peer?.stop();
  });

  it('serves a CGI program (the server is up and speaks FastCGI)', async () => {
    const res = await new FastCGIClient(peer.target).request({
      params: params(`${peer.dir}/hello.cgi`),
    });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello from cgi');
  });

  it('answers a query naming FCGI_MPXS_CONNS or FCGI_MAX_REQS alone', async () => {
    const client = new FastCGIClient(peer.target);
    const mpxs = await client.getValues(['FCGI_MPXS_CONNS']);
    const reqs = await client.getValues(['FCGI_MAX_REQS']);
    console.log(`fcgiwrap getValues, one name each: ${JSON.stringify({ ...mpxs, ...reqs })}`);
    expect(mpxs).toEqual({ FCGI_MPXS_CONNS: '0' });
    expect(reqs).toEqual({ FCGI_MAX_REQS: '1' });
  });

  it('gives up after the bound passed to the call, not after the read timeout', async () => {
    const client = new FastCGIClient(peer.target);
    const start = performance.now();
    const error = await client.getValues(ALL_NAMES, { timeoutMs: 150 }).catch((e: unknown) => e);
    const ms = performance.now() - start;
    console.log(
      `fcgiwrap getValues, timeoutMs 150: ${Math.round(ms)} ms, ${(error as Error).message}`,
    );
    expect(error).toBeInstanceOf(FastCGITimeoutError);
    expect((error as FastCGITimeoutError).phase).toBe('total');
    expect((error as FastCGITimeoutError).timeoutMs).toBe(150);
    expect((error as Error).message).toMatch(/did not answer FCGI_GET_VALUES within 150 ms/);
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(1_000);
  });

  it('gives up after the client getValuesTimeoutMs', async () => {
    const client = new FastCGIClient(peer.target, { getValuesTimeoutMs: 120 });
    const start = performance.now();
    const error = await client.getValues(['FCGI_MAX_CONNS']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FastCGITimeoutError);
    const ms = performance.now() - start;
    expect((error as FastCGITimeoutError).timeoutMs).toBe(120);
    expect(ms).toBeLessThan(1_000);
  });

  it(`gives up after GET_VALUES_TIMEOUT_MS (${GET_VALUES_TIMEOUT_MS} ms) by default, not the 30 s read timeout`, async () => {
    expect(GET_VALUES_TIMEOUT_MS).toBe(2_000);
    const client = new FastCGIClient(peer.target);
    const start = performance.now();
    const error = await client.getValues(ALL_NAMES).catch((e: unknown) => e);
    const ms = performance.now() - start;
    console.log(`fcgiwrap getValues, default bound: ${Math.round(ms)} ms`);
    expect(error).toBeInstanceOf(FastCGITimeoutError);
    expect((error as FastCGITimeoutError).timeoutMs).toBe(GET_VALUES_TIMEOUT_MS);
    expect(ms).toBeGreaterThanOrEqual(GET_VALUES_TIMEOUT_MS - 10);
    expect(ms).toBeLessThan(GET_VALUES_TIMEOUT_MS + 1_000);
  });
});

describe.skipIf(!fpmReq.available)(`getValues against php-fpm${fpmReq.reason}`, () => {
  let fpm: StartedFpm;
  beforeAll(async () => {
    fpm = await startPhpFpm({ pools: [{ name: 'www' }] });
  });
  afterAll(async () => {
    await fpm?.stop();
  });

  it('answers well within the default bound', async () => {
    const client = new FastCGIClient(fpm.pool('www').target);
    const start = performance.now();
    const values = await client.getValues(ALL_NAMES);
    const ms = performance.now() - start;
    console.log(`php-fpm getValues: ${JSON.stringify(values)} in ${ms.toFixed(1)} ms`);
    expect(values).toEqual({ FCGI_MPXS_CONNS: '0' });
    expect(ms).toBeLessThan(GET_VALUES_TIMEOUT_MS);
  });

  it('still answers with a bound far below the default', async () => {
    const values = await new FastCGIClient(fpm.pool('www').target).getValues(['FCGI_MPXS_CONNS'], {
      timeoutMs: 500,
    });
    expect(values).toEqual({ FCGI_MPXS_CONNS: '0' });
  });
});
