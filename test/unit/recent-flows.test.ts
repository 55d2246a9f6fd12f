import { describe, expect, test } from '@jest/globals';

import { RecentFlows } from '../../src/lb/recent-flows.js';

const KEY_SIZE = 4;
const VALUE_STRIDE = 8;
const NS_PER_MS = 1_000_000;

/** Offers flows 0..n-1 (key = its number, value = its number twice) seen at `seenMs(i)`. */
function offerAll(store: RecentFlows, n: number, seenMs: (i: number) => number): void {
  const keys = Buffer.alloc(KEY_SIZE);
  const values = Buffer.alloc(VALUE_STRIDE);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(i, 0);
    values.writeUInt32LE(i, 0);
    values.writeUInt32LE(i, 4);
    store.offer(keys, 0, values, 0, seenMs(i) * NS_PER_MS);
    // The page's buffers are reused: what the store kept must be its own copy.
    keys.fill(0xff);
    values.fill(0xff);
  }
}

function keptFlows(store: RecentFlows): number[] {
  return store.ranked().map((slot) => {
    const key = store.keyOf(slot);
    const value = store.valueOf(slot);
    const flow = key.buffer.readUInt32LE(key.at);
    expect(value.buffer.readUInt32LE(value.at)).toBe(flow);
    expect(value.buffer.readUInt32LE(value.at + 4)).toBe(flow);
    return flow;
  });
}

/** The reference: every flow ranked by one comparator sort, most recent first, ties in order. */
function reference(n: number, seenMs: (i: number) => number, limit: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => Math.floor(seenMs(b)) - Math.floor(seenMs(a)) || a - b,
  );
  return limit > 0 ? all.slice(0, limit) : all;
}

describe('the most recent flows of a walk', () => {
  test('past its first thousand slots a store grows, and keeps copies of what it was offered', () => {
    const seenMs = (i: number): number => (i * 7919) % 5_000;
    for (const limit of [0, 1_500, 5_000]) {
      const store = new RecentFlows(KEY_SIZE, VALUE_STRIDE, limit);
      offerAll(store, 5_000, seenMs);
      expect(store.size).toBe(limit === 0 ? 5_000 : limit);
      expect(keptFlows(store)).toEqual(reference(5_000, seenMs, limit));
    }
  });

  test('a bounded store replaces its least recent flow; on a tie in time the earlier flow stays', () => {
    const seenMs = (i: number): number => [3, 1, 3, 2, 3, 5, 1, 5.5][i]!;
    const store = new RecentFlows(KEY_SIZE, VALUE_STRIDE, 3);
    offerAll(store, 8, seenMs);
    // 5.5 ms and 5 ms share a millisecond: the walk's order ranks flow 5 first.
    expect(keptFlows(store)).toEqual([5, 7, 0]);
    expect(keptFlows(store)).toEqual(reference(8, seenMs, 3));
  });

  test('many ties and random times rank as the reference does, at every limit', () => {
    let seed = 11;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const times = Array.from({ length: 2_000 }, () => Math.floor(random() * 50) + random());
    const seenMs = (i: number): number => times[i]!;
    for (const limit of [0, 1, 2, 3, 64, 1_023, 1_024, 1_025, 1_999, 2_000, 4_000]) {
      const store = new RecentFlows(KEY_SIZE, VALUE_STRIDE, limit);
      offerAll(store, 2_000, seenMs);
      expect(keptFlows(store)).toEqual(reference(2_000, seenMs, limit));
    }
  });

  test('an empty walk ranks nothing', () => {
    expect(new RecentFlows(KEY_SIZE, VALUE_STRIDE, 10).ranked()).toEqual([]);
    expect(new RecentFlows(KEY_SIZE, VALUE_STRIDE, 0).ranked()).toEqual([]);
  });
});
