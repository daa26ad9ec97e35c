import { z } from 'zod';
import { FpmkitInvalidOptionError, FpmkitParseError } from '../errors.js';
import { parseOptions } from '../options.js';
import { assertSafeText } from '../text-safety.js';
import { lines, parseError } from './internal.js';
import { parseSysctlEntries, type SysctlEntry } from './sysctl.js';

/** `INT_MAX`: the ceiling of integer sysctls. */
const INT_MAX = 0x7fffffff;
/** `sysctl_nr_open_max` on 64-bit kernels (INT_MAX rounded down to a multiple of BITS_PER_LONG). */
export const NR_OPEN_MAX = 2147483584;
/** `sysctl_nr_open_min` (BITS_PER_LONG). */
export const NR_OPEN_MIN = 64;
/** fs.file-max is an unsigned long; kernels and systemd write LONG_MAX to mean "no limit". */
export const FILE_MAX_UNLIMITED_TEXT = '9223372036854775807';

/** The modes of /sys/kernel/mm/transparent_hugepage/enabled. */
export const TRANSPARENT_HUGE_PAGES_MODES = ['always', 'madvise', 'never'] as const;
/** A mode of `/sys/kernel/mm/transparent_hugepage/enabled`. */
export type TransparentHugePagesMode = (typeof TRANSPARENT_HUGE_PAGES_MODES)[number];

const port = z.number().int().min(1).max(65535);

/** A systemd resource limit: a number, or `'unlimited'` (written `infinity`). */
export const serviceLimitValueSchema = z.union([
  z.number().int().nonnegative(),
  z.literal('unlimited'),
]);
/** One systemd limit value: a number or `unlimited` (written `infinity`). */
export type ServiceLimitValue = z.infer<typeof serviceLimitValueSchema>;
/** One value for soft and hard, or both apart (`LimitNOFILE=1024:524288`). */
export const serviceLimitSchema = z.union([
  serviceLimitValueSchema,
  z.object({ soft: serviceLimitValueSchema, hard: serviceLimitValueSchema }),
]);
/** A systemd `Limit*=` value: one value for soft and hard, or both apart. */
export type ServiceLimit = z.infer<typeof serviceLimitSchema>;

/**
 * Kernel and service settings that decide how FPM behaves. Every field is optional: absent
 * means "leave the host's value alone". Ranges are what the kernel (or systemd) accepts.
 */
export const kernelSettingsSchema = z
  .object({
    /** `net.core.somaxconn`: cap on every listen(2) backlog (4096 since Linux 5.4, 128 before). */
    somaxconn: z.number().int().min(0).max(INT_MAX).optional(),
    /** `net.ipv4.tcp_max_syn_backlog`: half-open (SYN_RECV) connections per listener. */
    tcpMaxSynBacklog: z.number().int().min(0).max(INT_MAX).optional(),
    /** `net.core.netdev_max_backlog`: packets queued per CPU before the stack drops them. */
    netdevMaxBacklog: z.number().int().min(1).max(INT_MAX).optional(),
    /** `fs.file-max`: system-wide open files; `'unlimited'` writes LONG_MAX. */
    fileMax: z
      .union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.literal('unlimited')])
      .optional(),
    /** `fs.nr_open`: the ceiling of any process's RLIMIT_NOFILE. */
    nrOpen: z.number().int().min(NR_OPEN_MIN).max(NR_OPEN_MAX).optional(),
    /** `vm.swappiness`: 0-200 (0-100 before Linux 5.8). */
    swappiness: z.number().int().min(0).max(200).optional(),
    /** `vm.overcommit_memory`: 0 heuristic, 1 always, 2 strict accounting. */
    overcommitMemory: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
    /** `net.ipv4.ip_local_port_range`: ephemeral ports for outgoing TCP (FPM to MySQL, Redis ...). */
    ipLocalPortRange: z
      .object({ low: port, high: port })
      .refine((r) => r.low <= r.high, { message: 'low must not exceed high' })
      .optional(),
    /** `net.ipv4.tcp_tw_reuse`: 0 off, 1 on, 2 loopback only (default since 4.19). */
    tcpTwReuse: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
    /** `net.ipv4.tcp_fin_timeout`: seconds an orphaned connection stays in FIN_WAIT2. */
    tcpFinTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(Math.floor(INT_MAX / 1000))
      .optional(),
    /** /sys/kernel/mm/transparent_hugepage/enabled (not a sysctl). */
    transparentHugePages: z.enum(TRANSPARENT_HUGE_PAGES_MODES).optional(),
    /** systemd `LimitNOFILE=` of the php-fpm unit: FPM's `rlimit_files` cannot exceed its hard limit. */
    limitNofile: serviceLimitSchema.optional(),
    /** systemd `LimitCORE=`: core dump size in bytes; `'unlimited'` writes `infinity`. */
    limitCore: serviceLimitSchema.optional(),
  })
  .strict();
/** Kernel and service-manager settings for a PHP-FPM host (sysctls and systemd limits). */
export type KernelSettings = z.infer<typeof kernelSettingsSchema>;

type SysctlField =
  | 'somaxconn'
  | 'tcpMaxSynBacklog'
  | 'netdevMaxBacklog'
  | 'fileMax'
  | 'nrOpen'
  | 'swappiness'
  | 'overcommitMemory'
  | 'ipLocalPortRange'
  | 'tcpTwReuse'
  | 'tcpFinTimeoutSeconds';

/** The sysctl behind each field, with the reason the renderer writes beside it. */
export const KERNEL_SYSCTLS: Readonly<Record<SysctlField, { key: string; why: string }>> = {
  somaxconn: {
    key: 'net.core.somaxconn',
    why: 'caps every listen() backlog: listen.backlog above this is silently cut, and -1 means exactly this',
  },
  tcpMaxSynBacklog: {
    key: 'net.ipv4.tcp_max_syn_backlog',
    why: 'half-open connections per TCP listener; keep it at least somaxconn so bursts reach the accept queue',
  },
  netdevMaxBacklog: {
    key: 'net.core.netdev_max_backlog',
    why: 'packets queued per CPU before the network stack drops them under bursts',
  },
  fileMax: {
    key: 'fs.file-max',
    why: 'system-wide open files: every worker holds sockets, logs and scripts open',
  },
  nrOpen: {
    key: 'fs.nr_open',
    why: 'ceiling for any LimitNOFILE / rlimit_files; raising those above it fails',
  },
  swappiness: {
    key: 'vm.swappiness',
    why: 'a swapped-out worker answers slowly; a low value keeps PHP memory resident',
  },
  overcommitMemory: {
    key: 'vm.overcommit_memory',
    why: 'how fork() of workers is accounted: 2 can refuse forks long before memory is used',
  },
  ipLocalPortRange: {
    key: 'net.ipv4.ip_local_port_range',
    why: 'ephemeral ports for outgoing connections (web server to FPM over TCP, PHP to databases)',
  },
  tcpTwReuse: {
    key: 'net.ipv4.tcp_tw_reuse',
    why: 'reuse TIME_WAIT ports for new outgoing connections when many short ones are made',
  },
  tcpFinTimeoutSeconds: {
    key: 'net.ipv4.tcp_fin_timeout',
    why: 'seconds an orphaned connection waits in FIN_WAIT2, holding a port',
  },
};

const SYSCTL_ORDER = Object.keys(KERNEL_SYSCTLS) as SysctlField[];

function formatSysctlValue(field: SysctlField, settings: KernelSettings): string | undefined {
  const v = settings[field];
  if (v === undefined) return undefined;
  if (field === 'ipLocalPortRange') {
    const r = v as { low: number; high: number };
    return `${r.low} ${r.high}`;
  }
  if (v === 'unlimited') return FILE_MAX_UNLIMITED_TEXT;
  return String(v);
}

function validate(settings: KernelSettings): KernelSettings {
  return parseOptions(kernelSettingsSchema, settings, undefined, 'settings');
}

/** Options of {@link renderSysctlConf}. */
export interface RenderSysctlConfOptions {
  /** First comment line. @default 'Kernel settings for PHP-FPM, written by fpmkit' */
  title?: string | undefined;
  /** Where the file is meant to live, shown in the apply hint. @default '/etc/sysctl.d/60-php-fpm.conf' */
  path?: string | undefined;
}

/**
 * Renders a sysctl.d file for the sysctl fields of `settings`, each preceded by a comment
 * saying why it matters for FPM. Fields that are not sysctls (transparent huge pages, service
 * limits) are mentioned in comments only. `parseSysctl` + `kernelSettingsFromSysctl` read it
 * back to the same settings; `sysctl -p FILE` applies it.
 */
export function renderSysctlConf(
  settings: KernelSettings,
  options: RenderSysctlConfOptions = {},
): string {
  const s = validate(settings);
  const path = options.path ?? '/etc/sysctl.d/60-php-fpm.conf';
  // Both end up in comment lines: a line end (LF for sysctl, also CR and NUL for
  // systemd-sysctl) would start a live setting.
  if (options.title !== undefined) assertSafeText('title', options.title, { allowTab: true });
  assertSafeText('path', path, { allowTab: true });
  const out = [
    `# ${options.title ?? 'Kernel settings for PHP-FPM, written by fpmkit'}`,
    `# Apply with: sysctl -p ${path}`,
  ];
  for (const field of SYSCTL_ORDER) {
    const value = formatSysctlValue(field, s);
    if (value === undefined) continue;
    const { key, why } = KERNEL_SYSCTLS[field];
    out.push('', `# ${why}`, `${key} = ${value}`);
  }
  if (s.transparentHugePages !== undefined) {
    out.push(
      '',
      '# transparent huge pages are not a sysctl; set them at boot (transparent_hugepage=' +
        `${s.transparentHugePages}) or in /sys/kernel/mm/transparent_hugepage/enabled`,
    );
  }
  return `${out.join('\n')}\n`;
}

function intValue(key: string, text: string): number {
  if (!/^-?\d+$/.test(text)) throw parseError('sysctl', `${key} is not an integer: '${text}'`);
  return Number(text);
}

/**
 * The `KernelSettings` held in sysctl values (from `parseSysctl` or `readSysctl`); keys fpmkit
 * does not model are ignored, values outside the schema's ranges throw
 * `FpmkitInvalidOptionError`.
 */
export function kernelSettingsFromSysctl(
  values: Readonly<Record<string, string | undefined>>,
): KernelSettings {
  const out: Record<string, unknown> = {};
  for (const field of SYSCTL_ORDER) {
    const { key } = KERNEL_SYSCTLS[field];
    const text = values[key];
    if (text === undefined) continue;
    if (field === 'ipLocalPortRange') {
      const [low, high, ...rest] = text.trim().split(/\s+/);
      if (low === undefined || high === undefined || rest.length > 0) {
        throw parseError('sysctl', `${key} needs two ports: '${text}'`);
      }
      out[field] = { low: intValue(key, low), high: intValue(key, high) };
    } else if (
      field === 'fileMax' &&
      /^\d+$/.test(text) &&
      Number(text) > Number.MAX_SAFE_INTEGER
    ) {
      out[field] = 'unlimited';
    } else {
      out[field] = intValue(key, text.trim());
    }
  }
  return validate(out as KernelSettings);
}

/**
 * Reads sysctl.d text straight into settings (`parseSysctl` then `kernelSettingsFromSysctl`).
 * A modelled value that is not a number or out of range throws `FpmkitParseError` at its line.
 */
export function parseSysctlConf(text: string): KernelSettings {
  const entries = parseSysctlEntries(text);
  const keys = new Set(Object.values(KERNEL_SYSCTLS).map((s) => s.key));
  const last = new Map<string, SysctlEntry>();
  for (const e of entries) if (keys.has(e.key)) last.set(e.key, e);
  const values: Record<string, string> = {};
  for (const [key, e] of last) {
    try {
      kernelSettingsFromSysctl({ [key]: e.value });
    } catch (error) {
      const reason = error instanceof FpmkitParseError ? error.reason : (error as Error).message;
      throw parseError('sysctl.d', reason, e.line, lines(text)[e.line - 1]);
    }
    values[key] = e.value;
  }
  return kernelSettingsFromSysctl(values);
}

/**
 * Parses /sys/kernel/mm/transparent_hugepage/enabled, where the active mode is bracketed:
 *
 * ```text
 * always [madvise] never
 * ```
 */
export function parseTransparentHugePages(text: string): TransparentHugePagesMode {
  const m = /\[(\w+)\]/.exec(text);
  const mode = m?.[1] as TransparentHugePagesMode | undefined;
  if (mode === undefined || !TRANSPARENT_HUGE_PAGES_MODES.includes(mode)) {
    throw parseError(
      'transparent_hugepage/enabled',
      'no bracketed mode among always, madvise, never',
      1,
      lines(text)[0] ?? '',
    );
  }
  return mode;
}

function formatLimit(v: ServiceLimit): string {
  const one = (x: ServiceLimitValue) => (x === 'unlimited' ? 'infinity' : String(x));
  return typeof v === 'object' ? `${one(v.soft)}:${one(v.hard)}` : one(v);
}

/** `UNIT_NAME_MAX` in systemd's `src/basic/unit-name.h`: a name is shorter than this. */
const UNIT_NAME_MAX = 256;
/** Linux `NAME_MAX`: the drop-in directory `UNIT.d` is one file name. */
const NAME_MAX = 255;
/** Characters of a unit name before its suffix (`VALID_CHARS` plus `@`, unit-name.c). */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:_.\\@-]+$/;

/**
 * Why systemd would not take `name` as the name of a service unit, or undefined when it
 * would. The rules are `unit_name_is_valid` in systemd's `src/basic/unit-name.c`: at most 255
 * bytes; letters, digits and `:-_.\` before the suffix, with `@` (not first) separating an
 * instance; the suffix `.service`, since the drop-in is a `[Service]` section. `NAME.d` must
 * also fit in one file name, so the name is at most 253 bytes.
 */
export function serviceUnitNameProblem(name: string): string | undefined {
  if (name.length >= UNIT_NAME_MAX)
    return `systemd unit names are at most ${UNIT_NAME_MAX - 1} bytes`;
  if (name.length + 2 > NAME_MAX) {
    return `the drop-in directory NAME.d would be longer than a file name (${NAME_MAX} bytes)`;
  }
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || name.slice(dot) !== '.service') {
    return "must end in '.service' after a non-empty name (the drop-in is a [Service] section)";
  }
  const stem = name.slice(0, dot);
  if (!UNIT_NAME_CHARS.test(stem)) {
    return 'systemd unit names hold only ASCII letters, digits and : - _ . \\ @';
  }
  if (stem.startsWith('@')) return "a systemd unit name cannot start with '@'";
  return undefined;
}

/** @internal Throws `FpmkitInvalidOptionError` naming `option` unless `name` is a service unit name. */
export function assertServiceUnitName(option: string, name: string): void {
  const problem = serviceUnitNameProblem(name);
  if (problem !== undefined) throw new FpmkitInvalidOptionError(option, problem);
}

/** Options of {@link renderSystemdDropIn}. */
export interface RenderSystemdDropInOptions {
  /**
   * The service unit the drop-in belongs to, named in the install hint: a systemd unit name
   * ending in `.service` (see `serviceUnitNameProblem`). @default 'php8.2-fpm.service'
   */
  unit?: string | undefined;
}

/**
 * Renders a systemd drop-in (`[Service]` section) for the php-fpm unit with the service
 * limits of `settings`, e.g. `/etc/systemd/system/php8.2-fpm.service.d/fpmkit.conf`, each with
 * a comment saying why. `'unlimited'` is written `infinity`.
 */
export function renderSystemdDropIn(
  settings: KernelSettings,
  options: RenderSystemdDropInOptions = {},
): string {
  const s = validate(settings);
  const unit = options.unit ?? 'php8.2-fpm.service';
  assertServiceUnitName('unit', unit);
  const out = [
    `# systemd drop-in for ${unit}, written by fpmkit`,
    `# Install as /etc/systemd/system/${unit}.d/fpmkit.conf, then: systemctl daemon-reload && systemctl restart ${unit}`,
    '[Service]',
  ];
  if (s.limitNofile !== undefined) {
    out.push(
      "# open files per process: FPM's rlimit_files and every worker's sockets and scripts live under this; it cannot exceed fs.nr_open",
      `LimitNOFILE=${formatLimit(s.limitNofile)}`,
    );
  }
  if (s.limitCore !== undefined) {
    out.push(
      "# core dump size: FPM's rlimit_core cannot exceed it; cores of crashed workers are how segfaults get debugged",
      `LimitCORE=${formatLimit(s.limitCore)}`,
    );
  }
  return `${out.join('\n')}\n`;
}
