/**
 * ENIs the daemon does not own are never touched. A real terwayd in ECS mode runs against the
 * emulator through a recording proxy (every ECS call, with the ENI ids it names) while ENIs
 * created by someone else sit on the same instance (one attached with IPs, one loose, one
 * another node's leftover), before, during and across a restart, with and without
 * eni_tag_filter. The daemon creates, fills, empties and deletes its own ENIs meanwhile; at the
 * end the foreign ENIs must be exactly as they were, and only ever have been described.
 */
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { CREATOR_TAG_KEY, INSTANCE_TAG_KEY } from '../../src/cloud/aliyun/node-identity.js';
import type { EmulatedEniSnapshot } from '../../src/emulator/ecs-emulator.js';
import { DaemonProcess } from '../support/processes.js';
import type { EmulatedNode, PodIp } from '../support/emulated-node.js';
import {
  allocate,
  eventually,
  release,
  showFactory,
  startEmulatedNode,
  TEST_ACCESS_KEY,
  TEST_VSWITCH,
} from '../support/emulated-node.js';
import { Ecs, ecsClient } from './emulator-harness.js';
import type { EcsClient } from './emulator-harness.js';

const REGION = 'cn-hangzhou';
const SECURITY_GROUP = 'sg-emulator0';

interface RecordedCall {
  action: string;
  eniIds: string[];
}

/** Forwards every request unchanged (the signed Host header included) and notes what it named. */
async function startRecordingProxy(
  target: string,
): Promise<{ endpoint: string; calls: RecordedCall[]; close: () => Promise<void> }> {
  const [host, port] = target.split(':') as [string, string];
  const calls: RecordedCall[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const eniIds = [...url.searchParams.entries()]
      .filter(([key]) => key === 'NetworkInterfaceId' || key.startsWith('NetworkInterfaceId.'))
      .map(([, value]) => value);
    calls.push({
      action: String(req.headers['x-acs-action'] ?? url.searchParams.get('Action')),
      eniIds,
    });
    const upstream = httpRequest(
      { host, port: Number(port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    endpoint: `127.0.0.1:${own}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function createForeign(
  sdk: EcsClient,
  tags: Record<string, string>,
  secondaries: number,
): Promise<string> {
  const response = await sdk.createNetworkInterface(
    new Ecs.CreateNetworkInterfaceRequest({
      regionId: REGION,
      vSwitchId: TEST_VSWITCH,
      securityGroupId: SECURITY_GROUP,
      secondaryPrivateIpAddressCount: secondaries,
      tag: Object.entries(tags).map(
        ([key, value]) => new Ecs.CreateNetworkInterfaceRequestTag({ key, value }),
      ),
    }),
  );
  const id = response.body?.networkInterfaceId;
  if (id === undefined) throw new Error('CreateNetworkInterface returned no id');
  return id;
}

/** What the daemon could have changed about an ENI. */
function essentials(eni: EmulatedEniSnapshot | undefined) {
  if (eni === undefined) return undefined;
  return {
    status: eni.status,
    instanceId: eni.instanceId,
    deviceIndex: eni.deviceIndex,
    privateIps: [...eni.privateIps].sort(),
    tags: eni.tags,
  };
}

const SCENARIOS: [string, Record<string, unknown>, Record<string, string>][] = [
  ['without eni_tag_filter', {}, {}],
  [
    // The filter's tags are not all in eni_tags: the daemon must still find its own ENIs.
    'with eni_tag_filter',
    { eni_tags: { team: 'net' }, eni_tag_filter: { cluster: 'c1', team: 'net' } },
    { cluster: 'c1', team: 'net' },
  ],
];

describe.each(SCENARIOS)('ENIs the daemon does not own, %s', (_name, tagConfig, filter) => {
  let node: EmulatedNode;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let daemon: DaemonProcess;
  let foreign: Record<'attached' | 'loose' | 'otherNode', string>;
  let before: Map<string, ReturnType<typeof essentials>>;

  beforeAll(async () => {
    // g7.xlarge: 3 secondary ENIs x 15 IPs; the foreign one takes a slot, two are left.
    node = await startEmulatedNode('ecs.g7.xlarge', {
      latencies: { perApi: {}, attachMs: 50, detachMs: 50, deleteMs: 50 },
    });
    proxy = await startRecordingProxy(node.emulator.endpoint);
    const sdk = ecsClient(node.emulator, TEST_ACCESS_KEY);
    // Attached by an operator for something else; with a filter, it even carries part of it.
    const partial = Object.fromEntries(Object.entries(filter).slice(0, 1));
    const attached = await createForeign(sdk, { owner: 'operator', ...partial }, 3);
    await sdk.attachNetworkInterface(
      new Ecs.AttachNetworkInterfaceRequest({
        regionId: REGION,
        networkInterfaceId: attached,
        instanceId: node.instanceId,
      }),
    );
    // Not attached to anything: the leak sweep must not take it for ours.
    const loose = await createForeign(sdk, { owner: 'operator' }, 1);
    // Another node's ENI, perhaps being attached there right now: ours in every tag but one.
    const otherNode = await createForeign(
      sdk,
      { ...filter, [CREATOR_TAG_KEY]: 'terway-node', [INSTANCE_TAG_KEY]: 'i-elsewhere' },
      1,
    );
    foreign = { attached, loose, otherNode };
    expect(
      await eventually(
        async () => node.emulator.enis().find((eni) => eni.id === attached)?.status === 'InUse',
        5_000,
        20,
      ),
    ).toBe(true);
    before = new Map(
      Object.values(foreign).map((id) => [
        id,
        essentials(node.emulator.enis().find((eni) => eni.id === id)),
      ]),
    );

    daemon = new DaemonProcess({
      ...node.cloudConfig,
      ...tagConfig,
      ecs_endpoint: `http://${proxy.endpoint}`,
      min_pool_size: 0,
      max_pool_size: 2,
      // Frequent syncs: every one lists the instance's ENIs, the foreign one included.
      ip_pool_sync_period: '1s',
    });
    await daemon.start();
  }, 60_000);

  afterAll(async () => {
    await daemon?.cleanup();
    await proxy?.close();
    await node?.emulator.stop();
  });

  async function assertNotInPool(): Promise<string[]> {
    const factory = await showFactory(daemon.socket);
    const ids = factory.enis.map((eni) => eni.id);
    for (const id of Object.values(foreign)) expect(ids).not.toContain(id);
    const foreignIps = new Set(before.get(foreign.attached)?.privateIps);
    for (const ip of factory.enis.flatMap((eni) => eni.ips)) {
      expect(foreignIps.has(ip.address)).toBe(false);
    }
    return ids;
  }

  function callsOf(api: string): number {
    return node.emulator.stats().calls[api] ?? 0;
  }

  test('are never listed, assigned, unassigned, detached or deleted, across a restart', async () => {
    expect(await assertNotInPool()).toEqual([]);

    // Two ENIs of our own: 15 IPs on the first, 3 on the second.
    const pods = new Map<string, PodIp>();
    for (let i = 0; i < 18; i++) pods.set(`pod-${i}`, await allocate(daemon.socket, `pod-${i}`));
    const ours = [...new Set([...pods.values()].map((pod) => pod.eniId))];
    expect(ours).toHaveLength(2);
    for (const id of Object.values(foreign)) expect(ours).not.toContain(id);
    // Every ENI the daemon made carries the filter's tags, so a restart finds it again.
    for (const id of ours) {
      expect(node.emulator.enis().find((eni) => eni.id === id)?.tags).toMatchObject({
        ...filter,
        [CREATOR_TAG_KEY]: 'terway-node',
        [INSTANCE_TAG_KEY]: node.instanceId,
      });
    }
    await assertNotInPool();

    // Emptying the second ENI and part of the first: the ENI is deleted, IPs unassigned.
    const [first, second] = ours as [string, string];
    const leaving = [...pods.entries()]
      .filter(([, pod]) => pod.eniId === second)
      .concat([...pods.entries()].filter(([, pod]) => pod.eniId === first).slice(0, 6));
    for (const [name] of leaving) {
      await release(daemon.socket, name);
      pods.delete(name);
    }
    expect(
      await eventually(
        async () =>
          callsOf('DeleteNetworkInterface') >= 1 && callsOf('UnassignPrivateIpAddresses') >= 1,
        20_000,
      ),
    ).toBe(true);
    await assertNotInPool();

    // A restart: the daemon takes back its own ENI (and its pods), and nothing else.
    await daemon.stop();
    await daemon.start();
    expect(await assertNotInPool()).toEqual([first]);
    const factory = await showFactory(daemon.socket);
    const stateOf = (ip: string) =>
      factory.enis.flatMap((eni) => eni.ips).find((entry) => entry.address === ip)?.state;
    for (const pod of pods.values()) expect(stateOf(pod.ip)).toBe('in_use');

    // More churn after the restart, then everything goes back.
    for (let i = 18; i < 30; i++) pods.set(`pod-${i}`, await allocate(daemon.socket, `pod-${i}`));
    await assertNotInPool();
    for (const name of [...pods.keys()]) await release(daemon.socket, name);
    const unassigns = callsOf('UnassignPrivateIpAddresses');
    expect(
      await eventually(async () => callsOf('UnassignPrivateIpAddresses') > unassigns, 20_000),
    ).toBe(true);
    await assertNotInPool();
    await daemon.stop();

    // Only ever described: no assign, unassign, attach, detach or delete named a foreign ENI.
    const touching = proxy.calls.filter(
      (call) =>
        call.action !== 'DescribeNetworkInterfaces' &&
        call.eniIds.some((id) => Object.values(foreign).includes(id)),
    );
    expect(touching).toEqual([]);
    // The daemon's traffic did go through the proxy, mutating calls included.
    const actions = new Set(proxy.calls.map((call) => call.action));
    for (const api of [
      'CreateNetworkInterface',
      'AssignPrivateIpAddresses',
      'UnassignPrivateIpAddresses',
      'DeleteNetworkInterface',
    ]) {
      expect(actions).toContain(api);
    }
    // And the emulator agrees: each foreign ENI is exactly as it was.
    for (const [id, was] of before) {
      expect(essentials(node.emulator.enis().find((eni) => eni.id === id))).toEqual(was);
    }
  }, 120_000);
});
