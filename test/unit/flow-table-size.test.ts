/**
 * The conntrack tables' size: the operator's flag checked, and the size a load gives the flow and
 * reverse maps, the pinned one standing over the one asked for. The real maps are in
 * test/netns/lb-flow-table-size.test.ts.
 */
import { describe, expect, test } from '@jest/globals';

import { TerwayError } from '../../src/errors/terway-error.js';
import {
  DEFAULT_FLOW_TABLE_SIZE,
  FLOW_TABLE_SIZE_MAX,
  FLOW_TABLE_SIZE_MIN,
  parseFlowTableSize,
  planFlowTableSize,
} from '../../src/lb/flow-table-size.js';
import { LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';

const FLOW = LB_MAP_NAMES.flow;
const REVERSE = LB_MAP_NAMES.reverse;

describe('parseFlowTableSize', () => {
  test('a count in range, as given', () => {
    expect(parseFlowTableSize('1048576', '--lb-flow-table-size')).toBe(1_048_576);
    expect(parseFlowTableSize(' 16384 ', '--lb-flow-table-size')).toBe(FLOW_TABLE_SIZE_MIN);
    expect(parseFlowTableSize(String(FLOW_TABLE_SIZE_MAX), '--x')).toBe(FLOW_TABLE_SIZE_MAX);
    expect(parseFlowTableSize(String(DEFAULT_FLOW_TABLE_SIZE), '--x')).toBe(262_144);
  });

  test.each(['16383', '16777217', '0', '-65536', '65536.5', '1e6', '64k', '', '0x10000'])(
    '%j is refused with the range and the flag named',
    (value) => {
      let caught: unknown;
      try {
        parseFlowTableSize(value, '--lb-flow-table-size');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TerwayError);
      expect((caught as TerwayError).code).toBe('INVALID_CONFIG');
      expect((caught as TerwayError).message).toBe(
        `--lb-flow-table-size ${JSON.stringify(value)}: expected a number of flows from 16384 to ` +
          '16777216 (each costs about 232 bytes of kernel memory)',
      );
    },
  );
});

describe('planFlowTableSize', () => {
  const pinned =
    (sizes: Record<string, number>) =>
    (name: string): number | undefined =>
      sizes[name];

  test('nothing pinned: both maps get the size asked for', () => {
    expect(planFlowTableSize(1_048_576, pinned({}))).toEqual({
      mapSizes: { [FLOW]: 1_048_576, [REVERSE]: 1_048_576 },
      entries: 1_048_576,
      requested: 1_048_576,
    });
  });

  test('pinned at another size: the pinned size stands, and the plan says it was kept', () => {
    expect(planFlowTableSize(1_048_576, pinned({ [FLOW]: 262_144, [REVERSE]: 262_144 }))).toEqual({
      mapSizes: { [FLOW]: 262_144, [REVERSE]: 262_144 },
      entries: 262_144,
      requested: 1_048_576,
      keptPinned: 262_144,
    });
  });

  test('pinned at the size asked for: nothing kept against the operator', () => {
    const plan = planFlowTableSize(65_536, pinned({ [FLOW]: 65_536, [REVERSE]: 65_536 }));
    expect(plan.entries).toBe(65_536);
    expect(plan.keptPinned).toBeUndefined();
  });

  test('only the reverse index pinned (a load that died between the two): both take its size', () => {
    const plan = planFlowTableSize(1_048_576, pinned({ [REVERSE]: 131_072 }));
    expect(plan.mapSizes).toEqual({ [FLOW]: 131_072, [REVERSE]: 131_072 });
    expect(plan.keptPinned).toBe(131_072);
  });

  test("the flow table's pinned size is the table's, whatever the reverse index says", () => {
    // A load with the two at different sizes fails on the reverse map's mismatch, as any does.
    const plan = planFlowTableSize(65_536, pinned({ [FLOW]: 131_072, [REVERSE]: 262_144 }));
    expect(plan.mapSizes).toEqual({ [FLOW]: 131_072, [REVERSE]: 131_072 });
  });
});
