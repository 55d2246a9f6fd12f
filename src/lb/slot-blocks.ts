/**
 * Hands out blocks of the shared slot array. A frontend's slots are one block whose size is a
 * power of two, so growing from 10 to 11 backends stays in place (16) and only a frontend that
 * outgrows its block moves. Freed blocks go back to per-size free lists and are split from larger
 * ones when a size runs out; the array is large (a million slots) and fragmentation is bounded by
 * the power-of-two rounding.
 */
import { TerwayError } from '../errors/terway-error.js';

export interface SlotBlock {
  readonly base: number;
  readonly capacity: number;
}

export function blockCapacityFor(count: number): number {
  let capacity = 1;
  while (capacity < count) capacity *= 2;
  return capacity;
}

export class SlotBlocks {
  /** Next never-used slot; slot 0 is never handed out, so a zeroed frontend names no block. */
  private next = 1;
  private readonly free = new Map<number, number[]>();
  /** Blocks on the free lists: while there are none, nothing is split (the initial sync). */
  private freeBlocks = 0;

  constructor(private readonly totalSlots: number) {}

  allocate(capacity: number): SlotBlock {
    const size = this.smallestFreeSize(capacity);
    if (size !== undefined) {
      const base = this.free.get(size)!.pop()!;
      this.freeBlocks--;
      // A larger block is split: the first piece is kept, the rest returned as halves (size/2,
      // size/4, ... capacity).
      for (let piece = size / 2; piece >= capacity; piece /= 2) {
        this.release({ base: base + piece, capacity: piece });
      }
      return { base, capacity };
    }
    if (this.next + capacity > this.totalSlots) {
      throw new TerwayError(
        'BPF_ERROR',
        `the slot array (${this.totalSlots} slots) has no free block of ${capacity}`,
      );
    }
    const base = this.next;
    this.next += capacity;
    return { base, capacity };
  }

  /** Whether allocate(capacity) would succeed now. */
  canAllocate(capacity: number): boolean {
    return this.smallestFreeSize(capacity) !== undefined || this.next + capacity <= this.totalSlots;
  }

  release(block: SlotBlock): void {
    let list = this.free.get(block.capacity);
    if (!list) this.free.set(block.capacity, (list = []));
    list.push(block.base);
    this.freeBlocks++;
  }

  /**
   * Rebuilds the allocator from the blocks found in the live maps: everything between them
   * becomes free, cut into power-of-two pieces.
   */
  static fromUsed(totalSlots: number, used: readonly SlotBlock[]): SlotBlocks {
    const blocks = new SlotBlocks(totalSlots);
    const sorted = [...used].sort((a, b) => a.base - b.base);
    let cursor = 1;
    for (const block of sorted) {
      if (block.base < cursor) {
        throw new TerwayError('BPF_ERROR', `slot blocks overlap at ${block.base}`);
      }
      blocks.freeRange(cursor, block.base);
      cursor = block.base + block.capacity;
    }
    blocks.next = cursor;
    return blocks;
  }

  private freeRange(from: number, to: number): void {
    let at = from;
    while (at < to) {
      let size = 1;
      while (size * 2 <= to - at) size *= 2;
      this.release({ base: at, capacity: size });
      at += size;
    }
  }

  /** The smallest size at or above `capacity` with a free block, or undefined when none has one. */
  private smallestFreeSize(capacity: number): number | undefined {
    if (this.freeBlocks === 0) return undefined;
    for (let size = capacity; size <= this.totalSlots; size *= 2) {
      const list = this.free.get(size);
      if (list !== undefined && list.length > 0) return size;
    }
    return undefined;
  }
}
