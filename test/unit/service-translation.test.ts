import { describe, expect, test } from '@jest/globals';
import type { V1Endpoint, V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { projectEndpointSlice } from '../../src/k8s/object-projection.js';
import {
  DEFAULT_AFFINITY_TIMEOUT_SECONDS,
  isProxiedService,
  SERVICE_NAME_LABEL,
  sortUnique,
  translateService,
} from '../../src/k8s/service-translation.js';
import type { DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { formatBackend, frontendKey } from '../../src/lb/desired-frontend.js';

function service(spec: V1Service['spec'], extra: Partial<V1Service> = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', ...spec },
    ...extra,
  };
}

const HTTP_AND_DNS: V1Service['spec'] = {
  ports: [
    { name: 'http', port: 80, protocol: 'TCP', targetPort: 'web' },
    { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
  ],
};

function slice(
  name: string,
  endpoints: V1Endpoint[],
  ports: V1EndpointSlice['ports'] = [
    { name: 'http', port: 8080, protocol: 'TCP' },
    { name: 'dns', port: 5353, protocol: 'UDP' },
  ],
  addressType = 'IPv4',
): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'shop', labels: { [SERVICE_NAME_LABEL]: 'web' } },
    addressType,
    endpoints,
    ports,
  };
}

/** Slices as both sources hand them to translation: projected. */
function translate(svc: V1Service, slices: V1EndpointSlice[]): DesiredFrontend[] {
  return translateService(
    svc,
    slices.map((slice) => projectEndpointSlice(slice)),
  );
}

function endpoint(ip: string, conditions: V1Endpoint['conditions'] = { ready: true }): V1Endpoint {
  return { addresses: [ip], conditions };
}

/** frontendKey → { ready, draining } as `ip:port` strings. */
function backendsByFrontend(frontends: readonly DesiredFrontend[]) {
  return Object.fromEntries(
    frontends.map((frontend) => [
      frontendKey(frontend.address),
      {
        ready: frontend.ready.map(formatBackend),
        draining: frontend.draining.map(formatBackend),
      },
    ]),
  );
}

const keys = (frontends: readonly DesiredFrontend[]) =>
  frontends.map((frontend) => frontendKey(frontend.address));

describe('which Services get frontends', () => {
  test.each([
    ['ClusterIP', { type: 'ClusterIP' }],
    ['NodePort', { type: 'NodePort' }],
    ['LoadBalancer', { type: 'LoadBalancer' }],
    ['no type (the API default, ClusterIP)', { type: undefined }],
  ])('%s with a cluster IP is proxied', (_name, spec) => {
    const frontends = translate(service({ ...HTTP_AND_DNS, ...spec }), []);
    expect(keys(frontends)).toEqual(['10.96.0.10:53/UDP', '10.96.0.10:80/TCP']);
  });

  test.each([
    ['headless (clusterIP None)', { clusterIP: 'None' }],
    ['no cluster IP yet', { clusterIP: '' }],
    ['ExternalName', { type: 'ExternalName', clusterIP: undefined, externalName: 'db.example' }],
    ['ExternalName even with a cluster IP', { type: 'ExternalName' }],
  ])('%s gets none', (_name, spec) => {
    const svc = service({ ...HTTP_AND_DNS, ...spec });
    expect(isProxiedService(svc)).toBe(false);
    expect(translate(svc, [slice('web-1', [endpoint('10.0.0.1')])])).toEqual([]);
  });

  test('a Service without ports has no frontends', () => {
    expect(translate(service({ ports: [] }), [])).toEqual([]);
  });
});

describe('frontend addresses', () => {
  test('one frontend per IP and port, with the Service identity and port name', () => {
    const [dns, http] = translate(service(HTTP_AND_DNS), []);
    expect(http).toEqual({
      address: { ip: '10.96.0.10', port: 80, protocol: 'TCP' },
      service: { namespace: 'shop', name: 'web', portName: 'http' },
      external: false,
      affinityTimeoutSeconds: 0,
      ready: [],
      draining: [],
    });
    expect(dns?.service.portName).toBe('dns');
  });

  test('externalIPs and LoadBalancer ingress IPs are external frontends', () => {
    const svc = service(
      { ...HTTP_AND_DNS, type: 'LoadBalancer', externalIPs: ['192.0.2.7'] },
      {
        status: {
          loadBalancer: {
            ingress: [{ ip: '203.0.113.5' }, { hostname: 'lb.example.com' }],
          },
        },
      },
    );
    const frontends = translate(svc, []);
    expect(frontends.map((f) => [frontendKey(f.address), f.external])).toEqual([
      ['10.96.0.10:53/UDP', false],
      ['10.96.0.10:80/TCP', false],
      ['192.0.2.7:53/UDP', true],
      ['192.0.2.7:80/TCP', true],
      ['203.0.113.5:53/UDP', true],
      ['203.0.113.5:80/TCP', true],
    ]);
  });

  test('an ingress IP with ipMode Proxy is left to the load balancer', () => {
    const svc = service(
      { ports: [{ name: 'http', port: 80 }], type: 'LoadBalancer' },
      { status: { loadBalancer: { ingress: [{ ip: '203.0.113.5', ipMode: 'Proxy' }] } } },
    );
    expect(keys(translate(svc, []))).toEqual(['10.96.0.10:80/TCP']);
  });

  test('an externalIP equal to the cluster IP does not duplicate it and stays internal', () => {
    const svc = service({ ports: [{ port: 80 }], externalIPs: ['10.96.0.10', '10.96.0.10'] });
    const frontends = translate(svc, []);
    expect(frontends).toHaveLength(1);
    expect(frontends[0]?.external).toBe(false);
  });

  test('IPv6 cluster, external and ingress IPs are skipped (the datapath is IPv4 only)', () => {
    const dualStack = service(
      {
        ports: [{ port: 80 }],
        clusterIP: '10.96.0.10',
        clusterIPs: ['10.96.0.10', 'fd00:10:96::a'],
        ipFamilies: ['IPv4', 'IPv6'],
        externalIPs: ['2001:db8::1'],
      },
      { status: { loadBalancer: { ingress: [{ ip: '2001:db8::2' }] } } },
    );
    expect(keys(translate(dualStack, []))).toEqual(['10.96.0.10:80/TCP']);

    const ipv6Only = service({ ports: [{ port: 80 }], clusterIP: 'fd00:10:96::a' });
    expect(translate(ipv6Only, [])).toEqual([]);
  });

  test('SCTP ports are skipped; a port without protocol is TCP', () => {
    const svc = service({
      ports: [
        { name: 'sig', port: 3868, protocol: 'SCTP' },
        { name: 'plain', port: 8000 },
      ],
    });
    expect(keys(translate(svc, []))).toEqual(['10.96.0.10:8000/TCP']);
  });

  test('frontends are sorted by IP numerically, then port, then protocol', () => {
    const svc = service({
      clusterIP: '10.96.0.9',
      externalIPs: ['10.96.0.100'],
      ports: [
        { name: 'b', port: 443, protocol: 'UDP' },
        { name: 'a', port: 443, protocol: 'TCP' },
        { name: 'c', port: 53, protocol: 'UDP' },
      ],
    });
    expect(keys(translate(svc, []))).toEqual([
      '10.96.0.9:53/UDP',
      '10.96.0.9:443/TCP',
      '10.96.0.9:443/UDP',
      '10.96.0.100:53/UDP',
      '10.96.0.100:443/TCP',
      '10.96.0.100:443/UDP',
    ]);
  });
});

describe('backends', () => {
  test('ready endpoints are ready; a nil ready counts as ready (the API says so)', () => {
    const frontends = translate(service(HTTP_AND_DNS), [
      slice('web-1', [endpoint('10.0.0.1'), { addresses: ['10.0.0.2'] }, endpoint('10.0.0.3', {})]),
    ]);
    expect(backendsByFrontend(frontends)['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.3:8080'],
      draining: [],
    });
    expect(backendsByFrontend(frontends)['10.96.0.10:53/UDP']?.ready).toEqual([
      '10.0.0.1:5353',
      '10.0.0.2:5353',
      '10.0.0.3:5353',
    ]);
  });

  test('not-ready and terminating endpoints drain; terminating never counts as ready', () => {
    const frontends = translate(service(HTTP_AND_DNS), [
      slice('web-1', [
        endpoint('10.0.0.1', { ready: true }),
        endpoint('10.0.0.2', { ready: false }),
        endpoint('10.0.0.3', { ready: false, serving: true, terminating: true }),
        // publishNotReadyAddresses makes the controller report ready even while terminating.
        endpoint('10.0.0.4', { ready: true, terminating: true }),
      ]),
    ]);
    expect(backendsByFrontend(frontends)['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.0.1:8080'],
      draining: ['10.0.0.2:8080', '10.0.0.3:8080', '10.0.0.4:8080'],
    });
  });

  test('the backend port is the slice port with the Service port name, per slice', () => {
    // A named targetPort may resolve to different numbers on different pods: one slice each.
    const frontends = translate(service(HTTP_AND_DNS), [
      slice('web-1', [endpoint('10.0.0.1')], [{ name: 'http', port: 8080, protocol: 'TCP' }]),
      slice('web-2', [endpoint('10.0.0.2')], [{ name: 'http', port: 9090, protocol: 'TCP' }]),
    ]);
    expect(backendsByFrontend(frontends)).toEqual({
      '10.96.0.10:53/UDP': { ready: [], draining: [] },
      '10.96.0.10:80/TCP': { ready: ['10.0.0.1:8080', '10.0.0.2:9090'], draining: [] },
    });
  });

  test('a port name shared by TCP and UDP is matched by protocol too', () => {
    const svc = service({
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    });
    const frontends = translate(svc, [
      slice(
        'web-1',
        [endpoint('10.0.0.1')],
        [
          { name: 'dns', port: 5353, protocol: 'TCP' },
          { name: 'dns', port: 5354, protocol: 'UDP' },
          { name: 'dns-tcp', port: 5355, protocol: 'TCP' },
        ],
      ),
    ]);
    expect(backendsByFrontend(frontends)).toEqual({
      '10.96.0.10:53/TCP': { ready: ['10.0.0.1:5355'], draining: [] },
      '10.96.0.10:53/UDP': { ready: ['10.0.0.1:5354'], draining: [] },
    });
  });

  test('an unnamed Service port matches the unnamed slice port', () => {
    const svc = service({ ports: [{ port: 80, targetPort: 8080 }] });
    const frontends = translate(svc, [
      slice('web-1', [endpoint('10.0.0.1')], [{ port: 8080, protocol: 'TCP' }]),
      slice('web-2', [endpoint('10.0.0.2')], [{ name: '', port: 8081 }]),
    ]);
    expect(frontends[0]?.service.portName).toBe('');
    expect(frontends[0]?.ready.map(formatBackend)).toEqual(['10.0.0.1:8080', '10.0.0.2:8081']);
  });

  test('a slice without the port, or with a port without a number, contributes nothing', () => {
    const frontends = translate(service({ ports: [{ name: 'http', port: 80 }] }), [
      slice('web-1', [endpoint('10.0.0.1')], [{ name: 'metrics', port: 9100 }]),
      slice('web-2', [endpoint('10.0.0.2')], [{ name: 'http' }]),
      slice('web-3', [endpoint('10.0.0.3')], []),
    ]);
    expect(frontends[0]?.ready).toEqual([]);
  });

  test('IPv6 and FQDN slices are ignored; only the first address of an endpoint is used', () => {
    const frontends = translate(service({ ports: [{ name: 'http', port: 80 }] }), [
      slice('web-v6', [endpoint('fd00::1')], [{ name: 'http', port: 8080 }], 'IPv6'),
      slice('web-fqdn', [endpoint('pod.example')], [{ name: 'http', port: 8080 }], 'FQDN'),
      slice(
        'web-v4',
        [{ addresses: ['10.0.0.1', '10.0.0.99'], conditions: { ready: true } }],
        [{ name: 'http', port: 8080 }],
      ),
    ]);
    expect(frontends[0]?.ready.map(formatBackend)).toEqual(['10.0.0.1:8080']);
  });

  test('an endpoint in two slices appears once; ready in either slice means ready', () => {
    const frontends = translate(service({ ports: [{ name: 'http', port: 80 }] }), [
      slice(
        'web-old',
        [endpoint('10.0.0.1', { ready: false }), endpoint('10.0.0.2')],
        [{ name: 'http', port: 8080 }],
      ),
      slice(
        'web-new',
        [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3', { ready: false })],
        [{ name: 'http', port: 8080 }],
      ),
      slice('web-dup', [endpoint('10.0.0.3', { ready: false })], [{ name: 'http', port: 8080 }]),
    ]);
    expect(backendsByFrontend(frontends)['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.0.1:8080', '10.0.0.2:8080'],
      draining: ['10.0.0.3:8080'],
    });
  });

  test('backends are sorted by IP numerically, then port', () => {
    const frontends = translate(service({ ports: [{ name: 'http', port: 80 }] }), [
      slice('a', [endpoint('10.0.0.10'), endpoint('10.0.0.9')], [{ name: 'http', port: 8080 }]),
      slice('b', [endpoint('10.0.0.10'), endpoint('9.255.255.255')], [{ name: 'http', port: 80 }]),
    ]);
    expect(backendsByFrontend(frontends)['10.96.0.10:80/TCP']?.ready).toEqual([
      '9.255.255.255:80',
      '10.0.0.9:8080',
      '10.0.0.10:80',
      '10.0.0.10:8080',
    ]);
  });

  test('a large Service (hundreds of endpoints over many slices) is sorted and de-duplicated too', () => {
    // Past the insertion-sort cutoff: 300 endpoints in descending order, each listed twice, and
    // a third of them draining in one slice but ready in another.
    const ips = Array.from({ length: 300 }, (_, i) => `10.1.${Math.floor(i / 250)}.${i % 250}`);
    const descending = [...ips].reverse();
    const frontends = translate(service({ ports: [{ name: 'http', port: 80 }] }), [
      slice(
        'a',
        descending.map((ip) => endpoint(ip)),
        [{ name: 'http', port: 8080 }],
      ),
      slice(
        'b',
        descending.map((ip) => endpoint(ip)),
        [{ name: 'http', port: 8080 }],
      ),
      slice(
        'c',
        ips.filter((_, i) => i % 3 === 0).map((ip) => endpoint(ip, { ready: false })),
        [{ name: 'http', port: 8080 }],
      ),
      slice('d', [endpoint('10.9.0.1', { ready: false })], [{ name: 'http', port: 8080 }]),
    ]);
    expect(backendsByFrontend(frontends)['10.96.0.10:80/TCP']).toEqual({
      ready: ips.map((ip) => `${ip}:8080`),
      draining: ['10.9.0.1:8080'],
    });
  });

  test('every frontend of a port shares its backends (cluster, external, ingress)', () => {
    const svc = service({ ports: [{ name: 'http', port: 80 }], externalIPs: ['192.0.2.7'] });
    const frontends = translate(svc, [
      slice('web-1', [endpoint('10.0.0.1')], [{ name: 'http', port: 8080 }]),
    ]);
    expect(frontends.map((f) => f.ready.map(formatBackend))).toEqual([
      ['10.0.0.1:8080'],
      ['10.0.0.1:8080'],
    ]);
  });
});

describe('session affinity', () => {
  test('ClientIP without a timeout gets the API default of 3 hours', () => {
    const svc = service({ ports: [{ port: 80 }], sessionAffinity: 'ClientIP' });
    expect(translate(svc, [])[0]?.affinityTimeoutSeconds).toBe(DEFAULT_AFFINITY_TIMEOUT_SECONDS);
    expect(DEFAULT_AFFINITY_TIMEOUT_SECONDS).toBe(10_800);
  });

  test('ClientIP with a timeout uses it on every frontend', () => {
    const svc = service({
      ...HTTP_AND_DNS,
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    });
    expect(translate(svc, []).map((f) => f.affinityTimeoutSeconds)).toEqual([600, 600]);
  });

  test.each([['None'], [undefined]])('sessionAffinity %s means 0', (affinity) => {
    const svc = service({
      ports: [{ port: 80 }],
      sessionAffinity: affinity,
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
    });
    expect(translate(svc, [])[0]?.affinityTimeoutSeconds).toBe(0);
  });
});

describe('sortUnique', () => {
  test.each([
    ['empty', [], []],
    ['one', [5], [5]],
    ['short, with repeats', [3, 1, 3, 2, 1], [1, 2, 3]],
    [
      'long, descending, with repeats',
      [...Array(40).keys()].flatMap((i) => [80 - i, 80 - i]),
      [...Array(40).keys()].map((i) => 41 + i),
    ],
    [
      'keys above 2^32 (address × 2^16 + port)',
      [0xc0a80001 * 65536 + 80, 0x0a000001 * 65536 + 443, 0x0a000001 * 65536 + 80],
      [0x0a000001 * 65536 + 80, 0x0a000001 * 65536 + 443, 0xc0a80001 * 65536 + 80],
    ],
  ])('%s', (_name, input, sorted) => {
    const keys = [...input];
    sortUnique(keys);
    expect(keys).toEqual(sorted);
  });
});

describe('internalTrafficPolicy', () => {
  const onNode = (ip: string, nodeName: string, ready = true): V1Endpoint => ({
    addresses: [ip],
    conditions: { ready },
    nodeName,
  });
  const slices = [
    slice('web-a', [onNode('10.0.1.5', 'node-a'), onNode('10.0.2.5', 'node-b')]),
    slice('web-b', [onNode('10.0.1.6', 'node-a', false), onNode('10.0.2.6', 'node-b')]),
  ];
  const translateOn = (thisNode: string | undefined, spec: V1Service['spec']) =>
    backendsByFrontend(
      translateService(
        service({ ...HTTP_AND_DNS, externalIPs: ['203.0.113.7'], ...spec }),
        slices.map((each) => projectEndpointSlice(each, { name: thisNode })),
      ),
    );

  test("Local: the ClusterIP keeps this node's endpoints, ready and draining; externalIPs keep them all", () => {
    const frontends = translateOn('node-a', { internalTrafficPolicy: 'Local' });
    expect(frontends['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.1.5:8080'],
      draining: ['10.0.1.6:8080'],
    });
    expect(frontends['10.96.0.10:53/UDP']).toEqual({
      ready: ['10.0.1.5:5353'],
      draining: ['10.0.1.6:5353'],
    });
    // kube-proxy sends a pod's traffic to an external address over the cluster-wide endpoints.
    expect(frontends['203.0.113.7:80/TCP']).toEqual({
      ready: ['10.0.1.5:8080', '10.0.2.5:8080', '10.0.2.6:8080'],
      draining: ['10.0.1.6:8080'],
    });
    expect(translateOn('node-b', { internalTrafficPolicy: 'Local' })['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.2.5:8080', '10.0.2.6:8080'],
      draining: [],
    });
  });

  test('Local on a node with no endpoint of the Service: the ClusterIP has none (refused), the rest unchanged', () => {
    for (const thisNode of ['node-c', undefined]) {
      const frontends = translateOn(thisNode, { internalTrafficPolicy: 'Local' });
      expect(frontends['10.96.0.10:80/TCP']).toEqual({ ready: [], draining: [] });
      expect(frontends['203.0.113.7:80/TCP']?.ready).toHaveLength(3);
    }
  });

  test('Cluster, or no policy: every node sees every endpoint', () => {
    const everywhere = {
      ready: ['10.0.1.5:8080', '10.0.2.5:8080', '10.0.2.6:8080'],
      draining: ['10.0.1.6:8080'],
    };
    for (const spec of [{ internalTrafficPolicy: 'Cluster' }, {}]) {
      for (const thisNode of ['node-a', 'node-c', undefined]) {
        expect(translateOn(thisNode, spec)['10.96.0.10:80/TCP']).toEqual(everywhere);
      }
    }
  });
});

describe('topology hints (kube-proxy CategorizeEndpoints)', () => {
  const hinted = (
    ip: string,
    hints: { zones?: string[]; nodes?: string[] },
    ready = true,
  ): V1Endpoint => ({
    addresses: [ip],
    conditions: { ready },
    hints: {
      ...(hints.zones ? { forZones: hints.zones.map((name) => ({ name })) } : {}),
      ...(hints.nodes ? { forNodes: hints.nodes.map((name) => ({ name })) } : {}),
    },
  });
  const zoned = [
    hinted('10.0.1.1', { zones: ['zone-a'] }),
    hinted('10.0.2.1', { zones: ['zone-b'] }),
    hinted('10.0.2.2', { zones: ['zone-b', 'zone-c'] }),
  ];
  const on = (
    endpoints: V1Endpoint[],
    here: { name?: string; zone?: string },
    spec: V1Service['spec'] = {},
  ) =>
    backendsByFrontend(
      translateService(
        service({ ...HTTP_AND_DNS, externalIPs: ['203.0.113.7'], ...spec }),
        // Two slices: the survey and the narrowing run across every slice of the port.
        [slice('web-a', endpoints.slice(0, 1)), slice('web-b', endpoints.slice(1))].map((each) =>
          projectEndpointSlice(each, here),
        ),
      ),
    )['10.96.0.10:80/TCP'];
  const every = ['10.0.1.1:8080', '10.0.2.1:8080', '10.0.2.2:8080'];

  test("every ready endpoint hinted and one for this zone: new flows go to this zone's, the others drain", () => {
    expect(on(zoned, { zone: 'zone-b' })).toEqual({
      ready: ['10.0.2.1:8080', '10.0.2.2:8080'],
      draining: ['10.0.1.1:8080'],
    });
    expect(on(zoned, { zone: 'zone-c' })).toEqual({
      ready: ['10.0.2.2:8080'],
      draining: ['10.0.1.1:8080', '10.0.2.1:8080'],
    });
  });

  test('a narrowed frontend says so (for terway-cli); one the hints leave alone carries nothing', () => {
    const topologyOf = (endpoints: V1Endpoint[], here: { name?: string; zone?: string }) =>
      translateService(service(HTTP_AND_DNS), [
        projectEndpointSlice(slice('web-a', endpoints), here),
      ]).map((frontend) => frontend.topology);
    expect(topologyOf(zoned, { zone: 'zone-b' })).toEqual(['zone', 'zone']);
    expect(topologyOf(zoned, { zone: 'zone-d' })).toEqual([undefined, undefined]);
    expect(
      topologyOf([hinted('10.0.1.1', { nodes: ['node-a'] })], { name: 'node-a', zone: 'zone-a' }),
    ).toEqual(['node', 'node']);
    expect(topologyOf([endpoint('10.0.1.1')], { name: 'node-a', zone: 'zone-a' })).toEqual([
      undefined,
      undefined,
    ]);
  });

  test('the ready endpoints the hints leave out are named apart from the not-ready ones', () => {
    // Per frontend, in address order: port 53 (to 5353), then port 80 (to 8080).
    const hintedAwayOf = (
      endpoints: V1Endpoint[],
      here: { name?: string; zone?: string },
    ): (string[] | undefined)[] =>
      translateService(service(HTTP_AND_DNS), [
        projectEndpointSlice(slice('web-a', endpoints.slice(0, 2)), here),
        projectEndpointSlice(slice('web-b', endpoints.slice(2)), here),
      ]).map((frontend) => frontend.hintedAway?.map(formatBackend));
    const withDown = [...zoned, hinted('10.0.3.1', { zones: ['zone-a'] }, false)];
    // 10.0.1.1 is ready in zone-a: hinted away from zone-b. 10.0.3.1 is not ready: only draining.
    expect(hintedAwayOf(withDown, { zone: 'zone-b' })).toEqual([
      ['10.0.1.1:5353'],
      ['10.0.1.1:8080'],
    ]);
    expect(hintedAwayOf(withDown, { zone: 'zone-c' })).toEqual([
      ['10.0.1.1:5353', '10.0.2.1:5353'],
      ['10.0.1.1:8080', '10.0.2.1:8080'],
    ]);
    // Every ready endpoint in this zone: narrowed, nothing left out. Not narrowed: no list.
    expect(hintedAwayOf(zoned.slice(1), { zone: 'zone-b' })).toEqual([[], []]);
    expect(hintedAwayOf(zoned, { zone: 'zone-d' })).toEqual([undefined, undefined]);
    // An endpoint ready in one slice and hinted away in another copy is ready, not hinted away.
    const migrating = [
      hinted('10.0.2.1', { zones: ['zone-b'] }),
      hinted('10.0.1.1', { zones: ['zone-a'] }),
      hinted('10.0.2.1', { zones: ['zone-a'] }),
    ];
    expect(hintedAwayOf(migrating, { zone: 'zone-b' })).toEqual([
      ['10.0.1.1:5353'],
      ['10.0.1.1:8080'],
    ]);
  });

  test('no endpoint for this zone, the zone unknown, or a ready endpoint without hints: every ready endpoint', () => {
    expect(on(zoned, { zone: 'zone-d' })).toEqual({ ready: every, draining: [] });
    expect(on(zoned, {})).toEqual({ ready: every, draining: [] });
    const oneUnhinted = [...zoned.slice(0, 2), endpoint('10.0.2.2')];
    expect(on(oneUnhinted, { zone: 'zone-b' })).toEqual({ ready: every, draining: [] });
  });

  test('a not-ready endpoint without hints does not turn them off, and takes no new flows either way', () => {
    const withDown = [...zoned, { addresses: ['10.0.3.1'], conditions: { ready: false } }];
    expect(on(withDown, { zone: 'zone-b' })).toEqual({
      ready: ['10.0.2.1:8080', '10.0.2.2:8080'],
      draining: ['10.0.1.1:8080', '10.0.3.1:8080'],
    });
  });

  test('node hints come first, when every ready endpoint has one and one names this node', () => {
    const both = [
      hinted('10.0.1.1', { zones: ['zone-a'], nodes: ['node-a'] }),
      hinted('10.0.2.1', { zones: ['zone-b'], nodes: ['node-b'] }),
      hinted('10.0.2.2', { zones: ['zone-b'], nodes: ['node-c'] }),
    ];
    expect(on(both, { name: 'node-b', zone: 'zone-b' })).toEqual({
      ready: ['10.0.2.1:8080'],
      draining: ['10.0.1.1:8080', '10.0.2.2:8080'],
    });
    // No endpoint for this node: the zone hints decide.
    expect(on(both, { name: 'node-d', zone: 'zone-b' })).toEqual({
      ready: ['10.0.2.1:8080', '10.0.2.2:8080'],
      draining: ['10.0.1.1:8080'],
    });
    // One ready endpoint without a node hint: the zone hints decide.
    const partly = [both[0]!, both[1]!, hinted('10.0.2.2', { zones: ['zone-b'] })];
    expect(on(partly, { name: 'node-a', zone: 'zone-b' })).toEqual({
      ready: ['10.0.2.1:8080', '10.0.2.2:8080'],
      draining: ['10.0.1.1:8080'],
    });
  });

  test('internalTrafficPolicy Local ignores hints; externalIPs follow them, as cluster-wide traffic', () => {
    const local = zoned.map((each, index) => ({
      ...each,
      nodeName: index === 0 ? 'node-a' : 'node-b',
    }));
    expect(
      on(local, { name: 'node-a', zone: 'zone-b' }, { internalTrafficPolicy: 'Local' }),
    ).toEqual({ ready: ['10.0.1.1:8080'], draining: [] });
    const external = backendsByFrontend(
      translateService(service({ ...HTTP_AND_DNS, externalIPs: ['203.0.113.7'] }), [
        projectEndpointSlice(slice('web-a', zoned), { zone: 'zone-a' }),
      ]),
    )['203.0.113.7:80/TCP'];
    expect(external).toEqual({
      ready: ['10.0.1.1:8080'],
      draining: ['10.0.2.1:8080', '10.0.2.2:8080'],
    });
  });

  test('each port decides on its own: a port whose slice lacks hints keeps every endpoint', () => {
    const dnsUnhinted = slice(
      'web-dns',
      [endpoint('10.0.1.1'), endpoint('10.0.2.1')],
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
    );
    const httpZoned = slice('web-http', zoned.slice(0, 2), [
      { name: 'http', port: 8080, protocol: 'TCP' },
    ]);
    const frontends = backendsByFrontend(
      translateService(
        service(HTTP_AND_DNS),
        [httpZoned, dnsUnhinted].map((each) => projectEndpointSlice(each, { zone: 'zone-a' })),
      ),
    );
    expect(frontends['10.96.0.10:80/TCP']).toEqual({
      ready: ['10.0.1.1:8080'],
      draining: ['10.0.2.1:8080'],
    });
    expect(frontends['10.96.0.10:53/UDP']).toEqual({
      ready: ['10.0.1.1:5353', '10.0.2.1:5353'],
      draining: [],
    });
  });
});
