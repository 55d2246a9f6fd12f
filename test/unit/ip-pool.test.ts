import { describe, expect, test } from '@jest/globals';
import { CloudErrorCodes } from '../../src/cloud/provider.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import type { IpLease } from '../../src/pool/ip-state.js';
import { poolFixture } from '../support/pool-fixture.js';

/** Collects a promise's outcome without awaiting it, so fake time can move meanwhile. */
function track<T>(promise: Promise<T>): { value?: T; error?: unknown; done: () => boolean } {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return {
    get value() {
      return state.value;
    },
    get error() {
      return state.error;
    },
    done: () => state.settled,
  };
}

describe('IpPool allocation', () => {
  test('an allocation on an empty pool waits for the refill instead of failing', async () => {
    const { clock, pool } = await poolFixture();
    const pending = track(pool.allocate('default/a', clock.now() + 10_000));
    await clock.advance(10);
    expect(pending.done()).toBe(false);
    await clock.advance(1_000);
    expect(pending.done()).toBe(true);
    expect(pending.value?.ip).toMatch(/^10\.20\.0\.\d+$/);
    expect(pool.stateOf(pending.value!.ip)).toBe('in_use');
    expect(pool.ownerOf(pending.value!.ip)).toBe('default/a');
  });

  test('concurrent demand is coalesced into few batched cloud calls of at most 10 IPs', async () => {
    const { clock, cloud, pool } = await poolFixture({ maxPoolSize: 50 });
    const requests = Array.from({ length: 25 }, (_, i) =>
      track(pool.allocate(`default/p${i}`, clock.now() + 30_000)),
    );
    await clock.advance(5_000);
    expect(requests.every((r) => r.done() && r.value !== undefined)).toBe(true);
    const ips = new Set(requests.map((r) => r.value!.ip));
    expect(ips.size).toBe(25);
    const calls = cloud.callCounts();
    // 25 IPs at <= 10 per call needs at least 3 calls; coalescing keeps it near that.
    expect(calls.createEni + calls.assignPrivateIps).toBeGreaterThanOrEqual(3);
    expect(calls.createEni + calls.assignPrivateIps).toBeLessThanOrEqual(5);
    for (const eni of cloud.snapshot()) expect(eni.privateIps.length).toBeLessThanOrEqual(15);
  });

  test('a burst that starts with one pod: the first create fills its ENI up to max_pool_size', async () => {
    // The first ADD of a burst is planned alone (ip_batch_window); the next nine arrive while its
    // ENI is being created. Room for ten idle IPs: the create asks for ten, and the nine are
    // served from it with no assign. With room for none, each later pod costs an assign.
    const burst = async (maxPoolSize: number) => {
      const { clock, cloud, pool } = await poolFixture({ maxPoolSize });
      const first = track(pool.allocate('default/p0', clock.now() + 30_000));
      await clock.advance(50);
      const rest = Array.from({ length: 9 }, (_, i) =>
        track(pool.allocate(`default/p${i + 1}`, clock.now() + 30_000)),
      );
      await clock.advance(5_000);
      expect([first, ...rest].every((r) => r.done() && r.value !== undefined)).toBe(true);
      return cloud.callCounts();
    };
    expect(await burst(10)).toMatchObject({ createEni: 1, assignPrivateIps: 0 });
    expect((await burst(0)).assignPrivateIps).toBeGreaterThan(0);
  });

  test('new ENIs are created when the existing ones are full', async () => {
    const { clock, cloud, pool } = await poolFixture({ maxPoolSize: 100 });
    const leases: IpLease[] = [];
    for (let i = 0; i < 20; i++) {
      const pending = track(pool.allocate(`ns/p${i}`, clock.now() + 60_000));
      await clock.advance(2_000);
      leases.push(pending.value!);
    }
    // ecs.g7.xlarge: 15 IPs per ENI, so 20 pods need a second ENI.
    expect(new Set(leases.map((l) => l.eniId)).size).toBe(2);
    expect(cloud.snapshot()).toHaveLength(2);
  });

  test('an allocation past its deadline fails with POOL_EXHAUSTED naming the cloud error', async () => {
    const { clock, cloud, pool } = await poolFixture();
    cloud.injectFailure('createEni', CloudErrorCodes.VSwitchIpNotEnough, 100);
    const pending = track(pool.allocate('default/a', clock.now() + 3_000));
    await clock.advance(3_500);
    expect(pending.error).toBeInstanceOf(TerwayError);
    const error = pending.error as TerwayError;
    expect(error.code).toBe('POOL_EXHAUSTED');
    expect(error.message).toContain(CloudErrorCodes.VSwitchIpNotEnough);
    expect(pool.snapshot().pool.waiting).toBe(0);
  });

  test('at capacity, a waiter is served by the next release', async () => {
    // ecs.g6.large: one secondary ENI with 6 IPs.
    const { clock, pool } = await poolFixture({ maxPoolSize: 10 }, 'ecs.g6.large');
    const leases: IpLease[] = [];
    for (let i = 0; i < 6; i++) {
      const pending = track(pool.allocate(`ns/p${i}`, clock.now() + 60_000));
      await clock.advance(1_000);
      leases.push(pending.value!);
    }
    expect(pool.canAllocate()).toBe(false);
    const seventh = track(pool.allocate('ns/p6', clock.now() + 60_000));
    await clock.advance(2_000);
    expect(seventh.done()).toBe(false);
    pool.release(leases[2]!.ip);
    await clock.advance(1);
    expect(seventh.value?.ip).toBe(leases[2]!.ip);
  });

  test('a waiter that times out at capacity says the node is full', async () => {
    const { clock, pool } = await poolFixture({ maxPoolSize: 10 }, 'ecs.g6.large');
    for (let i = 0; i < 6; i++) {
      void pool.allocate(`ns/p${i}`, clock.now() + 60_000);
      await clock.advance(1_000);
    }
    const late = track(pool.allocate('ns/late', clock.now() + 1_000));
    await clock.advance(1_500);
    expect((late.error as TerwayError).code).toBe('POOL_AT_CAPACITY');
  });

  test('an aborted allocation leaves the queue and its IP stays idle', async () => {
    const { clock, pool } = await poolFixture();
    const controller = new AbortController();
    const pending = track(pool.allocate('ns/a', clock.now() + 60_000, controller.signal));
    controller.abort(new Error('shim went away'));
    await clock.advance(2_000);
    expect(pending.error).toBeInstanceOf(Error);
    expect(pool.snapshot().pool.waiting).toBe(0);
    expect(pool.snapshot().pool.inUse).toBe(0);
  });

  test('released IPs are reused longest-idle first', async () => {
    const { clock, pool } = await poolFixture({ minPoolSize: 6, maxPoolSize: 20 });
    pool.start();
    await clock.advance(2_000);
    const a = await pool.allocate('ns/a', clock.now() + 10_000);
    const b = await pool.allocate('ns/b', clock.now() + 10_000);
    await clock.advance(1_000);
    pool.release(a.ip);
    pool.release(b.ip);
    const idle = pool
      .snapshot()
      .enis.flatMap((e) => e.ips)
      .filter((i) => i.state === 'idle');
    expect(idle.length).toBeGreaterThan(2);
    const c = await pool.allocate('ns/c', clock.now() + 10_000);
    // Every never-used idle IP has been idle longer than the two just released.
    expect([a.ip, b.ip]).not.toContain(c.ip);
    await pool.stop();
  });
});

describe('IpPool watermarks', () => {
  test('min_pool_size is filled at start without any demand', async () => {
    const { clock, pool } = await poolFixture({ minPoolSize: 8, maxPoolSize: 10 });
    pool.start();
    await clock.advance(2_000);
    expect(pool.snapshot().pool.idle).toBeGreaterThanOrEqual(8);
    expect(pool.snapshot().pool.idle).toBeLessThanOrEqual(10);
    await pool.stop();
  });

  test('idle IPs above max_pool_size go back to the cloud, and an emptied ENI is deleted', async () => {
    const { clock, cloud, pool } = await poolFixture({ maxPoolSize: 3 });
    pool.start();
    const leases = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const p = pool.allocate(`ns/p${i}`, clock.now() + 60_000);
        return p;
      }).map(async (p, i) => {
        if (i === 0) await clock.advance(5_000);
        return p;
      }),
    );
    expect(cloud.snapshot()).toHaveLength(2);
    for (const lease of leases) pool.release(lease.ip);
    await clock.advance(30_000);
    const figures = pool.snapshot().pool;
    expect(figures.inUse).toBe(0);
    expect(figures.idle).toBeLessThanOrEqual(3);
    expect(figures.idle).toBeGreaterThanOrEqual(0);
    // 20 idle, keep 3: at least one whole ENI could go.
    expect(cloud.snapshot().length).toBeLessThanOrEqual(1);
    const cloudIps = cloud.snapshot().flatMap((e) => e.privateIps);
    expect(cloudIps.length).toBe(figures.idle);
    await pool.stop();
  });

  test('reclaim never goes below min_pool_size', async () => {
    const { clock, pool } = await poolFixture({ minPoolSize: 4, maxPoolSize: 4 });
    pool.start();
    await clock.advance(2_000);
    const leases = [];
    for (let i = 0; i < 10; i++) leases.push(pool.allocate(`ns/p${i}`, clock.now() + 60_000));
    await clock.advance(5_000);
    for (const lease of await Promise.all(leases)) pool.release(lease.ip);
    await clock.advance(60_000);
    expect(pool.snapshot().pool.idle).toBe(4);
    await pool.stop();
  });

  test('EniPerInstanceLimitExceeded stops ENI creation for a while and is reported', async () => {
    const { clock, cloud, pool } = await poolFixture();
    cloud.injectFailure('createEni', CloudErrorCodes.EniPerInstanceLimitExceeded, 1);
    const pending = track(pool.allocate('ns/a', clock.now() + 120_000));
    await clock.advance(2_000);
    expect(pending.done()).toBe(false);
    expect(pool.snapshot().pool.lastError).toContain(CloudErrorCodes.EniPerInstanceLimitExceeded);
    expect(cloud.callCounts().createEni).toBe(1);
    await clock.advance(70_000);
    expect(pending.value?.ip).toBeDefined();
    expect(cloud.callCounts().createEni).toBe(2);
  });
});

describe('IpPool restore', () => {
  test('claims rebind to their IPs; a claim the cloud lost stays visible as invalid', async () => {
    const first = await poolFixture({ maxPoolSize: 20 });
    const a = track(first.pool.allocate('ns/a', first.clock.now() + 10_000));
    const b = track(first.pool.allocate('ns/b', first.clock.now() + 10_000));
    await first.clock.advance(2_000);
    const enis = await (async () => {
      const listing = first.cloud.listEnis();
      await first.clock.advance(100);
      return listing;
    })();

    const second = await poolFixture({ maxPoolSize: 20 });
    const conflicts = second.pool.restore(enis, [
      { ip: a.value!.ip, eniId: a.value!.eniId, owner: 'ns/a' },
      { ip: b.value!.ip, eniId: b.value!.eniId, owner: 'ns/b' },
      { ip: '10.20.0.200', eniId: a.value!.eniId, owner: 'ns/gone' },
      { ip: a.value!.ip, eniId: a.value!.eniId, owner: 'ns/dup' },
    ]);
    expect(conflicts.map((c) => c.owner)).toEqual(['ns/dup']);
    expect(second.pool.ownerOf(a.value!.ip)).toBe('ns/a');
    expect(second.pool.stateOf(b.value!.ip)).toBe('in_use');
    expect(second.pool.stateOf('10.20.0.200')).toBe('invalid');
    expect(second.pool.release('10.20.0.200')).toBe(true);
    expect(second.pool.stateOf('10.20.0.200')).toBeUndefined();
  });
});
