/**
 * A node with no AccessKey anywhere: terwayd in ECS mode finds the instance's RAM role in
 * metadata, signs with its STS credentials, and serves pods. The emulator accepts only the
 * credentials it issued for that role.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { DaemonProcess } from '../support/processes.js';
import type { EmulatedNode } from '../support/emulated-node.js';
import { allocate, startEmulatedNode } from '../support/emulated-node.js';

const ROLE = 'KubernetesWorkerRole';

let node: EmulatedNode;
let daemon: DaemonProcess;

beforeAll(async () => {
  node = await startEmulatedNode(
    'ecs.g7.xlarge',
    { requireMetadataToken: true },
    { ramRoleName: ROLE },
  );
  const withoutKeys = Object.fromEntries(
    Object.entries(node.cloudConfig).filter(([key]) => !key.startsWith('access_')),
  );
  daemon = new DaemonProcess(withoutKeys);
  await daemon.start();
}, 60_000);

afterAll(async () => {
  await daemon?.cleanup();
  await node?.emulator.stop();
});

describe('credentials from the RAM role', () => {
  test('pods get IPs with STS credentials from metadata, and no secret reaches the log', async () => {
    const pod = await allocate(daemon.socket, 'role-pod');
    expect(pod.ip).toMatch(/^10\.20\./);

    const entries = daemon.logEntries();
    const loaded = entries.find((entry) => entry['msg'] === 'cloud credentials loaded');
    expect(loaded).toMatchObject({ source: 'ram_role', role: ROLE });
    const issued = node.emulator.metadataSource().roleCredentials(node.instanceId);
    expect(issued).toBeDefined();
    for (const secret of [issued!.accessKeySecret, issued!.securityToken]) {
      expect(daemon.logs).not.toContain(secret);
    }
  }, 60_000);
});
