/**
 * `fpmkit plan` over a pool that already exists: the pool as FPM's configuration on this host
 * has it, what the plan changes in it, and whether a reload or a restart applies the change
 * (the reload table). A pool that exists keeps its `listen` unless `--listen` moves it: every
 * site that points at the socket would break.
 */
import { isFpmkitError } from '../errors.js';
import { type FpmApplyAction, fpmApplyActionForChanges } from '../fpm/reload-table.js';
import { renderPool } from '../fpm/render.js';
import type { PoolConfig } from '../fpm/schema.js';
import { loadFpmConfig } from '../host/fpm-config.js';

/** The pool of that name in the host's configuration, where its `listen` is set. */
export interface ExistingPool {
  configPath: string;
  pool: PoolConfig;
  /** The file and line of its `listen`, when set. */
  listenAt?: { file: string; line: number };
}

/** The configuration `plan` compares with: Debian's path for the PHP version. */
export function defaultFpmConfigPath(phpVersion: string): string {
  return `/etc/php/${phpVersion}/fpm/php-fpm.conf`;
}

/**
 * Reads the configuration at `configPath` and returns the pool `name`, undefined when the file
 * or the pool does not exist, or the reason the file could not be read.
 */
export function readExistingPool(
  configPath: string,
  name: string,
): ExistingPool | undefined | { error: string } {
  try {
    const result = loadFpmConfig(configPath);
    const index = result.config.pools.findIndex((p) => p.name.toLowerCase() === name.toLowerCase());
    if (index < 0) return undefined;
    const at = result.locations.pools[index]?.listen;
    return {
      configPath,
      pool: result.config.pools[index]!,
      ...(at === undefined ? {} : { listenAt: { file: at.file, line: at.line } }),
    };
  } catch (error) {
    if (isFpmkitError(error) && (error as { errno?: string }).errno === 'ENOENT') return undefined;
    return { error: (error as Error)?.message ?? String(error) };
  }
}

/** One directive the plan changes: absent `before` is added, absent `after` is dropped. */
export interface PoolChange {
  directive: string;
  before?: string;
  after?: string;
}

/** `name = value` lines of a rendered pool, by directive (array entries by their key). */
function directivesOf(pool: PoolConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of renderPool(pool).split('\n')) {
    const m = /^([^;[=\s][^=]*?)\s*=\s*(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!.replace(/^"(.*)"$/, '$1'));
  }
  return out;
}

/** What changes from the existing pool to the planned one, directive by directive. */
export function poolChanges(before: PoolConfig, after: PoolConfig): PoolChange[] {
  const a = directivesOf(before);
  const b = directivesOf(after);
  const out: PoolChange[] = [];
  for (const [directive, value] of b) {
    const old = a.get(directive);
    if (old !== value)
      out.push({ directive, ...(old === undefined ? {} : { before: old }), after: value });
  }
  for (const [directive, value] of a) if (!b.has(directive)) out.push({ directive, before: value });
  return out;
}

/** Reload or restart for these changes to pool `name` (the reload table). */
export function applyActionFor(name: string, changes: readonly PoolChange[]): FpmApplyAction {
  return fpmApplyActionForChanges(changes.map((c) => ({ section: name, directive: c.directive })));
}

/** One line naming the changes, e.g. `pm.max_children 5 -> 12, request_terminate_timeout added (35s)`. */
export function describeChanges(changes: readonly PoolChange[]): string {
  if (changes.length === 0) return 'nothing';
  return changes
    .map((c) =>
      c.before === undefined
        ? `${c.directive} added (${c.after})`
        : c.after === undefined
          ? `${c.directive} dropped (was ${c.before})`
          : `${c.directive} ${c.before} -> ${c.after}`,
    )
    .join(', ');
}
