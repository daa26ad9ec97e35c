/**
 * A small seeded pseudo-random generator for the simulator: sfc32 (Chris Doty-Humphrey's
 * "small fast counting" generator, 128 bits of state) seeded through splitmix32. It passes
 * PractRand to 2^40 bytes, needs only 32-bit integer arithmetic, and the same seed gives the
 * same sequence on every platform, which is what makes a simulation reproducible.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = Number.NaN;

  /** `seed`: any integer; its low 32 bits are used. */
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in the open interval (0, 1): never 0, so `log` of it is always finite. */
  uniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(this.uniform());
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = Number.NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

/** How service times are drawn: the mean and the coefficient of variation (sd / mean). */
export type ServiceTimeDistribution = 'exponential' | 'fixed' | 'lognormal';

/** A sampler of service times, seconds. */
export type ServiceSampler = () => number;

/**
 * A service-time sampler: `exponential` (cv 1, the M/M/c assumption), `fixed` (cv 0) or
 * `lognormal` with the given cv (σ² = ln(1 + cv²), μ = ln(mean) − σ²/2, so the mean is exact).
 */
export function serviceSampler(
  random: SeededRandom,
  distribution: ServiceTimeDistribution,
  meanSeconds: number,
  cv: number,
): ServiceSampler {
  if (distribution === 'fixed' || (distribution === 'lognormal' && cv === 0)) {
    return () => meanSeconds;
  }
  if (distribution === 'exponential') return () => random.exponential(meanSeconds);
  const sigma2 = Math.log(1 + cv * cv);
  const sigma = Math.sqrt(sigma2);
  const mu = Math.log(meanSeconds) - sigma2 / 2;
  return () => Math.exp(mu + sigma * random.normal());
}
