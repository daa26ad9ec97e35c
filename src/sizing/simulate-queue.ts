/**
 * Event queues for the simulator. Events are (time, kind, data) triples popped in time order,
 * and in insertion order among equal times, so a run never depends on how a queue breaks ties.
 *
 * `BinaryHeapEventQueue` is the one the simulator uses: an implicit binary heap over parallel
 * typed arrays (no object per event, O(log n) push and pop). `SortedArrayEventQueue` is the
 * plain reference: an array of objects kept sorted with a binary search and `splice`, O(n) per
 * push. Tests check that both pop the same sequence, and `npm run bench simulate` runs the
 * same simulation on each to show what the heap buys.
 */
export interface EventQueue {
  /** Events waiting. */
  readonly size: number;
  /** Time of the last popped event, seconds. */
  readonly time: number;
  /** Data of the last popped event. */
  readonly data: number;
  /** Adds an event at `time` (seconds) of `kind` (a small integer) with `data`. */
  push(time: number, kind: number, data: number): void;
  /** Time of the earliest event; `Infinity` when empty. */
  peekTime(): number;
  /** Removes the earliest event and returns its kind (its time and data are then in `time` and `data`); -1 when empty. */
  pop(): number;
}

/** The event queue kinds `simulatePool` accepts. */
export type EventQueueKind = 'heap' | 'sorted-array';

/** A new empty queue of the given kind. */
export function createEventQueue(kind: EventQueueKind): EventQueue {
  return kind === 'heap' ? new BinaryHeapEventQueue() : new SortedArrayEventQueue();
}

/** Binary min-heap on (time, sequence) over parallel typed arrays that double when full. */
export class BinaryHeapEventQueue implements EventQueue {
  private times = new Float64Array(64);
  private seqs = new Float64Array(64);
  private kinds = new Int32Array(64);
  private datas = new Float64Array(64);
  private count = 0;
  private seq = 0;
  time = 0;
  data = 0;

  get size(): number {
    return this.count;
  }

  push(time: number, kind: number, data: number): void {
    if (this.count === this.times.length) this.grow();
    let i = this.count++;
    const seq = this.seq++;
    const { times, seqs, kinds, datas } = this;
    // Sift up: move parents down until the new event's place is found.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = times[p]!;
      if (pt < time || (pt === time && seqs[p]! < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[p]!;
      kinds[i] = kinds[p]!;
      datas[i] = datas[p]!;
      i = p;
    }
    times[i] = time;
    seqs[i] = seq;
    kinds[i] = kind;
    datas[i] = data;
  }

  peekTime(): number {
    return this.count === 0 ? Number.POSITIVE_INFINITY : this.times[0]!;
  }

  pop(): number {
    if (this.count === 0) return -1;
    const { times, seqs, kinds, datas } = this;
    const kind = kinds[0]!;
    this.time = times[0]!;
    this.data = datas[0]!;
    const n = --this.count;
    if (n > 0) this.siftDown(times[n]!, seqs[n]!, kinds[n]!, datas[n]!, n);
    return kind;
  }

  /** Places the former last event from the root down. */
  private siftDown(t: number, s: number, k: number, d: number, n: number): void {
    const { times, seqs, kinds, datas } = this;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n && (times[r]! < times[c]! || (times[r] === times[c] && seqs[r]! < seqs[c]!))) c = r;
      const ct = times[c]!;
      if (t < ct || (t === ct && s < seqs[c]!)) break;
      times[i] = ct;
      seqs[i] = seqs[c]!;
      kinds[i] = kinds[c]!;
      datas[i] = datas[c]!;
      i = c;
    }
    times[i] = t;
    seqs[i] = s;
    kinds[i] = k;
    datas[i] = d;
  }

  private grow(): void {
    const size = this.times.length * 2;
    const times = new Float64Array(size);
    times.set(this.times);
    const seqs = new Float64Array(size);
    seqs.set(this.seqs);
    const kinds = new Int32Array(size);
    kinds.set(this.kinds);
    const datas = new Float64Array(size);
    datas.set(this.datas);
    this.times = times;
    this.seqs = seqs;
    this.kinds = kinds;
    this.datas = datas;
  }
}

interface QueuedEvent {
  time: number;
  seq: number;
  kind: number;
  data: number;
}

/** The plain reference: events sorted latest first in an array, so pop takes the last one. */
export class SortedArrayEventQueue implements EventQueue {
  private readonly events: QueuedEvent[] = [];
  private seq = 0;
  time = 0;
  data = 0;

  get size(): number {
    return this.events.length;
  }

  push(time: number, kind: number, data: number): void {
    const event = { time, seq: this.seq++, kind, data };
    // The new event goes before every event at the same time or earlier (they pop first).
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[mid]!.time > time) lo = mid + 1;
      else hi = mid;
    }
    this.events.splice(lo, 0, event);
  }

  peekTime(): number {
    const last = this.events[this.events.length - 1];
    return last === undefined ? Number.POSITIVE_INFINITY : last.time;
  }

  pop(): number {
    const event = this.events.pop();
    if (event === undefined) return -1;
    this.time = event.time;
    this.data = event.data;
    return event.kind;
  }
}
