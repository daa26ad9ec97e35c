/**
 * Poisson tail sums in log space, for counts of arrivals in a window. Factorials are never
 * formed: ln n! comes from a table for small n and Stirling's series beyond it.
 */

const LOG_FACTORIAL_TABLE_SIZE = 256;
const logFactorialTable: number[] = (() => {
  const table = [0];
  for (let n = 1; n < LOG_FACTORIAL_TABLE_SIZE; n++) table.push(table[n - 1]! + Math.log(n));
  return table;
})();

/** ln(n!) for a non-negative integer n; Stirling's series is exact to double precision past 256. */
export function logFactorial(n: number): number {
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

/** P(N = n) for N ~ Poisson(mean). */
export function poissonPmf(mean: number, n: number): number {
  if (mean === 0) return n === 0 ? 1 : 0;
  return Math.exp(-mean + n * Math.log(mean) - logFactorial(n));
}

/** Terms below this share of the running sum no longer change a double. */
const NEGLIGIBLE = 1e-17;

/**
 * Sums f(n)·P(N = n) walking away from `start` in direction `step` while the terms matter.
 * The pmf ratio P(n+1)/P(n) = mean/(n+1) keeps each step to one multiplication.
 */
function walk(mean: number, start: number, step: 1 | -1, weight: (n: number) => number): number {
  let p = poissonPmf(mean, start);
  let sum = 0;
  for (let n = start; n >= 0; n += step) {
    const term = weight(n) * p;
    sum += term;
    if (p === 0 || (term <= sum * NEGLIGIBLE && (step === 1 ? n > mean : n < mean))) break;
    p = step === 1 ? (p * mean) / (n + 1) : (p * n) / mean;
  }
  return sum;
}

/** P(N > q) for N ~ Poisson(mean). */
export function poissonUpperTail(mean: number, q: number): number {
  if (q < 0) return 1;
  if (mean === 0) return 0;
  if (q >= mean)
    return Math.min(
      1,
      walk(mean, q + 1, 1, () => 1),
    );
  return Math.max(0, 1 - walk(mean, q, -1, () => 1));
}

/** E[max(0, N − q)] for N ~ Poisson(mean): arrivals beyond q slots, on average. */
export function poissonExpectedExcess(mean: number, q: number): number {
  if (mean === 0) return 0;
  if (q <= 0) return mean - q;
  if (q >= mean) return walk(mean, q + 1, 1, (n) => n - q);
  // E[(N−q)+] = mean − q + E[(q−N)+]; the second sum has only terms below q.
  return mean - q + walk(mean, q - 1, -1, (n) => q - n);
}

/**
 * Smallest q with P(N > q) ≤ epsilon. Starts ten standard deviations above the mean, where the
 * tail is far below any practical epsilon, and walks down adding P(N = q) until the tail passes
 * epsilon: one walk of a few √mean steps. Falls back to bisection for epsilons below that tail.
 */
export function poissonQuantile(mean: number, epsilon: number): number {
  if (mean === 0) return 0;
  const start = Math.ceil(mean + 10 * Math.sqrt(mean) + 50);
  let tail = poissonUpperTail(mean, start);
  if (tail <= epsilon) {
    let p = poissonPmf(mean, start);
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
  while (poissonUpperTail(mean, hi) > epsilon) hi *= 2;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (poissonUpperTail(mean, mid) <= epsilon) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
