import { FpmkitInvalidOptionError } from '../errors.js';

/** Shared guards for sizing inputs: each throws `FpmkitInvalidOptionError` naming the option. */

export function finiteAtLeast(option: string, value: number, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new FpmkitInvalidOptionError(option, `must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}

export function finitePositive(option: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new FpmkitInvalidOptionError(option, `must be a finite number > 0, got ${value}`);
  }
  return value;
}

export function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new FpmkitInvalidOptionError(
      option,
      `must be an integer from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}

export function probability(option: string, value: number, openAtOne = false): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    value > 1 ||
    (openAtOne && value === 1)
  ) {
    throw new FpmkitInvalidOptionError(
      option,
      `must be a probability in [0, 1${openAtOne ? ')' : ']'}, got ${value}`,
    );
  }
  return value;
}
