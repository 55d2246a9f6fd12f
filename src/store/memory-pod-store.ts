import { TerwayError } from '../errors/terway-error.js';
import { recordKey, recordsInKeyOrder } from './pod-record.js';
import type { PodRecord } from './pod-record.js';
import type { PodStore } from './pod-store.js';

/**
 * A PodStore that keeps records in a Map: for unit tests and for the daemon's dry-run mode.
 * Writes land on a later microtask, like a real store's commit, so code that forgets to await
 * a put fails here too instead of only on disk. Records are copied in and out so a caller
 * mutating its object cannot change what the store holds.
 */
export class MemoryPodStore implements PodStore {
  private closed = false;

  /**
   * `records` plays the disk: hand the same map to a new store to simulate a daemon restart,
   * or pre-fill it to start from known state.
   */
  constructor(private readonly records: Map<string, PodRecord> = new Map()) {}

  get(key: string): PodRecord | undefined {
    this.assertOpen();
    const record = this.records.get(key);
    return record === undefined ? undefined : { ...record };
  }

  list(): PodRecord[] {
    this.assertOpen();
    return recordsInKeyOrder(this.records);
  }

  async put(record: PodRecord): Promise<void> {
    this.assertOpen();
    const copy = { ...record };
    await Promise.resolve();
    this.assertOpen();
    this.records.set(recordKey(copy), copy);
  }

  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    await Promise.resolve();
    this.assertOpen();
    return this.records.delete(key);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new TerwayError('STORE_ERROR', 'the pod store is closed');
  }
}
