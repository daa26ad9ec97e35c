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

/** What an nginx process title says: the master with its command line, or a worker. */
export type NginxProcessTitle =
  | { role: 'master'; argv: string[] }
  | { role: 'worker' | 'cache' | 'helper' };

/**
 * Reads an nginx process title (set by `ngx_setproctitle`): `nginx: master process ARGV...`
 * for the master (its command line joined by spaces), `nginx: worker process` for a worker,
 * `nginx: cache manager process` and similar for helpers; undefined for any other process.
 *
 * ```text
 * nginx: master process /usr/sbin/nginx -g daemon on; master_process on;
 * nginx: worker process
 * ```
 */
export function parseNginxProcessTitle(
  input: string | readonly string[],
): NginxProcessTitle | undefined {
  const args = typeof input === 'string' ? parseProcPidCmdline(input) : input;
  const title = args.join(' ').replace(/[\s\0]+$/, '');
  const master = /^nginx: master process (.*)$/.exec(title);
  if (master) return { role: 'master', argv: master[1]!.split(' ').filter((a) => a !== '') };
  if (/^nginx: worker process(?: is shutting down)?$/.test(title)) return { role: 'worker' };
  if (/^nginx: cache (?:manager|loader) process$/.test(title)) return { role: 'cache' };
  if (/^nginx: \w[\w ]* process$/.test(title)) return { role: 'helper' };
  return undefined;
}

/** The options of an nginx command line that say where its configuration is. */
export interface NginxCommandLine {
  /** `-c FILE`. */
  configPath?: string;
  /** `-p PREFIX`. */
  prefix?: string;
  /** `-e FILE`. */
  errorLog?: string;
  /** `-g DIRECTIVES` (the words up to the next option, joined by spaces). */
  globals?: string;
}

/**
 * Reads the options of an nginx command line (`nginx -h`): `-c`, `-p`, `-e`, `-g`, each with
 * its value as the next word or glued to the letter (`-c/etc/nginx/nginx.conf`).
 */
export function parseNginxCommandLine(argv: readonly string[]): NginxCommandLine {
  const out: NginxCommandLine = {};
  const keys: Record<string, keyof NginxCommandLine> = {
    c: 'configPath',
    p: 'prefix',
    e: 'errorLog',
    g: 'globals',
  };
  for (let i = 1; i < argv.length; i++) {
    const m = /^-([cpeg])(.*)$/.exec(argv[i]!);
    if (!m) continue;
    const key = keys[m[1]!]!;
    let value = m[2] ?? '';
    if (value === '') value = argv[++i] ?? '';
    if (key === 'globals') {
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) value += ` ${argv[++i]}`;
    }
    out[key] = value;
  }
  return out;
}
