/**
 * MemoryBpfMap, the in-memory BpfMap that reconciler tests program: the kernel's hash, LRU and
 * array semantics that those tests can observe, and errors shaped like the native addon's.
 */
import { describe, expect, test } from '@jest/globals';

import { isTerwayError } from '../../src/errors/terway-error.js';
import { BPF_EXIST, BPF_NOEXIST, bpfErrno, dumpEntries } from '../../src/dataplane/bpf/bpf-maps.js';
import { MemoryBpfMap } from '../../src/dataplane/bpf/memory-bpf-map.js';

/** `count` u64 keys from `from`, and 16-byte values derived from each key. */
function entries(from: number, count: number) {
  const keys = Buffer.alloc(count * 8);
  const values = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) {
    keys.writeBigUInt64LE(BigInt(from + i), i * 8);
    values.writeBigUInt64LE(BigInt((from + i) * 7), i * 16);
    values.writeBigUInt64LE(BigInt(from + i + 1), i * 16 + 8);
  }
  return { keys, values };
}

const key = (n: number) => {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(n));
  return buffer;
};

/** The errno of the BPF_ERROR `fn` throws. */
function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(isTerwayError(error) && error.code).toBe('BPF_ERROR');
    return bpfErrno(error);
  }
  throw new Error('expected a BPF_ERROR');
}

const hash = (maxEntries = 1024) =>
  new MemoryBpfMap({ name: 't1', keySize: 8, valueSize: 16, maxEntries });

describe('MemoryBpfMap (hash)', () => {
  test('batch update, lookup, dump and delete round-trip', () => {
    const map = hash();
    const { keys, values } = entries(0, 100);
    expect(map.updateBatch(keys, values, 100)).toBe(100);
    expect(map.lookup(key(42))?.readBigUInt64LE(0)).toBe(42n * 7n);
    expect(map.lookup(key(100))).toBeUndefined();

    const dump = map.dump();
    expect(dump.count).toBe(100);
    const seen = new Map<bigint, bigint>();
    for (const [k, v] of dumpEntries(map, dump))
      seen.set(k.readBigUInt64LE(0), v.readBigUInt64LE(8));
    expect(seen.size).toBe(100);
    expect(seen.get(99n)).toBe(100n);

    // Deleting present and absent keys: absent ones are skipped, not errors.
    const del = Buffer.concat([key(1), key(2), key(5000), key(3)]);
    expect(map.deleteBatch(del, 4)).toBe(3);
    expect(map.size).toBe(97);
    expect(map.lookup(key(2))).toBeUndefined();
    expect(map.calls).toEqual({ updateBatch: 1, deleteBatch: 1, lookup: 3, dump: 1 });
  });

  test('a lookup returns a copy, not the stored value', () => {
    const map = hash();
    const { keys, values } = entries(0, 1);
    map.updateBatch(keys, values, 1);
    map.lookup(key(0))!.fill(0xff);
    expect(map.lookup(key(0))!.equals(values)).toBe(true);
    values.fill(0xee); // nor does it keep the caller's buffer
    expect(map.lookup(key(0))!.readBigUInt64LE(8)).toBe(1n);
  });

  test('a full map refuses new keys with E2BIG after writing the entries before', () => {
    const map = hash(10);
    const { keys, values } = entries(0, 12);
    let message = '';
    expect(
      errnoOf(() => {
        try {
          map.updateBatch(keys, values, 12);
        } catch (error) {
          message = (error as Error).message;
          throw error;
        }
      }),
    ).toBe('E2BIG');
    expect(message).toContain('entry 10 of 12');
    expect(map.size).toBe(10);
    // Existing keys can still be updated in a full map.
    const again = entries(0, 10);
    again.values.fill(1);
    expect(map.updateBatch(again.keys, again.values, 10)).toBe(10);
    expect(map.lookup(key(9))!.equals(Buffer.alloc(16, 1))).toBe(true);
  });

  test('BPF_NOEXIST and BPF_EXIST', () => {
    const map = hash();
    const { keys, values } = entries(0, 2);
    map.updateBatch(keys.subarray(0, 8), values.subarray(0, 16), 1, BPF_NOEXIST);
    expect(errnoOf(() => map.updateBatch(keys, values, 2, BPF_NOEXIST))).toBe('EEXIST');
    expect(errnoOf(() => map.updateBatch(keys, values, 2, BPF_EXIST))).toBe('ENOENT');
    expect(map.size).toBe(1); // entry 0 existed, entry 1 failed
  });

  test('buffer sizes are checked against the map', () => {
    const map = hash();
    expect(errnoOf(() => map.updateBatch(Buffer.alloc(8), Buffer.alloc(15), 1))).toBe('EINVAL');
    expect(errnoOf(() => map.updateBatch(Buffer.alloc(16), Buffer.alloc(16), 1))).toBe('EINVAL');
    expect(errnoOf(() => map.updateBatch(Buffer.alloc(8), Buffer.alloc(16), 1.5))).toBe('EINVAL');
    expect(errnoOf(() => map.deleteBatch(Buffer.alloc(9), 1))).toBe('EINVAL');
    expect(errnoOf(() => map.lookup(Buffer.alloc(4)))).toBe('EINVAL');
    expect(map.size).toBe(0);
  });

  test('a closed map throws EBADF; close is idempotent', () => {
    const map = hash();
    map.close();
    map.close();
    expect(errnoOf(() => map.dump())).toBe('EBADF');
    expect(errnoOf(() => map.lookup(key(0)))).toBe('EBADF');
  });
});

describe('MemoryBpfMap, a walk in pages', () => {
  test('pages of the asked size cover the map once, as it was at the first page', async () => {
    const map = hash();
    const { keys, values } = entries(100, 25);
    map.updateBatch(keys, values, 25);
    const seen: bigint[] = [];
    const counts: number[] = [];
    let page = await map.dumpPageAsync(undefined, 10);
    for (;;) {
      counts.push(page.count);
      for (const [k, v] of dumpEntries(map, page)) {
        seen.push(k.readBigUInt64LE(0));
        expect(v.readBigUInt64LE(0)).toBe(k.readBigUInt64LE(0) * 7n);
      }
      // Deleting what was read does not disturb the walk.
      map.deleteBatch(page.keys, page.count);
      if (page.next === undefined) break;
      page = await map.dumpPageAsync(page.next, 10);
    }
    expect(counts).toEqual([10, 10, 5]);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => BigInt(100 + i)));
    expect(map.dump().count).toBe(0);
  });

  test('an empty map is one empty last page; a page of 0, or a closed map, is refused', async () => {
    const map = hash();
    const page = await map.dumpPageAsync(undefined, 16);
    expect(page).toMatchObject({ count: 0, next: undefined });
    await expect(map.dumpPageAsync(undefined, 0)).rejects.toMatchObject({ code: 'BPF_ERROR' });
    map.close();
    const closed = await map.dumpPageAsync(undefined, 16).catch((error: unknown) => error);
    expect(bpfErrno(closed)).toBe('EBADF');
  });
});

describe('MemoryBpfMap (lru_hash)', () => {
  test('a full map evicts the least recently updated entry', () => {
    const map = new MemoryBpfMap({
      name: 'lru',
      type: 'lru_hash',
      keySize: 8,
      valueSize: 16,
      maxEntries: 3,
    });
    const { keys, values } = entries(0, 3);
    map.updateBatch(keys, values, 3);
    // Touch key 0, so key 1 is now the oldest.
    map.updateBatch(keys.subarray(0, 8), values.subarray(0, 16), 1);
    const more = entries(10, 1);
    expect(map.updateBatch(more.keys, more.values, 1)).toBe(1);
    expect(map.size).toBe(3);
    expect(map.lookup(key(1))).toBeUndefined();
    expect(map.lookup(key(0))).toBeDefined();
    expect(map.lookup(key(10))).toBeDefined();
  });
});

describe('MemoryBpfMap (array)', () => {
  const array = () =>
    new MemoryBpfMap({ name: 'arr', type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
  const index = (i: number) => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32LE(i);
    return buffer;
  };

  test('every index exists, zero-filled; out of range is E2BIG; delete is EINVAL', () => {
    const map = array();
    expect(map.dump().count).toBe(4);
    expect(map.lookup(index(3))!.equals(Buffer.alloc(8))).toBe(true);
    expect(map.lookup(index(4))).toBeUndefined();
    map.updateBatch(index(2), Buffer.alloc(8, 7), 1);
    expect(map.lookup(index(2))!.equals(Buffer.alloc(8, 7))).toBe(true);
    expect(errnoOf(() => map.updateBatch(index(4), Buffer.alloc(8), 1))).toBe('E2BIG');
    expect(errnoOf(() => map.updateBatch(index(0), Buffer.alloc(8), 1, BPF_NOEXIST))).toBe(
      'EEXIST',
    );
    expect(errnoOf(() => map.deleteBatch(index(0), 1))).toBe('EINVAL');
    // The dump is in index order.
    const dump = map.dump();
    expect([...dumpEntries(map, dump)].map(([k]) => k.readUInt32LE(0))).toEqual([0, 1, 2, 3]);
  });

  test('array maps need 4-byte keys', () => {
    expect(
      errnoOf(
        () =>
          new MemoryBpfMap({ name: 'bad', type: 'array', keySize: 8, valueSize: 8, maxEntries: 1 }),
      ),
    ).toBe('EINVAL');
  });
});
