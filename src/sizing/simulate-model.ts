import type { SimulationSettings } from './simulate.js';
import type { EventQueue } from './simulate-queue.js';
import type { ServiceSampler } from './simulate-random.js';
import {
  type PoolSnapshot,
  RequestTable,
  type SeriesRecorder,
  type SimulatedPmCounts,
  type SimulatedReload,
} from './simulate-results.js';
import type { ArrivalStream } from './simulate-traffic.js';

/**
 * The process-manager model: one FPM 8.2 pool, its master, its children and its accept queue,
 * driven by events. Each handler follows a function of php-src `sapi/fpm/fpm/` (named in its
 * comment); the kernel side follows `net/unix/af_unix.c` (a UNIX listener holds backlog + 1
 * connections, a non-blocking connect() to a full one fails with EAGAIN) and TCP's SYN
 * retransmission (a full queue drops the SYN; the client retries after 1, 2, 4 ... s).
 */

/** Everything the model needs, resolved and checked by `simulatePool`. */
export interface ModelConfig extends Omit<SimulationSettings, 'listen'> {
  /** UNIX socket (EAGAIN when full) or TCP (SYN dropped and retried). */
  unix: boolean;
  forkSeconds: number;
  masterForkSeconds: number;
  masterWakeSeconds: number;
  acceptGapSeconds: number;
  acceptLatencySeconds: number;
  exitSeconds: number;
  restartSeconds: number;
  connectTimeoutSeconds: number;
  readTimeoutSeconds: number;
  firstTickSeconds: number;
  coldStart: boolean;
  /** Children at time 0; undefined: FPM's initial number for the mode. */
  initialChildren: number | undefined;
  reloadsAtSeconds: readonly number[];
  /** Run until then; undefined: until the traffic is over and the pool is quiet. */
  durationSeconds: number | undefined;
}

/** Seconds between maintenance ticks: `FPM_IDLE_SERVER_MAINTENANCE_HEARTBEAT` (fpm_process_ctl.h). */
export const FPM_MAINTENANCE_TICK_SECONDS = 1;
/** First SYN retransmission timeout of Linux TCP (`TCP_TIMEOUT_INIT`), doubled on each retry. */
export const TCP_INITIAL_RTO_SECONDS = 1;

enum Ev {
  Tick = 0,
  ChildReady = 1,
  ChildFree = 2,
  ChildExit = 3,
  MasterAccept = 4,
  Reload = 5,
  ControlTimeout = 6,
  Restart = 7,
  SynRetry = 8,
}

enum St {
  Free = 0,
  Starting = 1,
  Idle = 2,
  Busy = 3,
  Exiting = 4,
}

enum Master {
  Normal = 0,
  Reloading = 1,
}

/** The simulated pool. `run()` processes every event and leaves the results in the fields. */
export class PoolModel {
  readonly requests = new RequestTable();
  readonly reloads: SimulatedReload[] = [];
  readonly pm: SimulatedPmCounts = {
    forks: 0,
    idleKills: 0,
    recycles: 0,
    maxChildrenReached: 0,
    peakChildren: 0,
  };
  refused = 0;
  killed = 0;
  /** Requests answered with each status so far. */
  readonly answered = { 200: 0, 502: 0, 504: 0 };
  peakQueue = 0;
  events = 0;
  now = 0;

  // Children, one slot each (FPM never runs more than max_children in a pool).
  private readonly state: Uint8Array;
  private readonly epoch: Int32Array;
  private readonly started: Float64Array;
  private readonly lastActivity: Float64Array;
  private readonly served: Int32Array;
  private readonly current: Int32Array;
  private readonly serviceEnd: Float64Array;
  /** When the child's accept() returned with its current request. */
  private readonly acceptedAt: Float64Array;
  private readonly respawn: Uint8Array;
  private readonly quitting: Uint8Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private idleHead = -1;
  private idleTail = -1;
  private readonly freeSlots: number[] = [];
  private running = 0;
  private idle = 0;
  private busy = 0;

  // The accept queue: a ring of request ids that grows up to the capacity.
  private ring = new Int32Array(64);
  private ringHead = 0;
  private queued = 0;

  // The master.
  private master = Master.Normal;
  private spawnRate = 1;
  private warnedMaxChildren = false;
  private masterBusyUntil = 0;
  private acceptEventPending = false;
  private tickEpoch = 0;
  private reloadEpoch = 0;
  private signalSent: 'none' | 'quit' | 'term' = 'none';
  /** The reload refusals are counted against, from its signal until the queue drains after it. */
  private reload: SimulatedReload | undefined;
  private pendingReloads = 0;
  private retrying = 0;
  private readonly attempts = new Map<number, number>();

  constructor(
    private readonly cfg: ModelConfig,
    private readonly queue: EventQueue,
    private readonly arrivals: ArrivalStream,
    private readonly service: ServiceSampler,
    private readonly series: SeriesRecorder,
  ) {
    const n = cfg.maxChildren;
    this.state = new Uint8Array(n);
    this.epoch = new Int32Array(n);
    this.started = new Float64Array(n);
    this.lastActivity = new Float64Array(n);
    this.served = new Int32Array(n);
    this.current = new Int32Array(n).fill(-1);
    this.serviceEnd = new Float64Array(n);
    this.acceptedAt = new Float64Array(n);
    this.respawn = new Uint8Array(n);
    this.quitting = new Uint8Array(n);
    this.next = new Int32Array(n).fill(-1);
    this.prev = new Int32Array(n).fill(-1);
    for (let i = n - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  /** Runs the simulation to its end. */
  run(): void {
    this.start();
    const end = this.cfg.durationSeconds ?? Number.POSITIVE_INFINITY;
    for (;;) {
      const te = this.queue.peekTime();
      const ta = this.arrivals.time;
      const t = Math.min(te, ta);
      if (t > end || t === Number.POSITIVE_INFINITY) break;
      if (this.cfg.durationSeconds === undefined && this.quiet()) break;
      if (t >= this.series.nextSampleSeconds) this.series.sampleUntil(t, this.snapshot());
      this.now = t;
      this.events++;
      if (te <= ta) this.dispatch(this.queue.pop(), this.queue.data);
      else this.arrive();
    }
    if (this.cfg.durationSeconds !== undefined) this.now = end;
    this.series.sampleUntil(this.now, this.snapshot());
    this.settleUnfinished();
  }

  /** Nothing left that could change a result: no traffic, queue, request or reload pending. */
  private quiet(): boolean {
    return (
      this.arrivals.time === Number.POSITIVE_INFINITY &&
      this.queued === 0 &&
      this.busy === 0 &&
      this.retrying === 0 &&
      this.pendingReloads === 0 &&
      this.master === Master.Normal
    );
  }

  snapshot(): PoolSnapshot {
    return { children: this.running, idle: this.idle, busy: this.busy, queueDepth: this.queued };
  }

  private dispatch(kind: number, data: number): void {
    switch (kind) {
      case Ev.Tick:
        if (data === this.tickEpoch) this.tick();
        break;
      case Ev.ChildReady: {
        const c = this.childOf(data, St.Starting);
        if (c >= 0) this.becomeIdle(c);
        break;
      }
      case Ev.ChildFree: {
        const c = this.childOf(data, St.Busy);
        if (c >= 0) this.childFree(c);
        break;
      }
      case Ev.ChildExit: {
        const c = this.childOf(data, St.Exiting);
        if (c >= 0) this.bury(c);
        break;
      }
      case Ev.MasterAccept:
        this.acceptEventPending = false;
        this.onSocketAccept();
        break;
      case Ev.Reload:
        this.pendingReloads--;
        this.startReload();
        break;
      case Ev.ControlTimeout:
        if (data === this.reloadEpoch) this.controlTimeout();
        break;
      case Ev.Restart:
        this.restart();
        break;
      case Ev.SynRetry:
        this.retrying--;
        this.connect(data);
        break;
    }
  }

  /** The child an event is for, or -1 when the event is stale (other epoch or state). */
  private childOf(data: number, expected: St): number {
    const n = this.cfg.maxChildren;
    const c = data % n;
    return this.epoch[c] === (data - c) / n && this.state[c] === expected ? c : -1;
  }

  private schedule(delay: number, kind: Ev, data: number): void {
    this.queue.push(this.now + delay, kind, data);
  }

  private scheduleChild(at: number, kind: Ev, c: number): void {
    this.queue.push(at, kind, c + this.cfg.maxChildren * this.epoch[c]!);
  }

  // --- start, ticks, spawning -------------------------------------------------------------

  /** `fpm_children_create_initial`: static forks max_children, dynamic start_servers, ondemand none. */
  private start(): void {
    for (const at of this.cfg.reloadsAtSeconds) {
      this.queue.push(at, Ev.Reload, 0);
      this.pendingReloads++;
    }
    this.queue.push(this.cfg.firstTickSeconds, Ev.Tick, this.tickEpoch);
    const initial = this.cfg.initialChildren ?? this.initialChildren();
    for (let i = 0; i < initial; i++) {
      if (this.cfg.coldStart) this.spawn();
      else this.becomeIdle(this.takeSlot(0));
    }
  }

  private initialChildren(): number {
    const { mode, maxChildren, startServers } = this.cfg;
    return mode === 'static' ? maxChildren : mode === 'dynamic' ? startServers : 0;
  }

  private takeSlot(startedAt: number): number {
    const c = this.freeSlots.pop()!;
    this.state[c] = St.Starting;
    this.started[c] = startedAt;
    this.served[c] = 0;
    this.respawn[c] = 1;
    this.quitting[c] = 0;
    this.running++;
    this.pm.forks++;
    if (this.running > this.pm.peakChildren) this.pm.peakChildren = this.running;
    return c;
  }

  /**
   * `fpm_children_make`: one fork. The master is busy for `masterForkSeconds` per fork, so forks
   * queue behind each other; the child can accept `forkSeconds` after its fork began.
   */
  private spawn(): void {
    const at = Math.max(this.now, this.masterBusyUntil);
    this.masterBusyUntil = at + this.cfg.masterForkSeconds;
    const c = this.takeSlot(at);
    this.scheduleChild(at + this.cfg.forkSeconds, Ev.ChildReady, c);
  }

  /**
   * `fpm_pctl_perform_idle_server_maintenance`, once a second while the master is in its
   * normal state (`fpm_pctl_perform_idle_server_maintenance_heartbeat`).
   */
  private tick(): void {
    this.schedule(FPM_MAINTENANCE_TICK_SECONDS, Ev.Tick, this.tickEpoch);
    if (this.master !== Master.Normal) return;
    if (this.cfg.mode === 'ondemand') this.reapIdle();
    else if (this.cfg.mode === 'dynamic') this.balanceSpares();
  }

  /** The idle child started longest ago (`last_idle_child`); -1 when none is idle. */
  private oldestIdle(): number {
    let best = -1;
    for (let c = this.idleHead; c !== -1; c = this.next[c]!) {
      if (best === -1 || this.started[c]! < this.started[best]!) best = c;
    }
    return best;
  }

  /** ondemand: kill the oldest idle child once its last activity is older than the timeout (whole seconds). */
  private reapIdle(): void {
    const c = this.oldestIdle();
    if (c === -1) return;
    const limit = Math.floor(this.now) - this.cfg.processIdleTimeoutSeconds;
    if (Math.floor(this.lastActivity[c]!) < limit) this.killIdle(c);
  }

  /** dynamic: one idle kill above max_spare, else fork up to min_spare at the doubling rate. */
  private balanceSpares(): void {
    const cfg = this.cfg;
    const idle = this.idleForMaster();
    if (idle > cfg.maxSpareServers && this.idle > 0) {
      this.killIdle(this.oldestIdle());
      this.spawnRate = 1;
      return;
    }
    if (idle >= cfg.minSpareServers) {
      this.spawnRate = 1;
      return;
    }
    const n = Math.min(this.spawnRate, cfg.minSpareServers - idle, cfg.maxChildren - this.running);
    if (n <= 0) {
      this.reachedMaxChildren();
      this.spawnRate = 1;
      return;
    }
    this.warnedMaxChildren = false;
    for (let i = 0; i < n; i++) this.spawn();
    if (this.spawnRate < cfg.maxSpawnRate) this.spawnRate *= 2;
  }

  /**
   * Children the master counts as idle (`fpm_request_is_idle`: the scoreboard says accepting):
   * those in accept() and those woken with a connection that have not yet returned from it.
   */
  private idleForMaster(): number {
    if (this.cfg.acceptLatencySeconds === 0) return this.idle;
    let n = this.idle;
    for (let c = 0; c < this.cfg.maxChildren; c++) {
      if (this.state[c] === St.Busy && this.acceptedAt[c]! > this.now) n++;
    }
    return n;
  }

  private reachedMaxChildren(): void {
    if (!this.warnedMaxChildren) this.pm.maxChildrenReached++;
    this.warnedMaxChildren = true;
  }

  /** `fpm_pctl_kill_idle_child`: SIGQUIT; the child leaves accept() and is not respawned. */
  private killIdle(c: number): void {
    this.unlinkIdle(c);
    this.pm.idleKills++;
    this.exit(c, false);
  }

  /**
   * `fpm_pctl_on_socket_accept` (ondemand): the listening socket is watched edge-triggered, so
   * connections arriving before the master wakes up (or while it is busy forking) make one
   * event, not one each.
   */
  private acceptEvent(): void {
    if (this.cfg.mode !== 'ondemand' || this.master !== Master.Normal) return;
    if (this.acceptEventPending) return;
    const at = Math.max(this.now + this.cfg.masterWakeSeconds, this.masterBusyUntil);
    if (at <= this.now) {
      this.onSocketAccept();
      return;
    }
    this.acceptEventPending = true;
    this.queue.push(at, Ev.MasterAccept, 0);
  }

  private onSocketAccept(): void {
    if (this.master !== Master.Normal) return;
    if (this.running >= this.cfg.maxChildren) {
      this.reachedMaxChildren();
      return;
    }
    if (this.idleForMaster() > 0) return;
    this.warnedMaxChildren = false;
    this.spawn();
  }

  // --- requests -----------------------------------------------------------------------------

  private arrive(): void {
    const stream = this.arrivals;
    const service = Number.isNaN(stream.service) ? this.service() : stream.service;
    const id = this.requests.add(this.now, service);
    stream.advance();
    this.series.countIn(this.series.series.arrivals, this.now);
    this.connect(id);
  }

  /** nginx's connect(): straight to an idle child, else into the queue, else refused. */
  private connect(id: number): void {
    if (this.idle > 0) {
      this.accept(this.popIdle(), id, this.cfg.acceptLatencySeconds);
      this.acceptEvent();
      return;
    }
    if (this.queued < this.cfg.queueCapacity) {
      this.enqueue(id);
      this.acceptEvent();
      return;
    }
    if (this.cfg.unix) {
      this.refused++;
      if (this.reload) this.reload.refused++;
      this.finish(id, 502, this.now);
      return;
    }
    this.retrySyn(id);
  }

  /** TCP: the SYN is dropped; the client retransmits after 1, 2, 4 ... s until nginx's connect timeout. */
  private retrySyn(id: number): void {
    const n = this.attempts.get(id) ?? 0;
    const sinceArrival = TCP_INITIAL_RTO_SECONDS * (2 ** (n + 1) - 1);
    const deadline = this.requests.arrival[id]! + this.cfg.connectTimeoutSeconds;
    const at = this.requests.arrival[id]! + sinceArrival;
    if (at >= deadline) {
      this.attempts.delete(id);
      this.finish(id, 504, deadline);
      return;
    }
    this.attempts.set(id, n + 1);
    this.retrying++;
    this.queue.push(at, Ev.SynRetry, id);
  }

  private enqueue(id: number): void {
    if (this.queued === this.ring.length) this.growRing();
    this.ring[(this.ringHead + this.queued) % this.ring.length] = id;
    this.queued++;
    if (this.queued > this.peakQueue) this.peakQueue = this.queued;
    this.series.queueAt(this.now, this.queued);
  }

  private dequeue(): number {
    const id = this.ring[this.ringHead]!;
    this.ringHead = (this.ringHead + 1) % this.ring.length;
    this.queued--;
    if (this.queued === 0 && this.master === Master.Normal) this.reload = undefined;
    return id;
  }

  private growRing(): void {
    const bigger = new Int32Array(this.ring.length * 2);
    for (let i = 0; i < this.queued; i++) {
      bigger[i] = this.ring[(this.ringHead + i) % this.ring.length]!;
    }
    this.ring = bigger;
    this.ringHead = 0;
  }

  /**
   * A child accepts request `id`, `latency` seconds from now when it was asleep in accept()
   * (until then the master still sees it idle). nginx's read timeout runs from the connect: if
   * the response cannot come before it, nginx answers 504 then, and the child still runs it.
   */
  private accept(c: number, id: number, latency: number): void {
    const req = this.requests;
    const arrival = req.arrival[id]!;
    const at = this.now + latency;
    req.wait[id] = at - arrival;
    this.acceptedAt[c] = at;
    const end = at + req.service[id]!;
    this.state[c] = St.Busy;
    this.busy++;
    this.current[c] = id;
    this.serviceEnd[c] = end;
    const deadline = arrival + this.cfg.readTimeoutSeconds;
    if (end > deadline) this.finish(id, 504, deadline);
    this.scheduleChild(end + this.cfg.acceptGapSeconds, Ev.ChildFree, c);
  }

  private finish(id: number, status: 200 | 502 | 504, at: number): void {
    this.requests.status[id] = status;
    const s = this.series.series;
    if (status === 200) {
      this.answered[200]++;
      this.series.countIn(s.status200, at);
    } else if (status === 502) {
      this.answered[502]++;
      this.series.countIn(s.status502, at);
    } else {
      this.answered[504]++;
      this.series.countIn(s.status504, at);
    }
  }

  /**
   * The child answered and is back at accept() after the gap. It exits after pm.max_requests
   * (`fpm_main.c`: the request loop ends) or when a reload asked it to quit.
   */
  private childFree(c: number): void {
    const id = this.current[c]!;
    this.busy--;
    this.state[c] = St.Exiting;
    this.current[c] = -1;
    if (this.requests.status[id] === 0) this.finish(id, 200, this.serviceEnd[c]!);
    this.served[c]!++;
    if (this.quitting[c]) {
      this.exit(c, false);
    } else if (this.cfg.maxRequests > 0 && this.served[c]! >= this.cfg.maxRequests) {
      this.pm.recycles++;
      this.exit(c, true);
    } else {
      this.becomeIdle(c);
    }
  }

  /** The child enters accept(): it takes the oldest queued connection, or waits in line (FIFO, as the kernel wakes exclusive waiters). */
  private becomeIdle(c: number): void {
    if (this.master !== Master.Normal) {
      this.exit(c, false);
      return;
    }
    this.lastActivity[c] = this.now;
    if (this.queued > 0) {
      this.accept(c, this.dequeue(), 0);
      return;
    }
    this.state[c] = St.Idle;
    this.idle++;
    this.prev[c] = this.idleTail;
    this.next[c] = -1;
    if (this.idleTail === -1) this.idleHead = c;
    else this.next[this.idleTail] = c;
    this.idleTail = c;
  }

  private popIdle(): number {
    const c = this.idleHead;
    this.unlinkIdle(c);
    return c;
  }

  private unlinkIdle(c: number): void {
    const p = this.prev[c]!;
    const n = this.next[c]!;
    if (p === -1) this.idleHead = n;
    else this.next[p] = n;
    if (n === -1) this.idleTail = p;
    else this.prev[n] = p;
    this.idle--;
    this.state[c] = St.Exiting;
  }

  /** The child exits; the master reaps it `exitSeconds` later. */
  private exit(c: number, respawn: boolean): void {
    if (this.state[c] === St.Busy) this.busy--;
    this.epoch[c]!++;
    this.state[c] = St.Exiting;
    this.respawn[c] = respawn ? 1 : 0;
    this.scheduleChild(this.now + this.cfg.exitSeconds, Ev.ChildExit, c);
  }

  /**
   * `fpm_children_bury`: the master reaps the child and forks a replacement unless the process
   * manager killed it; during a reload the last exit starts the restart (`fpm_pctl_child_exited`).
   */
  private bury(c: number): void {
    this.state[c] = St.Free;
    this.epoch[c]!++;
    this.freeSlots.push(c);
    this.running--;
    if (this.master === Master.Reloading) {
      if (this.running === 0) this.schedule(this.cfg.restartSeconds, Ev.Restart, 0);
      return;
    }
    if (this.respawn[c]) this.spawn();
  }

  // --- reload -----------------------------------------------------------------------------

  /**
   * SIGUSR2 (`fpm_pctl` with FPM_PCTL_STATE_RELOADING, `fpm_pctl_action_next`): SIGQUIT to every
   * child (idle ones leave accept() at once, busy ones finish their request), and a timer of
   * `process_control_timeout` after which the rest get SIGTERM. The socket stays open.
   */
  private startReload(): void {
    if (this.master === Master.Reloading) return;
    this.master = Master.Reloading;
    this.reloadEpoch++;
    this.signalSent = 'quit';
    this.reload = {
      atSeconds: this.now,
      acceptingAgainAtSeconds: Number.NaN,
      noAcceptSeconds: Number.NaN,
      refused: 0,
      killed: 0,
    };
    this.reloads.push(this.reload);
    while (this.idleHead !== -1) this.exit(this.popIdle(), false);
    for (let c = 0; c < this.cfg.maxChildren; c++) {
      if (this.state[c] === St.Starting) this.exit(c, false);
      else if (this.state[c] === St.Busy) this.quitting[c] = 1;
    }
    if (this.running === 0) this.schedule(this.cfg.restartSeconds, Ev.Restart, 0);
    this.schedule(this.cfg.processControlTimeoutSeconds, Ev.ControlTimeout, this.reloadEpoch);
  }

  /** The timer fired with children left: SIGTERM kills them mid-request (nginx: 502). */
  private controlTimeout(): void {
    if (this.master !== Master.Reloading || this.signalSent !== 'quit') return;
    this.signalSent = 'term';
    for (let c = 0; c < this.cfg.maxChildren; c++) {
      if (this.state[c] !== St.Busy) continue;
      const id = this.current[c]!;
      if (this.now < this.serviceEnd[c]! && this.requests.status[id] === 0) {
        this.killed++;
        this.reload!.killed++;
        this.finish(id, 502, this.now);
      }
      this.exit(c, false);
    }
  }

  /**
   * `fpm_pctl_exec`: the master re-executes itself, reads the configuration and starts the pool
   * again as at boot, on the inherited socket with its queue intact; ondemand's edge-triggered
   * watch reports a non-empty queue once.
   */
  private restart(): void {
    this.master = Master.Normal;
    this.spawnRate = 1;
    this.warnedMaxChildren = false;
    this.signalSent = 'none';
    this.tickEpoch++;
    this.schedule(FPM_MAINTENANCE_TICK_SECONDS, Ev.Tick, this.tickEpoch);
    const r = this.reload!;
    r.acceptingAgainAtSeconds = this.now + this.cfg.forkSeconds;
    r.noAcceptSeconds = r.acceptingAgainAtSeconds - r.atSeconds;
    const initial = this.initialChildren();
    for (let i = 0; i < initial; i++) this.spawn();
    if (this.queued > 0) this.acceptEvent();
    else this.reload = undefined;
  }

  /** At the end: queued requests whose read timeout has passed are 504s; the rest stay unfinished. */
  private settleUnfinished(): void {
    const req = this.requests;
    for (let i = 0; i < this.queued; i++) {
      const id = this.ring[(this.ringHead + i) % this.ring.length]!;
      const deadline = req.arrival[id]! + this.cfg.readTimeoutSeconds;
      if (deadline <= this.now) this.finish(id, 504, deadline);
    }
  }
}
