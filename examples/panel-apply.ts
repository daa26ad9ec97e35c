/**
 * A hosting panel raises one customer's `pm.max_children` from a form value: the change lands
 * in the file and line that set it, is validated with the running master's `php-fpm -t`,
 * applied by SIGUSR2 and verified; a value FPM refuses changes nothing.
 *
 *   node --import tsx examples/panel-apply.ts --config /etc/php/8.2/fpm/php-fpm.conf \
 *     --pid-file /run/php/php8.2-fpm.pid --pool www --max-children 12 [--prefix DIR]
 */
import { parseArgs } from 'node:util';
import {
  applyFpmChanges,
  FpmkitApplyFailedError,
  FpmkitApplyLockedError,
  FpmkitApplyRejectedError,
  isFpmkitError,
} from 'fpmkit';

const { values } = parseArgs({
  options: {
    config: { type: 'string' },
    'pid-file': { type: 'string' },
    prefix: { type: 'string' },
    pool: { type: 'string' },
    'max-children': { type: 'string' },
  },
});

/** What the customer typed, checked the way the panel's form would. */
function requestedChildren(text: string | undefined): number {
  if (!text || !/^\d{1,4}$/.test(text)) throw new Error(`not a number of workers: ${text}`);
  return Number(text);
}

async function changePool(pool: string, maxChildren: number): Promise<void> {
  try {
    const result = await applyFpmChanges(
      [{ section: pool, directive: 'pm.max_children', value: maxChildren }],
      {
        configPath: values.config!,
        pidFile: values['pid-file']!,
        ...(values.prefix ? { prefix: values.prefix } : {}),
        lockWaitMs: 5000,
      },
    );
    if (result.outcome === 'unchanged') {
      console.log(`[${pool}] already has pm.max_children = ${maxChildren}`);
      return;
    }
    console.log(
      `[${pool}] pm.max_children = ${maxChildren}: ${result.outcome} by ${result.signal} in ${result.reloadWindowMs} ms`,
    );
    console.log(result.diff.trimEnd());
    for (const check of result.verification?.checks ?? []) {
      console.log(`  ${check.ok ? 'ok ' : 'BAD'} ${check.kind}: ${check.evidence}`);
    }
  } catch (error) {
    if (error instanceof FpmkitApplyRejectedError) {
      console.log(
        `[${pool}] pm.max_children = ${maxChildren} refused by ${error.validator}; nothing was changed:`,
      );
      console.log(`  ${error.output.trim().split('\n')[0]}`);
    } else if (error instanceof FpmkitApplyFailedError) {
      console.log(
        `[${pool}] the change did not verify and was rolled back: ${error.problems.join('; ')}`,
      );
    } else if (error instanceof FpmkitApplyLockedError) {
      console.log(`[${pool}] another change is being applied; try again`);
    } else if (isFpmkitError(error)) {
      console.log(`[${pool}] ${error.code}: ${error.message}`);
    } else {
      throw error;
    }
  }
}

const pool = values.pool ?? 'www';
await changePool(pool, requestedChildren(values['max-children']));
// The failure path: a value that passes the form but FPM refuses (pm.max_children must be > 0).
await changePool(pool, 0);
