/**
 * The PHP versions whose FPM fpmkit models, and what differs between them: which directives
 * exist, what `php-fpm -t` checks, how booleans are read, and which status fields and formats
 * the status page has. Each fact names the php-src file or NEWS/UPGRADING entry it comes from;
 * docs/fpm-config.md lists which source tree each version's facts were read from.
 */
import { FpmkitInvalidOptionError } from '../errors.js';

/** The PHP minor versions fpmkit decides as, oldest first. */
export const FPM_PHP_VERSIONS = ['8.0', '8.1', '8.2', '8.3', '8.4'] as const;
/** A PHP minor version fpmkit knows FPM's behaviour for (see {@link FPM_PHP_VERSIONS}). */
export type FpmPhpVersion = (typeof FPM_PHP_VERSIONS)[number];

/** The version decided as when none is given: Debian 12's php-fpm. */
export const DEFAULT_FPM_PHP_VERSION: FpmPhpVersion = '8.2';

/** What one FPM version does differently, as far as fpmkit's checks and parsers see it. */
export interface FpmVersionFacts {
  /**
   * `-t` looks up `user`, `group`, `listen.owner` and `listen.group` (`fpm_unix_test_config`,
   * PHP 8.2.2's fix of bug #68591); older versions find a missing account only at start.
   */
  testChecksAccounts: boolean;
  /**
   * `-t` refuses a UNIX `listen` path of `sun_path`'s size or longer (8.3: "FPM CLI test now
   * fails if the socket path is longer than supported by OS", UPGRADING).
   */
  testChecksSocketPathLength: boolean;
  /**
   * A boolean directive also takes the words `yes`/`true`/`on` and `no`/`false`/`off`/`none`
   * when they reach FPM as text (quoted, or from `${VAR}`): `fpm_conf_set_boolean` since the
   * fix of GH-13563 (8.2.19, 8.3.7). 8.0 and 8.1 take only what PHP's INI scanner makes of
   * the bare words, `1` and the empty string.
   */
  booleanWords: boolean;
  /**
   * Values may hold `${NAME:-fallback}`, the fallback used when `NAME` is unset
   * (`TC_FALLBACK` in `Zend/zend_ini_parser.y` of 8.3 and 8.4; 8.2's reads `NAME:-fallback`
   * as one name).
   */
  iniFallbacks: boolean;
  /**
   * Constants whose value differs from 8.2's table (`PHP_FPM_CONSTANTS`), as a bare word in a
   * value reads them: 8.4 removed the E_STRICT level, so `E_ALL` is 30719 (UPGRADING 8.4).
   */
  constantChanges: Readonly<Record<string, string>>;
  /** The status page has the `openmetrics` format (added in 8.1, UPGRADING). */
  statusOpenMetrics: boolean;
  /** The status page has `memory peak` in every format (added in 8.4, UPGRADING). */
  statusMemoryPeak: boolean;
}

/** The facts of each version, from php-src's sources of that version. */
export const FPM_VERSION_FACTS: Readonly<Record<FpmPhpVersion, Readonly<FpmVersionFacts>>> = {
  '8.0': {
    constantChanges: {},
    iniFallbacks: false,
    testChecksAccounts: false,
    testChecksSocketPathLength: false,
    booleanWords: false,
    statusOpenMetrics: false,
    statusMemoryPeak: false,
  },
  '8.1': {
    constantChanges: {},
    iniFallbacks: false,
    testChecksAccounts: false,
    testChecksSocketPathLength: false,
    booleanWords: false,
    statusOpenMetrics: true,
    statusMemoryPeak: false,
  },
  '8.2': {
    constantChanges: {},
    iniFallbacks: false,
    testChecksAccounts: true,
    testChecksSocketPathLength: false,
    booleanWords: true,
    statusOpenMetrics: true,
    statusMemoryPeak: false,
  },
  '8.3': {
    constantChanges: {},
    iniFallbacks: true,
    testChecksAccounts: true,
    testChecksSocketPathLength: true,
    booleanWords: true,
    statusOpenMetrics: true,
    statusMemoryPeak: false,
  },
  '8.4': {
    constantChanges: { E_ALL: '30719' },
    iniFallbacks: true,
    testChecksAccounts: true,
    testChecksSocketPathLength: true,
    booleanWords: true,
    statusOpenMetrics: true,
    statusMemoryPeak: true,
  },
};

const VERSION_RE = /(?:^|[^\d.])(\d+)\.(\d+)(?:\.\d+)?/;

/**
 * Reads a PHP version as fpmkit decides by it: `8.4`, `8.4.27`, or the first line of
 * `php-fpm -v` (`PHP 8.4.27 (fpm-fcgi) (built: ...)`), to its minor version. Throws
 * `FpmkitInvalidOptionError` (option `phpVersion`) for text with no version, and for a
 * version outside 8.0 to 8.4.
 */
export function parseFpmPhpVersion(text: string, option = 'phpVersion'): FpmPhpVersion {
  const m = typeof text === 'string' ? VERSION_RE.exec(text) : null;
  if (!m) throw new FpmkitInvalidOptionError(option, 'must be a PHP version such as 8.4');
  const minor = `${Number(m[1])}.${Number(m[2])}`;
  if (!(FPM_PHP_VERSIONS as readonly string[]).includes(minor)) {
    throw new FpmkitInvalidOptionError(
      option,
      `PHP ${minor} is not one fpmkit models; use one of ${FPM_PHP_VERSIONS.join(', ')}`,
    );
  }
  return minor as FpmPhpVersion;
}

/** Orders two `MAJOR.MINOR` versions: negative when `a` is older. `old` is older than any. */
export function compareFpmPhpVersions(a: string, b: string): number {
  const parts = (v: string) => (v === 'old' ? [0, 0] : v.split('.').map(Number));
  const [am = 0, an = 0] = parts(a);
  const [bm = 0, bn = 0] = parts(b);
  return am - bm || an - bn;
}

/** True when a directive introduced in `since` (`old`, `7.3`, `8.1` ...) exists in `version`. */
export function existsInVersion(since: string, version: FpmPhpVersion): boolean {
  return compareFpmPhpVersions(since, version) <= 0;
}
