import { describe, expect, it } from 'vitest';
import { checkStack } from '../../src/doctor/index.js';
import {
  extractNginxFpmSettings,
  NGINX_DEFAULTS,
  parseNginxConfig,
  parseNginxSizeBytes,
  parseNginxTimeMs,
} from '../../src/web/index.js';
import { globNames } from '../../src/web/nginx-config-glob.js';

function extract(files: Record<string, string>) {
  const payload = parseNginxConfig(
    { path: '/c/nginx.conf' },
    {
      readFile: (p) => {
        const t = files[p];
        if (t === undefined) throw new Error('ENOENT');
        return t;
      },
      glob: (p) => globNames(p, Object.keys(files)),
    },
  );
  return extractNginxFpmSettings(payload);
}

describe('nginx values', () => {
  it.each([
    ['60', 60_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1s500ms', 1500],
  ] as const)('time %s is %d ms', (text, ms) => {
    expect(parseNginxTimeMs(text)).toBe(ms);
  });
  it.each(['', 's', '30x', '30s1m', '1.5s', '10 s'])('time %j is refused', (text) => {
    expect(parseNginxTimeMs(text)).toBeUndefined();
  });
  it.each([
    ['512', 512],
    ['8k', 8192],
    ['8K', 8192],
    ['1m', 1_048_576],
    ['2g', 2 * 1024 ** 3],
  ] as const)('size %s is %d bytes', (text, bytes) => {
    expect(parseNginxSizeBytes(text)).toBe(bytes);
  });
  it.each(['', 'k', '1.5m', '1t', '-1'])('size %j is refused', (text) => {
    expect(parseNginxSizeBytes(text)).toBeUndefined();
  });
});

describe('extractNginxFpmSettings', () => {
  const files = {
    '/c/nginx.conf': `user www-data www;
worker_processes 4;
worker_rlimit_nofile 8192;
events { worker_connections 1024; }
http {
    fastcgi_read_timeout 120s;
    client_max_body_size 16m;
    fastcgi_param HTTP_PROXY "";
    upstream php {
        server unix:/run/php/php8.2-fpm.sock weight=2;
        server 127.0.0.1:9000 backup;
        keepalive 8;
        keepalive_timeout 30s;
    }
    include /c/sites/*;
}
`,
    '/c/sites/app': `server {
    listen 80;
    server_name app.test www.app.test;
    fastcgi_read_timeout 300;
    location ~ \\.php$ {
        try_files $fastcgi_script_name =404;
        fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
        include /c/fastcgi.conf;
        fastcgi_keep_conn on;
        fastcgi_buffers 16 16k;
        fastcgi_pass php;
    }
    location /upload/ {
        client_max_body_size 0;
        location ~ \\.php$ {
            fastcgi_read_timeout 1500ms;
            fastcgi_pass unix:/run/php/other.sock;
        }
    }
    location /dynamic/ {
        fastcgi_pass $backend;
    }
}
`,
    '/c/fastcgi.conf':
      'fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\nfastcgi_param QUERY_STRING $query_string;\n',
  };

  it('reads the worker settings and the upstream with its keepalive', () => {
    const s = extract(files);
    expect(s.user).toEqual({
      value: { name: 'www-data', group: 'www' },
      source: { file: '/c/nginx.conf', line: 1 },
    });
    expect(s.workerProcesses.value).toBe(4);
    expect(s.workerConnections).toEqual({
      value: 1024,
      source: { file: '/c/nginx.conf', line: 4 },
    });
    expect(s.workerRlimitNofile?.value).toBe(8192);
    expect(s.upstreams).toHaveLength(1);
    const up = s.upstreams[0]!;
    expect(up.servers.map((x) => [x.address, x.backend, x.parameters])).toEqual([
      ['unix:/run/php/php8.2-fpm.sock', { socketPath: '/run/php/php8.2-fpm.sock' }, ['weight=2']],
      ['127.0.0.1:9000', { host: '127.0.0.1', port: 9000 }, ['backup']],
    ]);
    expect(up.keepalive?.value).toBe(8);
    expect(up.keepaliveTimeoutMs.value).toBe(30_000);
    expect(up.keepaliveRequests).toEqual({ value: NGINX_DEFAULTS.upstreamKeepaliveRequests });
  });

  it('resolves each fastcgi_pass as nginx inherits: location, then server, then http', () => {
    const [php, upload, dynamic] = extract(files).passes;
    expect(php!.target).toBe('php');
    expect(php!.backends).toHaveLength(2);
    expect(php!.server?.serverNames).toEqual(['app.test', 'www.app.test']);
    expect(php!.contexts.map((c) => [c.kind, c.args])).toEqual([
      ['http', []],
      ['server', []],
      ['location', ['~', '\\.php$']],
    ]);
    const e = php!.effective;
    expect(e.readTimeoutMs).toEqual({ value: 300_000, source: { file: '/c/sites/app', line: 4 } });
    expect(e.clientMaxBodySizeBytes).toEqual({
      value: 16 * 1024 * 1024,
      source: { file: '/c/nginx.conf', line: 7 },
    });
    expect(e.connectTimeoutMs).toEqual({ value: 60_000 });
    expect(e.keepConn.value).toBe(true);
    expect(e.buffers.value).toEqual({ count: 16, sizeBytes: 16384 });
    // fastcgi_param: the location's list replaces http's HTTP_PROXY entirely.
    expect(e.params.value).toEqual({
      SCRIPT_FILENAME: '$document_root$fastcgi_script_name',
      QUERY_STRING: '$query_string',
    });
    expect(e.params.source).toEqual({ file: '/c/fastcgi.conf', line: 1 });
    expect(e.tryFiles?.value).toEqual(['$fastcgi_script_name', '=404']);

    expect(upload!.effective.readTimeoutMs.value).toBe(1500);
    expect(upload!.effective.clientMaxBodySizeBytes.value).toBe('unlimited');
    expect(upload!.effective.params.value).toEqual({ HTTP_PROXY: '' });
    expect(upload!.effective.tryFiles).toBeUndefined();
    expect(upload!.contexts.filter((c) => c.kind === 'location')).toHaveLength(2);

    expect(dynamic!.backends).toEqual([]);
    expect(dynamic!.model).toBeUndefined();
    expect(dynamic!.modelIssues?.[0]).toMatch(/\$backend/);
  });

  it("fills fpmkit's nginx model, which checkStack accepts", () => {
    const [php, upload] = extract(files).passes;
    expect(php!.model).toMatchObject({
      upstream: { name: 'php', keepalive: 8, keepaliveTimeoutSeconds: 30 },
      readTimeoutSeconds: 300,
      clientMaxBodySizeBytes: 16 * 1024 * 1024,
      keepConn: true,
      locationRegex: '\\.php$',
      splitPathInfo: '^(.+?\\.php)(/.*)$',
      tryFilesGuard: true,
      scriptFilename: '$document_root$fastcgi_script_name',
      workerProcesses: 4,
      workerConnections: 1024,
    });
    // 1500 ms does not fit whole seconds: rounded up.
    expect(upload!.model?.readTimeoutSeconds).toBe(2);
    const findings = checkStack({
      fpm: {
        pool: {
          name: 'www',
          listen: { address: '/run/php/php8.2-fpm.sock' },
          requestTerminateTimeoutSeconds: 600,
        },
      },
      kernel: {},
      nginx: php!.model!,
    });
    expect(findings.map((f) => f.code)).toContain('stack.web-timeout-below-request');
  });

  it('uses the defaults and lists what it cannot read', () => {
    const s = extract({
      '/c/nginx.conf':
        'http { server { location / { fastcgi_read_timeout soon; fastcgi_pass 127.0.0.1:9000; } } }',
    });
    expect(s.workerProcesses).toEqual({ value: 1 });
    expect(s.workerConnections).toEqual({ value: 512 });
    expect(s.user).toBeUndefined();
    expect(s.passes[0]!.effective.readTimeoutMs).toEqual({ value: 60_000 });
    expect(s.passes[0]!.effective.clientMaxBodySizeBytes).toEqual({ value: 1024 * 1024 });
    expect(s.problems).toEqual([
      {
        message: 'cannot read fastcgi_read_timeout soon',
        source: { file: '/c/nginx.conf', line: 1 },
      },
    ]);
  });
});
