/**
 * The gates: the bit of each key as the program computes it, the counting that keeps a shared bit
 * set while any key needs it, and the reconciler's use of both gates (set before the entry
 * exists, cleared after it is gone, rebuilt on restore).
 */
import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import type { DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { backendKeyOf } from '../../src/lb/desired-frontend.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import { GATE_BITS, KeyGate, gateBit } from '../../src/lb/maps/key-gate.js';
import { IPPROTO_TCP, IPPROTO_UDP } from '../../src/lb/maps/lb-layouts.js';
import { sharedArray } from '../../src/lb/maps/shared-array.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { ipToInt } from '../../src/util/ipv4.js';

const logger = pino({ level: 'silent' });

function gateArray() {
  return sharedArray('tw_fe_gate_v1', 8, GATE_BITS / 64, new ArrayBuffer(GATE_BITS / 8));
}

function setBits(words: Uint32Array): number[] {
  const bits: number[] = [];
  words.forEach((word, at) => {
    for (let bit = 0; bit < 32; bit++) if ((word >>> bit) & 1) bits.push(at * 32 + bit);
  });
  return bits;
}

function frontend(ip: string, port: number, protocol: 'TCP' | 'UDP'): DesiredFrontend {
  return {
    address: { ip, port, protocol },
    service: { namespace: 'default', name: 'web', portName: '' },
    external: false,
    affinityTimeoutSeconds: 0,
    ready: [backendKeyOf({ ip: '10.0.0.20', port: 8080 })],
    draining: [],
  };
}

describe('gateBit', () => {
  // Computed from tw_gate_hash() in bpf/lb_maps.h with 32-bit unsigned arithmetic, the address and
  // port read from their network-order bytes as little-endian integers, as the program does.
  test.each([
    ['10.96.0.10', 80, IPPROTO_TCP, 290_499],
    ['10.96.0.10', 80, IPPROTO_UDP, 269_293],
    ['10.96.0.10', 53, IPPROTO_UDP, 240_954],
    ['192.168.1.200', 8443, IPPROTO_TCP, 238_522],
    ['255.255.255.255', 65_535, IPPROTO_UDP, 490_329],
    ['0.0.0.1', 1, IPPROTO_TCP, 269_550],
  ])('%s:%d proto %d is bit %d, as the program computes it', (ip, port, proto, bit) => {
    expect(gateBit(ipToInt(ip), port, proto)).toBe(bit);
  });
});

describe('KeyGate', () => {
  const web = [ipToInt('10.96.0.25'), 80, IPPROTO_TCP] as const;
  // A different frontend on the same bit (found by search).
  const sharing = [ipToInt('10.96.0.50'), 443, IPPROTO_TCP] as const;

  test('a bit stays set while any frontend on it remains', () => {
    const array = gateArray();
    const gate = new KeyGate(array);
    expect(gateBit(...web)).toBe(gateBit(...sharing));
    gate.add(...web);
    gate.add(...sharing);
    expect(setBits(array.words)).toEqual([gateBit(...web)]);
    gate.remove(...web);
    expect(gate.holds(...sharing)).toBe(true);
    gate.remove(...sharing);
    expect(setBits(array.words)).toEqual([]);
    // A stray remove does not wrap the count around.
    gate.remove(...sharing);
    gate.add(...web);
    expect(gate.holds(...web)).toBe(true);
  });

  test('rebuild sets the bits of the frontends given and clears every other', () => {
    const array = gateArray();
    array.words[7] = 0xffff_ffff; // left by a daemon that crashed mid-pass
    const gate = new KeyGate(array);
    const frontends = [
      { addr: web[0], port: web[1], proto: web[2] },
      { addr: ipToInt('10.96.0.10'), port: 53, proto: IPPROTO_UDP },
    ];
    gate.rebuild(frontends);
    expect(setBits(array.words)).toEqual(
      frontends.map((f) => gateBit(f.addr, f.port, f.proto)).sort((a, b) => a - b),
    );
    // The counts were rebuilt too: removing one frontend clears its bit only.
    gate.remove(...web);
    expect(setBits(array.words)).toEqual([gateBit(ipToInt('10.96.0.10'), 53, IPPROTO_UDP)]);
  });

  test('a bit shared by three keys, counted by add or by rebuild, clears only with the last', () => {
    const target = gateBit(...web);
    // Two more keys on web's bit, found by walking ports (deterministic).
    const others: [number, number, number][] = [];
    for (let port = 1; others.length < 2; port++) {
      const candidate: [number, number, number] = [ipToInt('10.96.7.7'), port, IPPROTO_UDP];
      if (gateBit(...candidate) === target) others.push(candidate);
    }
    const keys = [[...web], ...others] as [number, number, number][];
    const byAdd = new KeyGate(gateArray());
    for (const key of keys) byAdd.add(...key);
    const rebuiltArray = gateArray();
    const rebuilt = new KeyGate(rebuiltArray);
    rebuilt.rebuild(keys.map(([addr, port, proto]) => ({ addr, port, proto })));
    expect(setBits(rebuiltArray.words)).toEqual([target]);
    for (const gate of [byAdd, rebuilt]) {
      gate.remove(...keys[0]!);
      gate.remove(...keys[1]!);
      expect(gate.holds(...keys[2]!)).toBe(true);
      gate.remove(...keys[2]!);
      expect(gate.holds(...keys[2]!)).toBe(false);
    }
  });

  test('a bit counted past its byte (300 keys) clears only with the last, by add or by rebuild', () => {
    // The same key counted 300 times stands for 300 keys on one bit: the count does not know.
    const keys = Array.from({ length: 300 }, () => ({ addr: web[0], port: web[1], proto: web[2] }));
    const byAdd = new KeyGate(gateArray());
    for (const key of keys) byAdd.add(key.addr, key.port, key.proto);
    const rebuilt = new KeyGate(gateArray());
    rebuilt.rebuild(keys);
    for (const gate of [byAdd, rebuilt]) {
      for (let left = 300; left > 1; left--) gate.remove(...web);
      expect(gate.holds(...web)).toBe(true);
      gate.remove(...web);
      expect(gate.holds(...web)).toBe(false);
    }
  });

  test('an array of another size is refused with BPF_ERROR', () => {
    const small = sharedArray('tw_fe_gate_v1', 8, 1024, new ArrayBuffer(8 * 1024));
    expect(() => new KeyGate(small)).toThrow(expect.objectContaining({ code: 'BPF_ERROR' }));
  });
});

describe('the reconciler and the gates', () => {
  test('frontends and backends are gated in while they exist, and out once deleted', async () => {
    const maps = memoryLbMaps();
    const reconciler = new LbReconciler({ maps, logger });
    const tcp = [ipToInt('10.96.0.10'), 80, IPPROTO_TCP] as const;
    const udp = [ipToInt('10.96.0.10'), 53, IPPROTO_UDP] as const;
    reconciler.replaceService('default/web', [
      frontend('10.96.0.10', 80, 'TCP'),
      frontend('10.96.0.10', 53, 'UDP'),
    ]);
    reconciler.markSynced();
    await reconciler.whenIdle();
    expect(setBits(maps.frontendGate.words)).toEqual(
      [gateBit(...tcp), gateBit(...udp)].sort((a, b) => a - b),
    );
    expect(maps.frontend.size).toBe(2);
    // One backend address and port, under each protocol: two backends, two bits.
    const backendTcp = [ipToInt('10.0.0.20'), 8080, IPPROTO_TCP] as const;
    const backendUdp = [ipToInt('10.0.0.20'), 8080, IPPROTO_UDP] as const;
    expect(setBits(maps.backendGate.words)).toEqual(
      [gateBit(...backendTcp), gateBit(...backendUdp)].sort((a, b) => a - b),
    );

    reconciler.replaceService('default/web', [frontend('10.96.0.10', 53, 'UDP')]);
    await reconciler.whenIdle();
    expect(setBits(maps.frontendGate.words)).toEqual([gateBit(...udp)]);
    expect(setBits(maps.backendGate.words)).toEqual([gateBit(...backendUdp)]);
    reconciler.deleteService('default/web');
    await reconciler.whenIdle();
    expect(setBits(maps.frontendGate.words)).toEqual([]);
    expect(setBits(maps.backendGate.words)).toEqual([]);
    expect(maps.frontend.size).toBe(0);
    reconciler.stop();
  });

  test('a restarted daemon rebuilds the gates from the frontends and backends the maps hold', async () => {
    const maps = memoryLbMaps();
    const first = new LbReconciler({ maps, logger });
    first.replaceService('default/web', [frontend('10.96.0.10', 80, 'TCP')]);
    first.markSynced();
    await first.whenIdle();
    first.stop();
    // As after an upgrade from a daemon without the gates, plus stale bits.
    maps.frontendGate.words.fill(0);
    maps.frontendGate.words[3] = 1;
    maps.backendGate.words.fill(0);
    maps.backendGate.words[5] = 0x80;

    const second = new LbReconciler({ maps, logger });
    expect(setBits(maps.frontendGate.words)).toEqual([
      gateBit(ipToInt('10.96.0.10'), 80, IPPROTO_TCP),
    ]);
    expect(setBits(maps.backendGate.words)).toEqual([
      gateBit(ipToInt('10.0.0.20'), 8080, IPPROTO_TCP),
    ]);
    second.stop();
  });
});
