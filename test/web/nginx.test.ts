import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import {
  NGINX_EXPRESSION_VARIABLES,
  type NginxFastcgiInput,
  nginxFastcgiSchema,
  renderNginxConf,
  renderNginxFastcgi,
} from '../../src/web/index.js';
import { formatNginxSize } from '../../src/web/nginx.js';
import { nginxStatements } from './config-tokens.js';

const SOCKET = { upstream: { servers: [{ socketPath: '/run/php/www.sock' }] } };

/** Statements of the `location` block whose first argument matches. */
function directives(text: string): Map<string, string[][]> {
  const map = new Map<string, string[][]>();
  for (const s of nginxStatements(text)) {
    if (s.kind !== 'directive') continue;
    map.set(s.name, [...(map.get(s.name) ?? []), s.args]);
  }
  return map;
}

describe('formatNginxSize', () => {
  it.each([
    [1, '1'],
    [1023, '1023'],
    [1024, '1k'],
    [4096, '4k'],
    [1536, '1536'],
    [1024 * 1024, '1m'],
    [3 * 1024 * 1024, '3m'],
    [1024 * 1024 + 1024, '1025k'],
    [2 ** 40, '1048576m'],
  ])('%d bytes → %s', (bytes, text) => {
    expect(formatNginxSize(bytes)).toBe(text);
  });
});

describe('renderNginxFastcgi', () => {
  it('renders an upstream with a UNIX socket, a TCP server and keepalive', () => {
    const r = renderNginxFastcgi({
      upstream: {
        name: 'app',
        servers: [{ socketPath: '/run/php/a b.sock' }, { host: '::1', port: 9000 }],
        keepalive: 4,
        keepaliveTimeoutSeconds: 30,
        keepaliveRequests: 500,
      },
    });
    expect(r.upstream).toBe(
      'upstream app {\n    server "unix:/run/php/a b.sock";\n    server [::1]:9000;\n    keepalive 4;\n    keepalive_timeout 30s;\n    keepalive_requests 500;\n}\n',
    );
    expect(r.http).toBe(r.upstream);
  });

  it.each<[string, NginxFastcgiInput, string, string[]]>([
    ['connect timeout', { ...SOCKET, connectTimeoutSeconds: 5 }, 'fastcgi_connect_timeout', ['5s']],
    ['send timeout', { ...SOCKET, sendTimeoutSeconds: 61 }, 'fastcgi_send_timeout', ['61s']],
    ['read timeout', { ...SOCKET, readTimeoutSeconds: 300 }, 'fastcgi_read_timeout', ['300s']],
    [
      'request buffering',
      { ...SOCKET, requestBuffering: false },
      'fastcgi_request_buffering',
      ['off'],
    ],
    ['buffering', { ...SOCKET, buffering: true }, 'fastcgi_buffering', ['on']],
    [
      'buffers',
      { ...SOCKET, buffers: { count: 16, sizeBytes: 16384 } },
      'fastcgi_buffers',
      ['16', '16k'],
    ],
    ['buffer size', { ...SOCKET, bufferSizeBytes: 8192 }, 'fastcgi_buffer_size', ['8k']],
    ['keep conn', { ...SOCKET, keepConn: true }, 'fastcgi_keep_conn', ['on']],
    ['next upstream off', { ...SOCKET, nextUpstream: 'off' }, 'fastcgi_next_upstream', ['off']],
    [
      'next upstream list, duplicates dropped',
      { ...SOCKET, nextUpstream: ['error', 'timeout', 'error'] },
      'fastcgi_next_upstream',
      ['error', 'timeout'],
    ],
    [
      'body size',
      { ...SOCKET, clientMaxBodySizeBytes: 64 * 1024 * 1024 },
      'client_max_body_size',
      ['64m'],
    ],
    [
      'unlimited body',
      { ...SOCKET, clientMaxBodySizeBytes: 'unlimited' },
      'client_max_body_size',
      ['0'],
    ],
    ['body timeout', { ...SOCKET, clientBodyTimeoutSeconds: 12 }, 'client_body_timeout', ['12s']],
    [
      'split path info',
      { ...SOCKET, splitPathInfo: '^(.+\\.php)(/.*)$' },
      'fastcgi_split_path_info',
      ['^(.+\\.php)(/.*)$'],
    ],
    ['try_files guard', SOCKET, 'try_files', ['$fastcgi_script_name', '=404']],
    ['pass', SOCKET, 'fastcgi_pass', ['php_fpm']],
  ])('%s', (_, settings, name, args) => {
    const found = directives(renderNginxFastcgi(settings).phpLocation).get(name);
    expect(found).toEqual([args]);
  });

  it('leaves out what is not set, and the guard when asked', () => {
    const d = directives(renderNginxFastcgi({ ...SOCKET, tryFilesGuard: false }).phpLocation);
    for (const name of [
      'try_files',
      'fastcgi_read_timeout',
      'fastcgi_keep_conn',
      'client_max_body_size',
    ]) {
      expect(d.has(name), name).toBe(false);
    }
  });

  it('writes the standard parameters, SCRIPT_FILENAME, and overrides by name', () => {
    const d = directives(
      renderNginxFastcgi({
        ...SOCKET,
        scriptFilename: '/srv/app/public$fastcgi_script_name',
        params: { HTTP_PROXY: '', SERVER_NAME: 'example.org' },
      }).phpLocation,
    );
    const params = new Map(d.get('fastcgi_param')!.map(([k, ...v]) => [k, v]));
    expect(params.get('SCRIPT_FILENAME')).toEqual(['/srv/app/public$fastcgi_script_name']);
    expect(params.get('REQUEST_METHOD')).toEqual(['$request_method']);
    expect(params.get('HTTP_PROXY')).toEqual(['']);
    expect(params.get('SERVER_NAME')).toEqual(['example.org']);
    expect(params.get('HTTPS')).toEqual(['$https', 'if_not_empty']);
    expect(d.get('fastcgi_param')!.filter(([k]) => k === 'SERVER_NAME')).toHaveLength(1);
  });

  it('keeps PATH_INFO through try_files with split path info', () => {
    const d = directives(
      renderNginxFastcgi({ ...SOCKET, splitPathInfo: '^(.+?\\.php)(/.*)$' }).phpLocation,
    );
    expect(d.get('set')).toEqual([['$fpmkit_path_info', '$fastcgi_path_info']]);
    const params = new Map(d.get('fastcgi_param')!.map(([k, ...v]) => [k, v]));
    expect(params.get('PATH_INFO')).toEqual(['$fpmkit_path_info']);
  });

  it('restricts status and ping to the listed addresses, then denies all', () => {
    const r = renderNginxFastcgi({
      ...SOCKET,
      status: { path: '/status', allow: ['127.0.0.1', '::1'] },
      ping: { path: '/ping', allow: ['10.0.0.0/8'] },
    });
    const status = nginxStatements(r.statusLocation);
    expect(status[0]).toMatchObject({ kind: 'open', name: 'location', args: ['=', '/status'] });
    expect(status.slice(1, 4).map((s) => [s.name, ...s.args])).toEqual([
      ['allow', '127.0.0.1'],
      ['allow', '::1'],
      ['deny', 'all'],
    ]);
    expect(r.pingLocation).toContain('allow 10.0.0.0/8;\n    deny all;\n');
    expect(r.server).toContain(r.statusLocation);
    expect(r.server).toContain(r.pingLocation);
    expect(r.server).toContain(r.phpLocation);
  });

  it('puts worker limits in main and events', () => {
    const r = renderNginxFastcgi({
      ...SOCKET,
      workerProcesses: 'auto',
      workerRlimitNofile: 65536,
      workerConnections: 4096,
    });
    expect(r.main).toBe('worker_processes auto;\nworker_rlimit_nofile 65536;\n');
    expect(r.events).toBe('worker_connections 4096;\n');
  });

  it.each<[string, unknown, string]>([
    ['no servers', { upstream: { servers: [] } }, 'upstream.servers'],
    [
      'relative socket',
      { upstream: { servers: [{ socketPath: 'run/x.sock' }] } },
      'upstream.servers[0].socketPath',
    ],
    [
      'socket with a quote',
      { upstream: { servers: [{ socketPath: '/run/x".sock' }] } },
      'upstream.servers[0].socketPath',
    ],
    [
      'socket path too long',
      { upstream: { servers: [{ socketPath: `/${'a'.repeat(120)}` }] } },
      'upstream.servers[0].socketPath',
    ],
    [
      'bad port',
      { upstream: { servers: [{ host: '127.0.0.1', port: 0 }] } },
      'upstream.servers[0].port',
    ],
    [
      'host with a brace',
      { upstream: { servers: [{ host: 'a{b', port: 1 }] } },
      'upstream.servers[0].host',
    ],
    [
      'upstream name with a space',
      { upstream: { name: 'a b', servers: [{ socketPath: '/x' }] } },
      'upstream.name',
    ],
    ['param value with a newline', { ...SOCKET, params: { A: 'x\ny' } }, 'params.A'],
    ['param name with a semicolon', { ...SOCKET, params: { 'A;': 'x' } }, 'params.A;'],
    [
      'a __proto__ param',
      { ...SOCKET, params: JSON.parse('{"__proto__":"x"}') },
      'params.__proto__',
    ],
    ['script filename with a backslash', { ...SOCKET, scriptFilename: 'a\\' }, 'scriptFilename'],
    ['regex rewritten by nginx', { ...SOCKET, locationRegex: '\\\\.php' }, 'locationRegex'],
    ['invalid regex', { ...SOCKET, splitPathInfo: '(' }, 'splitPathInfo'],
    [
      'status path with a query',
      { ...SOCKET, status: { path: '/status?x', allow: ['127.0.0.1'] } },
      'status.path',
    ],
    [
      'status without addresses',
      { ...SOCKET, status: { path: '/status', allow: [] } },
      'status.allow',
    ],
    ['allow all', { ...SOCKET, ping: { path: '/ping', allow: ['all'] } }, 'ping.allow[0]'],
    [
      'allow with a bad prefix',
      { ...SOCKET, ping: { path: '/ping', allow: ['10.0.0.0/33'] } },
      'ping.allow[0]',
    ],
    [
      'same status and ping path',
      { ...SOCKET, status: { path: '/s', allow: ['::1'] }, ping: { path: '/s', allow: ['::1'] } },
      'ping.path',
    ],
    ['zero timeout', { ...SOCKET, readTimeoutSeconds: 0 }, 'readTimeoutSeconds'],
    ['fractional timeout', { ...SOCKET, readTimeoutSeconds: 1.5 }, 'readTimeoutSeconds'],
    ['one buffer', { ...SOCKET, buffers: { count: 1, sizeBytes: 4096 } }, 'buffers.count'],
    [
      'buffers too small for the header buffer',
      { ...SOCKET, buffers: { count: 4, sizeBytes: 4096 }, bufferSizeBytes: 65536 },
      'buffers',
    ],
    [
      'header buffer too big for the default buffers',
      { ...SOCKET, bufferSizeBytes: 65536 },
      'bufferSizeBytes',
    ],
    ['unknown key', { ...SOCKET, fastcgiReadTimeout: 5 }, 'fastcgiReadTimeout'],
    [
      'a $ in a socket path',
      { upstream: { servers: [{ socketPath: '/run/$x.sock' }] } },
      'upstream.servers[0].socketPath',
    ],
    ['a glob * in include', { ...SOCKET, include: '/etc/nginx/*.conf' }, 'include'],
    ['a glob ? in include', { ...SOCKET, include: '/etc/nginx/p?.conf' }, 'include'],
    ['a glob [ in include', { ...SOCKET, include: '/etc/nginx/p[1].conf' }, 'include'],
    [
      'a request header in scriptFilename',
      { ...SOCKET, scriptFilename: '/srv/$http_x' },
      'scriptFilename',
    ],
    ['an argument in a parameter', { ...SOCKET, params: { A: '${arg_a}' } }, 'params.A'],
    ['a bare $ in a parameter', { ...SOCKET, params: { A: 'pa$' } }, 'params.A'],
    ['a regex capture in a parameter', { ...SOCKET, params: { A: '$1' } }, 'params.A'],
    [
      'an unnormalized status path',
      { ...SOCKET, status: { path: '/a/../s', allow: ['::1'] } },
      'status.path',
    ],
    ['a // ping path', { ...SOCKET, ping: { path: '//ping', allow: ['::1'] } }, 'ping.path'],
  ])('rejects %s naming %s', (_, settings, option) => {
    let error: unknown;
    try {
      renderNginxFastcgi(settings as NginxFastcgiInput);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
    expect((error as FpmkitInvalidOptionError).code).toBe('FPMKIT_INVALID_OPTION');
  });

  it('applies the documented defaults', () => {
    const s = nginxFastcgiSchema.parse(SOCKET);
    expect(s.upstream.name).toBe('php_fpm');
    expect(s.tryFilesGuard).toBe(true);
    expect(s.standardParams).toBe(true);
    expect(s.scriptFilename).toBe('$document_root$fastcgi_script_name');
  });
});

describe('renderNginxConf', () => {
  it('assembles main, events, http and one server around the parts', () => {
    const text = renderNginxConf(
      { ...SOCKET, workerConnections: 512 },
      { documentRoot: '/srv/www', listen: 8081, user: 'www-data', daemon: false },
    );
    const top = nginxStatements(text).filter((s) => s.depth === 0);
    expect(top.map((s) => `${s.kind}:${s.name}`)).toEqual([
      'directive:user',
      'directive:daemon',
      'open:events',
      'close:}',
      'open:http',
      'close:}',
    ]);
    const d = directives(text);
    expect(d.get('listen')).toEqual([['8081']]);
    expect(d.get('root')).toEqual([['/srv/www']]);
    expect(d.get('access_log')).toEqual([['off']]);
    expect(d.get('worker_connections')).toEqual([['512']]);
  });

  it('names the option of a bad value under options', () => {
    expect(() => renderNginxConf(SOCKET, { documentRoot: '/srv/"www' })).toThrow(
      expect.objectContaining({ option: 'options.documentRoot' }),
    );
  });
});

describe('nginx values with variables', () => {
  it('keeps the variables of NGINX_EXPRESSION_VARIABLES, in both spellings', () => {
    const parts = renderNginxFastcgi({
      ...SOCKET,
      scriptFilename: '$realpath_root${fastcgi_script_name}',
      params: { SITE: '$host' },
    });
    expect(parts.phpLocation).toContain(
      'fastcgi_param SCRIPT_FILENAME "$realpath_root${fastcgi_script_name}";',
    );
    expect(parts.phpLocation).toContain('fastcgi_param SITE "$host";');
    for (const name of NGINX_EXPRESSION_VARIABLES) {
      expect(() => renderNginxFastcgi({ ...SOCKET, params: { A: `$${name}` } })).not.toThrow();
    }
  });
});
