import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { EXPORTER_HELP, envName } from '../../src/cli/exporter.js';
import { HIPAGES_FAMILIES, METRIC_FAMILIES } from '../../src/metrics/index.js';

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');

it('docs/metrics.md has a table row for every metric family, with its type and labels', () => {
  for (const f of [...METRIC_FAMILIES, ...HIPAGES_FAMILIES]) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${f.name}\``));
    expect(row, f.name).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    expect(cells[2], f.name).toBe(f.type);
    const labels = f.labels.length === 0 ? '(none)' : f.labels.join(', ');
    expect(cells[3], f.name).toBe(labels);
  }
});

it('docs/metrics.md names every flag of the exporter and its variable', () => {
  const flags = [...EXPORTER_HELP.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]!);
  expect(flags.length).toBeGreaterThan(8);
  for (const flag of flags.filter((f) => f !== 'help')) {
    expect(doc, flag).toContain(`\`--${flag}`);
    expect(doc, flag).toContain(envName(flag));
  }
});
