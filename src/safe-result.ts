/**
 * What every `safe*` function returns instead of throwing: the value under `data` when it
 * worked, the typed error under `error` when it did not. Narrow on `success`.
 */
export type SafeResult<T, E extends Error = Error> =
  | { success: true; data: T }
  | { success: false; error: E };
