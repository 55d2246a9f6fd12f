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
  type ProgrammedState,
} from './programmed-state.js';
import { IdList } from './id-list.js';
import { blockCapacityFor, type SlotBlock } from './slot-blocks.js';
import { planSlots } from './slot-plan.js';
import { failpoint } from '../util/failpoints.js';

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
  private readonly frontendWrites: FrontendWrites;
  /** Stores that must wait until the frontend hash no longer points at what they clear. */
  private readonly afterFrontends: (() => void)[] = [];
  /** Frontend ids deleted this pass: parked at apply, not freed (parked-frontend-ids.ts). */
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
  /** acquire()'s lists, refilled per frontend. */
  private readonly members = new IdList();
  private readonly created = new IdList();

  constructor(
    private readonly state: ProgrammedState,
    private readonly maps: LbMaps,
    /** Before the source's first complete state, nothing restored may be deleted. */
    private readonly mayDelete: boolean,
    /** How many frontends the pass will plan: the most it can write. */
    frontendsPlanned: number,
  ) {
    this.frontendWrites = new FrontendWrites(frontendsPlanned);
  }

  /**
   * Brings one frontend to `desired`; undefined means it should not exist. When the maps have no
   * room for it (every id or every large enough slot block taken), the frontend is left exactly as
   * it was, and the reason is returned; undefined means it was planned.
   */
  frontend(code: FrontendCode, desired: DesiredFrontend | undefined): string | undefined {
    const id = this.state.frontends.idOf(code);
    if (!desired) {
      if (id !== 0 && this.mayDelete) this.deleteFrontend(code, id);
      return undefined;
    }
    const proto = protocolNumber(desired.address.protocol);
    const shortfall = this.shortfall(id, desired, proto);
    if (shortfall !== undefined) {
      this.frontendsBlocked++;
      return shortfall;
    }
    const flags = desired.external ? FRONTEND_F_EXTERNAL : 0;
    if (id === 0) {
      this.addFrontend(code, desired, proto, flags);
      return undefined;
    }
    // Read before anything is written: the shared slot array is this frontend's slot list.
    const liveSlots = this.state.frontends.slotsOf(id);
    const before = this.state.frontends.membersOf(id, liveSlots);
    const readyCount = this.acquire(desired, proto);
    const ready = this.members.toArray(0, readyCount);
    this.updateFrontend(id, liveSlots, before, desired, ready, this.members.toArray(), flags);
    return undefined;
  }

  /**
   * What the maps lack for `desired`, checked before anything is registered or written: one
   * Service too large for what is left must cost only itself, not every other change of the pass
   * (a pass that throws is retried whole, and would fail the same way forever). `id`: the
   * frontend's, 0 when the maps do not hold it yet.
   */
  private shortfall(id: number, desired: DesiredFrontend, proto: number): string | undefined {
    const { frontendIds, parkedFrontendIds, slotBlocks, backends, frontends } = this.state;
    if (id === 0 && frontendIds.free === 0 && parkedFrontendIds.size === 0) {
      return 'no frontend id is free: the frontend map is full';
    }
    const slots = desired.ready.length;
    const capacity = blockCapacityFor(slots);
    if ((id === 0 || slots > frontends.blockCapacityOf(id)) && !slotBlocks.canAllocate(capacity)) {
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
   * Lists in `members` the ids of the frontend's backends, each once: the ready ones in order,
   * then the draining ones; returns how many are ready. New backends are registered and their
   * entries written here, before any slot can name them.
   */
  private acquire(desired: DesiredFrontend, proto: number): number {
    const { backends } = this.state;
    const { members, created } = this;
    members.clear();
    created.clear();
    backends.startMarking();
    backends.acquireAll(desired.ready, proto, members, created);
    const readyCount = members.length;
    if (desired.draining.length > 0) backends.acquireAll(desired.draining, proto, members, created);
    for (let index = 0; index < created.length; index++) {
      const id = created.at(index);
      const addr = backends.addresses.addrOf(id);
      const port = backends.addresses.portOf(id);
      // The gate first: a reply from the backend must find its bit set.
      this.state.backendGate.add(addr, port, proto);
      writeBackend(this.maps.backend, id, addr, port, proto);
    }
    this.backendsWritten += created.length;
    return readyCount;
  }

  /**
   * A frontend the maps do not have yet: its slots are its ready backends in order, written
   * straight into a fresh block. The initial sync of a large cluster is all this case, so it
   * skips the slot diff and keeps nothing per frontend but its columns.
   */
  private addFrontend(
    code: FrontendCode,
    desired: DesiredFrontend,
    proto: number,
    flags: number,
  ): void {
    const slotCount = this.acquire(desired, proto);
    const { members } = this;
    const id = this.takeFrontendId();
    const block = this.state.slotBlocks.allocate(blockCapacityFor(slotCount));
    for (let slot = 0; slot < slotCount; slot++) {
      writeSlot(this.maps.slot, block.base + slot, members.at(slot));
    }
    this.slotsWritten += slotCount;
    const addr = frontendCodeAddr(code);
    const { port } = desired.address;
    this.state.frontends.add({
      code,
      id,
      addr,
      port,
      proto,
      affinityTimeoutS: desired.affinityTimeoutSeconds,
      flags,
      block,
      slotCount,
    });
    // Before the entry is written (apply): the program must never skip a frontend the map holds.
    this.state.frontendGate.add(addr, port, proto);
    this.upsertFrontendEntry(id, block, slotCount, desired.affinityTimeoutSeconds, flags);
    for (let index = 0; index < members.length; index++) this.state.backends.ref(members.at(index));
    if (members.length > slotCount)
      this.state.frontends.setDraining(id, members.toArray(slotCount));
  }

  /**
   * A free frontend id, or when every id is in use or parked, the longest-parked one: a frontend
   * without an id is not programmed at all, which is worse than an old flow's packets counted under
   * it. Its counters are zeroed first, so the new frontend starts from zero.
   */
  private takeFrontendId(): number {
    const { frontendIds, parkedFrontendIds } = this.state;
    if (frontendIds.free > 0) return frontendIds.allocate();
    const oldest = parkedFrontendIds.values().next().value!;
    parkedFrontendIds.delete(oldest);
    resetCounters(this.maps.frontendStats, [oldest]);
    return oldest;
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
    // A daemon that dies here has written a pass's new and changed frontends (their slots and
    // backends first) and removed nothing: the most mixed state the maps can be left in, which the
    // next start must read back and finish (test/netns/lab-lb-crash.test.ts).
    if (this.frontendWrites.deletes > 0 || this.afterFrontends.length > 0) {
      failpoint('lb/after-upserts');
    }
    this.frontendWrites.applyDeletes(this.maps.frontend);
    for (const store of this.afterFrontends) store();
    // An id goes back to its allocator with zero counters, so a new backend under it starts from
    // zero without a write of its own. A backend id needs no parking: a flow checks its backend's
    // address on every packet, so a reused id ends the old flows instead of counting them.
    resetCounters(this.maps.backendStats, this.releasedBackendIds);
    for (const id of this.releasedBackendIds) this.state.backends.ids.release(id);
    // A frontend's flows can outlive it (replies are still translated, and a re-created address
    // finds them), counted under its id all the while.
    for (const id of this.releasedFrontendIds) this.state.parkedFrontendIds.add(id);
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

  /**
   * `liveSlots` and `before` (its members) as they were before this pass touched the frontend;
   * `readyIds` and `memberIds` (ready first, then draining) what it must hold now.
   */
  private updateFrontend(
    id: number,
    liveSlots: readonly number[],
    before: readonly number[],
    desired: DesiredFrontend,
    readyIds: readonly number[],
    memberIds: readonly number[],
    flags: number,
  ): void {
    const { frontends } = this.state;
    const liveCount = liveSlots.length;
    const plan = planSlots(liveSlots, readyIds);
    let block = frontends.blockOf(id);
    let moved: SlotBlock | undefined;
    if (plan.slots.length > block.capacity) {
      // Outgrown: fill a new block completely, then switch the frontend to it in one update.
      moved = block;
      block = this.state.slotBlocks.allocate(blockCapacityFor(plan.slots.length));
      plan.slots.forEach((backendId, slot) =>
        writeSlot(this.maps.slot, block.base + slot, backendId),
      );
      this.slotsWritten += plan.slots.length;
    } else {
      for (const [slot, backendId] of plan.writes) {
        writeSlot(this.maps.slot, block.base + slot, backendId);
      }
      this.slotsWritten += plan.writes.length;
    }
    const affinity = desired.affinityTimeoutSeconds;
    const changed =
      moved !== undefined ||
      plan.slots.length !== liveCount ||
      frontends.affinityOf(id) !== affinity ||
      frontends.flagsOf(id) !== flags;
    if (changed) this.upsertFrontendEntry(id, block, plan.slots.length, affinity, flags);
    if (moved) this.releaseBlockLater(moved, liveCount);
    else if (plan.deletes.length > 0) this.clearSlotsLater(block, plan.deletes);
    frontends.setSlots(id, block, plan.slots.length);
    frontends.setEntry(id, affinity, flags);
    frontends.setDraining(id, memberIds.slice(readyIds.length));
    const now = new Set(memberIds);
    const had = new Set(before);
    for (const backendId of now) if (!had.has(backendId)) this.state.backends.ref(backendId);
    for (const backendId of had) if (!now.has(backendId)) this.unref(backendId);
  }

  /** The frontend hash entry: where the slots are, how many are live, and the frontend's flags. */
  private upsertFrontendEntry(
    id: number,
    block: SlotBlock,
    backendCount: number,
    affinityTimeoutS: number,
    flags: number,
  ): void {
    const { frontends } = this.state;
    this.frontendWrites.upsert(
      {
        addr: frontends.addresses.addrOf(id),
        port: frontends.addresses.portOf(id),
        proto: frontends.addresses.protoOf(id),
      },
      {
        id,
        slotBase: block.base,
        slotCapacity: block.capacity,
        backendCount,
        affinityTimeoutS,
        flags,
      },
    );
  }

  private deleteFrontend(code: FrontendCode, id: number): void {
    const { frontends } = this.state;
    const addr = frontends.addresses.addrOf(id);
    const port = frontends.addresses.portOf(id);
    const proto = frontends.addresses.protoOf(id);
    this.frontendWrites.delete({ addr, port, proto });
    // Once the entry is gone: until then the program may still need to find it.
    this.afterFrontends.push(() => this.state.frontendGate.remove(addr, port, proto));
    this.releaseBlockLater(frontends.blockOf(id), frontends.slotCountOf(id));
    for (const backendId of frontends.membersOf(id)) this.unref(backendId);
    frontends.delete(code, id);
    this.releasedFrontendIds.push(id);
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
    const addr = backends.addresses.addrOf(id);
    const port = backends.addresses.portOf(id);
    const proto = backends.addresses.protoOf(id);
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
