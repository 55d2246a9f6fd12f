/**
 * The reconciler's memory of what the maps hold. It is never the source of truth on its own: at
 * startup, and after any failed write, it is rebuilt from the live maps, so a daemon restart or a
 * half-applied pass never makes the reconciler wipe or duplicate what the datapath is using.
 */
import { TerwayError } from '../errors/terway-error.js';
import { parseIPv4 } from '../util/ipv4.js';
import type { FrontendAddress, LbProtocol } from './desired-frontend.js';
import { BackendRegistry } from './backend-registry.js';
import { KeyGate, type GateKey } from './maps/key-gate.js';
import { IdAllocator } from './id-allocator.js';
import type { LbMaps } from './lb-maps.js';
import { readIdHighWater } from './maps/counter-resets.js';
import { FRONTEND, FRONTEND_KEY, IPPROTO_TCP, IPPROTO_UDP, LB_LIMITS } from './maps/lb-layouts.js';
import { readBackend, readSlot, type SharedArray } from './maps/shared-array.js';
import { ProgrammedFrontends } from './programmed-frontends.js';
import { decode } from './maps/struct-codec.js';
import { SlotBlocks, type SlotBlock } from './slot-blocks.js';

export class ProgrammedState {
  readonly frontends: ProgrammedFrontends;
  readonly backends = new BackendRegistry();
  readonly frontendIds = new IdAllocator('frontend', LB_LIMITS.frontends);
  /**
   * Frontend ids no frontend holds any more, kept from reuse while a live flow may still count
   * under them (parked-frontend-ids.ts), oldest first. They stay taken in `frontendIds`; their
   * counters are zeroed when they are freed for good (or taken back when every other id is in
   * use).
   */
  readonly parkedFrontendIds = new Set<number>();
  /**
   * The backends the live maps held when this mirror was built: the only ones a sweep can find
   * unreferenced, since a backend the daemon adds is referenced from the start.
   */
  readonly restoredBackends: number[] = [];
  slotBlocks = new SlotBlocks(LB_LIMITS.slots);
  /**
   * The highest frontend and backend ids the counter arrays' entry 0 say the daemon may have
   * handed out (lb_maps.h): raised, and written, before a pass may hand out higher ones.
   */
  readonly idHighWater = { frontends: 0, backends: 0 };

  private constructor(
    slots: SharedArray,
    /** The gates' counts, and their writers (see key-gate.ts). */
    readonly frontendGate: KeyGate,
    readonly backendGate: KeyGate,
  ) {
    this.frontends = new ProgrammedFrontends(LB_LIMITS.frontends, slots);
  }

  /**
   * Rebuilds the mirror from the live maps. Counters are left alone: they live in the maps. The
   * maps written are the gates, rebuilt from the frontends and backends found (KeyGate.rebuild).
   */
  static fromMaps(maps: LbMaps): ProgrammedState {
    const state = new ProgrammedState(
      maps.slot,
      new KeyGate(maps.frontendGate),
      new KeyGate(maps.backendGate),
    );
    const backendKeys: GateKey[] = [];
    for (let id = 1; id < maps.backend.maxEntries; id++) {
      const value = readBackend(maps.backend, id);
      if (!value) continue;
      state.backends.ids.claim(id);
      state.backends.add(id, value.addr, value.port, value.proto);
      state.restoredBackends.push(id);
      backendKeys.push(value);
    }
    const blocks: SlotBlock[] = [];
    const dump = maps.frontend.dump();
    for (let index = 0; index < dump.count; index++) {
      const key = decode(FRONTEND_KEY, dump.keys, index * FRONTEND_KEY.size);
      const value = decode(FRONTEND, dump.values, index * FRONTEND.size);
      state.frontendIds.claim(value.id);
      const block = { base: value.slotBase, capacity: value.slotCapacity };
      blocks.push(block);
      // A slot naming no known backend can only come from a foreign writer: the count is cut
      // there, so the next pass rewrites the rest from the desired state.
      let slotCount = 0;
      const limit = Math.min(value.backendCount, block.capacity);
      while (slotCount < limit && state.backends.has(readSlot(maps.slot, block.base + slotCount)))
        slotCount++;
      state.frontends.add({
        code: frontendCode(key.addr, key.port, key.proto),
        id: value.id,
        addr: key.addr,
        port: key.port,
        proto: key.proto,
        affinityTimeoutS: value.affinityTimeoutS,
        flags: value.flags,
        block,
        slotCount,
      });
      for (const id of state.frontends.membersOf(value.id)) state.backends.ref(id);
    }
    state.slotBlocks = SlotBlocks.fromUsed(LB_LIMITS.slots, blocks);
    state.idHighWater.frontends = readIdHighWater(maps.frontendStats);
    state.idHighWater.backends = readIdHighWater(maps.backendStats);
    state.frontendGate.rebuild(state.frontends.gateKeys());
    state.backendGate.rebuild(backendKeys);
    return state;
  }
}

export function protocolNumber(protocol: LbProtocol): number {
  return protocol === 'TCP' ? IPPROTO_TCP : IPPROTO_UDP;
}

export function protocolName(proto: number): LbProtocol {
  return proto === IPPROTO_TCP ? 'TCP' : 'UDP';
}

/**
 * A frontend's identity in the reconciler's tables: address × 2^17 + port × 2 + (UDP ? 1 : 0), at
 * most 2^49, exact in a double. A number rather than frontendKey's string: keying 10,000
 * frontends by freshly built strings costs the initial sync a concatenation and a hash of each.
 */
export type FrontendCode = number;

/** A FrontendCode's address part is code / 2^17 (port × 2 + UDP below it). */
const ADDRESS_RADIX = 131_072;

export function frontendCode(addr: number, port: number, proto: number): FrontendCode {
  return addr * ADDRESS_RADIX + port * 2 + (proto === IPPROTO_UDP ? 1 : 0);
}

export function frontendCodeAddr(code: FrontendCode): number {
  return Math.floor(code / ADDRESS_RADIX);
}

/** The code of a desired frontend; INVALID_ARGUMENT when its address is not IPv4. */
export function frontendCodeOf(address: FrontendAddress): FrontendCode {
  const addr = parseIPv4(address.ip);
  if (addr === undefined) {
    throw new TerwayError(
      'INVALID_ARGUMENT',
      `not an IPv4 frontend: ${JSON.stringify(address.ip)}`,
    );
  }
  return frontendCode(addr, address.port, protocolNumber(address.protocol));
}
