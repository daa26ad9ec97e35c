import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFpmChanges, recoverFpmApply } from '../../src/host/apply.js';
import { APPLY_STEPS } from '../../src/host/apply-journal.js';
import { phpFpmBinary } from '../support/integration.js';
import { type ApplyStack, readText, startApplyStack } from './apply-harness.js';

const fpm = phpFpmBinary();
const skip = !fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION;
/** Runs per journal step: 4 by default (about 2 s each); FPMKIT_CRASH_RUNS=20 for the full acceptance run. */
const RUNS = Number(process.env.FPMKIT_CRASH_RUNS ?? 4);
const hash = (t: string) => createHash('sha256').update(t).digest('hex');

describe.skipIf(skip)(`kill -9 at every apply journal step${fpm.reason}`, () => {
  let stack: ApplyStack;
  beforeAll(async () => {
    stack = await startApplyStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  for (const step of APPLY_STEPS) {
    it(`after a kill at '${step}' the files are all old or all new and recovery verifies (${RUNS} runs)`, async () => {
      const tally = { old: 0, new: 0 };
      const stateDir = join(stack.dir, 'state');
      const options = {
        configPath: stack.confPath,
        pidFile: stack.pidFile,
        stateDir,
        prefix: stack.dir,
        restart: () => stack.restart(),
        verifyDeadlineMs: 8000,
      };
      for (let run = 0; run < RUNS; run++) {
        const oldMain = readText(stack.confPath);
        const oldPool = readText(stack.poolPath);
        const n = 3 + (run % 4);
        // two files change: the global log_level (main file) and the pool's pm.max_children;
        // 'rolling-back' needs a change that fails verification: a socket in a missing directory
        const edits =
          step === 'rolling-back'
            ? [
                {
                  section: 'global',
                  directive: 'log_level',
                  value: run % 2 ? 'notice' : 'warning',
                },
                {
                  section: 'www',
                  directive: 'listen',
                  value: join(stack.dir, 'missing', 'www.sock'),
                },
              ]
            : [
                {
                  section: 'global',
                  directive: 'log_level',
                  value: run % 2 ? 'notice' : 'warning',
                },
                {
                  section: 'www',
                  directive: 'pm.max_children',
                  value: oldPool.includes(`pm.max_children = ${n}\n`) ? n + 1 : n,
                },
              ];
        const child = spawnSync(
          process.execPath,
          [
            '--import',
            'tsx',
            'test/host/apply-crash-child.ts',
            JSON.stringify({ ...options, edits }),
            step,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
        expect(child.signal, child.stderr).toBe('SIGKILL');
        const mid = [hash(readText(stack.confPath)), hash(readText(stack.poolPath))];
        const recovered = await recoverFpmApply(options);
        expect(recovered.outcome).not.toBe('none');
        if (recovered.verification)
          expect(recovered.verification.ok, JSON.stringify(recovered.verification.checks)).toBe(
            true,
          );
        const after = [hash(readText(stack.confPath)), hash(readText(stack.poolPath))];
        const wasOld = after[0] === hash(oldMain) && after[1] === hash(oldPool);
        const wasNew = after[0] !== hash(oldMain) && after[1] !== hash(oldPool);
        expect(
          wasOld || wasNew,
          `mix after recovery at ${step}, run ${run}; before recovery ${mid}`,
        ).toBe(true);
        if (wasOld) tally.old++;
        else tally.new++;
        // the host verifies afterwards: a no-op apply passes through recovery and the lock
        const check = await applyFpmChanges([], options);
        expect(check.outcome).toBe('unchanged');
      }
      console.log(`kill -9 at ${step}: ${RUNS} runs, old ${tally.old}, new ${tally.new}`);
    }, 600_000);
  }
});
