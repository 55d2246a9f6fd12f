import type { EmulatorOptions } from '../../src/emulator/ecs-emulator.js';
import { EcsEmulator } from '../../src/emulator/ecs-emulator.js';
import { invokeBackend } from '../../src/cni/backend-client.js';
import { BINS } from './bins.js';
import { runProcess } from './processes.js';

export const TEST_ACCESS_KEY = {
  accessKeyId: 'LTAItestnode0001',
  accessKeySecret: 'test-secret-0001',
};
export const TEST_ZONE = 'cn-hangzhou-k';
export const TEST_VSWITCH = 'vsw-test0';

/** An emulated account with one node, and the eni_conf that points a real terwayd at it. */
export interface EmulatedNode {
  emulator: EcsEmulator;
  instanceId: string;
  /** eni_conf keys that select real-ECS mode against this emulator. */
  cloudConfig: Record<string, unknown>;
}

export async function startEmulatedNode(
  instanceType: string,
  overrides: Partial<EmulatorOptions> = {},
  node: { ramRoleName?: string } = {},
): Promise<EmulatedNode> {
  const emulator = await EcsEmulator.start({
    accessKeys: [TEST_ACCESS_KEY],
    regionId: 'cn-hangzhou',
    vpcCidr: '10.0.0.0/8',
    vswitches: [{ vswitchId: TEST_VSWITCH, zoneId: TEST_ZONE, cidr: '10.20.0.0/16' }],
    ...overrides,
  });
  const { instanceId } = emulator.addInstance({
    instanceType,
    zoneId: TEST_ZONE,
    vswitchId: TEST_VSWITCH,
    ...node,
  });
  return {
    emulator,
    instanceId,
    cloudConfig: {
      cloud: 'ecs',
      access_key: TEST_ACCESS_KEY.accessKeyId,
      access_secret: TEST_ACCESS_KEY.accessKeySecret,
      region_id: 'cn-hangzhou',
      ecs_endpoint: `http://${emulator.endpoint}`,
      vpc_endpoint: `http://${emulator.endpoint}`,
      metadata_endpoint: emulator.metadataUrl(instanceId),
      // These suites test the cloud side; their pods are names, not namespaces (the lab tests
      // wire real ones).
      datapath: 'none',
    },
  };
}

export interface PodIp {
  ip: string;
  eniId: string;
}

export async function allocate(socket: string, name: string): Promise<PodIp> {
  const reply = await invokeBackend(
    { socketPath: socket, timeoutMs: 120_000 },
    'AllocateIP',
    {
      pod: { namespace: 'default', name, containerId: `ctr-${name}` },
      netns: `/var/run/netns/${name}`,
      ifname: 'eth0',
    },
    name,
  );
  if (reply.network === null) throw new Error(`AllocateIP for ${name} returned no network`);
  return { ip: reply.network.ip, eniId: reply.network.eniId };
}

export async function release(socket: string, name: string): Promise<void> {
  await invokeBackend(
    { socketPath: socket, timeoutMs: 30_000 },
    'ReleaseIP',
    { pod: { namespace: 'default', name, containerId: `ctr-${name}` }, ifname: 'eth0' },
    name,
  );
}

export interface FactoryIp {
  address: string;
  state: string;
  owner?: { name: string } | null;
}
export interface FactoryEni {
  id: string;
  mac: string;
  status: string;
  ips: FactoryIp[];
  pendingIps: number;
}
export interface FactoryVSwitch {
  id: string;
  inhibitedUntilMs: number;
  reason: string;
}
export interface Factory {
  enis: FactoryEni[];
  pool: Record<string, number | string>;
  cloud: { vswitches: FactoryVSwitch[]; pendingCleanup: string[] } | null;
}

export async function showFactory(socket: string): Promise<Factory> {
  const result = await runProcess(BINS.terwayCli, [
    '--socket',
    socket,
    'show',
    'factory',
    '--json',
  ]);
  if (result.status !== 0) throw new Error(`terway-cli failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Factory;
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it succeeded. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
