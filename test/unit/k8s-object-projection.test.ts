/**
 * The table keeps projections of Services and EndpointSlices: translating projections must give
 * exactly what translating the whole objects gives, for any objects (fast-check), and the
 * projections must drop what the datapath never reads.
 */
import { describe, expect, test } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import fc from 'fast-check';

import { projectEndpointSlice, projectService } from '../../src/k8s/object-projection.js';
import { SERVICE_NAME_LABEL, translateService } from '../../src/k8s/service-translation.js';

const ip = fc.oneof(
  fc.constantFrom('10.96.0.10', '10.96.0.11', '10.0.0.1', '192.168.1.5', 'None', '', 'fd00::1'),
  fc.ipV4(),
);
const protocol = fc.option(fc.constantFrom('TCP', 'UDP', 'SCTP'), { nil: undefined });
const portName = fc.option(fc.constantFrom('', 'http', 'dns', 'metrics'), { nil: undefined });
const portNumber = fc.oneof(fc.integer({ min: 1, max: 65_535 }), fc.constantFrom(0, 70_000, 80));

const service: fc.Arbitrary<V1Service> = fc.record({
  metadata: fc.record({
    name: fc.constantFrom('web', 'dns'),
    namespace: fc.constantFrom('default', 'kube-system'),
    uid: fc.uuid(),
    annotations: fc.constant({ 'kubectl.kubernetes.io/last-applied-configuration': '{}' }),
  }),
  spec: fc.record(
    {
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'),
      clusterIP: ip,
      clusterIPs: fc.array(ip, { maxLength: 2 }),
      externalIPs: fc.array(ip, { maxLength: 2 }),
      sessionAffinity: fc.constantFrom('None', 'ClientIP'),
      sessionAffinityConfig: fc.record({
        clientIP: fc.record(
          { timeoutSeconds: fc.oneof(fc.integer({ min: -5, max: 90_000 }), fc.double()) },
          { requiredKeys: [] },
        ),
      }),
      ports: fc.array(
        fc.record({
          name: portName,
          port: portNumber,
          protocol,
          targetPort: fc.constant(8080),
          nodePort: fc.integer({ min: 30_000, max: 32_767 }),
        }),
        { maxLength: 3 },
      ),
      selector: fc.constant({ app: 'web' }),
    },
    { requiredKeys: [] },
  ),
  status: fc.record(
    {
      loadBalancer: fc.record({
        ingress: fc.array(
          fc.record({
            ip,
            ipMode: fc.option(fc.constantFrom('VIP', 'Proxy'), { nil: undefined }),
            hostname: fc.constant('lb.example'),
          }),
          { maxLength: 2 },
        ),
      }),
    },
    { requiredKeys: [] },
  ),
}) as fc.Arbitrary<V1Service>;

const slice: fc.Arbitrary<V1EndpointSlice> = fc.record({
  metadata: fc.record({
    name: fc.string({ minLength: 1, maxLength: 6 }),
    namespace: fc.constantFrom('default', 'kube-system'),
    labels: fc.constant({
      [SERVICE_NAME_LABEL]: 'web',
      'endpointslice.kubernetes.io/managed-by': 'x',
    }),
  }),
  addressType: fc.constantFrom('IPv4', 'IPv6', 'FQDN'),
  ports: fc.option(
    fc.array(fc.record({ name: portName, port: portNumber, protocol }, { requiredKeys: [] }), {
      maxLength: 3,
    }),
    { nil: undefined },
  ),
  endpoints: fc.array(
    fc.record(
      {
        addresses: fc.array(ip, { minLength: 1, maxLength: 2 }),
        conditions: fc.record(
          { ready: fc.boolean(), serving: fc.boolean(), terminating: fc.boolean() },
          { requiredKeys: [] },
        ),
        targetRef: fc.record({ kind: fc.constant('Pod'), name: fc.string(), uid: fc.uuid() }),
        nodeName: fc.constant('node-1'),
        zone: fc.constant('cn-hangzhou-h'),
      },
      { requiredKeys: ['addresses'] },
    ),
    { maxLength: 6 },
  ),
}) as fc.Arbitrary<V1EndpointSlice>;

describe('object projections', () => {
  test('translating projections equals translating the whole objects', () => {
    fc.assert(
      fc.property(service, fc.array(slice, { maxLength: 3 }), (svc, slices) => {
        expect(translateService(projectService(svc), slices.map(projectEndpointSlice))).toEqual(
          translateService(svc, slices),
        );
      }),
      { numRuns: 500 },
    );
  });

  test('what the datapath never reads is dropped', () => {
    const projected = projectEndpointSlice({
      metadata: {
        name: 's',
        namespace: 'default',
        labels: { [SERVICE_NAME_LABEL]: 'web', other: 'x' },
      },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }],
      endpoints: [
        {
          addresses: ['10.0.0.1', '10.0.0.2'],
          conditions: { ready: true, serving: true, terminating: false },
          targetRef: { kind: 'Pod', name: 'web-0', uid: 'u' },
          nodeName: 'node-1',
          zone: 'z',
        },
      ],
    });
    expect(projected).toEqual({
      metadata: { name: 's', namespace: 'default', labels: { [SERVICE_NAME_LABEL]: 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true, terminating: false } }],
    });
  });
});
