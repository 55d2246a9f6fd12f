import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';

import { planSlots } from '../../src/lb/slot-plan.js';

function applyPlan(current: readonly number[], plan: ReturnType<typeof planSlots>): number[] {
  const slots = new Map(current.map((id, slot) => [slot, id]));
  for (const [slot, id] of plan.writes) slots.set(slot, id);
  for (const slot of plan.deletes) slots.delete(slot);
  return [...slots.entries()].sort(([a], [b]) => a - b).map(([, id]) => id);
}

const idSet = fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 25 });

describe('planSlots', () => {
  test('a backend that stays keeps its slot, a new one takes the freed slot', () => {
    const plan = planSlots([1, 2, 3], [1, 4, 3]);
    expect(plan.slots).toEqual([1, 4, 3]);
    expect(plan.writes).toEqual([[1, 4]]);
    expect(plan.deletes).toEqual([]);
  });

  test('a removal is filled from the tail so live slots stay contiguous', () => {
    const plan = planSlots([1, 2, 3, 4], [1, 3, 4]);
    expect(plan.slots).toEqual([1, 4, 3]);
    expect(plan.writes).toEqual([[1, 4]]);
    expect(plan.deletes).toEqual([3]);
  });

  test('an unchanged set writes nothing', () => {
    expect(planSlots([5, 6], [6, 5])).toEqual({ slots: [5, 6], writes: [], deletes: [] });
  });

  test('any change: the result holds exactly the desired set, and the writes produce it', () => {
    fc.assert(
      fc.property(idSet, idSet, (current, desired) => {
        const plan = planSlots(current, desired);
        expect([...plan.slots].sort((a, b) => a - b)).toEqual([...desired].sort((a, b) => a - b));
        expect(applyPlan(current, plan)).toEqual(plan.slots);
        // Deletes are exactly the slots past the new count.
        const expectedDeletes = [];
        for (let slot = plan.slots.length; slot < current.length; slot++)
          expectedDeletes.push(slot);
        expect([...plan.deletes].sort((a, b) => a - b)).toEqual(expectedDeletes);
        // Every write lands below the new count, and backends that stay do not move
        // unless their slot is past the new count.
        for (const [slot] of plan.writes) expect(slot).toBeLessThan(plan.slots.length);
        current.forEach((id, slot) => {
          if (desired.includes(id) && slot < plan.slots.length) expect(plan.slots[slot]).toBe(id);
        });
      }),
    );
  });
});
