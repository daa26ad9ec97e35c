import { parse as iniParse } from 'ini';
import { checkFpmConfig } from '../src/fpm/index.js';
import { checkLoad, compare, type Measurement, report } from './lib.js';

/**
 * Parse + check of configurations with 25,000, 50,000 and 100,000 pools, beside `ini.parse` of
 * the same text (a generic INI reader doing none of FPM's work). Both should grow linearly:
 * twice the pools, about twice the time. A hosting panel's pool.d can hold thousands of pools;
 * these sizes show that nothing compares every pool with every other.
 */
const SIZES = [25_000, 50_000, 100_000];

function configWith(pools: number): string {
  const lines = [
    '[global]',
    'error_log = /var/log/php8.2-fpm.log',
    'process_control_timeout = 30s',
    '',
  ];
  for (let i = 0; i < pools; i++) {
    lines.push(
      `[site${i}]`,
      'user = www-data',
      'group = www-data',
      `listen = /run/php/site${i}.sock`,
      'listen.owner = www-data',
      'listen.mode = 0660',
      'pm = dynamic',
      'pm.max_children = 20',
      'pm.start_servers = 4',
      'pm.min_spare_servers = 2',
      'pm.max_spare_servers = 6',
      'pm.max_requests = 500',
      'request_terminate_timeout = 60s',
      'php_admin_value[memory_limit] = 256M',
      'php_value[error_reporting] = E_ALL & ~E_DEPRECATED',
      'env[PATH] = /usr/local/bin:/usr/bin:/bin',
      '',
    );
  }
  return lines.join('\n');
}

checkLoad();
const bySize: { pools: number; results: Measurement[] }[] = [];
for (const pools of SIZES) {
  const text = configWith(pools);
  const check = checkFpmConfig(text);
  if (!check.ok) throw new Error('the benchmark config must be valid');
  console.log(`\ninput: ${pools} pools, ${(text.length / 1048576).toFixed(1)} MiB`);
  const results = await compare(
    [
      { name: 'ini.parse (generic INI, no FPM rules)', role: 'floor', run: () => iniParse(text) },
      { name: 'checkFpmConfig (parse + check)', role: 'fpmkit', run: () => checkFpmConfig(text) },
    ],
    { rounds: 3, warmup: 1 },
  );
  report(`FPM configuration, ${pools} pools`, results);
  bySize.push({ pools, results });
}

console.log('\nGrowth (time at this size / time at the size before; 2.00 is linear):');
for (let i = 1; i < bySize.length; i++) {
  const prev = bySize[i - 1]!;
  const cur = bySize[i]!;
  const growth = (role: Measurement['role']) => {
    const a = prev.results.find((r) => r.role === role)!;
    const b = cur.results.find((r) => r.role === role)!;
    return (b.medianMs / a.medianMs).toFixed(2);
  };
  console.log(
    `  ${prev.pools} -> ${cur.pools} pools: checkFpmConfig x${growth('fpmkit')}, ini.parse x${growth('floor')}`,
  );
}
const perPool = bySize.map(({ pools, results }) => {
  const ours = results.find((r) => r.role === 'fpmkit')!;
  return `${pools}: ${((ours.medianMs * 1000) / pools).toFixed(1)} us/pool`;
});
console.log(`checkFpmConfig per pool: ${perPool.join(', ')}`);
