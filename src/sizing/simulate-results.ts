/**
 * What a simulation records and how it is summed up: one row per request (arrival, queue
 * wait, HTTP status), one row per sampling interval (children, idle, queue depth, refusals),
 * one row per reload, and the summary computed from them.
 */

/** HTTP status of a request that the simulation had not finished when it ended. */
export const UNFINISHED = 0;

/** Per-request results, indexed by request number (arrival order). */
export interface SimulatedRequests {
  /** Arrival at the pool's socket (nginx's connect()), seconds. */
  arrivalSeconds: Float64Array;
  /** Time in the accept queue until a child accepted it, seconds; NaN when never accepted. */
  waitSeconds: Float64Array;
  /** Service time, seconds. */
  serviceSeconds: Float64Array;
  /** 200, 502 (refused or killed), 504 (nginx timed out) or 0 (unfinished at the end). */
  status: Uint16Array;
}

/** The time series, one entry per sampling interval. */
export interface SimulatedSeries {
  /** Length of one interval, seconds. */
  intervalSeconds: number;
  /** Start of each interval, seconds. */
  timeSeconds: number[];
  /** Children the master holds (forking, idle, busy or exiting) at the start of the interval. */
  children: number[];
  /** Children waiting in accept() at the start of the interval. */
  idle: number[];
  /** Children running a request at the start of the interval. */
  busy: number[];
  /** Connections in the accept queue at the start of the interval. */
  queueDepth: number[];
  /** Deepest the accept queue got during the interval. */
  queuePeak: number[];
  /** Connections the accept queue holds: min(listen.backlog, somaxconn) + 1. */
  queueCapacity: number;
  /** Requests arriving during the interval. */
  arrivals: number[];
  /** Requests answered 502 during the interval (queue full, or killed by a reload). */
  status502: number[];
  /** Requests answered 504 during the interval (nginx's connect or read timeout). */
  status504: number[];
  /** Requests answered 200 during the interval. */
  status200: number[];
}

/** One reload (SIGUSR2) and what it cost. */
export interface SimulatedReload {
  /** When the signal arrived, seconds. */
  atSeconds: number;
  /** When the new master could accept again (restart plus one fork), seconds. */
  acceptingAgainAtSeconds: number;
  /** Time without any child accepting, seconds. */
  noAcceptSeconds: number;
  /** Connections refused (502, queue full) from the signal until the queue first drained. */
  refused: number;
  /** Requests in flight killed by SIGTERM after `process_control_timeout` (502). */
  killed: number;
}

/** Counts of what the process manager did. */
export interface SimulatedPmCounts {
  /** Children forked, initial ones included. */
  forks: number;
  /** Idle children killed by the maintenance tick (dynamic above max_spare, ondemand idle timeout). */
  idleKills: number;
  /** Children that exited after pm.max_requests and were forked again. */
  recycles: number;
  /** Times FPM would log "server reached (pm.)max_children setting". */
  maxChildrenReached: number;
  /** Most children at once. */
  peakChildren: number;
}

/** Summary of a run. Times in seconds. */
export interface SimulationSummary {
  /** Requests that arrived. */
  requests: number;
  /** Requests answered 200. */
  completed: number;
  /** 502s: connections refused because the queue was full, plus requests killed by reloads. */
  status502: number;
  /** Of those, connections refused with EAGAIN (UNIX socket, queue full). */
  refused: number;
  /** Of those, requests killed in flight by a reload's SIGTERM. */
  killed: number;
  /** 504s: nginx's read timeout (or connect timeout over TCP) ran out first. */
  status504: number;
  /** Requests still queued or running when the simulation ended. */
  unfinished: number;
  /** Requests accepted by a child (the waits below are theirs). */
  accepted: number;
  /** Mean queue wait of accepted requests. */
  meanWaitSeconds: number;
  /**
   * Half width of the 95 % confidence interval of the mean wait, from 20 batch means over the
   * requests in arrival order (Student t, 19 degrees of freedom); NaN with fewer than 40.
   */
  meanWaitCi95Seconds: number;
  p50WaitSeconds: number;
  p90WaitSeconds: number;
  p99WaitSeconds: number;
  maxWaitSeconds: number;
  /** Deepest the accept queue got. */
  peakQueueDepth: number;
  /** Reloads simulated, with their cost. */
  reloads: SimulatedReload[];
  /** Mean 502s per reload (refused plus killed); NaN without reloads. */
  refusalsPerReload: number;
  pm: SimulatedPmCounts;
  /** Simulated time, seconds. */
  simulatedSeconds: number;
  /** Events processed (arrivals included). */
  events: number;
}

/** Growable typed arrays for the per-request rows. */
export class RequestTable {
  count = 0;
  arrival = new Float64Array(1024);
  wait = new Float64Array(1024);
  service = new Float64Array(1024);
  status = new Uint16Array(1024);

  add(arrival: number, service: number): number {
    if (this.count === this.arrival.length) this.grow();
    const id = this.count++;
    this.arrival[id] = arrival;
    this.wait[id] = Number.NaN;
    this.service[id] = service;
    return id;
  }

  private grow(): void {
    const n = this.arrival.length * 2;
    const f = (a: Float64Array) => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    this.arrival = f(this.arrival);
    this.wait = f(this.wait);
    this.service = f(this.service);
    const s = new Uint16Array(n);
    s.set(this.status);
    this.status = s;
  }

  /** The rows, trimmed to the requests that arrived (views, not copies). */
  view(): SimulatedRequests {
    return {
      arrivalSeconds: this.arrival.subarray(0, this.count),
      waitSeconds: this.wait.subarray(0, this.count),
      serviceSeconds: this.service.subarray(0, this.count),
      status: this.status.subarray(0, this.count),
    };
  }
}

/** State the series samples at each interval boundary. */
export interface PoolSnapshot {
  children: number;
  idle: number;
  busy: number;
  queueDepth: number;
}

/** Collects the time series: state at boundaries, counts per interval. */
export class SeriesRecorder {
  readonly series: SimulatedSeries;
  /** Time of the next boundary to sample, seconds. */
  nextSampleSeconds = 0;
  private cachedIndex = 0;

  constructor(intervalSeconds: number, queueCapacity: number) {
    this.series = {
      intervalSeconds,
      timeSeconds: [],
      children: [],
      idle: [],
      busy: [],
      queueDepth: [],
      queuePeak: [],
      queueCapacity,
      arrivals: [],
      status502: [],
      status504: [],
      status200: [],
    };
    this.bucket(0);
  }

  /** Records the state for every boundary up to and including `t`. */
  sampleUntil(t: number, state: PoolSnapshot): void {
    const s = this.series;
    while (this.nextSampleSeconds <= t) {
      const i = s.timeSeconds.length;
      s.timeSeconds.push(i * s.intervalSeconds);
      s.children.push(state.children);
      s.idle.push(state.idle);
      s.busy.push(state.busy);
      s.queueDepth.push(state.queueDepth);
      this.bucket(i);
      s.queuePeak[i] = Math.max(s.queuePeak[i]!, state.queueDepth);
      this.nextSampleSeconds = (i + 1) * s.intervalSeconds;
    }
  }

  /** Notes a queue depth reached at `t`. */
  queueAt(t: number, depth: number): void {
    const i = this.bucket(this.indexOf(t));
    if (depth > this.series.queuePeak[i]!) this.series.queuePeak[i] = depth;
  }

  /** Counts one event of `field` at `t`. */
  count(field: 'arrivals' | 'status502' | 'status504' | 'status200', t: number): void {
    this.countIn(this.series[field], t);
  }

  /** Counts one event at `t` in `counts`, one of the series' per-interval arrays. */
  countIn(counts: number[], t: number): void {
    // Most counts fall in the interval of the one before: skip the division then.
    const width = this.series.intervalSeconds;
    const from = this.cachedIndex * width;
    if (!(t >= from && t < from + width)) this.cachedIndex = this.bucket(this.indexOf(t));
    counts[this.cachedIndex]!++;
  }

  /** Cuts the counts to the sampled intervals. */
  finish(): SimulatedSeries {
    const s = this.series;
    const n = s.timeSeconds.length;
    for (const k of ['queuePeak', 'arrivals', 'status502', 'status504', 'status200'] as const) {
      this.bucket(n - 1);
      s[k].length = n;
    }
    return s;
  }

  private indexOf(t: number): number {
    return Math.max(0, Math.floor(t / this.series.intervalSeconds + 1e-9));
  }

  /** Makes sure the per-interval arrays reach index `i`; returns `i`. */
  private bucket(i: number): number {
    const s = this.series;
    while (s.arrivals.length <= i) {
      s.queuePeak.push(0);
      s.arrivals.push(0);
      s.status502.push(0);
      s.status504.push(0);
      s.status200.push(0);
    }
    return i;
  }
}

/** Student t quantile for 95 % two-sided with 19 degrees of freedom (20 batches). */
const T95_19 = 2.093;
const BATCHES = 20;

/** Mean and 95 % half width from batch means of `values` in their order. */
export function batchMeans(values: Float64Array): { mean: number; ci95: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i]!;
  const mean = sum / n;
  if (n < 2 * BATCHES) return { mean, ci95: Number.NaN };
  const size = Math.floor(n / BATCHES);
  let sq = 0;
  let grand = 0;
  const means: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    let s = 0;
    for (let i = b * size; i < (b + 1) * size; i++) s += values[i]!;
    means.push(s / size);
    grand += s / size;
  }
  grand /= BATCHES;
  for (const m of means) sq += (m - grand) ** 2;
  const sd = Math.sqrt(sq / (BATCHES - 1));
  return { mean, ci95: (T95_19 * sd) / Math.sqrt(BATCHES) };
}

/** The p-quantile (0..1) of sorted values, nearest rank; NaN when empty. */
export function quantileSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Waits of the accepted requests that arrived at or after `fromSeconds`, in arrival order. */
export function acceptedWaits(requests: SimulatedRequests, fromSeconds: number): Float64Array {
  const out = new Float64Array(requests.waitSeconds.length);
  let n = 0;
  for (let i = 0; i < requests.waitSeconds.length; i++) {
    const w = requests.waitSeconds[i]!;
    if (!Number.isNaN(w) && requests.arrivalSeconds[i]! >= fromSeconds) out[n++] = w;
  }
  return out.subarray(0, n);
}

/** The wait statistics of the summary. */
export function waitSummary(
  waits: Float64Array,
): Pick<
  SimulationSummary,
  | 'accepted'
  | 'meanWaitSeconds'
  | 'meanWaitCi95Seconds'
  | 'p50WaitSeconds'
  | 'p90WaitSeconds'
  | 'p99WaitSeconds'
  | 'maxWaitSeconds'
> {
  const { mean, ci95 } = batchMeans(waits);
  const work = Float64Array.from(waits);
  let max = Number.NaN;
  for (let i = 0; i < work.length; i++) if (!(work[i]! <= max)) max = work[i]!;
  return {
    accepted: waits.length,
    meanWaitSeconds: mean,
    meanWaitCi95Seconds: ci95,
    // Largest quantile first: each selection leaves the smaller values to the left.
    p99WaitSeconds: quantileSelect(work, 0.99, work.length),
    p90WaitSeconds: quantileSelect(work, 0.9, Math.ceil(0.99 * work.length)),
    p50WaitSeconds: quantileSelect(work, 0.5, Math.ceil(0.9 * work.length)),
    maxWaitSeconds: max,
  };
}

/**
 * The p-quantile (nearest rank, as {@link quantileSorted}) of `a`, found by quickselect within
 * `a[0..end)`, which must hold the `end` smallest values. Reorders `a`; O(n) on average.
 */
export function quantileSelect(a: Float64Array, p: number, end: number): number {
  const n = a.length;
  if (n === 0) return Number.NaN;
  const k = Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
  let lo = 0;
  let hi = Math.max(k, Math.min(end, n) - 1);
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k]!;
}

/** Header of {@link simulationSeriesCsv}. */
export const SERIES_CSV_HEADER =
  'time_s,children,idle,busy,queue_depth,queue_peak,queue_capacity,arrivals,status_200,status_502,status_504';

/** The time series as CSV, one line per interval, with {@link SERIES_CSV_HEADER}. */
export function simulationSeriesCsv(series: SimulatedSeries): string {
  const lines = [SERIES_CSV_HEADER];
  for (let i = 0; i < series.timeSeconds.length; i++) {
    lines.push(
      [
        Number(series.timeSeconds[i]!.toFixed(6)),
        series.children[i],
        series.idle[i],
        series.busy[i],
        series.queueDepth[i],
        series.queuePeak[i],
        series.queueCapacity,
        series.arrivals[i],
        series.status200[i],
        series.status502[i],
        series.status504[i],
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
