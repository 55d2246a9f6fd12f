import { afterEach, describe, expect, jest, test } from '@jest/globals';
import pino from 'pino';

import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { ParkedIdRelease } from '../../src/lb/parked-frontend-ids.js';
import { ProgrammedState } from '../../src/lb/programmed-state.js';
import { flowEntry } from '../support/lb-flows.js';

const NOW = 10n ** 12n;

afterEach(() => {
  jest.useRealTimers();
});

/**
 * One parked frontend id that a connection keeps live (its flow's stamp is always ahead of the
 * clock read here), checked first after 10 ms, and the times the flow map is walked. `duringWalk`,
 * when set, runs once a walk's dump is read and before the check uses it: what a pass does while
 * the walk is off the event loop.
 */
function heldParkedId() {
  jest.useFakeTimers({ now: 0 });
  const maps = memoryLbMaps();
  const state = ProgrammedState.fromMaps(maps);
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
  const release = new ParkedIdRelease({
    maps,
    logger: pino({ level: 'silent' }),
    currentState: () => state,
    checkMs: 10,
    monotonicNs: () => NOW - 1n,
  });
  const setUp = {
    state,
    held,
    release,
    walks: [] as number[],
    duringWalk: undefined as (() => void) | undefined,
  };
  const dumpAsync = maps.flow.dumpAsync.bind(maps.flow);
  maps.flow.dumpAsync = async () => {
    setUp.walks.push(Date.now());
    const dump = await dumpAsync();
    setUp.duringWalk?.();
    return dump;
  };
  return setUp;
}

describe('ParkedIdRelease', () => {
  test('a check that frees nothing doubles the wait, up to ten times the first; a freeing one resets it', async () => {
    const { state, held, release, walks } = heldParkedId();
    release.schedule();
    await jest.advanceTimersByTimeAsync(10 + 20 + 40 + 80 + 100 + 100);
    expect(walks).toEqual([10, 30, 70, 150, 250, 350]);
    expect([...state.parkedFrontendIds]).toEqual([held]);

    // A pass parks another id, with no flow: the check already armed frees it, and the wait
    // after it is the first one again.
    const idle = state.frontendIds.allocate();
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
