/** A configuration given to examine whose master is not running. */
import type { FpmLogRecord } from '../../logs/fpm-log.js';
import { type LiveContext, report } from './context.js';
import { printable } from './masters.js';

/** How many of FPM's last error lines the finding quotes. */
const LAST_ERRORS = 3;

/**
 * `live.fpm-not-running`: a configuration on a live host with no master running it. Not
 * reported (the report says why) when that cannot be told, nor when its pid file names a
 * running master that the process list did not show.
 */
export function fpmNotRunning(ctx: LiveContext): void {
  if (ctx.snapshot.origin !== 'live') return;
  for (const { master, records } of ctx.fpmLogs) {
    if (master.pid !== undefined) continue;
    if (master.running?.state === 'pid-file') continue;
    if (master.running?.state === 'unknown') {
      ctx.missing.push({
        part: `live.fpm-not-running (${master.configPath})`,
        reason: `whether a master runs this configuration could not be told: ${master.running.reason}`,
      });
      continue;
    }
    const lastErrors = records
      .filter((r: FpmLogRecord) => r.level === 'ERROR' || r.level === 'ALERT')
      .slice(-LAST_ERRORS)
      .map((r) => printable(r.raw));
    const last = records.at(-1);
    const pools = master.pools.map((p) => p.name);
    const sockets = master.pools.flatMap((p) =>
      p.config?.listen.address === undefined ? [] : [p.config.listen.address],
    );
    report(ctx, 'live.fpm-not-running', {
      message: `No PHP-FPM master runs ${master.configPath}: its pool(s) ${pools.join(', ') || '(none)'} serve nothing, so every request for them fails`,
      file: master.configPath,
      evidence: {
        configPath: master.configPath,
        pools,
        listen: sockets,
        ...(last?.date === undefined ? {} : { lastLogLineAt: last.date.toISOString() }),
        ...(lastErrors.length === 0 ? {} : { lastErrors }),
        ...(master.errorLog.ok
          ? { errorLog: master.errorLog.value.path }
          : { errorLog: `not read: ${master.errorLog.reason}` }),
      },
      fix: `Start FPM with this configuration (systemctl start php-fpm's unit, or php-fpm -y ${master.configPath}); test it first with php-fpm -t -y ${master.configPath}${lastErrors.length > 0 ? ', and read the errors above: they say why it stopped' : ''}.`,
    });
  }
}
