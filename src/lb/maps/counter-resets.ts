/**
 * Zeroes entries of a counter array (tw_fe_stat, tw_be_stat) through batch updates. The counter
 * arrays are not mapped into the daemon: mapping a BPF array makes every page of it part of the
 * process's resident memory at once (12 MB for the two at their sizes), while the daemon only
 * ever writes zeros into them, a few per pass, and reads them on demand.
 *
 * An id's counters are zeroed when the id is freed (and, at a restore, for the unused ids among
 * the live ones), so an id is handed out with zero counters and allocating one costs nothing.
 */
import type { BpfMap } from '../../dataplane/bpf/bpf-maps.js';

/** Entries per batch syscall: bounds the zero buffer at a few hundred KB. */
const CHUNK = 8192;

export function resetCounters(map: BpfMap, indexes: readonly number[]): void {
  if (indexes.length === 0) return;
  const chunk = Math.min(CHUNK, indexes.length);
  const keys = Buffer.alloc(chunk * 4);
  const zeros = Buffer.alloc(chunk * map.valueStride);
  for (let start = 0; start < indexes.length; start += chunk) {
    const count = Math.min(chunk, indexes.length - start);
    for (let i = 0; i < count; i++) keys.writeUInt32LE(indexes[start + i]!, i * 4);
    map.updateBatch(keys.subarray(0, count * 4), zeros.subarray(0, count * map.valueStride), count);
  }
}
