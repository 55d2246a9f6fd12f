/**
 * The conntrack tables' size (--lb-flow-table-size), through the daemon's own start of the
 * Service LB on a real bpffs with the real object: a fresh pin dir gets the size asked for, in
 * both maps, and the capacity metric says it; a restart asking for another size keeps the pinned
 * tables with the flows in them, and says so; once the pins are gone, the new size takes effect.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeAll, expect, test } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';

import { startServiceLb, type ServiceLb } from '../../src/daemon/service-lb.js';
import { loadObject } from '../../src/dataplane/bpf/native-bpf.js';
import { buildLbObject, LbPins } from '../support/bpf-lab.js';
import { writeFlows } from '../support/flow-entries.js';
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

/** terwayd's start of the Service LB, with no Service source and the collector off. */
async function start(pins: LbPins, flowTableSize: number): Promise<Started> {
  const logged: Started['logged'] = [];
  const registry = new Registry();
  const lb = await startServiceLb({
    pinDir: pins.dir,
    objectPath: object,
    flowTableSize,
    flowCollectIntervalMs: 0,
    syncWaitMs: 0,
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

test('a fresh pin dir gets the size asked for; a restart asking for another keeps the pinned tables and their flows, until the pins are gone', async () => {
  const pins = new LbPins();
  pinDirs.push(pins);

  const first = await start(pins, 65_536);
  expect(first.lb.maps.flow.maxEntries).toBe(65_536);
  expect(first.lb.maps.reverse.maxEntries).toBe(65_536);
  expect(await metricValue(first.registry, 'terway_lb_conntrack_capacity')).toBe(65_536);
  expect(keptWarnings(first.logged)).toEqual([]);
  expect(first.logged).toContainEqual(expect.objectContaining({ flowTableSize: 65_536 }));
  writeFlows(first.lb.maps.flow, [{ clientPort: 40_001 }, { clientPort: 40_002 }]);
  await stop(first.lb);

  const restarted = await start(pins, 131_072);
  expect(restarted.lb.maps.flow.maxEntries).toBe(65_536);
  expect(restarted.lb.maps.reverse.maxEntries).toBe(65_536);
  expect(await metricValue(restarted.registry, 'terway_lb_conntrack_capacity')).toBe(65_536);
  expect(restarted.lb.maps.flow.dump().count).toBe(2);
  expect(keptWarnings(restarted.logged)).toEqual([
    expect.objectContaining({ flowTableSize: 65_536, requested: 131_072, pinDir: pins.dir }),
  ]);
  await stop(restarted.lb);

  // What a reboot does to bpffs, or an operator to a drained node's pin dir.
  for (const entry of readdirSync(pins.dir)) rmSync(join(pins.dir, entry), { recursive: true });
  const afterPinsGone = await start(pins, 131_072);
  expect(afterPinsGone.lb.maps.flow.maxEntries).toBe(131_072);
  expect(afterPinsGone.lb.maps.reverse.maxEntries).toBe(131_072);
  expect(afterPinsGone.lb.maps.flow.dump().count).toBe(0);
  expect(keptWarnings(afterPinsGone.logged)).toEqual([]);
}, 60_000);

test('the loader refuses a size for a map the object lacks, and a size of 0, loading nothing', () => {
  const pins = new LbPins();
  pinDirs.push(pins);
  expect(() => loadObject(object, pins.dir, {}, { tw_nope_v1: 65_536 })).toThrow(
    /no map named tw_nope_v1 to size/,
  );
  expect(() => loadObject(object, pins.dir, {}, { tw_flow_v1: 0 })).toThrow(
    /size map tw_flow_v1 to 0 entries: EINVAL/,
  );
  expect(readdirSync(pins.dir).filter((entry) => entry !== 'progs')).toEqual([]);
});

test('the same size again is no change: nothing to warn about', async () => {
  const pins = new LbPins();
  pinDirs.push(pins);
  await stop((await start(pins, 32_768)).lb);
  const again = await start(pins, 32_768);
  expect(again.lb.maps.flow.maxEntries).toBe(32_768);
  expect(keptWarnings(again.logged)).toEqual([]);
}, 60_000);
