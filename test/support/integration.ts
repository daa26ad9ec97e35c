import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where Debian puts daemons that are not on a normal user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

/** Finds an executable by name on PATH and the sbin directories; undefined when missing. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...EXTRA_DIRS];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

export interface Requirement {
  /** Absolute path of the binary when present. */
  path: string | undefined;
  available: boolean;
  /** Text to append to a skipped suite's title so the reason is visible in the report. */
  reason: string;
}

/**
 * Looks up a binary an integration test needs. When it is missing and
 * `FPMKIT_REQUIRE_INTEGRATION` is set (CI), this throws so nothing is silently skipped;
 * otherwise the caller skips with the returned reason.
 */
export function requireBinary(name: string, installHint: string): Requirement {
  const path = findBinary(name);
  if (path) return { path, available: true, reason: '' };
  if (process.env.FPMKIT_REQUIRE_INTEGRATION) {
    throw new Error(
      `${name} is required (FPMKIT_REQUIRE_INTEGRATION is set) but was not found; install ${installHint}`,
    );
  }
  return {
    path: undefined,
    available: false,
    reason: ` [skipped: ${name} not found; install ${installHint}]`,
  };
}

export const phpFpmBinary = () => requireBinary('php-fpm8.2', 'php8.2-fpm');
export const nginxBinary = () => requireBinary('nginx', 'nginx');
export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;
