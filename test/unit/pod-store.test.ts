import { afterAll, afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { open } from 'lmdb';

import { LmdbPodStore, POD_STORE_FILE } from '../../src/store/lmdb-pod-store.js';
import { MemoryPodStore } from '../../src/store/memory-pod-store.js';
import { podKey, recordKey } from '../../src/store/pod-record.js';
import type { PodRecord } from '../../src/store/pod-record.js';
import type { PodStore } from '../../src/store/pod-store.js';

const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pod-store-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function record(name: string, overrides: Partial<PodRecord> = {}): PodRecord {
  return {
    namespace: 'default',
    name,
    containerId: `c-${name}`,
    ip: '10.99.0.10',
    eniId: 'eni-0123456789abcdef0123',
    netns: `/var/run/netns/cni-${name}`,
    ifname: 'eth0',
    allocatedAtMs: 1_700_000_000_000,
    ...overrides,
  };
}

/** A store kind, and a "disk" that outlives any one store opened on it. */
interface Backend {
  open(): Promise<PodStore>;
  dispose(): void;
}

const backends: { name: string; create: () => Backend }[] = [
  {
    name: 'MemoryPodStore',
    create: () => {
      const disk = new Map<string, PodRecord>();
      return { open: async () => new MemoryPodStore(disk), dispose: () => undefined };
    },
  },
  {
    name: 'LmdbPodStore',
    create: () => {
      const dir = tempDir();
      return {
        open: () => LmdbPodStore.open(join(dir, 'state')),
        dispose: () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
];

describe.each(backends)('$name contract', ({ create }) => {
  let backend: Backend;
  let store: PodStore;

  beforeEach(async () => {
    backend = create();
    store = await backend.open();
  });

  afterEach(async () => {
    await store.close();
    backend.dispose();
  });

  test('starts empty', () => {
    expect(store.list()).toEqual([]);
    expect(store.get(podKey('default', 'nope'))).toBeUndefined();
  });

  test('put then get and list, sorted by key', async () => {
    await store.put(record('b'));
    await store.put(record('a', { namespace: 'kube-system' }));
    await store.put(record('a'));
    expect(store.get('default/b')).toEqual(record('b'));
    expect(store.list().map(recordKey)).toEqual(['default/a', 'default/b', 'kube-system/a']);
  });

  test('a pod key holds one record: put replaces', async () => {
    await store.put(record('a'));
    await store.put(record('a', { containerId: 'c-new', ip: '10.99.0.11' }));
    expect(store.list()).toEqual([record('a', { containerId: 'c-new', ip: '10.99.0.11' })]);
  });

  test('delete says whether a record was removed', async () => {
    await store.put(record('a'));
    await expect(store.delete('default/a')).resolves.toBe(true);
    await expect(store.delete('default/a')).resolves.toBe(false);
    await expect(store.delete('default/never')).resolves.toBe(false);
    expect(store.get('default/a')).toBeUndefined();
  });

  test('unawaited writes apply in call order', async () => {
    const results = await Promise.all([
      store.put(record('a')),
      store.delete('default/a'),
      store.delete('default/a'),
      store.put(record('b')),
      store.put(record('b', { ip: '10.99.0.12' })),
    ]);
    expect(results.slice(1, 3)).toEqual([true, false]);
    expect(store.list()).toEqual([record('b', { ip: '10.99.0.12' })]);
  });

  test('many concurrent puts all land', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `pod-${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((name) => store.put(record(name))));
    expect(store.list().map((r) => r.name)).toEqual(names);
  });

  test('records are copies: changing one does not change the store', async () => {
    const original = record('a');
    await store.put(original);
    original.ip = '1.1.1.1';
    const got = store.get('default/a');
    if (got !== undefined) got.ip = '2.2.2.2';
    const listed = store.list()[0];
    if (listed !== undefined) listed.ip = '3.3.3.3';
    expect(store.get('default/a')?.ip).toBe('10.99.0.10');
  });

  test('reopening after close keeps the data', async () => {
    await store.put(record('a'));
    await store.put(record('b'));
    await store.delete('default/a');
    await store.close();
    store = await backend.open();
    expect(store.list()).toEqual([record('b')]);
  });

  test('refuses use after close', async () => {
    await store.close();
    expect(() => store.list()).toThrow(expect.objectContaining({ code: 'STORE_ERROR' }));
    expect(() => store.get('default/a')).toThrow(expect.objectContaining({ code: 'STORE_ERROR' }));
    await expect(store.put(record('a'))).rejects.toMatchObject({ code: 'STORE_ERROR' });
    await expect(store.delete('default/a')).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });

  test('behaves like a map under any sequence of writes', async () => {
    const model = new Map<string, PodRecord>();
    const command = fc.record({
      op: fc.constantFrom('put', 'delete'),
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      ip: fc.ipV4(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(command, { maxLength: 20 }), async (commands) => {
        const pending: Promise<unknown>[] = [];
        const expected: boolean[] = [];
        for (const { op, name, ip } of commands) {
          const key = podKey('default', name);
          if (op === 'put') {
            model.set(key, record(name, { ip }));
            pending.push(store.put(record(name, { ip })));
          } else {
            expected.push(model.delete(key));
            pending.push(store.delete(key));
          }
        }
        const results = await Promise.all(pending);
        expect(results.filter((r) => typeof r === 'boolean')).toEqual(expected);
        const sorted = [...model.keys()].sort().map((key) => model.get(key));
        expect(store.list()).toEqual(sorted);
      }),
      { numRuns: 30 },
    );
  });
});

describe('LmdbPodStore', () => {
  test('keeps its data in <stateDir>/pods.lmdb, creating the directory', async () => {
    const stateDir = join(tempDir(), 'nested', 'state');
    const store = await LmdbPodStore.open(stateDir);
    await store.put(record('a'));
    expect(store.path).toBe(join(stateDir, POD_STORE_FILE));
    expect(existsSync(join(stateDir, POD_STORE_FILE))).toBe(true);
    await store.close();
  });

  test('refuses to store an invalid record', async () => {
    const store = await LmdbPodStore.open(tempDir());
    await expect(store.put(record('a', { ip: 'not-an-ip' }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(store.put(record(''))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(store.list()).toEqual([]);
    await store.close();
  });

  test('skips corrupt entries and reports their keys', async () => {
    const stateDir = tempDir();
    const store = await LmdbPodStore.open(stateDir);
    await store.put(record('good'));
    await store.close();

    const raw = open<Buffer, string>({ path: join(stateDir, POD_STORE_FILE), encoding: 'binary' });
    await raw.put('default/not-json', Buffer.from('{"namespace": "def'));
    await raw.put('default/wrong-shape', Buffer.from(JSON.stringify({ hello: 'world' })));
    await raw.put('default/other-key', Buffer.from(JSON.stringify(record('someone-else'))));
    await raw.close();

    const reopened = await LmdbPodStore.open(stateDir);
    const corrupt = ['default/not-json', 'default/other-key', 'default/wrong-shape'];
    expect(reopened.corruptKeys()).toEqual(corrupt);
    expect(reopened.list()).toEqual([record('good')]);
    expect(reopened.get('default/not-json')).toBeUndefined();

    await reopened.put(record('other-key'));
    await expect(reopened.delete('default/not-json')).resolves.toBe(true);
    expect(reopened.corruptKeys()).toEqual(['default/wrong-shape']);
    expect(reopened.list().map(recordKey)).toEqual(['default/good', 'default/other-key']);
    await reopened.close();
  });

  test('reads are served from the records decoded at open; a write shows once it is on disk', async () => {
    const stateDir = tempDir();
    const store = await LmdbPodStore.open(stateDir);
    await store.put(record('a'));
    // A second writer of the file (never the case in production: terwayd is the only one) is not
    // seen: reads do not go back to the file.
    const raw = open<Buffer, string>({ path: join(stateDir, POD_STORE_FILE), encoding: 'binary' });
    await raw.put('default/b', Buffer.from(JSON.stringify(record('b'))));
    await raw.close();
    expect(store.list().map(recordKey)).toEqual(['default/a']);
    expect(store.get('default/b')).toBeUndefined();

    const replacing = store.put(record('a', { ip: '10.99.0.11' }));
    expect(store.get('default/a')?.ip).toBe('10.99.0.10');
    await replacing;
    expect(store.get('default/a')?.ip).toBe('10.99.0.11');
    const deleting = store.delete('default/a');
    expect(store.get('default/a')).toBeDefined();
    await expect(deleting).resolves.toBe(true);
    expect(store.get('default/a')).toBeUndefined();
    await store.close();

    // What the file holds is what a reopened store reads.
    const reopened = await LmdbPodStore.open(stateDir);
    expect(reopened.list()).toEqual([record('b')]);
    await reopened.close();
  });

  test('an unusable state directory is a STORE_ERROR', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    await expect(LmdbPodStore.open(file)).rejects.toMatchObject({ code: 'STORE_ERROR' });
  });
});
