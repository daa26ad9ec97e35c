import { parse as iniParse } from 'ini';
import { checkFpmConfig, parseFpmConfig } from '../src/fpm/index.js';
import { checkLoad, compare, report } from './lib.js';

/**
 * Parse + check of a 200-pool configuration, beside `ini.parse` of the same text (the floor: a
 * generic INI reader that does none of FPM's work) and fpmkit's parse alone.
 */
const POOLS = 200;
const lines = [
  '[global]',
  'pid = /run/php/php8.2-fpm.pid',
  'error_log = /var/log/php8.2-fpm.log',
  'process_control_timeout = 30s',
  '',
];
for (let i = 0; i < POOLS; i++) {
  lines.push(
    `[site${i}]`,
    'user = www-data',
    'group = www-data',
    `listen = /run/php/site${i}.sock`,
    'listen.owner = www-data',
    'listen.group = www-data',
    'listen.mode = 0660',
    'listen.backlog = 511',
    'pm = dynamic',
    'pm.max_children = 20',
    'pm.start_servers = 4',
    'pm.min_spare_servers = 2',
    'pm.max_spare_servers = 6',
    'pm.max_requests = 500',
    'pm.status_path = /status',
    'ping.path = /ping',
    'request_terminate_timeout = 60s',
    'request_slowlog_timeout = 5s',
    `slowlog = /var/log/php-fpm/$pool.slow.log`,
    'catch_workers_output = yes',
    'php_admin_value[memory_limit] = 256M',
    'php_admin_value[error_log] = /var/log/php-fpm/$pool.error.log',
    'php_admin_flag[log_errors] = on',
    'php_value[error_reporting] = E_ALL & ~E_DEPRECATED',
    'env[PATH] = /usr/local/bin:/usr/bin:/bin',
    '',
  );
}
const text = lines.join('\n');

checkLoad();
console.log(`input: ${POOLS} pools, ${lines.length} lines, ${(text.length / 1024).toFixed(0)} KiB`);
const check = checkFpmConfig(text);
if (!check.ok || check.findings.some((f) => f.severity === 'error'))
  throw new Error('the benchmark config must be valid');

const results = await compare(
  [
    { name: 'ini.parse (generic INI, no FPM rules)', role: 'floor', run: () => iniParse(text) },
    { name: 'parseFpmConfig + checkFpmConfig', role: 'fpmkit', run: () => checkFpmConfig(text) },
    { name: 'parseFpmConfig alone', role: 'peer', run: () => parseFpmConfig(text) },
  ],
  { rounds: 25, warmup: 5 },
);
report('FPM configuration, 200 pools (target: parse + check within 3x of the floor)', results);
const floor = results.find((r) => r.role === 'floor')!;
const ours = results.find((r) => r.role === 'fpmkit')!;
const ratio = ours.medianMs / floor.medianMs;
console.log(
  `parse + check / ini.parse = ${ratio.toFixed(2)}x ${ratio <= 3 ? '(within 3x)' : '(ABOVE 3x)'}`,
);
