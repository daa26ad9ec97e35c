import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { formatFpmString, scanFpmLine, splitFpmLines } from '../fpm/edit.js';
import { phpConstantValue } from '../fpm/php-constants.js';
import { FpmkitApplyRejectedError } from './apply-errors.js';
import { checkFpmConfigFile } from './fpm-config.js';

/** SHA-256 of a text as UTF-8, hex. */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** How long `php-fpm -t` may run, in milliseconds. */
const FPM_TEST_TIMEOUT_MS = 20_000;

/**
 * Rewrites every `include` line of a file so that it points into the staged tree: the pattern
 * (relative ones resolved against the prefix, as FPM does) prefixed with the staging directory.
 * Every other byte is kept.
 */
export function pointIncludesInto(
  text: string,
  stageDir: string,
  prefix: string,
  env: Readonly<Record<string, string | undefined>>,
): string {
  const ctx = {
    variable: (name: string) => (Object.hasOwn(env, name) ? (env[name] ?? '') : ''),
    constant: (name: string) => phpConstantValue(name),
  };
  return splitFpmLines(text)
    .map(({ text: line, eol }) => {
      const scanned = scanFpmLine(line, ctx);
      const inc = scanned.statements.find((s) => s.kind === 'entry' && s.name === 'include');
      if (inc?.kind !== 'entry' || inc.value === null) return line + eol;
      const absolute = isAbsolute(inc.value) ? inc.value : join(prefix, inc.value);
      return `include = ${formatFpmString(stageDir + absolute)}${eol}`;
    })
    .join('');
}

/** What a validation of the staged configuration decided. */
export interface StagedValidation {
  ok: boolean;
  /** `php-fpm`: the master's binary ran `-t`; `fpmkit`: no binary, fpmkit's own check ran. */
  validator: 'php-fpm' | 'fpmkit';
  /** The binary that ran, for `php-fpm`. */
  binary?: string;
  output: string;
}

/** Options of `validateStagedFpmConfig`. */
export interface ValidateStagedOptions {
  /** The main file's real path. */
  mainPath: string;
  /** Every file of the configuration, real path → text as it would be after the change. */
  files: ReadonlyMap<string, string>;
  /** The global prefix (`-p`) the master runs with. */
  prefix: string;
  /** The php-fpm binary to run `-t` with; without one fpmkit's own check decides. */
  binary?: string | undefined;
  /** Extra arguments the master was started with (`-R`, `-c FILE`, `-d K=V`, `-n`). @default [] */
  extraArgs?: readonly string[] | undefined;
  env?: Readonly<Record<string, string | undefined>> | undefined;
}

/**
 * Validates a changed configuration before any live file is touched. FPM's `-t` reads the
 * main file and follows its includes from their real paths, so a changed included file cannot
 * be tested in place. Instead the whole loaded tree is copied under a fresh temporary
 * directory at the same paths (`/tmp/X/etc/php/8.2/fpm/pool.d/www.conf`), each `include` line
 * of the copies pointed into that tree, and `php-fpm -t -y /tmp/X/<main> -p <prefix>` run with
 * the master's own binary and arguments. Everything else a pool names (log files, chroot,
 * sockets' directories, users) keeps its real path, so FPM checks it against the real host.
 */
export async function validateStagedFpmConfig(
  options: ValidateStagedOptions,
): Promise<StagedValidation> {
  const stageDir = mkdtempSync(join(tmpdir(), 'fpmkit-apply-stage-'));
  const env = options.env ?? {};
  try {
    for (const [path, text] of options.files) {
      const staged = join(stageDir, path);
      mkdirSync(dirname(staged), { recursive: true, mode: 0o700 });
      writeFileSync(staged, pointIncludesInto(text, stageDir, options.prefix, env), {
        mode: 0o600,
      });
    }
    const stagedMain = join(stageDir, options.mainPath);
    if (!options.binary) {
      const result = checkFpmConfigFile(stagedMain, { prefix: options.prefix });
      const output = result.findings
        .filter((f) => f.severity === 'error')
        .map((f) => `ERROR: ${f.message}`)
        .join('\n');
      return { ok: result.ok, validator: 'fpmkit', output };
    }
    const args = ['-t', '-y', stagedMain, '-p', options.prefix, ...(options.extraArgs ?? [])];
    const { code, output } = await new Promise<{ code: number | null; output: string }>(
      (resolve) => {
        execFile(
          options.binary!,
          args,
          { timeout: FPM_TEST_TIMEOUT_MS, env: { ...process.env, ...env } as NodeJS.ProcessEnv },
          (error, stdout, stderr) => {
            const c = error ? ((error as { code?: unknown }).code ?? null) : 0;
            resolve({ code: typeof c === 'number' ? c : null, output: `${stdout}${stderr}` });
          },
        );
      },
    );
    return {
      ok: code === 0,
      validator: 'php-fpm',
      binary: options.binary,
      output: output.split(stageDir).join(''),
    };
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
  }
}

/** Throws `FpmkitApplyRejectedError` for a refused validation. */
export function assertValid(result: StagedValidation): void {
  if (!result.ok) throw new FpmkitApplyRejectedError(result.validator, result.output);
}
