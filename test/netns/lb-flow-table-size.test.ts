/**
 * The conntrack tables' size (--lb-flow-table-size), through the daemon's own start of the
 * Service LB on a real bpffs with the real object: a fresh pin dir gets the size asked for, in
 * both maps, and the capacity metric says it; a restart asking for another size makes new tables
 * of that size and moves the flows into them (src/lb/flow-table-resize.ts), through a crash too;
 * a size too small for every entry takes the live flows alone, and one too small for those is
 * refused, and the tables keep theirs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import { startServiceLb, type ServiceLb } from '../../src/daemon/service-lb.js';
import { loadObject, NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import type { MemoryHeadroom } from '../../src/dataplane/kernel/memory-cgroup.js';
import { oldFlowTablePins, RESIZE_DIR } from '../../src/lb/flow-table-resize.js';
import { lbMapsKernelBytes } from '../../src/lb/flow-table-size.js';
import { buildLbObject, LbPins } from '../support/bpf-lab.js';
import {
  flowKeyOf,
  reverseKeyOf,
  writeFlows,
  writeReverseEntries,
  type TestFlow,
} from '../support/flow-entries.js';
import { metricValue } from '../support/metric-value.js';
import { requireRoot } from '../support/netns.js';

requireRoot();

let object: string;
const pinDirs: LbPins[] = [];
const running: ServiceLb[] = [];

beforeAll(() => {
  object = buildLbObject();
});

afterEach(async () => {
  for (const lb of running.splice(0)) await lb.stop();
  for (const pins of pinDirs.splice(0)) pins.cleanup();
});

interface Started {
  lb: ServiceLb;
  registry: Registry;
  logged: Array<{ level: number; msg: string; [key: string]: unknown }>;
}

/**
 * terwayd's start of the Service LB, with no Service source and the collector off; `headroom` as
 * its memory cgroup would tell it (none: no limit).
 */
async function start(
  pins: LbPins,
  flowTableSize: number,
  headroom?: MemoryHeadroom,
): Promise<Started> {
  const logged: Started['logged'] = [];
  const registry = new Registry();
  const lb = await startServiceLb({
    pinDir: pins.dir,
    objectPath: object,
    flowTableSize,
    flowCollectIntervalMs: 0,
    syncWaitMs: 0,
    memoryHeadroom: () => headroom,
    registry,
    log: pino({ level: 'info' }, { write: (line: string) => logged.push(JSON.parse(line)) }),
  });
  running.push(lb);
  return { lb, registry, logged };
}

async function stop(lb: ServiceLb): Promise<void> {
  running.splice(running.indexOf(lb), 1);
  await lb.stop();
}

const WARN = 40;
const keptWarnings = (logged: Started['logged']) =>
  logged.filter((line) => line.level === WARN && line.msg.includes('--lb-flow-table-size'));
const said = (logged: Started['logged'], text: string) =>
  logged.filter((line) => line.msg.includes(text));

/**
 * A start that refused to resize: the tables kept `size` and their `flows` entries, its one
 * warning says why (`warning`'s fields), and no resize was left under way.
 */
function expectKept(
  started: Started,
  pins: LbPins,
  { size, flows, warning }: { size: number; flows: number; warning: Record<string, unknown> },
): void {
  expect(started.lb.maps.flow.maxEntries).toBe(size);
  expect(started.lb.maps.flow.dump().count).toBe(flows);
  expect(keptWarnings(started.logged)).toEqual([
    expect.objectContaining({ flowTableSize: size, ...warning }),
  ]);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(false);
}

/** A pin dir of the test's own, removed after it. */
function newPins(): LbPins {
  const pins = new LbPins();
  pinDirs.push(pins);
  return pins;
}

/** A pin dir whose tables a stopped terwayd left at `size`, holding `flows` and their reverse entries. */
async function tablesHolding(size: number, flows: readonly TestFlow[] = []): Promise<LbPins> {
  const pins = newPins();
  const first = await start(pins, size);
  writeFlows(first.lb.maps.flow, flows);
  writeReverseEntries(first.lb.maps.reverse, flows);
  await stop(first.lb);
  return pins;
}

/** Established flows, stamped now as a program stamps them (CLOCK_MONOTONIC at the last tick). */
const flowsAt = (ports: number[]): TestFlow[] => {
  const lastSeenNs = process.hrtime.bigint();
  return ports.map((clientPort) => ({ clientPort, lastSeenNs }));
};

test('a fresh pin dir gets the size asked for; a restart asking for another moves the flows into new tables of that size', async () => {
  const pins = newPins();

  const first = await start(pins, 65_536);
  expect(first.lb.maps.flow.maxEntries).toBe(65_536);
  expect(first.lb.maps.reverse.maxEntries).toBe(65_536);
  expect(await metricValue(first.registry, 'terway_lb_conntrack_capacity')).toBe(65_536);
  expect(keptWarnings(first.logged)).toEqual([]);
  expect(first.logged).toContainEqual(expect.objectContaining({ flowTableSize: 65_536 }));
  const established = flowsAt([40_001, 40_002]);
  writeFlows(first.lb.maps.flow, established);
  writeReverseEntries(first.lb.maps.reverse, established);
  await stop(first.lb);

  const resized = await start(pins, 131_072);
  expect(resized.lb.maps.flow.maxEntries).toBe(131_072);
  expect(resized.lb.maps.reverse.maxEntries).toBe(131_072);
  expect(await metricValue(resized.registry, 'terway_lb_conntrack_capacity')).toBe(131_072);
  expect(said(resized.logged, 'resizing the conntrack tables')).toEqual([
    expect.objectContaining({ flowTableSize: 65_536, requested: 131_072, entries: 2 }),
  ]);
  expect(said(resized.logged, 'conntrack entries merged into the new tables')).toEqual([
    expect.objectContaining({ flowsAdded: 2, reverseAdded: 2, dropped: 0 }),
  ]);
  for (const flow of established) {
    expect(resized.lb.maps.flow.lookup(flowKeyOf(flow))).toBeDefined();
    expect(resized.lb.maps.reverse.lookup(reverseKeyOf(flow))).toEqual(flowKeyOf(flow));
  }
  // Until the running pods run programs on the new tables, the old ones stay pinned aside, and
  // what their programs write meanwhile is merged once more.
  const old = oldFlowTablePins(pins.dir);
  const oldFlows = NativeBpfMap.openPinned(old.flow);
  // Stamped as a program stamps it: the programs' clock is CLOCK_MONOTONIC at the last tick.
  const lateFlow: TestFlow[] = [{ clientPort: 40_003, lastSeenNs: process.hrtime.bigint() }];
  try {
    expect(oldFlows.maxEntries).toBe(65_536);
    writeFlows(oldFlows, lateFlow);
  } finally {
    oldFlows.close();
  }
  await resized.lb.finishStart([]);
  expect(resized.lb.maps.flow.lookup(flowKeyOf(lateFlow[0]!))).toBeDefined();
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(false);
  expect(said(resized.logged, 'conntrack tables resized')).toEqual([
    expect.objectContaining({ flowTableSize: 131_072 }),
  ]);
  expect(keptWarnings(resized.logged)).toEqual([]);
}, 60_000);

test('a resize cut short (a crash before the pods moved) is taken up by the next start, at the size it was going to', async () => {
  const pins = await tablesHolding(32_768, flowsAt([40_001]));
  // Stopped before finishStart: the old tables are still pinned aside.
  const cut = await start(pins, 65_536);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(true);
  await stop(cut.lb);
  const oldFlows = NativeBpfMap.openPinned(oldFlowTablePins(pins.dir).flow);
  try {
    writeFlows(oldFlows, flowsAt([40_002]));
  } finally {
    oldFlows.close();
  }

  const resumed = await start(pins, 131_072);
  expect(resumed.lb.maps.flow.maxEntries).toBe(65_536);
  expect(said(resumed.logged, 'a conntrack table resize was under way')).toEqual([
    expect.objectContaining({ flowTableSize: 32_768 }),
  ]);
  expect(keptWarnings(resumed.logged)).toEqual([
    expect.objectContaining({ flowTableSize: 65_536, requested: 131_072 }),
  ]);
  await resumed.lb.finishStart([]);
  expect(resumed.lb.maps.flow.dump().count).toBe(2);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(false);
}, 60_000);

test('a pod left on the old tables keeps them pinned for the next start', async () => {
  const pins = await tablesHolding(32_768);
  const resized = await start(pins, 65_536);
  expect(await metricValue(resized.registry, 'terway_lb_conntrack_old_tables')).toBe(1);
  await resized.lb.finishStart(['default/stuck']);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(true);
  expect(await metricValue(resized.registry, 'terway_lb_conntrack_old_tables')).toBe(1);
  expect(
    resized.logged.filter((line) => line.level === WARN && line.msg.includes('old conntrack')),
  ).toEqual([expect.objectContaining({ pods: ['default/stuck'] })]);
  await stop(resized.lb);
  const next = await start(pins, 65_536);
  await next.lb.finishStart([]);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(false);
  expect(await metricValue(next.registry, 'terway_lb_conntrack_old_tables')).toBe(0);
}, 60_000);

test('a size with room for the live flows but not the ended ones takes the live ones and leaves the ended', async () => {
  const live = flowsAt([40_001, 40_002]);
  // Closed a minute ago: a closing flow lives 10 s.
  const endedNs = process.hrtime.bigint() - 60_000_000_000n;
  const ended: TestFlow[] = Array.from({ length: 20_000 }, (_, n) => ({
    clientPort: 20_000 + n,
    lastSeenNs: endedNs,
    state: 'closing',
  }));
  const pins = await tablesHolding(32_768, [...ended, ...live]);

  const shrunk = await start(pins, 16_384);
  expect(shrunk.lb.maps.flow.maxEntries).toBe(16_384);
  expect(said(shrunk.logged, 'take their live flows')).toEqual([
    expect.objectContaining({ flowTableSize: 32_768, requested: 16_384, entries: 20_002, live: 2 }),
  ]);
  expect(said(shrunk.logged, 'conntrack entries merged into the new tables')).toEqual([
    expect.objectContaining({ flowsAdded: 2, reverseAdded: 2, endedLeft: 20_000, dropped: 0 }),
  ]);
  expect(shrunk.lb.maps.flow.dump().count).toBe(2);
  expect(shrunk.lb.maps.reverse.dump().count).toBe(2);
  for (const flow of live) {
    expect(shrunk.lb.maps.reverse.lookup(reverseKeyOf(flow))).toEqual(flowKeyOf(flow));
  }
  await shrunk.lb.finishStart([]);
  expect(shrunk.lb.maps.flow.dump().count).toBe(2);
  expect(existsSync(join(pins.dir, RESIZE_DIR))).toBe(false);
  expect(keptWarnings(shrunk.logged)).toEqual([]);
}, 60_000);

test('a size too small for the live flows the tables hold is refused: they keep their size and flows', async () => {
  const many = Array.from({ length: 20_000 }, (_, n) => 20_000 + n);
  const pins = await tablesHolding(32_768, flowsAt(many));

  const refused = await start(pins, 16_384);
  expectKept(refused, pins, {
    size: 32_768,
    flows: 20_000,
    warning: { requested: 16_384, entries: 20_000, live: 20_000 },
  });

  // What a reboot does to bpffs, or an operator to a drained node's pin dir.
  await stop(refused.lb);
  for (const entry of readdirSync(pins.dir)) rmSync(join(pins.dir, entry), { recursive: true });
  const afterPinsGone = await start(pins, 16_384);
  expect(afterPinsGone.lb.maps.flow.maxEntries).toBe(16_384);
  expect(afterPinsGone.lb.maps.flow.dump().count).toBe(0);
}, 60_000);

const MiB = 1024 * 1024;
const limitedTo = (freeMiB: number): MemoryHeadroom => ({
  bytes: freeMiB * MiB,
  limitBytes: 256 * MiB,
  cgroup: '/sys/fs/cgroup/test',
});

test('the kernel memory a load is expected to take is what the kernel says its maps take', async () => {
  for (const size of [16_384, 65_536]) {
    const pins = await tablesHolding(size);
    let memlock = 0;
    for (const name of readdirSync(pins.dir).filter((entry) => entry.startsWith('tw_'))) {
      const shown = JSON.parse(
        execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', join(pins.dir, name)], {
          encoding: 'utf8',
        }),
      ) as { bytes_memlock: number };
      memlock += shown.bytes_memlock;
    }
    // Within 5%: another kernel may lay a hash map's entries out a little differently.
    expect(Math.abs(memlock - lbMapsKernelBytes(size))).toBeLessThan(memlock * 0.05);
  }
}, 60_000);

test('a first load whose maps the memory limit has no room for stops the start before creating any', async () => {
  const pins = newPins();
  await expect(start(pins, 1_048_576, limitedTo(193))).rejects.toMatchObject({
    code: 'INVALID_CONFIG',
    message: expect.stringContaining('need about 271 MiB of kernel memory'),
  });
  expect(readdirSync(pins.dir).filter((entry) => entry.startsWith('tw_'))).toEqual([]);
  // The default size fits the same limit.
  const fits = await start(pins, 262_144, limitedTo(193));
  expect(fits.lb.maps.flow.maxEntries).toBe(262_144);
}, 60_000);

test('a resize whose new tables the memory limit has no room for is refused: the tables keep their size and flows', async () => {
  const pins = await tablesHolding(32_768, flowsAt([40_001]));

  const refused = await start(pins, 1_048_576, limitedTo(150));
  expectKept(refused, pins, {
    size: 32_768,
    flows: 1,
    warning: { requested: 1_048_576, needMiB: 232, allowedMiB: 150 - 64 },
  });
}, 60_000);

test('the loader refuses a size for a map the object lacks, and a size of 0, loading nothing', () => {
  const pins = newPins();
  expect(() => loadObject(object, pins.dir, {}, { tw_nope_v1: 65_536 })).toThrow(
    /no map named tw_nope_v1 to size/,
  );
  expect(() => loadObject(object, pins.dir, {}, { tw_flow_v1: 0 })).toThrow(
    /size map tw_flow_v1 to 0 entries: EINVAL/,
  );
  expect(readdirSync(pins.dir).filter((entry) => entry !== 'progs')).toEqual([]);
});

test('the same size again is no change: nothing to warn about', async () => {
  const pins = await tablesHolding(32_768);
  const again = await start(pins, 32_768);
  expect(again.lb.maps.flow.maxEntries).toBe(32_768);
  expect(keptWarnings(again.logged)).toEqual([]);
}, 60_000);
