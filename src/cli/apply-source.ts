import { resolve } from 'node:path';
import { FpmkitInvalidOptionError } from '../errors.js';
import type { FpmEdit } from '../fpm/edit.js';
import {
  FPM_IDENTITY_DIRECTIVES,
  type FpmEditSkipped,
  fpmEditsToMatch,
  parseFpmTarget,
} from '../host/apply-from.js';
import { loadFpmConfig } from '../host/fpm-config.js';
import { readRegularFileSync } from '../host/safe-read.js';
import { trustedOwners } from '../host/trust.js';

/** What `fpmkit apply --from FILE` found in the file. */
export interface ApplySource {
  /** `plan`: `fpmkit plan --json`; `doctor`: `fpmkit doctor --json`; `fpm`: an FPM file. */
  kind: 'plan' | 'doctor' | 'fpm';
  edits: FpmEdit[];
  skipped: FpmEditSkipped[];
  /** Files of the source that `apply` does not write (sysctl, systemd, nginx, php.ini). */
  notApplied: { name: string; how: string }[];
}

/** What the options of `--from` say. */
export interface ApplySourceOptions {
  from: string;
  configPath: string;
  /** `--pool`: the running pool a single-pool plan is applied to. */
  pool?: string | undefined;
  /**
   * `--include-identity`: also apply user, group, listen and listen.* from the source (a plan,
   * a doctor report or an FPM file alike).
   */
  includeIdentity: boolean;
  prefix?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
}

/** A plan or doctor report is at most a few hundred kilobytes; this bounds a wrong file. */
const MAX_SOURCE_BYTES = 16 * 1024 * 1024;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The FPM text and the other files of a `plan --json` or `doctor --json` document. */
function fromJson(
  doc: Record<string, unknown>,
  options: ApplySourceOptions,
): { kind: 'plan' | 'doctor'; texts: string[]; notApplied: ApplySource['notApplied'] } {
  if (Array.isArray(doc.files) && isRecord(doc.plan)) {
    const files = doc.files.filter(isRecord);
    return {
      kind: 'plan',
      texts: files.filter((f) => f.kind === 'fpm-pool').map((f) => String(f.content)),
      notApplied: files
        .filter((f) => f.kind !== 'fpm-pool')
        .map((f) => ({ name: String(f.path), how: String(f.description) })),
    };
  }
  if (Array.isArray(doc.findings) && isRecord(doc.files)) {
    const entries = Object.entries(doc.files).filter(([, v]) => typeof v === 'string');
    const fpm = entries.filter(([name]) => name.startsWith('php-fpm.conf ('));
    const own = fpm.filter(([name]) => name === `php-fpm.conf (${resolve(options.configPath)})`);
    const chosen = own.length > 0 ? own : fpm.length === 1 ? fpm : [];
    if (fpm.length > 1 && own.length === 0) {
      throw new FpmkitInvalidOptionError(
        'from',
        `${options.from} holds fixes for ${fpm.map(([n]) => n).join(', ')}; none is --config ${options.configPath}`,
      );
    }
    return {
      kind: 'doctor',
      texts: chosen.map(([, text]) => text as string),
      notApplied: entries
        .filter(([name]) => !name.startsWith('php-fpm.conf ('))
        .map(([name]) => ({
          name,
          how: name.startsWith('sysctl.d/') ? 'write it and run sysctl -p FILE' : 'write it',
        })),
    };
  }
  throw new FpmkitInvalidOptionError(
    'from',
    `${options.from} is JSON but neither the output of fpmkit plan --json nor of fpmkit doctor --json`,
  );
}

/**
 * Reads `--from FILE` (`-` is not supported: the file is read twice over a run) and turns it
 * into edits of the running configuration: only the directives whose value differs. The file
 * must be owned by root or the user running fpmkit (`trustedOwners`) and not writable by its
 * group or others, else an `FpmkitIoError` (errno `EPERM`) names it. The pool identity (user,
 * group, listen and its owner, group and mode) is left alone unless `includeIdentity`, whatever
 * the kind of source.
 */
export function readApplySource(options: ApplySourceOptions): ApplySource {
  const text = readRegularFileSync(options.from, {
    maxBytes: MAX_SOURCE_BYTES,
    owners: trustedOwners(),
    refuseSharedWrite: true,
  });
  let doc: unknown;
  try {
    doc = text.trimStart().startsWith('{') ? JSON.parse(text) : undefined;
  } catch (error) {
    throw new FpmkitInvalidOptionError(
      'from',
      `${options.from} is not valid JSON: ${(error as Error).message}`,
    );
  }
  const source = isRecord(doc)
    ? fromJson(doc, options)
    : { kind: 'fpm' as const, texts: [text], notApplied: [] };
  const current = loadFpmConfig(options.configPath, {
    env: options.env,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  const edits: FpmEdit[] = [];
  const skipped: FpmEditSkipped[] = [];
  for (const [i, fpmText] of source.texts.entries()) {
    const label = source.texts.length > 1 ? `${options.from} (FPM file ${i + 1})` : options.from;
    const target = parseFpmTarget(fpmText, label, 'from');
    if (options.pool !== undefined && target.config.pools.length !== 1) {
      throw new FpmkitInvalidOptionError(
        'pool',
        `${label} has ${target.config.pools.length} pools; --pool needs exactly one`,
      );
    }
    const pools =
      options.pool === undefined ? undefined : { [target.config.pools[0]!.name]: options.pool };
    const identity = !options.includeIdentity;
    const found = fpmEditsToMatch(current, target, {
      ...(pools ? { pools } : {}),
      ...(identity ? { skip: FPM_IDENTITY_DIRECTIVES } : {}),
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    });
    edits.push(...found.edits);
    skipped.push(...found.skipped);
  }
  return { kind: source.kind, edits, skipped, notApplied: source.notApplied };
}
