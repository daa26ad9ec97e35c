import { FpmkitInvalidOptionError } from '../errors.js';
import type { FpmAccessRecord } from '../logs/fpm-access-log.js';
import type { NginxAccessRecord } from '../logs/nginx-access-log.js';
import { finiteAtLeast, finitePositive, integerIn } from './check.js';
import { SeededRandom } from './simulate-random.js';

/**
 * Traffic for the simulator: where requests come from and when. Each kind is a stream of
 * arrival times generated lazily in order, so an hour at a thousand requests a second never
 * sits in memory as a list.
 */

/** Most requests one simulation takes (each keeps a few numbers in typed arrays: ~40 B). */
export const MAX_SIMULATED_REQUESTS = 50_000_000;

/** Poisson arrivals (exponential gaps) at a constant mean rate. */
export interface PoissonTraffic {
  kind: 'poisson';
  /** Mean arrival rate, requests per second. */
  ratePerSecond: number;
  /** How long the traffic lasts, seconds. */
  durationSeconds: number;
  /** When it starts, seconds from the start of the simulation. @default 0 */
  startSeconds?: number;
}

/** Evenly spaced arrivals (1 / rate apart), as a load generator on a timer sends them. */
export interface SteadyTraffic {
  kind: 'steady';
  /** Requests per second. */
  ratePerSecond: number;
  /** How long the traffic lasts, seconds. */
  durationSeconds: number;
  /** When it starts, seconds. @default 0 */
  startSeconds?: number;
}

/** `requests` arrivals at once, or spread evenly over `spreadSeconds`. */
export interface BurstTraffic {
  kind: 'burst';
  /** Number of requests in the burst. */
  requests: number;
  /** When the burst starts, seconds. @default 0 */
  atSeconds?: number;
  /**
   * Time over which the burst's connections reach the pool, seconds: a web server connecting
   * a hundred clients needs a few milliseconds, not zero. @default 0
   */
  spreadSeconds?: number;
}

/** A rate that changes over time: Poisson arrivals whose rate is piecewise constant. */
export interface ProfileTraffic {
  kind: 'profile';
  /** From each point's time the rate holds until the next point; times increasing. */
  points: readonly { atSeconds: number; ratePerSecond: number }[];
  /** When the last rate ends, seconds; after the last point's time. */
  endSeconds: number;
}

/** One replayed request: its arrival time and, when known, its service time. */
export interface ReplayArrival {
  /** Arrival time, seconds from the start of the simulation. */
  atSeconds: number;
  /** Time a child spends on it, seconds. Absent: drawn from the simulation's service time. */
  serviceSeconds?: number;
}

/** Recorded arrivals, replayed as they were. */
export interface ReplayTraffic {
  kind: 'replay';
  /** Arrivals in non-decreasing time order. */
  arrivals: readonly ReplayArrival[];
  /** Wall-clock time of `atSeconds` 0, ms since the epoch, when the arrivals came from a log. */
  originEpochMs?: number;
}

/** One traffic source. A simulation takes one or several, merged in time order. */
export type SimulationTraffic =
  | PoissonTraffic
  | SteadyTraffic
  | BurstTraffic
  | ProfileTraffic
  | ReplayTraffic;

/** A lazily generated sequence of arrivals: the next one is in `time` and `service`. */
export interface ArrivalStream {
  /** Next arrival, seconds; `Infinity` when the stream is done. */
  time: number;
  /** Its service time, seconds, or NaN to draw one. */
  service: number;
  /** Moves to the following arrival. */
  advance(): void;
  /** Expected number of arrivals in all, for the size check. */
  readonly expected: number;
}

const done = Number.POSITIVE_INFINITY;

class PoissonStream implements ArrivalStream {
  time: number;
  service = Number.NaN;
  readonly expected: number;
  private readonly end: number;
  constructor(
    private readonly random: SeededRandom,
    private readonly mean: number,
    start: number,
    duration: number,
  ) {
    this.end = start + duration;
    this.expected = duration / mean;
    this.time = start;
    this.advance();
  }
  advance(): void {
    this.time += this.random.exponential(this.mean);
    if (this.time >= this.end) this.time = done;
  }
}

class EvenStream implements ArrivalStream {
  time = done;
  service = Number.NaN;
  private i = 0;
  constructor(
    private readonly start: number,
    private readonly gap: number,
    readonly expected: number,
  ) {
    this.advance();
  }
  advance(): void {
    this.time = this.i < this.expected ? this.start + this.i * this.gap : done;
    this.i++;
  }
}

class ProfileStream implements ArrivalStream {
  time: number;
  service = Number.NaN;
  readonly expected: number;
  private segment = 0;
  constructor(
    private readonly random: SeededRandom,
    private readonly starts: readonly number[],
    private readonly rates: readonly number[],
  ) {
    this.time = starts[0]!;
    let sum = 0;
    for (let i = 0; i < rates.length; i++) sum += rates[i]! * (starts[i + 1]! - starts[i]!);
    this.expected = sum;
    this.advance();
  }
  /** Inversion: spend an Exp(1) amount of cumulative rate across the segments. */
  advance(): void {
    let need = this.random.exponential(1);
    while (this.segment < this.rates.length) {
      const rate = this.rates[this.segment]!;
      const left = (this.starts[this.segment + 1]! - this.time) * rate;
      if (rate > 0 && need < left) {
        this.time += need / rate;
        return;
      }
      need -= left;
      this.segment++;
      this.time = this.starts[this.segment] ?? done;
    }
    this.time = done;
  }
}

class ReplayStream implements ArrivalStream {
  time = done;
  service = Number.NaN;
  private i = 0;
  readonly expected: number;
  constructor(private readonly arrivals: readonly ReplayArrival[]) {
    this.expected = arrivals.length;
    this.advance();
  }
  advance(): void {
    const a = this.arrivals[this.i++];
    this.time = a === undefined ? done : a.atSeconds;
    this.service = a?.serviceSeconds ?? Number.NaN;
  }
}

/** Several streams merged in time order; ties go to the stream listed first. */
class MergedStream implements ArrivalStream {
  time = done;
  service = Number.NaN;
  readonly expected: number;
  private current: ArrivalStream | undefined;
  constructor(private readonly streams: readonly ArrivalStream[]) {
    this.expected = streams.reduce((sum, s) => sum + s.expected, 0);
    this.pick();
  }
  advance(): void {
    this.current?.advance();
    this.pick();
  }
  private pick(): void {
    let best: ArrivalStream | undefined;
    for (const s of this.streams) if (s.time < (best?.time ?? done)) best = s;
    this.current = best;
    this.time = best?.time ?? done;
    this.service = best?.service ?? Number.NaN;
  }
}

/**
 * The arrival stream of one or several traffic sources. Each source draws from its own
 * generator, seeded from `seed` and its position, so adding a source never changes the others.
 * Bad values throw `FpmkitInvalidOptionError` naming the field (`traffic[1].ratePerSecond`).
 */
export function arrivalStream(
  traffic: SimulationTraffic | readonly SimulationTraffic[],
  seed: number,
): ArrivalStream {
  const list: readonly SimulationTraffic[] = Array.isArray(traffic)
    ? traffic
    : [traffic as SimulationTraffic];
  if (list.length === 0)
    throw new FpmkitInvalidOptionError('traffic', 'must name at least one source');
  const streams = list.map((t, i) => streamOf(t, `traffic[${i}]`, seed + 7919 * (i + 1)));
  const merged = streams.length === 1 ? streams[0]! : new MergedStream(streams);
  if (!(merged.expected <= MAX_SIMULATED_REQUESTS)) {
    throw new FpmkitInvalidOptionError(
      'traffic',
      `must bring at most ${MAX_SIMULATED_REQUESTS} requests, got about ${Math.round(merged.expected)}`,
    );
  }
  return merged;
}

function streamOf(t: SimulationTraffic, at: string, seed: number): ArrivalStream {
  const f = (k: string) => `${at}.${k}`;
  switch (t?.kind) {
    case 'poisson': {
      const rate = finitePositive(f('ratePerSecond'), t.ratePerSecond);
      const duration = finiteAtLeast(f('durationSeconds'), t.durationSeconds, 0);
      const start = finiteAtLeast(f('startSeconds'), t.startSeconds ?? 0, 0);
      if (rate * duration > MAX_SIMULATED_REQUESTS) tooMany(at, rate * duration);
      return new PoissonStream(new SeededRandom(seed), 1 / rate, start, duration);
    }
    case 'steady': {
      const rate = finitePositive(f('ratePerSecond'), t.ratePerSecond);
      const duration = finiteAtLeast(f('durationSeconds'), t.durationSeconds, 0);
      const start = finiteAtLeast(f('startSeconds'), t.startSeconds ?? 0, 0);
      if (rate * duration > MAX_SIMULATED_REQUESTS) tooMany(at, rate * duration);
      return new EvenStream(start, 1 / rate, Math.ceil(rate * duration - 1e-9));
    }
    case 'burst': {
      const n = integerIn(f('requests'), t.requests, 0, MAX_SIMULATED_REQUESTS);
      const start = finiteAtLeast(f('atSeconds'), t.atSeconds ?? 0, 0);
      const spread = finiteAtLeast(f('spreadSeconds'), t.spreadSeconds ?? 0, 0);
      return new EvenStream(start, n > 0 ? spread / n : 0, n);
    }
    case 'profile':
      return profileStream(t, at, seed);
    case 'replay':
      return new ReplayStream(checkReplay(t, at));
    default:
      throw new FpmkitInvalidOptionError(
        f('kind'),
        "must be 'poisson', 'steady', 'burst', 'profile' or 'replay'",
      );
  }
}

function tooMany(at: string, n: number): never {
  throw new FpmkitInvalidOptionError(
    at,
    `must bring at most ${MAX_SIMULATED_REQUESTS} requests, got about ${Math.round(n)}`,
  );
}

function profileStream(t: ProfileTraffic, at: string, seed: number): ArrivalStream {
  if (!Array.isArray(t.points) || t.points.length === 0) {
    throw new FpmkitInvalidOptionError(`${at}.points`, 'must list at least one point');
  }
  const starts: number[] = [];
  const rates: number[] = [];
  t.points.forEach((p, i) => {
    const time = finiteAtLeast(`${at}.points[${i}].atSeconds`, p?.atSeconds, starts.at(-1) ?? 0);
    starts.push(time);
    rates.push(finiteAtLeast(`${at}.points[${i}].ratePerSecond`, p.ratePerSecond, 0));
  });
  const last = starts.at(-1)!;
  starts.push(finiteAtLeast(`${at}.endSeconds`, t.endSeconds, last));
  const stream = new ProfileStream(new SeededRandom(seed), starts, rates);
  if (stream.expected > MAX_SIMULATED_REQUESTS) tooMany(at, stream.expected);
  return stream;
}

function checkReplay(t: ReplayTraffic, at: string): readonly ReplayArrival[] {
  if (!Array.isArray(t.arrivals)) {
    throw new FpmkitInvalidOptionError(`${at}.arrivals`, 'must be an array');
  }
  if (t.arrivals.length > MAX_SIMULATED_REQUESTS) tooMany(at, t.arrivals.length);
  let previous = 0;
  t.arrivals.forEach((a, i) => {
    previous = finiteAtLeast(`${at}.arrivals[${i}].atSeconds`, a?.atSeconds, previous);
    if (a.serviceSeconds !== undefined) {
      finiteAtLeast(`${at}.arrivals[${i}].serviceSeconds`, a.serviceSeconds, 0);
    }
  });
  return t.arrivals;
}

/** Options of {@link trafficFromNginxAccessLog} and {@link trafficFromFpmAccessLog}. */
export interface LogReplayOptions {
  /**
   * Take each request's service time from the log (nginx: `$upstream_response_time`, which
   * also holds the queue wait, so it is an upper bound; FPM: `%d`, the time the child spent).
   * @default true
   */
  serviceTimes?: boolean | undefined;
}

interface Stamped {
  /** Logged time, ms since the epoch. */
  ms: number;
  /** Whether the log's clock has sub-second precision. */
  fine: boolean;
  /** Seconds to subtract from the logged time to get the arrival. */
  before: number;
  service: number | undefined;
}

/**
 * Replay traffic from parsed nginx access-log records (`parseNginxAccessLog`). nginx writes a
 * line when the request ends, so each arrival is the logged time minus `$request_time` when the
 * format has it. Logs with whole-second times (`$time_local`) have their requests of one second
 * spread evenly across it, which keeps the per-second rate profile and the count exact. Records
 * without a time are skipped (they cannot be placed).
 */
export function trafficFromNginxAccessLog(
  records: readonly NginxAccessRecord[],
  options: LogReplayOptions = {},
): ReplayTraffic {
  const stamped: Stamped[] = [];
  for (const r of records) {
    if (r.kind !== 'entry' || r.time === undefined) continue;
    const upstream = r.upstreamResponseTimeSeconds?.flat().filter((v) => v !== null);
    const service =
      upstream && upstream.length > 0 ? upstream.reduce((a, b) => a + b, 0) : undefined;
    stamped.push({
      ms: r.time.getTime(),
      fine: 'msec' in r.fields || r.time.getMilliseconds() !== 0,
      before: r.requestTimeSeconds ?? 0,
      service,
    });
  }
  return replayOf(stamped, options);
}

/**
 * Replay traffic from parsed FPM access-log records (`parseFpmAccessLog`). FPM's `%t` is the
 * time the child accepted the request, so the arrivals are the accept times (any queue wait
 * before them is not in the log), and `%d` is the time the child spent on it.
 */
export function trafficFromFpmAccessLog(
  records: readonly FpmAccessRecord[],
  options: LogReplayOptions = {},
): ReplayTraffic {
  const stamped: Stamped[] = [];
  for (const r of records) {
    if (r.kind !== 'entry' || r.time === undefined) continue;
    stamped.push({
      ms: r.time.getTime(),
      fine: r.time.getMilliseconds() !== 0,
      before: 0,
      service: r.durationSeconds,
    });
  }
  return replayOf(stamped, options);
}

function replayOf(stamped: Stamped[], options: LogReplayOptions): ReplayTraffic {
  const useService = options.serviceTimes ?? true;
  // Spread each whole second's requests evenly over it: (k + 0.5) / n of the way through.
  const perSecond = new Map<number, number>();
  for (const s of stamped) if (!s.fine) perSecond.set(s.ms, (perSecond.get(s.ms) ?? 0) + 1);
  const seen = new Map<number, number>();
  const times = stamped.map((s) => {
    if (s.fine) return s.ms / 1000 - s.before;
    const k = seen.get(s.ms) ?? 0;
    seen.set(s.ms, k + 1);
    return s.ms / 1000 + (k + 0.5) / perSecond.get(s.ms)! - s.before;
  });
  const order = times.map((_, i) => i).sort((a, b) => times[a]! - times[b]! || a - b);
  const origin = order.length === 0 ? 0 : Math.floor(times[order[0]!]!);
  const arrivals = order.map((i): ReplayArrival => {
    const service = stamped[i]!.service;
    const atSeconds = times[i]! - origin;
    return useService && service !== undefined
      ? { atSeconds, serviceSeconds: service }
      : { atSeconds };
  });
  return { kind: 'replay', arrivals, originEpochMs: origin * 1000 };
}
