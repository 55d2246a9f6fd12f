/**
 * How a frontend's slot array moves from the backends it has to the backends it should have,
 * touching as few slots as possible: a backend that stays keeps its slot, a new one takes a freed
 * slot, and the array is compacted from its tail. The program picks `slot = hash % count`, so
 * every slot below the count must always name a live backend.
 */
export interface SlotPlan {
  /** The slot array afterwards. */
  readonly slots: readonly number[];
  /** Slots whose backend id changed or appeared: [slot, backend id]. */
  readonly writes: readonly (readonly [number, number])[];
  /** Slot indexes at or past the new count that must be deleted. */
  readonly deletes: readonly number[];
}

export function planSlots(current: readonly number[], desired: readonly number[]): SlotPlan {
  // A new (or emptied) frontend: every slot is a write, in order. The initial sync of a large
  // cluster is all this case.
  if (current.length === 0) {
    const slots = [...new Set(desired)];
    return { slots, writes: slots.map((id, slot) => [slot, id] as const), deletes: [] };
  }
  const wanted = new Set(desired);
  const kept = new Set<number>();
  const slots = current.slice();
  const holes: number[] = [];
  slots.forEach((id, slot) => {
    if (wanted.has(id) && !kept.has(id)) kept.add(id);
    else holes.push(slot);
  });
  const additions = desired.filter((id) => !kept.has(id));
  const writes: [number, number][] = [];
  let holeIndex = 0;
  for (const id of additions) {
    if (holeIndex < holes.length) {
      const slot = holes[holeIndex++]!;
      slots[slot] = id;
      writes.push([slot, id]);
    } else {
      writes.push([slots.length, id]);
      slots.push(id);
    }
  }
  // Holes left over: fill each from the tail, so the live slots stay 0..count-1.
  const remainingHoles = new Set(holes.slice(holeIndex));
  const deletes: number[] = [];
  for (const hole of [...remainingHoles].sort((a, b) => a - b)) {
    if (hole >= slots.length) continue;
    let tail = slots.length - 1;
    while (tail > hole && remainingHoles.has(tail)) {
      slots.pop();
      deletes.push(tail);
      tail--;
    }
    if (tail > hole) {
      slots[hole] = slots[tail]!;
      writes.push([hole, slots[tail]!]);
      slots.pop();
      deletes.push(tail);
    } else {
      slots.pop();
      deletes.push(hole);
    }
  }
  return { slots, writes: dedupeWrites(writes), deletes };
}

/** A slot written twice keeps only its last value. */
function dedupeWrites(writes: [number, number][]): [number, number][] {
  const last = new Map<number, number>();
  for (const [slot, id] of writes) last.set(slot, id);
  return [...last.entries()];
}
