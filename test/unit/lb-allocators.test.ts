import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { IdAllocator } from '../../src/lb/id-allocator.js';
import { SlotBlocks, type SlotBlock } from '../../src/lb/slot-blocks.js';

/** Whether `attempt` throws, without letting it change anything the caller keeps. */
function throws(attempt: () => unknown): boolean {
  try {
    attempt();
    return false;
  } catch {
    return true;
  }
}

describe('the reconciler asks before it allocates', () => {
  test('SlotBlocks.canAllocate says exactly whether allocate succeeds, through any history', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('allocate' as const), log2: fc.integer({ min: 0, max: 5 }) }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const blocks = new SlotBlocks(64);
        const held: SlotBlock[] = [];
        for (const step of ops) {
          if (step.kind === 'release') {
            if (held.length > 0) blocks.release(held.splice(step.pick % held.length, 1)[0]!);
            continue;
          }
          const capacity = 2 ** step.log2;
          const answer = blocks.canAllocate(capacity);
          let got: SlotBlock | undefined;
          const failed = throws(() => (got = blocks.allocate(capacity)));
          expect(answer).toBe(!failed);
          if (got !== undefined) held.push(got);
        }
      }),
    );
  });

  test('IdAllocator.free counts the ids allocate can still hand out', () => {
    const ids = new IdAllocator('test', 8);
    expect(ids.free).toBe(7);
    const taken = [ids.allocate(), ids.allocate(), ids.allocate()];
    expect(ids.free).toBe(4);
    ids.release(taken[1]!);
    expect(ids.free).toBe(5);
    for (let left = ids.free; left > 0; left--) ids.allocate();
    expect(ids.free).toBe(0);
    expect(throws(() => ids.allocate())).toBe(true);
    ids.claim(3); // already in use: no change
    expect(ids.free).toBe(0);
  });

  test('IdAllocator.highestAfter bounds the ids the next allocations reach; gapIds reaches a mark', () => {
    const ids = new IdAllocator('test', 8);
    expect(ids.highestAfter(0)).toBe(0);
    expect(ids.highestAfter(3)).toBe(3);
    const taken = [ids.allocate(), ids.allocate(), ids.allocate(), ids.allocate()];
    ids.release(taken[1]!);
    // One freed id is handed out first, then fresh ones from 5; never past the limit.
    expect(ids.highestAfter(1)).toBe(4);
    expect(ids.highestAfter(2)).toBe(5);
    expect(ids.highestAfter(100)).toBe(7);
    // Claimed ids 1 and 3 (a restore); 6 once handed out, per the counters' mark.
    const restored = new IdAllocator('test', 8);
    restored.claim(1);
    restored.claim(3);
    expect(restored.gapIds()).toEqual([2]);
    expect(restored.gapIds(6)).toEqual([2, 4, 5, 6]);
    expect(restored.gapIds(99)).toEqual([2, 4, 5, 6, 7]);
  });
});
