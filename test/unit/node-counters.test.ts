import { describe, expect, test } from '@jest/globals';

import type { BpfMap } from '../../src/dataplane/bpf/bpf-maps.js';
import { NODE_COUNTERS } from '../../src/lb/maps/lb-layouts.js';
import { flowEntriesMade, readNodeFlowTotals } from '../../src/lb/maps/node-counters.js';
import { encode } from '../../src/lb/maps/struct-codec.js';

/** The one thing read of tw_node_stat: entry 0, as the kernel returns a per-CPU value. */
function mapReturning(value: Buffer | undefined): BpfMap {
  return { lookup: (key: Buffer) => (key.readUInt32LE(0) === 0 ? value : undefined) } as BpfMap;
}

describe('readNodeFlowTotals', () => {
  test("sums every CPU's slot", () => {
    const slots = [
      { flows: 5n, rejected: 1n, clashes: 0n, moved: 1n, movedDirect: 6n, reused: 2n },
      { flows: 7n, rejected: 0n, clashes: 2n, moved: 0n, movedDirect: 0n, reused: 7n },
      { flows: 0n, rejected: 4n, clashes: 1n, moved: 2n, movedDirect: 5n, reused: 0n },
    ];
    const value = Buffer.concat(slots.map((slot) => encode(NODE_COUNTERS, slot)));
    expect(readNodeFlowTotals(mapReturning(value))).toEqual({
      balanced: 12n,
      refused: 5n,
      clashed: 3n,
      moved: 3n,
      movedDirect: 11n,
      reused: 9n,
    });
    // Entries added: the balanced flows that did not take over an entry, and the moved direct
    // ones; refusals and clashes add none.
    expect(flowEntriesMade(readNodeFlowTotals(mapReturning(value)))).toBe(12 - 9 + 11);
  });

  test('a map without the entry counts nothing', () => {
    expect(readNodeFlowTotals(mapReturning(undefined))).toEqual({
      balanced: 0n,
      refused: 0n,
      clashed: 0n,
      moved: 0n,
      movedDirect: 0n,
      reused: 0n,
    });
  });
});
