import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import { FpmkitInvalidOptionError } from '../errors.js';
import { type ListenAddress, parseListen } from '../fpm/listen.js';
import {
  DEFAULT_PROC_ROOT,
  PseudoFileReader,
  type ReadOptions,
  readPseudoFileSync,
  roots,
} from '../host/io.js';
import { measureWorkerMemory, readCgroupMemory } from '../host/memory.js';
import { matchTcpListeners, readTcpListenQueues, runSsListeners } from '../host/net.js';
import { NetstatGroupReader } from '../kernel/proc-net-netstat.js';
import { unixListenQueues } from '../kernel/proc-net-unix.js';
import { parseSs } from '../kernel/ss.js';
import { type CompatMode, hipagesPoolSamples, hipagesScrapeUri } from './hipages.js';
import { NginxErrorTail } from './nginx-errors.js';
import { type PoolSample, type PoolSampler, type PoolTarget, StatusChannels } from './sampler.js';
import type { MetricSample } from './samples.js';

/** Defaults of `FpmCollector`, applied in one place. */
export const COLLECTOR_DEFAULTS = {
  /** Bound on one collection when the scraper sends no timeout (Prometheus' default scrape_timeout is 10 s). */
  deadlineMs: 5_000,
  /** How long a listener's backlog read through `ss` is reused: it changes only on restart. */
  backlogCacheMs: 30_000,
  perProcess: false,
  memory: true,
  /**
   * How long a pool's memory reading is reused: reading smaps_rollup walks every mapping of
   * every worker (the larger part of a collection's CPU), and PSS moves slowly.
   */
  memoryCacheMs: 15_000,
} as const;

/**
 * How long a part of the collection may wait when `remainingMs` of its deadline are left: 5%
 * (at least 50 ms) is kept back for making the samples and the answer.
 */
function waitWithin(remainingMs: number): number {
  return Math.max(1, remainingMs - Math.max(50, remainingMs * 0.05));
}

/** `promise`'s value, or `late()` when it has not settled within `ms`; the timer is cleared. */
async function settleWithin<T>(promise: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The most pools one collection samples; more is a configuration error, not a host. */
export const MAX_POOLS = 1_000;

/** Options of `FpmCollector`. */
export interface FpmCollectorOptions extends ReadOptions {
  /** The pools, or a function that lists them at each collection (discovery). */
  targets: readonly PoolTarget[] | (() => Promise<readonly PoolTarget[]>);
  /**
   * Reads one pool's status. @default the collector's own, as {@link createStatusSampler} makes
   * them: at most one status request in flight per pool, across collections
   */
  sampler?: PoolSampler | undefined;
  /** Emit per-process series (one set per worker). @default false */
  perProcess?: boolean | undefined;
  /** Read worker PSS and the cgroup memory limit. @default true */
  memory?: boolean | undefined;
  /**
   * Reads the backlog of every listener: `ss -lnxt` output, or undefined when unavailable.
   * @default runs `ss` (iproute2) with a 3 s bound, cached for 30 s
   */
  listListeners?: (() => Promise<string | undefined>) | undefined;
  /**
   * Also emit another exporter's families: `hipages` adds hipages/php-fpm_exporter's names and
   * labels (see `HIPAGES_FAMILIES`). @default none
   */
  compat?: CompatMode | undefined;
  /**
   * An nginx error log to follow: per pool, the EAGAIN (accept queue full) and `upstream timed
   * out` lines since the collector started, matched by the upstream's socket or address.
   * @default none
   */
  nginxErrorLog?: string | undefined;
}

/** Options of one collection. */
export interface CollectOptions {
  /** Milliseconds the whole collection may take. @default 5000 */
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** The queue readings taken before the status requests go out. */
interface QueueSnapshot {
  /** The text of /proc/net/unix, when a pool listens on a UNIX socket and it could be read. */
  unixText: string | undefined;
  tcp: { address: string; port: number; queued: number }[];
}

interface KernelView {
  unix: Map<string, number>;
  tcp: { address: string; port: number; queued: number }[];
  /** The TcpExt counters of /proc/net/netstat (ListenOverflows, ListenDrops). */
  tcpExt: Record<string, number> | undefined;
  backlog: Backlogs;
}

/** The backlog in force on each listener, by UNIX path and by `host:port`. */
interface Backlogs {
  unix: Map<string, number>;
  tcp: Map<string, number>;
}

/** The listeners' backlogs in `ss -lnxt` output. */
function backlogsOf(ss: string): Backlogs {
  const backlog: Backlogs = { unix: new Map(), tcp: new Map() };
  for (const s of parseSs(ss)) {
    if (s.state !== 'LISTEN') continue;
    if (s.netid === 'tcp') backlog.tcp.set(tcpKey(s.localAddress, Number(s.localPort)), s.sendQ);
    else if (s.netid === 'u_str') backlog.unix.set(s.localAddress, s.sendQ);
  }
  return backlog;
}

const NO_BACKLOGS: Backlogs = { unix: new Map(), tcp: new Map() };

function safeListen(listen: string): ListenAddress | undefined {
  try {
    return parseListen(listen);
  } catch {
    return undefined;
  }
}

/** `host:port` key of a TCP listener as ss and /proc print it. */
function tcpKey(address: string, port: number): string {
  return `${address.replace(/^\[|\]$/g, '')}:${port}`;
}

function kernelQueue(address: ListenAddress, kernel: KernelView): number | undefined {
  if (address.kind === 'unix') return kernel.unix.get(address.path);
  const found = matchTcpListeners(address, kernel.tcp);
  return found.length === 0 ? undefined : found.reduce((sum, l) => sum + l.queued, 0);
}

function kernelBacklog(address: ListenAddress, kernel: KernelView): number | undefined {
  if (address.kind === 'unix') return kernel.backlog.unix.get(address.path);
  const host = address.host ?? '';
  return (
    kernel.backlog.tcp.get(tcpKey(host, address.port)) ??
    (address.wildcard
      ? (kernel.backlog.tcp.get(tcpKey('0.0.0.0', address.port)) ??
        kernel.backlog.tcp.get(tcpKey('::', address.port)) ??
        kernel.backlog.tcp.get(tcpKey('*', address.port)))
      : undefined)
  );
}

const PHASES: Readonly<Record<string, string>> = {
  Running: 'running',
  'Reading headers': 'reading_headers',
  'Getting request information': 'info',
  Finishing: 'finishing',
  Ending: 'ending',
};
/** The phases in order, and each state's index among them. */
const PHASE_LABELS = Object.values(PHASES);
const PHASE_INDEX = new Map(Object.keys(PHASES).map((state, i) => [state, i]));

/**
 * What the collector keeps of one pool between collections. Its label objects: `{ pool, listen }`
 * and that plus one more label (`state`, `phase`, `pm`, `reason`), made once and frozen, so that
 * every collection hands the renderer the same objects and their text is escaped and joined once
 * for the process's life (`renderMetrics` reuses the text of a frozen labels object). And the
 * last start time seen, the restarts counted, and the last memory reading.
 */
class PoolState {
  readonly labels: Readonly<Record<string, string>>;
  /** Label objects with one more label, by its name, then its value. */
  readonly #extra = new Map<string, Map<string, Readonly<Record<string, string>>>>();
  #extraCount = 0;
  /** The master's start time at the last reading (seconds since the epoch). */
  startTime: number | undefined;
  /** Start times that changed between readings. */
  restarts = 0;
  /** The last memory reading, reused for `memoryCacheMs`. */
  memory: { at: number; values: [string, number][] } | undefined;

  constructor(pool: string, listen: string) {
    this.labels = Object.freeze({ pool, listen });
  }

  /** The pool's labels and `name="value"`; the values seen are few (states, phases, reasons). */
  with(name: string, value: string): Readonly<Record<string, string>> {
    let byValue = this.#extra.get(name);
    if (byValue === undefined) {
      byValue = new Map();
      this.#extra.set(name, byValue);
    }
    let labels = byValue.get(value);
    if (labels === undefined) {
      if (this.#extraCount >= 64) {
        // Values that keep changing (a hostile pm value): start over rather than grow.
        this.#extra.clear();
        this.#extraCount = 0;
        byValue = new Map();
        this.#extra.set(name, byValue);
      }
      labels = Object.freeze({ ...this.labels, [name]: value });
      byValue.set(value, labels);
      this.#extraCount++;
    }
    return labels;
  }
}

/**
 * Collects fpmkit's samples for a set of pools: each pool's status page through the sampler
 * (concurrently, each bounded by the collection's deadline), and, whatever the pools answer,
 * the kernel's accept queue of each listener, its backlog, the TCP overflow counters and the
 * workers' memory. Concurrent calls of `collect` share the collection in flight.
 */
export class FpmCollector {
  readonly #options: FpmCollectorOptions;
  /** A sampler passed in; without one, the collector drives {@link StatusChannels} itself. */
  readonly #sampler: PoolSampler | undefined;
  /** The default sampler's state, which this collector owns, drives directly and closes. */
  readonly #channels: StatusChannels | undefined;
  #inFlight: Promise<MetricSample[]> | undefined;
  #collections = 0;
  /** The last good `ss` reading, parsed once (it is reused for `backlogCacheMs`). */
  #backlog: { at: number; backlogs: Backlogs } | undefined;
  /** The `ss` run in flight, when one is. */
  #backlogRefresh: Promise<Backlogs> | undefined;
  /** Parsed listen values: a collection looks each up twice, and the same ones every time. */
  readonly #listens = new Map<string, ListenAddress | undefined>();
  /** /proc/net files read at every collection, each through one open descriptor. */
  readonly #procFiles = new Map<string, PseudoFileReader>();
  readonly #compatFailures = new Map<string, number>();
  readonly #nginx: NginxErrorTail | undefined;
  /** The two TcpExt counters, read from /proc/net/netstat at every collection. */
  readonly #tcpExt = new NetstatGroupReader('TcpExt', ['ListenOverflows', 'ListenDrops']);
  /** What is kept of each pool between collections: see {@link PoolState}. */
  readonly #pools = new Map<string, PoolState>();

  constructor(options: FpmCollectorOptions) {
    if (typeof options !== 'object' || options === null)
      throw new FpmkitInvalidOptionError('options', 'must be an object');
    if (!Array.isArray(options.targets) && typeof options.targets !== 'function')
      throw new FpmkitInvalidOptionError('targets', 'must be an array of pools or a function');
    this.#options = options;
    this.#sampler = options.sampler;
    this.#channels = options.sampler === undefined ? new StatusChannels() : undefined;
    if (options.nginxErrorLog !== undefined)
      this.#nginx = new NginxErrorTail(options.nginxErrorLog);
  }

  /**
   * Aborts the status requests still in flight (the default sampler keeps one per pool across
   * collections) so that nothing holds the process open, and closes the descriptors of the
   * /proc/net files it keeps open. A sampler passed in is not touched. A later `collect` opens
   * them again.
   */
  close(): void {
    this.#channels?.close();
    for (const reader of this.#procFiles.values()) reader.close();
    this.#procFiles.clear();
  }

  /** Collections run so far (concurrent `collect` calls count once). */
  get collections(): number {
    return this.#collections;
  }

  /**
   * The samples of one collection. A call made while another is running gets that one's result,
   * so a burst of scrapes costs FPM one status request per pool.
   */
  collect(options: CollectOptions = {}): Promise<MetricSample[]> {
    if (this.#inFlight) return this.#inFlight;
    const run = this.#collect(options).finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }

  #readOptions(): ReadOptions {
    const read: ReadOptions = {};
    if (this.#options.procRoot !== undefined) read.procRoot = this.#options.procRoot;
    if (this.#options.sysRoot !== undefined) read.sysRoot = this.#options.sysRoot;
    return read;
  }

  /** `ss` (or the reader passed in), a throw turned into a rejection. */
  async #runListListeners(): Promise<string | undefined> {
    return (this.#options.listListeners ?? runSsListeners)();
  }

  /**
   * The listeners' backlogs. A reading older than `backlogCacheMs` is still used while a fresh
   * `ss` run (up to 3 s) goes on in the background, so no scrape waits for it but the first,
   * and that one at most `waitMs` (then it goes without backlogs).
   */
  async #listeners(waitMs: number): Promise<Backlogs> {
    const now = Date.now();
    const cached = this.#backlog;
    if (cached && now - cached.at < COLLECTOR_DEFAULTS.backlogCacheMs) return cached.backlogs;
    this.#backlogRefresh ??= this.#runListListeners()
      .catch(() => undefined)
      .then((text) => {
        // A failed read keeps the last good one and is retried at the next collection.
        if (text !== undefined) this.#backlog = { at: Date.now(), backlogs: backlogsOf(text) };
        this.#backlogRefresh = undefined;
        return this.#backlog?.backlogs ?? NO_BACKLOGS;
      });
    if (cached) return cached.backlogs;
    return settleWithin(this.#backlogRefresh, Math.max(1, waitMs), () => NO_BACKLOGS);
  }

  /**
   * The text of `{procRoot}/net/{file}`. From the real procfs it is read through a descriptor
   * kept open (`PseudoFileReader`); from another root (a fixture tree, whose files a test may
   * replace) it is opened at each call.
   */
  #procNet(file: 'unix' | 'netstat', read: ReadOptions): string {
    const { procRoot } = roots(read);
    const path = join(procRoot, 'net', file);
    if (procRoot !== DEFAULT_PROC_ROOT) return readPseudoFileSync(path);
    let reader = this.#procFiles.get(file);
    if (reader === undefined) {
      reader = new PseudoFileReader(path);
      this.#procFiles.set(file, reader);
    }
    return reader.read();
  }

  /** `parseListen` of a target's listen value, or undefined when it is not one. */
  #listen(listen: string): ListenAddress | undefined {
    if (this.#listens.has(listen)) return this.#listens.get(listen);
    if (this.#listens.size > MAX_POOLS) this.#listens.clear();
    const address = safeListen(listen);
    this.#listens.set(listen, address);
    return address;
  }

  /**
   * What must be read before the status requests go out, so that fpmkit's own request waiting
   * in a busy pool's queue is not counted as a client: the text of /proc/net/unix (parsed later,
   * while the requests are in flight) when a pool listens on a UNIX socket, and the TCP queues
   * when one listens on TCP. /proc/net/tcp and tcp6 are read only then: the kernel walks its
   * whole established-connection hash table to print them, which costs milliseconds of system
   * time on a large host even when few sockets exist.
   */
  async #queueSnapshot(targets: readonly PoolTarget[]): Promise<QueueSnapshot> {
    const read = this.#readOptions();
    let wantUnix = false;
    let wantTcp = false;
    for (const t of targets) {
      const address = this.#listen(t.listen);
      if (address?.kind === 'unix') wantUnix = true;
      else if (address?.kind === 'tcp') wantTcp = true;
    }
    // /proc/net/unix is read synchronously (a fraction of a millisecond, against several
    // thread-pool round trips); the TCP tables, costly to generate, off the loop.
    let unixText: string | undefined;
    if (wantUnix) {
      try {
        unixText = this.#procNet('unix', read);
      } catch {}
    }
    const tcp = wantTcp ? await readTcpListenQueues(read).catch(() => []) : [];
    return { unixText, tcp };
  }

  /**
   * The rest of the kernel's view, read while the status requests are in flight: the UNIX
   * queues parsed from the snapshot, the TcpExt counters of /proc/net/netstat and the
   * listeners' backlogs (neither changes because of a status request).
   */
  async #kernelView(snapshot: QueueSnapshot, waitMs: number): Promise<KernelView> {
    let unix: Map<string, number> = new Map();
    if (snapshot.unixText !== undefined) {
      try {
        for (const q of unixListenQueues(snapshot.unixText)) unix.set(q.path, q.queued);
      } catch {
        unix = new Map();
      }
    }
    let tcpExt: Record<string, number> | undefined;
    try {
      tcpExt = this.#tcpExt.read(this.#procNet('netstat', this.#readOptions()));
    } catch {}
    return { unix, tcp: snapshot.tcp, tcpExt, backlog: await this.#listeners(waitMs) };
  }

  async #collect(options: CollectOptions): Promise<MetricSample[]> {
    const started = performance.now();
    const deadlineMs = options.deadlineMs ?? COLLECTOR_DEFAULTS.deadlineMs;
    if (!Number.isFinite(deadlineMs) || deadlineMs <= 0)
      throw new FpmkitInvalidOptionError('deadlineMs', 'must be a positive number of milliseconds');
    this.#collections++;
    // The default sampler's waits all end together, at the deadline or when the caller aborts:
    // one timer per collection, set once the queues are read. A sampler passed in gets a signal
    // aborted then.
    let abort: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    let endWaits = () => {};
    const until =
      this.#channels === undefined
        ? undefined
        : new Promise<undefined>((resolve) => {
            endWaits = () => resolve(undefined);
          });
    const onAbort = () => {
      abort?.abort();
      endWaits();
    };
    if (this.#channels === undefined) {
      abort = new AbortController();
      setMaxListeners(MAX_POOLS + 10, abort.signal);
      timer = setTimeout(onAbort, deadlineMs);
    }
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    // Samplers not yet settled; when none is left, nothing needs the abort at the end (whose
    // DOMException costs more than the rest of a pool's bookkeeping).
    let running = 0;
    try {
      const listed =
        typeof this.#options.targets === 'function'
          ? await this.#options.targets()
          : this.#options.targets;
      if (listed.length > MAX_POOLS)
        throw new FpmkitInvalidOptionError('targets', `at most ${MAX_POOLS} pools per collection`);
      // The queues are read before the status requests go out, so that fpmkit's own request
      // waiting in a busy pool's queue is not counted as a client; the rest of the kernel's view
      // and each pool's samples are made while the other pools' answers are still on their way.
      const snapshot = await this.#queueSnapshot(listed);
      const waitMs = waitWithin(deadlineMs - (performance.now() - started));
      let sampled: Promise<PoolSample>[];
      if (this.#channels !== undefined) {
        timer = setTimeout(endWaits, waitMs);
        const channels = this.#channels;
        sampled = listed.map((t) => channels.sample(t, until!, waitMs, options.signal));
      } else {
        running = listed.length;
        const settled = () => {
          running--;
        };
        sampled = listed.map((t) => this.#samplePool(t, waitMs, abort!.signal, settled));
      }
      const nginxRead = this.#nginx?.read().then(
        () => true,
        () => false,
      );
      // Bounded like the pools' waits, so a first `ss` that hangs cannot hold the answer.
      const kernel = this.#kernelView(snapshot, waitMs);
      const perPool = await Promise.all(
        sampled.map(async (pending, i) => {
          const sample = await pending;
          const poolOut: MetricSample[] = [];
          await this.#poolSamples(listed[i]!, sample, await kernel, poolOut);
          return { sample, poolOut };
        }),
      );
      const out: MetricSample[] = [];
      const samples: PoolSample[] = [];
      for (const { sample, poolOut } of perPool) {
        samples.push(sample);
        for (const s of poolOut) out.push(s);
      }
      if (this.#options.compat === 'hipages') this.#hipages(listed, samples, out);
      if (nginxRead) this.#nginxCounts(listed, await nginxRead, out);
      const tcpExt = (await kernel).tcpExt;
      if (tcpExt?.ListenOverflows !== undefined)
        out.push({
          name: 'fpm_tcp_listen_overflows_total',
          labels: {},
          value: tcpExt.ListenOverflows,
        });
      if (tcpExt?.ListenDrops !== undefined)
        out.push({ name: 'fpm_tcp_listen_drops_total', labels: {}, value: tcpExt.ListenDrops });
      out.push({
        name: 'fpmkit_exporter_collection_duration_seconds',
        labels: {},
        value: (performance.now() - started) / 1000,
      });
      out.push({ name: 'fpmkit_exporter_collections_total', labels: {}, value: this.#collections });
      return out;
    } finally {
      clearTimeout(timer);
      // A sampler passed in and still running past its deadline lets go of its socket now.
      if (running > 0) abort?.abort();
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #nginxCounts(targets: readonly PoolTarget[], read: boolean, out: MetricSample[]): void {
    const tail = this.#nginx!;
    out.push({
      name: 'fpm_nginx_error_log_readable',
      labels: { path: this.#options.nginxErrorLog ?? '' },
      value: read ? 1 : 0,
    });
    for (const target of targets) {
      const labels = { pool: target.name ?? '', listen: target.listen };
      const counts = tail.countsFor(target.listen);
      out.push({ name: 'fpm_nginx_upstream_eagain_total', labels, value: counts.eagain });
      out.push({ name: 'fpm_nginx_upstream_timed_out_total', labels, value: counts.timedOut });
    }
  }

  #hipages(targets: readonly PoolTarget[], samples: PoolSample[], out: MetricSample[]): void {
    if (this.#compatFailures.size > MAX_POOLS) this.#compatFailures.clear();
    for (let i = 0; i < targets.length; i++) {
      const target = targets[i]!;
      const sample = samples[i]!;
      const uri = hipagesScrapeUri(target);
      const key = `${target.name ?? ''}\u0000${uri}`;
      const failures = (this.#compatFailures.get(key) ?? 0) + (sample.status ? 0 : 1);
      this.#compatFailures.set(key, failures);
      hipagesPoolSamples(target, sample, uri, failures, out);
    }
  }

  /** One pool's status from a sampler passed in, never later than `deadlineMs` whatever it does. */
  async #samplePool(
    target: PoolTarget,
    deadlineMs: number,
    signal: AbortSignal,
    settled: () => void,
  ): Promise<PoolSample> {
    return settleWithin(
      this.#sampler!(target, { deadlineMs, signal }).then(
        (sample) => {
          settled();
          return sample;
        },
        (error: unknown): PoolSample => {
          settled();
          return {
            error: { reason: 'error', message: (error as Error)?.message ?? String(error) },
            durationSeconds: 0,
          };
        },
      ),
      deadlineMs,
      (): PoolSample => ({
        error: { reason: 'timeout', message: `no status within ${Math.round(deadlineMs)} ms` },
        durationSeconds: deadlineMs / 1000,
      }),
    );
  }

  /** What is kept of the pool `pool` on `listen`, made at its first collection. */
  #poolState(pool: string, listen: string): PoolState {
    const key = `${pool}\u0000${listen}`;
    let state = this.#pools.get(key);
    if (state === undefined) {
      if (this.#pools.size >= MAX_POOLS) this.#pools.clear();
      state = new PoolState(pool, listen);
      this.#pools.set(key, state);
    }
    return state;
  }

  async #poolSamples(
    target: PoolTarget,
    sample: PoolSample,
    kernel: KernelView,
    out: MetricSample[],
  ): Promise<void> {
    const status = sample.status;
    const pool = target.name ?? status?.pool ?? '';
    const state = this.#poolState(pool, target.listen);
    const labels = state.labels;
    const push = (name: string, value: number, extraName?: string, extraValue?: string) =>
      out.push({
        name,
        labels: extraName === undefined ? labels : state.with(extraName, extraValue!),
        value,
      });
    push('fpm_up', status ? 1 : 0);
    if (sample.error) push('fpm_scrape_error', 1, 'reason', sample.error.reason);
    push('fpm_status_duration_seconds', sample.durationSeconds);
    const address = this.#listen(target.listen);
    if (status) {
      const start = status.startTime.getTime() / 1000;
      // A reading within 1 s of the last is the same start (OpenMetrics pages derive it).
      if (state.startTime !== undefined && Math.abs(state.startTime - start) > 1) state.restarts++;
      state.startTime = start;
      push('fpm_start_time_seconds', start);
      push('fpm_restarts_observed_total', state.restarts);
      push('fpm_accepted_connections_total', status.acceptedConn);
      push('fpm_processes', status.idleProcesses, 'state', 'idle');
      push('fpm_processes', status.activeProcesses, 'state', 'active');
      if (status.processes) {
        const counts = PHASE_LABELS.map(() => 0);
        for (const p of status.processes) {
          const i = PHASE_INDEX.get(p.state);
          if (i !== undefined) counts[i]!++;
        }
        for (let i = 0; i < PHASE_LABELS.length; i++)
          push('fpm_active_processes_by_phase', counts[i]!, 'phase', PHASE_LABELS[i]!);
      }
      push('fpm_max_active_processes', status.maxActiveProcesses);
      push('fpm_max_children_reached_total', status.maxChildrenReached);
      if (status.slowRequests !== undefined) push('fpm_slow_requests_total', status.slowRequests);
      push('fpm_process_manager', 1, 'pm', status.processManager);
      if (target.maxChildren !== undefined && target.maxChildren > 0)
        push('fpm_saturation_ratio', status.activeProcesses / target.maxChildren);
      if (status.listenQueueMeasured && status.maxListenQueue !== undefined)
        push('fpm_max_listen_queue_connections', status.maxListenQueue);
    }
    if (target.maxChildren !== undefined) push('fpm_max_children', target.maxChildren);
    if (address) {
      const queued = kernelQueue(address, kernel);
      if (queued !== undefined) push('fpm_listen_queue_connections', queued);
      const backlog = kernelBacklog(address, kernel);
      if (backlog !== undefined) push('fpm_listen_backlog_connections', backlog);
    }
    if (this.#options.memory ?? COLLECTOR_DEFAULTS.memory) {
      // A reading younger than memoryCacheMs is pushed at once; only a new one is awaited.
      const reading = this.#memory(state, target, status, push);
      if (reading !== undefined) await reading;
    }
    if (status?.processes && (this.#options.perProcess ?? COLLECTOR_DEFAULTS.perProcess)) {
      for (const p of status.processes) {
        const pid = String(p.pid);
        // One series per worker: these labels change with the pids and are not kept.
        const withPid = { ...labels, pid };
        out.push({ name: 'fpm_process_requests_total', labels: withPid, value: p.requests });
        out.push({
          name: 'fpm_process_state',
          labels: { ...withPid, state: p.state },
          value: 1,
        });
        out.push({
          name: 'fpm_process_request_duration_seconds',
          labels: withPid,
          value: p.requestDurationMicros / 1e6,
        });
        out.push({
          name: 'fpm_process_last_request_memory_bytes',
          labels: withPid,
          value: p.lastRequestMemoryBytes,
        });
      }
    }
  }

  /** The pool's memory samples: the kept reading while it is fresh, else a new one (awaited). */
  #memory(
    state: PoolState,
    target: PoolTarget,
    status: PoolSample['status'],
    push: (name: string, value: number) => void,
  ): Promise<void> | undefined {
    const cached = state.memory;
    const now = Date.now();
    if (cached && now - cached.at < COLLECTOR_DEFAULTS.memoryCacheMs) {
      for (const [name, value] of cached.values) push(name, value);
      return undefined;
    }
    const values: [string, number][] = [];
    return this.#readMemory(target, status, (name, value) => values.push([name, value])).then(
      () => {
        state.memory = { at: now, values };
        for (const [name, value] of values) push(name, value);
      },
    );
  }

  async #readMemory(
    target: PoolTarget,
    status: PoolSample['status'],
    push: (name: string, value: number) => void,
  ): Promise<void> {
    const read = this.#readOptions();
    const pids = (status?.processes ?? []).map((p) => p.pid).filter((pid) => pid > 0);
    if (pids.length > 0) {
      const memory = await measureWorkerMemory(pids, read).catch(() => undefined);
      if (memory && memory.count > 0) {
        push('fpm_worker_memory_pss_bytes', memory.meanBytes * memory.count);
        if (target.maxChildren !== undefined)
          push('fpm_memory_budget_bytes', Math.round(memory.meanBytes * target.maxChildren));
      }
    }
    const limitPid = target.masterPid ?? pids[0];
    if (limitPid !== undefined) {
      const cgroup = await readCgroupMemory(limitPid, read).catch(() => undefined);
      if (cgroup && typeof cgroup.limitBytes === 'number')
        push('fpm_cgroup_memory_limit_bytes', cgroup.limitBytes);
    }
  }
}
