/**
 * The reconciler's memory of what the maps hold. It is never the source of truth on its own: at
 * startup, and after any failed write, it is rebuilt from the live maps, so a daemon restart or a
 * half-applied pass never makes the reconciler wipe or duplicate what the datapath is using.
 */
import { intToIp } from '../util/ipv4.js';
import type { LbProtocol } from './desired-frontend.js';
import { BackendRegistry } from './backend-registry.js';
import { IdAllocator } from './id-allocator.js';
import type { LbMaps } from './lb-maps.js';
import { FRONTEND, FRONTEND_KEY, IPPROTO_TCP, IPPROTO_UDP, LB_LIMITS } from './maps/lb-layouts.js';
import { readBackend, readSlot } from './maps/shared-array.js';
import { decode } from './maps/struct-codec.js';
import { SlotBlocks, type SlotBlock } from './slot-blocks.js';

export interface ProgrammedFrontend {
  readonly key: string;
  readonly id: number;
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
  affinityTimeoutS: number;
  flags: number;
  block: SlotBlock;
  /** Backend ids by slot; the program draws from slots 0..length-1. */
  slots: number[];
  /** Every backend this frontend holds a reference on: its slots plus its draining backends. */
  members: Set<number>;
}

export class ProgrammedState {
  readonly frontends = new Map<string, ProgrammedFrontend>();
  readonly backends = new BackendRegistry();
  readonly frontendIds = new IdAllocator('frontend', LB_LIMITS.frontends);
  slotBlocks = new SlotBlocks(LB_LIMITS.slots);

  /** Rebuilds the mirror from the live maps. Counters are left alone: they live in the maps. */
  static fromMaps(maps: LbMaps): ProgrammedState {
    const state = new ProgrammedState();
    for (let id = 1; id < maps.backend.maxEntries; id++) {
      const value = readBackend(maps.backend, id);
      if (!value) continue;
      state.backends.ids.claim(id);
      state.backends.add(id, value.addr, value.port, value.proto);
    }
    const blocks: SlotBlock[] = [];
    const dump = maps.frontend.dump();
    for (let index = 0; index < dump.count; index++) {
      const key = decode(FRONTEND_KEY, dump.keys, index * FRONTEND_KEY.size);
      const value = decode(FRONTEND, dump.values, index * FRONTEND.size);
      state.frontendIds.claim(value.id);
      const block = { base: value.slotBase, capacity: value.slotCapacity };
      blocks.push(block);
      const slots: number[] = [];
      // A slot naming no known backend can only come from a foreign writer: the count is cut
      // there, so the next pass rewrites the rest from the desired state.
      for (let slot = 0; slot < Math.min(value.backendCount, block.capacity); slot++) {
        const id = readSlot(maps.slot, block.base + slot);
        if (!state.backends.has(id)) break;
        slots.push(id);
      }
      const frontend: ProgrammedFrontend = {
        key: frontendKeyOf(key.addr, key.port, key.proto),
        id: value.id,
        addr: key.addr,
        port: key.port,
        proto: key.proto,
        affinityTimeoutS: value.affinityTimeoutS,
        flags: value.flags,
        block,
        slots,
        members: new Set(slots),
      };
      for (const id of frontend.members) state.backends.ref(id);
      state.frontends.set(frontend.key, frontend);
    }
    state.slotBlocks = SlotBlocks.fromUsed(LB_LIMITS.slots, blocks);
    return state;
  }
}

export function protocolNumber(protocol: LbProtocol): number {
  return protocol === 'TCP' ? IPPROTO_TCP : IPPROTO_UDP;
}

export function protocolName(proto: number): LbProtocol {
  return proto === IPPROTO_TCP ? 'TCP' : 'UDP';
}

/** Same spelling as desired-frontend's frontendKey, built from map values. */
export function frontendKeyOf(addr: number, port: number, proto: number): string {
  return `${intToIp(addr)}:${port}/${protocolName(proto)}`;
}
