import { describe, expect, test } from '@jest/globals';

import { BackendRegistry } from '../../src/lb/backend-registry.js';
import { backendKey } from '../../src/lb/desired-frontend.js';
import { IdList } from '../../src/lb/id-list.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/lb/maps/lb-layouts.js';

/** A small deterministic generator, so a failure replays. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state;
  };
}

function acquireOne(
  registry: BackendRegistry,
  addr: number,
  port: number,
  proto: number,
): { id: number; created: boolean } {
  const ids = new IdList();
  const created = new IdList();
  registry.startMarking();
  registry.acquireAll([backendKey(addr, port)], proto, ids, created);
  return { id: ids.at(0), created: created.length === 1 };
}

describe('BackendRegistry', () => {
  test('acquireAll lists each backend once per round, in order, and reports the ones it registered', () => {
    const registry = new BackendRegistry();
    const a = backendKey(0x0a000001, 8080);
    const b = backendKey(0x0a000002, 8080);
    const c = backendKey(0x0a000003, 8080);
    const ids = new IdList();
    const created = new IdList();
    registry.startMarking();
    registry.acquireAll([b, a, b], IPPROTO_TCP, ids, created);
    expect(ids.toArray()).toEqual([1, 2]);
    expect(created.toArray()).toEqual([1, 2]);
    // Same round: a list after it (a frontend's draining backends) skips what the first listed.
    registry.acquireAll([a, c], IPPROTO_TCP, ids, created);
    expect(ids.toArray()).toEqual([1, 2, 3]);
    expect(created.toArray()).toEqual([1, 2, 3]);
    // A new round (another frontend) lists them again, registering nothing.
    const again = new IdList();
    const none = new IdList();
    registry.startMarking();
    registry.acquireAll([c, a], IPPROTO_TCP, again, none);
    expect(again.toArray()).toEqual([3, 2]);
    expect(none.toArray()).toEqual([]);
    expect([registry.addresses.addrOf(3), registry.addresses.portOf(3)]).toEqual([
      0x0a000003, 8080,
    ]);
    // The same address and port under UDP is another backend.
    registry.acquireAll([a], IPPROTO_UDP, again, none);
    expect(none.toArray()).toEqual([4]);
  });

  test('finds by address, port and protocol; the same address on another port or protocol is another backend', () => {
    const registry = new BackendRegistry();
    registry.add(1, 0x0a000001, 8080, IPPROTO_TCP);
    registry.add(2, 0x0a000001, 8080, IPPROTO_UDP);
    registry.add(3, 0x0a000001, 9090, IPPROTO_TCP);
    registry.add(4, 0xfffffffe, 65_535, IPPROTO_TCP);
    expect(registry.find(0x0a000001, 8080, IPPROTO_TCP)).toBe(1);
    expect(registry.find(0x0a000001, 8080, IPPROTO_UDP)).toBe(2);
    expect(registry.find(0x0a000001, 9090, IPPROTO_TCP)).toBe(3);
    expect(registry.find(0xfffffffe, 65_535, IPPROTO_TCP)).toBe(4);
    expect(registry.find(0x0a000002, 8080, IPPROTO_TCP)).toBeUndefined();
    expect(registry.size).toBe(4);
  });

  test('random adds and removes agree with a Map at every step (deletion keeps later probes reachable)', () => {
    // A small table, nearly full at times: long probe runs that wrap around the end.
    const registry = new BackendRegistry(64);
    const model = new Map<string, number>();
    const byId = new Map<number, [number, number, number]>();
    const next = lcg(7);
    // Few distinct addresses and ports: collisions and long probe runs are the point.
    const pick = (): [number, number, number] => [
      (0x0a000000 + (next() % 64)) >>> 0,
      8000 + (next() % 2),
      next() % 2 === 0 ? IPPROTO_TCP : IPPROTO_UDP,
    ];
    for (let step = 0; step < 20_000; step++) {
      const [addr, port, proto] = pick();
      const key = `${addr}:${port}:${proto}`;
      const id = model.get(key);
      if (id === undefined && model.size < 63) {
        const fresh = acquireOne(registry, addr, port, proto);
        expect(fresh.created).toBe(true);
        model.set(key, fresh.id);
        byId.set(fresh.id, [addr, port, proto]);
      } else if (id !== undefined && next() % 5 === 0) {
        expect(acquireOne(registry, addr, port, proto)).toEqual({ id, created: false });
      } else if (id !== undefined && next() % 3 !== 0) {
        registry.remove(id);
        registry.ids.release(id);
        model.delete(key);
        byId.delete(id);
      }
      if (step % 1000 === 0 || step === 19_999) {
        for (const [present, [a, p, pr]] of byId) expect(registry.find(a, p, pr)).toBe(present);
        expect(registry.size).toBe(model.size);
      }
    }
    for (const [present, [a, p, pr]] of byId) {
      expect(registry.find(a, p, pr)).toBe(present);
      registry.remove(present);
      expect(registry.find(a, p, pr)).toBeUndefined();
    }
    expect(registry.size).toBe(0);
  });

  test('the table doubles as it fills: every backend stays findable, removals between doublings included', () => {
    // The table starts at 4,096 slots; 12,000 backends take it through two doublings.
    const registry = new BackendRegistry(20_000);
    const present = new Map<number, [number, number]>();
    const next = lcg(11);
    for (let step = 0; present.size < 12_000; step++) {
      const addr = (0x0a000000 + (next() % 1_000_000)) >>> 0;
      const port = 1 + (next() % 65_535);
      const { id, created } = acquireOne(registry, addr, port, IPPROTO_TCP);
      if (created) present.set(id, [addr, port]);
      // Every seventh step removes the backend just registered (a shifted probe run each time).
      if (created && step % 7 === 0) {
        registry.remove(id);
        registry.ids.release(id);
        present.delete(id);
      }
    }
    expect(registry.size).toBe(12_000);
    for (const [id, [addr, port]] of present) {
      expect(registry.find(addr, port, IPPROTO_TCP)).toBe(id);
      expect([registry.addresses.addrOf(id), registry.addresses.portOf(id)]).toEqual([addr, port]);
    }
    for (const [id, [addr, port]] of present) {
      registry.remove(id);
      expect(registry.find(addr, port, IPPROTO_TCP)).toBeUndefined();
    }
    expect(registry.size).toBe(0);
  });

  test('reserve sizes the table once for what a pass brings: no doubling on the way, never smaller, never past the limit', () => {
    const registry = new BackendRegistry(20_000);
    const next = lcg(5);
    const present = new Map<number, [number, number]>();
    const register = (count: number): void => {
      while (count > 0) {
        const addr = (0x0a000000 + (next() % 1_000_000)) >>> 0;
        const port = 1 + (next() % 65_535);
        const { id, created } = acquireOne(registry, addr, port, IPPROTO_TCP);
        if (!created) continue;
        present.set(id, [addr, port]);
        count--;
      }
    };
    register(1_000);
    expect(registry.tableSlots).toBe(4_096);
    // 1,000 held + 11,000 coming: 24,000 slots at most half full rounds up to 32,768.
    registry.reserve(11_000);
    expect(registry.tableSlots).toBe(32_768);
    register(11_000);
    expect(registry.tableSlots).toBe(32_768);
    registry.reserve(10);
    expect(registry.tableSlots).toBe(32_768);
    // More than the map can hold: the table stops at its size for the limit.
    registry.reserve(1_000_000);
    expect(registry.tableSlots).toBe(65_536);
    // The rehashes kept every entry, the ones registered before the first reserve included.
    for (const [id, [addr, port]] of present) {
      expect(registry.find(addr, port, IPPROTO_TCP)).toBe(id);
    }
    expect(registry.size).toBe(12_000);
  });
});
