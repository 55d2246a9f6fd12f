/** When the conntrack collector's next pass runs (src/lb/collect-pacing.ts). */
import { describe, expect, test } from '@jest/globals';

import {
  COLLECT_HEADROOM_SHARE,
  nextCollectDelayMs,
  type PacingInput,
} from '../../src/lb/collect-pacing.js';

const S = 1_000_000_000n;
const T0 = 5_000n * S;

/** A 100,000-entry table paced between 2 s and 30 s; the previous pass left 1,000 entries. */
function input(overrides: Partial<PacingInput>): PacingInput {
  return {
    capacity: 100_000,
    scanned: 1_000,
    current: { remaining: 1_000, atNs: T0 + 30n * S },
    previous: { remaining: 1_000, atNs: T0 },
    longestMs: 30_000,
    shortestMs: 2_000,
    ...overrides,
  };
}

describe('the next pass', () => {
  test('keeps the interval at the first pass: no rate to go by yet', () => {
    expect(nextCollectDelayMs(input({ previous: undefined, scanned: 99_000 }))).toBe(30_000);
  });

  test('keeps the interval when the table did not grow, or shrank', () => {
    expect(nextCollectDelayMs(input({ scanned: 1_000 }))).toBe(30_000);
    expect(nextCollectDelayMs(input({ scanned: 500 }))).toBe(30_000);
  });

  test('keeps the interval while the flows arriving would take less than half the room left', () => {
    // 3,000 arrived in 30 s: 100/s; half the room (49,000 of 98,000 free) lasts 490 s.
    const paced = nextCollectDelayMs(
      input({ scanned: 4_000, current: { remaining: 2_000, atNs: T0 + 30n * S } }),
    );
    expect(paced).toBe(30_000);
  });

  test('comes sooner when the arrivals would take half the room before the interval is up', () => {
    // 60,000 arrived in 30 s: 2,000/s. The pass left 40,000: half of the 60,000 free lasts 15 s.
    const paced = nextCollectDelayMs(
      input({ scanned: 61_000, current: { remaining: 40_000, atNs: T0 + 30n * S } }),
    );
    expect(paced).toBe(15_000);
    expect(COLLECT_HEADROOM_SHARE).toBe(0.5);
  });

  test('measures the rate over the time between the two dumps, whatever the interval was', () => {
    // The same 2,000/s, seen over 5 s.
    const paced = nextCollectDelayMs(
      input({ scanned: 11_000, current: { remaining: 40_000, atNs: T0 + 5n * S } }),
    );
    expect(paced).toBe(15_000);
  });

  test('never comes sooner than the floor, even with no room left', () => {
    const full = input({ scanned: 100_000, current: { remaining: 100_000, atNs: T0 + 30n * S } });
    expect(nextCollectDelayMs(full)).toBe(2_000);
    const flooded = input({ scanned: 90_000, current: { remaining: 10_000, atNs: T0 + S } });
    expect(nextCollectDelayMs(flooded)).toBe(2_000);
  });

  test('an interval below the floor is kept as it is', () => {
    const fast = input({ longestMs: 1_000, scanned: 90_000 });
    expect(nextCollectDelayMs(fast)).toBe(1_000);
  });

  test('a clock that did not move keeps the interval', () => {
    const still = input({ scanned: 50_000, current: { remaining: 50_000, atNs: T0 } });
    expect(nextCollectDelayMs(still)).toBe(30_000);
  });
});
