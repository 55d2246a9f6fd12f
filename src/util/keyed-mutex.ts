/**
 * Serialises async work per key (one pod's ADD, DEL and CHECK never interleave) while work for
 * different keys runs concurrently.
 *
 * A key held by nobody is taken without a promise of its own. Every CNI call takes two of these
 * (sandbox, then pod) in each of the daemon's two layers (PodNetwork, Ipam), eight locks per
 * AllocateIP/ReleaseIP pair, nearly always uncontended; a promise chained per lock cost each
 * about 600 bytes of garbage and 2-3 µs. Waiters queue in arrival order, and the holder hands
 * the key to the first one directly.
 */
export class KeyedMutex {
  /** Held keys → the waiters queued behind the holder (usually none). */
  private readonly queues = new Map<string, (() => void)[]>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const queue = this.queues.get(key);
    if (queue === undefined) this.queues.set(key, []);
    else await new Promise<void>((resolve) => queue.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.queues.get(key)!.shift();
      // Only a holder with nobody behind it removes the key, so the map does not grow with pod
      // churn; otherwise the key passes on still held.
      if (next === undefined) this.queues.delete(key);
      else next();
    }
  }

  /** Keys with work queued or running. */
  size(): number {
    return this.queues.size;
  }
}
