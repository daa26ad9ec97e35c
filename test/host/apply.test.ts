import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FpmkitInvalidOptionError, FpmkitIoError } from '../../src/errors.js';
import { applyFpmChanges, planFpmApply } from '../../src/host/apply.js';
import {
  FpmkitApplyFailedError,
  FpmkitApplyLockedError,
  FpmkitApplyRejectedError,
  FpmkitApplyStaleError,
} from '../../src/host/apply-errors.js';
import { ping } from '../../src/status/fetch.js';
import { phpFpmBinary } from '../support/integration.js';
import { type ApplyStack, loadLoop, readText, startApplyStack } from './apply-harness.js';

const fpm = phpFpmBinary();
const skip = !fpm.path && !process.env.FPMKIT_REQUIRE_INTEGRATION;

function ssBacklog(path: string): number | undefined {
  const out = execFileSync('ss', ['-lnx'], { encoding: 'utf8' });
  const row = out.split('\n').find((l) => l.includes(` ${path} `));
  return row ? Number(row.trim().split(/\s+/)[3]) : undefined;
}

describe.skipIf(skip)(`applyFpmChanges against php-fpm 8.2${fpm.reason}`, () => {
  let stack: ApplyStack | undefined;
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });
  const opts = (s: ApplyStack) => ({
    configPath: s.confPath,
    pidFile: s.pidFile,
    stateDir: join(s.dir, 'state'),
    prefix: s.dir,
    restart: () => s.restart(),
    verifyDeadlineMs: 8000,
  });

  it('applies a pm.* change by reload under load, keeps the pid, and verifies', async () => {
    stack = await startApplyStack();
    const pidBefore = stack.pid();
    const before = readText(stack.poolPath);
    const load = loadLoop(stack.socketPath);
    await new Promise((r) => setTimeout(r, 300));
    const result = await applyFpmChanges(
      [{ section: 'www', directive: 'pm.max_children', value: 4 }],
      opts(stack),
    ).catch((error) => {
      // keep the evidence of a failed verification in the test output
      throw new Error(`apply failed: ${(error as Error).message}\n${readText(stack!.logPath)}`);
    });
    await new Promise((r) => setTimeout(r, 300));
    const counts = await load.stop();
    expect(result.outcome).toBe('applied');
    expect(result.action).toBe('reload');
    expect(result.pid).toBe(pidBefore);
    expect(result.validation?.validator).toBe('php-fpm');
    expect(result.verification?.ok).toBe(true);
    expect(readText(stack.poolPath)).toBe(
      before.replace('pm.max_children = 2', 'pm.max_children = 4'),
    );
    console.log(
      `pm reload: window ${result.reloadWindowMs} ms, responses ok ${counts.ok}, lost ${counts.failed}`,
    );
    expect(counts.ok).toBeGreaterThan(0);
  });

  it('applies a listen.backlog change by restart and ss shows the new backlog', async () => {
    stack = await startApplyStack();
    expect(ssBacklog(stack.socketPath)).not.toBe(37);
    const load = loadLoop(stack.socketPath);
    await new Promise((r) => setTimeout(r, 300));
    const result = await applyFpmChanges(
      [{ section: 'www', directive: 'listen.backlog', value: 37 }],
      opts(stack),
    );
    await new Promise((r) => setTimeout(r, 300));
    const counts = await load.stop();
    expect(result.action).toBe('restart');
    expect(result.outcome).toBe('applied');
    expect(ssBacklog(stack.socketPath)).toBe(37);
    console.log(
      `backlog restart: window ${result.reloadWindowMs} ms, responses ok ${counts.ok}, lost ${counts.failed}`,
    );
  });

  it('writes nothing and signals nothing when php-fpm -t refuses the change', async () => {
    stack = await startApplyStack();
    const before = readText(stack.poolPath);
    const pid = stack.pid();
    const load = loadLoop(stack.socketPath);
    const error = await applyFpmChanges(
      [{ section: 'www', directive: 'pm.max_children', value: 0 }],
      opts(stack),
    ).catch((e) => e);
    const counts = await load.stop();
    expect(error).toBeInstanceOf(FpmkitApplyRejectedError);
    expect((error as FpmkitApplyRejectedError).output).toMatch(/max_children/);
    expect(readText(stack.poolPath)).toBe(before);
    expect(stack.pid()).toBe(pid);
    expect(readText(stack.logPath)).not.toMatch(/Reloading in progress/);
    expect(existsSync(join(stack.dir, 'state', 'apply.journal'))).toBe(false);
    console.log(`refused by -t: responses ok ${counts.ok}, lost ${counts.failed}`);
    expect(counts.failed).toBe(0);
  });

  it('rolls back a change that passes -t but fails verification, and FPM serves the old files', async () => {
    stack = await startApplyStack();
    const before = readText(stack.poolPath);
    const load = loadLoop(stack.socketPath);
    await new Promise((r) => setTimeout(r, 200));
    // -t does not bind sockets; the reload cannot create one in a missing directory.
    const error = await applyFpmChanges(
      [{ section: 'www', directive: 'listen', value: join(stack.dir, 'missing', 'www.sock') }],
      opts(stack),
    ).catch((e) => e);
    await new Promise((r) => setTimeout(r, 300));
    const counts = await load.stop();
    expect(error).toBeInstanceOf(FpmkitApplyFailedError);
    expect((error as FpmkitApplyFailedError).restoredVerified).toBe(true);
    expect((error as FpmkitApplyFailedError).problems.join('\n')).toMatch(
      /master|no listening socket/,
    );
    expect(readText(stack.poolPath)).toBe(before);
    expect((await ping({ socketPath: stack.socketPath }, { timeoutMs: 2000 })).ok).toBe(true);
    console.log(
      `verify failed, rolled back: problems ${(error as FpmkitApplyFailedError).problems.join(' | ')}; responses ok ${counts.ok}, lost ${counts.failed}`,
    );
  });

  it('refuses bad input with typed errors and writes nothing', async () => {
    stack = await startApplyStack();
    const before = readText(stack.poolPath);
    const main = readText(stack.confPath);
    const o = opts(stack);
    await expect(
      applyFpmChanges([{ section: 'nosuch', directive: 'pm.max_children', value: 3 }], o),
    ).rejects.toThrow(FpmkitInvalidOptionError);
    await expect(
      applyFpmChanges([{ section: 'www', directive: 'pm.max_kids', value: 3 }], o),
    ).rejects.toThrow(FpmkitInvalidOptionError);
    await expect(
      applyFpmChanges([{ section: 'www', directive: 'pm', value: 'sometimes' }], o),
    ).rejects.toThrow(/pm/);
    const plan = planFpmApply([{ section: 'www', directive: 'pm.max_children', value: 3 }], o);
    writeFileSync(stack.poolPath, `${before}; edited by hand\n`);
    const stale = await applyFpmChanges(plan, o).catch((e) => e);
    expect(stale).toBeInstanceOf(FpmkitApplyStaleError);
    expect((stale as FpmkitApplyStaleError).path).toBe(stack.poolPath);
    expect(readText(stack.poolPath)).toBe(`${before}; edited by hand\n`);
    expect(readText(stack.confPath)).toBe(main);
  });

  it('refuses to signal or run the binary of a pid that is not a php-fpm master, and a state directory others can write', async () => {
    stack = await startApplyStack();
    const before = readText(stack.poolPath);
    const sleeper = spawn('sleep', ['30']);
    const { pidFile: _unused, ...withoutPidFile } = opts(stack);
    try {
      const error = await applyFpmChanges(
        [{ section: 'www', directive: 'pm.max_children', value: 3 }],
        { ...withoutPidFile, pid: sleeper.pid! },
      ).catch((e) => e);
      expect(error).toBeInstanceOf(FpmkitInvalidOptionError);
      expect(String(error.message)).toMatch(/not a php-fpm master/);
      expect(sleeper.exitCode).toBeNull();
      expect(readText(stack.poolPath)).toBe(before);
    } finally {
      sleeper.kill();
    }
    const open = join(stack.dir, 'open-state');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const refused = await applyFpmChanges(
      [{ section: 'www', directive: 'pm.max_children', value: 3 }],
      { ...opts(stack), stateDir: open },
    ).catch((e) => e);
    expect(refused).toBeInstanceOf(FpmkitIoError);
    expect(readText(stack.poolPath)).toBe(before);
  });

  it('two applies at once: the second waits or fails typed, files never interleaved', async () => {
    stack = await startApplyStack();
    const o = { ...opts(stack), lockWaitMs: 0 };
    const results = await Promise.allSettled([
      applyFpmChanges([{ section: 'www', directive: 'pm.max_children', value: 3 }], o),
      applyFpmChanges([{ section: 'www', directive: 'pm.max_children', value: 5 }], o),
    ]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason).toBeInstanceOf(FpmkitApplyLockedError);
    const text = readText(stack.poolPath);
    expect(text.match(/pm\.max_children = \d/g)).toHaveLength(1);
    const waited = await Promise.all([
      applyFpmChanges([{ section: 'www', directive: 'pm.max_children', value: 6 }], {
        ...opts(stack),
        lockWaitMs: 30_000,
      }),
      applyFpmChanges([{ section: 'www', directive: 'pm.max_children', value: 7 }], {
        ...opts(stack),
        lockWaitMs: 30_000,
      }),
    ]);
    expect(waited.map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(readText(stack.poolPath)).toMatch(/pm\.max_children = [67]\n/);
  });
});
