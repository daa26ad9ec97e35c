/** The files the fixes would write, rendered once the checks have suggested their changes. */
import { renderFpmConfig } from '../../fpm/render.js';
import type { FpmConfig } from '../../fpm/schema.js';
import { renderSysctlConf } from '../../kernel/settings.js';
import type { SnapshotMaster } from '../snapshot.js';
import type { LiveContext } from './context.js';

function withChanges(
  config: FpmConfig,
  backlogs: Map<string, number>,
  processControlTimeoutSeconds: number | undefined,
): FpmConfig {
  return {
    ...config,
    global:
      processControlTimeoutSeconds === undefined
        ? config.global
        : { ...config.global, processControlTimeoutSeconds },
    pools: config.pools.map((p) => {
      const backlog = backlogs.get(p.name);
      return backlog === undefined ? p : { ...p, listen: { ...p.listen, backlog } };
    }),
  };
}

function renderMaster(
  ctx: LiveContext,
  master: SnapshotMaster,
  backlogs: Map<string, number>,
): void {
  if (!master.config.ok) return;
  const name = `php-fpm.conf (${master.configPath})`;
  try {
    const next = withChanges(
      master.config.value,
      backlogs,
      ctx.suggested.processControlTimeoutSeconds,
    );
    ctx.files[name] = renderFpmConfig(next);
  } catch (error) {
    // The fix is still in the findings; say why its file is not in the report.
    ctx.missing.push({
      part: `rendered ${name}`,
      reason: (error as Error)?.message ?? String(error),
    });
  }
}

/** Renders the FPM configurations and the sysctl file the suggested changes give. */
export function renderFixFiles(ctx: LiveContext): void {
  for (const [master, backlogs] of ctx.suggested.backlogs) renderMaster(ctx, master, backlogs);
  const somaxconn = ctx.suggested.somaxconn;
  if (somaxconn !== undefined) {
    ctx.files['sysctl.d/60-php-fpm.conf'] = renderSysctlConf({ somaxconn });
  }
}
