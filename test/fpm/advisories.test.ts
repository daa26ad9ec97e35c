import { describe, expect, it } from 'vitest';
import { checkFpmConfig } from '../../src/fpm/index.js';

/** A pool php-fpm accepts with no advisory: every row below adds one line to it. */
const BASE = `[global]
process_control_timeout = 30s
[www]
user = www-data
listen = /run/php/www.sock
pm = static
pm.max_children = 4
pm.max_requests = 500
`;

const codes = (text: string, options = {}) => {
  const result = checkFpmConfig(text, options);
  expect(result.ok).toBe(true);
  return result.findings.map((f) => f.code);
};

describe('checkFpmConfig advisories: each fires on its case and stays quiet on a near miss', () => {
  it('has a quiet baseline', () => {
    expect(codes(BASE)).toEqual([]);
  });

  it.each([
    [
      'fpm.process-control-timeout-zero',
      BASE.replace('process_control_timeout = 30s', 'process_control_timeout = 0'),
      BASE,
    ],
    ['fpm.process-control-timeout-zero', BASE.replace('process_control_timeout = 30s\n', ''), BASE],
    [
      'fpm.negative-time',
      `${BASE}request_terminate_timeout = -5\n`,
      `${BASE}request_terminate_timeout = 5\n`,
    ],
    [
      'fpm.slowlog-without-terminate',
      `${BASE}slowlog = /var/log/slow.log\nrequest_slowlog_timeout = 5s\n`,
      `${BASE}slowlog = /var/log/slow.log\nrequest_slowlog_timeout = 5s\nrequest_terminate_timeout = 60s\n`,
    ],
    ['fpm.max-requests-zero', BASE.replace('pm.max_requests = 500', 'pm.max_requests = 0'), BASE],
    ['fpm.user-root', BASE.replace('user = www-data', 'user = root'), BASE],
    [
      'fpm.allowed-clients-unix',
      `${BASE}listen.allowed_clients = 127.0.0.1\n`,
      `${BASE.replace('listen = /run/php/www.sock', 'listen = 127.0.0.1:9000')}listen.allowed_clients = 127.0.0.1\n`,
    ],
    [
      'fpm.allowed-clients-invalid',
      `${BASE.replace('listen = /run/php/www.sock', 'listen = 127.0.0.1:9000')}listen.allowed_clients = 127.0.0.1, 10.0.0.0/8\n`,
      `${BASE.replace('listen = /run/php/www.sock', 'listen = 127.0.0.1:9000')}listen.allowed_clients = 127.0.0.1,::1\n`,
    ],
    [
      'fpm.listen-owner-ignored',
      `${BASE}listen.acl_users = www-data\nlisten.owner = www-data\n`,
      `${BASE}listen.acl_users = www-data\n`,
    ],
    [
      'fpm.status-listen-without-path',
      `${BASE}pm.status_listen = /run/php/www-status.sock\n`,
      `${BASE}pm.status_listen = /run/php/www-status.sock\npm.status_path = /status\n`,
    ],
    [
      'fpm.pool-name-truncated',
      BASE.replace('[www]', `[${'a'.repeat(32)}]`),
      BASE.replace('[www]', `[${'a'.repeat(31)}]`),
    ],
    ['fpm.listen-mode-not-octal', `${BASE}listen.mode = 0899\n`, `${BASE}listen.mode = 0660\n`],
  ])('%s', (code, fires, quiet) => {
    expect(codes(fires)).toContain(code);
    expect(codes(quiet)).not.toContain(code);
  });

  it('fpm.backlog-above-somaxconn, only when somaxconn is given and exceeded', () => {
    const text = `${BASE}listen.backlog = 511\n`;
    const fired = checkFpmConfig(text, { somaxconn: 128 }).findings.find(
      (f) => f.code === 'fpm.backlog-above-somaxconn',
    );
    expect(fired).toMatchObject({
      severity: 'warning',
      pool: 'www',
      evidence: { backlog: 511, somaxconn: 128 },
      line: 9,
    });
    expect(codes(text, { somaxconn: 4096 })).not.toContain('fpm.backlog-above-somaxconn');
    expect(codes(text)).not.toContain('fpm.backlog-above-somaxconn');
  });
});
