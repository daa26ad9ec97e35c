import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/status');

export interface StatusFixture {
  /** `dynamic/json-full.txt` */
  name: string;
  dir: string;
  /** `plain` for the text page, `ping` for the ping answer. */
  kind: string;
  full: boolean;
  contentType: string | undefined;
  headers: string;
  body: string;
}

/** Splits one captured `cgi-fcgi` output into its CGI headers and body. */
export function splitCapture(raw: string): { headers: string; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) throw new Error('capture has no header block');
  return { headers: raw.slice(0, end), body: raw.slice(end + 4) };
}

/** Every capture under test/fixtures/status, in a stable order. */
export function loadStatusFixtures(): StatusFixture[] {
  const out: StatusFixture[] = [];
  for (const dir of readdirSync(FIXTURE_ROOT).sort()) {
    if (dir === 'configs' || dir.endsWith('.md')) continue;
    for (const file of readdirSync(join(FIXTURE_ROOT, dir)).sort()) {
      const { headers, body } = splitCapture(readFileSync(join(FIXTURE_ROOT, dir, file), 'utf8'));
      const base = file.replace(/\.txt$/, '');
      out.push({
        name: `${dir}/${file}`,
        dir,
        kind: base.replace(/-full$/, ''),
        full: base.endsWith('-full'),
        contentType: /^content-type: (.*)$/im.exec(headers)?.[1]?.trim(),
        headers,
        body,
      });
    }
  }
  return out;
}
