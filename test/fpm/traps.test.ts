import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FastCGIClient } from '../../src/fastcgi/index.js';
import { checkFpmConfig } from '../../src/fpm/index.js';
import { phpFpmBinary } from '../support/integration.js';
import { phpFpmTest, type StartedFpm, startPhpFpm } from '../support/php-fpm.js';

/**
 * The traps docs/fpm-config.md lists: values FPM accepts but reads otherwise than they look.
 * `checkFpmConfig` warns about each, and says what FPM makes of it; the real `php-fpm8.2 -tt`
 * prints the same value.
 */
const fpm = phpFpmBinary();

const BASE = `[global]
error_log = /dev/null
process_control_timeout = 30s
[www]
listen = /run/php/www.sock
pm = static
pm.max_children = 2
pm.max_requests = 500
`;

const findings = (text: string) => checkFpmConfig(text, { path: 'www.conf' }).findings;

/** Trap rows: the line, the finding it gives, what FPM reads (as -tt prints it), a near miss. */
const TRAPS = [
  {
    line: 'request_terminate_timeout = 5ms',
    code: 'fpm.time-misread',
    tt: 'request_terminate_timeout = 5s',
    evidence: { seconds: 5 },
    quiet: 'request_terminate_timeout = 5s',
  },
  {
    line: 'request_slowlog_timeout = 1h30m',
    code: 'fpm.time-misread',
    tt: 'request_slowlog_timeout = 60s',
    evidence: { seconds: 60 },
    quiet: 'request_slowlog_timeout = 90m',
    extra: 'slowlog = /tmp/slow.log\nrequest_terminate_timeout = 2h\n',
  },
  {
    line: 'pm.process_idle_timeout = x5',
    code: 'fpm.time-misread',
    tt: 'pm.process_idle_timeout = 0',
    evidence: { seconds: 0 },
    quiet: 'pm.process_idle_timeout = 5',
  },
  {
    line: 'ping.response = yes',
    code: 'fpm.boolean-word',
    tt: 'ping.response = 1',
    evidence: { word: 'yes', value: '1' },
    quiet: 'ping.response = "yes"',
    extra: 'ping.path = /ping\n',
  },
  {
    line: 'access.format = Off',
    code: 'fpm.boolean-word',
    tt: 'access.format = ',
    evidence: { word: 'Off', value: '' },
    quiet: 'access.format = "Off"',
  },
  {
    line: 'security.limit_extensions = none',
    code: 'fpm.any-extension-executed',
    tt: 'security.limit_extensions = ',
    evidence: undefined,
    quiet: 'security.limit_extensions = .php',
  },
] as const;

describe('checkFpmConfig warns about values FPM reads otherwise than they look', () => {
  it.each(TRAPS)('$line', (row) => {
    const extra = 'extra' in row ? row.extra : '';
    const fired = findings(`${BASE}${extra}${row.line}\n`).filter((f) => f.code === row.code);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ severity: 'warning', pool: 'www', file: 'www.conf' });
    expect(fired[0]!.line).toBe(BASE.split('\n').length + extra.split('\n').length - 1);
    if (row.evidence) expect(fired[0]!.evidence).toMatchObject(row.evidence);
    const quiet = findings(`${BASE}${extra}${row.quiet}\n`).map((f) => f.code);
    expect(quiet).not.toContain(row.code);
  });

  it('warns in [global] too: emergency_restart_interval = 1.5m is 60 s', () => {
    const text = BASE.replace('[www]', 'emergency_restart_interval = 1.5m\n[www]');
    const fired = findings(text).find((f) => f.code === 'fpm.time-misread');
    expect(fired).toMatchObject({ directive: 'emergency_restart_interval', line: 4 });
    expect(fired?.evidence).toMatchObject({ seconds: 60, value: '1.5m' });
    expect(fired?.message).toContain('read by FPM as 60s');
  });

  it('flags an empty security.limit_extensions from a model too', () => {
    const result = checkFpmConfig({
      pools: [
        {
          name: 'www',
          listen: { address: '/run/php/www.sock' },
          pm: { mode: 'static', maxChildren: 2 },
          securityLimitExtensions: [],
        },
      ],
    });
    expect(result.ok).toBe(true);
    expect(result.findings.map((f) => f.code)).toContain('fpm.any-extension-executed');
  });

  it('a # line no longer hides the other findings of the file', () => {
    const text = `[global]
error_log = /dev/null
[www]
# pool for the shop
listen = /run/php/www.sock
pm = dynamic
pm.max_children = 4
pm.min_spare_servers = 6
pm.max_spare_servers = 8
request_terminate_timeout = 5ms
pm = auto
`;
    const result = checkFpmConfig(text, { path: 'www.conf' });
    expect(result.ok).toBe(false);
    const codes = result.findings.map((f) => f.code);
    // FPM stops at the first; fpmkit reports that one first, then the rest.
    expect(codes[0]).toBe('fpm.null-value');
    expect(codes).toContain('fpm.time-misread');
    expect(codes).toContain('fpm.invalid-value');
    expect(codes).toContain('fpm.spare-above-max-children');
    expect(codes).toContain('fpm.process-control-timeout-zero');
    // `pm = auto` is refused while reading; it is not reported again as a missing `pm`.
    expect(codes).not.toContain('fpm.pm-missing');
  });
});

describe.skipIf(!fpm.available)(`what php-fpm8.2 -tt prints for each trap${fpm.reason}`, () => {
  it.each(TRAPS)('$line', { timeout: 30_000 }, async (row) => {
    const extra = 'extra' in row ? row.extra : '';
    const text = `${BASE}user = nobody\n${extra}${row.line}\n`;
    const real = await phpFpmTest(text, { tt: true });
    expect(real.exitCode, real.output).toBe(0);
    const dumped = real.messages.map((m) => m.replace(/^NOTICE: \t/, ''));
    expect(dumped).toContain(row.tt);
  });

  it('emergency_restart_interval = 1.5m is 60s for FPM', async () => {
    const real = await phpFpmTest(
      BASE.replace('[www]', 'emergency_restart_interval = 1.5m\n[www]\nuser = nobody'),
      { tt: true },
    );
    expect(real.messages).toContain('NOTICE: \temergency_restart_interval = 60s');
  });

  it("a # line: php-fpm -t stops at it with the message fpmkit's first finding gives", async () => {
    const text = `${BASE}user = nobody\n# a comment\npm.min_spare_servers = 9\n`;
    const real = await phpFpmTest(text, { fileName: 'www.conf' });
    expect(real.exitCode).toBe(78);
    const ours = checkFpmConfig(text, { path: 'www.conf' }).findings[0]!;
    const fileLine = real.messages.find((m) => m.startsWith('ERROR: ['))!;
    // FPM names the file by its full path; compare from the line number on.
    expect(fileLine.replace(/\[.*?www\.conf:/, '[www.conf:')).toBe(ours.evidence?.fpmMessage);
  });
});

describe.skipIf(!fpm.available)(
  `security.limit_extensions = none on a running php-fpm8.2${fpm.reason}`,
  () => {
    let started: StartedFpm;
    beforeAll(async () => {
      started = await startPhpFpm({
        pools: [
          { name: 'none', directives: 'security.limit_extensions = none' },
          { name: 'default' },
        ],
        scripts: { 'avatar.jpg': '<?php echo "ran as PHP";' },
      });
    }, 30_000);
    afterAll(async () => {
      await started?.stop();
    });

    const get = async (pool: string) => {
      const client = new FastCGIClient(started.pool(pool).target);
      try {
        const res = await client.request({
          params: {
            SCRIPT_FILENAME: `${started.wwwDir}/avatar.jpg`,
            SCRIPT_NAME: '/avatar.jpg',
            REQUEST_METHOD: 'GET',
          },
        });
        return res.body.toString();
      } finally {
        client.close();
      }
    };

    it('runs an image holding PHP code as PHP; the default refuses it', async () => {
      expect(await get('none')).toBe('ran as PHP');
      expect(await get('default')).toContain('Access denied.');
    });
  },
);
