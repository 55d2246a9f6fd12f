/**
 * The writes one reconcile pass makes, gathered per map and applied in an order that keeps every
 * intermediate state valid for packets in flight:
 *   backends → slots → counters reset → frontends (new counts go live) → frontend deletes →
 *   slot deletes → backend deletes.
 * A slot never names a backend that is not there yet, and a frontend's count never covers a slot
 * that is not written yet.
 */
import type { BpfMap } from '../../dataplane/bpf/bpf-maps.js';
import { encodeInto, type FieldKind, type StructLayout, type StructValue } from './struct-codec.js';

/** A growing run of encoded structs, written in place rather than one Buffer per entry. */
export class StructRun<Fields extends Record<string, FieldKind>> {
  private buffer: Buffer;
  private used = 0;

  constructor(
    readonly layout: StructLayout<Fields>,
    initialEntries = 64,
  ) {
    this.buffer = Buffer.alloc(layout.size * initialEntries);
  }

  push(value: StructValue<Fields>): void {
    this.reserve();
    // The run's buffer is zero-filled and never reused, so padding is already zero.
    encodeInto(this.layout, value, this.buffer, this.used * this.layout.size, false);
    this.used++;
  }

  /** Appends an all-zero struct (a counter reset) without encoding anything. */
  pushZeroed(): void {
    this.reserve();
    this.used++;
  }

  private reserve(): void {
    const size = this.layout.size;
    if ((this.used + 1) * size > this.buffer.length) {
      const grown = Buffer.alloc(this.buffer.length * 2);
      this.buffer.copy(grown, 0, 0, this.used * size);
      this.buffer = grown;
    }
  }

  get count(): number {
    return this.used;
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.used * this.layout.size);
  }
}

/** Upserts and deletes for one map. */
export class MapWrites<
  KeyFields extends Record<string, FieldKind>,
  ValueFields extends Record<string, FieldKind>,
> {
  private readonly upsertKeys: StructRun<KeyFields>;
  private readonly upsertValues: StructRun<ValueFields>;
  private readonly deleteKeys: StructRun<KeyFields>;

  constructor(keyLayout: StructLayout<KeyFields>, valueLayout: StructLayout<ValueFields>) {
    this.upsertKeys = new StructRun(keyLayout);
    this.upsertValues = new StructRun(valueLayout);
    this.deleteKeys = new StructRun(keyLayout);
  }

  upsert(key: StructValue<KeyFields>, value: StructValue<ValueFields>): void {
    this.upsertKeys.push(key);
    this.upsertValues.push(value);
  }

  /** Writes an all-zero value under `key`. */
  upsertZeroed(key: StructValue<KeyFields>): void {
    this.upsertKeys.push(key);
    this.upsertValues.pushZeroed();
  }

  delete(key: StructValue<KeyFields>): void {
    this.deleteKeys.push(key);
  }

  get upserts(): number {
    return this.upsertKeys.count;
  }

  get deletes(): number {
    return this.deleteKeys.count;
  }

  applyUpserts(map: BpfMap): void {
    if (this.upsertKeys.count === 0) return;
    map.updateBatch(this.upsertKeys.bytes(), this.upsertValues.bytes(), this.upsertKeys.count);
  }

  applyDeletes(map: BpfMap): void {
    if (this.deleteKeys.count === 0) return;
    map.deleteBatch(this.deleteKeys.bytes(), this.deleteKeys.count);
  }
}
