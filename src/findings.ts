import { z } from 'zod';

/** Severity of a finding, most severe first. */
export const SEVERITIES = ['error', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * One result of a validator, check or diagnosis. `code` is stable and documented in
 * docs/findings.md; `message` is for people and may change.
 */
export const findingSchema = z.object({
  code: z.string(),
  severity: z.enum(SEVERITIES),
  message: z.string(),
  pool: z.string().optional(),
  directive: z.string().optional(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  evidence: z.record(z.string(), z.unknown()).optional(),
  fix: z.string().optional(),
});

export type Finding = z.infer<typeof findingSchema>;

/** True when any finding has severity `error`. */
export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** Findings ordered by severity (errors first), keeping the original order within a severity. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.severity) - rank(b.f.severity) || a.i - b.i)
    .map(({ f }) => f);
}
