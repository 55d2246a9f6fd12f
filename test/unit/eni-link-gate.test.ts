import { describe, expect, test } from '@jest/globals';

import { EniLinkGate } from '../../src/dataplane/eni-link-gate.js';
import { EniLinks } from '../../src/dataplane/eni-links.js';
import { MemoryKernel } from '../../src/dataplane/kernel/memory-kernel.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import { FakeClock } from '../../src/util/fake-clock.js';
import { memoryCloud, SILENT_LOG } from '../support/pool-fixture.js';

const NODE = netnsAt('/var/run/netns/node');

function fixture(timeoutMs = 5_000) {
  const clock = new FakeClock();
  const kernel = new MemoryKernel();
  kernel.addNetns(NODE);
  const cloud = memoryCloud(clock);
  const links = new EniLinks({ kernel, hostNetns: NODE, mtu: 9000, clock, log: SILENT_LOG });
  return { clock, kernel, cloud, gate: new EniLinkGate(cloud, links, SILENT_LOG, timeoutMs) };
}

describe('EniLinkGate', () => {
  test('a new ENI is handed to the pool only once its link exists, and it is up with the MTU', async () => {
    const { clock, kernel, cloud, gate } = fixture();
    let created: { id: string } | undefined;
    const creating = gate.createEni(2).then((eni) => (created = eni));
    await clock.advance(500);
    expect(created).toBeUndefined();
    const [eni] = cloud.snapshot();
    kernel.addDevice(NODE, 'eth1', eni!.mac, 1500);
    await clock.advance(2_000);
    await creating;
    expect(created?.id).toBe(eni!.id);
    const link = (await kernel.read(NODE)).links.find((candidate) => candidate.name === 'eth1');
    expect(link).toMatchObject({ up: true, mtu: 9000 });
  });

  test('an ENI whose link never appears is deleted, never leaked', async () => {
    const { clock, cloud, gate } = fixture(3_000);
    const creating = gate.createEni(2).catch((error: unknown) => error);
    await clock.advance(10_000);
    expect(await creating).toMatchObject({ code: 'ENI_LINK_MISSING' });
    expect(cloud.snapshot()).toEqual([]);
  });
});
