import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { BPF_ANY, type BpfUpdateFlags } from '../../src/dataplane/bpf/bpf-maps.js';
import {
  backendKeyOf,
  type BackendKey,
  type DesiredFrontend,
} from '../../src/lb/desired-frontend.js';
import { LbReconciler, type LbPassReport } from '../../src/lb/lb-reconciler.js';
import { readLbTable } from '../../src/lb/lb-table.js';
import {
  ARRAY_INDEX,
  COUNTERS,
  FRONTEND,
  FRONTEND_KEY,
  LB_LIMITS,
} from '../../src/lb/maps/lb-layouts.js';
import { readBackend } from '../../src/lb/maps/shared-array.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { intToIp } from '../../src/util/ipv4.js';
import { backends, frontend } from '../support/desired-frontends.js';
import { flowEntry } from '../support/lb-flows.js';
import { waitFor } from '../support/recording-sink.js';

const log = pino({ level: 'silent' });

function index(id: number): Buffer {
  return encode(ARRAY_INDEX, { index: id });
}

/** The frontends of Service default/<name> name it (as translation does); `frontend` says web. */
function ownedBy(name: string): Partial<DesiredFrontend> {
  return { service: { namespace: 'default', name, portName: 'http' } };
}

/** Frontend → backend ips, as the datapath would resolve them from the maps. */
function table(maps: ReturnType<typeof memoryLbMaps>): Record<string, string[]> {
  return Object.fromEntries(
    readLbTable(maps).map((row) => [
      `${row.frontend.ip}:${row.frontend.port}/${row.frontend.protocol}`,
      row.backends.map((backend) => backend.ip).sort(),
    ]),
  );
}

/** Every live entry of the backend array. */
function backendIps(maps: ReturnType<typeof memoryLbMaps>): string[] {
  const ips: string[] = [];
  for (let id = 1; id < 64; id++) {
    const backend = readBackend(maps.backend, id);
    if (backend) ips.push(intToIp(backend.addr));
  }
  return ips.sort();
}

type CounterMap = ReturnType<typeof memoryLbMaps>['backendStats'];

/** The packets an id's counters hold. */
function counted(map: CounterMap, id: number): bigint {
  return decode(COUNTERS, map.lookup(index(id))!).packets;
}

/** Traffic the program counted for an id. */
function count(map: CounterMap, id: number, packets: bigint): void {
  map.updateBatch(index(id), encode(COUNTERS, { packets, bytes: 1n, flows: 1n, rejected: 0n }), 1);
}

/**
 * A conntrack entry the program would have written for a flow to frontend `frontendId`, its last
 * packet `idleS` seconds before the reconcilers' clock. Each call makes a new client port.
 */
let clientPort = 40_000;
function liveFlow(
  maps: ReturnType<typeof memoryLbMaps>,
  frontendId: number,
  protocol: 'TCP' | 'UDP',
  state: 'new' | 'established' | 'closing',
  idleS = 1n,
): void {
  const { key, value } = flowEntry({
    frontendId,
    protocol,
    state,
    lastSeenNs: nowNs - idleS * 10n ** 9n,
    clientPort: clientPort++,
  });
  maps.flow.updateBatch(key, value, 1);
}

/**
 * A synced reconciler that programmed Service default/old (10.96.0.20 → 10.0.0.7), whose frontend
 * an established flow counts under (5 packets so far), and that was just told to delete it (the
 * pass is still to come).
 */
async function deletedUnderLiveFlow(maps: ReturnType<typeof memoryLbMaps>) {
  const lb = reconciler(maps);
  lb.markSynced();
  lb.replaceService('default/old', [frontend('10.96.0.20', backends('10.0.0.7'), ownedBy('old'))]);
  await lb.whenIdle();
  const old = readLbTable(maps)[0]!;
  liveFlow(maps, old.id, 'TCP', 'established');
  count(maps.frontendStats, old.id, 5n);
  lb.deleteService('default/old');
  return { lb, old };
}

/** Non-zero slot words: what a frontend's slot block still holds. */
function usedSlots(maps: ReturnType<typeof memoryLbMaps>): number {
  return maps.slot.words.subarray(0, 1024).filter((word) => word !== 0).length;
}

/**
 * The frontend hash's next `count` batch updates fail (EAGAIN); returns how many are still to
 * fail, which goes below 0 once a write after them has been let through.
 */
function failFrontendWrites(maps: ReturnType<typeof memoryLbMaps>, count: number): () => number {
  const hash = maps.frontend;
  const realUpdate = hash.updateBatch.bind(hash);
  let failures = count;
  hash.updateBatch = (keys: Buffer, values: Buffer, n: number, flags?: BpfUpdateFlags) => {
    if (failures-- > 0) throw new Error('injected: EAGAIN');
    return realUpdate(keys, values, n, flags ?? BPF_ANY);
  };
  return () => failures;
}

const running: LbReconciler[] = [];
/** The programs' clock (CLOCK_MONOTONIC, ns) as the reconcilers here read it. */
let nowNs = 10n ** 12n;

function reconciler(maps: ReturnType<typeof memoryLbMaps>, reports?: LbPassReport[]): LbReconciler {
  const created = new LbReconciler({
    maps,
    logger: log,
    initialRetryMs: 5,
    maxRetryMs: 20,
    parkedCheckMs: 10,
    monotonicNs: () => nowNs,
  });
  if (reports) created.onPass = (report) => reports.push(report);
  running.push(created);
  return created;
}

afterEach(() => {
  for (const each of running.splice(0)) each.stop();
});

/** A synced reconciler whose maps hold Service default/old (10.96.0.20 → 10.0.0.7). */
async function withOldService(maps: ReturnType<typeof memoryLbMaps>): Promise<LbReconciler> {
  const lb = reconciler(maps);
  lb.markSynced();
  lb.replaceService('default/old', [frontend('10.96.0.20', backends('10.0.0.7'), ownedBy('old'))]);
  await lb.whenIdle();
  return lb;
}

describe('LbReconciler', () => {
  test('a Service becomes a frontend whose slots name its ready backends', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3')),
      frontend('10.96.0.10', backends('10.0.0.4'), {
        address: { ip: '10.96.0.10', port: 53, protocol: 'UDP' },
      }),
    ]);
    lb.markSynced();
    await lb.whenIdle();
    expect(table(maps)).toEqual({
      '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.3'],
      '10.96.0.10:53/UDP': ['10.0.0.4'],
    });
  });

  test('changing one endpoint writes one slot and nothing else', async () => {
    const maps = memoryLbMaps();
    const reports: LbPassReport[] = [];
    const lb = reconciler(maps, reports);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    await lb.whenIdle();
    reports.length = 0;
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.9'))]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.9'] });
    expect(reports).toEqual([
      expect.objectContaining({
        frontends: 1,
        frontendsWritten: 0,
        slotsWritten: 1,
        slotsCleared: 0,
        backendsWritten: 1,
        backendsDeleted: 1,
      }),
    ]);
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.9']);
  });

  test('a draining backend leaves the slots but keeps its entry until it is gone', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    await lb.whenIdle();
    lb.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.2'), { draining: backends('10.0.0.3') }),
    ]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2'] });
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3']);
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    await lb.whenIdle();
    expect(backendIps(maps)).toEqual(['10.0.0.2']);
  });

  test('a new frontend: one slot per distinct ready backend, draining ones kept as entries', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3', '10.0.0.2'), {
        draining: backends('10.0.0.4'),
      }),
    ]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.3'] });
    expect(usedSlots(maps)).toBe(2);
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4']);
    // The draining backend is referenced: it goes only when the frontend stops listing it.
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    await lb.whenIdle();
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3']);
    // And a later change diffs against the slots the new frontend was given.
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.3'))]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.3'] });
    expect(usedSlots(maps)).toBe(1);
  });

  test('a Service scaled to zero keeps its frontend with no slots: the program rejects', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    await lb.whenIdle();
    lb.replaceService('default/web', [frontend('10.96.0.10', [])]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': [] });
    expect(usedSlots(maps)).toBe(0);
    lb.deleteService('default/web');
    await lb.whenIdle();
    expect(table(maps)).toEqual({});
    expect(backendIps(maps)).toEqual([]);
  });

  test('a backend shared by two Services keeps one id; it goes with the last one', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/a', [frontend('10.96.0.1', backends('10.0.0.2'), ownedBy('a'))]);
    lb.replaceService('default/b', [frontend('10.96.0.2', backends('10.0.0.2'), ownedBy('b'))]);
    await lb.whenIdle();
    const [a, b] = readLbTable(maps);
    expect(a!.backends[0]!.id).toBe(b!.backends[0]!.id);
    lb.deleteService('default/a');
    await lb.whenIdle();
    expect(backendIps(maps)).toEqual(['10.0.0.2']);
    lb.deleteService('default/b');
    await lb.whenIdle();
    expect(backendIps(maps)).toEqual([]);
  });

  test('a ClusterIP another Service has taken over survives the old Service going', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/old', [frontend('10.96.0.1', backends('10.0.0.2'), ownedBy('old'))]);
    await lb.whenIdle();
    lb.replaceService('default/new', [frontend('10.96.0.1', backends('10.0.0.3'), ownedBy('new'))]);
    lb.deleteService('default/old');
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.1:80/TCP': ['10.0.0.3'] });
    lb.deleteService('default/new');
    await lb.whenIdle();
    expect(table(maps)).toEqual({});
  });

  test('two Services listing one frontend: the one changed last is programmed, and the log says which two', async () => {
    const maps = memoryLbMaps();
    const logs: Record<string, unknown>[] = [];
    const lb = new LbReconciler({
      maps,
      logger: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) }),
    });
    running.push(lb);
    lb.markSynced();
    const web = [frontend('192.0.2.10', backends('10.0.0.2'), ownedBy('web'))];
    lb.replaceService('default/web', web);
    lb.replaceService('default/web', web); // a Service's own frontend again: no clash
    await lb.whenIdle();
    expect(logs.filter((line) => line['level'] === 40)).toEqual([]);
    lb.replaceService('default/clash', [
      frontend('192.0.2.10', backends('10.0.0.3'), ownedBy('clash')),
    ]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '192.0.2.10:80/TCP': ['10.0.0.3'] });
    expect(logs.filter((line) => line['level'] === 40)).toEqual([
      expect.objectContaining({
        frontend: '192.0.2.10:80/TCP',
        programmed: 'default/clash',
        alsoListedBy: 'default/web',
        msg: 'load balancer: two Services list the same frontend; the one listed or changed last is programmed',
      }),
    ]);
  });

  test('a frontend whose address is not IPv4 is refused before anything changes', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    expect(() =>
      lb.replaceService('default/web', [
        frontend('10.96.0.10', backends('10.0.0.2')),
        frontend('fd00::10', backends('10.0.0.3')),
      ]),
    ).toThrow(/not an IPv4 frontend: "fd00::10"/);
    await lb.whenIdle();
    expect(table(maps)).toEqual({});
    expect(backendIps(maps)).toEqual([]);
  });

  test('heldFrontends is what the last accepted replaceService gave; a refused one changes nothing', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    const first = [frontend('10.96.0.10', backends('10.0.0.2'))];
    lb.replaceService('default/web', first);
    expect(lb.heldFrontends.get('default/web')).toBe(first);
    expect(() =>
      lb.replaceService('default/web', [frontend('fd00::10', backends('10.0.0.3'))]),
    ).toThrow(/not an IPv4 frontend/);
    expect(lb.heldFrontends.get('default/web')).toBe(first);
    // A new set replaces the old one whole: the frontend it no longer lists goes from the maps.
    const second = [frontend('10.96.0.11', backends('10.0.0.4'))];
    lb.replaceService('default/web', second);
    expect(lb.heldFrontends.get('default/web')).toBe(second);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.11:80/TCP': ['10.0.0.4'] });
    lb.replaceService('default/web', []);
    expect(lb.heldFrontends.has('default/web')).toBe(false);
    lb.replaceService('default/api', [
      frontend('10.96.0.12', backends('10.0.0.5'), ownedBy('api')),
    ]);
    lb.deleteService('default/api');
    expect([...lb.heldFrontends.keys()]).toEqual([]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({});
  });

  test("a freed id's counters are reset before it is handed out again; a restore resets unused ids", async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    await lb.whenIdle();
    const [row] = readLbTable(maps);
    const backendId = row!.backends[0]!.id;
    // Traffic the program counted.
    count(maps.frontendStats, row!.id, 5n);
    count(maps.backendStats, backendId, 7n);
    lb.deleteService('default/web');
    await lb.whenIdle();
    expect(counted(maps.backendStats, backendId)).toBe(0n);
    // The frontend's id is parked first; with no flow left under it, the next check frees it.
    await waitFor('the parked id freed', () => lb.parkedFrontendIds === 0);
    expect(counted(maps.frontendStats, row!.id)).toBe(0n);

    lb.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3', '10.0.0.4')),
    ]);
    await lb.whenIdle();
    const ids = readLbTable(maps)[0]!.backends.map((backend) => backend.id);
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.4'))]);
    await lb.whenIdle();
    const [freed] = ids.filter((id) => !readLbTable(maps)[0]!.backends.some((b) => b.id === id));
    // Left behind by a daemon that stopped between clearing an entry and resetting its counters.
    count(maps.backendStats, freed!, 9n);
    const live = Math.max(...ids);
    count(maps.backendStats, live, 3n);
    reconciler(maps);
    expect(counted(maps.backendStats, freed!)).toBe(0n);
    expect(counted(maps.backendStats, live)).toBe(3n);
  });

  test('a restart resets the counters a stopped pass left above every live id', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    lb.replaceService('default/api', [
      frontend('10.96.0.11', backends('10.0.0.3'), ownedBy('api')),
    ]);
    await lb.whenIdle();
    const rowOf = (ip: string) => readLbTable(maps).find((row) => row.frontend.ip === ip)!;
    const web = rowOf('10.96.0.10');
    const api = rowOf('10.96.0.11');
    // default/api holds the highest ids of both kinds.
    expect(api.id).toBeGreaterThan(web.id);
    expect(api.backends[0]!.id).toBeGreaterThan(web.backends[0]!.id);
    // Entry 0 of each counter array: the highest id handed out so far, at least.
    expect(counted(maps.frontendStats, 0)).toBeGreaterThanOrEqual(BigInt(api.id));
    expect(counted(maps.backendStats, 0)).toBeGreaterThanOrEqual(BigInt(api.backends[0]!.id));
    count(maps.frontendStats, api.id, 5n);
    count(maps.backendStats, api.backends[0]!.id, 7n);
    count(maps.frontendStats, web.id, 11n);

    // The daemon stops in the pass that deletes default/api: after the entries went, before the
    // counters were reset (the resets are the writes that fail here, and the rebuild's too).
    const stopResets = (map: CounterMap) => {
      const write = map.updateBatch.bind(map);
      map.updateBatch = (keys, values, n, flags) => {
        if (decode(ARRAY_INDEX, keys).index !== 0) throw new Error('stopped');
        return write(keys, values, n, flags);
      };
      return () => (map.updateBatch = write);
    };
    const restoreWrites = [stopResets(maps.frontendStats), stopResets(maps.backendStats)];
    const before = lb.failedPasses;
    lb.deleteService('default/api');
    await waitFor('the failed pass', () => lb.failedPasses > before);
    lb.stop();
    for (const undo of restoreWrites) undo();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2'] });
    expect(counted(maps.frontendStats, api.id)).toBe(5n);

    // Both ids are above every live one now; the mark says they may have been handed out. The
    // backend's counters are reset at once. The frontend's id had flows: it is parked, counters
    // kept, until a walk of the flow map finds none of them live (the restart reads no flows).
    const restarted = reconciler(maps);
    expect(counted(maps.backendStats, api.backends[0]!.id)).toBe(0n);
    expect(restarted.parkedFrontendIds).toBe(1);
    await waitFor('the parked id freed', () => restarted.parkedFrontendIds === 0);
    expect(counted(maps.frontendStats, api.id)).toBe(0n);
    expect(counted(maps.frontendStats, web.id)).toBe(11n);
  });

  test("a deleted frontend's id stays parked while a live flow counts under it, across a restart", async () => {
    const maps = memoryLbMaps();
    const { lb, old } = await deletedUnderLiveFlow(maps);
    lb.replaceService('default/new', [
      frontend('10.96.0.30', backends('10.0.0.8'), ownedBy('new')),
    ]);
    await lb.whenIdle();
    // default/new gets another id, so the old flow's packets never show as its traffic.
    const created = readLbTable(maps)[0]!;
    expect(created.frontend.ip).toBe('10.96.0.30');
    expect(created.id).not.toBe(old.id);
    expect(lb.parkedFrontendIds).toBe(1);
    await sleep(30); // a few checks: the flow is alive, so the id stays parked, counters and all
    expect(lb.parkedFrontendIds).toBe(1);
    expect(counted(maps.frontendStats, old.id)).toBe(5n);

    // A restart finds the id from the flow map: unused, but a live flow counts under it.
    lb.stop();
    const restarted = reconciler(maps);
    expect(restarted.parkedFrontendIds).toBe(1);
    expect(counted(maps.frontendStats, old.id)).toBe(5n);
    restarted.markSynced();
    restarted.replaceService('default/new', [
      frontend('10.96.0.30', backends('10.0.0.8'), ownedBy('new')),
    ]);
    restarted.replaceService('default/more', [
      frontend('10.96.0.40', backends('10.0.0.9'), ownedBy('more')),
    ]);
    await restarted.whenIdle();
    const more = readLbTable(maps).find((row) => row.frontend.ip === '10.96.0.40')!;
    expect(more.id).not.toBe(old.id);

    // Six hours of silence end an established flow: the next check frees the id, counters zeroed.
    nowNs += 6n * 3600n * 10n ** 9n;
    await waitFor('the parked id freed', () => restarted.parkedFrontendIds === 0);
    expect(counted(maps.frontendStats, old.id)).toBe(0n);
    restarted.replaceService('default/last', [
      frontend('10.96.0.50', backends('10.0.0.10'), ownedBy('last')),
    ]);
    await restarted.whenIdle();
    expect(readLbTable(maps).find((row) => row.frontend.ip === '10.96.0.50')!.id).toBe(old.id);
  });

  test('when every other id is in use, the longest-parked one is taken back, counters zeroed', async () => {
    const maps = memoryLbMaps();
    const { lb, old } = await deletedUnderLiveFlow(maps);
    // Every other id (1..limit-1 but the parked one): frontends without backends, one slot each.
    const rest = LB_LIMITS.frontends - 2;
    lb.replaceService(
      'default/many',
      Array.from({ length: rest }, (_, i) =>
        frontend(intToIp(0x0b00_0000 + i), [], ownedBy('many')),
      ),
    );
    await lb.whenIdle();
    expect(lb.programmedFrontends).toBe(rest);
    expect(lb.parkedFrontendIds).toBe(1);
    expect(counted(maps.frontendStats, old.id)).toBe(5n);

    lb.replaceService('default/late', [
      frontend('10.96.0.30', backends('10.0.0.8'), ownedBy('late')),
    ]);
    await lb.whenIdle();
    expect(lb.blockedFrontends).toEqual([]);
    expect(lb.parkedFrontendIds).toBe(0);
    const late = maps.frontend.lookup(
      encode(FRONTEND_KEY, { addr: 0x0a60_001e, port: 80, proto: 6 }),
    );
    expect(decode(FRONTEND, late!).id).toBe(old.id);
    expect(counted(maps.frontendStats, old.id)).toBe(0n);
  });

  test('flows that have ended, or name no frontend, park nothing', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.2')),
      frontend('10.96.0.10', backends('10.0.0.2'), {
        address: { ip: '10.96.0.10', port: 80, protocol: 'UDP' },
      }),
    ]);
    await lb.whenIdle();
    const [tcp, udp] = readLbTable(maps).sort((a, b) =>
      a.frontend.protocol.localeCompare(b.frontend.protocol),
    );
    // Each flow's last packet is older than its state's lifetime (lb.c's flow_lifetime).
    liveFlow(maps, tcp!.id, 'TCP', 'closing', 11n);
    liveFlow(maps, udp!.id, 'UDP', 'established', 61n);
    lb.deleteService('default/web');
    await lb.whenIdle();
    await waitFor('both ids freed', () => lb.parkedFrontendIds === 0);
  });

  test('a restarted reconciler adopts the live maps and deletes only after the source synced', async () => {
    const maps = memoryLbMaps();
    const first = reconciler(maps);
    first.markSynced();
    first.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    first.replaceService('default/old', [
      frontend('10.96.0.20', backends('10.0.0.7'), ownedBy('old')),
    ]);
    await first.whenIdle();
    first.stop();
    const before = readLbTable(maps);

    const reports: LbPassReport[] = [];
    const second = reconciler(maps, reports);
    second.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.3', '10.0.0.2')),
    ]);
    await second.whenIdle();
    // Same frontend ids, same backend ids, nothing rewritten; the old Service is still there.
    expect(readLbTable(maps)).toEqual(before);
    expect(reports[0]).toEqual(
      expect.objectContaining({ frontendsWritten: 0, slotsWritten: 0, backendsWritten: 0 }),
    );
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.7']);
    second.markSynced();
    await second.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.3'] });
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  test('changes before the first pass land as their last state; after it, one change plans one frontend', async () => {
    const maps = memoryLbMaps();
    (await withOldService(maps)).stop();

    const reports: LbPassReport[] = [];
    const second = reconciler(maps, reports);
    // One turn of the event loop: the first pass has not run yet.
    second.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    second.replaceService('default/web', []);
    second.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.3'))]);
    second.replaceService('default/api', [
      frontend('10.96.0.30', backends('10.0.0.4'), ownedBy('api')),
    ]);
    second.deleteService('default/api');
    second.markSynced();
    await second.whenIdle();
    // The restored frontend nobody desires is gone; the re-added one has its last backends.
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.3'] });
    expect(backendIps(maps)).toEqual(['10.0.0.3']);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toEqual(
      expect.objectContaining({ frontends: 3, frontendsWritten: 1, frontendsDeleted: 1 }),
    );

    second.replaceService('default/web', [
      frontend('10.96.0.10', backends('10.0.0.3', '10.0.0.5')),
    ]);
    await second.whenIdle();
    expect(reports[1]).toEqual(expect.objectContaining({ frontends: 1, backendsWritten: 1 }));
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.3', '10.0.0.5'] });
  });

  test('a failed write is retried after rebuilding from the maps, and converges', async () => {
    const maps = memoryLbMaps();
    const failuresLeft = failFrontendWrites(maps, 2);
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    await lb.whenIdle();
    expect(lb.failure).toBeUndefined();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.3'] });
    expect(failuresLeft()).toBeLessThan(0);
  });

  test("whenFirstStateProgrammed waits for the source's complete state to be in the maps, failed passes included", async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    let programmed = false;
    void lb.whenFirstStateProgrammed().then(() => (programmed = true));
    // Before markSynced: a pass writes what was handed over, but the state is not complete.
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2'))]);
    await lb.whenIdle();
    await sleep(5);
    expect(programmed).toBe(false);
    // The first write after markSynced fails: the state is programmed once its retry is in.
    const failuresLeft = failFrontendWrites(maps, 1);
    lb.replaceService('default/dns', [frontend('10.96.0.53', backends('10.0.0.3'))]);
    lb.markSynced();
    await sleep(1);
    expect(lb.failedPasses).toBe(1);
    expect(programmed).toBe(false);
    await waitFor('the first state programmed', () => programmed);
    expect(failuresLeft()).toBeLessThan(0);
    expect(table(maps)).toEqual({
      '10.96.0.10:80/TCP': ['10.0.0.2'],
      '10.96.0.53:80/TCP': ['10.0.0.3'],
    });
    // Later calls resolve at once.
    await lb.whenFirstStateProgrammed();
  });

  test('whenFirstStateProgrammed lets its waiters go when the reconciler stops', async () => {
    const lb = reconciler(memoryLbMaps());
    const waiting = lb.whenFirstStateProgrammed();
    lb.stop();
    await waiting;
    await lb.whenFirstStateProgrammed();
  });

  test('a failed write whose rebuild fails too loses nothing: the retry reads the maps first', async () => {
    const maps = memoryLbMaps();
    const lb = await withOldService(maps);

    const hash = maps.frontend;
    const realUpdate = hash.updateBatch.bind(hash);
    const realDump = hash.dump.bind(hash);
    let writeFailures = 1;
    let readFailures = 2;
    hash.updateBatch = (keys: Buffer, values: Buffer, count: number, flags?: BpfUpdateFlags) => {
      if (writeFailures-- > 0) throw new Error('injected: EAGAIN on write');
      return realUpdate(keys, values, count, flags ?? BPF_ANY);
    };
    hash.dump = () => {
      if (readFailures-- > 0) throw new Error('injected: EIO on read');
      return realDump();
    };
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    lb.deleteService('default/old');
    await lb.whenIdle();
    expect(lb.failure).toBeUndefined();
    // The write failed, the rebuild after it and the first retry's read failed too.
    expect(readFailures).toBeLessThan(0);
    expect(lb.failedPasses).toBe(2);
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': ['10.0.0.2', '10.0.0.3'] });
    expect(backendIps(maps)).toEqual(['10.0.0.2', '10.0.0.3']);
  });

  test('a frontend that outgrows its slot block moves to a bigger one; the old one is cleared', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [frontend('10.96.0.10', backends('10.0.0.2', '10.0.0.3'))]);
    await lb.whenIdle();
    const grown = Array.from({ length: 9 }, (_, index) => `10.0.1.${index + 1}`);
    lb.replaceService('default/web', [frontend('10.96.0.10', backends(...grown))]);
    await lb.whenIdle();
    expect(table(maps)).toEqual({ '10.96.0.10:80/TCP': [...grown].sort() });
    expect(usedSlots(maps)).toBe(9);
    // The freed block is reused by the next frontend that fits in it.
    lb.replaceService('default/other', [frontend('10.96.0.11', backends('10.0.0.5'))]);
    await lb.whenIdle();
    expect(table(maps)['10.96.0.11:80/TCP']).toEqual(['10.0.0.5']);
    expect(usedSlots(maps)).toBe(10);
  });

  test('affinity and external flags reach the frontend entry', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    lb.replaceService('default/web', [
      frontend('192.0.2.10', backends('10.0.0.2'), { external: true, affinityTimeoutSeconds: 30 }),
    ]);
    await lb.whenIdle();
    expect(readLbTable(maps)).toEqual([
      expect.objectContaining({ external: true, affinityTimeoutSeconds: 30 }),
    ]);
  });
});

describe('LbReconciler when the maps are full', () => {
  /** Frontend address → its live backend count, from the frontend hash alone (no slot walk). */
  const frontendCounts = (maps: ReturnType<typeof memoryLbMaps>): Record<string, number> => {
    const dump = maps.frontend.dump();
    const counts: Record<string, number> = {};
    for (let index = 0; index < dump.count; index++) {
      const key = decode(FRONTEND_KEY, dump.keys, index * FRONTEND_KEY.size);
      const value = decode(FRONTEND, dump.values, index * FRONTEND.size);
      counts[intToIp(key.addr)] = value.backendCount;
    }
    return counts;
  };

  /** `count` distinct backends on port 8080, from 10.0.0.1 up. */
  const many = (count: number): BackendKey[] =>
    Array.from({ length: count }, (_, index) =>
      backendKeyOf({ ip: intToIp(0x0a00_0001 + index), port: 8080 }),
    );

  test('a Service the slot array has no room for costs only itself, and goes in once room frees up', async () => {
    const maps = memoryLbMaps();
    const reports: LbPassReport[] = [];
    const lb = reconciler(maps, reports);
    // Four Services of 200,000 shared backends need four blocks of 262,144 slots: one more than
    // the 1,048,576-slot array holds beside slot 0.
    const shared = many(200_000);
    for (const index of [0, 1, 2, 3]) {
      lb.replaceService(`default/big${index}`, [
        frontend(`10.96.1.${index}`, shared, ownedBy(`big${index}`)),
      ]);
    }
    lb.replaceService('default/small', [
      frontend('10.96.2.1', backends('10.200.0.1'), ownedBy('small')),
    ]);
    lb.markSynced();
    await lb.whenIdle();

    expect(lb.failure).toBeUndefined();
    expect(lb.blockedFrontends).toEqual([
      {
        frontend: '10.96.1.3:80/TCP',
        service: 'default/big3',
        reason: 'the slot array has no free block of 262144 slots for 200000 ready backends',
      },
    ]);
    expect(frontendCounts(maps)).toEqual({
      '10.96.1.0': 200_000,
      '10.96.1.1': 200_000,
      '10.96.1.2': 200_000,
      '10.96.2.1': 1,
    });
    expect(reports.at(-1)).toMatchObject({ frontendsBlocked: 1 });

    // Unrelated changes still go in while big3 waits.
    const passesBefore = reports.length;
    lb.replaceService('default/small', [
      frontend('10.96.2.1', backends('10.200.0.2'), ownedBy('small')),
    ]);
    await lb.whenIdle();
    expect(reports.slice(passesBefore)).toEqual([
      expect.objectContaining({
        frontends: 1,
        backendsWritten: 1,
        backendsDeleted: 1,
        slotsWritten: 1,
        frontendsBlocked: 0,
      }),
      // The deleted backend gave an id back, so big3 was tried again: still no block for it.
      expect.objectContaining({ frontends: 1, frontendsBlocked: 1, frontendsWritten: 0 }),
    ]);

    // big0 goes: its block is given back, and big3 takes it in the pass after.
    lb.deleteService('default/big0');
    await lb.whenIdle();
    expect(lb.blockedFrontends).toEqual([]);
    expect(frontendCounts(maps)).toEqual({
      '10.96.1.1': 200_000,
      '10.96.1.2': 200_000,
      '10.96.1.3': 200_000,
      '10.96.2.1': 1,
    });
  }, 60_000);

  test('a Service with more new backends than free ids waits; one that reuses known backends does not', async () => {
    const maps = memoryLbMaps();
    const lb = reconciler(maps);
    lb.markSynced();
    // Every backend id (1..262,143) taken by one Service.
    const everyId = many(262_143);
    lb.replaceService('default/huge', [frontend('10.96.1.1', everyId, ownedBy('huge'))]);
    await lb.whenIdle();
    expect(lb.blockedFrontends).toEqual([]);

    lb.replaceService('default/fresh', [
      frontend('10.96.1.2', backends('10.200.0.1'), ownedBy('fresh')),
    ]);
    lb.replaceService('default/reuse', [
      frontend('10.96.1.3', everyId.slice(0, 3), ownedBy('reuse')),
    ]);
    await lb.whenIdle();
    expect(lb.failure).toBeUndefined();
    expect(lb.blockedFrontends).toEqual([
      {
        frontend: '10.96.1.2:80/TCP',
        service: 'default/fresh',
        reason: '1 backends are new and only 0 backend ids are free',
      },
    ]);
    expect(table(maps)['10.96.1.3:80/TCP']).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    expect(table(maps)['10.96.1.2:80/TCP']).toBeUndefined();

    // huge shrinks: the backends only it held are deleted, and fresh gets an id.
    lb.replaceService('default/huge', [
      frontend('10.96.1.1', everyId.slice(0, 10), ownedBy('huge')),
    ]);
    await lb.whenIdle();
    expect(lb.blockedFrontends).toEqual([]);
    expect(table(maps)['10.96.1.2:80/TCP']).toEqual(['10.200.0.1']);
  }, 60_000);
});
