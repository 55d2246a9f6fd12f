/**
 * A list of ids that a reconcile pass empties and refills frontend after frontend without
 * allocating: an initial sync lists 100,000 backend ids, and a fresh array per frontend (or one
 * emptied with `length = 0`, which drops its storage) made a megabyte of garbage per 2,500
 * frontends for the collector to sweep.
 */
export class IdList {
  private ids = new Int32Array(64);
  private count = 0;

  get length(): number {
    return this.count;
  }

  at(index: number): number {
    return this.ids[index]!;
  }

  push(id: number): void {
    if (this.count === this.ids.length) {
      const grown = new Int32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.count++] = id;
  }

  clear(): void {
    this.count = 0;
  }

  /** Ids from..to-1 as a plain array, for keeping. */
  toArray(from = 0, to = this.count): number[] {
    const ids: number[] = [];
    for (let index = from; index < to; index++) ids.push(this.ids[index]!);
    return ids;
  }
}
