import { describe, expect, test } from '@jest/globals';
import pino from 'pino';

import { mergeParts } from '../../src/cli/introspection-client.js';
import {
  FLOWS_PER_PART,
  FRONTENDS_PER_PART,
  listFlows as listFlowParts,
  MOST_LISTED_FLOWS,
  showServices as showServiceParts,
  type LbIntrospectionDeps,
} from '../../src/daemon/lb-introspection.js';
import type { GateOpening } from '../../src/daemon/service-sync-gate.js';
import type { ListFlowsReply } from '../../src/rpc/generated/terway/v1/ListFlowsReply.js';
import type { ListFlowsRequest } from '../../src/rpc/generated/terway/v1/ListFlowsRequest.js';
import type { ShowServicesReply } from '../../src/rpc/generated/terway/v1/ShowServicesReply.js';
import { TerwayError } from '../../src/errors/terway-error.js';
import { EndpointPodIndex, NO_ENDPOINT_PODS } from '../../src/k8s/endpoint-pods.js';
import { leanEndpointsOf } from '../../src/k8s/lean-endpoint-slice.js';
import { LbReconciler } from '../../src/lb/lb-reconciler.js';
import {
  ARRAY_INDEX,
  FLOW_F_DIRECT,
  FLOW_F_PORT_MOVED,
  FLOW_KEY,
  IPPROTO_TCP,
  IPPROTO_UDP,
  LB_LIMITS,
  MOVED_PORT,
  NODE_COUNTERS,
  type FlowState,
} from '../../src/lb/maps/lb-layouts.js';
import { encode } from '../../src/lb/maps/struct-codec.js';
import { memoryLbMaps } from '../../src/lb/memory-lb-maps.js';
import type { PodRecord } from '../../src/store/pod-record.js';
import { backends, frontend } from '../support/desired-frontends.js';
import { writeFlows } from '../support/flow-entries.js';

const log = pino({ level: 'silent' });
const MS = 1_000_000n;
/** The programs' clock "now" in these tests: an hour after boot. */
const NOW_NS = 3_600_000n * MS;

function pod(name: string, ip: string): PodRecord {
  return {
    namespace: 'default',
    name,
    containerId: `c-${name}`,
    ip,
    eniId: 'eni-1',
    netns: `/var/run/netns/${name}`,
    ifname: 'eth0',
    allocatedAtMs: 1,
  };
}

interface Flow {
  client: string;
  clientPort: number;
  frontend?: string;
  frontendPort?: number;
  proto?: number;
  backend: string;
  firstSeenMsAgo: number;
  lastSeenMsAgo: number;
  state?: FlowState;
  flags?: number;
}

function writeNodeFlows(maps: ReturnType<typeof memoryLbMaps>, flows: Flow[]): void {
  writeFlows(
    maps.flow,
    flows.map((flow) => ({
      ...flow,
      firstSeenNs: NOW_NS - BigInt(flow.firstSeenMsAgo) * MS,
      lastSeenNs: NOW_NS - BigInt(flow.lastSeenMsAgo) * MS,
      packets: 4n,
      bytes: 260n,
    })),
  );
}

/**
 * What the Service source's EndpointSlices name: 10.0.0.21 as web-0-old (a stale slice: a pod
 * record here says web-0 holds it now, and the record wins) and two pods on other nodes, one of
 * them in another namespace than its slice.
 */
function slicePods(): EndpointPodIndex {
  const endpoint = (ip: string, name: string, namespace?: string) => ({
    addresses: [ip],
    targetRef: { kind: 'Pod', name, ...(namespace === undefined ? {} : { namespace }) },
  });
  const lean = leanEndpointsOf(
    [
      endpoint('10.0.0.21', 'web-0-old'),
      endpoint('10.0.0.30', 'dns-1', 'kube-system'),
      endpoint('10.0.0.31', 'web-1', 'default'),
    ],
    'default',
  );
  return new EndpointPodIndex([
    { namespace: 'default', endpointCodes: lean.endpointCodes, endpointPods: lean.endpointPods! },
  ]);
}

async function node(flows: Flow[]): Promise<LbIntrospectionDeps> {
  const maps = memoryLbMaps();
  const reconciler = new LbReconciler({ maps, logger: log });
  reconciler.replaceService('default/web', [
    frontend('10.96.0.10', backends('10.0.0.21', '10.0.0.31')),
  ]);
  reconciler.markSynced();
  await reconciler.whenIdle();
  writeNodeFlows(maps, flows);
  return {
    lb: {
      maps,
      reconciler,
      source: 'file',
      pinDir: '/sys/fs/bpf/test',
      thisNode: { name: 'node-1', zone: 'cn-hangzhou-k' },
      sourceProblem: () => undefined,
      endpointPods: slicePods,
      firstStateGate: { holdRemainingMs: () => 0, openedBy: 'first-state' },
    },
    pods: () => [
      pod('client-a', '10.0.0.10'),
      pod('client-b', '10.0.0.11'),
      pod('web-0', '10.0.0.21'),
    ],
    monotonicNs: () => NOW_NS,
  };
}

const FLOWS: Flow[] = [
  {
    client: '10.0.0.10',
    clientPort: 40_001,
    backend: '10.0.0.21',
    firstSeenMsAgo: 90_000,
    lastSeenMsAgo: 5_000,
  },
  {
    client: '10.0.0.10',
    clientPort: 40_002,
    backend: '10.0.0.21',
    firstSeenMsAgo: 3_000,
    lastSeenMsAgo: 1_000,
  },
  {
    client: '10.0.0.11',
    clientPort: 40_003,
    backend: '10.0.0.21',
    firstSeenMsAgo: 60_000,
    lastSeenMsAgo: 30_000,
  },
  // A flow to a frontend nothing desires any more, from an address no pod here holds.
  {
    client: '10.0.9.9',
    clientPort: 40_004,
    frontend: '10.96.0.99',
    frontendPort: 53,
    proto: IPPROTO_UDP,
    backend: '10.0.0.30',
    firstSeenMsAgo: 10_000,
    lastSeenMsAgo: 10_000,
  },
];

/** The whole reply, as terway-cli puts the parts together. */
function showServices(deps: LbIntrospectionDeps, filter: string): ShowServicesReply {
  return mergeParts(sent(showServiceParts(deps, filter)), 'frontends');
}

async function collect<T>(parts: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const part of parts) all.push(part);
  return all;
}

/** The parts a stream would send: a producer's undefined is a pause, not a part. */
function sent<T>(parts: Iterable<T | undefined>): T[] {
  return [...parts].filter((part): part is T => part !== undefined);
}

async function listFlows(
  deps: LbIntrospectionDeps,
  request: ListFlowsRequest,
): Promise<ListFlowsReply> {
  return mergeParts(await collect(listFlowParts(deps, request)), 'flows');
}

function thrownBy(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('ShowServices', () => {
  test('names the source, the sync, the node and zone, and the pods behind backends here and elsewhere', async () => {
    const deps = await node([]);
    const reply = showServices(deps, '');
    expect(reply).toMatchObject({
      enabled: true,
      source: 'file',
      synced: true,
      lastError: '',
      pinDir: '/sys/fs/bpf/test',
      node: 'node-1',
      zone: 'cn-hangzhou-k',
      parkedFrontendIds: 0,
      sourceProblem: '',
    });
    expect(reply.frontends).toHaveLength(1);
    expect(reply.frontends![0]).toMatchObject({
      address: '10.96.0.10',
      port: 80,
      protocol: 'TCP',
      service: 'default/web',
      portName: 'http',
      blocked: '',
      pending: false,
      counters: { packets: 0, bytes: 0, flows: 0, rejected: 0 },
    });
    expect(reply.frontends![0]!.backends).toEqual([
      expect.objectContaining({
        address: '10.0.0.21',
        port: 8080,
        state: 'ready',
        pod: { namespace: 'default', name: 'web-0', containerId: 'c-web-0' },
      }),
      // On another node: named by its EndpointSlice, without a sandbox.
      expect.objectContaining({
        address: '10.0.0.31',
        pod: { namespace: 'default', name: 'web-1', containerId: '' },
      }),
    ]);
  });

  test('the header says why the source is not delivering, read at each call', async () => {
    const deps = await node([]);
    let problem: string | undefined = 'services file not applied: not valid YAML';
    deps.lb = { ...deps.lb!, sourceProblem: () => problem };
    expect(showServices(deps, '')).toMatchObject({
      sourceProblem: 'services file not applied: not valid YAML',
    });
    problem = undefined;
    expect(showServices(deps, '')).toMatchObject({ sourceProblem: '' });
  });

  test('the header says whether pod ADDs are held for the first state, and for how much longer', async () => {
    const deps = await node([]);
    let remaining = 4_200.4;
    let opened: GateOpening | undefined;
    deps.lb = {
      ...deps.lb!,
      firstStateGate: {
        holdRemainingMs: () => remaining,
        get openedBy() {
          return opened;
        },
      },
    };
    expect(showServices(deps, '')).toMatchObject({
      addHoldRemainingMs: 4_201,
      addHoldExpired: false,
    });
    remaining = 0;
    opened = 'bound-passed';
    expect(showServices(deps, '')).toMatchObject({ addHoldRemainingMs: 0, addHoldExpired: true });
    opened = 'first-state';
    expect(showServices(deps, '')).toMatchObject({ addHoldRemainingMs: 0, addHoldExpired: false });
  });

  test("the header carries the datapath's node totals of new flows, read at each call", async () => {
    const deps = await node([]);
    expect(showServices(deps, '')).toMatchObject({
      newFlowsBalanced: 0,
      newFlowsRefused: 0,
      newFlowsClashed: 0,
      newFlowsMoved: 0,
      directConnectionsMoved: 0,
    });
    deps.lb!.maps.nodeStats.updateBatch(
      encode(ARRAY_INDEX, { index: 0 }),
      encode(NODE_COUNTERS, {
        flows: 9n,
        rejected: 2n,
        clashes: 1n,
        moved: 3n,
        movedDirect: 4n,
        reused: 0n,
      }),
      1,
    );
    expect(showServices(deps, '')).toMatchObject({
      newFlowsBalanced: 9,
      newFlowsRefused: 2,
      newFlowsClashed: 1,
      newFlowsMoved: 3,
      directConnectionsMoved: 4,
    });
  });

  test('a daemon without the Service LB says so instead of an empty list', () => {
    const reply = showServices({ lb: undefined, pods: () => [] }, '');
    expect(reply).toMatchObject({ enabled: false, frontends: [] });
  });

  test('a bad filter is an INVALID_ARGUMENT', async () => {
    const deps = await node([]);
    const error = thrownBy(() => showServices(deps, 'web'));
    expect(error).toBeInstanceOf(TerwayError);
    expect((error as TerwayError).code).toBe('INVALID_ARGUMENT');
  });
});

describe('ListFlows', () => {
  test('every record, most recently active first, with pods, Service and ages by the programs clock', async () => {
    const deps = await node(FLOWS);
    const reply = await listFlows(deps, {});
    expect(reply).toMatchObject({ enabled: true, total: 4, matched: 4 });
    expect(reply.flows!.map((flow) => flow.clientPort)).toEqual([40_002, 40_001, 40_004, 40_003]);
    expect(reply.flows![0]).toMatchObject({
      protocol: 'TCP',
      clientAddress: '10.0.0.10',
      clientPod: { namespace: 'default', name: 'client-a' },
      frontendAddress: '10.96.0.10',
      frontendPort: 80,
      service: 'default/web',
      backendAddress: '10.0.0.21',
      backendPort: 8080,
      backendPod: { namespace: 'default', name: 'web-0' },
      state: 'established',
      ageMs: 3_000,
      idleMs: 1_000,
      packets: 4,
      bytes: 260,
      nextHopMac: '',
      ended: false,
    });
    // A client no pod record here names stays unnamed; its backend is named by a slice.
    expect(reply.flows![2]).toMatchObject({
      protocol: 'UDP',
      clientPod: null,
      service: '',
      backendPod: { namespace: 'kube-system', name: 'dns-1', containerId: '' },
    });
  });

  test('filters narrow by Service, frontend, client pod or address, and backend; the limit keeps the most recent', async () => {
    const deps = await node(FLOWS);
    const ports = async (request: Parameters<typeof listFlows>[1]): Promise<number[]> =>
      (await listFlows(deps, request)).flows!.map((flow) => flow.clientPort ?? 0);
    expect(await ports({ service: 'default/web' })).toEqual([40_002, 40_001, 40_003]);
    expect(await ports({ service: '10.96.0.99:53' })).toEqual([40_004]);
    expect(await ports({ service: '10.96.0.10:443' })).toEqual([]);
    expect(await ports({ pod: 'default/client-a' })).toEqual([40_002, 40_001]);
    expect(await ports({ pod: '10.0.0.11' })).toEqual([40_003]);
    expect(await ports({ pod: '10.0.0.10:40001' })).toEqual([40_001]);
    expect(await ports({ backend: '10.0.0.30' })).toEqual([40_004]);
    // A backend pod, by its record here or by the slice naming it elsewhere.
    expect(await ports({ backend: 'default/web-0' })).toEqual([40_002, 40_001, 40_003]);
    expect(await ports({ backend: 'kube-system/dns-1' })).toEqual([40_004]);
    expect(await ports({ backend: 'default/dns-1' })).toEqual([]);
    // The stale slice's pod: its address is web-0's now, as the listing names it.
    expect(await ports({ backend: 'default/web-0-old' })).toEqual([]);
    expect(await ports({ service: 'default/web', pod: 'default/client-b' })).toEqual([40_003]);
    const limited = await listFlows(deps, { service: 'default/web', limit: 2 });
    expect(limited.flows!.map((flow) => flow.clientPort)).toEqual([40_002, 40_001]);
    expect([limited.matched, limited.total]).toEqual([3, 4]);
  });

  test('no listing goes past the most terwayd lists at once, --limit 0 included; the reply says what that is', async () => {
    const deps = { ...(await node(FLOWS)), mostListedFlows: 2 };
    const listed = async (limit: number) => {
      const reply = await listFlows(deps, { limit });
      return [reply.flows!.map((flow) => flow.clientPort), reply.matched, reply.mostListed];
    };
    expect(await listed(0)).toEqual([[40_002, 40_001], 4, 2]);
    expect(await listed(3)).toEqual([[40_002, 40_001], 4, 2]);
    expect(await listed(1)).toEqual([[40_002], 4, 2]);
    expect((await listFlows(await node(FLOWS), {})).mostListed).toBe(MOST_LISTED_FLOWS);
  });

  test("a flow past its state's lifetime is marked ended; a half-closed one lives as established, a UDP stream longer", async () => {
    const idle = (clientPort: number, state: FlowState, seconds: number, proto = IPPROTO_TCP) => ({
      client: '10.0.0.10',
      clientPort,
      backend: '10.0.0.21',
      proto,
      state,
      firstSeenMsAgo: seconds * 1000,
      lastSeenMsAgo: seconds * 1000,
    });
    const deps = await node([
      idle(41_001, 'closing', 9),
      idle(41_002, 'closing', 11),
      idle(41_003, 'client-fin', 3600),
      idle(41_004, 'backend-fin', 11),
      idle(41_005, 'new', 61),
      idle(41_006, 'established', 31, IPPROTO_UDP),
      idle(41_007, 'established', 29, IPPROTO_UDP),
      idle(41_008, 'stream', 61, IPPROTO_UDP),
      idle(41_009, 'stream', 59, IPPROTO_UDP),
    ]);
    const ended = new Map(
      (await listFlows(deps, {})).flows!.map((flow) => [flow.clientPort, [flow.state, flow.ended]]),
    );
    expect(Object.fromEntries(ended)).toEqual({
      41001: ['closing', false],
      41002: ['closing', true],
      41003: ['client-fin', false],
      41004: ['backend-fin', false],
      41005: ['new', true],
      41006: ['established', true],
      41007: ['established', false],
      41008: ['stream', true],
      41009: ['stream', false],
    });
  });

  test('a flow whose client port was moved carries the port on the wire; the others carry 0', async () => {
    const flow = (clientPort: number, flags = 0) => ({
      client: '10.0.0.10',
      clientPort,
      backend: '10.0.0.21',
      firstSeenMsAgo: 2_000,
      lastSeenMsAgo: 1_000,
      flags,
    });
    const deps = await node([flow(40_020), flow(40_021, FLOW_F_PORT_MOVED)]);
    const key = encode(FLOW_KEY, {
      clientAddr: 0x0a00_000a,
      frontendAddr: 0x0a60_000a,
      clientPort: 40_021,
      frontendPort: 80,
      proto: IPPROTO_TCP,
    });
    deps.lb!.maps.movedPorts.updateBatch(key, encode(MOVED_PORT, { clientPort: 62_001 }), 1);
    const moved = new Map(
      (await listFlows(deps, {})).flows!.map((entry) => [entry.clientPort, entry.movedClientPort]),
    );
    expect(Object.fromEntries(moved)).toEqual({ 40020: 0, 40021: 62_001 });
  });

  test('a direct connection whose port was moved comes back marked direct; flows to a Service do not', async () => {
    // A direct connection's key has the backend as its frontend (10.0.0.21:8080).
    const deps = await node([
      {
        client: '10.0.0.10',
        clientPort: 40_030,
        backend: '10.0.0.21',
        firstSeenMsAgo: 2_000,
        lastSeenMsAgo: 2_000,
      },
      {
        client: '10.0.0.10',
        clientPort: 40_031,
        frontend: '10.0.0.21',
        frontendPort: 8080,
        backend: '10.0.0.21',
        firstSeenMsAgo: 2_000,
        lastSeenMsAgo: 1_000,
        flags: FLOW_F_DIRECT | FLOW_F_PORT_MOVED,
      },
    ]);
    const key = encode(FLOW_KEY, {
      clientAddr: 0x0a00_000a,
      frontendAddr: 0x0a00_0015,
      clientPort: 40_031,
      frontendPort: 8080,
      proto: IPPROTO_TCP,
    });
    deps.lb!.maps.movedPorts.updateBatch(key, encode(MOVED_PORT, { clientPort: 62_002 }), 1);
    const reply = await listFlows(deps, {});
    expect(reply.flows!.map((entry) => [entry.clientPort, entry.direct])).toEqual([
      [40_031, true],
      [40_030, false],
    ]);
    expect(reply.flows![0]).toMatchObject({
      direct: true,
      clientAddress: '10.0.0.10',
      frontendAddress: '10.0.0.21',
      frontendPort: 8080,
      backendAddress: '10.0.0.21',
      backendPort: 8080,
      movedClientPort: 62_002,
    });
  });

  test('a stamp a coarse tick ahead of the daemon clock reads as no time at all', async () => {
    const deps = await node([
      {
        client: '10.0.0.10',
        clientPort: 40_009,
        backend: '10.0.0.21',
        firstSeenMsAgo: -3,
        lastSeenMsAgo: -3,
      },
    ]);
    expect((await listFlows(deps, {})).flows![0]).toMatchObject({ ageMs: 0, idleMs: 0 });
  });

  test('a bad filter is refused with what was typed', async () => {
    const deps = await node(FLOWS);
    await expect(listFlows(deps, { pod: 'client-a' })).rejects.toThrow(/not a pod .*"client-a"/);
    await expect(listFlows(deps, { backend: 'web-0' })).rejects.toThrow(
      /not a backend pod \(namespace\/name\) or address .*"web-0"/,
    );
    // A CIDR is no namespace/name (a namespace is a DNS label): refused, not matching nothing.
    await expect(listFlows(deps, { backend: '10.0.0.0/24' })).rejects.toThrow(
      /not a backend pod .*"10.0.0.0\/24"/,
    );
    await expect(listFlows(deps, { service: 'web' })).rejects.toThrow(/not a Service .*"web"/);
  });

  test('a daemon without the Service LB says so', async () => {
    expect(await listFlows({ lb: undefined, pods: () => [] }, {})).toEqual({
      enabled: false,
      flows: [],
      matched: 0,
      total: 0,
      mostListed: MOST_LISTED_FLOWS,
      capacity: 0,
    });
  });
});

describe('the views come in parts', () => {
  async function manyServices(count: number): Promise<LbIntrospectionDeps> {
    const maps = memoryLbMaps();
    const reconciler = new LbReconciler({ maps, logger: log });
    for (let index = 0; index < count; index++) {
      const ip = `10.96.${Math.floor(index / 256)}.${index % 256}`;
      reconciler.replaceService(`default/s${index}`, [
        frontend(ip, backends(`10.1.${Math.floor(index / 256)}.${index % 256}`), {
          service: { namespace: 'default', name: `s${index}`, portName: '' },
        }),
      ]);
    }
    reconciler.markSynced();
    await reconciler.whenIdle();
    return {
      lb: {
        maps,
        reconciler,
        source: 'file',
        pinDir: '/p',
        thisNode: undefined,
        sourceProblem: () => undefined,
        endpointPods: () => NO_ENDPOINT_PODS,
        firstStateGate: { holdRemainingMs: () => 0, openedBy: 'first-state' },
      },
      pods: () => [],
    };
  }

  test('ShowServices: every part carries the header; together they hold each frontend once', async () => {
    const deps = await manyServices(2 * FRONTENDS_PER_PART + 44);
    const parts = sent(showServiceParts(deps, ''));
    expect(parts.map((part) => part.frontends!.length)).toEqual([
      FRONTENDS_PER_PART,
      FRONTENDS_PER_PART,
      44,
    ]);
    for (const part of parts) expect(part).toMatchObject({ enabled: true, source: 'file' });
    const addresses = parts.flatMap((part) => part.frontends!.map((f) => f.address));
    expect(new Set(addresses).size).toBe(2 * FRONTENDS_PER_PART + 44);
  });

  test('ShowServices: a filter that keeps one frontend of many sends one part; one that keeps none still sends the header', async () => {
    const deps = await manyServices(3000);
    const one = [...showServiceParts(deps, 'default/s2999')];
    expect(sent(one).map((part) => part.frontends!.map((f) => f.service))).toEqual([
      ['default/s2999'],
    ]);
    // 6,000 frontends scanned (the maps', then the desired state's): a pause every 1,024.
    expect(one.filter((part) => part === undefined)).toHaveLength(5);
    const none = sent(showServiceParts(deps, 'default/nothing'));
    expect(none).toEqual([expect.objectContaining({ enabled: true, frontends: [] })]);
  });

  test('ListFlows: parts in order, most recent first across them, each with the counts', async () => {
    const flows = Array.from({ length: 2 * FLOWS_PER_PART + 5 }, (_, index) => ({
      client: '10.0.0.10',
      clientPort: 1024 + index,
      backend: '10.0.0.21',
      firstSeenMsAgo: 100_000,
      lastSeenMsAgo: 100_000 - index,
    }));
    const deps = await node(flows);
    const parts = await collect(listFlowParts(deps, {}));
    expect(parts.map((part) => part.flows!.length)).toEqual([FLOWS_PER_PART, FLOWS_PER_PART, 5]);
    for (const part of parts)
      expect([part.matched, part.total]).toEqual([flows.length, flows.length]);
    const ports = parts.flatMap((part) => part.flows!.map((flow) => flow.clientPort));
    expect(ports).toEqual(flows.map((flow) => flow.clientPort).reverse());
    expect(await collect(listFlowParts(deps, { pod: '10.0.0.99' }))).toEqual([
      {
        enabled: true,
        matched: 0,
        total: flows.length,
        mostListed: MOST_LISTED_FLOWS,
        capacity: LB_LIMITS.flows,
        flows: [],
      },
    ]);
  });
});
