/**
 * Poisson tail sums in log space, for counts of arrivals in a window. Factorials are never
 * formed: ln n! comes from a table for small n and Stirling's series beyond it. Every exported
 * function checks its inputs and throws `FpmkitInvalidOptionError` naming the bad one.
 */
import { FpmkitInvalidOptionError } from '../errors.js';
import { finiteAtLeast, integerIn, probability } from './check.js';

/**
 * Largest Poisson mean taken. The sums walk a few standard deviations (√mean steps) around the
 * mean, so a mean of 1e9 costs a few hundred thousand steps; arrivals in one window of a real
 * pool are far below it.
 */
export const MAX_POISSON_MEAN = 1e9;

function checkMean(mean: number): number {
  finiteAtLeast('mean', mean, 0);
  if (mean > MAX_POISSON_MEAN) {
    throw new FpmkitInvalidOptionError('mean', `must be at most ${MAX_POISSON_MEAN}, got ${mean}`);
  }
  return mean;
}

function checkQ(q: number): number {
  if (typeof q !== 'number' || !Number.isFinite(q)) {
    throw new FpmkitInvalidOptionError('q', `must be a finite number, got ${q}`);
  }
  return q;
}

const LOG_FACTORIAL_TABLE_SIZE = 256;
const logFactorialTable: number[] = (() => {
  const table = [0];
  for (let n = 1; n < LOG_FACTORIAL_TABLE_SIZE; n++) table.push(table[n - 1]! + Math.log(n));
  return table;
})();

/** ln(n!) for a non-negative integer n; Stirling's series is exact to double precision past 256. */
export function logFactorial(n: number): number {
  integerIn('n', n, 0, Number.MAX_SAFE_INTEGER);
  return logFactorialOf(n);
}

function logFactorialOf(n: number): number {
  if (n < LOG_FACTORIAL_TABLE_SIZE) return logFactorialTable[n]!;
  const inv = 1 / n;
  const inv2 = inv * inv;
  return (
    n * Math.log(n) -
    n +
    0.5 * Math.log(2 * Math.PI * n) +
    inv * (1 / 12 - inv2 * (1 / 360 - inv2 / 1260))
  );
}

/** P(N = n) for N ~ Poisson(mean); 0 for a negative n. `n` must be an integer. */
export function poissonPmf(mean: number, n: number): number {
  checkMean(mean);
  integerIn('n', n, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (n < 0) return 0;
  return pmf(mean, n);
}

function pmf(mean: number, n: number): number {
  if (mean === 0) return n === 0 ? 1 : 0;
  return Math.exp(-mean + n * Math.log(mean) - logFactorialOf(n));
}

/** Terms below this share of the running sum no longer change a double. */
const NEGLIGIBLE = 1e-17;

/**
 * Sums f(n)·P(N = n) walking away from `start` in direction `step` while the terms matter.
 * The pmf ratio P(n+1)/P(n) = mean/(n+1) keeps each step to one multiplication.
 */
function walk(mean: number, start: number, step: 1 | -1, weight: (n: number) => number): number {
  let p = pmf(mean, start);
  let sum = 0;
  for (let n = start; n >= 0; n += step) {
    const term = weight(n) * p;
    sum += term;
    if (p === 0 || (term <= sum * NEGLIGIBLE && (step === 1 ? n > mean : n < mean))) break;
    p = step === 1 ? (p * mean) / (n + 1) : (p * n) / mean;
  }
  return sum;
}

/** P(N > q) for N ~ Poisson(mean); q may be any finite number (P(N > 2.5) = P(N > 2)). */
export function poissonUpperTail(mean: number, q: number): number {
  checkMean(mean);
  return upperTail(mean, Math.floor(checkQ(q)));
}

/** P(N > q) for a whole q. */
function upperTail(mean: number, q: number): number {
  if (q < 0) return 1;
  if (mean === 0) return 0;
  if (q >= mean)
    return Math.min(
      1,
      walk(mean, q + 1, 1, () => 1),
    );
  return Math.max(0, 1 - walk(mean, q, -1, () => 1));
}

/**
 * E[max(0, N − q)] for N ~ Poisson(mean): arrivals beyond q slots, on average. q may be any
 * finite number.
 */
export function poissonExpectedExcess(mean: number, q: number): number {
  checkMean(mean);
  checkQ(q);
  if (mean === 0) return Math.max(0, -q);
  if (q <= 0) return mean - q;
  // The terms are the whole n above q (below q for the second sum).
  if (q >= mean) return walk(mean, Math.floor(q) + 1, 1, (n) => n - q);
  // E[(N−q)+] = mean − q + E[(q−N)+]; the second sum has only terms below q.
  return mean - q + walk(mean, Math.ceil(q) - 1, -1, (n) => q - n);
}

/**
 * Smallest q with P(N > q) ≤ epsilon. Starts ten standard deviations above the mean, where the
 * tail is far below any practical epsilon, and walks down adding P(N = q) until the tail passes
 * epsilon: one walk of a few √mean steps. Falls back to bisection for epsilons below that tail.
 */
export function poissonQuantile(mean: number, epsilon: number): number {
  checkMean(mean);
  probability('epsilon', epsilon);
  if (epsilon === 0) throw new FpmkitInvalidOptionError('epsilon', 'must be above 0');
  if (mean === 0) return 0;
  const start = Math.ceil(mean + 10 * Math.sqrt(mean) + 50);
  let tail = upperTail(mean, start);
  if (tail <= epsilon) {
    let p = pmf(mean, start);
    for (let q = start; q > 0; q--) {
      // tail is P(N > q); P(N > q − 1) adds P(N = q).
      if (tail + p > epsilon) return q;
      tail += p;
      p = (p * q) / mean;
    }
    return 0;
  }
  let lo = start;
  let hi = 2 * start;
  while (upperTail(mean, hi) > epsilon) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (upperTail(mean, mid) <= epsilon) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
