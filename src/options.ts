import { FpmkitInvalidOptionError } from './errors.js';

/**
 * One way to validate options: a schema's first issue becomes an `FpmkitInvalidOptionError`
 * naming the bad field as `a.b[0].c`. Internal to fpmkit; the areas' public helpers
 * (`parseSettings`, `formatPath` in `fpmkit/web`) are built on it.
 */

/** One issue of a schema, as zod reports it; `keys` is set for unknown keys. */
export interface OptionIssue {
  path: PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

/** What is needed of a schema: zod's `safeParse`. */
export interface OptionSchema<T> {
  safeParse(
    value: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: readonly OptionIssue[] } };
}

/**
 * Formats a schema issue path as `a.b[0].c` (array indices in brackets), under `root` when
 * given (`root.a`, `root[0]`). The empty path names `root` itself, or `whole` when there is no
 * root (the object as a whole, e.g. an unknown key).
 */
export function optionPath(
  path: readonly PropertyKey[],
  root?: string,
  whole = '(settings)',
): string {
  let out = root ?? '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? whole : out;
}

/**
 * Parses `input` with `schema`; on failure throws `FpmkitInvalidOptionError` for the first
 * issue, named by optionPath() (under `root`; `whole` when the issue is about the whole input
 * and there is no root). An unknown key is named itself (`pools[0].pmm`), not the object
 * holding it. The schema's error is the `cause`.
 */
export function parseOptions<T>(
  schema: OptionSchema<T>,
  input: unknown,
  root?: string,
  whole?: string,
): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const unknown = issue.code === 'unrecognized_keys' ? issue.keys?.[0] : undefined;
  const path = unknown === undefined ? issue.path : [...issue.path, unknown];
  const rule = unknown === undefined ? issue.message : 'unknown key (no such field in the model)';
  throw new FpmkitInvalidOptionError(optionPath(path, root, whole), rule, {
    cause: result.error,
  });
}
