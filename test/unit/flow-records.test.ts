import { describe, expect, jest, test } from '@jest/globals';

import { MemoryBpfMap } from '../../src/dataplane/bpf/memory-bpf-map.js';
import { nextHopMacOf, readFlowRecords, selectFlows } from '../../src/lb/flow-records.js';
import {
  FLOW,
  FLOW_F_DIRECT,
  FLOW_F_PORT_MOVED,
  FLOW_KEY,
  IPPROTO_TCP,
  LB_MAP_NAMES,
  MOVED_PORT,
} from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { writeFlows } from '../support/flow-entries.js';

/** A next_hop word as the program stores it: the MAC's bytes first in memory, then the stamp. */
function nextHopWord(mac: string, stamp: number): bigint {
  const bytes = Buffer.alloc(8);
  Buffer.from(mac.replaceAll(':', ''), 'hex').copy(bytes, 0);
  bytes.writeUInt16LE(stamp, 6);
  return bytes.readBigUInt64LE(0);
}

function flowMap(nextHops: bigint[]): MemoryBpfMap {
  const map = new MemoryBpfMap({
    name: LB_MAP_NAMES.flow,
    type: 'lru_hash',
    keySize: FLOW_KEY.size,
    valueSize: FLOW.size,
    maxEntries: 512,
  });
  writeFlows(
    map,
    nextHops.map((nextHop, index) => ({
      clientPort: 40_000 + index,
      firstSeenNs: BigInt(index + 1),
      packets: 3n,
      bytes: 180n,
      nextHop,
      backendId: 2,
    })),
  );
  return map;
}

describe('the next hop in the flow records', () => {
  test('is the MAC in the low six bytes of the word, whatever its stamp', () => {
    expect(nextHopMacOf(nextHopWord('02:00:00:51:00:15', 0))).toBe('02:00:00:51:00:15');
    expect(nextHopMacOf(nextHopWord('ee:ff:ff:ff:ff:ff', 0xffff))).toBe('ee:ff:ff:ff:ff:ff');
    expect(nextHopMacOf(nextHopWord('0a:0b:0c:0d:0e:0f', 0x1234))).toBe('0a:0b:0c:0d:0e:0f');
  });

  test('is absent while nothing was learned (0, as every older program wrote the field)', () => {
    expect(nextHopMacOf(0n)).toBeUndefined();
  });

  test('each record read from the map carries its own', () => {
    const learned = nextHopWord('02:00:00:51:00:16', 77);
    const records = readFlowRecords(flowMap([0n, learned]));
    expect(records.map((record) => [record.client.port, record.nextHopMac])).toEqual([
      [40_000, undefined],
      [40_001, '02:00:00:51:00:16'],
    ]);
    expect(records[1]).toMatchObject({
      backend: { ip: '10.0.0.21', port: 8080, id: 2 },
      frontend: { ip: '10.96.0.10', port: 80 },
      state: 'established',
    });
  });
});

/** An empty flow map of four entries, as tw_flow is laid out. */
function flowTable(): MemoryBpfMap {
  return new MemoryBpfMap({
    name: LB_MAP_NAMES.flow,
    type: 'lru_hash',
    keySize: FLOW_KEY.size,
    valueSize: FLOW.size,
    maxEntries: 4,
  });
}

describe('a moved client port in the flow records', () => {
  test("is the moved-port entry's port for a flagged flow, 0 once it is gone, absent otherwise", () => {
    const flows = flowTable();
    writeFlows(flows, [
      { clientPort: 40_000, firstSeenNs: 1n },
      { clientPort: 40_001, firstSeenNs: 2n, flags: FLOW_F_PORT_MOVED },
      { clientPort: 40_002, firstSeenNs: 3n, flags: FLOW_F_PORT_MOVED },
    ]);
    const moved = new MemoryBpfMap({
      name: LB_MAP_NAMES.movedPorts,
      type: 'lru_hash',
      keySize: FLOW_KEY.size,
      valueSize: MOVED_PORT.size,
      maxEntries: 4,
    });
    // Only 40001's entry: 40002's was evicted.
    const key = encode(FLOW_KEY, {
      clientAddr: ipToInt('10.0.0.10'),
      frontendAddr: ipToInt('10.96.0.10'),
      clientPort: 40_001,
      frontendPort: 80,
      proto: IPPROTO_TCP,
    });
    moved.updateBatch(key, encode(MOVED_PORT, { clientPort: 61_234 }), 1);
    const records = readFlowRecords(flows, moved);
    expect(records.map((record) => [record.client.port, record.movedClientPort])).toEqual([
      [40_000, undefined],
      [40_001, 61_234],
      [40_002, 0],
    ]);
  });
});

describe('a direct connection in the flow records', () => {
  test('is marked direct when flagged so, whatever else is flagged; any other flow is not', () => {
    const flows = flowTable();
    writeFlows(flows, [
      { clientPort: 40_000, firstSeenNs: 1n },
      { clientPort: 40_001, firstSeenNs: 2n, flags: FLOW_F_PORT_MOVED },
      // Its key's frontend is the backend itself.
      {
        clientPort: 40_002,
        firstSeenNs: 3n,
        frontend: '10.0.0.21',
        frontendPort: 8080,
        flags: FLOW_F_DIRECT | FLOW_F_PORT_MOVED,
      },
      { clientPort: 40_003, firstSeenNs: 4n, flags: FLOW_F_DIRECT },
    ]);
    const records = readFlowRecords(flows);
    expect(records.map((record) => [record.client.port, record.direct])).toEqual([
      [40_000, false],
      [40_001, false],
      [40_002, true],
      [40_003, true],
    ]);
    expect(records[2]).toMatchObject({
      frontend: { ip: '10.0.0.21', port: 8080 },
      backend: { ip: '10.0.0.21', port: 8080 },
    });
  });
});

describe('selecting flows', () => {
  const NS_PER_MS = 1_000_000;

  /** Flows from client ports 40000.. last seen at these milliseconds, in the map's order. */
  function stamped(stamps: number[]): MemoryBpfMap {
    const map = flowMap(stamps.map(() => 0n));
    stamps.forEach((stamp, index) => {
      const key = encode(FLOW_KEY, {
        clientAddr: ipToInt('10.0.0.10'),
        frontendAddr: ipToInt('10.96.0.10'),
        clientPort: 40_000 + index,
        frontendPort: 80,
        proto: IPPROTO_TCP,
      });
      const value = Buffer.from(map.lookup(key)!);
      value.writeBigUInt64LE(BigInt(Math.round(stamp * NS_PER_MS)), FLOW.fields.lastSeenNs.offset);
      map.updateBatch(key, value, 1);
    });
    return map;
  }

  async function ports(selection: ReturnType<typeof selectFlows>, size = 100): Promise<number[]> {
    return [...(await selection).batches(size)].flat().map((record) => record.client.port - 40_000);
  }

  test('most recently active first; the limit keeps the most recent, ties in map order', async () => {
    const map = stamped([5, 9, 2 ** 30, 9, 1, 9]);
    expect(await ports(selectFlows(map))).toEqual([2, 1, 3, 5, 0, 4]);
    const limited = await selectFlows(map, { limit: 3 });
    expect(await ports(Promise.resolve(limited))).toEqual([2, 1, 3]);
    expect([limited.matched, limited.total]).toEqual([6, 6]);
    expect(await ports(selectFlows(map, { limit: 6 }))).toEqual([2, 1, 3, 5, 0, 4]);
    expect(await ports(selectFlows(map, { limit: 1 }))).toEqual([2]);
  });

  test('a filter sees each flow as numbers; batches split the chosen flows in order', async () => {
    const map = stamped([1, 2, 3, 4, 5]);
    const seen: number[] = [];
    const odd = await selectFlows(map, {
      matches: (flow) => {
        expect(flow).toMatchObject({
          clientAddr: ipToInt('10.0.0.10'),
          frontendAddr: ipToInt('10.96.0.10'),
          frontendPort: 80,
          proto: IPPROTO_TCP,
          backendAddr: ipToInt('10.0.0.21'),
          backendPort: 8080,
        });
        seen.push(flow.clientPort);
        return flow.clientPort % 2 === 1;
      },
    });
    expect(seen.sort()).toEqual([40_000, 40_001, 40_002, 40_003, 40_004]);
    expect([odd.matched, odd.total]).toEqual([2, 5]);
    expect([...odd.batches(1)].map((batch) => batch.map((r) => r.client.port))).toEqual([
      [40_003],
      [40_001],
    ]);
    expect(await ports(selectFlows(map), 2)).toEqual([4, 3, 2, 1, 0]);
  });

  test('the map is read in pages off the event loop, and the scan pauses every 4,096 flows', async () => {
    const count = 40_000;
    const map = new MemoryBpfMap({
      name: LB_MAP_NAMES.flow,
      type: 'lru_hash',
      keySize: FLOW_KEY.size,
      valueSize: FLOW.size,
      maxEntries: count,
    });
    const keys = Buffer.alloc(count * FLOW_KEY.size);
    for (let index = 0; index < count; index++) {
      keys.writeUInt32BE(index + 1, index * FLOW_KEY.size);
    }
    map.updateBatch(keys, Buffer.alloc(count * FLOW.size), count);
    const pages = jest.spyOn(map, 'dumpPageAsync');
    let pauses = 0;
    const selection = await selectFlows(map, { limit: 10 }, () => {
      pauses++;
      return Promise.resolve();
    });
    expect(pages).toHaveBeenCalledTimes(Math.ceil(count / 16_384));
    expect(pauses).toBe(Math.floor((count - 1) / 4_096));
    expect([selection.matched, selection.total]).toEqual([count, count]);
    // All seen at once: the first ten met are the ones shown.
    const shown = [...selection.batches(4)].flat().map((record) => record.client.ip);
    expect(shown).toEqual(Array.from({ length: 10 }, (_, index) => `0.0.0.${index + 1}`));
  });

  test('read a page at a time, only the most recent `limit` are kept, as one sort would rank them', async () => {
    // Stamps drawn from a small range of ms, so that ties in time are common.
    let seed = 7;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const stamps = Array.from({ length: 300 }, () => Math.floor(random() * 40) + random() * 0.9);
    const map = stamped(stamps);
    const byRecency = stamps
      .map((stamp, index) => ({ ms: Math.floor(stamp), index }))
      .sort((a, b) => b.ms - a.ms || a.index - b.index)
      .map(({ index }) => index);
    for (const limit of [0, 1, 2, 13, 299, 300, 301]) {
      const selection = selectFlows(map, { limit }, undefined, undefined, 7);
      const expected = limit === 0 ? byRecency : byRecency.slice(0, limit);
      expect(await ports(selection, 50)).toEqual(expected);
      expect([(await selection).matched, (await selection).total]).toEqual([300, 300]);
    }
    const even = await selectFlows(
      map,
      { matches: (flow) => flow.clientPort % 2 === 0, limit: 10 },
      undefined,
      undefined,
      16,
    );
    expect([even.matched, even.total]).toEqual([150, 300]);
    expect([...even.batches(4)].flat().map((record) => record.client.port - 40_000)).toEqual(
      byRecency.filter((index) => index % 2 === 0).slice(0, 10),
    );
  });

  test('within one millisecond (a tick of the programs clock) the map order holds', async () => {
    expect(await ports(selectFlows(stamped([0.25, 0, 0.75])))).toEqual([0, 1, 2]);
    expect(await ports(selectFlows(stamped([0.25, 0, 1.5])))).toEqual([2, 0, 1]);
  });
});
