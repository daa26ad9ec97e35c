import { FpmkitInvalidOptionError } from '../errors.js';
import { formatListen, parseListen } from '../fpm/listen.js';
import type { FpmConfig } from '../fpm/schema.js';
import type { FpmDiscovery } from '../host/discover.js';
import type { PoolTarget } from './sampler.js';

/**
 * The pools of one FPM configuration as collector targets: listen address (relative paths
 * resolved against the pool's `prefix`), `pm.status_path`, `pm.status_listen` and
 * `pm.max_children`. Pools without a `listen` are left out (FPM refuses them).
 */
export function poolTargetsFromConfig(
  config: FpmConfig,
  options: { masterPid?: number | undefined } = {},
): PoolTarget[] {
  const out: PoolTarget[] = [];
  for (const pool of config.pools) {
    const raw = pool.listen.address;
    if (raw === undefined || raw === '') continue;
    const prefix = pool.prefix;
    const listen = formatListen(parseListen(raw, prefix === undefined ? {} : { prefix }));
    const target: PoolTarget = { name: pool.name, listen };
    if (pool.pm.statusPath !== undefined) target.statusPath = pool.pm.statusPath;
    if (pool.pm.statusListen !== undefined) target.statusListen = pool.pm.statusListen;
    if (pool.pm.maxChildren !== undefined) target.maxChildren = pool.pm.maxChildren;
    if (options.masterPid !== undefined) target.masterPid = options.masterPid;
    out.push(target);
  }
  return out;
}

/** The pools of every trusted master `discoverFpm` found whose configuration parsed. */
export function poolTargetsFromDiscovery(discovery: FpmDiscovery): PoolTarget[] {
  const out: PoolTarget[] = [];
  for (const master of discovery.masters) {
    const config = master.config as { config?: FpmConfig } | FpmConfig | undefined;
    const parsed = config && 'config' in config ? config.config : (config as FpmConfig | undefined);
    if (!parsed || !Array.isArray(parsed.pools)) continue;
    out.push(...poolTargetsFromConfig(parsed, { masterPid: master.pid }));
  }
  return out;
}

/**
 * Parses a target written on a command line: `[NAME=]LISTEN[;status=PATH][;max_children=N]`,
 * e.g. `www=/run/php/www.sock` or `api=127.0.0.1:9001;status=/fpm-status;max_children=16`.
 */
export function parsePoolTarget(text: string, option = 'target'): PoolTarget {
  const [head = '', ...extras] = text.split(';');
  const eq = head.indexOf('=');
  const name = eq >= 0 ? head.slice(0, eq) : undefined;
  const listenText = eq >= 0 ? head.slice(eq + 1) : head;
  const listen = formatListen(parseListen(listenText.replace(/^unix:/, ''), { option }));
  const target: PoolTarget = { listen };
  if (name !== undefined) target.name = name;
  for (const extra of extras) {
    const i = extra.indexOf('=');
    const key = extra.slice(0, i);
    const value = extra.slice(i + 1);
    if (key === 'status' && value.startsWith('/')) target.statusPath = value;
    else if (key === 'max_children' && /^[1-9]\d{0,6}$/.test(value))
      target.maxChildren = Number(value);
    else
      throw new FpmkitInvalidOptionError(
        option,
        `'${extra}' is not status=/PATH or max_children=N (a whole number from 1)`,
      );
  }
  return target;
}
