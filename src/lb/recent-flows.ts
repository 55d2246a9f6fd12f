/**
 * The flows a selection keeps while it walks the flow map a page at a time, ranked by recency.
 * A page's buffers are reused by the next one, so a kept flow's key and value bytes are copied
 * out. With a limit the store holds at most that many: a heap whose root is the least recent flow
 * kept, which a more recent one replaces. `terway-cli show flows` (1,000 flows by default) then
 * costs the daemon a thousand flows' bytes instead of a copy of the whole map (20 MB when full).
 *
 * Recency is the flow's last-seen time in whole milliseconds (the programs' clock is coarser);
 * within one millisecond the map's order decides, the flow met first ranking first.
 */

/** Slots kept before the first growth; the per-slot numbers double from there up to the limit. */
const INITIAL_SLOTS = 1_024;
/**
 * Flows' bytes are kept in chunks of this many slots, added as the store fills: growing never
 * copies them, so an unbounded store (`--limit 0`) on a full map holds its 20 MB once, not twice.
 */
const CHUNK_SLOTS = 4_096;
const CHUNK_SHIFT = 12;

export class RecentFlows {
  private readonly keyChunks: Buffer[] = [];
  private readonly valueChunks: Buffer[] = [];
  /** Per slot: last seen, in whole ms. */
  private seenMs: Float64Array;
  /** Per slot: the flow's position in the walk (the map's order). */
  private walkIndex: Float64Array;
  /** Bounded stores: the slots as a heap, least recent at 0. */
  private heap: Int32Array | undefined;
  private kept = 0;
  private met = 0;

  /** `limit` 0: keep every flow offered. */
  constructor(
    private readonly keySize: number,
    private readonly valueStride: number,
    private readonly limit: number,
  ) {
    const slots = limit > 0 ? Math.min(limit, INITIAL_SLOTS) : INITIAL_SLOTS;
    this.seenMs = new Float64Array(slots);
    this.walkIndex = new Float64Array(slots);
    if (limit > 0) this.heap = new Int32Array(slots);
  }

  /** Flows kept. */
  get size(): number {
    return this.kept;
  }

  /**
   * The next flow of the walk (its key and value where they lie in a page), kept if it ranks among
   * the `limit` most recent met so far.
   */
  offer(keys: Buffer, keyAt: number, values: Buffer, valueAt: number, lastSeenNs: number): void {
    const seenMs = Math.floor(lastSeenNs / NS_PER_MS);
    const walkIndex = this.met++;
    const heap = this.heap;
    if (heap === undefined || this.kept < this.limit) {
      if (this.kept === this.seenMs.length) this.grow();
      const slot = this.kept++;
      this.store(slot, keys, keyAt, values, valueAt, seenMs, walkIndex);
      if (this.heap !== undefined) {
        this.heap[slot] = slot;
        this.siftUp(slot);
      }
      return;
    }
    const root = heap[0]!;
    // Met later, so on a tie in time it ranks below the root: kept only if strictly more recent.
    if (seenMs <= this.seenMs[root]!) return;
    this.store(root, keys, keyAt, values, valueAt, seenMs, walkIndex);
    this.siftDown(0);
  }

  /**
   * The kept flows' slots, most recent first. One numeric sort of a typed array: a comparator over
   * 262,144 flows would hold the daemon's event loop for a tenth of a second.
   */
  ranked(): number[] {
    const count = this.kept;
    const slotSpace = 2 ** Math.max(1, Math.ceil(Math.log2(count + 1)));
    // The slots in the walk's order: an unbounded store's own, a bounded one's sorted (it
    // reuses slots, and holds at most its limit).
    const slotOfRank = new Int32Array(count);
    if (this.heap === undefined) {
      for (let slot = 0; slot < count; slot++) slotOfRank[slot] = slot;
    } else {
      const byWalk = new Float64Array(count);
      for (let slot = 0; slot < count; slot++) {
        byWalk[slot] = this.walkIndex[slot]! * slotSpace + slot;
      }
      byWalk.sort();
      for (let rank = 0; rank < count; rank++) slotOfRank[rank] = byWalk[rank]! % slotSpace;
    }
    // Ages past this share one value (and keep the walk's order): 199 days for a full map.
    const maxAgeMs = Math.floor(Number.MAX_SAFE_INTEGER / slotSpace) - 1;
    let newest = -Infinity;
    for (let slot = 0; slot < count; slot++) newest = Math.max(newest, this.seenMs[slot]!);
    const order = new Float64Array(count);
    for (let rank = 0; rank < count; rank++) {
      const age = newest - this.seenMs[slotOfRank[rank]!]!;
      order[rank] = Math.min(maxAgeMs, age) * slotSpace + rank;
    }
    order.sort();
    const slots = new Array<number>(count);
    for (let at = 0; at < count; at++) slots[at] = slotOfRank[order[at]! % slotSpace]!;
    return slots;
  }

  /** Where a kept flow's key and value lie (valid until the next offer). */
  keyOf(slot: number): { buffer: Buffer; at: number } {
    return { buffer: this.keyChunks[slot >>> CHUNK_SHIFT]!, at: chunkSlot(slot) * this.keySize };
  }

  valueOf(slot: number): { buffer: Buffer; at: number } {
    return {
      buffer: this.valueChunks[slot >>> CHUNK_SHIFT]!,
      at: chunkSlot(slot) * this.valueStride,
    };
  }

  private store(
    slot: number,
    keys: Buffer,
    keyAt: number,
    values: Buffer,
    valueAt: number,
    seenMs: number,
    walkIndex: number,
  ): void {
    const chunk = slot >>> CHUNK_SHIFT;
    if (chunk === this.keyChunks.length) {
      const slots = this.limit > 0 ? Math.min(CHUNK_SLOTS, this.limit - slot) : CHUNK_SLOTS;
      this.keyChunks.push(Buffer.alloc(slots * this.keySize));
      this.valueChunks.push(Buffer.alloc(slots * this.valueStride));
    }
    const at = chunkSlot(slot);
    keys.copy(this.keyChunks[chunk]!, at * this.keySize, keyAt, keyAt + this.keySize);
    values.copy(
      this.valueChunks[chunk]!,
      at * this.valueStride,
      valueAt,
      valueAt + this.valueStride,
    );
    this.seenMs[slot] = seenMs;
    this.walkIndex[slot] = walkIndex;
  }

  private grow(): void {
    const slots = this.limit > 0 ? Math.min(this.limit, this.kept * 2) : this.kept * 2;
    this.seenMs = grown(this.seenMs, slots);
    this.walkIndex = grown(this.walkIndex, slots);
    if (this.heap !== undefined) {
      const heap = new Int32Array(slots);
      heap.set(this.heap);
      this.heap = heap;
    }
  }

  /** Whether slot a ranks below slot b: seen earlier, or in the same ms and met later. */
  private lessRecent(a: number, b: number): boolean {
    const seenA = this.seenMs[a]!;
    const seenB = this.seenMs[b]!;
    return seenA < seenB || (seenA === seenB && this.walkIndex[a]! > this.walkIndex[b]!);
  }

  private siftUp(at: number): void {
    const heap = this.heap!;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!this.lessRecent(heap[at]!, heap[parent]!)) return;
      [heap[at], heap[parent]] = [heap[parent]!, heap[at]!];
      at = parent;
    }
  }

  private siftDown(at: number): void {
    const heap = this.heap!;
    const count = this.kept;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= count) return;
      const right = left + 1;
      const child = right < count && this.lessRecent(heap[right]!, heap[left]!) ? right : left;
      if (!this.lessRecent(heap[child]!, heap[at]!)) return;
      [heap[at], heap[child]] = [heap[child]!, heap[at]!];
      at = child;
    }
  }
}

const NS_PER_MS = 1_000_000;

function chunkSlot(slot: number): number {
  return slot & (CHUNK_SLOTS - 1);
}

function grown(from: Float64Array, slots: number): Float64Array {
  const to = new Float64Array(slots);
  to.set(from);
  return to;
}
