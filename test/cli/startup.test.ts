import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadedFiles, packagesOf } from '../support/loaded-files.js';

/** The built command, run as users run it, with a hook recording every file it loads. */
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'cli', 'bin.js');
const fpmkit = (...args: string[]) => loadedFiles([bin, ...args], root);

/** The chunks of the command modules (`check-XXXX.js`, `status-XXXX.js`, ...) among `files`. */
function commandChunks(files: readonly string[]): string[] {
  return files
    .filter((f) => /\/dist\/cli\/(check|doctor|plan|render|status|watch)-[^/]*\.js$/.test(f))
    .map((f) => /\/dist\/cli\/([a-z]+)-/.exec(f)![1]!)
    .sort();
}

describe('what the fpmkit command loads', () => {
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error('dist/cli/bin.js is missing: run npm run build');
  });

  it('--version and --help load no command and no dependency', () => {
    for (const args of [['--version'], ['--help'], ['-h'], []]) {
      const r = fpmkit(...args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(commandChunks(r.files), args.join(' ')).toEqual([]);
      expect(packagesOf(r.files), args.join(' ')).toEqual([]);
    }
    expect(fpmkit('--version').stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('a command loads its own module only; status --help loads neither zod nor the XML parser', () => {
    const status = fpmkit('status', '--help');
    expect(status.status).toBe(0);
    expect(status.stdout).toContain('Usage: fpmkit status TARGET');
    expect(commandChunks(status.files)).toEqual(['status']);
    expect(packagesOf(status.files)).toEqual([]);
    const check = fpmkit('check', '--help');
    expect(check.status).toBe(0);
    expect(commandChunks(check.files)).toEqual(['check']);
    const topic = fpmkit('help', 'render');
    expect(topic.stdout).toContain('Usage: fpmkit render');
    expect(commandChunks(topic.files)).toEqual(['render']);
  });

  it('names inherited from Object.prototype are unknown commands, not crashes', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
      const r = fpmkit(name);
      expect(r.status, name).toBe(2);
      expect(r.stderr, name).toContain(`unknown command '${name}'`);
      expect(r.stderr, name).not.toMatch(/TypeError|\n\s+at /);
      const help = fpmkit('help', name);
      expect(help.status, name).toBe(0);
      expect(help.stdout, name).toContain('Usage: fpmkit <command>');
    }
  });
});
