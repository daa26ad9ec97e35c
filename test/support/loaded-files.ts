import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What one `node` run loaded, and how it ended. */
export interface LoadedFiles {
  /** Absolute paths of the files loaded through the ESM loader or `require()`, in no order. */
  files: string[];
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node ...args` in `cwd` with a module hook that records every file the ESM loader loads,
 * plus the `require` cache at exit for files CommonJS loaded, and returns the list.
 */
export function loadedFiles(args: readonly string[], cwd: string): LoadedFiles {
  const dir = mkdtempSync(join(tmpdir(), 'fpmkit-loaded-'));
  try {
    const out = join(dir, 'loaded.txt');
    writeFileSync(out, '');
    const hook = join(dir, 'hook.mjs');
    writeFileSync(
      hook,
      `import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data; }
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(out, url + '\\n');
  return next(url, context);
}
`,
    );
    const register = join(dir, 'register.mjs');
    writeFileSync(
      register,
      `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hook).href)}, { data: ${JSON.stringify(out)} });
const require = createRequire(import.meta.url);
process.on('exit', () => {
  appendFileSync(${JSON.stringify(out)}, Object.keys(require.cache).map((p) => p + '\\n').join(''));
});
`,
    );
    const result = spawnSync(process.execPath, ['--import', register, ...args], {
      cwd,
      encoding: 'utf8',
    });
    const files = new Set(
      readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((f) => (f.startsWith('file:') ? new URL(f).pathname : f))
        .filter((f) => f !== register),
    );
    return {
      files: [...files],
      status: result.status,
      stdout: result.stdout,
      stderr: result.stderr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The packages under node_modules among `files` (`zod`, `fast-xml-parser`, `@scope/name`). */
export function packagesOf(files: readonly string[]): string[] {
  const names = new Set<string>();
  for (const file of files) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (match) names.add(match[1]!);
  }
  return [...names].sort();
}
