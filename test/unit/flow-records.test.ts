import { describe, expect, test } from '@jest/globals';

import { MemoryBpfMap } from '../../src/dataplane/bpf/memory-bpf-map.js';
import { nextHopMacOf, readFlowRecords } from '../../src/lb/flow-records.js';
import { FLOW, FLOW_KEY, IPPROTO_TCP, LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { ipToInt } from '../../src/util/ipv4.js';

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
    maxEntries: 16,
  });
  const keys = Buffer.concat(
    nextHops.map((_, index) =>
      encode(FLOW_KEY, {
        clientAddr: ipToInt('10.0.0.10'),
        frontendAddr: ipToInt('10.96.0.10'),
        clientPort: 40_000 + index,
        frontendPort: 80,
        proto: IPPROTO_TCP,
      }),
    ),
  );
  const values = Buffer.concat(
    nextHops.map((nextHop, index) =>
      encode(FLOW, {
        firstSeenNs: BigInt(index + 1),
        lastSeenNs: BigInt(index + 1),
        packets: 3n,
        bytes: 180n,
        nextHop,
        frontendId: 1,
        backendId: 2,
        backendAddr: ipToInt('10.0.0.21'),
        backendPort: 8080,
        state: 1,
      }),
    ),
  );
  map.updateBatch(keys, values, nextHops.length);
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
