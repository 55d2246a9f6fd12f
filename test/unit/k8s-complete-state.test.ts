import { describe, expect, test } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { translateCompleteState } from '../../src/k8s/complete-state.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import { formatBackend } from '../../src/lb/desired-frontend.js';

function service(name: string, namespace: string, clusterIP: string): V1Service {
  return {
    metadata: { name, namespace },
    spec: { clusterIP, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  };
}

function slice(name: string, namespace: string, owner: string | undefined, ip: string) {
  return {
    metadata: {
      name,
      namespace,
      ...(owner === undefined ? {} : { labels: { [SERVICE_NAME_LABEL]: owner } }),
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  } satisfies V1EndpointSlice;
}

describe('translateCompleteState', () => {
  test('each Service gets the slices of its own namespace and label; counts name what was read', () => {
    const state = translateCompleteState(
      [
        service('web', 'a', '10.96.0.10'),
        service('web', 'b', '10.96.0.11'),
        service('headless', 'a', 'None'),
        { metadata: { namespace: 'a' }, spec: { clusterIP: '10.96.0.12' } },
      ],
      [
        slice('web-1', 'a', 'web', '10.0.0.1'),
        slice('web-2', 'a', 'web', '10.0.0.2'),
        slice('web-1', 'b', 'web', '10.0.1.1'),
        // No owner label: counted, belongs to nobody.
        slice('stray', 'a', undefined, '10.0.9.9'),
        // A slice whose Service is not in the state.
        slice('gone-1', 'a', 'gone', '10.0.8.8'),
        { ...slice('nameless', 'a', 'web', '10.0.7.7'), metadata: { namespace: 'a' } },
      ],
    );
    expect(state.services).toBe(3);
    expect(state.endpointSlices).toBe(5);
    expect([...state.frontends.keys()]).toEqual(['a/web', 'b/web', 'a/headless']);
    const backends = (key: string) =>
      state.frontends.get(key)!.flatMap((frontend) => frontend.ready.map(formatBackend));
    expect(backends('a/web')).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(backends('b/web')).toEqual(['10.0.1.1:8080']);
    // Known but not proxied: present with no frontends, so a complete state deletes it.
    expect(state.frontends.get('a/headless')).toEqual([]);
  });

  test('a Service listed twice: the last one wins (the services file refuses duplicates before this)', () => {
    const state = translateCompleteState(
      [service('web', 'a', '10.96.0.10'), service('web', 'a', '10.96.0.20')],
      [],
    );
    expect(state.services).toBe(1);
    expect(state.frontends.get('a/web')!.map((frontend) => frontend.address.ip)).toEqual([
      '10.96.0.20',
    ]);
  });
});
