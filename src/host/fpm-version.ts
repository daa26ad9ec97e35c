/**
 * The PHP version of a php-fpm binary, for reading its configuration as that version does.
 */
import { execFile } from 'node:child_process';
import { basename } from 'node:path';
import { type FpmPhpVersion, parseFpmPhpVersion } from '../fpm/versions.js';

/** How long `php-fpm -v` may run, milliseconds. */
export const FPM_VERSION_TIMEOUT_MS = 5000;

/**
 * The PHP version of a php-fpm binary: from its name when it carries one (`php-fpm8.4`, as
 * Debian and Ubuntu name them), else from the first line of `BINARY -v` (`PHP 8.4.27
 * (fpm-fcgi) ...`). Undefined when neither tells a version fpmkit models. Only run it on a
 * binary trusted as FPM (`checkMasterTrust`) that may be run (`checkExecutableRun`); with
 * `run: false` (default true) the name alone is read.
 */
export async function readFpmBinaryVersion(
  executable: string,
  options: { run?: boolean | undefined } = {},
): Promise<FpmPhpVersion | undefined> {
  const named = /^php-fpm(\d+\.\d+)$/.exec(basename(executable));
  if (named) {
    try {
      return parseFpmPhpVersion(named[1]!);
    } catch {}
  }
  if (options.run === false) return undefined;
  const output = await new Promise<string | undefined>((resolve) => {
    execFile(
      executable,
      ['-v'],
      { timeout: FPM_VERSION_TIMEOUT_MS, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } },
      (error, stdout) => resolve(error ? undefined : stdout),
    );
  });
  const first = output?.split('\n')[0];
  if (first === undefined || !/^PHP \d/.test(first)) return undefined;
  try {
    return parseFpmPhpVersion(first);
  } catch {
    return undefined;
  }
}
