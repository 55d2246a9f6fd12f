import type { DriverName } from '../dataplane/pod-attachment.js';

/**
 * The durable fact that a pod owns an IP. Written before AllocateIP returns, removed only by a
 * release from the owning container (or GC), and restored on every daemon start.
 */
export interface PodRecord {
  namespace: string;
  name: string;
  /** The sandbox that owns the IP. A DEL from any other container id is stale and ignored. */
  containerId: string;
  ip: string;
  eniId: string;
  netns: string;
  ifname: string;
  /** Milliseconds since the epoch when the IP was first given to this pod. */
  allocatedAtMs: number;
  /**
   * How the pod is wired, chosen before its IP was handed out, so a DEL or GC after a crash
   * tears down with the right driver. Absent when the daemon runs without a datapath.
   */
  driver?: DriverName;
}

/** Records are keyed by pod, as Terway does: a recreated sandbox keeps its pod's IP. */
export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function recordKey(record: Pick<PodRecord, 'namespace' | 'name'>): string {
  return podKey(record.namespace, record.name);
}

/**
 * Copies of the records, in key order as LMDB keeps them (byte order: pod keys are ASCII), so a
 * caller changing one cannot change what a store holds.
 */
export function recordsInKeyOrder(records: ReadonlyMap<string, PodRecord>): PodRecord[] {
  return [...records.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, record]) => ({ ...record }));
}
