import { dispose, kOwner, type OwnedSocket, type SocketOwner } from './connection.js';

function noop(): void {}

/**
 * Kept-alive connections waiting for a request (`keepAlive: true`). A parked socket is unref'd
 * so it does not hold the process open, and is dropped as soon as it shows any sign of life:
 * data, end or an error while idle all mean the server is done with it.
 */
export class IdleSockets {
  readonly #sockets = new Set<OwnedSocket>();
  readonly #max: number;
  #closed = false;

  /** `max`: most sockets kept at once; more are closed rather than parked. */
  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** A parked socket that still looks usable, ref'd again, or undefined. */
  take(): OwnedSocket | undefined {
    for (const socket of this.#sockets) {
      this.#sockets.delete(socket);
      // Ended or failed while idle but not yet dropped: no request was written to it.
      if (socket.destroyed || socket.readableEnded || !socket.writable || socket.errored) {
        dispose(socket);
        continue;
      }
      socket.ref();
      return socket;
    }
    return undefined;
  }

  /** Keeps `socket` for a later request, or closes it when the pool is closed or full. */
  park(socket: OwnedSocket): void {
    if (this.#closed || this.#sockets.size >= this.#max) {
      dispose(socket);
      return;
    }
    const drop = (): void => {
      this.#sockets.delete(socket);
      dispose(socket);
    };
    const owner: SocketOwner = { onConnect: noop, onData: drop, onEnd: drop, onError: drop };
    socket[kOwner] = owner;
    socket.unref();
    this.#sockets.add(socket);
  }

  /** Closes every parked socket; later `park` calls close theirs. */
  close(): void {
    this.#closed = true;
    for (const socket of [...this.#sockets]) {
      this.#sockets.delete(socket);
      dispose(socket);
    }
  }
}

/** What {@link Slots} queues: something that can be started, or was settled while waiting. */
export interface SlotUser {
  readonly finished: boolean;
  holdsSlot: boolean;
  start(immediate: boolean): void;
}

/**
 * The client's concurrency limit (`maxConcurrency`): at most `max` users hold a slot, the rest
 * wait in FIFO order. The queue is an array read from a moving head, emptied once drained.
 */
export class Slots<T extends SlotUser> {
  readonly #max: number;
  #active = 0;
  #waiting: T[] = [];
  #head = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get active(): number {
    return this.#active;
  }

  /** Users waiting for a slot that are not yet settled. */
  get queued(): number {
    let queued = 0;
    for (let i = this.#head; i < this.#waiting.length; i++) {
      if (!this.#waiting[i]!.finished) queued++;
    }
    return queued;
  }

  /** Starts `user` at once when a slot is free (true), or queues it (false). */
  enter(user: T): boolean {
    if (this.#active < this.#max) {
      this.#active++;
      user.start(true);
      return true;
    }
    this.#waiting.push(user);
    return false;
  }

  /** Gives back `user`'s slot, if it holds one, and starts whoever waits next. */
  release(user: T): void {
    if (!user.holdsSlot) return;
    user.holdsSlot = false;
    this.#active--;
    const waiting = this.#waiting;
    while (this.#head < waiting.length && this.#active < this.#max) {
      const next = waiting[this.#head++]!;
      if (next.finished) continue;
      this.#active++;
      next.start(false);
    }
    // Setting an array's length is a runtime call; skip it when the queue is already empty.
    if (this.#head === waiting.length && waiting.length !== 0) {
      waiting.length = 0;
      this.#head = 0;
    }
  }
}
