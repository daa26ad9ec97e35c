/**
 * The php.ini settings that decide how long and how large an FPM request may be, and how
 * OPcache behaves under FPM: a model, a renderer and a parser.
 *
 * Reference: https://www.php.net/manual/en/ini.list.php
 */
import { z } from 'zod';
import { FpmkitParseError } from '../errors.js';
import { formatPhpSize, parsePhpSize } from '../units.js';
import { bytes, parseSettings, safeString, seconds } from './syntax.js';

/**
 * Below this `memory_limit` PHP cannot even start a request: the engine already uses a few
 * hundred KiB, and a limit under the current usage is refused at startup.
 */
export const PHP_MIN_MEMORY_LIMIT_BYTES = 2 * 1024 * 1024;
/** OPcache raises `opcache.memory_consumption` below 8 (MiB) to 8 with a warning. */
export const OPCACHE_MIN_MEMORY_MEGABYTES = 8;
/** OPcache clamps `opcache.max_accelerated_files` into this range (MIN/MAX_ACCEL_FILES). */
export const OPCACHE_MIN_ACCELERATED_FILES = 200;
/** Upper end of the range OPcache clamps `opcache.max_accelerated_files` into (MAX_ACCEL_FILES). */
export const OPCACHE_MAX_ACCELERATED_FILES = 1_000_000;
/** OPcache refuses `opcache.interned_strings_buffer` above 4095 (MiB) in PHP 8.2. */
export const OPCACHE_MAX_INTERNED_STRINGS_MEGABYTES = 4095;

/**
 * A path written between double quotes in php.ini. `"` ends the value, `\` escapes, and `${`
 * starts a variable PHP expands, so those are refused.
 */
const phpIniPath = safeString('php.ini', '"\\').refine(
  (v) => !v.includes('${'),
  "must not contain '${' (PHP expands variables there)",
);

/** The php.ini model. Times in seconds, sizes in bytes (OPcache's own sizes in MiB). */
export const phpIniSchema = z.strictObject({
  /** `max_execution_time`; `'unlimited'` renders `0`. */
  maxExecutionTimeSeconds: z.union([seconds(1), z.literal('unlimited')]).optional(),
  /**
   * `max_input_time`: time to read the request; `'unlimited'` renders `0`,
   * `'max_execution_time'` renders `-1` (use max_execution_time).
   */
  maxInputTimeSeconds: z
    .union([seconds(1), z.literal('unlimited'), z.literal('max_execution_time')])
    .optional(),
  /** `memory_limit`; `'unlimited'` renders `-1`. */
  memoryLimitBytes: z.union([bytes(PHP_MIN_MEMORY_LIMIT_BYTES), z.literal('unlimited')]).optional(),
  /** `post_max_size`; `'unlimited'` renders `0` (PHP skips the check). */
  postMaxSizeBytes: z.union([bytes(1), z.literal('unlimited')]).optional(),
  /** `upload_max_filesize`. */
  uploadMaxFilesizeBytes: bytes(1).optional(),
  /** `max_file_uploads`: files per request; `0` refuses every upload. */
  maxFileUploads: z.number().int().min(0).optional(),
  /** `realpath_cache_size`; `0` disables the cache. */
  realpathCacheSizeBytes: bytes(0).optional(),
  /** `expose_php`: the `X-Powered-By` header. */
  exposePhp: z.boolean().optional(),
  cgi: z
    .strictObject({
      /** `cgi.fix_pathinfo`: PHP guesses a script from a longer path (PATH_INFO handling). */
      fixPathinfo: z.boolean().optional(),
    })
    .optional(),
  opcache: z
    .strictObject({
      enable: z.boolean().optional(),
      /** `opcache.memory_consumption` in MiB (PHP reads a plain number of megabytes). */
      memoryConsumptionMegabytes: z
        .number()
        .int()
        .min(OPCACHE_MIN_MEMORY_MEGABYTES)
        .max(1024 * 1024)
        .optional(),
      /** `opcache.interned_strings_buffer` in MiB. */
      internedStringsBufferMegabytes: z
        .number()
        .int()
        .min(0)
        .max(OPCACHE_MAX_INTERNED_STRINGS_MEGABYTES)
        .optional(),
      maxAcceleratedFiles: z
        .number()
        .int()
        .min(OPCACHE_MIN_ACCELERATED_FILES)
        .max(OPCACHE_MAX_ACCELERATED_FILES)
        .optional(),
      /** Check files for changes; off means a deploy needs a reload. */
      validateTimestamps: z.boolean().optional(),
      /** `opcache.revalidate_freq`: seconds between checks; `0` checks on every request. */
      revalidateFreqSeconds: seconds(0).optional(),
      /** `opcache.preload`: script run once at FPM start. */
      preload: phpIniPath.optional(),
    })
    .optional(),
});

/** What `renderPhpIni` accepts. */
export type PhpIniInput = z.input<typeof phpIniSchema>;
/** The php.ini model. */
export type PhpIniSettings = z.infer<typeof phpIniSchema>;

type Kind = 'seconds' | 'inputSeconds' | 'memory' | 'post' | 'size' | 'int' | 'bool' | 'path';

/** Every modelled directive: its php.ini name, where it lives in the model, and its kind. */
export const PHP_INI_DIRECTIVES = [
  { name: 'max_execution_time', path: ['maxExecutionTimeSeconds'], kind: 'seconds' },
  { name: 'max_input_time', path: ['maxInputTimeSeconds'], kind: 'inputSeconds' },
  { name: 'memory_limit', path: ['memoryLimitBytes'], kind: 'memory' },
  { name: 'post_max_size', path: ['postMaxSizeBytes'], kind: 'post' },
  { name: 'upload_max_filesize', path: ['uploadMaxFilesizeBytes'], kind: 'size' },
  { name: 'max_file_uploads', path: ['maxFileUploads'], kind: 'int' },
  { name: 'realpath_cache_size', path: ['realpathCacheSizeBytes'], kind: 'size' },
  { name: 'expose_php', path: ['exposePhp'], kind: 'bool' },
  { name: 'cgi.fix_pathinfo', path: ['cgi', 'fixPathinfo'], kind: 'bool' },
  { name: 'opcache.enable', path: ['opcache', 'enable'], kind: 'bool' },
  {
    name: 'opcache.memory_consumption',
    path: ['opcache', 'memoryConsumptionMegabytes'],
    kind: 'int',
  },
  {
    name: 'opcache.interned_strings_buffer',
    path: ['opcache', 'internedStringsBufferMegabytes'],
    kind: 'int',
  },
  { name: 'opcache.max_accelerated_files', path: ['opcache', 'maxAcceleratedFiles'], kind: 'int' },
  { name: 'opcache.validate_timestamps', path: ['opcache', 'validateTimestamps'], kind: 'bool' },
  { name: 'opcache.revalidate_freq', path: ['opcache', 'revalidateFreqSeconds'], kind: 'int' },
  { name: 'opcache.preload', path: ['opcache', 'preload'], kind: 'path' },
] as const satisfies readonly { name: string; path: readonly string[]; kind: Kind }[];

function getAt(settings: PhpIniSettings, path: readonly string[]): unknown {
  let value: unknown = settings;
  for (const key of path) {
    if (value === undefined || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function setAt(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** The php.ini text of one model value. */
function formatValue(kind: Kind, value: unknown): string {
  switch (kind) {
    case 'seconds':
      return value === 'unlimited' ? '0' : String(value);
    case 'inputSeconds':
      return value === 'unlimited' ? '0' : value === 'max_execution_time' ? '-1' : String(value);
    case 'memory':
      return formatPhpSize(value as number | 'unlimited');
    case 'post':
      return value === 'unlimited' ? '0' : formatPhpSize(value as number);
    case 'size':
      return formatPhpSize(value as number);
    case 'int':
      return String(value);
    case 'bool':
      return value ? '1' : '0';
    case 'path':
      return `"${String(value)}"`;
  }
}

/**
 * Renders php.ini lines (`name = value`, one per set field, in a fixed order). Booleans are
 * `1`/`0` and sizes use PHP's `K`/`M`/`G`, so `ini_get()` returns exactly what was written.
 * Throws `FpmkitInvalidOptionError` naming the option for an invalid value or one that could
 * add a line.
 */
export function renderPhpIni(input: PhpIniInput): string {
  const settings = parseSettings(phpIniSchema, input);
  let out = '';
  for (const d of PHP_INI_DIRECTIVES) {
    const value = getAt(settings, d.path);
    if (value !== undefined) out += `${d.name} = ${formatValue(d.kind, value)}\n`;
  }
  return out;
}

/** Options of `parsePhpIni`. */
export interface ParsePhpIniOptions {
  /** File name for error messages. @default 'php.ini' */
  source?: string | undefined;
}

/** What `parsePhpIni` returns. */
export interface ParsedPhpIni {
  /** The modelled directives found. */
  settings: PhpIniSettings;
  /** Every other directive, by name, as PHP would hand it over (the last one wins). */
  other: Record<string, string>;
}

/** PHP's INI constants for booleans and null (case-insensitive), as the scanner maps them. */
const INI_CONSTANTS: Record<string, string> = {
  true: '1',
  on: '1',
  yes: '1',
  false: '',
  off: '',
  no: '',
  none: '',
  null: '',
};

/** Reads the value part of `key = value`: quoted, or bare up to a `;` comment. */
function readValue(raw: string): string | { error: string } {
  const text = raw.trim();
  const quote = text[0];
  if (quote === '"' || quote === "'") {
    const end = text.indexOf(quote, 1);
    if (end === -1) return { error: `unterminated ${quote} quote` };
    const rest = text.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith(';'))
      return { error: 'unexpected text after the quoted value' };
    return text.slice(1, end);
  }
  const semicolon = text.indexOf(';');
  const bare = (semicolon === -1 ? text : text.slice(0, semicolon)).trim();
  return INI_CONSTANTS[bare.toLowerCase()] ?? bare;
}

/** Converts one raw value for a modelled directive, or returns the reason it cannot. */
function convert(kind: Kind, value: string): { value: unknown } | { error: string } {
  const int = /^[+-]?\d+$/.test(value.trim()) ? Number.parseInt(value.trim(), 10) : undefined;
  switch (kind) {
    case 'seconds':
      if (int === undefined || int < 0)
        return { error: 'must be a whole number of seconds, 0 for no limit' };
      return { value: int === 0 ? 'unlimited' : int };
    case 'inputSeconds':
      if (int === undefined || int < -1) return { error: 'must be seconds, 0 for no limit or -1' };
      return { value: int === 0 ? 'unlimited' : int === -1 ? 'max_execution_time' : int };
    case 'memory':
    case 'post':
    case 'size': {
      const size = parsePhpSize(value);
      if (!size.ok) return { error: size.reason };
      if (kind === 'post' && (size.value === 0 || size.value === 'unlimited'))
        return { value: 'unlimited' };
      if (kind === 'memory' && size.value === 0) return { error: 'a memory_limit of 0 stops PHP' };
      if (kind === 'size' && size.value === 'unlimited') return { error: 'must not be negative' };
      return { value: size.value };
    }
    case 'int':
      if (int === undefined || !Number.isSafeInteger(int)) return { error: 'must be an integer' };
      return { value: int };
    case 'bool':
      // PHP's OnUpdateBool reads the number: any non-zero integer is on.
      if (value === '') return { value: false };
      if (int !== undefined) return { value: int !== 0 };
      return { error: 'must be a boolean (1, 0, On, Off, yes, no, true, false)' };
    case 'path':
      return { value };
  }
}

/**
 * Parses php.ini text (`php.ini` or a `conf.d/*.ini` file): `name = value` lines, `;`
 * comments, `[section]` headers, as PHP's INI scanner reads them (the `ini` package splits
 * quoted values at `;` and has no line numbers, hence this reader). Sample input:
 *
 * ```ini
 * [PHP]
 * memory_limit = 256M      ; per request
 * opcache.preload = "/srv/app/preload.php"
 * ```
 *
 * The modelled directives come back typed in `settings` (the last occurrence wins), the rest
 * as text in `other`. Lines under `[PATH=...]` and `[HOST=...]` sections apply to some
 * requests only and are skipped. Quoted values spanning lines are not supported. Throws
 * `FpmkitParseError` with the line for malformed lines and for modelled values PHP would not
 * read as intended.
 */
export function parsePhpIni(text: string, options: ParsePhpIniOptions = {}): ParsedPhpIni {
  const source = options.source ?? 'php.ini';
  const settings: Record<string, unknown> = {};
  const other: Record<string, string> = {};
  const byName = new Map<string, (typeof PHP_INI_DIRECTIVES)[number]>(
    PHP_INI_DIRECTIVES.map((d) => [d.name, d]),
  );
  const lineOf = new Map<string, number>();
  let scoped = false;
  const lines = text.split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const lineText = lines[i]!;
    const line = lineText.trim();
    if (line === '' || line.startsWith(';')) continue;
    const fail = (reason: string): never => {
      throw new FpmkitParseError(reason, { source, line: i + 1, lineText });
    };
    if (line.startsWith('[')) {
      const close = line.indexOf(']');
      if (close === -1) fail('section header without a closing ]');
      scoped = /^\[\s*(PATH|HOST)\s*=/i.test(line);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) fail('expected name = value');
    const name = line.slice(0, eq).trim();
    if (!/^[A-Za-z0-9_.\-[\]]+$/.test(name)) fail(`invalid directive name '${name}'`);
    const value = readValue(line.slice(eq + 1));
    if (typeof value !== 'string') return fail(value.error);
    if (scoped) continue;
    const directive = byName.get(name);
    if (!directive) {
      other[name] = value;
      continue;
    }
    const converted = convert(directive.kind, value);
    if ('error' in converted) return fail(`${name}: ${converted.error}`);
    setAt(settings, directive.path, converted.value);
    lineOf.set(name, i + 1);
  }
  const result = phpIniSchema.safeParse(settings);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const d = PHP_INI_DIRECTIVES.find((x) => x.path.join('.') === issue.path.join('.'));
    const line = d ? lineOf.get(d.name) : undefined;
    throw new FpmkitParseError(`${d?.name ?? issue.path.join('.')}: ${issue.message}`, {
      source,
      line,
      lineText: line === undefined ? undefined : lines[line - 1],
    });
  }
  return { settings: result.data, other };
}
