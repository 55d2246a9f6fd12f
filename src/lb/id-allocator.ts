/**
 * Hands out the small integer ids that key the slot, backend and counter maps. Freed ids are
 * reused oldest first: a flow entry that still names a just-freed backend id must not find a new
 * backend under it at once (the program also compares the address, this only makes it rarer).
 */
import { TerwayError } from '../errors/terway-error.js';

export class IdAllocator {
  private next = 1;
  private readonly freed: number[] = [];
  private freedHead = 0;
  private readonly inUse: Uint8Array;
  private used = 0;

  /** Ids are 1..limit-1: 0 means "none" in the maps. */
  constructor(
    private readonly what: string,
    private readonly limit: number,
  ) {
    this.inUse = new Uint8Array(limit);
  }

  allocate(): number {
    let id: number;
    if (this.freedHead < this.freed.length) {
      id = this.freed[this.freedHead++]!;
      if (this.freedHead > 1024 && this.freedHead * 2 > this.freed.length) {
        this.freed.splice(0, this.freedHead);
        this.freedHead = 0;
      }
    } else if (this.next < this.limit) {
      id = this.next++;
    } else {
      throw new TerwayError(
        'BPF_ERROR',
        `no free ${this.what} id: all ${this.limit - 1} are in use (the map is full)`,
      );
    }
    this.inUse[id] = 1;
    this.used++;
    return id;
  }

  /** Marks an id found in the live maps as taken (restore after a daemon restart). */
  claim(id: number): void {
    if (id <= 0 || id >= this.limit) {
      throw new TerwayError('BPF_ERROR', `${this.what} id ${id} lies outside 1..${this.limit - 1}`);
    }
    if (this.inUse[id] === 0) this.used++;
    this.inUse[id] = 1;
    if (id >= this.next) {
      for (let gap = this.next; gap < id; gap++) this.freed.push(gap);
      this.next = id + 1;
    } else {
      // A claimed id may sit in the free list (restore after gaps were queued): drop it there.
      const at = this.freed.indexOf(id, this.freedHead);
      if (at >= 0) this.freed.splice(at, 1);
    }
  }

  release(id: number): void {
    if (id <= 0 || id >= this.limit || this.inUse[id] === 0) return;
    this.inUse[id] = 0;
    this.used--;
    this.freed.push(id);
  }

  get size(): number {
    return this.used;
  }

  /** How many more ids allocate() can hand out now. */
  get free(): number {
    return this.freed.length - this.freedHead + (this.limit - this.next);
  }

  /**
   * The highest id `count` more allocations could hand out: freed ids go first, then fresh ones.
   * 0 when none has been handed out and none would be.
   */
  highestAfter(count: number): number {
    const fresh = Math.max(0, count - (this.freed.length - this.freedHead));
    return Math.min(this.limit - 1, this.next - 1 + fresh);
  }

  /**
   * The ids not in use up to the highest one ever handed out or claimed, or up to `upTo` if that
   * is higher (and below the limit), ascending.
   */
  gapIds(upTo = 0): number[] {
    const end = Math.max(this.next, Math.min(upTo + 1, this.limit));
    const ids: number[] = [];
    for (let id = 1; id < end; id++) if (this.inUse[id] === 0) ids.push(id);
    return ids;
  }
}
