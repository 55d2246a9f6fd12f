import { describe, expect, test } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import pino from 'pino';

import { translateCompleteState } from '../../src/k8s/complete-state.js';
import { EndpointPodIndex } from '../../src/k8s/endpoint-pods.js';
import {
  endpointAddr,
  endpointPodName,
  leanEndpointsOf,
} from '../../src/k8s/lean-endpoint-slice.js';
import { projectEndpointSlice } from '../../src/k8s/object-projection.js';
import { ServiceTable } from '../../src/k8s/service-table.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import { ipToInt } from '../../src/util/ipv4.js';
import { RecordingSink } from '../support/recording-sink.js';

const silent = pino({ level: 'silent' });

type Endpoint = NonNullable<V1EndpointSlice['endpoints']>[number];

function endpoint(ip: string, pod?: string, podNamespace?: string): Endpoint {
  return {
    addresses: [ip],
    conditions: { ready: true },
    ...(pod === undefined
      ? {}
      : {
          targetRef: {
            kind: 'Pod',
            name: pod,
            ...(podNamespace === undefined ? {} : { namespace: podNamespace }),
          },
        }),
  };
}

function slice(name: string, owner: string, endpoints: Endpoint[], namespace = 'default') {
  return {
    metadata: { name, namespace, labels: { [SERVICE_NAME_LABEL]: owner } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints,
  } satisfies V1EndpointSlice;
}

function service(name: string, clusterIP: string, namespace = 'default'): V1Service {
  return {
    metadata: { name, namespace, resourceVersion: '1' },
    spec: { clusterIP, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  };
}

/** ip → `namespace/name` for every address the index names, among `ips`. */
function named(index: EndpointPodIndex, ...ips: string[]): Record<string, string | undefined> {
  return Object.fromEntries(
    ips.map((ip) => {
      const pod = index.podAt(ipToInt(ip));
      return [ip, pod === undefined ? undefined : `${pod.namespace}/${pod.name}`];
    }),
  );
}

describe("an endpoint's pod", () => {
  test('is its targetRef: the name alone in the slice namespace, namespace and name in another', () => {
    expect(endpointPodName(endpoint('10.0.0.1', 'web-0'), 'default')).toBe('web-0');
    expect(endpointPodName(endpoint('10.0.0.1', 'web-0', 'default'), 'default')).toBe('web-0');
    expect(endpointPodName(endpoint('10.0.0.1', 'dns-0', 'kube-system'), 'default')).toEqual([
      'kube-system',
      'dns-0',
    ]);
  });

  test('is nothing for a targetRef that names no pod, or no targetRef', () => {
    const ref = (targetRef: unknown) => ({ addresses: ['10.0.0.1'], targetRef });
    expect(endpointPodName(endpoint('10.0.0.1'), 'default')).toBeUndefined();
    expect(endpointPodName(ref({ kind: 'Node', name: 'node-1' }), 'default')).toBeUndefined();
    expect(endpointPodName(ref({ kind: 'Pod' }), 'default')).toBeUndefined();
    expect(endpointPodName(ref({ kind: 'Pod', name: '' }), 'default')).toBeUndefined();
    expect(endpointPodName(ref({ kind: 'Pod', name: 'x', namespace: 7 }), 'ns')).toBeUndefined();
    // YAML's `namespace:` with nothing after it is null: the slice's own, as a missing one.
    expect(endpointPodName(ref({ kind: 'Pod', name: 'x', namespace: null }), 'ns')).toBe('x');
    expect(endpointPodName(ref('web-0'), 'default')).toBeUndefined();
    expect(endpointPodName(null, 'default')).toBeUndefined();
  });

  test('names line up with the codes, whose non-IPv4 endpoints are dropped', () => {
    const lean = leanEndpointsOf(
      [
        endpoint('10.0.0.1'),
        endpoint('fd00::1', 'v6-pod'),
        endpoint('10.0.0.2', 'web-2'),
        endpoint('10.0.0.3'),
        endpoint('10.0.0.4', 'web-4'),
      ],
      'default',
    );
    expect(lean.endpointCodes.map(endpointAddr)).toEqual(
      ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map(ipToInt),
    );
    expect(lean.endpointPods).toEqual([undefined, 'web-2', undefined, 'web-4']);
  });

  test('a slice whose endpoints name no pod keeps no list of names', () => {
    expect(leanEndpointsOf([endpoint('10.0.0.1'), endpoint('10.0.0.2')], 'default')).toEqual({
      endpointCodes: ['10.0.0.1', '10.0.0.2'].map((ip) => ipToInt(ip) * 64 + 1),
      endpointPods: undefined,
    });
    expect(projectEndpointSlice(slice('s', 'web', [endpoint('10.0.0.1')]))).not.toHaveProperty(
      'endpointPods',
    );
  });

  test('the informers projection keeps them, as the API object spelled them', () => {
    const projected = projectEndpointSlice(
      slice('s', 'web', [endpoint('10.0.0.1', 'web-1'), endpoint('10.0.0.2')], 'shop'),
    );
    expect(projected.endpointPods).toEqual(['web-1', undefined]);
    expect(projected.metadata?.namespace).toBe('shop');
  });
});

describe('EndpointPodIndex', () => {
  const lean = (endpoints: Endpoint[], namespace: string) => {
    const { endpointCodes, endpointPods } = leanEndpointsOf(endpoints, namespace);
    return { namespace, endpointCodes, endpointPods: endpointPods! };
  };

  test('finds the pod at an address, in its own namespace or the slice one', () => {
    const index = new EndpointPodIndex([
      lean([endpoint('10.0.0.1', 'web-1'), endpoint('10.0.0.2')], 'shop'),
      lean([endpoint('10.0.1.1', 'dns-1', 'kube-system'), endpoint('10.0.1.2', 'x')], 'shop'),
    ]);
    expect(named(index, '10.0.0.1', '10.0.0.2', '10.0.1.1', '10.0.1.2', '10.9.9.9')).toEqual({
      '10.0.0.1': 'shop/web-1',
      '10.0.0.2': undefined,
      '10.0.1.1': 'kube-system/dns-1',
      '10.0.1.2': 'shop/x',
      '10.9.9.9': undefined,
    });
    expect(index.size).toBe(3);
  });

  test('an address two slices name: the endpoint that takes new flows, else the first', () => {
    const terminating = (ip: string, pod: string): Endpoint => ({
      ...endpoint(ip, pod),
      conditions: { ready: false, terminating: true },
    });
    // A pod's IP reused while the old pod still terminates, in either order of the slices.
    for (const order of [0, 1]) {
      const slices = [
        lean([terminating('10.0.0.1', 'old-a')], 'default'),
        lean([endpoint('10.0.0.1', 'new-b')], 'default'),
      ];
      if (order === 1) slices.reverse();
      const index = new EndpointPodIndex(slices);
      expect(named(index, '10.0.0.1')).toEqual({ '10.0.0.1': 'default/new-b' });
      expect(index.addressesOf('default', 'new-b')).toEqual([ipToInt('10.0.0.1')]);
      expect(index.addressesOf('default', 'old-a')).toEqual([]);
    }
    // Both in one slice (a migration): the ready one as well.
    const one = new EndpointPodIndex([
      lean([terminating('10.0.0.2', 'old-c'), endpoint('10.0.0.2', 'new-d')], 'default'),
    ]);
    expect(named(one, '10.0.0.2')).toEqual({ '10.0.0.2': 'default/new-d' });
    // Two alike: the first.
    const alike = new EndpointPodIndex([
      lean([endpoint('10.0.0.3', 'first')], 'default'),
      lean([endpoint('10.0.0.3', 'second')], 'default'),
    ]);
    expect(named(alike, '10.0.0.3')).toEqual({ '10.0.0.3': 'default/first' });
  });

  test('addressesOf gives every address of a pod', () => {
    const index = new EndpointPodIndex([
      lean([endpoint('10.0.0.1', 'web-1'), endpoint('10.0.0.2', 'web-2')], 'default'),
      lean([endpoint('10.0.0.3', 'web-1')], 'default'),
      lean([endpoint('10.0.0.4', 'web-1')], 'other'),
    ]);
    expect(index.addressesOf('default', 'web-1').sort()).toEqual(
      [ipToInt('10.0.0.1'), ipToInt('10.0.0.3')].sort(),
    );
    expect(index.addressesOf('default', 'nobody')).toEqual([]);
  });
});

describe('the Service table names the pods of the slices it has', () => {
  test('cluster mode: the slices held, as they come and go', () => {
    const table = new ServiceTable({ sink: new RecordingSink(), logger: silent });
    const web = slice('web-1', 'web', [endpoint('10.0.0.1', 'web-a'), endpoint('10.0.0.2')]);
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertEndpointSlice(projectEndpointSlice(web));
    table.markSynced();
    expect(named(table.endpointPods(), '10.0.0.1', '10.0.0.2')).toEqual({
      '10.0.0.1': 'default/web-a',
      '10.0.0.2': undefined,
    });
    table.removeEndpointSlice(projectEndpointSlice(web));
    expect(table.endpointPods().size).toBe(0);
  });

  test('a complete state: its slices are dropped, the pods they name are kept', () => {
    const table = new ServiceTable({ sink: new RecordingSink(), logger: silent });
    table.replaceAll(
      [service('web', '10.96.0.10'), service('db', '10.96.0.11', 'data')],
      [
        slice('web-1', 'web', [endpoint('10.0.0.1', 'web-a'), endpoint('10.0.0.2')]),
        slice('db-1', 'db', [endpoint('10.0.1.1', 'db-0')], 'data'),
        // No Service lists it: no backend of this node can be its endpoint.
        slice('orphan-1', 'orphan', [endpoint('10.0.2.1', 'orphan-0')]),
      ],
    );
    expect(named(table.endpointPods(), '10.0.0.1', '10.0.0.2', '10.0.1.1', '10.0.2.1')).toEqual({
      '10.0.0.1': 'default/web-a',
      '10.0.0.2': undefined,
      '10.0.1.1': 'data/db-0',
      '10.0.2.1': undefined,
    });
    table.replaceAll([service('web', '10.96.0.10')], []);
    expect(table.endpointPods().size).toBe(0);
  });

  test('translateCompleteState keeps only the slices that name a pod', () => {
    const state = translateCompleteState(
      [service('web', '10.96.0.10')],
      [
        slice('web-1', 'web', [endpoint('10.0.0.1', 'web-a')]),
        slice('web-2', 'web', [endpoint('10.0.0.2')]),
      ],
    );
    expect(state.namedEndpoints).toEqual([
      {
        namespace: 'default',
        endpointCodes: [ipToInt('10.0.0.1') * 64 + 1],
        endpointPods: ['web-a'],
      },
    ]);
  });
});
