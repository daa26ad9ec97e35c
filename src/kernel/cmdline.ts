import type { FpmProcessTitle } from './schemas.js';

export type { FpmProcessTitle } from './schemas.js';

/**
 * Parses `/proc/PID/cmdline`: arguments separated and ended by NUL. A program that rewrote
 * its title (FPM does) may leave one string padded with NULs or spaces; empty trailing
 * pieces are dropped. An empty file (kernel thread, zombie) gives `[]`.
 *
 * ```text
 * /usr/sbin/php-fpm8.2\0-y\0/etc/php/8.2/fpm/php-fpm.conf\0
 * php-fpm: pool www\0\0\0\0
 * ```
 */
export function parseProcPidCmdline(text: string): string[] {
  const parts = text.split('\0');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * Reads an FPM process title (set by `fpm_env.c`): `php-fpm: master process (CONFIG)` for a
 * master, `php-fpm: pool NAME` for a worker. Takes cmdline text or parsed arguments; returns
 * undefined for any other process.
 *
 * ```text
 * php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)
 * php-fpm: pool www
 * ```
 */
export function parseFpmProcessTitle(
  input: string | readonly string[],
): FpmProcessTitle | undefined {
  const args = typeof input === 'string' ? parseProcPidCmdline(input) : input;
  const title = args.join(' ').replace(/[\s\0]+$/, '');
  const master = /^php-fpm[\w.-]*: master process \((.*)\)$/.exec(title);
  if (master) return { role: 'master', configPath: master[1]! };
  const worker = /^php-fpm[\w.-]*: pool (.+)$/.exec(title);
  if (worker) return { role: 'worker', pool: worker[1]! };
  return undefined;
}

/** @deprecated Use {@link parseProcPidCmdline}, named like the other `/proc` parsers. */
export const parseCmdline = parseProcPidCmdline;
