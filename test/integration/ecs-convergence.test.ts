/**
 * A real terwayd, in ECS mode (credentials, endpoints and metadata pointed at the emulator, so
 * every call goes through the official SDK and the signature check), serving 100 pods through
 * churn while the account throttles, fails, attaches slowly and leaves one attach stuck.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { DaemonProcess } from '../support/processes.js';
import { seededRandom } from '../support/seeded-random.js';
import type { EmulatedNode, PodIp } from '../support/emulated-node.js';
import {
  allocate,
  eventually,
  release,
  showFactory,
  startEmulatedNode,
} from '../support/emulated-node.js';

const PODS = 100;
const MAX_POOL_SIZE = 10;
/** Mutating and read APIs alike: the faults hit whatever the daemon calls. */
const FAULTED_APIS = [
  'CreateNetworkInterface',
  'AttachNetworkInterface',
  'DetachNetworkInterface',
  'DeleteNetworkInterface',
  'DescribeNetworkInterfaces',
  'AssignPrivateIpAddresses',
  'UnassignPrivateIpAddresses',
  'DescribeVSwitches',
];

let node: EmulatedNode;
let daemon: DaemonProcess;

beforeAll(async () => {
  // ebmg5.24xlarge: 31 secondary ENIs x 10 IPs, so 100 pods need ten ENIs at once.
  node = await startEmulatedNode('ecs.ebmg5.24xlarge', {
    // The stuck attach fails back to Available after 3 s, as ECS reports a failed attach.
    latencies: {
      perApi: {},
      attachMs: 1_000,
      detachMs: 300,
      deleteMs: 300,
      stuckAttachFailMs: 3_000,
    },
    // Seeded, so the injected faults fall the same way on every run.
    random: seededRandom(20261125),
  });
  daemon = new DaemonProcess({
    ...node.cloudConfig,
    min_pool_size: 0,
    max_pool_size: MAX_POOL_SIZE,
    eni_attach_timeout: '4s',
    unclaimed_ip_grace_period: 0,
    ip_pool_sync_period: '3s',
  });
  await daemon.start();
  const { emulator } = node;
  for (const api of FAULTED_APIS) {
    emulator.setFault(api, { errorRate: 0.2, errorCode: 'Throttling' });
  }
  // A second, independent fault source: 5% InternalError on top of the 20% throttling.
  emulator.setFault('*', { errorRate: 0.05, errorCode: 'InternalError' });
  emulator.stickNextAttaches(1);
}, 60_000);

afterAll(async () => {
  await daemon?.cleanup();
  await node?.emulator.stop();
});

function expectDistinct(pods: Map<string, PodIp>): void {
  const ips = [...pods.values()].map((pod) => pod.ip);
  expect(new Set(ips).size).toBe(ips.length);
}

describe('pool convergence under cloud faults', () => {
  test('100 pods through churn: no shared IP, no leaked IP, no leaked ENI', async () => {
    const live = new Map<string, PodIp>();
    const allocateAll = async (names: string[]) => {
      const results = await Promise.all(names.map((name) => allocate(daemon.socket, name)));
      names.forEach((name, i) => live.set(name, results[i] as PodIp));
      expectDistinct(live);
    };

    const first = Array.from({ length: PODS }, (_, i) => `pod-a${i}`);
    await allocateAll(first);
    expect(live.size).toBe(PODS);

    const leaving = first.slice(0, 60);
    await Promise.all(leaving.map((name) => release(daemon.socket, name)));
    for (const name of leaving) live.delete(name);

    await allocateAll(Array.from({ length: 60 }, (_, i) => `pod-b${i}`));
    expect(live.size).toBe(PODS);

    await Promise.all([...live.keys()].map((name) => release(daemon.socket, name)));
    live.clear();

    node.emulator.clearFaults();
    const ours = () => node.emulator.enis().filter((eni) => eni.tags['creator'] === 'terway-node');

    // Converged: the pool is back within max_pool_size, nothing is in flight, and every ENI we
    // ever created is either attached to this node and known to the pool, or gone.
    const settled = await eventually(async () => {
      const factory = await showFactory(daemon.socket);
      const poolIps = factory.enis.flatMap((eni) => eni.ips.map((ip) => ip.address));
      const cloudIps = ours()
        .filter((eni) => eni.status === 'InUse')
        .flatMap((eni) => eni.privateIps);
      const pending = factory.enis.reduce((sum, eni) => sum + eni.pendingIps, 0);
      return (
        pending === 0 &&
        poolIps.length <= MAX_POOL_SIZE &&
        ours().every((eni) => eni.status === 'InUse' && eni.instanceId === node.instanceId) &&
        new Set(poolIps).size === poolIps.length &&
        poolIps.length === cloudIps.length &&
        cloudIps.every((ip) => poolIps.includes(ip))
      );
    }, 60_000);
    const factory = await showFactory(daemon.socket);
    const summary = {
      pool: factory.pool,
      poolEnis: factory.enis.map((eni) => ({ id: eni.id, ips: eni.ips.length })),
      cloudEnis: ours().map((eni) => ({
        id: eni.id,
        status: eni.status,
        ips: eni.privateIps.length,
      })),
    };
    if (!settled) throw new Error(`did not converge: ${JSON.stringify(summary, null, 1)}`);
    expect(factory.enis.every((eni) => eni.ips.every((ip) => ip.state === 'idle'))).toBe(true);

    const stats = node.emulator.stats();
    // The faults really happened, and the daemon got through them.
    const injected = Object.values(stats.injectedErrors).reduce((a, b) => a + b, 0);
    const calls = Object.values(stats.calls).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThanOrEqual(3);
    expect(calls).toBeGreaterThan(injected);
    // The stuck attach was given up on and its ENI deleted rather than leaked.
    const messages = daemon.logEntries().map((entry) => entry['msg']);
    expect(messages).toContain('ENI could not be attached; deleting it so it does not leak');
    expect(stats.calls['DeleteNetworkInterface'] ?? 0).toBeGreaterThanOrEqual(1);
  }, 240_000);
});
