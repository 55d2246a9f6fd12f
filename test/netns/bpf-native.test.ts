/**
 * The terway_bpf addon against the real kernel: maps created with bpftool and programmed in
 * batches (50,000 entries), buffer checks, an object loaded twice into one pin directory (same
 * maps, data kept, program pin replaced), and tc attach/query/detach inside a netns of this test's
 * own, with the calling thread back in its own netns after every call, failed ones included.
 *
 * Needs root, bpftool, clang, and bpffs at /sys/fs/bpf (mounted here if it is missing).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

import { isTerwayError } from '../../src/errors/terway-error.js';
import { BPF_NOEXIST, bpfErrno, dumpEntries } from '../../src/dataplane/bpf/bpf-maps.js';
import { terwaydEnv } from '../../src/daemon/runtime-settings.js';
import { addonCandidates } from '../../src/dataplane/native/addon-loader.js';
import {
  loadObject,
  NativeBpfMap,
  NativeBpfProgram,
  progInfo,
  setNativeBatchOpsForTests,
  tcAttach,
  tcDetach,
  tcQuery,
} from '../../src/dataplane/bpf/native-bpf.js';
import { kernelAtLeast, requireRoot, TestNetns } from '../support/netns.js';

requireRoot();

const BPF_FS_MAGIC = 0xcafe4a11;
const FIXTURE = join(process.cwd(), 'test/fixtures/bpf/pass.c');
const pinDir = `/sys/fs/bpf/tw-test-${process.pid}-${randomBytes(3).toString('hex')}`;
let work: string;
const opened: NativeBpfMap[] = [];

function ensureBpffs(): void {
  mkdirSync('/sys/fs/bpf', { recursive: true });
  if (statfsSync('/sys/fs/bpf').type !== BPF_FS_MAGIC) {
    // What systemd does at boot; left mounted, as on any node.
    execFileSync('mount', ['-t', 'bpf', 'bpf', '/sys/fs/bpf']);
  }
}

function createMap(name: string, spec: string): NativeBpfMap {
  const pin = join(pinDir, name);
  execFileSync('bpftool', ['map', 'create', pin, ...spec.split(' '), 'name', name]);
  const map = NativeBpfMap.openPinned(pin);
  opened.push(map);
  return map;
}

/** `count` u64 keys from `from` and 16-byte values derived from each. */
function entries(from: number, count: number) {
  const keys = Buffer.alloc(count * 8);
  const values = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) {
    keys.writeBigUInt64LE(BigInt(from + i), i * 8);
    values.writeBigUInt64LE(BigInt((from + i) * 3), i * 16);
    values.writeBigUInt64LE(0xfeedn, i * 16 + 8);
  }
  return { keys, values };
}

const u64 = (n: number | bigint) => {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(BigInt(n));
  return buffer;
};
const u32 = (n: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(n);
  return buffer;
};

/** The BPF_ERROR `fn` throws, as {errno, message}. */
function bpfFailure(fn: () => unknown): { errno: string | undefined; message: string } {
  try {
    fn();
  } catch (error) {
    if (!isTerwayError(error) || error.code !== 'BPF_ERROR') throw error;
    return { errno: bpfErrno(error), message: error.message };
  }
  throw new Error('expected a BPF_ERROR');
}

function compile(out: string, defines: string[] = []): string {
  const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    `-I/usr/include/${arch}-linux-gnu`,
    ...defines,
    '-c',
    FIXTURE,
    '-o',
    out,
  ]);
  return out;
}

beforeAll(() => {
  ensureBpffs();
  mkdirSync(pinDir);
  work = mkdtempSync(join(tmpdir(), 'tw-bpf-'));
});

afterAll(() => {
  for (const map of opened) map.close();
  rmSync(pinDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('maps', () => {
  test('mapInfo reports what bpftool created', () => {
    const map = createMap('t1', 'type hash key 8 value 16 entries 1024');
    expect(map).toMatchObject({
      name: 't1',
      type: 'hash',
      keySize: 8,
      valueSize: 16,
      valueStride: 16,
      maxEntries: 1024,
      percpu: false,
    });
    const shown = JSON.parse(
      execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', join(pinDir, 't1')], {
        encoding: 'utf8',
      }),
    ) as { id: number };
    expect(map.id).toBe(shown.id);
  });

  test('50,000 entries: batch update, lookup, dump, batch delete', () => {
    const map = createMap('big', 'type hash key 8 value 16 entries 65536');
    const n = 50_000;
    const { keys, values } = entries(0, n);

    let started = process.hrtime.bigint();
    expect(map.updateBatch(keys, values, n)).toBe(n);
    const updateMs = Number(process.hrtime.bigint() - started) / 1e6;

    started = process.hrtime.bigint();
    const dump = map.dump();
    const dumpMs = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(
      `terway_bpf: batch update of ${n} entries ${updateMs.toFixed(1)} ms, dump ${dumpMs.toFixed(1)} ms`,
    );

    expect(map.lookup(u64(12_345))!.readBigUInt64LE(0)).toBe(12_345n * 3n);
    expect(map.lookup(u64(n))).toBeUndefined();
    expect(dump.count).toBe(n);
    const seen = new Set<bigint>();
    const wrong: bigint[] = [];
    for (const [key, value] of dumpEntries(map, dump)) {
      const k = key.readBigUInt64LE(0);
      if (value.readBigUInt64LE(0) !== k * 3n || k >= BigInt(n)) wrong.push(k);
      seen.add(k);
    }
    expect(wrong).toEqual([]);
    expect(seen.size).toBe(n);

    // Delete the first half plus keys that were never there: those are skipped, not errors.
    const half = entries(0, n / 2).keys;
    const missing = Buffer.concat([u64(1e9), u64(1e9 + 1)]);
    const toDelete = Buffer.concat([half.subarray(0, 8 * 100), missing, half.subarray(8 * 100)]);
    expect(map.deleteBatch(toDelete, n / 2 + 2)).toBe(n / 2);
    expect(map.dump().count).toBe(n / 2);
    expect(map.lookup(u64(0))).toBeUndefined();
    expect(map.lookup(u64(n / 2))).toBeDefined();
    expect(map.deleteBatch(toDelete, n / 2 + 2)).toBe(0);
    expect(map.deleteBatch(Buffer.alloc(0), 0)).toBe(0);
  });

  test('a full hash map fails with E2BIG, keeping the entries before the failing one', () => {
    const map = createMap('full', 'type hash key 8 value 16 entries 1024');
    const { keys, values } = entries(0, 1100);
    const failure = bpfFailure(() => map.updateBatch(keys, values, 1100));
    expect(failure.errno).toBe('E2BIG');
    expect(failure.message).toContain('entry 1024 of 1100');
    expect(failure.message).toContain(join(pinDir, 'full'));
    expect(map.dump().count).toBe(1024);
  });

  test('BPF_NOEXIST goes element by element and stops at an existing key', () => {
    const map = createMap('noexist', 'type hash key 8 value 16 entries 64');
    const { keys, values } = entries(0, 4);
    map.updateBatch(keys.subarray(16, 24), values.subarray(32, 48), 1); // key 2
    const failure = bpfFailure(() => map.updateBatch(keys, values, 4, BPF_NOEXIST));
    expect(failure.errno).toBe('EEXIST');
    expect(failure.message).toContain('entry 2 of 4');
    expect(map.dump().count).toBe(3);
  });

  test('lru_hash never fails when full, it evicts', () => {
    const map = createMap('lru', 'type lru_hash key 8 value 16 entries 1024');
    const { keys, values } = entries(0, 3000);
    expect(map.updateBatch(keys, values, 3000)).toBe(3000);
    const count = map.dump().count;
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(1024);
    expect(map.lookup(u64(2999))).toBeDefined();
  });

  test('array: every index dumps, out of range is E2BIG, delete is EINVAL', () => {
    const map = createMap('arr', 'type array key 4 value 16 entries 8');
    map.updateBatch(Buffer.concat([u32(1), u32(6)]), Buffer.alloc(32, 9), 2);
    expect(map.lookup(u32(6))!.equals(Buffer.alloc(16, 9))).toBe(true);
    expect(map.lookup(u32(0))!.equals(Buffer.alloc(16))).toBe(true);
    const dump = map.dump();
    expect(dump.count).toBe(8);
    expect([...dumpEntries(map, dump)].map(([k]) => k.readUInt32LE(0))).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);
    expect(bpfFailure(() => map.updateBatch(u32(8), Buffer.alloc(16), 1)).errno).toBe('E2BIG');
    expect(bpfFailure(() => map.deleteBatch(u32(1), 1)).errno).toBe('EINVAL');
  });

  test.each([
    ['batch syscalls', true],
    ['one call per entry (kernels or map types without batch ops)', false],
  ])('an LPM trie through %s', (_label, batch) => {
    const map = createMap(
      `lpm${batch ? 'b' : 'e'}`,
      'type lpm_trie key 8 value 8 entries 16 flags 1',
    );
    // struct { __u32 prefixlen; __u8 addr[4]; }: 10.0.0.0/8, 10.1.0.0/16, 192.168.1.0/24
    const prefix = (len: number, ...addr: number[]) => Buffer.concat([u32(len), Buffer.from(addr)]);
    const keys = Buffer.concat([
      prefix(8, 10, 0, 0, 0),
      prefix(16, 10, 1, 0, 0),
      prefix(24, 192, 168, 1, 0),
    ]);
    setNativeBatchOpsForTests(batch);
    try {
      expect(map.updateBatch(keys, Buffer.concat([u64(1), u64(2), u64(3)]), 3)).toBe(3);
      expect(map.lookup(prefix(32, 10, 1, 2, 3))!.readBigUInt64LE(0)).toBe(2n); // longest match
      const dump = map.dump();
      expect(dump.count).toBe(3);
      expect(
        [...dumpEntries(map, dump)].map(([, value]) => value.readBigUInt64LE(0)).sort(),
      ).toEqual([1n, 2n, 3n]);
      // Absent keys are skipped in the middle of a delete too.
      const toDelete = Buffer.concat([
        keys.subarray(0, 8),
        prefix(24, 172, 16, 0, 0),
        keys.subarray(8),
      ]);
      expect(map.deleteBatch(toDelete, 4)).toBe(3);
      expect(map.dump().count).toBe(0);
    } finally {
      setNativeBatchOpsForTests(true);
    }
  });

  test('without batch syscalls a full hash map still reports the failing entry', () => {
    const map = createMap('fullelem', 'type hash key 8 value 16 entries 64');
    const { keys, values } = entries(0, 70);
    setNativeBatchOpsForTests(false);
    try {
      const failure = bpfFailure(() => map.updateBatch(keys, values, 70));
      expect(failure.errno).toBe('E2BIG');
      expect(failure.message).toContain('entry 64 of 70');
      expect(map.dump().count).toBe(64);
    } finally {
      setNativeBatchOpsForTests(true);
    }
  });

  test('per-CPU values are one 8-byte-aligned slot per possible CPU', () => {
    const map = createMap('pcpu', 'type percpu_hash key 4 value 4 entries 16');
    const possible = execFileSync('cat', ['/sys/devices/system/cpu/possible'], {
      encoding: 'utf8',
    }).trim();
    const cpus = possible
      .split(',')
      .map((range) => range.split('-').map(Number))
      .reduce((sum, [lo, hi]) => sum + (hi ?? lo!) - lo! + 1, 0);
    expect(map.percpu).toBe(true);
    expect(map.valueStride).toBe(8 * cpus);
    const value = Buffer.alloc(map.valueStride);
    for (let cpu = 0; cpu < cpus; cpu++) value.writeUInt32LE(cpu + 100, cpu * 8);
    map.updateBatch(u32(5), value, 1);
    expect(map.lookup(u32(5))!.equals(value)).toBe(true);
    const dump = map.dump();
    expect(dump.count).toBe(1);
    expect(dump.values.equals(value)).toBe(true);
    // A value of valueSize bytes is not enough for a per-CPU map.
    expect(bpfFailure(() => map.updateBatch(u32(5), Buffer.alloc(4), 1)).errno).toBe('EINVAL');
  });

  test('buffer lengths are checked against the map, before any syscall', () => {
    const map = createMap('check', 'type hash key 8 value 16 entries 16');
    const cases: Array<[string, () => unknown]> = [
      ['values buffer is 15 bytes', () => map.updateBatch(u64(1), Buffer.alloc(15), 1)],
      ['keys buffer is 8 bytes', () => map.updateBatch(u64(1), Buffer.alloc(32), 2)],
      ['keys buffer is 16 bytes', () => map.deleteBatch(Buffer.alloc(16), 1)],
      ['key buffer is 4 bytes', () => map.lookup(Buffer.alloc(4))],
      ['count must be an integer', () => map.updateBatch(u64(1), Buffer.alloc(16), 0.5)],
      ['count must be an integer', () => map.deleteBatch(u64(1), -1)],
    ];
    for (const [message, fn] of cases) {
      const failure = bpfFailure(fn);
      expect(failure.errno).toBe('EINVAL');
      expect(failure.message).toContain(message);
    }
    expect(map.dump().count).toBe(0);
  });

  test('dumpAsync: the same entries as dump, the walk off the event loop; a close meanwhile is harmless', async () => {
    const map = createMap('async', 'type lru_hash key 8 value 16 entries 65536');
    const n = 50_000;
    const { keys, values } = entries(0, n);
    map.updateBatch(keys, values, n);
    const sync = map.dump();
    const order: string[] = [];
    const pending = map.dumpAsync().then((result) => {
      order.push('dump');
      return result;
    });
    // The walk of 50,000 entries takes milliseconds on a pool thread; the loop turns meanwhile.
    setImmediate(() => order.push('next turn'));
    // The handle goes away while the walk runs: the walk holds an fd of its own.
    map.close();
    const dump = await pending;
    expect(order).toEqual(['next turn', 'dump']);
    expect(dump.count).toBe(n);
    const byKey = (d: typeof dump) =>
      new Map(
        [...dumpEntries(map, d)].map(([key, value]) => [
          key.readBigUInt64LE(0),
          value.toString('hex'),
        ]),
      );
    expect(byKey(dump)).toEqual(byKey(sync));
    const closed = await map.dumpAsync().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(bpfErrno(closed)).toBe('EBADF');
  });

  test('dumpPageAsync: pages cover the map once while the walker deletes what it read; without batch ops, one page', async () => {
    const map = createMap('paged', 'type lru_hash key 8 value 16 entries 65536');
    const n = 20_000;
    const { keys, values } = entries(0, n);
    map.updateBatch(keys, values, n);
    const walk = async (pageEntries: number, deleteAsYouGo: boolean) => {
      const seen = new Set<bigint>();
      let pages = 0;
      let largest = 0;
      let page = await map.dumpPageAsync(undefined, pageEntries);
      for (;;) {
        pages++;
        largest = Math.max(largest, page.count);
        for (const [key, value] of dumpEntries(map, page)) {
          const k = key.readBigUInt64LE(0);
          expect(seen.has(k)).toBe(false);
          expect(value.readBigUInt64LE(0)).toBe(k * 3n);
          seen.add(k);
        }
        if (deleteAsYouGo) map.deleteBatch(page.keys, page.count);
        if (page.next === undefined) return { seen, pages, largest };
        page = await map.dumpPageAsync(page.next, pageEntries);
      }
    };
    const read = await walk(4096, false);
    expect(read.seen.size).toBe(n);
    // Whole buckets per page: a page may pass its size by a bucket's few entries, not more.
    expect(read.pages).toBeGreaterThanOrEqual(5);
    expect(read.largest).toBeLessThan(4096 + 64);
    const drained = await walk(4096, true);
    expect(drained.seen.size).toBe(n);
    expect(map.dump().count).toBe(0);

    const few = entries(0, 100);
    map.updateBatch(few.keys, few.values, 100);
    setNativeBatchOpsForTests(false);
    try {
      const whole = await map.dumpPageAsync(undefined, 10);
      expect(whole).toMatchObject({ count: 100, next: undefined });
    } finally {
      setNativeBatchOpsForTests(true);
    }
    const refused = async (fn: () => Promise<unknown>) =>
      bpfErrno(
        await fn().then(
          () => undefined,
          (error: unknown) => error,
        ),
      );
    expect(await refused(() => map.dumpPageAsync(undefined, 0))).toBe('EINVAL');
    map.close();
    expect(await refused(() => map.dumpPageAsync(undefined, 16))).toBe('EBADF');
  });

  test('open failures and closed handles', () => {
    expect(bpfFailure(() => NativeBpfMap.openPinned(join(pinDir, 'nope'))).errno).toBe('ENOENT');
    const map = createMap('closing', 'type hash key 8 value 16 entries 16');
    map.close();
    map.close();
    expect(bpfFailure(() => map.lookup(u64(1))).errno).toBe('EBADF');
  });
});

describe('loadObject', () => {
  let objPath: string;
  const objDir = () => join(pinDir, 'obj');

  beforeAll(() => {
    objPath = compile(join(work, 'pass.o'));
  });

  test('loading twice reuses the pinned maps and their contents, and replaces the program', () => {
    const first = loadObject(objPath, objDir());
    expect(first).toEqual({
      programs: { tw_pass: join(objDir(), 'progs', 'tw_pass') },
      maps: {
        tw_test_hash: join(objDir(), 'tw_test_hash'),
        tw_test_count: join(objDir(), 'tw_test_count'),
      },
      reusedMaps: [],
    });
    const hash = NativeBpfMap.openPinned(first.maps.tw_test_hash!);
    opened.push(hash);
    expect(hash).toMatchObject({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 1024 });
    hash.updateBatch(Buffer.concat([u64(7), u64(8)]), Buffer.concat([u64(70), u64(80)]), 2);
    const prog1 = progInfo(first.programs.tw_pass!);
    expect(prog1).toMatchObject({ name: 'tw_pass', type: 'sched_cls' });
    expect(prog1.tag).toMatch(/^[0-9a-f]{16}$/);

    const second = loadObject(objPath, objDir());
    expect(second.maps).toEqual(first.maps);
    expect(second.reusedMaps.sort()).toEqual(['tw_test_count', 'tw_test_hash']);
    const again = NativeBpfMap.openPinned(second.maps.tw_test_hash!);
    opened.push(again);
    expect(again.id).toBe(hash.id);
    expect(NativeBpfMap.openPinned(second.maps.tw_test_count!).id).toBe(
      NativeBpfMap.openPinned(first.maps.tw_test_count!).id,
    );
    expect(again.lookup(u64(8))!.readBigUInt64LE(0)).toBe(80n);

    // A new program instance now sits at the same pin: same code (tag), new id.
    const prog2 = progInfo(second.programs.tw_pass!);
    expect(prog2.id).not.toBe(prog1.id);
    expect(prog2.tag).toBe(prog1.tag);
    // ... reading the same maps: the pinned ones, by id.
    const count = NativeBpfMap.openPinned(first.maps.tw_test_count!);
    opened.push(count);
    const pinnedIds = [hash.id, count.id];
    expect(prog1.mapIds).toEqual(pinnedIds.sort((a, b) => a - b));
    expect(prog2.mapIds).toEqual(prog1.mapIds);
    expect(readdirSync(join(objDir(), 'progs'))).toEqual(['tw_pass']);
  });

  test('a pinned program held open runs on frames (BPF_PROG_TEST_RUN), giving back what it returned and the frame it left, until closed', () => {
    const loaded = loadObject(objPath, objDir());
    const count = NativeBpfMap.openPinned(loaded.maps.tw_test_count!);
    opened.push(count);
    const packets = () => count.lookup(Buffer.alloc(4))!.readBigUInt64LE(0);
    const before = packets();
    const program = NativeBpfProgram.openPinned(loaded.programs.tw_pass!);
    const frame = Buffer.alloc(64);
    expect(program.testRun(frame)).toBe(0); // TC_ACT_OK
    expect(program.testRun(frame)).toBe(0);
    expect(packets()).toBe(before + 2n);
    // The frame comes back as the program left it: this one leaves it alone.
    const marked = Buffer.from(frame.map((_, i) => i));
    expect(program.testRunFrame(marked)).toEqual({ retval: 0, frame: marked });
    expect(packets()).toBe(before + 3n);
    // Shorter than an Ethernet header: refused before the kernel sees it.
    expect(bpfFailure(() => program.testRun(Buffer.alloc(8))).errno).toBe('EINVAL');
    expect(bpfFailure(() => program.testRunFrame(Buffer.alloc(8))).errno).toBe('EINVAL');
    program.close();
    program.close();
    expect(bpfFailure(() => program.testRun(frame)).errno).toBe('EBADF');
    expect(bpfFailure(() => program.testRunFrame(frame)).errno).toBe('EBADF');
    expect(packets()).toBe(before + 3n);
    // What is pinned must be a program.
    expect(bpfFailure(() => NativeBpfProgram.openPinned(loaded.maps.tw_test_hash!)).errno).toBe(
      'EINVAL',
    );
    expect(
      bpfFailure(() => NativeBpfProgram.openPinned(join(objDir(), 'progs', 'nope'))).errno,
    ).toBe('ENOENT');
  });

  test('a map whose definition changed is refused with libbpf’s reason', () => {
    loadObject(objPath, objDir());
    const variant = compile(join(work, 'pass-2048.o'), ['-DTW_TEST_HASH_ENTRIES=2048']);
    const failure = bpfFailure(() => loadObject(variant, objDir()));
    expect(failure.message).toContain('parameter mismatch');
    expect(failure.message).toContain(join(objDir(), 'tw_test_hash'));
    // The old map is untouched.
    expect(NativeBpfMap.openPinned(join(objDir(), 'tw_test_hash')).maxEntries).toBe(1024);
  });

  test('a pin directory outside bpffs is reported as such', () => {
    const failure = bpfFailure(() => loadObject(objPath, join(work, 'not-bpffs')));
    expect(failure.errno).toBe('ENOTBPFFS');
    expect(failure.message).toMatch(/not on a bpffs/);
  });

  test('a missing or broken object file', () => {
    expect(bpfFailure(() => loadObject(join(work, 'missing.o'), objDir())).errno).toBe('ENOENT');
    const junk = join(work, 'junk.o');
    writeFileSync(junk, 'not an ELF file');
    expect(bpfFailure(() => loadObject(junk, objDir())).message).toContain(junk);
  });
});

describe('releaseFreedHeap', () => {
  // A child process of its own: the test runner's heap is too busy to read one change from. The
  // child fills the C heap with 1 KB buffers (Buffer.allocUnsafeSlow mallocs each), keeps every
  // 200th, frees the rest, and reads its anonymous RSS before, after the frees, and after the call.
  // The whole process's RssAnon, not the [heap] mapping's: glibc may serve the buffers from a
  // mapping of its own (a second arena, or when brk cannot grow), and the trim covers those too.
  // Nothing but the call runs between the last two readings, so their difference is the trim's.
  const child = `
    const { readFileSync } = require('node:fs');
    const addon = require(process.argv[1]);
    const anonMb = () =>
      Number(/RssAnon:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const startMb = anonMb();
    const kept = [];
    let all = [];
    for (let i = 0; i < 40000; i++) {
      const buffer = Buffer.allocUnsafeSlow(1000).fill(1);
      all.push(buffer);
      if (i % 200 === 199) kept.push(buffer);
    }
    all = undefined;
    gc();
    gc();
    const freedMb = anonMb();
    addon.releaseFreedHeap();
    console.log(JSON.stringify({ startMb, freedMb, trimmedMb: anonMb(), kept: kept.length }));
  `;

  test('gives the free pages between live allocations back to the kernel', () => {
    const addonPath = addonCandidates().find((candidate) => existsSync(candidate));
    if (addonPath === undefined) throw new Error('the terway_bpf addon is not built');
    const out = execFileSync(process.execPath, ['--expose-gc', '-e', child, addonPath], {
      env: terwaydEnv(process.env),
    }).toString();
    const { startMb, freedMb, trimmedMb, kept } = JSON.parse(out) as {
      startMb: number;
      freedMb: number;
      trimmedMb: number;
      kept: number;
    };
    expect(kept).toBe(200);
    // ~40 MB freed but held: every 200th buffer pins the heap's pages from being trimmed at free().
    expect(freedMb - startMb).toBeGreaterThan(30);
    expect(freedMb - trimmedMb).toBeGreaterThan(30);
  });
});

describe('tc in a pod netns', () => {
  let ns: TestNetns;
  let prog: string;
  const threadNetns = () => readlinkSync('/proc/thread-self/ns/net');
  const filters = (direction: 'ingress' | 'egress') =>
    execFileSync(
      'nsenter',
      [`--net=${ns.path}`, 'tc', 'filter', 'show', 'dev', 'eth0', direction],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      // One header line per priority, then one line per filter (the one with a handle).
      .filter((line) => line.startsWith('filter') && line.includes(' handle '));

  beforeAll(() => {
    ns = new TestNetns();
    execFileSync('ip', [
      '-n',
      ns.name,
      'link',
      'add',
      'eth0',
      'type',
      'veth',
      'peer',
      'name',
      'peer0',
    ]);
    execFileSync('ip', ['-n', ns.name, 'addr', 'add', '192.0.2.1/24', 'dev', 'eth0']);
    execFileSync('ip', ['-n', ns.name, 'link', 'set', 'eth0', 'up']);
    execFileSync('ip', ['-n', ns.name, 'link', 'set', 'peer0', 'up']);
    const loaded = loadObject(compile(join(work, 'tc.o')), join(pinDir, 'tc'));
    prog = loaded.programs.tw_pass!;
  });

  /** How many packets tw_pass counted while one broadcast ping left eth0 (no ARP needed). */
  const packetsCountedOnEgress = async (): Promise<number> => {
    const counter = NativeBpfMap.openPinned(join(pinDir, 'tc', 'tw_test_count'));
    const count = () => counter.lookup(Buffer.alloc(4))!.readBigUInt64LE();
    try {
      const before = count();
      await new Promise<void>((resolve) =>
        execFile(
          'ip',
          ['netns', 'exec', ns.name, 'ping', '-b', '-c', '1', '-W', '1', '192.0.2.255'],
          () => resolve(),
        ),
      );
      return Number(count() - before);
    } finally {
      counter.close();
    }
  };

  /** Whether the kernel freed program `id` (polled: it goes after an RCU grace period). */
  const programFreed = async (id: number): Promise<boolean> => {
    for (let attempt = 0; attempt < 40; attempt++) {
      try {
        execFileSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' });
      } catch {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return false;
  };
  afterAll(() => {
    ns?.delete();
  });

  test('clsact: attach, query, re-attach replaces, detach; the thread stays in its own netns', () => {
    const before = threadNetns();
    const interfaces = Object.keys(networkInterfaces()).sort();
    expect(tcQuery(ns.path, 'eth0', 'egress')).toBeNull(); // no clsact qdisc yet
    expect(tcDetach(ns.path, 'eth0', 'egress')).toBe(false);

    const { progId, hook } = tcAttach(ns.path, 'eth0', prog, 'egress', 'clsact');
    expect(progId).toBe(progInfo(prog).id);
    expect(hook).toBe('clsact');
    expect(threadNetns()).toBe(before);
    expect(tcQuery(ns.path, 'eth0', 'egress')).toEqual({
      progId,
      name: 'tw_pass',
      tag: progInfo(prog).tag,
      mapIds: progInfo(prog).mapIds,
      loadData: '',
      hook: 'clsact',
    });
    expect(tcQuery(ns.path, 'eth0', 'ingress')).toBeNull();
    const shown = filters('egress');
    expect(shown).toHaveLength(1);
    expect(shown[0]).toContain('direct-action');
    expect(shown[0]).toContain(`id ${progId}`);

    // Reload the object (new program at the same pin) and attach again: replaced, not stacked.
    loadObject(compile(join(work, 'tc.o')), join(pinDir, 'tc'));
    const second = tcAttach(ns.path, 'eth0', prog, 'egress', 'clsact');
    expect(second.progId).not.toBe(progId);
    expect(filters('egress')).toHaveLength(1);
    expect(filters('egress')[0]).toContain(`id ${second.progId}`);
    expect(tcQuery(ns.path, 'eth0', 'egress')?.progId).toBe(second.progId);

    tcAttach(ns.path, 'eth0', prog, 'ingress', 'clsact');
    expect(filters('ingress')).toHaveLength(1);

    expect(tcDetach(ns.path, 'eth0', 'egress')).toBe(true);
    expect(filters('egress')).toHaveLength(0);
    expect(tcQuery(ns.path, 'eth0', 'egress')).toBeNull();
    expect(filters('ingress')).toHaveLength(1);
    expect(tcDetach(ns.path, 'eth0', 'ingress')).toBe(true);
    expect(tcDetach(ns.path, 'eth0', 'ingress')).toBe(false);

    expect(threadNetns()).toBe(before);
    expect(Object.keys(networkInterfaces()).sort()).toEqual(interfaces);
    expect(interfaces).not.toContain('peer0');
  });

  test('tcx where the kernel has it, clsact elsewhere; either takes over from our program on the other hook', async () => {
    const before = threadNetns();
    const expected = kernelAtLeast(6, 6) ? 'tcx' : 'clsact';
    // What an older daemon left: our filter on clsact.
    const old = tcAttach(ns.path, 'eth0', prog, 'egress', 'clsact');
    expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({
      progId: old.progId,
      hook: 'clsact',
    });

    const attached = tcAttach(ns.path, 'eth0', prog, 'egress', 'tcx');
    expect(attached).toEqual({ progId: progInfo(prog).id, hook: expected });
    expect(tcQuery(ns.path, 'eth0', 'egress')).toEqual({
      progId: attached.progId,
      name: 'tw_pass',
      tag: progInfo(prog).tag,
      mapIds: progInfo(prog).mapIds,
      loadData: '',
      hook: expected,
    });
    // With tcx the filter is gone, yet eth0's packets still run the program.
    expect(filters('egress')).toHaveLength(expected === 'tcx' ? 0 : 1);
    expect(await packetsCountedOnEgress()).toBeGreaterThan(0);

    // A new program at the same pin replaces the attached one in place: the old one, attached
    // nowhere and pinned nowhere, is freed by the kernel.
    loadObject(compile(join(work, 'tc.o')), join(pinDir, 'tc'));
    const second = tcAttach(ns.path, 'eth0', prog, 'egress', 'tcx');
    expect(second.progId).not.toBe(attached.progId);
    expect(tcQuery(ns.path, 'eth0', 'egress')?.progId).toBe(second.progId);
    await expect(programFreed(attached.progId)).resolves.toBe(true);
    expect(tcAttach(ns.path, 'eth0', prog, 'egress', 'tcx')).toEqual(second); // again: no change

    // Back to clsact (terwayd's default): the filter comes in, then our tcx program goes.
    expect(tcAttach(ns.path, 'eth0', prog, 'egress', 'clsact')).toEqual({
      progId: second.progId,
      hook: 'clsact',
    });
    expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({ hook: 'clsact' });
    expect(filters('egress')).toHaveLength(1);
    expect(await packetsCountedOnEgress()).toBeGreaterThan(0);
    tcAttach(ns.path, 'eth0', prog, 'egress', 'tcx');

    expect(tcDetach(ns.path, 'eth0', 'egress')).toBe(true);
    expect(tcQuery(ns.path, 'eth0', 'egress')).toBeNull();
    expect(filters('egress')).toHaveLength(0);
    expect(await packetsCountedOnEgress()).toBe(0);
    expect(tcDetach(ns.path, 'eth0', 'egress')).toBe(false);
    expect(threadNetns()).toBe(before);
  });

  test('failures throw BPF_ERROR and leave the thread in its own netns', () => {
    const before = threadNetns();
    const cases: Array<[string, string, () => unknown]> = [
      [
        'ENOENT',
        '/run/netns/tw-no-such-ns',
        () => tcAttach('/run/netns/tw-no-such-ns', 'eth0', prog, 'egress'),
      ],
      ['ENODEV', 'no-such-if', () => tcAttach(ns.path, 'no-such-if', prog, 'egress')],
      ['ENODEV', 'no-such-if', () => tcQuery(ns.path, 'no-such-if', 'ingress')],
      ['ENODEV', 'no-such-if', () => tcDetach(ns.path, 'no-such-if', 'egress')],
      [
        'ENOENT',
        'missing-prog',
        () => tcAttach(ns.path, 'eth0', join(pinDir, 'missing-prog'), 'egress'),
      ],
      // Not a namespace file: setns refuses it.
      ['EINVAL', '/etc/hostname', () => tcQuery('/etc/hostname', 'eth0', 'egress')],
      ['EINVAL', 'direction', () => tcQuery(ns.path, 'eth0', 'sideways' as 'egress')],
      ['EINVAL', 'hook', () => tcAttach(ns.path, 'eth0', prog, 'egress', 'xdp' as 'tcx')],
    ];
    for (const [errno, mention, fn] of cases) {
      const failure = bpfFailure(fn);
      expect({ errno: failure.errno, mentions: failure.message.includes(mention) }).toEqual({
        errno,
        mentions: true,
      });
      expect(threadNetns()).toBe(before);
    }
    // A map pinned where a program is expected.
    const map = join(pinDir, 'tc', 'tw_test_hash');
    expect(bpfFailure(() => tcAttach(ns.path, 'eth0', map, 'egress')).message).toContain(
      'not a pinned program',
    );
    expect(filters('egress')).toHaveLength(0);
  });
});
