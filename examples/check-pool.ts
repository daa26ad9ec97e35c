/**
 * Checks a pool file the way `php-fpm -t` would, before a panel reloads FPM with it, then fixes
 * what the checks found and renders the corrected pool.
 *
 *   node --import tsx examples/check-pool.ts
 */
import { checkFpmConfig, parseFpmConfig, renderFpmConfig } from 'fpmkit';

const submitted = `
[global]
error_log = /var/log/php8.2-fpm.log

[shop]
user = www-data
group = www-data
listen = /run/php/$pool.sock
listen.owner = www-data
listen.group = www-data
pm = dynamic
pm.max_children = 8
pm.min_spare_servers = 2
pm.max_spare_servers = 10
request_slowlog_timeout = 5s
slowlog = /var/log/php-fpm/$pool.slow.log
`;

const verdict = checkFpmConfig(submitted, { path: 'shop.conf' });
console.log(`php-fpm -t would ${verdict.ok ? 'accept' : 'refuse'} shop.conf`);
for (const finding of verdict.findings) {
  console.log(
    `  ${finding.severity}: ${finding.message}${finding.line ? ` (line ${finding.line})` : ''}`,
  );
}

// Fix the model rather than the text: raise the ceiling, stop slow requests, let reloads finish.
const { config } = parseFpmConfig(submitted, { path: 'shop.conf' });
const shop = config.pools[0]!;
shop.pm.maxChildren = 12;
shop.pm.startServers = 4;
shop.pm.maxRequests = 500;
shop.requestTerminateTimeoutSeconds = 60;
config.global.processControlTimeoutSeconds = 60;

const fixed = renderFpmConfig(config);
const again = checkFpmConfig(fixed, { path: 'shop.conf' });
console.log(
  `after the fix php-fpm -t would ${again.ok ? 'accept' : 'refuse'} it, with ${again.findings.length} finding(s):`,
);
console.log(fixed);
