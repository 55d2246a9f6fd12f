/**
 * A vSwitch that runs out: the ADDs beyond its addresses wait and then fail with the reason, the
 * vSwitch is skipped for a while instead of being asked again and again, and `terway-cli` says
 * which vSwitch and why.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { DaemonProcess, runProcess } from '../support/processes.js';
import { BINS } from '../support/bins.js';
import type { EmulatedNode } from '../support/emulated-node.js';
import {
  allocate,
  showFactory,
  startEmulatedNode,
  TEST_VSWITCH,
  TEST_ZONE,
} from '../support/emulated-node.js';

let node: EmulatedNode;
let daemon: DaemonProcess;

beforeAll(async () => {
  // A /28 has 12 usable addresses (network and the top three are reserved); the instance's
  // primary NIC takes one, which leaves 11 for pods.
  node = await startEmulatedNode('ecs.g7.xlarge', {
    vswitches: [{ vswitchId: TEST_VSWITCH, zoneId: TEST_ZONE, cidr: '10.30.0.0/28' }],
  });
  daemon = new DaemonProcess({
    ...node.cloudConfig,
    vswitches: { [TEST_ZONE]: [TEST_VSWITCH] },
    max_pool_size: 20,
  });
  await daemon.start();
}, 60_000);

afterAll(async () => {
  await daemon?.cleanup();
  await node?.emulator.stop();
});

describe('an exhausted vSwitch', () => {
  test('is inhibited, and the node says which and why', async () => {
    const granted = [];
    for (let i = 0; i < 11; i++) granted.push(await allocate(daemon.socket, `fits-${i}`));
    expect(new Set(granted.map((pod) => pod.ip)).size).toBe(11);

    // The 12th pod cannot get an address: its ADD fails when its deadline passes.
    await expect(allocateWithin(daemon.socket, 'does-not-fit', 3_000)).rejects.toThrow(
      /IpNotEnough|no free addresses|exhausted|deadline/i,
    );

    const factory = await showFactory(daemon.socket);
    const vsw = factory.cloud?.vswitches.find((entry) => entry.id === TEST_VSWITCH);
    expect(vsw?.inhibitedUntilMs).toBeGreaterThan(Date.now());
    expect(vsw?.reason).toContain('InvalidVSwitchId.IpNotEnough');

    const human = await runProcess(BINS.terwayCli, ['--socket', daemon.socket, 'show', 'factory']);
    expect(human.stdout).toMatch(
      new RegExp(
        `vSwitch ${TEST_VSWITCH} \\(${TEST_ZONE}\\): skipped for another \\d+m: .*IpNotEnough`,
      ),
    );
    // Skipped means not asked again: a second starved ADD adds no Create or Assign calls.
    const before = node.emulator.stats().calls;
    await expect(allocateWithin(daemon.socket, 'still-does-not-fit', 2_000)).rejects.toThrow();
    const after = node.emulator.stats().calls;
    expect(after['CreateNetworkInterface']).toBe(before['CreateNetworkInterface']);
    expect(after['AssignPrivateIpAddresses']).toBe(before['AssignPrivateIpAddresses']);
  }, 60_000);
});

async function allocateWithin(socket: string, name: string, timeoutMs: number) {
  const { invokeBackend } = await import('../../src/cni/backend-client.js');
  return invokeBackend(
    { socketPath: socket, timeoutMs },
    'AllocateIP',
    {
      pod: { namespace: 'default', name, containerId: `ctr-${name}` },
      netns: `/var/run/netns/${name}`,
      ifname: 'eth0',
    },
    name,
  );
}
