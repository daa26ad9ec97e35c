import { FpmkitInvalidOptionError, FpmkitIoError, FpmkitParseError } from '../errors.js';
import type { Finding } from '../findings.js';
import { catalogFinding, type FpmFindingCode } from '../findings-catalog.js';
import type { SafeResult } from '../safe-result.js';
import {
  fpmTimeReadAsWritten,
  parseFpmBoolean,
  parseFpmInteger,
  parseFpmTime,
  parseOctalMode,
} from '../units.js';
import {
  DEBIAN_LINUX_BUILD,
  type FpmBuildFeature,
  type FpmDirective,
  findScalarDirective,
} from './directives.js';
import { type IniScanContext, scanIniLine } from './ini-line.js';
import { PHP_FPM_CONSTANTS, phpConstantValue } from './php-constants.js';
import {
  emptyGlobal,
  emptyPool,
  type FpmConfig,
  type GlobalConfig,
  LOG_LEVELS,
  type LogLevel,
  PM_MODES,
  type PoolConfig,
  SYSLOG_FACILITIES,
} from './schema.js';
import {
  DEFAULT_FPM_PHP_VERSION,
  existsInVersion,
  FPM_VERSION_FACTS,
  type FpmPhpVersion,
  parseFpmPhpVersion,
} from './versions.js';

/**
 * Reads an included file. On failure throw an error with an errno `code` (or `errno`): what
 * FPM's own open(2) meets (ENOENT, EACCES) becomes FPM's load error as a finding; a refusal to
 * read (`FPM_READ_REFUSALS`: not a regular file, too large, untrusted owner) stops the load with
 * an `FpmkitIoError` naming the file and the line that included it.
 */
export type FpmReadFile = (path: string) => string;

/**
 * The errno codes by which a bounded reader refuses a file FPM would try to read: `EINVAL` (a
 * FIFO, device, socket or directory), `EFBIG` (over the size bound) and `EPERM` (an untrusted
 * owner). FPM itself would block on a FIFO or read `/dev/zero` until memory ran out, so there
 * is no FPM verdict to report: the load stops instead.
 */
export const FPM_READ_REFUSALS: readonly string[] = ['EINVAL', 'EFBIG', 'EPERM'];

/**
 * Expands an include pattern like glob(3) with GLOB_MARK: matching paths in sorted order,
 * directories with a trailing `/`. Return `[]` for no match; throw (with an errno `code`)
 * when a directory on the way cannot be read, which FPM reports as `Unable to globalize`.
 */
export type FpmGlob = (pattern: string) => readonly string[];

/** Options of {@link parseFpmConfig} and {@link safeParseFpmConfig}. */
export interface ParseFpmConfigOptions {
  /** Name of the file, used in messages and findings, as FPM prints it. @default 'php-fpm.conf' */
  path?: string | undefined;
  /** The master's environment for `${NAME}`; an unset name expands to nothing. @default {} */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** php.ini directives, which `${NAME}` consults before the environment. @default {} */
  iniDirectives?: Readonly<Record<string, string>> | undefined;
  /** Reads included files. Without it an `include` cannot be followed and is reported. */
  readFile?: FpmReadFile | undefined;
  /** Expands include patterns. Without it only patterns without wildcards are followed. */
  glob?: FpmGlob | undefined;
  /**
   * The global prefix (`php-fpm -p`). Relative includes resolve against it, or against the
   * compiled prefix `/usr` (Debian) when it is unset. @default undefined
   */
  prefix?: string | undefined;
  /**
   * PHP constants a bare word in a value or a whole array key may name; FPM puts their value in
   * its place (`env[PHP_OS]` is `env[Linux]`). `true`, `false` and `null` in keys need no entry.
   * @default PHP_FPM_CONSTANTS, those of Debian's php-fpm 8.2 with its default modules
   */
  constants?: Readonly<Record<string, string>> | undefined;
  /** Build features of the target php-fpm. @default Debian's Linux build (everything but setfib) */
  build?: Partial<Record<FpmBuildFeature, boolean>> | undefined;
  /**
   * The PHP version of the php-fpm that reads the file (`8.0` to `8.4`, or `8.4.27`, or the
   * first line of `php-fpm -v`): which directives exist and how booleans and array keys are
   * read follow that version (see `FPM_VERSION_FACTS`). @default '8.2'
   */
  phpVersion?: string | undefined;
}

/** Where a directive was set. */
export interface SourceLocation {
  file: string;
  line: number;
}

/**
 * Scalar values as FPM stored them, by directive name: the text after INI scanning, before
 * any conversion (`660` for a `listen.mode` the model holds as 0o660). `-tt` prints some of
 * them as they are. Pools are in the model's order.
 */
export interface FpmWrittenValues {
  global: Record<string, string>;
  pools: Record<string, string>[];
}

/** The typed config and the load-time findings of {@link parseFpmConfig}. */
export interface ParseFpmConfigResult {
  config: FpmConfig;
  /** Load-time problems (FPM's own errors as `error`, quirks as `warning`), in file order. */
  findings: Finding<FpmFindingCode>[];
  /** Where each directive was last set: `global` and one map per pool, by directive name. */
  locations: { global: Record<string, SourceLocation>; pools: Record<string, SourceLocation>[] };
  /** The text each scalar directive was last set to, for `effectiveFpmConfig`'s `written`. */
  written: FpmWrittenValues;
}

/** The compiled prefix of Debian's php-fpm (`PHP_PREFIX`). */
export const DEBIAN_PHP_PREFIX = '/usr';
/** FPM refuses to nest includes deeper than this (`ini_recursion`). */
const MAX_INCLUDE_DEPTH = 5;

/** Text C's strerror gives for the errno codes a config load meets. */
const STRERROR: Record<string, [string, number]> = {
  ENOENT: ['No such file or directory', 2],
  EACCES: ['Permission denied', 13],
  ENOTDIR: ['Not a directory', 20],
  EISDIR: ['Is a directory', 21],
  EROFS: ['Read-only file system', 30],
  ELOOP: ['Too many levels of symbolic links', 40],
  ENAMETOOLONG: ['File name too long', 36],
};

/** `<strerror> (<errno>)` as FPM's SYSERROR lines end. */
export function describeErrno(code: string | undefined): string {
  const known = code ? STRERROR[code] : undefined;
  return known ? `${known[0]} (${known[1]})` : `${code ?? 'Unknown error'} (0)`;
}

/** The errno code of a failed read or glob: `errno` (fpmkit's I/O errors) or Node's `code`. */
function errnoOf(error: unknown): string | undefined {
  const e = error as { errno?: unknown; code?: unknown } | null;
  if (typeof e?.errno === 'string') return e.errno;
  return typeof e?.code === 'string' && !e.code.startsWith('FPMKIT_') ? e.code : undefined;
}

/** One file being read: FPM's line counter is shared and not restored after an include. */
interface LoadState {
  config: FpmConfig;
  current: PoolConfig | undefined;
  poolIndex: Map<string, number>;
  findings: Finding<FpmFindingCode>[];
  locations: ParseFpmConfigResult['locations'];
  written: FpmWrittenValues;
  depth: number;
  fpmLine: number;
  scan: IniScanContext;
  build: Record<FpmBuildFeature, boolean>;
  version: FpmPhpVersion;
  options: ParseFpmConfigOptions;
  /** In collecting mode syntax errors become findings instead of exceptions. */
  collect: boolean;
}

/** A load-time error in FPM's words, as a finding; `fpmMessage` is the exact log line. */
function loadError(
  state: LoadState,
  code: FpmFindingCode,
  file: string,
  line: number,
  text: string,
  extra: Partial<Omit<Finding, 'code'>> = {},
): void {
  const finding: Finding<FpmFindingCode> = {
    code,
    severity: 'error',
    message: text,
    file,
    line,
    ...extra,
    evidence: { fpmMessage: `ERROR: ${text}`, ...(extra.evidence ?? {}) },
  };
  if (state.current) finding.pool = state.current.name;
  state.findings.push(finding);
}

const SUBSTITUTION_LIMIT = 1000;

/** FPM's `$pool` substitution (`fpm_conf_expand_pool_name`): repeated until none is left. */
function expandPoolName(value: string, pool: PoolConfig | undefined): string | undefined {
  if (!value.includes('$pool')) return value;
  if (!pool) return undefined;
  let out = value;
  for (let i = 0; i < SUBSTITUTION_LIMIT && out.includes('$pool'); i++) {
    out = out.replace('$pool', pool.name);
  }
  return out;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** A scalar value as the model stores it, or FPM's reason for refusing it. */
/**
 * `fpm_conf_set_boolean` of a version: every version takes `1` and the empty string (what the
 * INI scanner makes of bare yes/no words); 8.2 and later also take the words themselves.
 */
function fpmBoolean(text: string, version: FpmPhpVersion): ReturnType<typeof parseFpmBoolean> {
  if (FPM_VERSION_FACTS[version].booleanWords) return parseFpmBoolean(text);
  if (text === '1') return { ok: true, value: true };
  if (text === '') return { ok: true, value: false };
  return { ok: false, reason: 'invalid boolean value' };
}

function convertScalar(
  directive: FpmDirective,
  raw: string,
  pool: PoolConfig | undefined,
  version: FpmPhpVersion,
): { ok: true; value: unknown; warning?: string } | { ok: false; reason: string } {
  switch (directive.type) {
    case 'string':
    case 'path':
    case 'octal':
    case 'csv':
    case 'extensions': {
      const text = expandPoolName(raw, pool);
      if (text === undefined)
        return { ok: false, reason: "Can't use '$pool' when the pool is not defined" };
      if (directive.type === 'octal') {
        if (text === '') return { ok: true, value: undefined };
        const mode = parseOctalMode(text) & 0o7777;
        const clean = /^[0-7]+$/.test(text);
        return clean
          ? { ok: true, value: mode }
          : {
              ok: true,
              value: mode,
              warning: `'${text}' is not an octal number; FPM reads it as ${mode.toString(8).padStart(4, '0')}`,
            };
      }
      if (directive.type === 'csv')
        return { ok: true, value: text === '' ? undefined : text.split(',') };
      if (directive.type === 'extensions')
        return { ok: true, value: text.split(/[ \t]+/).filter(Boolean) };
      return { ok: true, value: text };
    }
    case 'integer': {
      const r = parseFpmInteger(raw);
      return r.ok ? { ok: true, value: r.value } : r;
    }
    case 'time': {
      const r = parseFpmTime(raw);
      return r.ok ? { ok: true, value: r.value } : r;
    }
    case 'boolean': {
      const r = fpmBoolean(raw, version);
      return r.ok ? { ok: true, value: r.value } : r;
    }
    case 'log_level': {
      const lower = raw.toLowerCase();
      const level = lower === 'warn' ? 'warning' : lower;
      return (LOG_LEVELS as readonly string[]).includes(level)
        ? { ok: true, value: level as LogLevel }
        : { ok: false, reason: "invalid value for 'log_level'" };
    }
    case 'syslog_facility': {
      const lower = raw.toLowerCase();
      return (SYSLOG_FACILITIES as readonly string[]).includes(lower)
        ? { ok: true, value: lower }
        : { ok: false, reason: 'invalid value' };
    }
    case 'rlimit_core': {
      if (raw.toLowerCase() === 'unlimited') return { ok: true, value: 'unlimited' };
      const r = parseFpmInteger(raw);
      if (!r.ok) return r;
      return r.value < 0
        ? { ok: false, reason: "must be greater than zero or 'unlimited'" }
        : { ok: true, value: r.value };
    }
    case 'pm': {
      const lower = raw.toLowerCase();
      return (PM_MODES as readonly string[]).includes(lower)
        ? { ok: true, value: lower }
        : { ok: false, reason: 'invalid process manager (static, dynamic or ondemand)' };
    }
    default:
      return { ok: false, reason: `internal: ${directive.type} is not a scalar type` };
  }
}

function handleEntry(
  state: LoadState,
  file: string,
  line: number,
  name: string,
  value: string | null,
  word?: string,
): string | undefined {
  const where = `[${file}:${state.fpmLine}]`;
  if (value === null) {
    loadError(
      state,
      'fpm.null-value',
      file,
      line,
      `${where} value is NULL for a ZEND_INI_PARSER_ENTRY`,
      {
        directive: name,
        fix: 'write the directive as `name = value`; `#` does not start a comment in FPM files, `;` does',
      },
    );
    return undefined;
  }
  if (name === 'include') return value;
  const section = state.current ? 'pool' : 'global';
  const directive = findScalarDirective(section, name, state.build, state.version);
  if (!directive) {
    const elsewhere = findScalarDirective(
      section === 'pool' ? 'global' : 'pool',
      name,
      state.build,
      state.version,
    );
    loadError(state, 'fpm.unknown-entry', file, line, `${where} unknown entry '${name}'`, {
      directive: name,
      ...(elsewhere
        ? {
            fix: `'${elsewhere.name}' belongs in ${elsewhere.section === 'global' ? 'the [global] section' : 'a pool section'}`,
          }
        : {}),
    });
    return undefined;
  }
  const converted = convertScalar(directive, value, state.current, state.version);
  if (!converted.ok) {
    loadError(
      state,
      converted.reason.startsWith("Can't use '$pool'")
        ? 'fpm.pool-variable-in-global'
        : 'fpm.invalid-value',
      file,
      line,
      `${where} unable to parse value for entry '${directive.name}': ${converted.reason}`,
      { directive: directive.name, evidence: { value } },
    );
    return undefined;
  }
  const target = (state.current ?? state.config.global) as unknown as Record<string, unknown>;
  setPath(target, directive.path, converted.value);
  const poolIndex = state.current
    ? state.poolIndex.get(state.current.name.toLowerCase())!
    : undefined;
  const locations =
    poolIndex === undefined ? state.locations.global : state.locations.pools[poolIndex]!;
  locations[directive.name] = { file, line };
  const written = poolIndex === undefined ? state.written.global : state.written.pools[poolIndex]!;
  written[directive.name] = value;
  const misread = misreadWarning(directive, value, word, converted.value);
  if (misread) {
    state.findings.push(
      catalogFinding(misread.code, {
        ...misread.body,
        directive: directive.name,
        file,
        line,
        ...(state.current ? { pool: state.current.name } : {}),
      }),
    );
  }
  if (converted.warning) {
    state.findings.push({
      code: 'fpm.listen-mode-not-octal',
      severity: 'warning',
      message: `${directive.name}: ${converted.warning}`,
      directive: directive.name,
      file,
      line,
      ...(state.current ? { pool: state.current.name } : {}),
      fix: 'write the mode as octal digits, e.g. 0660',
    });
  }
  return undefined;
}

/** Directive types whose value FPM keeps as text (a bare `yes` there becomes the text `1`). */
const TEXT_TYPES: ReadonlySet<FpmDirective['type']> = new Set([
  'string',
  'path',
  'csv',
  'extensions',
  'octal',
]);

/**
 * A value FPM accepts but reads otherwise than it looks: a time whose number is not whole
 * (`5ms` is 5 s, `1.5m` 60 s), or a text directive written as a bare boolean word, which PHP's
 * INI scanner turns into `1` (yes, on, true) or an empty value (no, off, none, false, null)
 * before FPM sees it. An empty `security.limit_extensions` is left to `checkFpmConfig`'s
 * security finding, which says what it does.
 */
function misreadWarning(
  directive: FpmDirective,
  value: string,
  word: string | undefined,
  converted: unknown,
):
  | {
      code: FpmFindingCode;
      body: { message: string; evidence: Record<string, unknown>; fix: string };
    }
  | undefined {
  if (directive.type === 'time' && !fpmTimeReadAsWritten(value)) {
    const unit = value.endsWith('ms') ? ' (FPM has no millisecond unit)' : '';
    return {
      code: 'fpm.time-misread',
      body: {
        message: `${directive.name} = ${value} is read by FPM as ${converted}s: only the last character is a unit (s, m, h, d) and the number before it is read up to its first character that is not a digit${unit}`,
        evidence: { value, seconds: converted as number },
        fix: `write a whole number with one unit, e.g. ${directive.name} = ${converted}s if that is what you mean`,
      },
    };
  }
  if (word !== undefined && TEXT_TYPES.has(directive.type)) {
    if (directive.name === 'security.limit_extensions') return undefined;
    const readAs = value === '' ? 'an empty value' : `"${value}"`;
    return {
      code: 'fpm.boolean-word',
      body: {
        message: `${directive.name} = ${word} is read by FPM as ${readAs}: PHP's INI scanner turns a bare yes, on or true into 1 and no, off, none, false or null into an empty value, in text directives too`,
        evidence: { word, value },
        fix: `quote the value: ${directive.name} = "${word}"`,
      },
    };
  }
  return undefined;
}

const ARRAY_FIELDS: Record<string, keyof PoolConfig> = {
  env: 'env',
  php_value: 'phpValue',
  php_admin_value: 'phpAdminValue',
  php_flag: 'phpFlag',
  php_admin_flag: 'phpAdminFlag',
};

function handleArray(
  state: LoadState,
  file: string,
  line: number,
  name: string,
  key: string,
  value: string,
): void {
  const where = `[${file}:${state.fpmLine}]`;
  const extra = { directive: `${name}[${key}]` };
  if (!existsInVersion('8.2', state.version)) {
    // Before 8.2 (no access.suppress_path): an empty key is "Misspelled array", checked first.
    if (key === '') {
      loadError(state, 'fpm.array-key-missing', file, line, `${where} Misspelled  array ?`, extra);
      return;
    }
  } else if (name === 'access.suppress_path') {
    let bad = false;
    if (key !== '') {
      loadError(
        state,
        'fpm.suppress-path-key',
        file,
        line,
        `${where} Keys provided to field 'access.suppress_path' are ignored`,
        extra,
      );
      bad = true;
    }
    if (!value.startsWith('/')) {
      loadError(
        state,
        'fpm.suppress-path-value',
        file,
        line,
        `${where} Values provided to field 'access.suppress_path' must begin with '/'`,
        extra,
      );
      bad = true;
    }
    if (bad) return;
  } else if (key === '') {
    loadError(
      state,
      'fpm.array-key-missing',
      file,
      line,
      `${where} You must provide a key for field '${name}'`,
      extra,
    );
    return;
  }
  const pool = state.current;
  if (!pool) {
    loadError(
      state,
      'fpm.array-in-global',
      file,
      line,
      `${where} Array are not allowed in the global section`,
      extra,
    );
    return;
  }
  if (name === 'access.suppress_path' && existsInVersion('8.2', state.version)) {
    pool.access.suppressPaths.push(expandPoolName(value, pool)!);
    return;
  }
  const field = ARRAY_FIELDS[name];
  if (!field) {
    loadError(
      state,
      'fpm.unknown-directive',
      file,
      line,
      `${where} unknown directive '${name}'`,
      extra,
    );
    return;
  }
  if (name === 'env' && value === '') {
    loadError(state, 'fpm.env-empty-value', file, line, `${where} empty value`, extra);
    return;
  }
  let stored: string | boolean;
  if (name === 'php_flag' || name === 'php_admin_flag') {
    const b = fpmBoolean(value, state.version);
    if (!b.ok) {
      loadError(
        state,
        'fpm.invalid-value',
        file,
        line,
        `${where} error while parsing '${name}[${key}]' : ${b.reason}`,
        extra,
      );
      return;
    }
    stored = b.value;
  } else {
    stored = expandPoolName(value, pool)!;
  }
  const record = pool[field] as Record<string, string | boolean>;
  // FPM keeps every entry and applies them first to last, so the first one of a key wins.
  const admin = name.startsWith('php_admin');
  const siblings =
    name === 'env'
      ? [record]
      : [pool[admin ? 'phpAdminValue' : 'phpValue'], pool[admin ? 'phpAdminFlag' : 'phpFlag']];
  if (siblings.some((r) => Object.hasOwn(r, key))) {
    state.findings.push({
      code: 'fpm.duplicate-array-key',
      severity: 'warning',
      message: `${name}[${key}] is set again; FPM applies the first value and ignores this one`,
      pool: pool.name,
      directive: `${name}[${key}]`,
      file,
      line,
      fix: 'remove the later entry',
    });
    return;
  }
  Object.defineProperty(record, key, {
    value: stored,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function handleSection(state: LoadState, name: string): void {
  if (name.toLowerCase() === 'global') {
    state.current = undefined;
    return;
  }
  const existing = state.poolIndex.get(name.toLowerCase());
  if (existing !== undefined) {
    state.current = state.config.pools[existing];
    return;
  }
  const pool = emptyPool(name);
  state.poolIndex.set(name.toLowerCase(), state.config.pools.length);
  state.config.pools.push(pool);
  state.locations.pools.push({});
  state.written.pools.push({});
  state.current = pool;
}

function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function resolveInclude(state: LoadState, pattern: string): string {
  if (pattern.startsWith('/') || pattern === '') return pattern;
  return `${state.options.prefix ?? DEBIAN_PHP_PREFIX}/${pattern}`;
}

function handleInclude(state: LoadState, file: string, line: number, rawPattern: string): boolean {
  const pattern = resolveInclude(state, rawPattern);
  const at = `from ${file} at line ${state.fpmLine}`;
  let matches: readonly string[];
  if (state.options.glob) {
    try {
      matches = state.options.glob(pattern);
    } catch (error) {
      loadError(
        state,
        'fpm.include-failed',
        file,
        line,
        `Unable to globalize '${pattern}' (ret=2) ${at}.`,
        {
          directive: 'include',
          evidence: { errno: errnoOf(error) ?? null },
          fix: 'make sure the directory of the include pattern exists and is readable',
        },
      );
      return false;
    }
  } else if (!hasWildcard(pattern)) {
    matches = [pattern];
  } else {
    state.findings.push({
      code: 'fpm.include-unresolved',
      severity: 'error',
      message: `include '${pattern}' ${at} was not followed: no glob function was given`,
      file,
      line,
      directive: 'include',
      fix: 'pass `glob` and `readFile` options, or use loadFpmConfig from fpmkit/host',
    });
    return false;
  }
  if (matches.length === 0) {
    state.findings.push({
      code: 'fpm.include-no-match',
      severity: 'warning',
      message: `Nothing matches the include pattern '${pattern}' ${at}.`,
      file,
      line,
      directive: 'include',
      evidence: { fpmMessage: `WARNING: Nothing matches the include pattern '${pattern}' ${at}.` },
    });
    return true;
  }
  for (const match of matches) {
    if (match.endsWith('/')) continue;
    const ok = loadFile(state, match, undefined, { file, line });
    if (!ok) {
      const includeLine = state.fpmLine;
      loadError(
        state,
        'fpm.include-failed',
        file,
        line,
        `Unable to include ${match} from ${file} at line ${includeLine}`,
        {
          directive: 'include',
        },
      );
      return false;
    }
  }
  return true;
}

/** The reason of a refused read, without the path its message starts with. */
function refusalReason(error: unknown, file: string): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message;
}

/** Reads one file into the state; false when FPM would abort loading. */
function loadFile(
  state: LoadState,
  file: string,
  text: string | undefined,
  includedFrom?: SourceLocation,
): boolean {
  if (text === undefined) {
    if (!state.options.readFile) {
      state.findings.push({
        code: 'fpm.include-unresolved',
        severity: 'error',
        message: `cannot read included file '${file}': no readFile function was given`,
        file,
        directive: 'include',
        fix: 'pass a `readFile` option, or use loadFpmConfig from fpmkit/host',
      });
      return false;
    }
    try {
      text = state.options.readFile(file);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno !== undefined && FPM_READ_REFUSALS.includes(errno)) {
        const from = includedFrom
          ? `; included from ${includedFrom.file} at line ${includedFrom.line}`
          : '';
        throw new FpmkitIoError(file, `${refusalReason(error, file)}${from}`, {
          cause: error,
          errno,
        });
      }
      const message = `failed to open configuration file '${file}': ${describeErrno(errnoOf(error))}`;
      state.findings.push({
        code: 'fpm.include-unreadable',
        severity: 'error',
        message,
        file,
        evidence: { fpmMessage: `ERROR: ${message}` },
      });
      return false;
    }
  }
  if (state.depth >= MAX_INCLUDE_DEPTH) {
    const message = 'failed to include more than 5 files recursively';
    state.findings.push({
      code: 'fpm.include-depth',
      severity: 'error',
      message,
      file,
      evidence: { fpmMessage: `ERROR: ${message}` },
    });
    return false;
  }
  state.depth++;
  try {
    return loadLines(state, file, text);
  } finally {
    state.depth--;
  }
}

function loadLines(state: LoadState, file: string, text: string): boolean {
  state.fpmLine = 0;
  let ok = true;
  /** FPM's line counter where it stopped reading this file: at its first error. */
  let stoppedAt: number | undefined;
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const physical = text.slice(start, end);
    start = end + 1;
    line++;
    state.fpmLine++;
    if (physical.length === 0) continue;
    const errorsBefore = state.findings.length;
    const { statements, syntaxError } = scanIniLine(physical, state.scan);
    let include: string | undefined;
    let twoIncludes = false;
    for (const st of statements) {
      if (st.kind === 'section') handleSection(state, st.name);
      else if (st.kind === 'array') handleArray(state, file, line, st.name, st.key, st.value);
      else {
        const inc = handleEntry(state, file, line, st.name, st.value, st.word);
        if (inc !== undefined) {
          if (include !== undefined) twoIncludes = true;
          include = inc;
        }
      }
    }
    if (syntaxError) {
      const message = `PHP:  ${syntaxError}`;
      if (!state.collect) {
        throw new FpmkitParseError(`${syntaxError} (FPM reports: ${message})`, {
          source: file,
          line,
          lineText: physical,
        });
      }
      state.findings.push({
        code: 'fpm.syntax',
        severity: 'error',
        message: syntaxError,
        file,
        line,
        ...(state.current ? { pool: state.current.name } : {}),
        evidence: { fpmMessage: message, lineText: physical },
        fix: 'quote values containing = ; " or spaces around quotes, and close every [ ] and " on the same line',
      });
      ok = false;
    }
    if (twoIncludes) {
      loadError(
        state,
        'fpm.include-twice',
        file,
        line,
        `[${file}:${state.fpmLine}] two includes at the same time !`,
        {
          directive: 'include',
        },
      );
    }
    for (let i = errorsBefore; i < state.findings.length; i++)
      if (state.findings[i]!.severity === 'error') ok = false;
    if (include !== undefined && !twoIncludes && !handleInclude(state, file, line, include))
      ok = false;
    if (!ok) stoppedAt ??= state.fpmLine;
  }
  // FPM reads until read(2) returns nothing, counting one line more than the file's newlines
  // (`fpm_conf_load_ini_file`); the counter is shared, so an including file goes on from there.
  state.fpmLine = stoppedAt ?? newlines(text) + 1;
  return ok;
}

function newlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++;
  return count;
}

function makeScanContext(options: ParseFpmConfigOptions, version: FpmPhpVersion): IniScanContext {
  const changes = FPM_VERSION_FACTS[version].constantChanges;
  const constants =
    options.constants ??
    (Object.keys(changes).length === 0 ? PHP_FPM_CONSTANTS : { ...PHP_FPM_CONSTANTS, ...changes });
  const ini = options.iniDirectives ?? {};
  const env = options.env ?? {};
  return {
    variable: (name) =>
      Object.hasOwn(ini, name) ? ini[name]! : Object.hasOwn(env, name) ? (env[name] ?? '') : '',
    constant: (name) => phpConstantValue(name, constants),
    fallbacks: FPM_VERSION_FACTS[version].iniFallbacks,
    isSet: (name) =>
      Object.hasOwn(ini, name) || (Object.hasOwn(env, name) && env[name] !== undefined),
  };
}

/** @internal Loads a configuration; in collecting mode syntax errors become findings. */
export function loadFpmConfigText(
  text: string,
  options: ParseFpmConfigOptions,
  collect: boolean,
): ParseFpmConfigResult {
  if (typeof text !== 'string') {
    throw new FpmkitInvalidOptionError('text', 'must be the configuration text as a string');
  }
  const version =
    options.phpVersion === undefined
      ? DEFAULT_FPM_PHP_VERSION
      : parseFpmPhpVersion(options.phpVersion);
  const state: LoadState = {
    config: { global: emptyGlobal(), pools: [] },
    current: undefined,
    poolIndex: new Map(),
    findings: [],
    locations: { global: {}, pools: [] },
    written: { global: {}, pools: [] },
    depth: 0,
    fpmLine: 0,
    scan: makeScanContext(options, version),
    build: { ...DEBIAN_LINUX_BUILD, ...options.build },
    version,
    options,
    collect,
  };
  loadFile(state, options.path ?? 'php-fpm.conf', text);
  return {
    config: state.config,
    findings: state.findings,
    locations: state.locations,
    written: state.written,
  };
}

/**
 * Parses a php-fpm configuration exactly as FPM reads it (8.2's, or `options.phpVersion`'s): one line at a time through PHP's
 * INI parser, `;` comments (`#` is an error), case-insensitive scalar names, `$pool` and
 * `${ENV}`, FPM's time and boolean rules, includes in sorted order with the section carried
 * across them, re-opened sections merged, the last scalar and the first array key winning.
 *
 * Returns the model of what the file sets (absent means FPM's default) and the load-time
 * findings: FPM's own errors (unknown entries, values it refuses) with its message texts, and
 * warnings for quirks. Throws `FpmkitParseError` with file and line for an INI syntax error,
 * and `FpmkitIoError` when `readFile` refuses an included file (see `FPM_READ_REFUSALS`).
 *
 * @example
 * const { config } = parseFpmConfig('[www]\nlisten = /run/php/www.sock\npm = static\npm.max_children = 8\n');
 * config.pools[0].pm.maxChildren; // 8
 */
export function parseFpmConfig(
  text: string,
  options: ParseFpmConfigOptions = {},
): ParseFpmConfigResult {
  return loadFpmConfigText(text, options, false);
}

/**
 * Result of {@link safeParseFpmConfig}: the parse result, or the parse error instead of a throw.
 */
export type SafeParseFpmConfigResult = SafeResult<ParseFpmConfigResult, FpmkitParseError>;

/** `parseFpmConfig` that returns the syntax error instead of throwing it. */
export function safeParseFpmConfig(
  text: string,
  options: ParseFpmConfigOptions = {},
): SafeParseFpmConfigResult {
  try {
    return { success: true, data: parseFpmConfig(text, options) };
  } catch (error) {
    if (error instanceof FpmkitParseError) return { success: false, error };
    throw error;
  }
}

export type { GlobalConfig };
