import type { Clock, TimerHandle } from '../util/clock.js';

export interface Waiter<T> {
  owner: string;
  resolve(value: T): void;
  reject(error: unknown): void;
}

interface Entry<T> extends Waiter<T> {
  timer: TimerHandle;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Allocations waiting for an idle IP, served first come first served. Each waiter leaves the
 * queue exactly once: served, timed out at its deadline, or aborted by its caller.
 */
export class WaiterQueue<T> {
  private readonly entries: Entry<T>[] = [];

  constructor(private readonly clock: Clock) {}

  get length(): number {
    return this.entries.length;
  }

  enqueue(
    owner: string,
    deadlineMs: number,
    onTimeout: () => unknown,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry<T> = {
        owner,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        timer: this.clock.setTimeout(
          () => {
            if (this.remove(entry)) reject(onTimeout());
          },
          Math.max(0, deadlineMs - this.clock.now()),
        ),
      };
      if (signal !== undefined) {
        entry.onAbort = () => {
          if (this.remove(entry)) reject(signal.reason);
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.entries.push(entry);
    });
  }

  /** Removes and returns the oldest waiter, or undefined. */
  shift(): Waiter<T> | undefined {
    const entry = this.entries[0];
    if (entry === undefined) return undefined;
    this.remove(entry);
    return entry;
  }

  /** Rejects every waiter (daemon shutdown). */
  rejectAll(error: unknown): void {
    for (const entry of [...this.entries]) {
      if (this.remove(entry)) entry.reject(error);
    }
  }

  private remove(entry: Entry<T>): boolean {
    const index = this.entries.indexOf(entry);
    if (index < 0) return false;
    this.entries.splice(index, 1);
    this.clock.clearTimeout(entry.timer);
    if (entry.onAbort !== undefined) entry.signal?.removeEventListener('abort', entry.onAbort);
    return true;
  }
}
