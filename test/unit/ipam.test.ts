import { describe, expect, test } from '@jest/globals';
import { Ipam } from '../../src/daemon/ipam.js';
import { MemoryPodStore } from '../../src/store/memory-pod-store.js';
import { poolFixture, SILENT_LOG } from '../support/pool-fixture.js';

const POD = { namespace: 'default', name: 'web-0', containerId: 'sandbox-1' };
const ADD = { ...POD, netns: '/var/run/netns/web-0', ifname: 'eth0' };

async function ipamFixture() {
  const fixture = await poolFixture({ maxPoolSize: 10 });
  const store = new MemoryPodStore();
  const ipam = new Ipam(fixture.pool, store, fixture.clock, SILENT_LOG);
  return { ...fixture, store, ipam };
}

describe('Ipam', () => {
  test('a DEL naming only the container id waits for that sandbox’s running ADD', async () => {
    const { clock, pool, store, ipam } = await ipamFixture();
    // The pool is empty, so the ADD is still waiting for the cloud when the DEL arrives.
    const adding = ipam.allocate(ADD, clock.now() + 30_000);
    const deleting = ipam.release({ namespace: '', name: '', containerId: POD.containerId });
    await clock.advance(5_000);
    const added = await adding;
    const released = await deleting;
    expect(released?.ip).toBe(added.record.ip);
    expect(store.list()).toHaveLength(0);
    expect(pool.stateOf(added.record.ip)).toBe('idle');
  });

  test('a retried ADD returns the recorded IP; a new sandbox of the pod takes it over', async () => {
    const { clock, ipam } = await ipamFixture();
    const first = ipam.allocate(ADD, clock.now() + 30_000);
    await clock.advance(5_000);
    const original = await first;
    const retried = await ipam.allocate(ADD, clock.now() + 30_000);
    expect(retried.reused).toBe(true);
    expect(retried.record.ip).toBe(original.record.ip);
    const replaced = await ipam.allocate({ ...ADD, containerId: 'sandbox-2' }, clock.now());
    expect(replaced.record.ip).toBe(original.record.ip);
    expect(replaced.record.containerId).toBe('sandbox-2');
    // The old sandbox's DEL is stale now and must not free the pod's IP.
    expect(await ipam.release(POD)).toBeUndefined();
    expect((await ipam.release({ ...POD, containerId: 'sandbox-2' }))?.ip).toBe(original.record.ip);
    expect(await ipam.release({ ...POD, containerId: 'sandbox-2' })).toBeUndefined();
  });
});
