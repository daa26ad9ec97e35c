import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Everything under `root`, without following links: relative path → `dir MODE`,
 * `link -> TARGET`, `file MODE SHA256` or `other`. Two snapshots are equal exactly when nothing
 * was created, removed, replaced, chmod-ed or rewritten in between.
 */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const full = join(root, path);
      const st = lstatSync(full);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[path] = `link -> ${readlinkSync(full)}`;
      else if (st.isDirectory()) {
        out[path] = `dir ${mode}`;
        walk(path);
      } else if (st.isFile()) {
        out[path] = `file ${mode} ${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
      } else out[path] = 'other';
    }
  };
  walk('');
  return out;
}
