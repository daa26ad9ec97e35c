import { FpmkitFpmRefusedError, FpmkitInvalidOptionError } from '../errors.js';
import type { Finding } from '../findings.js';
import { type OptionSchema, parseOptions } from '../options.js';
import { assertSafeText } from '../text-safety.js';
import { formatFpmTime, formatOctalMode } from '../units.js';
import { checkFpmConfig } from './check.js';
import { FPM_GLOBAL_DIRECTIVES, FPM_POOL_DIRECTIVES, type FpmDirective } from './directives.js';
import { arrayKeyConstant } from './ini-line.js';
import { phpConstantValue } from './php-constants.js';
import {
  type FpmConfig,
  type FpmConfigInput,
  fpmConfigSchema,
  type GlobalConfig,
  type GlobalConfigInput,
  globalSchema,
  LISTEN_MODE_TEXT_RE,
  type PoolConfig,
  type PoolConfigInput,
  poolSchema,
} from './schema.js';

/** Options of {@link renderFpmConfig}. */
export interface RenderFpmOptions {
  /**
   * Let string values contain `$pool`, which FPM replaces with the pool name when it reads the
   * file (useful in templates such as `listen = /run/php/$pool.sock`). Such a file does not
   * parse back to the same text value. @default false
   */
  allowPoolVariable?: boolean | undefined;
  /**
   * `renderFpmConfig` only: render a model that `php-fpm -t` would refuse (no pool, spare
   * servers above `pm.max_children`, a pool without `listen` or `pm`) instead of throwing
   * `FpmkitFpmRefusedError`, e.g. a file that other included files complete. @default false
   */
  allowRefused?: boolean | undefined;
}

/** Pool names, array keys: a conservative set FPM's INI parser reads back unchanged. */
const POOL_NAME_RE = /^[A-Za-z0-9_.@+-]+$/;
const INI_KEY_RE = /^[A-Za-z0-9_.-]+$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function reject(option: string, rule: string): never {
  throw new FpmkitInvalidOptionError(option, rule);
}

/** The lookups of FPM's INI scanner that matter to a rendered key: constants only. */
const KEY_SCAN = { variable: () => '', constant: (name: string) => phpConstantValue(name) };

/**
 * A string value in double quotes, so nothing in it is read as INI syntax: backslash, quote
 * and dollar are escaped. Line breaks, NUL and other control characters (tab aside, which FPM
 * keeps inside quotes), Unicode line separators and unpaired surrogates are refused.
 */
function quote(option: string, value: string, options: RenderFpmOptions): string {
  assertSafeText(option, value, { allowTab: true });
  if (!options.allowPoolVariable && value.includes('$pool')) {
    reject(
      option,
      "FPM replaces '$pool' with the pool name; pass allowPoolVariable to render it on purpose",
    );
  }
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function formatValue(
  option: string,
  directive: FpmDirective,
  value: unknown,
  options: RenderFpmOptions,
): string {
  switch (directive.type) {
    case 'integer':
      return String(value);
    case 'time':
      return formatFpmTime(value as number);
    case 'boolean':
      return value ? 'yes' : 'no';
    case 'log_level':
    case 'syslog_facility':
    case 'pm':
      return String(value);
    case 'rlimit_core':
      return String(value);
    case 'octal':
      return formatOctalMode(value as number);
    case 'csv': {
      const list = value as string[];
      for (const item of list) {
        if (item.includes(',')) reject(option, 'a list item cannot contain a comma');
      }
      // FPM reads an empty list as unset.
      if (list.join(',') === '')
        reject(option, 'a list cannot be empty; leave the field out instead');
      return quote(option, list.join(','), options);
    }
    case 'extensions': {
      const list = value as string[];
      for (const item of list) {
        if (item === '' || /[ \t]/.test(item))
          reject(option, 'an extension must be non-empty and contain no blanks');
      }
      return quote(option, list.join(' '), options);
    }
    default:
      return quote(option, value as string, options);
  }
}

function getPath(source: unknown, path: readonly string[]): unknown {
  let node = source as Record<string, unknown> | undefined;
  for (const key of path) node = node?.[key] as Record<string, unknown> | undefined;
  return node;
}

function scalarLines(
  source: GlobalConfig | PoolConfig,
  table: readonly FpmDirective[],
  prefix: string,
  options: RenderFpmOptions,
  written: Readonly<Record<string, string>> = {},
): string[] {
  const lines: string[] = [];
  for (const directive of table) {
    const value = getPath(source, directive.path);
    if (value === undefined) continue;
    const text =
      written[directive.name] ??
      formatValue(`${prefix}.${directive.path.join('.')}`, directive, value, options);
    lines.push(`${directive.name} = ${text}`);
  }
  return lines;
}

/**
 * Values a pool input gives as text that the model holds as numbers, by directive: a
 * `listen.mode` of `'660'` is written `660`, as given, which is what `php-fpm -tt` prints.
 */
function writtenText(pool: unknown): Record<string, string> {
  const mode = (pool as { listen?: { mode?: unknown } } | null)?.listen?.mode;
  return typeof mode === 'string' && LISTEN_MODE_TEXT_RE.test(mode) ? { 'listen.mode': mode } : {};
}

function validated<T>(schema: OptionSchema<T>, input: unknown, where: string): T {
  return parseOptions(schema, input, where === '' ? undefined : where, '');
}

/** Renders the `[global]` section. Directives come in FPM's own order; unset ones are left out. */
export function renderGlobal(
  global: GlobalConfig | GlobalConfigInput = {},
  options: RenderFpmOptions = {},
): string {
  const g = validated<GlobalConfig>(globalSchema, global, 'global');
  const lines = scalarLines(g, FPM_GLOBAL_DIRECTIVES, 'global', {
    ...options,
    allowPoolVariable: false,
  });
  return `[global]\n${lines.map((l) => `${l}\n`).join('')}`;
}

function renderPoolModel(
  pool: PoolConfig,
  where: string,
  options: RenderFpmOptions,
  written: Readonly<Record<string, string>> = {},
): string {
  if (!POOL_NAME_RE.test(pool.name) || pool.name.toLowerCase() === 'global') {
    reject(`${where}.name`, "a pool name is letters, digits and _ . @ + - only, and not 'global'");
  }
  const lines = scalarLines(pool, FPM_POOL_DIRECTIVES, where, options, written);
  const arrays: [string, Record<string, string | boolean>, RegExp][] = [
    ['env', pool.env, ENV_KEY_RE],
    ['php_value', pool.phpValue, INI_KEY_RE],
    ['php_admin_value', pool.phpAdminValue, INI_KEY_RE],
    ['php_flag', pool.phpFlag, INI_KEY_RE],
    ['php_admin_flag', pool.phpAdminFlag, INI_KEY_RE],
  ];
  for (const [name, record, keyRe] of arrays) {
    for (const [key, value] of Object.entries(record)) {
      const option = `${where}.${name}[${key}]`;
      if (!keyRe.test(key)) reject(option, `key must match ${keyRe}`);
      // FPM's INI scanner replaces a key that names a PHP constant (`[E_ALL]` is `[32767]`,
      // `[null]` is empty and refused).
      const replaced = /^[A-Za-z_]\w*$/.test(key) ? arrayKeyConstant(key, KEY_SCAN) : undefined;
      if (replaced !== undefined && replaced !== key) {
        reject(
          option,
          `FPM reads the key as the PHP constant ${key} and puts its value ${JSON.stringify(replaced)} in its place`,
        );
      }
      if (name === 'env' && value === '') reject(option, 'FPM refuses an empty env value');
      if (name === 'env' && typeof value === 'string' && value.startsWith('$')) {
        // fpm_env_conf_wp (sapi/fpm/fpm/fpm_env.c) swaps such a value for the master's
        // variable of that name, whatever the quoting: there is no way to write it literally.
        reject(
          option,
          "FPM replaces an env value starting with '$' by the master's environment variable of that name",
        );
      }
      const sibling =
        name === 'php_flag'
          ? pool.phpValue
          : name === 'php_admin_flag'
            ? pool.phpAdminValue
            : undefined;
      if (sibling && Object.hasOwn(sibling, key)) {
        reject(option, `the key is also set as a value; FPM would apply only the first`);
      }
      lines.push(
        `${name}[${key}] = ${typeof value === 'boolean' ? (value ? 'on' : 'off') : quote(option, value, options)}`,
      );
    }
  }
  for (const [i, path] of pool.access.suppressPaths.entries()) {
    const option = `${where}.access.suppressPaths[${i}]`;
    if (!path.startsWith('/')) reject(option, "FPM requires a path starting with '/'");
    lines.push(`access.suppress_path[] = ${quote(option, path, options)}`);
  }
  return `[${pool.name}]\n${lines.map((l) => `${l}\n`).join('')}`;
}

/** Renders one pool section: `[name]`, its directives in FPM's order, then its arrays. */
export function renderPool(
  pool: PoolConfig | PoolConfigInput,
  options: RenderFpmOptions = {},
): string {
  return renderPoolModel(
    validated<PoolConfig>(poolSchema, pool, 'pool'),
    'pool',
    options,
    writtenText(pool),
  );
}

/**
 * The field of the model a refusal names: `pools[1].pm.maxSpareServers`, `global.logLimit`,
 * `pools` when there is no pool.
 */
function refusedField(model: FpmConfig, refusal: Finding): string {
  if (refusal.code === 'fpm.no-pool') return 'pools';
  const index =
    refusal.pool === undefined
      ? -1
      : model.pools.findIndex((p) => p.name.toLowerCase() === refusal.pool!.toLowerCase());
  const where = index < 0 ? (refusal.pool === undefined ? 'global' : 'pools') : `pools[${index}]`;
  const table = where === 'global' ? FPM_GLOBAL_DIRECTIVES : FPM_POOL_DIRECTIVES;
  const directive = table.find((d) => d.name === refusal.directive);
  return directive ? `${where}.${directive.path.join('.')}` : where;
}

/**
 * Renders a whole configuration that `php-fpm -t` accepts and that `parseFpmConfig` reads back
 * to the same model. Any value that could add a line, a section or a directive is refused with
 * `FpmkitInvalidOptionError` naming it, and so is an unknown key (`pools[0].pmm`). A model FPM
 * would refuse (as `checkFpmConfig` decides for php-fpm run by a non-root user on a host where
 * every user, directory and log file exists) throws `FpmkitFpmRefusedError`, a subclass naming
 * the first refused field and listing every refusal, unless `allowRefused` is set.
 * `renderPool` and `renderGlobal` write one section and do not decide this: a section alone is
 * not a configuration.
 */
export function renderFpmConfig(
  config: FpmConfig | FpmConfigInput,
  options: RenderFpmOptions = {},
): string {
  const model = validated<FpmConfig>(fpmConfigSchema, config, '');
  const seen = new Set<string>();
  const sections = [renderGlobal(model.global, options)];
  for (const [i, pool] of model.pools.entries()) {
    const lower = pool.name.toLowerCase();
    if (seen.has(lower))
      reject(
        `pools[${i}].name`,
        'pool names must be unique (FPM merges sections whose names differ only in case)',
      );
    seen.add(lower);
    const given = (config as { pools?: unknown[] }).pools?.[i];
    sections.push(renderPoolModel(pool, `pools[${i}]`, options, writtenText(given)));
  }
  if (!options.allowRefused) {
    const refusals = checkFpmConfig(model).findings.filter((f) => f.severity === 'error');
    if (refusals.length > 0)
      throw new FpmkitFpmRefusedError(refusedField(model, refusals[0]!), refusals);
  }
  return sections.join('\n');
}
