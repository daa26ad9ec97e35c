/**
 * A plan as files: the FPM pool, a sysctl.d file, a systemd drop-in, the nginx upstream and
 * location, and a php.ini fragment, each with the path (relative to `/etc`) it is meant for.
 * Rendering goes through each area's own renderer, so the text is what those renderers
 * guarantee (`php-fpm -t`, `sysctl -p`, `nginx -t`, `php -c` accept it).
 */
import { FpmkitInvalidOptionError } from '../errors.js';
import { renderFpmConfig } from '../fpm/render.js';
import type { GlobalConfig } from '../fpm/schema.js';
import {
  assertServiceUnitName,
  type KernelSettings,
  renderSysctlConf,
  renderSystemdDropIn,
} from '../kernel/settings.js';
import { formatPhpSize } from '../units.js';
import { renderNginxFastCGI } from '../web/nginx.js';
import { type PhpIniSettings, renderPhpIni } from '../web/php-ini.js';
import type { HostPlan, Plan } from './plan.js';

/** What a rendered file is for. */
export type PlanFileKind =
  | 'fpm-pool'
  | 'sysctl'
  | 'systemd-drop-in'
  | 'nginx-upstream'
  | 'nginx-location'
  | 'php-ini';

/** One file of a rendered plan. */
export interface PlanFile {
  kind: PlanFileKind;
  /** Suggested path relative to `/etc`, e.g. `php/8.2/fpm/pool.d/shop.conf`. */
  path: string;
  /** One line saying where the file goes and how it takes effect. */
  description: string;
  /** The file's text, ending with a newline. */
  content: string;
}

/** Options of {@link renderPlan}. */
export interface RenderPlanOptions {
  /** PHP version in the Debian paths (`php/VERSION/fpm/...`) and the unit name. @default '8.2' */
  phpVersion?: string | undefined;
  /**
   * systemd service unit of FPM, for the drop-in's directory and text: a unit name ending in
   * `.service` (`serviceUnitNameProblem` says why one is refused). @default `php${phpVersion}-fpm.service`
   */
  unit?: string | undefined;
}

/** The files of one pool: pool file, nginx upstream and location. */
function poolFiles(
  plan: Plan,
  global: GlobalConfig,
  version: string,
): [PlanFile, PlanFile, PlanFile] {
  const name = plan.pool.name;
  const nginx = renderNginxFastCGI(plan.nginx);
  return [
    {
      kind: 'fpm-pool',
      path: `php/${version}/fpm/pool.d/${name}.conf`,
      description: `FPM pool [${name}] with the [global] setting it needs; reload FPM to apply`,
      content: renderFpmConfig({ global, pools: [plan.pool] }),
    },
    {
      kind: 'nginx-upstream',
      path: `nginx/conf.d/${name}-fpm.conf`,
      description: `nginx upstream for [${name}], read in the http context`,
      content: `# nginx upstream of FPM pool [${name}], written by fpmkit\n${nginx.http}`,
    },
    {
      kind: 'nginx-location',
      path: `nginx/snippets/${name}-fpm.conf`,
      description: `PHP location for [${name}]: add \`include snippets/${name}-fpm.conf;\` to the server block`,
      content: `# PHP location for FPM pool [${name}], written by fpmkit; include it in a server block\n${nginx.server}`,
    },
  ];
}

function hostFiles(
  kernel: KernelSettings,
  php: PhpIniSettings,
  sysctlName: string,
  version: string,
  unit: string,
): PlanFile[] {
  const sysctlPath = `sysctl.d/${sysctlName}`;
  return [
    {
      kind: 'sysctl',
      path: sysctlPath,
      description: `kernel settings; apply with sysctl -p /etc/${sysctlPath}`,
      content: renderSysctlConf(kernel, { path: `/etc/${sysctlPath}` }),
    },
    {
      kind: 'systemd-drop-in',
      path: `systemd/system/${unit}.d/fpmkit.conf`,
      description: `limits of ${unit}; apply with systemctl daemon-reload and a restart`,
      content: renderSystemdDropIn(kernel, { unit }),
    },
    {
      kind: 'php-ini',
      path: `php/${version}/fpm/conf.d/60-fpmkit.ini`,
      description: 'php.ini settings for FPM; reload FPM to apply',
      content: `; php.ini settings for PHP-FPM, written by fpmkit\n${renderPhpIni(php)}`,
    },
  ];
}

function versionAndUnit(options: RenderPlanOptions): { version: string; unit: string } {
  const version = options.phpVersion ?? '8.2';
  if (!/^\d+\.\d+$/.test(version)) {
    throw new FpmkitInvalidOptionError('phpVersion', 'must be MAJOR.MINOR, e.g. 8.2');
  }
  const unit = options.unit ?? `php${version}-fpm.service`;
  // The unit names a directory and goes into the drop-in's text: checked before either is made.
  assertServiceUnitName('unit', unit);
  return { version, unit };
}

/**
 * Renders a plan's files: the FPM pool (with its `[global]` part), a sysctl.d file, a systemd
 * drop-in, the nginx upstream (http context) and PHP location (server context), and a php.ini
 * fragment. Paths are suggestions relative to `/etc`, in Debian's layout. Throws
 * `FpmkitInvalidOptionError` when a part of the plan was edited into something its renderer
 * refuses.
 */
export function renderPlan(plan: Plan, options: RenderPlanOptions = {}): PlanFile[] {
  const { version, unit } = versionAndUnit(options);
  const [pool, upstream, location] = poolFiles(plan, plan.global, version);
  const [sysctl, dropIn, php] = hostFiles(
    plan.kernel,
    plan.php,
    `60-fpmkit-${plan.pool.name}.conf`,
    version,
    unit,
  );
  return [pool, sysctl!, dropIn!, upstream, location, php!];
}

/**
 * A host plan's pool with its own `memory_limit` and `max_execution_time` as `php_admin_value`:
 * the shared php.ini carries the largest of all pools, and without these a small pool's children
 * could each grow to the big pool's limit, beyond the memory its `pm.max_children` was sized
 * for. Entries the pool already has win (they were set on purpose).
 */
function withOwnPhpLimits(plan: Plan): Plan {
  const own: Record<string, string> = {};
  const memory = plan.php.memoryLimitBytes;
  if (memory !== undefined) own.memory_limit = formatPhpSize(memory);
  const time = plan.php.maxExecutionTimeSeconds;
  // 0 is PHP's "no limit".
  if (time !== undefined) own.max_execution_time = time === 'unlimited' ? '0' : String(time);
  return { ...plan, pool: { ...plan.pool, phpAdminValue: { ...own, ...plan.pool.phpAdminValue } } };
}

/** The php.ini of a host: one for all pools, so the longest time and the largest limit win. */
function hostPhp(pools: readonly Plan[]): PhpIniSettings {
  const out: PhpIniSettings = {};
  for (const p of pools) {
    const t = p.php.maxExecutionTimeSeconds;
    if (t !== undefined) {
      const cur = out.maxExecutionTimeSeconds;
      if (t === 'unlimited' || cur === 'unlimited') out.maxExecutionTimeSeconds = 'unlimited';
      else out.maxExecutionTimeSeconds = Math.max(cur ?? 0, t);
    }
    const m = p.php.memoryLimitBytes;
    if (m !== undefined) {
      const cur = out.memoryLimitBytes;
      if (m === 'unlimited' || cur === 'unlimited') out.memoryLimitBytes = 'unlimited';
      else out.memoryLimitBytes = Math.max(cur ?? 0, m);
    }
  }
  return out;
}

/**
 * Renders a host plan: one pool file and one nginx upstream and location per pool, then one
 * sysctl.d file, one systemd drop-in and one php.ini fragment for the host. php.ini is shared
 * by every pool, so it takes the longest `max_execution_time` and the largest `memory_limit`;
 * each pool file sets the pool's own values with `php_admin_value[memory_limit]` and
 * `php_admin_value[max_execution_time]`, which FPM applies over php.ini and scripts cannot
 * raise with `ini_set`.
 */
export function renderHostPlan(plan: HostPlan, options: RenderPlanOptions = {}): PlanFile[] {
  const { version, unit } = versionAndUnit(options);
  const files: PlanFile[] = [];
  const nginx: PlanFile[] = [];
  for (const p of plan.pools) {
    const [pool, upstream, location] = poolFiles(withOwnPhpLimits(p), plan.global, version);
    files.push(pool);
    nginx.push(upstream, location);
  }
  const [sysctl, dropIn, php] = hostFiles(
    plan.kernel,
    hostPhp(plan.pools),
    '60-fpmkit.conf',
    version,
    unit,
  );
  return [...files, sysctl!, dropIn!, ...nginx, php!];
}
