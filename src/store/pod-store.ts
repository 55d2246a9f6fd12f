import type { PodRecord } from './pod-record.js';

/**
 * Durable pod records. `put` and `delete` resolve only once the change is on disk, so a record
 * acknowledged to the shim survives `kill -9`.
 */
export interface PodStore {
  get(key: string): PodRecord | undefined;
  list(): PodRecord[];
  put(record: PodRecord): Promise<void>;
  /** Resolves true when a record was removed. */
  delete(key: string): Promise<boolean>;
  close(): Promise<void>;
}
