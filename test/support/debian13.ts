import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, type Requirement } from './integration.js';

/** Where `.ci/debian13-root` keeps the Debian 13 root (php-fpm 8.4, the peer exporter). */
export const DEBIAN13_ROOT = process.env.FPMKIT_DEBIAN13_ROOT ?? '/var/cache/fpmkit/debian13';

/**
 * The Debian 13 root the tests chroot into, built once by `.ci/debian13-root`. Missing (or not
 * root, which chroot needs) skips with a reason, unless FPMKIT_REQUIRE_INTEGRATION is set.
 */
export function debian13Root(): Requirement {
  const ready = existsSync(join(DEBIAN13_ROOT, '.fpmkit-root-v1'));
  if (ready && isRoot()) return { path: DEBIAN13_ROOT, available: true, reason: '' };
  const why = ready
    ? 'chroot into the Debian 13 root needs root'
    : `no Debian 13 root at ${DEBIAN13_ROOT}; run .ci/debian13-root as root`;
  if (process.env.FPMKIT_REQUIRE_INTEGRATION) {
    throw new Error(`${why} (FPMKIT_REQUIRE_INTEGRATION is set)`);
  }
  return { path: undefined, available: false, reason: ` [skipped: ${why}]` };
}
