import { describe, expect, test } from '@jest/globals';

import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import { FrontendWrites } from '../../src/lb/maps/frontend-writes.js';
import {
  FRONTEND,
  FRONTEND_KEY,
  type FrontendKeyValue,
  type FrontendValue,
} from '../../src/lb/maps/lb-layouts.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';

function entries(count: number): Array<[FrontendKeyValue, FrontendValue]> {
  return Array.from({ length: count }, (_, i) => [
    // Every byte position differs, and the extremes of each field appear.
    {
      addr: i === 0 ? 0xffffffff : 0x0a600010 + i * 0x01010101,
      port: i === 1 ? 65_535 : 1 + i * 257,
      proto: i % 2 ? 17 : 6,
    },
    {
      id: i + 1,
      slotBase: i === 2 ? 0xffffffff : 0x00010203 * i,
      slotCapacity: 16,
      backendCount: i,
      affinityTimeoutS: i % 3 === 0 ? 10_800 : 0,
      flags: i % 2,
    },
  ]);
}

describe('FrontendWrites', () => {
  // No hint and a small one: more than one growth; an exact and a generous one: none.
  test.each([undefined, 3, 200, 5_000])(
    'what it hands the kernel is byte for byte what the layouts encode (200 upserts, sized for %s)',
    (expectedUpserts) => {
      const wanted = entries(200);
      const writes = new FrontendWrites(expectedUpserts);
      for (const [key, value] of wanted) writes.upsert(key, value);
      const batches: Array<{ keys: Buffer; values: Buffer; count: number }> = [];
      const recorder = {
        updateBatch(keys: Buffer, values: Buffer, count: number) {
          batches.push({ keys: Buffer.from(keys), values: Buffer.from(values), count });
          return count;
        },
      };
      writes.applyUpserts(recorder as never);
      expect(batches).toHaveLength(1);
      const [batch] = batches;
      expect(batch!.count).toBe(wanted.length);
      expect(batch!.keys).toEqual(Buffer.concat(wanted.map(([key]) => encode(FRONTEND_KEY, key))));
      expect(batch!.values).toEqual(
        Buffer.concat(wanted.map(([, value]) => encode(FRONTEND, value))),
      );
    },
  );

  test('upserts then deletes land in a map; nothing to write makes no call', () => {
    const maps = memoryLbMaps();
    const wanted = entries(3);
    const writes = new FrontendWrites();
    for (const [key, value] of wanted) writes.upsert(key, value);
    writes.delete(wanted[1]![0]);
    writes.applyUpserts(maps.frontend);
    writes.applyDeletes(maps.frontend);
    expect(writes.upserts).toBe(3);
    expect(writes.deletes).toBe(1);
    const dump = maps.frontend.dump();
    const stored = Array.from({ length: dump.count }, (_, i) => [
      decode(FRONTEND_KEY, dump.keys, i * FRONTEND_KEY.size),
      decode(FRONTEND, dump.values, (i * dump.values.length) / dump.count),
    ]);
    expect(stored).toEqual([wanted[0], wanted[2]]);

    const untouched = {
      updateBatch: () => {
        throw new Error('called');
      },
      deleteBatch: () => {
        throw new Error('called');
      },
    };
    const empty = new FrontendWrites();
    expect(() => empty.applyUpserts(untouched as never)).not.toThrow();
    expect(() => empty.applyDeletes(untouched as never)).not.toThrow();
  });
});
