/**
 * Turns desired frontends into map writes against the programmed mirror, one frontend at a time.
 *
 * The arrays (slots, backends, counters, the gates) are shared memory: stores that are safe at
 * any moment go in at once, while planning: a new backend's entry, a zeroed counter, a slot at or
 * past the frontend's live count, a live slot switching from one ready backend to another, a new
 * frontend's or backend's gate bit. Stores that would pull something from under a packet wait
 * until the frontend hash has been updated: clearing slots past a shrunken count, freeing a
 * frontend's old slot block, clearing a deleted backend, clearing a deleted frontend's or
 * backend's gate bit. The hash itself takes one batch syscall per pass.
 *
 * The mirror is updated as the plan is made; if the frontend update fails, the caller throws the
 * mirror away and rebuilds it from the live maps.
 */
import type { DesiredFrontend } from './desired-frontend.js';
import type { LbMaps } from './lb-maps.js';
import { FRONTEND_F_EXTERNAL } from './maps/lb-layouts.js';
import { FrontendWrites } from './maps/frontend-writes.js';
import { resetCounters } from './maps/counter-resets.js';
import { clearBackend, writeBackend, writeSlot } from './maps/shared-array.js';
import {
  frontendCodeAddr,
  protocolNumber,
  type FrontendCode,
  type ProgrammedFrontend,
  type ProgrammedState,
} from './programmed-state.js';
import { blockCapacityFor, type SlotBlock } from './slot-blocks.js';
import { planSlots } from './slot-plan.js';

export interface PlanSummary {
  frontendsWritten: number;
  frontendsDeleted: number;
  /** Desired frontends the maps had no room for: left as they were (see frontend()). */
  frontendsBlocked: number;
  backendsWritten: number;
  backendsDeleted: number;
  slotsWritten: number;
  slotsCleared: number;
  /** Slot blocks given back (deleted or moved frontends): room a blocked frontend may now take. */
  blocksReleased: number;
}

export class LbWritePlan {
  private readonly frontendWrites = new FrontendWrites();
  /** Stores that must wait until the frontend hash no longer points at what they clear. */
  private readonly afterFrontends: (() => void)[] = [];
  private readonly releasedFrontendIds: number[] = [];
  /** Backend ids cleared from the array this pass: their counters are reset, then they are freed. */
  private readonly releasedBackendIds: number[] = [];
  /** Backends whose last reference went this pass; deleted at apply unless re-referenced. */
  private readonly unreferenced = new Set<number>();
  private backendsWritten = 0;
  private backendsDeleted = 0;
  private slotsWritten = 0;
  private slotsCleared = 0;
  private blocksReleased = 0;
  private frontendsBlocked = 0;

  constructor(
    private readonly state: ProgrammedState,
    private readonly maps: LbMaps,
    /** Before the source's first complete state, nothing restored may be deleted. */
    private readonly mayDelete: boolean,
  ) {}

  /**
   * Brings one frontend to `desired`; undefined means it should not exist. When the maps have no
   * room for it (every id or every large enough slot block taken), the frontend is left exactly as
   * it was, and the reason is returned; undefined means it was planned.
   */
  frontend(code: FrontendCode, desired: DesiredFrontend | undefined): string | undefined {
    const current = this.state.frontends.get(code);
    if (!desired) {
      if (current && this.mayDelete) this.deleteFrontend(current);
      return undefined;
    }
    const proto = protocolNumber(desired.address.protocol);
    const shortfall = this.shortfall(current, desired, proto);
    if (shortfall !== undefined) {
      this.frontendsBlocked++;
      return shortfall;
    }
    const flags = desired.external ? FRONTEND_F_EXTERNAL : 0;
    if (current === undefined) {
      this.addFrontend(code, desired, proto, flags);
      return undefined;
    }
    const { ready, members } = this.acquire(desired, proto);
    this.updateFrontend(current, desired, ready, new Set(members), flags);
    return undefined;
  }

  /**
   * What the maps lack for `desired`, checked before anything is registered or written: one
   * Service too large for what is left must cost only itself, not every other change of the pass
   * (a pass that throws is retried whole, and would fail the same way forever).
   */
  private shortfall(
    current: ProgrammedFrontend | undefined,
    desired: DesiredFrontend,
    proto: number,
  ): string | undefined {
    const { frontendIds, slotBlocks, backends } = this.state;
    if (current === undefined && frontendIds.free === 0) {
      return 'no frontend id is free: the frontend map is full';
    }
    const slots = desired.ready.length;
    const capacity = blockCapacityFor(slots);
    if (
      (current === undefined || slots > current.block.capacity) &&
      !slotBlocks.canAllocate(capacity)
    ) {
      return `the slot array has no free block of ${capacity} slots for ${slots} ready backends`;
    }
    const freeIds = backends.ids.free;
    // Most frontends fit even if every backend were new; only near the limit are they counted.
    if (desired.ready.length + desired.draining.length > freeIds) {
      const unknown =
        backends.countUnknown(desired.ready, proto) +
        backends.countUnknown(desired.draining, proto);
      if (unknown > freeIds) {
        return `${unknown} backends are new and only ${freeIds} backend ids are free`;
      }
    }
    return undefined;
  }

  /**
   * The ids of the frontend's backends, each once: `ready` in order, `members` the ready ones
   * then the draining ones. New backends are registered and their entries written here, before
   * any slot can name them.
   */
  private acquire(desired: DesiredFrontend, proto: number): { ready: number[]; members: number[] } {
    const backends = this.state.backends;
    const created: number[] = [];
    const ready: number[] = [];
    backends.startMarking();
    backends.acquireAll(desired.ready, proto, ready, created);
    let members = ready;
    if (desired.draining.length > 0) {
      members = ready.slice();
      backends.acquireAll(desired.draining, proto, members, created);
    }
    for (let index = 0; index < created.length; index++) {
      const id = created[index]!;
      const addr = backends.addrOf(id);
      const port = backends.portOf(id);
      // The gate first: a reply from the backend must find its bit set.
      this.state.backendGate.add(addr, port, proto);
      writeBackend(this.maps.backend, id, addr, port, proto);
    }
    this.backendsWritten += created.length;
    return { ready, members };
  }

  /**
   * A frontend the maps do not have yet: its slots are its ready backends in order, written
   * straight into a fresh block. The initial sync of a large cluster is all this case, so it
   * skips the slot diff and allocates nothing per backend.
   */
  private addFrontend(
    code: FrontendCode,
    desired: DesiredFrontend,
    proto: number,
    flags: number,
  ): void {
    const { ready: slots, members } = this.acquire(desired, proto);
    const frontend = this.createFrontend(code, desired, proto, slots.length);
    const { base } = frontend.block;
    for (let slot = 0; slot < slots.length; slot++) {
      writeSlot(this.maps.slot, base + slot, slots[slot]!);
    }
    this.slotsWritten += slots.length;
    this.upsertFrontendEntry(frontend, frontend.block, slots.length, desired, flags);
    frontend.slots = slots;
    frontend.flags = flags;
    for (let index = 0; index < members.length; index++) this.state.backends.ref(members[index]!);
    // The same array as the slots when nothing drains: one array per frontend, not two.
    frontend.members = members;
  }

  /** Deletes backends nothing references (after a restore, once the source is complete). */
  sweep(): void {
    if (!this.mayDelete) return;
    for (const id of this.state.restoredBackends) {
      if (this.state.backends.refsOf(id) <= 0) this.unreferenced.add(id);
    }
    // Swept once: whatever the daemon adds from now on is referenced when it is added.
    this.state.restoredBackends.length = 0;
  }

  apply(): PlanSummary {
    for (const id of this.unreferenced) {
      if (this.state.backends.has(id) && this.state.backends.refsOf(id) <= 0)
        this.deleteBackend(id);
    }
    this.frontendWrites.applyUpserts(this.maps.frontend);
    this.frontendWrites.applyDeletes(this.maps.frontend);
    for (const store of this.afterFrontends) store();
    // An id goes back to its allocator with zero counters, so a new frontend or backend under it
    // starts from zero without a write of its own.
    resetCounters(this.maps.frontendStats, this.releasedFrontendIds);
    resetCounters(this.maps.backendStats, this.releasedBackendIds);
    for (const id of this.releasedFrontendIds) this.state.frontendIds.release(id);
    for (const id of this.releasedBackendIds) this.state.backends.ids.release(id);
    return {
      frontendsWritten: this.frontendWrites.upserts,
      frontendsDeleted: this.frontendWrites.deletes,
      frontendsBlocked: this.frontendsBlocked,
      backendsWritten: this.backendsWritten,
      backendsDeleted: this.backendsDeleted,
      slotsWritten: this.slotsWritten,
      slotsCleared: this.slotsCleared,
      blocksReleased: this.blocksReleased,
    };
  }

  private createFrontend(
    code: FrontendCode,
    desired: DesiredFrontend,
    proto: number,
    readyCount: number,
  ): ProgrammedFrontend {
    const frontend: ProgrammedFrontend = {
      code,
      id: this.state.frontendIds.allocate(),
      addr: frontendCodeAddr(code),
      port: desired.address.port,
      proto,
      affinityTimeoutS: desired.affinityTimeoutSeconds,
      flags: 0,
      block: this.state.slotBlocks.allocate(blockCapacityFor(readyCount)),
      slots: [],
      members: [],
    };
    this.state.frontends.set(code, frontend);
    // Before the entry is written (apply): the program must never skip a frontend the map holds.
    this.state.frontendGate.add(frontend.addr, frontend.port, proto);
    return frontend;
  }

  private updateFrontend(
    frontend: ProgrammedFrontend,
    desired: DesiredFrontend,
    readyIds: number[],
    memberIds: Set<number>,
    flags: number,
  ): void {
    const liveCount = frontend.slots.length;
    const plan = planSlots(frontend.slots, readyIds);
    let block = frontend.block;
    let moved: SlotBlock | undefined;
    if (plan.slots.length > block.capacity) {
      // Outgrown: fill a new block completely, then switch the frontend to it in one update.
      moved = block;
      block = this.state.slotBlocks.allocate(blockCapacityFor(plan.slots.length));
      plan.slots.forEach((id, slot) => writeSlot(this.maps.slot, block.base + slot, id));
      this.slotsWritten += plan.slots.length;
    } else {
      for (const [slot, id] of plan.writes) writeSlot(this.maps.slot, block.base + slot, id);
      this.slotsWritten += plan.writes.length;
    }
    const changed =
      moved !== undefined ||
      plan.slots.length !== liveCount ||
      frontend.affinityTimeoutS !== desired.affinityTimeoutSeconds ||
      frontend.flags !== flags;
    if (changed) this.upsertFrontendEntry(frontend, block, plan.slots.length, desired, flags);
    if (moved) this.releaseBlockLater(moved, liveCount);
    else if (plan.deletes.length > 0) this.clearSlotsLater(block, plan.deletes);
    frontend.block = block;
    frontend.slots = plan.slots.slice();
    frontend.affinityTimeoutS = desired.affinityTimeoutSeconds;
    frontend.flags = flags;
    const before = new Set(frontend.members);
    for (const id of memberIds) if (!before.has(id)) this.state.backends.ref(id);
    for (const id of before) if (!memberIds.has(id)) this.unref(id);
    frontend.members = [...memberIds];
  }

  /** The frontend hash entry: where the slots are, how many are live, and the frontend's flags. */
  private upsertFrontendEntry(
    frontend: ProgrammedFrontend,
    block: SlotBlock,
    backendCount: number,
    desired: DesiredFrontend,
    flags: number,
  ): void {
    this.frontendWrites.upsert(
      { addr: frontend.addr, port: frontend.port, proto: frontend.proto },
      {
        id: frontend.id,
        slotBase: block.base,
        slotCapacity: block.capacity,
        backendCount,
        affinityTimeoutS: desired.affinityTimeoutSeconds,
        flags,
      },
    );
  }

  private deleteFrontend(frontend: ProgrammedFrontend): void {
    this.frontendWrites.delete({ addr: frontend.addr, port: frontend.port, proto: frontend.proto });
    // Once the entry is gone: until then the program may still need to find it.
    this.afterFrontends.push(() =>
      this.state.frontendGate.remove(frontend.addr, frontend.port, frontend.proto),
    );
    this.releaseBlockLater(frontend.block, frontend.slots.length);
    for (const id of frontend.members) this.unref(id);
    this.state.frontends.delete(frontend.code);
    this.releasedFrontendIds.push(frontend.id);
  }

  private clearSlotsLater(block: SlotBlock, slots: readonly number[]): void {
    this.slotsCleared += slots.length;
    this.afterFrontends.push(() => {
      for (const slot of slots) writeSlot(this.maps.slot, block.base + slot, 0);
    });
  }

  /**
   * Clears a block the frontend hash no longer names and returns it to the allocator. A packet
   * that read the old base just before the update finishes within microseconds; the block is
   * handed out again at the earliest in the next pass, a full event-loop turn later.
   */
  private releaseBlockLater(block: SlotBlock, used: number): void {
    this.slotsCleared += used;
    this.blocksReleased++;
    this.afterFrontends.push(() => {
      for (let slot = 0; slot < used; slot++) writeSlot(this.maps.slot, block.base + slot, 0);
      this.state.slotBlocks.release(block);
    });
  }

  private unref(id: number): void {
    if (!this.state.backends.has(id)) return;
    // A backend moving between two frontends in one pass keeps its id, and so its flows.
    if (this.state.backends.unref(id) && this.mayDelete) this.unreferenced.add(id);
  }

  private deleteBackend(id: number): void {
    const { backends } = this.state;
    // Read before the registry forgets the id: the gate's bit is cleared later, in apply().
    const addr = backends.addrOf(id);
    const port = backends.portOf(id);
    const proto = backends.protoOf(id);
    backends.remove(id);
    this.backendsDeleted++;
    this.afterFrontends.push(() => {
      clearBackend(this.maps.backend, id);
      // Once the entry is gone, as for a frontend's bit.
      this.state.backendGate.remove(addr, port, proto);
      this.releasedBackendIds.push(id);
    });
  }
}
