/**
 * Writes docs/findings.md from the findings catalog (src/findings-catalog.ts). Run with
 * `npm run docs:findings`; test/doctor/findings-doc.test.ts fails when the file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  FINDING_CATALOG,
  FINDING_CODES,
  FINDING_SECTION_ANCHORS,
  type FindingCode,
  type FindingRule,
  type FindingSection,
} from '../src/findings-catalog.js';

const INTRO = `# Findings

Every validator, check and diagnosis in fpmkit reports problems as \`Finding\`s: plain data, all of
them at once, never the first one only.

\`\`\`ts
interface Finding {
  code: string; // stable, listed below (typed FindingCode where fpmkit produces it)
  severity: 'error' | 'warning' | 'info';
  message: string; // for people; the wording may change
  pool?: string; // the FPM pool concerned
  directive?: string; // the directive to change
  file?: string; // where it was read, when parsed from text
  line?: number;
  evidence?: Record<string, unknown>; // the values that triggered it
  fix?: string; // what to do
}
\`\`\`

Branch on \`code\`, never on \`message\`. \`hasErrors(findings)\` tells whether any is an error and
\`sortFindings(findings)\` puts errors first.

Every check returns the same shape, \`{ ok, findings }\` (\`CheckResult\`), and \`ok\` means one
thing everywhere: no finding has severity \`error\`. Warnings and notes never change it. That
holds for \`checkFpmConfig\` (where it is exactly what \`php-fpm -t\` decides) and
\`checkStack\` (whose result is also still the array of findings it used to be; read
\`findings\`). \`diagnose\`'s \`Report\` carries the same findings and counts errors in
\`summary.errors\`.

Every code below is an entry of \`FINDING_CATALOG\` (fpmkit): its severity, a one-line summary,
the fix and its anchor in this page (\`findingDocAnchor(code)\`). The functions that produce
findings take each finding's severity from there, and this page is generated from it
(\`npm run docs:findings\`); a test fails when the two differ. A rule that two checks give is
written once: the second code is listed as the same rule (\`aliasOf\`), with the same severity.`;

const PREFIXES = `| Prefix   | Produced by                                                                                      |
| -------- | ------------------------------------------------------------------------------------------------ |
| \`fpm.\`   | \`parseFpmConfig\`, \`checkFpmConfig\` (fpmkit/fpm)                                                  |
| \`stack.\` | \`checkStack\` (fpmkit/doctor), across web server, PHP, FPM, kernel                                |
| \`live.\`  | \`diagnose\` (fpmkit/doctor), from logs, queues, status pages and memory: listed in docs/doctor.md |`;

const SECTIONS: { section: FindingSection; heading: string; text: string; after?: string }[] = [
  {
    section: 'fpm-load',
    heading: '### Loading the file (`parseFpmConfig`, `checkFpmConfig` on text)',
    text: '',
  },
  {
    section: 'fpm-check',
    heading: '### Post-processing (`checkFpmConfig`, what `php-fpm -t` checks)',
    text: '',
  },
  {
    section: 'fpm-advice',
    heading: '### Advice (`checkFpmConfig`; never changes `ok`)',
    text: '',
  },
  {
    section: 'stack',
    heading: '## `stack.*`: across the layers (`checkStack`)',
    text: `\`checkStack({ fpm, kernel, nginx?, apache?, php?, webServerUser?, database?, memoryBudgetBytes? })\`
compares the layers with each other. It uses FPM's effective values (unset \`listen.backlog\` is
-1, \`pm.max_requests\` 0, \`process_control_timeout\` 0, \`listen.mode\` 0660, an unset
\`listen.owner\` leaves the socket to the master's user), PHP's built-in defaults for unset
php.ini directives (\`max_execution_time\` 30, \`memory_limit\` 128M, \`post_max_size\` 8M,
\`upload_max_filesize\` 2M), a pool's \`php_value\`/\`php_admin_value\` over php.ini
(\`php_admin_value\` wins, as FPM applies it last), and the web servers' defaults
(\`fastcgi_read_timeout\` 60s, \`client_max_body_size\` 1m, Apache \`Timeout\` 60 and
\`MaxRequestWorkers\` 400). Kernel fields that are absent are unknown: the checks that need them
are skipped. Web-server checks apply to the pools whose listen address the web server passes to.

The timeout checks leave a margin (\`timeoutMarginSeconds\`, default 5): each outer limit should
exceed the inner one by at least that much.`,
    after: `Notes on the socket check: connect(2) on a UNIX socket needs write permission on the socket
file (and search permission on every directory above it, which fpmkit cannot see). FPM creates
the socket as the master's user (\`fpmMasterUser\`, default root:root) with \`listen.mode\`
(default 0660); \`listen.owner\` given by name also sets the group to that user's primary group,
which checkStack takes to be the group of the same name unless \`listen.group\` says otherwise.
With \`listen.acl_users\`/\`listen.acl_groups\` FPM skips the chown and adds read-write ACL entries.
Names are compared as written: give \`webServerUser.groups\` every group of the user, primary
included.`,
  },
  {
    section: 'live',
    heading: '## `live.*`: what a running host shows (`diagnose`)',
    text: `\`diagnose(snapshot)\` adds findings from the evidence of a live host or of saved evidence: the
nginx and FPM error logs, the slowlog, the socket queues, the status page and memory.
docs/doctor.md ("Live findings") lists the evidence each one carries. \`LIVE_FINDING_CODES\`
(fpmkit/doctor) lists them.`,
  },
];

const FPM_HEADING = '## `fpm.*`: one FPM configuration';
const FPM_TEXT = `Errors with FPM's own words in the message (and the exact log line in \`evidence.fpmMessage\`) are
what \`php-fpm -t\` reports; \`checkFpmConfig(...).ok\` is false exactly when one of them is present.
The warnings and notes are what FPM accepts but a person would not want.`;

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .replace(/^#+\s*/, '')
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

function severityCell(rule: FindingRule): string {
  return rule.severityNote ?? rule.severity;
}

function meaningCell(code: FindingCode): string {
  const rule: FindingRule = FINDING_CATALOG[code];
  return rule.aliasOf === undefined || rule.summary.includes(`\`${rule.aliasOf}\``)
    ? rule.summary
    : `${rule.summary} Same rule as \`${rule.aliasOf}\`.`;
}

/** A Markdown table with every column padded to its widest cell. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function sectionTable(section: FindingSection): string {
  const codes = FINDING_CODES.filter((code) => FINDING_CATALOG[code].section === section);
  return table(
    ['Code', 'Severity', 'Meaning', 'Fix'],
    codes.map((code) => {
      const rule: FindingRule = FINDING_CATALOG[code];
      return [`\`${code}\``, severityCell(rule), meaningCell(code), rule.fix];
    }),
  );
}

/** The text of docs/findings.md. */
export function renderFindingsDoc(): string {
  const parts = [INTRO, PREFIXES, FPM_HEADING, FPM_TEXT];
  for (const s of SECTIONS) {
    if (headingAnchor(s.heading) !== FINDING_SECTION_ANCHORS[s.section]) {
      throw new Error(`FINDING_SECTION_ANCHORS.${s.section} does not match '${s.heading}'`);
    }
    parts.push(s.heading);
    if (s.text !== '') parts.push(s.text);
    parts.push(sectionTable(s.section));
    if (s.after !== undefined) parts.push(s.after);
  }
  return `${parts.join('\n\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const target = fileURLToPath(new URL('../docs/findings.md', import.meta.url));
  writeFileSync(target, renderFindingsDoc());
  console.log(`wrote ${target}: ${FINDING_CODES.length} codes`);
}
