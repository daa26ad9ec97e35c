import { describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError } from '../../src/errors.js';
import { quoteApacheArgument } from '../../src/web/apache.js';
import {
  type ApacheProxyFcgiInput,
  apacheWorkerUrl,
  renderApacheProxyFcgi,
} from '../../src/web/index.js';
import { apacheStatements } from './config-tokens.js';

const UNIX = { backend: { socketPath: '/run/php/www.sock' } };

describe('renderApacheProxyFcgi', () => {
  it('hands .php files to a UNIX socket, only when the file exists', () => {
    const r = renderApacheProxyFcgi(UNIX);
    expect(r.handler).toBe(
      [
        '<FilesMatch "\\\\.php$">',
        '    <If "-f %{REQUEST_FILENAME}">',
        '        SetHandler "proxy:unix:/run/php/www.sock|fcgi://localhost"',
        '    </If>',
        '</FilesMatch>',
        '<Proxy "unix:/run/php/www.sock|fcgi://localhost">',
        '</Proxy>',
        '',
      ].join('\n'),
    );
    expect(r.mpm).toBe('');
    expect(r.server).toBe('');
  });

  it.each<[string, ApacheProxyFcgiInput, string]>([
    ['IPv4', { backend: { host: '127.0.0.1', port: 9000 } }, 'fcgi://127.0.0.1:9000'],
    ['IPv6', { backend: { host: '::1', port: 9001 } }, 'fcgi://[::1]:9001'],
    ['own worker name', { ...UNIX, workerName: 'pool-a' }, 'unix:/run/php/www.sock|fcgi://pool-a'],
  ])('names the %s worker', (_, settings, url) => {
    const r = renderApacheProxyFcgi({ ...settings, requireExistingFile: false });
    expect(r.handler).toContain(`    SetHandler "proxy:${url}"\n`);
    expect(r.handler).toContain(`<Proxy "${url}">`);
  });

  it('writes ProxySet parameters, server timeouts and mpm_event limits', () => {
    const r = renderApacheProxyFcgi({
      ...UNIX,
      proxySetTimeoutSeconds: 300,
      connectionTimeoutSeconds: 5,
      flushPackets: 'on',
      enableReuse: true,
      maxConnections: 10,
      proxyTimeoutSeconds: 310,
      timeoutSeconds: 320,
      mpmEvent: { serverLimit: 8, threadsPerChild: 25, maxRequestWorkers: 200 },
    });
    const statements = apacheStatements(r.all);
    const byName = new Map(statements.map((s) => [s.name, s.args]));
    expect(byName.get('ProxySet')).toEqual([
      'timeout=300',
      'connectiontimeout=5',
      'flushpackets=on',
      'enablereuse=on',
      'max=10',
    ]);
    expect(byName.get('ProxyTimeout')).toEqual(['310']);
    expect(byName.get('Timeout')).toEqual(['320']);
    expect(byName.get('ServerLimit')).toEqual(['8']);
    expect(byName.get('ThreadsPerChild')).toEqual(['25']);
    expect(byName.get('MaxRequestWorkers')).toEqual(['200']);
    // ServerLimit must come before MaxRequestWorkers, which it bounds.
    const names = statements.map((s) => s.name);
    expect(names.indexOf('ServerLimit')).toBeLessThan(names.indexOf('MaxRequestWorkers'));
  });

  it('exposes the worker URL for other checks', () => {
    expect(apacheWorkerUrl({ backend: { socketPath: '/a' }, workerName: 'x' })).toBe(
      'unix:/a|fcgi://x',
    );
  });

  it.each<[string, unknown, string]>([
    [
      'a quote in the socket path',
      { backend: { socketPath: '/run/a".sock' } },
      'backend.socketPath',
    ],
    ['a > in the socket path', { backend: { socketPath: '/run/a>.sock' } }, 'backend.socketPath'],
    ['a | in the socket path', { backend: { socketPath: '/run/a|b' } }, 'backend.socketPath'],
    ['a ? in the socket path', { backend: { socketPath: '/run/a?b' } }, 'backend.socketPath'],
    ['a # in the socket path', { backend: { socketPath: '/run/a#b' } }, 'backend.socketPath'],
    ['a % in the socket path', { backend: { socketPath: '/run/%61' } }, 'backend.socketPath'],
    ['a space in the socket path', { backend: { socketPath: '/run/a b' } }, 'backend.socketPath'],
    [
      'a leading // in the socket path',
      { backend: { socketPath: '//run/a' } },
      'backend.socketPath',
    ],
    ['a Define reference', { backend: { socketPath: '/run/${X}.sock' } }, 'backend.socketPath'],
    ['a newline in the regex', { ...UNIX, filesMatch: '\\.php$\n</FilesMatch>' }, 'filesMatch'],
    ['a trailing backslash', { ...UNIX, filesMatch: '\\.php\\' }, 'filesMatch'],
    ['a bad worker name', { ...UNIX, workerName: 'a b' }, 'workerName'],
    ['a bad flushpackets', { ...UNIX, flushPackets: 'yes' }, 'flushPackets'],
    ['a zero timeout', { ...UNIX, proxyTimeoutSeconds: 0 }, 'proxyTimeoutSeconds'],
    [
      'ThreadsPerChild above ThreadLimit',
      { ...UNIX, mpmEvent: { threadsPerChild: 65 } },
      'mpmEvent.threadsPerChild',
    ],
    [
      'MaxRequestWorkers below ThreadsPerChild',
      { ...UNIX, mpmEvent: { threadsPerChild: 25, maxRequestWorkers: 10 } },
      'mpmEvent.maxRequestWorkers',
    ],
    [
      'MaxRequestWorkers not a multiple',
      { ...UNIX, mpmEvent: { threadsPerChild: 25, maxRequestWorkers: 90 } },
      'mpmEvent.maxRequestWorkers',
    ],
    [
      'MaxRequestWorkers above ServerLimit x ThreadsPerChild',
      { ...UNIX, mpmEvent: { serverLimit: 4, threadsPerChild: 25, maxRequestWorkers: 200 } },
      'mpmEvent.maxRequestWorkers',
    ],
    [
      'MaxRequestWorkers above the default ServerLimit',
      { ...UNIX, mpmEvent: { maxRequestWorkers: 425 } },
      'mpmEvent.maxRequestWorkers',
    ],
    [
      'MaxSpareThreads too close to MinSpareThreads',
      { ...UNIX, mpmEvent: { minSpareThreads: 75, maxSpareThreads: 80 } },
      'mpmEvent.maxSpareThreads',
    ],
    [
      'ServerLimit above the hard ceiling',
      { ...UNIX, mpmEvent: { serverLimit: 20001 } },
      'mpmEvent.serverLimit',
    ],
  ])('rejects %s', (_, settings, option) => {
    let error: unknown;
    try {
      renderApacheProxyFcgi(settings as ApacheProxyFcgiInput);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
    expect((error as FpmkitInvalidOptionError).option).toBe(option);
  });

  it('accepts MaxRequestWorkers equal to ServerLimit x ThreadsPerChild', () => {
    const r = renderApacheProxyFcgi({
      ...UNIX,
      mpmEvent: { serverLimit: 16, threadsPerChild: 25, maxRequestWorkers: 400 },
    });
    expect(r.mpm).toContain('MaxRequestWorkers 400');
  });
});

describe('quoteApacheArgument', () => {
  it('doubles backslashes and escapes quotes, as ap_getword_conf reads them back', () => {
    expect(quoteApacheArgument('^t\\\\.php$')).toBe('"^t\\\\\\\\.php$"');
    expect(quoteApacheArgument('a"b\\')).toBe('"a\\"b\\\\"');
    expect(
      renderApacheProxyFcgi({ backend: { socketPath: '/run/a.sock' }, filesMatch: '^a"b$' })
        .handler,
    ).toContain('<FilesMatch "^a\\"b$">');
  });
});
