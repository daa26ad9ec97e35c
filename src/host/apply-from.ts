import { FpmkitInvalidOptionError } from '../errors.js';
import { effectiveFpmConfig, type FpmDump } from '../fpm/dump.js';
import type { FpmEdit } from '../fpm/edit.js';
import { type ParseFpmConfigResult, parseFpmConfig } from '../fpm/parse.js';

/**
 * Turning a configuration fpmkit rendered (a plan's pool file, a doctor fix) into edits of the
 * files a master runs with, so `applyFpmChanges` changes only what differs and keeps every
 * other line, comment and include as it is.
 */

/**
 * A pool's identity: where it listens and who it runs as. A plan names these from its own
 * inputs (`--user`, `--listen`), not from the host, so applying a plan leaves them alone.
 */
export const FPM_IDENTITY_DIRECTIVES: readonly string[] = [
  'user',
  'group',
  'listen',
  'listen.owner',
  'listen.group',
  'listen.mode',
  'listen.acl_users',
  'listen.acl_groups',
  'prefix',
  'chroot',
  'chdir',
];

/** Options of {@link fpmEditsToMatch}. */
export interface FpmEditsToMatchOptions {
  /**
   * The pool of the running configuration each target pool is applied to, by target pool name
   * (a plan made for `shop` applied to `[customer42]`). @default each pool by its own name
   */
  pools?: Readonly<Record<string, string>> | undefined;
  /** Directives the target writes that are left as they are (reported as skipped). @default [] */
  skip?: readonly string[] | undefined;
  /** The global prefix both configurations are read with (`-p`). @default FPM's compiled one */
  prefix?: string | undefined;
}

/** A directive the target sets that was not turned into an edit, and why. */
export interface FpmEditSkipped {
  section: string;
  directive: string;
  /** The value the target writes, as `php-fpm -tt` would print it. */
  value: string;
  reason: string;
}

/** The edits {@link fpmEditsToMatch} found, and what it left alone. */
export interface FpmEditsToMatch {
  edits: FpmEdit[];
  skipped: FpmEditSkipped[];
}

const valuesOf = (dump: FpmDump, section: string): Record<string, string> | undefined =>
  section === 'global'
    ? dump.global
    : dump.pools.find((p) => p.name.toLowerCase() === section.toLowerCase())?.values;

/**
 * The edits that make `current` (the configuration a master runs with) agree with every
 * directive `target` writes: for each directive written in a target section (scalars, and
 * `php_value[...]`, `env[...]` and the other arrays), an edit when its effective value (as
 * `php-fpm -tt` prints it) differs from the running one. Directives the target does not write
 * are left alone; nothing is removed. A target pool the running configuration lacks still gets
 * its edits, so `applyFpmChanges` refuses it by name.
 */
export function fpmEditsToMatch(
  current: ParseFpmConfigResult,
  target: ParseFpmConfigResult,
  options: FpmEditsToMatchOptions = {},
): FpmEditsToMatch {
  const effective = { ...(options.prefix === undefined ? {} : { prefix: options.prefix }) };
  const now = effectiveFpmConfig(current.config, { ...effective, written: current.written });
  const next = effectiveFpmConfig(target.config, { ...effective, written: target.written });
  const skip = new Set(options.skip ?? []);
  const edits: FpmEdit[] = [];
  const skipped: FpmEditSkipped[] = [];
  const sections: { from: string; written: Record<string, string> }[] = [
    { from: 'global', written: target.written.global },
    ...target.config.pools.map((p, i) => ({
      from: p.name,
      written: target.written.pools[i] ?? {},
    })),
  ];
  for (const { from, written } of sections) {
    const section = from === 'global' ? 'global' : (options.pools?.[from] ?? from);
    const wanted = valuesOf(next, from) ?? {};
    const running = valuesOf(now, section);
    const names = [
      ...Object.keys(written),
      ...Object.keys(wanted).filter((k) => k.includes('[') && !(k in written)),
    ];
    for (const directive of names) {
      const value = wanted[directive] ?? written[directive]!;
      if (running && running[directive] === value) continue;
      if (skip.has(directive)) {
        skipped.push({ section, directive, value, reason: 'in skip: left as it is' });
        continue;
      }
      // A scalar is written as the target wrote it; an array entry as FPM holds it.
      edits.push({ section, directive, value: written[directive] ?? value });
    }
  }
  return { edits, skipped };
}

/**
 * Reads a configuration fpmkit rendered (no includes) as the target of
 * {@link fpmEditsToMatch}. A syntax error throws `FpmkitParseError` naming `source` and the
 * line; another load error FPM reports throws `FpmkitInvalidOptionError` naming `option`. What
 * only `php-fpm -t` refuses is left to the validation of the staged files.
 */
export function parseFpmTarget(text: string, source: string, option: string): ParseFpmConfigResult {
  const parsed = parseFpmConfig(text, { path: source });
  const error = parsed.findings.find((f) => f.severity === 'error');
  if (error) {
    throw new FpmkitInvalidOptionError(
      option,
      `${source}${error.line === undefined ? '' : `:${error.line}`}: ${error.message}`,
    );
  }
  return parsed;
}
