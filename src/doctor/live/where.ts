/**
 * Where a fix is made: the file and line FPM takes a directive from (the parser's locations),
 * or, for a directive set nowhere, the file of the pool's `listen` line, where it is added.
 */
import type { SourceLocation } from '../../fpm/parse.js';
import { fpmApplyActionForChanges } from '../../fpm/reload-table.js';
import type { SnapshotMaster } from '../snapshot.js';

/** The place to change `directive` of `pool` (a pool name, or `global`). */
export interface FixPlace {
  file: string;
  /** The line that sets it now; undefined when it is set nowhere and is to be added. */
  line?: number;
}

/** Where `directive` of `section` (a pool name or `global`) is set, else where to add it. */
export function fixPlace(master: SnapshotMaster, section: string, directive: string): FixPlace {
  const locations = master.configLocations;
  const pools = master.config.ok ? master.config.value.pools : [];
  let at: SourceLocation | undefined;
  let anchor: SourceLocation | undefined;
  if (section === 'global') at = locations?.global[directive];
  else {
    const index = pools.findIndex((p) => p.name === section);
    const pool = index < 0 ? undefined : locations?.pools[index];
    at = pool?.[directive];
    anchor = pool?.listen ?? Object.values(pool ?? {})[0];
  }
  if (at !== undefined) return { file: at.file, line: at.line };
  return { file: anchor?.file ?? master.configPath };
}

/** `in FILE line N` or `add to FILE (in [pool])`, for a fix text. */
export function describePlace(place: FixPlace, section: string): string {
  return place.line !== undefined
    ? `${place.file} line ${place.line}`
    : `${place.file} (add it to [${section}])`;
}

/** A fix line for one directive: where to set it and to what. */
export function setAt(
  master: SnapshotMaster,
  section: string,
  directive: string,
  value: string | number,
): string {
  return `${directive} = ${value} in ${describePlace(fixPlace(master, section, directive), section)}`;
}

/** `restart FPM (a reload keeps ...)` or `reload FPM`, from the reload table. */
export function applyWord(changes: readonly { section: string; directive: string }[]): string {
  return fpmApplyActionForChanges(changes) === 'restart'
    ? 'restart FPM (stop and start the master: a reload keeps the listening socket as it was)'
    : 'reload FPM (SIGUSR2, e.g. systemctl reload)';
}
