/** When the conntrack collector runs a pass before its interval is up (src/lb/collect-pacing.ts). */
import { expect, test } from '@jest/globals';

import {
  COLLECT_HEADROOM_SHARE,
  COLLECT_MIN_EARLY_SHARE,
  tableFillingUp,
} from '../../src/lb/collect-pacing.js';

test('a pass is due once the flows made since the last one would take half the room it left', () => {
  expect(COLLECT_HEADROOM_SHARE).toBe(0.5);
  // The last pass left 40,000 of 100,000: half the 60,000 free is 30,000.
  expect(tableFillingUp(100_000, 40_000, 29_999)).toBe(false);
  expect(tableFillingUp(100_000, 40_000, 30_000)).toBe(true);
  // An emptier table takes more before the next pass.
  expect(tableFillingUp(100_000, 0, 49_999)).toBe(false);
  expect(tableFillingUp(100_000, 0, 50_000)).toBe(true);
});

test('never early for fewer new flows than 5% of the table, even when no room was left', () => {
  expect(COLLECT_MIN_EARLY_SHARE).toBe(0.05);
  // Live flows filled the table: no room to halve, but a pass every check would be waste.
  expect(tableFillingUp(100_000, 100_000, 0)).toBe(false);
  expect(tableFillingUp(100_000, 100_000, 4_999)).toBe(false);
  expect(tableFillingUp(100_000, 100_000, 5_000)).toBe(true);
  expect(tableFillingUp(100_000, 95_000, 5_000)).toBe(true);
});
