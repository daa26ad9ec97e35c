import {
  FPM_DEFAULT_LISTEN_BACKLOG,
  LINUX_DEFAULT_SOMAXCONN,
  LINUX_LEGACY_SOMAXCONN,
} from '../defaults.js';
import { FpmkitInvalidOptionError } from '../errors.js';

export { FPM_DEFAULT_LISTEN_BACKLOG };
/** `SOMAXCONN` since Linux 5.4 (128 before): `LINUX_DEFAULT_SOMAXCONN`. */
export const DEFAULT_SOMAXCONN = LINUX_DEFAULT_SOMAXCONN;
/** `SOMAXCONN` before Linux 5.4: `LINUX_LEGACY_SOMAXCONN`. */
export const LEGACY_SOMAXCONN = LINUX_LEGACY_SOMAXCONN;

/** Input of {@link effectiveBacklog}: the backlog FPM asks for and the kernel's cap. */
export interface EffectiveBacklogInput {
  /** `listen.backlog` as FPM passes it to listen(2). @default -1 (FPM's default on Linux) */
  listenBacklog?: number | undefined;
  /** `net.core.somaxconn` of the socket's network namespace. */
  somaxconn: number;
}

/**
 * The backlog the kernel keeps for `listen(fd, listenBacklog)` (`net/socket.c` `__sys_listen`):
 * the value is compared as unsigned, so -1 (and any negative) and anything above somaxconn
 * become somaxconn. This is `ss -l` Send-Q. The accept queue holds one more connection than
 * this (`queue length > backlog` is "full"); see `acceptQueueCapacity`.
 */
export function effectiveBacklog(input: EffectiveBacklogInput): number {
  const { somaxconn } = input;
  const backlog = input.listenBacklog ?? FPM_DEFAULT_LISTEN_BACKLOG;
  if (!Number.isInteger(somaxconn) || somaxconn < 0 || somaxconn > 0x7fffffff) {
    throw new FpmkitInvalidOptionError('somaxconn', 'must be an integer from 0 to 2147483647');
  }
  if (!Number.isInteger(backlog) || backlog < -0x80000000 || backlog > 0x7fffffff) {
    throw new FpmkitInvalidOptionError('listenBacklog', 'must be a 32-bit integer');
  }
  const unsigned = backlog >>> 0;
  return Math.min(unsigned, somaxconn);
}

/** How many connections the accept queue holds before new ones wait or fail: the effective backlog + 1. */
export function acceptQueueCapacity(input: EffectiveBacklogInput): number {
  return effectiveBacklog(input) + 1;
}
