/**
 * An in-memory BpfMap for unit tests of whatever programs maps (the LB reconciler), with the
 * kernel's semantics where tests can observe them:
 *  - hash: a full map refuses a new key with E2BIG (updating an existing key still works);
 *  - lru_hash: a full map evicts the least recently updated entry instead;
 *  - array: every index 0..maxEntries-1 exists (zero-filled, in one buffer allocated at the first
 *    write), keys are u32 little-endian, an index out of range is E2BIG, delete is EINVAL;
 *  - BPF_NOEXIST / BPF_EXIST fail with EEXIST / ENOENT;
 *  - a batch stops at the first failing entry, leaving the ones before it written;
 *  - buffers of the wrong length are EINVAL, a closed map EBADF;
 *  - a walk in pages (dumpPageAsync) reads the map as it was at its first page: entries deleted
 *    since are still listed (the kernel's walk would skip the ones deleted ahead of it), entries
 *    made since are not.
 * Errors are BPF_ERRORs shaped like the native addon's, so bpfErrno() reads them the same way.
 * `calls` counts calls per method, for tests that assert a reconcile batches its writes.
 */
import type {
  BpfDumpCursor,
  BpfMap,
  BpfMapDump,
  BpfMapDumpPage,
  BpfUpdateFlags,
} from './bpf-maps.js';
import { BPF_ANY, BPF_EXIST, BPF_NOEXIST, bpfError } from './bpf-maps.js';

export type MemoryBpfMapType = 'hash' | 'lru_hash' | 'array';

export interface MemoryBpfMapOptions {
  name: string;
  type?: MemoryBpfMapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** A BpfDumpCursor of the in-memory map: the walk's snapshot, and how far it has come. */
interface MemoryDumpCursor {
  readonly walk: BpfMapDump;
  readonly offset: number;
}

export class MemoryBpfMap implements BpfMap {
  readonly name: string;
  readonly type: MemoryBpfMapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly valueStride: number;
  readonly maxEntries: number;
  readonly calls = { updateBatch: 0, deleteBatch: 0, lookup: 0, dump: 0 };
  /** Keys as latin1 strings (one character per byte); Map order doubles as LRU order. */
  private readonly entries = new Map<string, Buffer>();
  /** An array's values, index × valueStride; undefined while nothing was written. */
  private slab: Buffer | undefined;
  private closed = false;

  constructor(options: MemoryBpfMapOptions) {
    const { name, type = 'hash', keySize, valueSize, maxEntries } = options;
    for (const [what, value] of [
      ['keySize', keySize],
      ['valueSize', valueSize],
      ['maxEntries', maxEntries],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0) {
        throw bpfError('EINVAL', `MemoryBpfMap(${name}): ${what} must be a positive integer`);
      }
    }
    if (type === 'array' && keySize !== 4) {
      throw bpfError('EINVAL', `MemoryBpfMap(${name}): array maps have 4-byte keys`);
    }
    this.name = name;
    this.type = type;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.valueStride = valueSize;
    this.maxEntries = maxEntries;
  }

  /** Number of entries present (for an array: maxEntries). */
  get size(): number {
    return this.type === 'array' ? this.maxEntries : this.entries.size;
  }

  updateBatch(
    keys: Buffer,
    values: Buffer,
    count: number,
    flags: BpfUpdateFlags = BPF_ANY,
  ): number {
    const op = 'mapUpdateBatch';
    this.check(op);
    this.calls.updateBatch++;
    this.checkLength(op, 'keys', keys, count, this.keySize);
    this.checkLength(op, 'values', values, count, this.valueStride);
    if (flags !== BPF_ANY && flags !== BPF_NOEXIST && flags !== BPF_EXIST) {
      throw bpfError('EINVAL', `${op}(${this.name}): flags ${String(flags)}`);
    }
    for (let i = 0; i < count; i++) {
      const key = keys.subarray(i * this.keySize, (i + 1) * this.keySize);
      const errno = this.updateOne(
        key,
        values.subarray(i * this.valueStride, (i + 1) * this.valueStride),
        flags,
      );
      if (errno !== undefined) {
        throw bpfError(
          errno,
          `${op}(${this.name}): entry ${i} of ${count} (the ${i} before it were written)`,
        );
      }
    }
    return count;
  }

  deleteBatch(keys: Buffer, count: number): number {
    const op = 'mapDeleteBatch';
    this.check(op);
    this.calls.deleteBatch++;
    this.checkLength(op, 'keys', keys, count, this.keySize);
    if (this.type === 'array' && count > 0) {
      throw bpfError('EINVAL', `${op}(${this.name}): entry 0 of ${count} (0 deleted before it)`);
    }
    let deleted = 0;
    for (let i = 0; i < count; i++) {
      if (this.entries.delete(keys.toString('latin1', i * this.keySize, (i + 1) * this.keySize))) {
        deleted++;
      }
    }
    return deleted;
  }

  lookup(key: Buffer): Buffer | undefined {
    const op = 'mapLookup';
    this.check(op);
    this.calls.lookup++;
    this.checkLength(op, 'key', key, 1, this.keySize);
    if (this.type === 'array') {
      const index = key.readUInt32LE(0);
      if (index >= this.maxEntries) return undefined;
      const at = index * this.valueStride;
      return this.slab === undefined
        ? Buffer.alloc(this.valueStride)
        : Buffer.from(this.slab.subarray(at, at + this.valueStride));
    }
    const value = this.entries.get(key.toString('latin1'));
    return value === undefined ? undefined : Buffer.from(value);
  }

  dump(): BpfMapDump {
    this.check('mapDump');
    this.calls.dump++;
    if (this.type === 'array') return this.dumpArray();
    const count = this.entries.size;
    const keys = Buffer.allocUnsafe(count * this.keySize);
    const values = Buffer.allocUnsafe(count * this.valueStride);
    let i = 0;
    for (const [key, value] of this.entries) {
      keys.write(key, i * this.keySize, 'latin1');
      value.copy(values, i * this.valueStride);
      i++;
    }
    return { keys, values, count };
  }

  /** In memory there is no walk to move off the event loop: dump(), a turn later. */
  async dumpAsync(): Promise<BpfMapDump> {
    await Promise.resolve();
    return this.dump();
  }

  async dumpPageAsync(
    cursor: BpfDumpCursor | undefined,
    pageEntries: number,
  ): Promise<BpfMapDumpPage> {
    await Promise.resolve();
    this.check('mapDumpPageAsync');
    if (!Number.isInteger(pageEntries) || pageEntries < 1) {
      throw bpfError('EINVAL', `mapDumpPageAsync(${this.name}): a page of ${pageEntries} entries`);
    }
    const at =
      cursor === undefined
        ? { walk: this.dump(), offset: 0 }
        : (cursor as unknown as MemoryDumpCursor);
    const count = Math.min(pageEntries, at.walk.count - at.offset);
    const end = at.offset + count;
    const next: MemoryDumpCursor = { walk: at.walk, offset: end };
    return {
      keys: at.walk.keys.subarray(at.offset * this.keySize, end * this.keySize),
      values: at.walk.values.subarray(at.offset * this.valueStride, end * this.valueStride),
      count,
      next: end < at.walk.count ? (next as unknown as BpfDumpCursor) : undefined,
    };
  }

  close(): void {
    this.closed = true;
  }

  /** Every index in order, the unwritten ones zero, as the kernel dumps an array. */
  private dumpArray(): BpfMapDump {
    const count = this.maxEntries;
    const keys = Buffer.alloc(count * this.keySize);
    for (let index = 0; index < count; index++) keys.writeUInt32LE(index, index * this.keySize);
    const values =
      this.slab === undefined ? Buffer.alloc(count * this.valueStride) : Buffer.from(this.slab);
    return { keys, values, count };
  }

  /** Returns the errno name of a failure, undefined on success. */
  private updateOne(key: Buffer, value: Buffer, flags: BpfUpdateFlags): string | undefined {
    if (this.type === 'array') {
      const index = key.readUInt32LE(0);
      if (index >= this.maxEntries) return 'E2BIG';
      if (flags === BPF_NOEXIST) return 'EEXIST';
      this.slab ??= Buffer.alloc(this.maxEntries * this.valueStride);
      this.slab.set(value, index * this.valueStride);
      return undefined;
    }
    const id = key.toString('latin1');
    const present = this.entries.has(id);
    if (present && flags === BPF_NOEXIST) return 'EEXIST';
    if (!present && flags === BPF_EXIST) return 'ENOENT';
    if (!present && this.entries.size >= this.maxEntries) {
      if (this.type === 'hash') return 'E2BIG';
      // lru_hash: evict the least recently updated entry, the first in insertion order.
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.delete(id); // re-insert at the end: most recently updated
    this.entries.set(id, Buffer.from(value));
    return undefined;
  }

  private check(op: string): void {
    if (this.closed) throw bpfError('EBADF', `map ${this.name}: the handle is closed (${op})`);
  }

  private checkLength(op: string, what: string, buffer: Buffer, count: number, stride: number) {
    if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
      throw bpfError('EINVAL', `${op}(${this.name}): count must be an integer in 0..2^32-1`);
    }
    if (buffer.length !== count * stride) {
      throw bpfError(
        'EINVAL',
        `${op}(${this.name}): ${what} buffer is ${buffer.length} bytes, expected ${count} entries x ${stride} bytes = ${count * stride}`,
      );
    }
  }
}
