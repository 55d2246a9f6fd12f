import { describe, expect, test } from '@jest/globals';

import { KeyedMutex } from '../../src/util/keyed-mutex.js';

/** A promise with its resolve, to hold work open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets every queued microtask and the promise jobs they queue run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('KeyedMutex', () => {
  test('work for one key runs alone, in arrival order, each started only after the last ended', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const gates = [gate(), gate(), gate()];
    const runs = gates.map((g, index) =>
      mutex.run('pod', async () => {
        log.push(`start ${index}`);
        await g.promise;
        log.push(`end ${index}`);
        return index;
      }),
    );
    await settle();
    expect(log).toEqual(['start 0']);
    // Released out of order: the second and third still wait for the first.
    gates[2]!.open();
    gates[1]!.open();
    await settle();
    expect(log).toEqual(['start 0']);
    gates[0]!.open();
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2]);
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
    expect(mutex.size()).toBe(0);
  });

  test('different keys run concurrently', async () => {
    const mutex = new KeyedMutex();
    const a = gate();
    const started: string[] = [];
    const first = mutex.run('a', async () => {
      started.push('a');
      await a.promise;
    });
    const second = mutex.run('b', async () => {
      started.push('b');
    });
    await second;
    expect(started).toEqual(['a', 'b']);
    expect(mutex.size()).toBe(1);
    a.open();
    await first;
    expect(mutex.size()).toBe(0);
  });

  test('a failing holder passes the key on, and its caller gets the error', async () => {
    const mutex = new KeyedMutex();
    const held = gate();
    const failing = mutex.run('pod', async () => {
      await held.promise;
      throw new Error('boom');
    });
    const after = mutex.run('pod', async () => 'next ran');
    held.open();
    await expect(failing).rejects.toThrow('boom');
    await expect(after).resolves.toBe('next ran');
    expect(mutex.size()).toBe(0);
  });

  test('a holder that throws synchronously releases the key too', async () => {
    const mutex = new KeyedMutex();
    await expect(
      mutex.run('pod', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(mutex.size()).toBe(0);
    await expect(mutex.run('pod', async () => 1)).resolves.toBe(1);
  });

  test('work its holder queues for the same key waits until the holder ends', async () => {
    const mutex = new KeyedMutex();
    const first = gate();
    const order: number[] = [];
    const one = mutex.run('pod', async () => {
      await first.promise;
      order.push(1);
    });
    const two = mutex.run('pod', async () => {
      order.push(2);
      // Queued while the key is still held by this run: it must wait for this one to end.
      void mutex.run('pod', async () => {
        order.push(4);
      });
      await settle();
      order.push(3);
    });
    first.open();
    await Promise.all([one, two]);
    await settle();
    expect(order).toEqual([1, 2, 3, 4]);
    expect(mutex.size()).toBe(0);
  });
});
