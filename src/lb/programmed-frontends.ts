/**
 * The frontends the maps hold, as the reconciler remembers them: columns indexed by frontend id
 * rather than an object per frontend. An initial sync programs tens of thousands of frontends at
 * once, and every object it kept per frontend (the frontend, its slot block, its slot list)
 * survived into the old generation, copied twice by the garbage collector on the way: on 2 vCPUs
 * the collector took a quarter of a 10,000-Service sync, and the sync ran 10-15% faster once those
 * objects were gone. Typed columns live outside the collected heap, and their pages cost memory
 * only once an id has used them.
 *
 * A frontend's slots are not copied here at all: they are the shared slot array itself
 * (tw_slot, mapped into the daemon), which only the reconciler writes. A pass reads a frontend's
 * slots from it before changing them, and a failed pass rebuilds everything from the maps anyway.
 * Draining backends (listed, but no slot) are the one list kept per frontend, and only for the
 * frontends that have some.
 */
import { AddressColumns } from './address-columns.js';
import type { GateKey } from './maps/key-gate.js';
import { readSlot, type SharedArray } from './maps/shared-array.js';
import type { SlotBlock } from './slot-blocks.js';

/** One frontend's fields, for add(). */
export interface FrontendRow {
  readonly code: number;
  readonly id: number;
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
  readonly affinityTimeoutS: number;
  readonly flags: number;
  readonly block: SlotBlock;
  /** Slots 0..slotCount-1 of the block are live. */
  readonly slotCount: number;
}

export class ProgrammedFrontends {
  /** FrontendCode → id. */
  private readonly idByCode = new Map<number, number>();
  /** Each frontend's address, port and protocol, by id. */
  readonly addresses: AddressColumns;
  private readonly affinities: Uint32Array;
  private readonly flagWords: Uint32Array;
  private readonly blockBases: Uint32Array;
  private readonly blockCapacities: Uint32Array;
  private readonly slotCounts: Uint32Array;
  /** Frontend id → its draining backends' ids (no slot, but referenced); only when it has some. */
  private readonly drainingById = new Map<number, readonly number[]>();

  /** `limit`: ids run 1..limit-1, as in the frontend map. `slots`: the shared slot array. */
  constructor(
    limit: number,
    private readonly slots: SharedArray,
  ) {
    this.addresses = new AddressColumns(limit);
    this.affinities = new Uint32Array(limit);
    this.flagWords = new Uint32Array(limit);
    this.blockBases = new Uint32Array(limit);
    this.blockCapacities = new Uint32Array(limit);
    this.slotCounts = new Uint32Array(limit);
  }

  get size(): number {
    return this.idByCode.size;
  }

  /** The id of the frontend with this code, or 0 when the maps do not hold it. */
  idOf(code: number): number {
    return this.idByCode.get(code) ?? 0;
  }

  add(row: FrontendRow): void {
    const { id } = row;
    this.idByCode.set(row.code, id);
    this.addresses.set(id, row.addr, row.port, row.proto);
    this.affinities[id] = row.affinityTimeoutS;
    this.flagWords[id] = row.flags;
    this.setSlots(id, row.block, row.slotCount);
  }

  /** Forgets the frontend with this code, which the maps hold under `id`. */
  delete(code: number, id: number): void {
    this.idByCode.delete(code);
    this.drainingById.delete(id);
    this.addresses.clear(id);
  }

  affinityOf(id: number): number {
    return this.affinities[id]!;
  }

  flagsOf(id: number): number {
    return this.flagWords[id]!;
  }

  blockOf(id: number): SlotBlock {
    return { base: this.blockBases[id]!, capacity: this.blockCapacities[id]! };
  }

  blockCapacityOf(id: number): number {
    return this.blockCapacities[id]!;
  }

  slotCountOf(id: number): number {
    return this.slotCounts[id]!;
  }

  /** The backend ids in the frontend's live slots, read from the shared slot array. */
  slotsOf(id: number): number[] {
    const base = this.blockBases[id]!;
    const count = this.slotCounts[id]!;
    const ids: number[] = [];
    for (let slot = 0; slot < count; slot++) ids.push(readSlot(this.slots, base + slot));
    return ids;
  }

  /**
   * Every backend the frontend holds a reference on, once each: its slots' backends, then its
   * draining ones. `slots`: its slotsOf(), when the caller has read them already.
   */
  membersOf(id: number, slots: readonly number[] = this.slotsOf(id)): number[] {
    const members = [...new Set(slots)];
    const draining = this.drainingById.get(id);
    if (draining !== undefined) members.push(...draining);
    return members;
  }

  setSlots(id: number, block: SlotBlock, slotCount: number): void {
    this.blockBases[id] = block.base;
    this.blockCapacities[id] = block.capacity;
    this.slotCounts[id] = slotCount;
  }

  setEntry(id: number, affinityTimeoutS: number, flags: number): void {
    this.affinities[id] = affinityTimeoutS;
    this.flagWords[id] = flags;
  }

  setDraining(id: number, draining: readonly number[]): void {
    if (draining.length === 0) this.drainingById.delete(id);
    else this.drainingById.set(id, draining);
  }

  /** The codes held, for marking every frontend dirty. */
  frontendCodes(): IterableIterator<number> {
    return this.idByCode.keys();
  }

  /** Each frontend's gate key (address, port, protocol). */
  *gateKeys(): IterableIterator<GateKey> {
    const { addresses } = this;
    for (const id of this.idByCode.values()) {
      yield {
        addr: addresses.addrOf(id),
        port: addresses.portOf(id),
        proto: addresses.protoOf(id),
      };
    }
  }
}
