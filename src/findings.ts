import { z } from 'zod';

/** Severity of a finding, most severe first. */
export const SEVERITIES = ['error', 'warning', 'info'] as const;
/** How bad a finding is: `error` breaks requests or startup, `warning` risks it, `info` is a note. */
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

/**
 * A finding. `C` narrows `code`: what fpmkit produces is `Finding<FindingCode>` (the codes of
 * `FINDING_CATALOG`), which is assignable to the plain `Finding` with `code: string`.
 */
export type Finding<C extends string = string> = Omit<z.infer<typeof findingSchema>, 'code'> & {
  /** Stable; one of `FINDING_CATALOG`'s codes for the findings fpmkit produces. */
  code: C;
};

/** True when any finding has severity `error`. */
export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/**
 * What every `check*` function returns: all its findings and `ok`, which means one thing
 * everywhere: no finding has severity `error` (warnings and notes never change it). For
 * `checkFpmConfig` that is exactly what `php-fpm -t` decides, since only FPM's own refusals are
 * errors there.
 */
export interface CheckResult<C extends string = string> {
  /** True when no finding has severity `error`. */
  ok: boolean;
  /** Every finding, in the check's order (`sortFindings` puts errors first). */
  findings: Finding<C>[];
}

/** A {@link CheckResult} over `findings`: `ok` is true when none of them is an error. */
export function checkResult<C extends string>(findings: Finding<C>[]): CheckResult<C> {
  return { ok: !hasErrors(findings), findings };
}

/** Findings ordered by severity (errors first), keeping the original order within a severity. */
export function sortFindings<F extends Finding>(findings: readonly F[]): F[] {
  const rank = (s: Severity) => SEVERITIES.indexOf(s);
  return findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => rank(a.f.severity) - rank(b.f.severity) || a.i - b.i)
    .map(({ f }) => f);
}
