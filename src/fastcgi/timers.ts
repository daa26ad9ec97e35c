// Imported rather than the global, which Node 20 serves through a lazy getter on every access.
import { performance } from 'node:perf_hooks';

/**
 * Longest duration fpmkit accepts for any timeout or interval, in milliseconds: 2^31 - 1, about
 * 24.8 days. Node's `setTimeout` stores the delay as a signed 32-bit integer and runs a longer
 * one after 1 ms instead (with a TimeoutOverflowWarning), so a larger bound would not be a bound
 * at all. Every duration option of the FastCGI client, `fetchStatus`, `ping` and `watchStatus`
 * is checked against it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An entry of an {@link InFlight} list: something with deadlines, linked through itself. */
export interface Deadlined {
  prevInFlight: Deadlined | undefined;
  nextInFlight: Deadlined | undefined;
  inFlight: boolean;
  /** The nearest deadline, in performance.now() milliseconds. */
  nextDeadline(): number;
  /** Called at or after `nextDeadline()` with the (slightly advanced) current time. */
  onTimer(now: number): void;
}

/**
 * The exchanges in flight, linked through the exchanges themselves. A Set did the same job, but
 * its long-lived table holding each short-lived exchange doubled the collector's time per
 * request under load (measured with 16 requests in flight).
 */
export class InFlight<T extends Deadlined> {
  head: T | undefined;

  add(entry: T): void {
    entry.inFlight = true;
    entry.prevInFlight = undefined;
    entry.nextInFlight = this.head;
    if (this.head !== undefined) this.head.prevInFlight = entry;
    this.head = entry;
  }

  delete(entry: T): void {
    if (!entry.inFlight) return;
    entry.inFlight = false;
    const { prevInFlight: prev, nextInFlight: next } = entry;
    if (prev !== undefined) prev.nextInFlight = next;
    else this.head = next as T | undefined;
    if (next !== undefined) next.prevInFlight = prev;
    entry.prevInFlight = undefined;
    entry.nextInFlight = undefined;
  }

  /** A copy, for loops that may remove entries as they go. */
  toArray(): T[] {
    const list: T[] = [];
    for (let e: Deadlined | undefined = this.head; e !== undefined; e = e.nextInFlight) {
      list.push(e as T);
    }
    return list;
  }
}

/**
 * One timer for every exchange of a client, aimed at the earliest deadline. Exchanges keep their
 * deadlines as numbers and call {@link DeadlineSweeper.watch} when one moves nearer, so a request
 * creates no timer of its own and a chunk costs one clock read.
 */
export class DeadlineSweeper {
  readonly #list: InFlight<Deadlined>;
  #timer: NodeJS.Timeout | undefined;
  #at = Number.POSITIVE_INFINITY;

  constructor(list: InFlight<Deadlined>) {
    this.#list = list;
  }

  /** Makes sure the timer fires no later than `deadline` (performance.now() milliseconds). */
  watch(deadline: number): void {
    if (deadline < this.#at) this.#schedule(deadline);
  }

  /** Stops the timer. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
  }

  #schedule(deadline: number): void {
    clearTimeout(this.#timer);
    this.#at = deadline;
    const delay = Math.max(1, Math.ceil(deadline - performance.now()));
    this.#timer = setTimeout(this.#sweep, delay);
    // In-flight sockets keep the process alive; the timer alone must not.
    this.#timer.unref();
  }

  readonly #sweep = (): void => {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    const now = performance.now();
    // Half a millisecond of slack: timers run on the loop's clock, which lags performance.now().
    for (const entry of this.#list.toArray()) {
      if (entry.nextDeadline() <= now + 0.5) entry.onTimer(now + 0.5);
    }
    let next = Number.POSITIVE_INFINITY;
    for (let e = this.#list.head; e !== undefined; e = e.nextInFlight) {
      next = Math.min(next, e.nextDeadline());
    }
    if (next !== Number.POSITIVE_INFINITY) this.#schedule(next);
  };
}
