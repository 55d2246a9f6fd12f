/**
 * The conntrack collector's choice and rhythm (src/lb/flow-collector.ts), on the LB's maps in
 * memory with the in-memory reaper (tw_lb_collect's rules; the program itself is checked against
 * real maps in test/netns/lb-flow-collector.test.ts).
 */
import { describe, expect, test } from '@jest/globals';
import pino from 'pino';
import { Registry } from 'prom-client';

import { MemoryBpfMap } from '../../src/dataplane/bpf/memory-bpf-map.js';
import type { EndedFlowReaper } from '../../src/lb/ended-flow-reaper.js';
import { unpackReaped } from '../../src/lb/ended-flow-reaper.js';
import { FlowCollector, type FlowCollectionReport } from '../../src/lb/flow-collector.js';
import { FLOW_LIFETIME_NS } from '../../src/lb/flow-liveness.js';
import { MapCallsEndedFlowReaper } from '../../src/lb/map-calls-ended-flow-reaper.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import {
  FLOW,
  FLOW_F_PORT_MOVED,
  FLOW_KEY,
  FLOW_STATES,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MOVED_PORT,
  REVERSE_KEY,
} from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { registerConntrackMetrics } from '../../src/observe/lb-metrics.js';
import { ipToInt } from '../../src/util/ipv4.js';

const NOW = 1_000_000n * 1_000_000_000n;
const S = 1_000_000_000n;
const ESTABLISHED = FLOW_STATES.indexOf('established');
const CLOSING = FLOW_STATES.indexOf('closing');

function forwardKey(clientPort: number, proto = IPPROTO_TCP): Buffer {
  return encode(FLOW_KEY, {
    clientAddr: ipToInt('10.0.0.10'),
    frontendAddr: ipToInt('10.96.0.10'),
    clientPort,
    frontendPort: 80,
    proto,
  });
}

function reverseKeyOf(wirePort: number, proto = IPPROTO_TCP): Buffer {
  return encode(REVERSE_KEY, {
    clientAddr: ipToInt('10.0.0.10'),
    backendAddr: ipToInt('10.0.0.20'),
    clientPort: wirePort,
    backendPort: 8080,
    proto,
  });
}

interface Seeded {
  clientPort: number;
  proto?: number;
  state: number;
  idleNs: bigint;
  movedTo?: number;
}

function seed(maps: ReturnType<typeof memoryLbMaps>, flows: Seeded[]): void {
  for (const flow of flows) {
    const key = forwardKey(flow.clientPort, flow.proto);
    maps.flow.updateBatch(
      key,
      encode(FLOW, {
        firstSeenNs: NOW - flow.idleNs,
        lastSeenNs: NOW - flow.idleNs,
        packets: 1n,
        bytes: 60n,
        nextHop: 0n,
        frontendId: 1,
        backendId: 1,
        backendAddr: ipToInt('10.0.0.20'),
        backendPort: 8080,
        state: flow.state,
        flags: flow.movedTo === undefined ? 0 : FLOW_F_PORT_MOVED,
      }),
      1,
    );
    if (flow.movedTo !== undefined) {
      maps.movedPorts.updateBatch(key, encode(MOVED_PORT, { clientPort: flow.movedTo }), 1);
    }
    maps.reverse.updateBatch(reverseKeyOf(flow.movedTo ?? flow.clientPort, flow.proto), key, 1);
  }
}

interface LogRecord {
  level: number;
  msg: string;
  err?: { message: string };
}

const WARN = 40;

function capturingLogger(): { logger: pino.Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => records.push(JSON.parse(line) as LogRecord) },
  );
  return { logger, records };
}

function collectorOver(
  maps: ReturnType<typeof memoryLbMaps>,
  options: {
    reaper?: EndedFlowReaper;
    intervalMs?: number;
    flowsMade?: () => number;
    fillCheckMs?: number;
    pageEntries?: number;
  } = {},
) {
  const logger = capturingLogger();
  const reaper = new MapCallsEndedFlowReaper(maps, () => NOW);
  const reports: FlowCollectionReport[] = [];
  const collector = new FlowCollector({
    flows: maps.flow,
    reaper: options.reaper ?? reaper,
    monotonicNs: () => NOW,
    intervalMs: options.intervalMs ?? 0,
    flowsMade: options.flowsMade,
    fillCheckMs: options.fillCheckMs,
    pageEntries: options.pageEntries,
    logger: logger.logger,
    onPass: (report) => reports.push(report),
  });
  return { collector, reaper, logger, reports };
}

/** The LB's maps in memory with a flow table of `maxEntries`, for tests of a table filling up. */
function mapsWithFlowTable(maxEntries: number): ReturnType<typeof memoryLbMaps> {
  const flow = new MemoryBpfMap({
    name: 'tw_flow_v1',
    type: 'lru_hash',
    keySize: FLOW_KEY.size,
    valueSize: FLOW.size,
    maxEntries,
  });
  return { ...memoryLbMaps(), flow };
}

/** `count` live (just active, established) TCP flows, from client port `from` up. */
function liveFlows(from: number, count: number): Seeded[] {
  return Array.from({ length: count }, (_, i) => ({
    clientPort: from + i,
    state: ESTABLISHED,
    idleNs: 0n,
  }));
}

describe('a pass', () => {
  test("deletes exactly the flows ended by the programs' lifetimes, with their moved ports and reverse entries", async () => {
    const maps = memoryLbMaps();
    seed(maps, [
      { clientPort: 1, state: ESTABLISHED, idleNs: FLOW_LIFETIME_NS.tcpEstablished - S },
      { clientPort: 2, state: CLOSING, idleNs: FLOW_LIFETIME_NS.tcpClosing - S },
      { clientPort: 3, proto: IPPROTO_UDP, state: ESTABLISHED, idleNs: FLOW_LIFETIME_NS.udp - S },
      { clientPort: 4, state: CLOSING, idleNs: FLOW_LIFETIME_NS.tcpClosing },
      { clientPort: 5, proto: IPPROTO_UDP, state: ESTABLISHED, idleNs: FLOW_LIFETIME_NS.udp + S },
      { clientPort: 6, state: CLOSING, idleNs: 60n * S, movedTo: 61_001 },
      // A stamp a tick ahead of the daemon's clock (the programs' coarse clock): alive.
      { clientPort: 7, state: CLOSING, idleNs: -S / 100n },
    ]);
    const { collector, reaper } = collectorOver(maps);

    const report = await collector.collect();

    expect(report).toMatchObject({
      scanned: 7,
      live: 4,
      collected: { flows: 3, reverse: 3, moved: 1 },
      capacity: maps.flow.maxEntries,
    });
    const kept = [1, 2, 3, 7].map((port) =>
      forwardKey(port, port === 3 ? IPPROTO_UDP : IPPROTO_TCP),
    );
    for (const key of kept) expect(maps.flow.lookup(key)).toBeDefined();
    expect(maps.flow.dump().count).toBe(4);
    expect(maps.reverse.dump().count).toBe(4);
    expect(maps.movedPorts.dump().count).toBe(0);
    // Only the ended ones were asked for.
    expect(reaper.asked.map((key) => key.readUInt16BE(8)).sort()).toEqual([4, 5, 6]);
  });

  test('hands the reaper batches no larger than it takes', async () => {
    const maps = memoryLbMaps();
    const ended = Array.from({ length: 150 }, (_, index) => ({
      clientPort: 10_000 + index,
      state: CLOSING,
      idleNs: 60n * S,
    }));
    seed(maps, ended);
    const memory = new MapCallsEndedFlowReaper(maps, () => NOW);
    const sizes: number[] = [];
    const reaper: EndedFlowReaper = {
      batch: 64,
      reap: (keys, count) => {
        sizes.push(count);
        expect(keys.length).toBe(count * FLOW_KEY.size);
        return memory.reap(keys, count);
      },
    };
    const { collector } = collectorOver(maps, { reaper });

    const report = await collector.collect();

    expect(sizes).toEqual([64, 64, 22]);
    expect(report.collected.flows).toBe(150);
    expect(maps.flow.dump().count).toBe(0);
  });

  test("walks the table in pages, deleting each page's ended flows before reading the next", async () => {
    const maps = memoryLbMaps();
    const flows = Array.from({ length: 25 }, (_, index) => ({
      clientPort: 20_000 + index,
      state: index % 5 === 0 ? ESTABLISHED : CLOSING,
      idleNs: index % 5 === 0 ? 0n : 60n * S,
    }));
    seed(maps, flows);
    const pages: number[] = [];
    const walk = maps.flow.dumpPageAsync.bind(maps.flow);
    maps.flow.dumpPageAsync = async (cursor, pageEntries) => {
      const page = await walk(cursor, pageEntries);
      // What earlier pages ended is gone by the time the next page is read.
      pages.push(page.count);
      expect(maps.flow.dump().count).toBe(25 - (pages.length - 1) * 8);
      return page;
    };
    const { collector } = collectorOver(maps, { pageEntries: 10 });

    const report = await collector.collect();

    expect(pages).toEqual([10, 10, 5]);
    expect(report).toMatchObject({ scanned: 25, live: 5, collected: { flows: 20, reverse: 20 } });
    expect(maps.flow.dump().count).toBe(5);
  });

  test('keeps a flow that came back to life between the dump and the reaper', async () => {
    const maps = memoryLbMaps();
    seed(maps, [{ clientPort: 1, state: CLOSING, idleNs: 60n * S }]);
    const memory = new MapCallsEndedFlowReaper(maps, () => NOW);
    const reaper: EndedFlowReaper = {
      batch: 64,
      reap: (keys, count) => {
        // A SYN restarted the entry in place meanwhile.
        seed(maps, [{ clientPort: 1, state: ESTABLISHED, idleNs: 0n }]);
        return memory.reap(keys, count);
      },
    };
    const { collector } = collectorOver(maps, { reaper });

    const report = await collector.collect();

    expect(report.collected).toEqual({ flows: 0, reverse: 0, moved: 0 });
    expect(maps.flow.lookup(forwardKey(1))).toBeDefined();
    expect(maps.reverse.lookup(reverseKeyOf(1))).toEqual(forwardKey(1));
  });

  test('warns once when live flows fill 80% of the table, again only after it drained', async () => {
    const maps = mapsWithFlowTable(10);
    seed(maps, liveFlows(1, 8));
    const { collector, logger } = collectorOver(maps);
    const warnings = () => logger.records.filter((r) => r.level === WARN).map((r) => r.msg);

    await collector.collect();
    await collector.collect();
    expect(warnings()).toEqual([
      'the conntrack table is over 80% live flows: new flows will soon evict live ones',
    ]);
    maps.flow.deleteBatch(forwardKey(8), 1);
    await collector.collect();
    seed(maps, [{ clientPort: 8, state: ESTABLISHED, idleNs: 0n }]);
    await collector.collect();
    expect(warnings()).toHaveLength(2);
  });
});

describe('the timer', () => {
  test('runs a pass every interval and reports each; a failing pass is logged and the next one runs', async () => {
    const maps = memoryLbMaps();
    seed(maps, [{ clientPort: 1, state: CLOSING, idleNs: 60n * S }]);
    let calls = 0;
    const memory = new MapCallsEndedFlowReaper(maps, () => NOW);
    const reaper: EndedFlowReaper = {
      batch: 64,
      reap: (keys, count) => {
        calls++;
        if (calls === 1) throw new Error('program gone');
        return memory.reap(keys, count);
      },
    };
    const { collector, logger, reports } = collectorOver(maps, { reaper, intervalMs: 5 });

    collector.start();
    await waitFor(() => reports.length >= 1);
    collector.stop();
    await collector.whenIdle();

    expect(logger.records.find((r) => r.msg === 'conntrack collection failed')).toMatchObject({
      level: WARN,
      err: { message: 'program gone' },
    });
    expect(reports[0]!.collected.flows).toBe(1);
    expect(maps.flow.dump().count).toBe(0);
  });

  test('runs a pass before the interval once the flows the programs made since the last one would take half the room it left', async () => {
    const maps = mapsWithFlowTable(10_000);
    let made = 0;
    const {
      collector,
      logger: log,
      reports,
    } = collectorOver(maps, {
      intervalMs: 60_000,
      flowsMade: () => made,
      fillCheckMs: 5,
    });
    seed(maps, liveFlows(1, 2_000));
    made = 2_000;
    // The first pass, by hand: it leaves 2,000 entries, so 4,000 more are half the room.
    expect(await collector.collect()).toMatchObject({ scanned: 2_000, trigger: 'manual' });
    collector.start();
    seed(maps, liveFlows(3_000, 3_999));
    made += 3_999;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reports).toEqual([]);
    // One more: the 60 s interval is far off, but the table is filling up.
    seed(maps, liveFlows(7_000, 1));
    made += 1;
    await waitFor(() => reports.length >= 1);
    expect(reports[0]).toMatchObject({ trigger: 'filling', scanned: 6_000 });
    // Nothing made since: no pass until the interval.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reports).toHaveLength(1);
    collector.stop();
    await collector.whenIdle();
    expect(log.records.filter((r) => r.level === 30).map((r) => r.msg)).toEqual([
      'conntrack collector: new flows would fill the table before the interval is up; collecting sooner',
    ]);
  });

  test('before its first pass it takes the table as empty: half a table of new flows brings that pass', async () => {
    const maps = mapsWithFlowTable(1_000);
    let made = 7_000; // made before this daemon started: not new
    const { collector, reports } = collectorOver(maps, {
      intervalMs: 60_000,
      flowsMade: () => made,
      fillCheckMs: 5,
    });
    collector.start();
    made += 499;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(reports).toEqual([]);
    made += 1;
    await waitFor(() => reports.length >= 1);
    collector.stop();
    await collector.whenIdle();
    expect(reports[0]!.trigger).toBe('filling');
  });

  test('counters it cannot read leave the interval in charge, with one warning', async () => {
    const maps = memoryLbMaps();
    seed(maps, [{ clientPort: 1, state: CLOSING, idleNs: 60n * S }]);
    const {
      collector,
      logger: log,
      reports,
    } = collectorOver(maps, {
      intervalMs: 60,
      flowsMade: () => {
        throw new Error('map gone');
      },
      fillCheckMs: 5,
    });
    collector.start();
    await waitFor(() => reports.length >= 2);
    collector.stop();
    await collector.whenIdle();
    expect(reports.map((r) => r.trigger)).toEqual(['interval', 'interval']);
    expect(reports[0]!.collected.flows).toBe(1);
    expect(log.records.filter((r) => r.level === WARN).map((r) => r.msg)).toEqual([
      "conntrack collector: cannot read the programs' flow counters; passes come at the interval only",
    ]);
  });

  test('an interval of 0 runs no pass', async () => {
    const maps = memoryLbMaps();
    seed(maps, [{ clientPort: 1, state: CLOSING, idleNs: 60n * S }]);
    const { collector, reports } = collectorOver(maps, { intervalMs: 0 });

    collector.start();
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect(reports).toEqual([]);
    expect(maps.flow.dump().count).toBe(1);
  });
});

test("tw_lb_collect's return value unpacks into flows, reverse entries and moved ports", () => {
  expect(unpackReaped(0x02_05_07)).toEqual({ flows: 7, reverse: 5, moved: 2 });
  expect(unpackReaped(0)).toEqual({ flows: 0, reverse: 0, moved: 0 });
});

test('the conntrack metrics show the last pass and count what was collected', async () => {
  const registry = new Registry();
  const observe = registerConntrackMetrics(registry, 100);
  expect(await registry.metrics()).toContain('terway_lb_conntrack_capacity 100');
  observe({
    scanned: 10,
    live: 7,
    collected: { flows: 3, reverse: 2, moved: 1 },
    trigger: 'interval',
  });
  observe({
    scanned: 8,
    live: 8,
    collected: { flows: 0, reverse: 0, moved: 0 },
    trigger: 'filling',
  });

  const text = await registry.metrics();

  expect(text).toContain('terway_lb_conntrack_entries{state="live"} 8');
  expect(text).toContain('terway_lb_conntrack_entries{state="ended"} 0');
  expect(text).toContain('terway_lb_conntrack_capacity 100');
  expect(text).toContain('terway_lb_conntrack_collected_total{table="flow"} 3');
  expect(text).toContain('terway_lb_conntrack_collected_total{table="reverse"} 2');
  expect(text).toContain('terway_lb_conntrack_collected_total{table="moved"} 1');
  expect(text).toContain('terway_lb_conntrack_passes_total{trigger="interval"} 1');
  expect(text).toContain('terway_lb_conntrack_passes_total{trigger="filling"} 1');
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let tries = 0; tries < 200 && !condition(); tries++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!condition()) throw new Error('condition not met in 1 s');
}
