/**
 * The changes the fixes suggest, as files: for each FPM file, the lines to change (by line
 * number, or the section to add them to), and the sysctl file. The configuration is not printed
 * flattened: a person edits the file and line the parser says FPM reads the value from.
 */
import { renderSysctlConf } from '../../kernel/settings.js';
import type { SnapshotMaster } from '../snapshot.js';
import type { LiveContext } from './context.js';
import { applyWord, fixPlace } from './where.js';

/** The `Report.files` key of the line list for one FPM file. */
export function changesFileName(file: string): string {
  return `changes to ${file}`;
}

function addChange(
  ctx: LiveContext,
  master: SnapshotMaster,
  section: string,
  directive: string,
  value: string,
): string {
  const place = fixPlace(master, section, directive);
  const name = changesFileName(place.file);
  const where =
    place.line === undefined ? `add to [${section}]` : `line ${place.line} ([${section}])`;
  ctx.files[name] = `${ctx.files[name] ?? ''}${where}: ${directive} = ${value}\n`;
  return name;
}

/** Renders the lines to change in each FPM file, and the sysctl file, the fixes suggest. */
export function renderFixFiles(ctx: LiveContext): void {
  const pct = ctx.suggested.processControlTimeoutSeconds;
  for (const [master, backlogs] of ctx.suggested.backlogs) {
    if (!master.config.ok) continue;
    const changes: { section: string; directive: string }[] = [];
    const touched = new Set<string>();
    for (const [pool, backlog] of backlogs) {
      touched.add(addChange(ctx, master, pool, 'listen.backlog', String(backlog)));
      changes.push({ section: pool, directive: 'listen.backlog' });
    }
    if (pct !== undefined) {
      touched.add(addChange(ctx, master, 'global', 'process_control_timeout', `${pct}s`));
      changes.push({ section: 'global', directive: 'process_control_timeout' });
    }
    for (const name of touched) ctx.files[name] += `then ${applyWord(changes)}\n`;
  }
  const somaxconn = ctx.suggested.somaxconn;
  if (somaxconn !== undefined) {
    ctx.files['sysctl.d/60-php-fpm.conf'] = renderSysctlConf({ somaxconn });
  }
}
