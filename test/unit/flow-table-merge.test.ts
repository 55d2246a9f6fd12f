import { describe, expect, test } from '@jest/globals';

import { MemoryBpfMap } from '../../src/dataplane/bpf/memory-bpf-map.js';
import {
  CHANGE_MARGIN_NS,
  mergeFlowTables,
  type FlowTables,
} from '../../src/lb/flow-table-merge.js';
import { LB_MAP_SHAPES } from '../../src/lb/lb-maps.js';
import { FLOW, IPPROTO_UDP, LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';
import { decode } from '../../src/lb/maps/struct-codec.js';
import {
  flowKeyOf,
  reverseKeyOf,
  writeFlows,
  writeReverseEntries,
  type TestFlow,
} from '../support/flow-entries.js';

function tables(size: number): FlowTables & { flow: MemoryBpfMap; reverse: MemoryBpfMap } {
  const map = (role: 'flow' | 'reverse') =>
    new MemoryBpfMap({
      name: LB_MAP_NAMES[role],
      type: 'hash',
      keySize: LB_MAP_SHAPES[role].key,
      valueSize: LB_MAP_SHAPES[role].value,
      maxEntries: size,
    });
  return { flow: map('flow'), reverse: map('reverse') };
}

const noWait = () => Promise.resolve();

const NS_PER_S = 1_000_000_000n;

function lastSeenOf(map: MemoryBpfMap, flow: TestFlow): bigint | undefined {
  const value = map.lookup(flowKeyOf(flow));
  return value === undefined ? undefined : decode(FLOW, value).lastSeenNs;
}

describe('mergeFlowTables', () => {
  test('into empty tables: every flow, and every reverse entry whose flow it holds', async () => {
    const from = tables(64);
    const into = tables(256);
    const flows: TestFlow[] = [1, 2, 3].map((n) => ({ clientPort: 40_000 + n, lastSeenNs: 5n }));
    writeFlows(from.flow, flows);
    writeReverseEntries(from.reverse, flows);

    const report = await mergeFlowTables(from, into, noWait);

    expect(report).toEqual({
      flowsAdded: 3,
      flowsUpdated: 0,
      reverseAdded: 3,
      dropped: 0,
      endedLeft: 0,
    });
    for (const flow of flows) {
      expect(into.flow.lookup(flowKeyOf(flow))).toEqual(from.flow.lookup(flowKeyOf(flow)));
      expect(into.reverse.lookup(reverseKeyOf(flow))).toEqual(flowKeyOf(flow));
    }
  });

  test('an entry the new table holds stands, unless the old one saw a later packet', async () => {
    const from = tables(64);
    const into = tables(64);
    const touchedSince = { clientPort: 40_001 };
    const touchedBefore = { clientPort: 40_002 };
    const onlyOld = { clientPort: 40_003 };
    writeFlows(from.flow, [
      { ...touchedSince, lastSeenNs: 900n, state: 'closing' },
      { ...touchedBefore, lastSeenNs: 100n },
      { ...onlyOld, lastSeenNs: 100n },
    ]);
    writeFlows(into.flow, [
      { ...touchedSince, lastSeenNs: 500n },
      { ...touchedBefore, lastSeenNs: 700n, backend: '10.0.0.22' },
    ]);

    const report = await mergeFlowTables(from, into, noWait);

    expect(report).toEqual({
      flowsAdded: 1,
      flowsUpdated: 1,
      reverseAdded: 0,
      dropped: 0,
      endedLeft: 0,
    });
    expect(lastSeenOf(into.flow, touchedSince)).toBe(900n);
    expect(decode(FLOW, into.flow.lookup(flowKeyOf(touchedSince))!).state).toBe(2);
    expect(lastSeenOf(into.flow, touchedBefore)).toBe(700n);
    expect(lastSeenOf(into.flow, onlyOld)).toBe(100n);
  });

  /**
   * Old tables of `fromSize` with a live flow, a stale reverse entry (its flow ended and collected)
   * and a flow whose reverse entry a program on the new tables (of `intoSize`) has re-made for a
   * flow under another key; merged.
   */
  async function mergeReverseCase(fromSize: number, intoSize: number) {
    const from = tables(fromSize);
    const into = tables(intoSize);
    const live = { clientPort: 40_001 };
    const stale = { clientPort: 40_002 };
    const taken = { clientPort: 40_003 };
    const other = { ...taken, frontendPort: 81 };
    writeFlows(from.flow, [live, taken]);
    writeReverseEntries(from.reverse, [live, stale, taken]);
    into.reverse.updateBatch(reverseKeyOf(taken), flowKeyOf(other), 1);
    const report = await mergeFlowTables(from, into, noWait);
    const leadsTo = (flow: TestFlow) => into.reverse.lookup(reverseKeyOf(flow));
    return { report, leadsTo, live, stale, taken, other };
  }

  test('shrinking, a reverse entry moves only to a flow the new table holds, and never over one there', async () => {
    const { report, leadsTo, live, stale, taken, other } = await mergeReverseCase(128, 64);
    expect(report.reverseAdded).toBe(1);
    expect(leadsTo(live)).toEqual(flowKeyOf(live));
    expect(leadsTo(stale)).toBeUndefined();
    expect(leadsTo(taken)).toEqual(flowKeyOf(other));
  });

  test('growing, the reverse index is copied as it is, stale entries too, never over one there', async () => {
    const { report, leadsTo, live, stale, taken, other } = await mergeReverseCase(64, 128);
    // The page went in whole until `taken`, then entry by entry.
    expect(report.reverseAdded).toBe(2);
    expect(leadsTo(live)).toEqual(flowKeyOf(live));
    expect(leadsTo(stale)).toEqual(flowKeyOf(stale));
    expect(leadsTo(taken)).toEqual(flowKeyOf(other));
  });

  test('entries that find the new table full are counted, and the rest still move', async () => {
    const from = tables(64);
    const into = tables(4);
    const flows: TestFlow[] = Array.from({ length: 6 }, (_, n) => ({ clientPort: 41_000 + n }));
    writeFlows(from.flow, flows);
    writeReverseEntries(from.reverse, flows.slice(0, 2));

    const report = await mergeFlowTables(from, into, noWait);

    expect(report.flowsAdded).toBe(4);
    expect(report.reverseAdded).toBe(2);
    expect(report.dropped).toBe(2);
    expect(into.flow.size).toBe(4);
  });

  test('a second merge reads only the flows stamped since the first began, and the reverse entries of those it adds', async () => {
    const from = tables(64);
    const into = tables(64);
    const firstMergeNs = 100n * 1_000_000_000n;
    const before = firstMergeNs - CHANGE_MARGIN_NS - 1n;
    // Copied by the first merge, then collected from the new table as ended: it stays out.
    const collected = { clientPort: 40_001, lastSeenNs: before };
    // Made by an old program after the first merge.
    const made = { clientPort: 40_002, lastSeenNs: firstMergeNs + 3n };
    // Touched by an old program after the first merge, after its copy was.
    const touched = { clientPort: 40_003, lastSeenNs: firstMergeNs + 7n };
    const copied = { clientPort: 40_004, lastSeenNs: before };
    writeFlows(from.flow, [collected, made, touched, copied]);
    writeReverseEntries(from.reverse, [collected, made, touched, copied]);
    writeFlows(into.flow, [{ ...touched, lastSeenNs: before }, copied]);
    writeReverseEntries(into.reverse, [touched, copied]);
    // The new table has no reverse entry for `copied` any more: not this merge's to restore.
    into.reverse.deleteBatch(reverseKeyOf(copied), 1);

    const report = await mergeFlowTables(from, into, noWait, { changedSince: firstMergeNs });

    expect(report).toEqual({
      flowsAdded: 1,
      flowsUpdated: 1,
      reverseAdded: 1,
      dropped: 0,
      endedLeft: 0,
    });
    expect(into.flow.lookup(flowKeyOf(collected))).toBeUndefined();
    expect(lastSeenOf(into.flow, made)).toBe(made.lastSeenNs);
    expect(lastSeenOf(into.flow, touched)).toBe(touched.lastSeenNs);
    expect(into.reverse.lookup(reverseKeyOf(made))).toEqual(flowKeyOf(made));
    expect(into.reverse.lookup(reverseKeyOf(copied))).toBeUndefined();
    expect(into.reverse.lookup(reverseKeyOf(collected))).toBeUndefined();
  });

  test('with liveAt, only the flows alive then move, with their reverse entries', async () => {
    const from = tables(64);
    const into = tables(128);
    const now = 10_000n * NS_PER_S;
    const flows: TestFlow[] = [
      { clientPort: 40_001, lastSeenNs: now - 70n * NS_PER_S, state: 'new' },
      { clientPort: 40_002, lastSeenNs: now - 3_600n * NS_PER_S },
      { clientPort: 40_003, lastSeenNs: now - 11n * NS_PER_S, state: 'closing' },
      { clientPort: 40_004, lastSeenNs: now - 31n * NS_PER_S, proto: IPPROTO_UDP },
      { clientPort: 40_005, lastSeenNs: now - 29n * NS_PER_S, proto: IPPROTO_UDP },
      // A stamp a tick ahead of the daemon's clock: alive.
      { clientPort: 40_006, lastSeenNs: now + 1n, state: 'closing' },
    ];
    const live = [flows[1]!, flows[4]!, flows[5]!];
    writeFlows(from.flow, flows);
    writeReverseEntries(from.reverse, flows);

    const report = await mergeFlowTables(from, into, noWait, { liveAt: now });

    expect(report).toEqual({
      flowsAdded: 3,
      flowsUpdated: 0,
      reverseAdded: 3,
      dropped: 0,
      endedLeft: 3,
    });
    for (const flow of flows) {
      const alive = live.includes(flow);
      const copy = alive ? from.flow.lookup(flowKeyOf(flow)) : undefined;
      expect(into.flow.lookup(flowKeyOf(flow))).toEqual(copy);
      expect(into.reverse.lookup(reverseKeyOf(flow))).toEqual(alive ? flowKeyOf(flow) : undefined);
    }
  });

  test('with liveAt, every page keeps its live flows and only those', async () => {
    const count = 10_000;
    const from = tables(count);
    const into = tables(count / 2);
    const now = 1_000n * NS_PER_S;
    // Every other flow ended (a closing one 11 s idle), so each page is packed around holes.
    const flows: TestFlow[] = Array.from({ length: count }, (_, n) => ({
      clientPort: 1_024 + n,
      lastSeenNs: n % 2 === 0 ? now - NS_PER_S : now - 11n * NS_PER_S,
      state: n % 2 === 0 ? 'established' : 'closing',
    }));
    writeFlows(from.flow, flows);

    const report = await mergeFlowTables({ flow: from.flow, reverse: undefined }, into, noWait, {
      liveAt: now,
    });

    expect(report).toMatchObject({ flowsAdded: count / 2, endedLeft: count / 2, dropped: 0 });
    flows.forEach((flow, n) => {
      const copy = into.flow.lookup(flowKeyOf(flow));
      expect(copy).toEqual(n % 2 === 0 ? from.flow.lookup(flowKeyOf(flow)) : undefined);
    });
  });

  test('a second merge with liveAt counts as left behind only the ended flows stamped since the first', async () => {
    const from = tables(64);
    const into = tables(64);
    const firstMergeNs = 1_000n * NS_PER_S;
    const liveAt = firstMergeNs + 20n * NS_PER_S;
    const lastSeenNs = firstMergeNs - CHANGE_MARGIN_NS - 1n;
    const closedBefore: TestFlow = { clientPort: 40_001, lastSeenNs, state: 'closing' };
    const closedSince: TestFlow = {
      clientPort: 40_002,
      lastSeenNs: firstMergeNs + 1n,
      state: 'closing',
    };
    const madeSince: TestFlow = { clientPort: 40_003, lastSeenNs: firstMergeNs + 2n };
    writeFlows(from.flow, [closedBefore, closedSince, madeSince]);

    const report = await mergeFlowTables({ flow: from.flow, reverse: undefined }, into, noWait, {
      changedSince: firstMergeNs,
      liveAt,
    });

    expect(report).toEqual({
      flowsAdded: 1,
      flowsUpdated: 0,
      reverseAdded: 0,
      dropped: 0,
      endedLeft: 1,
    });
    expect(lastSeenOf(into.flow, madeSince)).toBe(madeSince.lastSeenNs);
    expect(into.flow.size).toBe(1);
  });

  test('old tables without a reverse index give their flows alone', async () => {
    const from = tables(64);
    const into = tables(64);
    writeFlows(from.flow, [{ clientPort: 40_001 }]);
    const report = await mergeFlowTables({ flow: from.flow, reverse: undefined }, into, noWait);
    expect(report).toEqual({
      flowsAdded: 1,
      flowsUpdated: 0,
      reverseAdded: 0,
      dropped: 0,
      endedLeft: 0,
    });
    expect(into.reverse.size).toBe(0);
  });

  test('a table larger than a page is walked in pages, with a turn of the event loop between', async () => {
    const count = 10_000;
    const from = tables(count);
    const into = tables(count);
    const flows: TestFlow[] = Array.from({ length: count }, (_, n) => ({
      client: `10.1.${n >> 8}.${n & 0xff}`,
      clientPort: 40_000,
    }));
    writeFlows(from.flow, flows);
    let turns = 0;
    const report = await mergeFlowTables(from, into, () => {
      turns++;
      return Promise.resolve();
    });
    expect(report.flowsAdded).toBe(count);
    expect(into.flow.size).toBe(count);
    expect(turns).toBeGreaterThanOrEqual(1);
  });
});
