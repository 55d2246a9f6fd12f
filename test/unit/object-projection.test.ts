/**
 * What the informers cache of a Service or EndpointSlice: the projection must lose nothing the
 * translation reads (the same frontends from projected and from whole objects), keep what
 * client-node's ListWatch keys its cache on, and drop the rest.
 */
import { describe, expect, test } from '@jest/globals';
import type { V1Endpoint, V1EndpointSlice, V1ObjectMeta, V1Service } from '@kubernetes/client-node';
import fc from 'fast-check';

import {
  endpointAddr,
  ENDPOINT_FLAG,
  hasFlag,
  onThisNode,
  takesNewFlows,
  type LeanEndpointSlice,
  type NodeTopology,
} from '../../src/k8s/lean-endpoint-slice.js';
import { projectEndpointSlice, projectService } from '../../src/k8s/object-projection.js';
import { SERVICE_NAME_LABEL, translateService } from '../../src/k8s/service-translation.js';
import { formatBackend } from '../../src/lb/desired-frontend.js';
import { intToIp, ipToInt, isIPv4 } from '../../src/util/ipv4.js';

/** What a real apiserver adds to every object, none of which the datapath reads. */
function serverMetadata(
  name: string,
  namespace: string,
  extra: Record<string, unknown> = {},
): V1ObjectMeta {
  // As JSON carries it: timestamps are strings, not the model's Date.
  return {
    name,
    namespace,
    uid: '5b3f0c2e-8d1a-4f7e-9c55-0d6a1e2b3c4d',
    resourceVersion: '48213',
    generation: 3,
    creationTimestamp: '2026-11-30T08:00:00Z',
    annotations: {
      'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ a: 'x'.repeat(600) }),
    },
    managedFields: [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2026-11-30T08:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': {} }, 'f:spec': { 'f:ports': {} } },
      },
    ],
    ...extra,
  } as unknown as V1ObjectMeta;
}

function fatService(): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: serverMetadata('web', 'shop', { labels: { app: 'web' } }),
    spec: {
      type: 'LoadBalancer',
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      externalIPs: ['192.0.2.7'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      externalTrafficPolicy: 'Cluster',
      selector: { app: 'web' },
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      ports: [
        { name: 'http', port: 80, protocol: 'TCP', targetPort: 'web', nodePort: 30080 },
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353, nodePort: 30053 },
      ],
    },
    status: {
      loadBalancer: {
        ingress: [
          { ip: '198.51.100.4', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] },
          { ip: '198.51.100.5', ipMode: 'Proxy' },
          { hostname: 'lb.example.com' },
        ],
      },
    },
  };
}

function fatSlice(): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: serverMetadata('web-x7k2p', 'shop', {
      generateName: 'web-',
      labels: {
        [SERVICE_NAME_LABEL]: 'web',
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'u' }],
    }),
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' },
      { name: 'dns', port: 5353, protocol: 'UDP' },
    ],
    endpoints: [
      {
        addresses: ['10.0.1.5', '10.0.1.6'],
        conditions: { ready: true, serving: true, terminating: false },
        targetRef: { kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'p1' },
        nodeName: 'node-a',
        zone: 'cn-hangzhou-h',
        hints: { forZones: [{ name: 'cn-hangzhou-h' }] },
      },
      {
        addresses: ['10.0.1.7'],
        conditions: { ready: false, serving: true, terminating: true },
        targetRef: { kind: 'Pod', namespace: 'shop', name: 'web-2', uid: 'p2' },
        nodeName: 'node-b',
      },
    ],
  };
}

function decoded(slice: LeanEndpointSlice): Array<[string, boolean]> {
  return slice.endpointCodes.map((code) => [intToIp(endpointAddr(code)), takesNewFlows(code)]);
}

/**
 * The backends of one Service port, read from whole slices the plain way, as kube-proxy does: the
 * first slice port with the Service port's name and protocol; each endpoint's first address if it
 * is IPv4; ready unless `ready` is false or `terminating` true; ready anywhere means ready.
 */
function kubeProxyBackends(
  slices: readonly V1EndpointSlice[],
  portName: string,
  protocol: string,
): { ready: string[]; draining: string[] } {
  const ready = new Set<string>();
  const listed = new Set<string>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const port = (slice.ports ?? []).find(
      (candidate) =>
        (candidate.name ?? '') === portName && (candidate.protocol ?? 'TCP') === protocol,
    )?.port;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const ip = endpoint.addresses?.[0];
      if (ip === undefined || !isIPv4(ip)) continue;
      listed.add(`${ip}:${port}`);
      if (endpoint.conditions?.ready !== false && endpoint.conditions?.terminating !== true) {
        ready.add(`${ip}:${port}`);
      }
    }
  }
  const order = (backend: string): number => {
    const [ip, port] = backend.split(':');
    return ipToInt(ip!) * 65_536 + Number(port);
  };
  const sorted = (backends: Iterable<string>) => [...backends].sort((a, b) => order(a) - order(b));
  return { ready: sorted(ready), draining: sorted([...listed].filter((b) => !ready.has(b))) };
}

describe('projectService / projectEndpointSlice', () => {
  test('a real-looking Service and slice: the same frontends, from a fraction of the object', () => {
    const service = fatService();
    const slice = fatSlice();
    const projectedService = projectService(service);
    const projectedSlice = projectEndpointSlice(slice);

    const frontends = translateService(projectedService, [projectedSlice]);
    expect(frontends).toEqual(translateService(service, [projectedSlice]));
    expect(frontends).toHaveLength(6);
    // The first endpoint (first address only) takes new flows; the terminating one drains.
    expect(decoded(projectedSlice)).toEqual([
      ['10.0.1.5', true],
      ['10.0.1.7', false],
    ]);
    expect(projectedService).toEqual({
      metadata: { name: 'web', namespace: 'shop', resourceVersion: '48213' },
      spec: {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10'],
        externalIPs: ['192.0.2.7'],
        sessionAffinity: 'ClientIP',
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
        internalTrafficPolicy: 'Cluster',
        ports: [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      },
      status: {
        loadBalancer: {
          ingress: [
            { ip: '198.51.100.4', ipMode: 'VIP' },
            { ip: '198.51.100.5', ipMode: 'Proxy' },
            {},
          ],
        },
      },
    });
    expect(projectedSlice).toEqual({
      metadata: {
        name: 'web-x7k2p',
        namespace: 'shop',
        resourceVersion: '48213',
        labels: { [SERVICE_NAME_LABEL]: 'web' },
      },
      addressType: 'IPv4',
      ports: [
        { name: 'http', port: 8080, protocol: 'TCP' },
        { name: 'dns', port: 5353, protocol: 'UDP' },
      ],
      // 10.0.1.5 × 64 + 1 (takes new flows) + 4 (has zone hints), 10.0.1.7 × 64 (terminating);
      // neither on this node nor hinted for its zone, which the projection was not told.
      endpointCodes: [ipToInt('10.0.1.5') * 64 + 1 + 4, ipToInt('10.0.1.7') * 64],
      // Of each targetRef, the pod's name (in the slice's namespace), for terway-cli.
      endpointPods: ['web-1', 'web-2'],
    });
    const size = (value: unknown): number => JSON.stringify(value).length;
    expect(size(projectedService) * 3).toBeLessThan(size(service));
    expect(size(projectedSlice) * 3).toBeLessThan(size(slice));
  });

  test('an endpoint: its first IPv4 address, and whether it takes new flows', () => {
    const slice = fatSlice();
    slice.endpoints = [
      { addresses: ['10.0.1.9'] },
      { addresses: ['10.0.1.8'], conditions: {} },
      { addresses: ['10.0.1.7'], conditions: { ready: false } },
      { addresses: ['10.0.1.6', '10.0.1.5'], conditions: { ready: true, terminating: true } },
      { addresses: ['255.255.255.255'], conditions: { ready: true, terminating: false } },
      { addresses: ['fd00::1'] },
      { addresses: [] },
      { addresses: ['010.0.1.4'] },
    ];
    // No conditions, or no `ready`, means ready (the API's "unknown").
    expect(decoded(projectEndpointSlice(slice))).toEqual([
      ['10.0.1.9', true],
      ['10.0.1.8', true],
      ['10.0.1.7', false],
      ['10.0.1.6', false],
      ['255.255.255.255', true],
    ]);
    const [frontend] = translateService(projectService(fatService()), [
      projectEndpointSlice(slice),
    ]);
    expect(frontend?.ready).toHaveLength(3);
    expect(frontend?.draining).toHaveLength(2);
  });

  test('an endpoint on this node carries it in its code, and the Service keeps its internalTrafficPolicy', () => {
    const onA = projectEndpointSlice(fatSlice(), { name: 'node-a' });
    expect(onA.endpointCodes).toEqual([
      ipToInt('10.0.1.5') * 64 + 1 + 2 + 4,
      ipToInt('10.0.1.7') * 64,
    ]);
    expect(onA.endpointCodes.map(onThisNode)).toEqual([true, false]);
    expect(onA.endpointCodes.map(takesNewFlows)).toEqual([true, false]);
    expect(onA.endpointCodes.map(endpointAddr).map(intToIp)).toEqual(['10.0.1.5', '10.0.1.7']);
    expect(
      projectEndpointSlice(fatSlice(), { name: 'node-b' }).endpointCodes.map(onThisNode),
    ).toEqual([false, true]);
    // A pod's node changing between two other nodes changes nothing this node programs.
    const moved = fatSlice();
    moved.endpoints[1]!.nodeName = 'node-c';
    expect(projectEndpointSlice(moved, { name: 'node-a' })).toEqual(onA);

    const service = fatService();
    service.spec!.internalTrafficPolicy = 'Local';
    expect(projectService(service).spec?.internalTrafficPolicy).toBe('Local');
  });

  test("an endpoint's hints: whether it has zone and node hints, and whether they name this node's zone and this node", () => {
    const slice = fatSlice();
    slice.endpoints = [
      { addresses: ['10.0.1.1'], hints: { forZones: [{ name: 'zone-a' }, { name: 'zone-b' }] } },
      { addresses: ['10.0.1.2'], hints: { forZones: [{ name: 'zone-c' }] } },
      { addresses: ['10.0.1.3'], hints: { forNodes: [{ name: 'node-a' }] } },
      {
        addresses: ['10.0.1.4'],
        hints: { forZones: [{ name: 'zone-b' }], forNodes: [{ name: 'node-c' }] },
      },
      // Not hints kube-proxy could read: no list, an entry without a name, an empty list.
      { addresses: ['10.0.1.5'], hints: { forZones: 'zone-b' } } as unknown as V1Endpoint,
      { addresses: ['10.0.1.6'], hints: { forZones: [{}] } } as unknown as V1Endpoint,
      { addresses: ['10.0.1.7'], hints: { forZones: [], forNodes: [] } },
      { addresses: ['10.0.1.8'] },
    ];
    const flags = (topology?: NodeTopology) =>
      projectEndpointSlice(slice, topology).endpointCodes.map((code) =>
        Object.entries(ENDPOINT_FLAG)
          .filter(([name, flag]) => name !== 'takesNewFlows' && hasFlag(code, flag))
          .map(([name]) => name),
      );
    expect(flags({ name: 'node-a', zone: 'zone-b' })).toEqual([
      ['hasZoneHints', 'forThisZone'],
      ['hasZoneHints'],
      ['hasNodeHints', 'forThisNode'],
      ['hasZoneHints', 'forThisZone', 'hasNodeHints'],
      [],
      [],
      [],
      [],
    ]);
    // Not knowing the node or its zone, an endpoint is hinted or not, never hinted for it.
    expect(flags()).toEqual([
      ['hasZoneHints'],
      ['hasZoneHints'],
      ['hasNodeHints'],
      ['hasZoneHints', 'hasNodeHints'],
      [],
      [],
      [],
      [],
    ]);
    expect(decoded(projectEndpointSlice(slice)).every(([, ready]) => ready)).toBe(true);
    // A hint moving between two other zones changes nothing this node programs.
    const moved = fatSlice();
    moved.endpoints[0]!.hints = { forZones: [{ name: 'cn-hangzhou-i' }] };
    const here = { name: 'node-a', zone: 'cn-hangzhou-k' };
    expect(projectEndpointSlice(moved, here)).toEqual(projectEndpointSlice(fatSlice(), here));
  });

  test('anything at all in, a well-formed object out, and translation does not throw on it', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (rawService, rawSlice) => {
        const service = projectService(rawService);
        const slice = projectEndpointSlice(rawSlice);
        expect(typeof service.metadata).toBe('object');
        expect(Array.isArray(slice.endpointCodes)).toBe(true);
        for (const code of slice.endpointCodes) {
          expect(Number.isSafeInteger(code) && code >= 0 && code < 2 ** 34).toBe(true);
        }
        expect(Array.isArray(translateService(service, [slice]))).toBe(true);
      }),
    );
  });

  test('random Services and slices: the projected objects give the backends kube-proxy would', () => {
    const ip = fc
      .tuple(fc.constantFrom(10, 172, 192), fc.nat(3), fc.nat(3), fc.integer({ min: 1, max: 4 }))
      .map((parts) => parts.join('.'));
    const someIp = fc.oneof(ip, fc.constantFrom('fd00::1', 'None', '', 'bogus'));
    const protocol = fc.option(fc.constantFrom('TCP', 'UDP', 'SCTP'), { nil: undefined });
    const portName = fc.option(fc.constantFrom('http', 'dns', ''), { nil: undefined });
    const port = fc.oneof(fc.integer({ min: 1, max: 70_000 }), fc.constant(0));
    const conditions = fc.option(
      fc.record(
        {
          ready: fc.option(fc.boolean(), { nil: undefined }),
          serving: fc.boolean(),
          terminating: fc.option(fc.boolean(), { nil: undefined }),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    );
    const service = fc.record({
      apiVersion: fc.constant('v1'),
      kind: fc.constant('Service'),
      metadata: fc.constant(serverMetadata('svc', 'ns')),
      spec: fc.record(
        {
          type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
          clusterIP: someIp,
          clusterIPs: fc.array(someIp, { maxLength: 2 }),
          externalIPs: fc.array(someIp, { maxLength: 2 }),
          sessionAffinity: fc.constantFrom('None', 'ClientIP'),
          sessionAffinityConfig: fc.record({
            clientIP: fc.record({ timeoutSeconds: fc.oneof(fc.nat(90_000), fc.constant(-1)) }),
          }),
          ports: fc.array(
            fc.record({ name: portName, port, protocol, targetPort: fc.nat(65_535) }),
            { maxLength: 3 },
          ),
        },
        { requiredKeys: ['clusterIP'] },
      ),
      status: fc.record({
        loadBalancer: fc.record({
          ingress: fc.array(
            fc.record(
              { ip: someIp, ipMode: fc.constantFrom('VIP', 'Proxy') },
              { requiredKeys: [] },
            ),
            { maxLength: 2 },
          ),
        }),
      }),
    });
    const slice = fc.record({
      apiVersion: fc.constant('discovery.k8s.io/v1'),
      kind: fc.constant('EndpointSlice'),
      metadata: fc.constant(
        serverMetadata('svc-abc', 'ns', { labels: { [SERVICE_NAME_LABEL]: 'svc' } }),
      ),
      addressType: fc.constantFrom('IPv4', 'IPv6', 'FQDN'),
      ports: fc.array(fc.record({ name: portName, port, protocol }, { requiredKeys: [] }), {
        maxLength: 3,
      }),
      endpoints: fc.array(
        fc.record(
          {
            addresses: fc.array(someIp, { maxLength: 2 }),
            conditions,
            nodeName: fc.constant('node-a'),
            targetRef: fc.constant({ kind: 'Pod', name: 'p', namespace: 'ns' }),
          },
          { requiredKeys: ['addresses'] },
        ),
        { maxLength: 5 },
      ),
    });
    fc.assert(
      fc.property(service, fc.array(slice, { maxLength: 3 }), (whole, slices) => {
        // As the apiserver sends them: JSON, with undefined fields absent.
        const rawService = JSON.parse(JSON.stringify(whole)) as V1Service;
        const rawSlices = JSON.parse(JSON.stringify(slices)) as V1EndpointSlice[];
        const lean = rawSlices.map((raw) => projectEndpointSlice(raw));
        const frontends = translateService(projectService(rawService), lean);
        // The Service's projection loses nothing translation reads...
        expect(frontends).toEqual(translateService(rawService, lean));
        // ...and the slices' gives each port the backends read from the whole slices.
        for (const frontend of frontends) {
          const { portName } = frontend.service;
          expect({
            ready: frontend.ready.map(formatBackend),
            draining: frontend.draining.map(formatBackend),
          }).toEqual(kubeProxyBackends(rawSlices, portName, frontend.address.protocol));
        }
      }),
      { numRuns: 500 },
    );
  });
});
