/**
 * The reconciler's memory of what the maps hold. It is never the source of truth on its own: at
 * startup, and after any failed write, it is rebuilt from the live maps, so a daemon restart or a
 * half-applied pass never makes the reconciler wipe or duplicate what the datapath is using.
 */
import { intToIp } from '../util/ipv4.js';
import type { LbProtocol } from './desired-frontend.js';
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

export interface ProgrammedBackend {
  readonly id: number;
  readonly addr: number;
  readonly port: number;
  readonly proto: number;
  /** How many frontends list it (ready or draining). At zero it is deleted, ending its flows. */
  refs: number;
}

/**
 * Backends by (address, port, protocol). Numeric keys, nested by port: a 100,000-backend sync
 * would otherwise build and hash 100,000 strings.
 */
export class BackendIndex {
  private readonly byPort = new Map<number, Map<number, ProgrammedBackend>>();
  private count = 0;

  get(addr: number, port: number, proto: number): ProgrammedBackend | undefined {
    return this.byPort.get(portKey(port, proto))?.get(addr | 0);
  }

  set(backend: ProgrammedBackend): void {
    const key = portKey(backend.port, backend.proto);
    let byAddr = this.byPort.get(key);
    if (!byAddr) this.byPort.set(key, (byAddr = new Map()));
    if (!byAddr.has(backend.addr | 0)) this.count++;
    byAddr.set(backend.addr | 0, backend);
  }

  delete(backend: ProgrammedBackend): void {
    const key = portKey(backend.port, backend.proto);
    const byAddr = this.byPort.get(key);
    if (byAddr?.get(backend.addr | 0) !== backend) return;
    byAddr.delete(backend.addr | 0);
    this.count--;
    if (byAddr.size === 0) this.byPort.delete(key);
  }

  get size(): number {
    return this.count;
  }

  *values(): IterableIterator<ProgrammedBackend> {
    for (const byAddr of this.byPort.values()) yield* byAddr.values();
  }
}

function portKey(port: number, proto: number): number {
  return port * 256 + proto;
}

export class ProgrammedState {
  readonly frontends = new Map<string, ProgrammedFrontend>();
  readonly backends = new BackendIndex();
  readonly backendsById = new Map<number, ProgrammedBackend>();
  readonly frontendIds = new IdAllocator('frontend', LB_LIMITS.frontends);
  readonly backendIds = new IdAllocator('backend', LB_LIMITS.backends);
  slotBlocks = new SlotBlocks(LB_LIMITS.slots);

  addBackend(backend: ProgrammedBackend): void {
    this.backends.set(backend);
    this.backendsById.set(backend.id, backend);
  }

  removeBackend(backend: ProgrammedBackend): void {
    this.backends.delete(backend);
    this.backendsById.delete(backend.id);
  }

  /** Rebuilds the mirror from the live maps. Counters are left alone: they live in the maps. */
  static fromMaps(maps: LbMaps): ProgrammedState {
    const state = new ProgrammedState();
    for (let id = 1; id < maps.backend.maxEntries; id++) {
      const value = readBackend(maps.backend, id);
      if (!value) continue;
      state.backendIds.claim(id);
      state.addBackend({
        id,
        addr: value.addr,
        port: value.port,
        proto: value.proto,
        refs: 0,
      });
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
        if (!state.backendsById.has(id)) break;
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
      for (const id of frontend.members) state.backendsById.get(id)!.refs++;
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
