/**
 * Zeroes entries of a counter array (tw_fe_stat, tw_be_stat) through batch updates. The counter
 * arrays are not mapped into the daemon: mapping a BPF array makes every page of it part of the
 * process's resident memory at once (12 MB for the two at their sizes), while the daemon only
 * ever writes zeros into them, a few per pass, and reads them on demand.
 *
 * An id's counters are zeroed when the id is freed (and, at a restore, for the unused ids up to
 * the high-water mark below), so an id is handed out with zero counters and allocating one costs
 * nothing.
 */
import type { BpfMap } from '../../dataplane/bpf/bpf-maps.js';
import { ARRAY_INDEX, COUNTERS } from './lb-layouts.js';
import { decode, encode } from './struct-codec.js';

/** Entries per batch syscall: bounds the zero buffer at a few hundred KB. */
const CHUNK = 8192;

/** Entry 0 of a counter array: where the daemon keeps its id high-water mark (lb_maps.h). */
const HIGH_WATER_INDEX = 0;

/**
 * The highest id the daemon may have handed out, from entry 0 of a counter array: 0 from maps a
 * daemon without the mark wrote, and at most the array's last index whatever the entry holds.
 */
export function readIdHighWater(map: BpfMap): number {
  const packets = readCounterEntry(map, HIGH_WATER_INDEX)?.packets ?? 0n;
  return Number(packets < BigInt(map.maxEntries - 1) ? packets : BigInt(map.maxEntries - 1));
}

/** Entry `index` of a counter array as it is now; undefined past the array's end. */
export function readCounterEntry(map: BpfMap, index: number) {
  const value = map.lookup(encode(ARRAY_INDEX, { index }));
  return value === undefined ? undefined : decode(COUNTERS, value);
}

/** Ids at which one dump of the whole array costs less than a lookup each. */
const DUMP_FROM = 512;

/**
 * The `flows` counter of each of `ids` (undefined for an id past the array's end): a lookup each,
 * or one dump of the array when there are many (a mass delete of Services).
 */
export function readFlowCounts(map: BpfMap, ids: readonly number[]): (bigint | undefined)[] {
  const flowsAt = COUNTERS.fields.flows.offset;
  if (ids.length < DUMP_FROM) return ids.map((id) => readCounterEntry(map, id)?.flows);
  const { keys, values, count } = map.dump();
  const flowsOf = new Map<number, bigint>();
  for (let at = 0; at < count; at++) {
    flowsOf.set(keys.readUInt32LE(at * 4), values.readBigUInt64LE(at * map.valueStride + flowsAt));
  }
  return ids.map((id) => flowsOf.get(id));
}

/** Records `id` as the highest the daemon may hand out, before any entry names it. */
export function writeIdHighWater(map: BpfMap, id: number): void {
  map.updateBatch(
    encode(ARRAY_INDEX, { index: HIGH_WATER_INDEX }),
    encode(COUNTERS, { packets: BigInt(id), bytes: 0n, flows: 0n, rejected: 0n }),
    1,
  );
}

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
