/**
 * The conntrack collector (src/lb/flow-collector.ts) against the datapath's own program,
 * tw_lb_collect, run through BPF_PROG_TEST_RUN on real pinned maps: ended flows go with their
 * moved-port entries and the reverse entries that lead to them; live flows stay, and so does a
 * reverse entry another flow has taken. The program judges each flow again when asked: a live one
 * is kept whatever the daemon names.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from '@jest/globals';

import { NativeBpfMap, NativeBpfProgram } from '../../src/dataplane/bpf/native-bpf.js';
import { ProgramEndedFlowReaper } from '../../src/lb/ended-flow-reaper.js';
import { FlowCollector } from '../../src/lb/flow-collector.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import {
  FLOW,
  FLOW_F_DIRECT,
  FLOW_F_PORT_MOVED,
  MOVED_PORT,
} from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { ipToInt } from '../../src/util/ipv4.js';
import {
  buildLbObject,
  FLOW_CLOSING,
  FLOW_ESTABLISHED,
  FLOW_NEW,
  FLOW_STREAM,
  flowKey,
  LB_OBJECT,
  LbPins,
  reverseKey,
  TCP,
  UDP,
  type FlowKey,
} from '../support/bpf-lab.js';
import { SILENT_LOG } from '../support/pool-fixture.js';
import { requireRoot } from '../support/netns.js';

requireRoot();

const S = 1_000_000_000n;
const CLIENT = '10.0.0.10';
const OTHER_CLIENT = '10.0.0.11';
const VIP = '10.96.0.10';
const VIP2 = '10.96.0.11';
const BACKEND = '10.0.0.20';

let pins: LbPins;
let maps: LbMaps;
let reaper: ProgramEndedFlowReaper;
let collect: NativeBpfProgram;

beforeAll(() => {
  buildLbObject();
  pins = new LbPins(LB_OBJECT);
  maps = openLbMaps(pins.dir, (path) => NativeBpfMap.openPinned(path));
  collect = NativeBpfProgram.openPinned(pins.prog('tw_lb_collect'));
  reaper = new ProgramEndedFlowReaper((frame) => collect.testRun(frame));
});

/** Each test starts from empty conntrack tables. */
beforeEach(() => {
  for (const map of [maps.flow, maps.reverse, maps.movedPorts]) {
    const dump = map.dump();
    if (dump.count > 0) map.deleteBatch(dump.keys, dump.count);
  }
});

afterAll(() => {
  collect?.close();
  if (maps !== undefined) closeLbMaps(maps);
  pins?.cleanup();
});

interface FlowSpec {
  key: FlowKey;
  state: number;
  /** How long before now its last packet was. */
  idleNs: bigint;
  /** The client port on the wire when moved. */
  movedTo?: number;
  direct?: boolean;
  /** Whose flow key the reverse entry of its 4-tuple leads to; its own when not given. */
  reverseOwner?: FlowKey;
}

const key = (
  clientAddr: string,
  clientPort: number,
  proto: number,
  frontendAddr = VIP,
): FlowKey => ({
  clientAddr,
  frontendAddr,
  clientPort,
  frontendPort: proto === TCP ? 80 : 53,
  proto,
});

/** Writes a flow as the egress program would have left it, with its reverse and moved entries. */
function writeFlow(spec: FlowSpec): void {
  const now = process.hrtime.bigint();
  const forward = flowKey(spec.key);
  const flags =
    (spec.movedTo === undefined ? 0 : FLOW_F_PORT_MOVED) | (spec.direct ? FLOW_F_DIRECT : 0);
  const value = encode(FLOW, {
    firstSeenNs: now - spec.idleNs - S,
    lastSeenNs: now - spec.idleNs,
    packets: 3n,
    bytes: 180n,
    nextHop: 0n,
    frontendId: spec.direct ? 0 : 7,
    backendId: spec.direct ? 0 : 3,
    backendAddr: ipToInt(BACKEND),
    backendPort: 8080,
    state: spec.state,
    flags,
  });
  maps.flow.updateBatch(forward, value, 1);
  if (spec.movedTo !== undefined) {
    maps.movedPorts.updateBatch(forward, encode(MOVED_PORT, { clientPort: spec.movedTo }), 1);
  }
  maps.reverse.updateBatch(reverseOf(spec), flowKey(spec.reverseOwner ?? spec.key), 1);
}

function reverseOf(spec: FlowSpec): Buffer {
  return reverseKey({
    clientAddr: spec.key.clientAddr,
    backendAddr: BACKEND,
    clientPort: spec.movedTo ?? spec.key.clientPort,
    backendPort: 8080,
    proto: spec.key.proto,
  });
}

/** The collector as terwayd wires it, on this test's maps, passing only when called. */
function collectorOnTheMaps(): FlowCollector {
  return new FlowCollector({ flows: maps.flow, reaper, logger: SILENT_LOG, intervalMs: 0 });
}

const has = (map: { lookup(key: Buffer): Buffer | undefined }, k: Buffer): boolean =>
  map.lookup(k) !== undefined;

test('a pass deletes the ended flows with their moved ports and the reverse entries leading to them; live flows and a reverse entry another flow took stay', async () => {
  const live: FlowSpec[] = [
    { key: key(CLIENT, 40000, TCP), state: FLOW_ESTABLISHED, idleNs: 0n },
    // 25 s of silence: within a UDP request's 30 s.
    { key: key(CLIENT, 40001, UDP), state: FLOW_ESTABLISHED, idleNs: 25n * S },
    // Holds the 4-tuple an ended flow to another frontend (same backend) left behind.
    { key: key(CLIENT, 40002, TCP, VIP2), state: FLOW_ESTABLISHED, idleNs: 0n },
    // A UDP stream silent for 45 s: within its 60 s.
    { key: key(CLIENT, 40008, UDP), state: FLOW_STREAM, idleNs: 45n * S },
  ];
  const ended: FlowSpec[] = [
    // Closing for 11 s: past its 10 s.
    { key: key(CLIENT, 40003, TCP), state: FLOW_CLOSING, idleNs: 11n * S },
    // A UDP request answered 31 s ago: past its 30 s.
    { key: key(CLIENT, 40004, UDP), state: FLOW_ESTABLISHED, idleNs: 31n * S },
    // Another client's datagram, never answered, 61 s ago.
    { key: key(OTHER_CLIENT, 40005, UDP), state: FLOW_NEW, idleNs: 61n * S },
    // A moved client port, and a direct connection's moved port.
    { key: key(CLIENT, 40006, TCP), state: FLOW_CLOSING, idleNs: 20n * S, movedTo: 61234 },
    {
      key: key(CLIENT, 40007, TCP, BACKEND),
      state: FLOW_CLOSING,
      idleNs: 20n * S,
      movedTo: 61235,
      direct: true,
    },
  ];
  // Its SYN went unanswered for 61 s; its 4-tuple was taken since by the live flow to VIP2.
  const endedTaken: FlowSpec = {
    key: key(CLIENT, 40002, TCP),
    state: FLOW_NEW,
    idleNs: 61n * S,
    reverseOwner: live[2]!.key,
  };
  for (const spec of [...live, ...ended]) writeFlow(spec);
  // Its 4-tuple on the wire is the live VIP2 flow's: the reverse entry leads to that flow.
  writeFlow(endedTaken);
  expect(maps.reverse.lookup(reverseOf(endedTaken))).toEqual(flowKey(live[2]!.key));

  const collector = collectorOnTheMaps();
  const report = await collector.collect();

  expect(report).toMatchObject({
    scanned: 10,
    live: 4,
    collected: { flows: 6, reverse: 5, moved: 2 },
    capacity: maps.flow.maxEntries,
  });
  for (const spec of live) {
    expect({ flow: spec.key, kept: has(maps.flow, flowKey(spec.key)) }).toEqual({
      flow: spec.key,
      kept: true,
    });
    expect(has(maps.reverse, reverseOf(spec))).toBe(true);
  }
  for (const spec of [...ended, endedTaken]) {
    expect({ flow: spec.key, kept: has(maps.flow, flowKey(spec.key)) }).toEqual({
      flow: spec.key,
      kept: false,
    });
  }
  for (const spec of ended) expect(has(maps.reverse, reverseOf(spec))).toBe(false);
  for (const spec of ended.filter((s) => s.movedTo !== undefined)) {
    expect(has(maps.movedPorts, flowKey(spec.key))).toBe(false);
  }
  // The taker's reverse entry survived the ended flow that once had the same 4-tuple.
  expect(maps.reverse.lookup(reverseOf(live[2]!))).toEqual(flowKey(live[2]!.key));

  // Nothing ended is left: a second pass deletes nothing.
  expect((await collector.collect()).collected).toEqual({ flows: 0, reverse: 0, moved: 0 });
});

test('the program judges each flow again: a live flow it is asked to delete is kept', () => {
  const spec: FlowSpec = { key: key(CLIENT, 41000, TCP), state: FLOW_ESTABLISHED, idleNs: 0n };
  writeFlow(spec);
  const absent = flowKey(key(CLIENT, 41001, TCP));
  const keys = Buffer.concat([flowKey(spec.key), absent]);

  expect(reaper.reap(keys, 2)).toEqual({ flows: 0, reverse: 0, moved: 0 });
  expect(has(maps.flow, flowKey(spec.key))).toBe(true);
  expect(has(maps.reverse, reverseOf(spec))).toBe(true);

  // The same flow once its lifetime has passed (a closing flow, 11 s ago) goes.
  writeFlow({ ...spec, state: FLOW_CLOSING, idleNs: 11n * S });
  expect(reaper.reap(keys, 2)).toEqual({ flows: 1, reverse: 1, moved: 0 });
  expect(has(maps.flow, flowKey(spec.key))).toBe(false);
});

test('a pass over more ended flows than one run takes deletes them all, batch by batch', async () => {
  const count = 3 * reaper.batch + 5;
  for (let index = 0; index < count; index++) {
    writeFlow({ key: key(OTHER_CLIENT, 20000 + index, UDP), state: FLOW_NEW, idleNs: 90n * S });
  }
  const collector = collectorOnTheMaps();

  const report = await collector.collect();

  expect(report.collected).toEqual({ flows: count, reverse: count, moved: 0 });
  expect(maps.flow.dump().count).toBe(0);
  expect(maps.reverse.dump().count).toBe(0);
});
