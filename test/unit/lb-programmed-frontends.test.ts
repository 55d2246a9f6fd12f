/**
 * The reconciler's memory of its frontends, kept in columns, and the id list a pass refills per
 * frontend. The reconciler's own tests (lb-reconciler*.test.ts) check the maps these produce; these
 * check the pieces alone, where a mistake would be hard to trace from the maps.
 */
import { describe, expect, test } from '@jest/globals';

import { IdList } from '../../src/lb/id-list.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/lb/maps/lb-layouts.js';
import { sharedArray, writeSlot } from '../../src/lb/maps/shared-array.js';
import { ProgrammedFrontends } from '../../src/lb/programmed-frontends.js';
import { frontendCode } from '../../src/lb/programmed-state.js';
import { ipToInt } from '../../src/util/ipv4.js';

const SLOTS = 64;

function setUp(): { frontends: ProgrammedFrontends; slots: ReturnType<typeof sharedArray> } {
  const slots = sharedArray('tw_slot_v1', 4, SLOTS, new ArrayBuffer(8 * SLOTS));
  return { frontends: new ProgrammedFrontends(16, slots), slots };
}

describe('ProgrammedFrontends', () => {
  const addr = ipToInt('10.96.0.10');

  test('holds each field by id, finds the id by code, and forgets it on delete', () => {
    const { frontends } = setUp();
    const code = frontendCode(addr, 53, IPPROTO_UDP);
    frontends.add({
      code,
      id: 3,
      addr,
      port: 53,
      proto: IPPROTO_UDP,
      affinityTimeoutS: 600,
      flags: 1,
      block: { base: 8, capacity: 4 },
      slotCount: 0,
    });
    expect(frontends.idOf(code)).toBe(3);
    expect(frontends.idOf(frontendCode(addr, 53, IPPROTO_TCP))).toBe(0);
    expect([
      frontends.addresses.addrOf(3),
      frontends.addresses.portOf(3),
      frontends.addresses.protoOf(3),
    ]).toEqual([addr, 53, IPPROTO_UDP]);
    expect([frontends.affinityOf(3), frontends.flagsOf(3)]).toEqual([600, 1]);
    expect(frontends.blockOf(3)).toEqual({ base: 8, capacity: 4 });
    expect([...frontends.frontendCodes()]).toEqual([code]);
    expect([...frontends.gateKeys()]).toEqual([{ addr, port: 53, proto: IPPROTO_UDP }]);
    frontends.delete(code, 3);
    expect(frontends.idOf(code)).toBe(0);
    expect(frontends.size).toBe(0);
  });

  test('reads its slots from the shared slot array, and lists its members once each, draining last', () => {
    const { frontends, slots } = setUp();
    // Slots 4..7 of the array; the fourth lies past the count and is not read.
    [11, 12, 11, 99].forEach((backendId, slot) => writeSlot(slots, 4 + slot, backendId));
    frontends.add({
      code: frontendCode(addr, 80, IPPROTO_TCP),
      id: 1,
      addr,
      port: 80,
      proto: IPPROTO_TCP,
      affinityTimeoutS: 0,
      flags: 0,
      block: { base: 4, capacity: 4 },
      slotCount: 3,
    });
    frontends.setDraining(1, [20, 21]);
    expect(frontends.slotsOf(1)).toEqual([11, 12, 11]);
    expect(frontends.membersOf(1)).toEqual([11, 12, 20, 21]);
    // What the array says is what the frontend has: a slot rewritten in place shows at once.
    writeSlot(slots, 5, 13);
    expect(frontends.slotsOf(1)).toEqual([11, 13, 11]);
    frontends.setSlots(1, { base: 16, capacity: 8 }, 1);
    writeSlot(slots, 16, 14);
    frontends.setDraining(1, []);
    expect(frontends.membersOf(1)).toEqual([14]);
  });
});

describe('IdList', () => {
  test('grows past its first storage, keeps order, and empties without losing room', () => {
    const list = new IdList();
    for (let id = 1; id <= 200; id++) list.push(id);
    expect(list.length).toBe(200);
    expect([list.at(0), list.at(63), list.at(64), list.at(199)]).toEqual([1, 64, 65, 200]);
    expect(list.toArray(197)).toEqual([198, 199, 200]);
    expect(list.toArray(2, 4)).toEqual([3, 4]);
    list.clear();
    expect(list.length).toBe(0);
    expect(list.toArray()).toEqual([]);
    list.push(7);
    expect(list.toArray()).toEqual([7]);
  });
});
