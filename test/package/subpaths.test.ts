import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadedFiles, packagesOf } from '../support/loaded-files.js';

/**
 * What importing each subpath of the built package loads, in both module systems. Run from the
 * package root, so `fpmkit/x` resolves through the package's own exports map.
 */
const root = join(import.meta.dirname, '..', '..');
const esm = (code: string) => loadedFiles(['--input-type=module', '-e', code], root);
const cjs = (code: string) => loadedFiles(['-e', code], root);
const both = (id: string) => ({
  esm: esm(`import ${JSON.stringify(id)};`),
  cjs: cjs(`require(${JSON.stringify(id)});`),
});

/** A captured status response without its CGI headers. */
const page = (name: string) => {
  const raw = readFileSync(join(root, 'test', 'fixtures', 'status', 'dynamic', name), 'utf8');
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
};
const xmlPage = page('xml-full.txt');
const jsonPage = page('json.txt');

describe('what importing a subpath loads', () => {
  beforeAll(() => {
    if (!existsSync(join(root, 'dist', 'kernel', 'parsers.js')))
      throw new Error('dist is missing or stale: run npm run build');
  });

  it('fpmkit/kernel/parsers and fpmkit/fastcgi load no dependency (no zod)', () => {
    for (const id of ['fpmkit/kernel/parsers', 'fpmkit/fastcgi']) {
      const r = both(id);
      for (const [system, run] of Object.entries(r)) {
        expect(run.status, `${id} ${system}: ${run.stderr}`).toBe(0);
        expect(packagesOf(run.files), `${id} ${system}`).toEqual([]);
      }
    }
  });

  it('fpmkit/status loads fast-xml-parser on the first XML page, not before', () => {
    const code = (load: string) =>
      `const status = ${load};
const json = status.parseStatus(${JSON.stringify(jsonPage)});
if (json.pool !== 'dyn') throw new Error('json');
if (process.argv.includes('xml')) {
  const xml = status.parseStatus(${JSON.stringify(xmlPage)});
  if (xml.pool !== 'dyn' || !(xml.processes.length > 0)) throw new Error('xml');
}`;
    const esmCode = code("await import('fpmkit/status')");
    const cjsCode = code("require('fpmkit/status')");
    for (const [system, run] of [
      [
        'esm',
        (extra: string[]) => loadedFiles(['--input-type=module', '-e', esmCode, ...extra], root),
      ],
      ['cjs', (extra: string[]) => loadedFiles(['-e', cjsCode, ...extra], root)],
    ] as const) {
      const jsonOnly = run([]);
      expect(jsonOnly.status, `${system}: ${jsonOnly.stderr}`).toBe(0);
      expect(packagesOf(jsonOnly.files), system).not.toContain('fast-xml-parser');
      const withXml = run(['--', 'xml']);
      expect(withXml.status, `${system}: ${withXml.stderr}`).toBe(0);
      expect(packagesOf(withXml.files), system).toContain('fast-xml-parser');
    }
  });

  it('fpmkit/kernel/parsers exports the same functions as fpmkit/kernel, which keeps its schemas', async () => {
    const r = esm(`
import * as kernel from 'fpmkit/kernel';
import * as parsers from 'fpmkit/kernel/parsers';
const names = Object.keys(parsers);
const same = names.every((name) => parsers[name] === kernel[name]);
const schemas = Object.keys(kernel).filter((name) => name.endsWith('Schema'));
const zodLike = schemas.every((name) => typeof kernel[name].safeParse === 'function');
console.log(JSON.stringify({ names, same, schemas, zodLike }));`);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      names: string[];
      same: boolean;
      schemas: string[];
      zodLike: boolean;
    };
    expect(out.same).toBe(true);
    expect(out.names).toContain('parseProcNetUnix');
    expect(out.names).toContain('parseMeminfo');
    expect(out.names.filter((n) => n.endsWith('Schema'))).toEqual([]);
    expect(out.zodLike).toBe(true);
    expect(out.schemas).toEqual(
      expect.arrayContaining([
        'kernelSettingsSchema',
        'meminfoSchema',
        'unixSocketSchema',
        'tcpListenQueueSchema',
        'sysctlEntrySchema',
      ]),
    );
  });
});
