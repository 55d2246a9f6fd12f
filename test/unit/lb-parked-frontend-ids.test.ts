import { afterEach, describe, expect, jest, test } from '@jest/globals';
import pino from 'pino';

import type { LbMaps } from '../../src/lb/lb-maps.js';
import { readCounterEntry, readFlowCounts } from '../../src/lb/maps/counter-resets.js';
import { ARRAY_INDEX, COUNTERS } from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { ParkedIdRelease } from '../../src/lb/parked-frontend-ids.js';
import { ProgrammedState } from '../../src/lb/programmed-state.js';
import { flowEntry } from '../support/lb-flows.js';

const NOW = 10n ** 12n;

afterEach(() => {
  jest.useRealTimers();
});

/**
 * A release over fresh in-memory maps, on fake timers from 0, with the times the flow map is
 * walked. `duringWalk`, when set, runs once a walk's last page is read and before the check uses it:
 * what a pass does while the walk is off the event loop.
 */
function releaseHarness(timing: { checkMs: number; graceMs: number; clockNs: bigint }) {
  jest.useFakeTimers({ now: 0 });
  const maps = memoryLbMaps();
  const state = ProgrammedState.fromMaps(maps);
  const release = new ParkedIdRelease({
    maps,
    logger: pino({ level: 'silent' }),
    currentState: () => state,
    checkMs: timing.checkMs,
    graceMs: timing.graceMs,
    monotonicNs: () => timing.clockNs,
  });
  const setUp = {
    maps,
    state,
    release,
    walks: [] as number[],
    duringWalk: undefined as (() => void) | undefined,
    /** How long a walk's dump takes (timers fire meanwhile); 0: a microtask. */
    walkMs: 0,
  };
  const dumpPageAsync = maps.flow.dumpPageAsync.bind(maps.flow);
  maps.flow.dumpPageAsync = async (cursor, pageEntries) => {
    if (cursor === undefined) setUp.walks.push(Date.now());
    const page = await dumpPageAsync(cursor, pageEntries);
    if (setUp.walkMs > 0) await new Promise((resolve) => setTimeout(resolve, setUp.walkMs));
    if (page.next === undefined) setUp.duringWalk?.();
    return page;
  };
  return setUp;
}

/**
 * One parked frontend id that a connection keeps live (its flow's stamp is always ahead of the
 * clock read here), checked first after 10 ms.
 */
function heldParkedId() {
  const setUp = releaseHarness({ checkMs: 10, graceMs: 5, clockNs: NOW - 1n });
  const { maps, state } = setUp;
  const held = state.frontendIds.allocate();
  state.parkedFrontendIds.add(held);
  const flow = flowEntry({
    frontendId: held,
    protocol: 'TCP',
    state: 'established',
    lastSeenNs: NOW,
    clientPort: 40_000,
  });
  maps.flow.updateBatch(flow.key, flow.value, 1);
  setCounters(maps, held, 1n); // the program counted the flow it created
  // The same object: tests set duringWalk and walkMs on it.
  return Object.assign(setUp, { held });
}

describe('ParkedIdRelease', () => {
  test('a check that frees nothing doubles the wait, up to ten times the first; a freeing one resets it', async () => {
    const { maps, state, held, release, walks } = heldParkedId();
    release.schedule();
    await jest.advanceTimersByTimeAsync(10 + 20 + 40 + 80 + 100 + 100);
    expect(walks).toEqual([10, 30, 70, 150, 250, 350]);
    expect([...state.parkedFrontendIds]).toEqual([held]);

    // A pass parks another id, whose flows have all ended: the check already armed frees it, and
    // the wait after it is the first one again.
    const idle = state.frontendIds.allocate();
    setCounters(maps, idle, 1n);
    state.parkedFrontendIds.add(idle);
    release.schedule();
    await jest.advanceTimersByTimeAsync(100 + 10);
    expect(walks.slice(6)).toEqual([450, 460]);
    expect([...state.parkedFrontendIds]).toEqual([held]);
    expect(state.frontendIds.allocate()).toBe(idle);
    release.stop();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(walks).toHaveLength(8);
  });

  test('an id parked while a check walks the flows is checked after the first wait, not the doubled one', async () => {
    const setUp = heldParkedId();
    const { state, held, release, walks } = setUp;
    let parkedMeanwhile = 0;
    const parkDuringWalk = (): void => {
      setUp.duringWalk = undefined;
      parkedMeanwhile = state.frontendIds.allocate();
      setCounters(setUp.maps, parkedMeanwhile, 1n); // it had a flow, ended since
      state.parkedFrontendIds.add(parkedMeanwhile);
      release.schedule();
    };
    release.schedule();
    await jest.advanceTimersByTimeAsync(10 + 20 + 40);
    expect(walks).toEqual([10, 30, 70]);
    // This walk frees nothing (the wait doubles to 80), but the id parked during it is walked for
    // 10 ms later, and freed.
    setUp.duringWalk = parkDuringWalk;
    await jest.advanceTimersByTimeAsync(80 + 10);
    expect(walks).toEqual([10, 30, 70, 150, 160]);
    expect([...state.parkedFrontendIds]).toEqual([held]);
    expect(state.frontendIds.allocate()).toBe(parkedMeanwhile);
    release.stop();
  });
});

function setCounters(maps: LbMaps, id: number, flows: bigint, rejected = 0n): void {
  maps.frontendStats.updateBatch(
    encode(ARRAY_INDEX, { index: id }),
    encode(COUNTERS, { packets: flows * 10n, bytes: flows * 600n, flows, rejected }),
    1,
  );
}

/** A release with a long walk wait, so that only the grace can free anything in these tests. */
function graceOnly() {
  const setUp = releaseHarness({ checkMs: 60_000, graceMs: 1_000, clockNs: NOW });
  const { maps, state, release } = setUp;
  const park = (flows: bigint, rejected = 0n): number => {
    const id = state.frontendIds.allocate();
    setCounters(maps, id, flows, rejected);
    state.parkedFrontendIds.add(id);
    release.schedule();
    return id;
  };
  return { ...setUp, park };
}

describe('ParkedIdRelease: the grace and the walk together', () => {
  test('an id its grace frees during a walk, handed out and parked again before the walk ends, is not freed by that walk', async () => {
    const setUp = heldParkedId();
    const { maps, state, release, walks } = setUp;
    setUp.walkMs = 10;
    release.schedule();
    await jest.advanceTimersByTimeAsync(8);
    // Parked 2 ms before the walk at 10 ms starts, so its grace (5 ms) ends during the walk.
    const unused = state.frontendIds.allocate();
    state.parkedFrontendIds.add(unused);
    release.schedule();
    // When the walk's dump is in: the grace has freed the id, and it goes to a new frontend, which
    // gets a flow the dump does not hold, and is deleted again.
    let freedByGrace = false;
    setUp.duringWalk = () => {
      setUp.duringWalk = undefined;
      freedByGrace = !state.parkedFrontendIds.has(unused);
      expect(state.frontendIds.allocate()).toBe(unused);
      setCounters(maps, unused, 1n);
      state.parkedFrontendIds.add(unused);
      release.schedule();
    };
    await jest.advanceTimersByTimeAsync(12);
    expect(walks).toEqual([10]);
    expect(freedByGrace).toBe(true);
    expect(state.parkedFrontendIds.has(unused)).toBe(true);
    release.stop();
  });
});

describe('ParkedIdRelease: ids that never had a flow', () => {
  test('are freed after the grace, counters zeroed, without a walk; one that had flows waits for the walk', async () => {
    const { maps, state, release, walks, park } = graceOnly();
    const refused = park(0n, 3n); // its Service never had a ready backend: refusals, no flow
    const used = park(2n);
    await jest.advanceTimersByTimeAsync(999);
    expect([...state.parkedFrontendIds].sort()).toEqual([refused, used].sort());
    await jest.advanceTimersByTimeAsync(1);
    expect([...state.parkedFrontendIds]).toEqual([used]);
    expect(readCounterEntry(maps.frontendStats, refused)).toEqual({
      packets: 0n,
      bytes: 0n,
      flows: 0n,
      rejected: 0n,
    });
    expect(state.frontendIds.allocate()).toBe(refused);
    expect(walks).toEqual([]);
    // No flow names `used` any more: the walk, at its own time, frees it.
    await jest.advanceTimersByTimeAsync(60_000);
    expect(walks).toEqual([60_000]);
    expect([...state.parkedFrontendIds]).toEqual([]);
    release.stop();
  });

  test('a flow counted during the grace keeps the id parked; each id gets its own grace', async () => {
    const { maps, state, release, park } = graceOnly();
    const raced = park(0n);
    await jest.advanceTimersByTimeAsync(500);
    const later = park(0n);
    // A program that read the frontend before the delete creates a flow under it meanwhile.
    setCounters(maps, raced, 1n);
    await jest.advanceTimersByTimeAsync(500);
    expect([...state.parkedFrontendIds].sort()).toEqual([raced, later].sort());
    await jest.advanceTimersByTimeAsync(500);
    expect([...state.parkedFrontendIds]).toEqual([raced]);
    release.stop();
  });

  test('an id parked again after a frontend took it back starts its grace afresh', async () => {
    const { state, release, park } = graceOnly();
    const id = park(0n);
    await jest.advanceTimersByTimeAsync(800);
    state.parkedFrontendIds.delete(id); // a pass gave it to a frontend again
    release.schedule();
    await jest.advanceTimersByTimeAsync(100);
    state.parkedFrontendIds.add(id); // and deleted that frontend
    release.schedule();
    await jest.advanceTimersByTimeAsync(999);
    expect([...state.parkedFrontendIds]).toEqual([id]);
    await jest.advanceTimersByTimeAsync(1);
    expect([...state.parkedFrontendIds]).toEqual([]);
    release.stop();
  });
});

describe('readFlowCounts', () => {
  test('a lookup each for a few ids, one dump for many: the same counts', () => {
    const maps = memoryLbMaps();
    const ids = Array.from({ length: 600 }, (_, index) => index + 1);
    for (const id of ids) setCounters(maps, id, BigInt(id % 3));
    const lookup = jest.spyOn(maps.frontendStats, 'lookup');
    const dump = jest.spyOn(maps.frontendStats, 'dump');
    const few = readFlowCounts(maps.frontendStats, ids.slice(0, 10));
    expect([lookup.mock.calls.length, dump.mock.calls.length]).toEqual([10, 0]);
    const many = readFlowCounts(maps.frontendStats, ids);
    expect([lookup.mock.calls.length, dump.mock.calls.length]).toEqual([10, 1]);
    expect(few).toEqual(ids.slice(0, 10).map((id) => BigInt(id % 3)));
    expect(many).toEqual(ids.map((id) => BigInt(id % 3)));
  });
});
