import { describe, expect, test } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import pino from 'pino';

import { projectEndpointSlice } from '../../src/k8s/object-projection.js';
import { ServiceTable } from '../../src/k8s/service-table.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import type { DesiredFrontend } from '../../src/lb/desired-frontend.js';
import { RecordingSink } from '../support/recording-sink.js';

const silent = pino({ level: 'silent' });

function service(name: string, clusterIP: string, namespace = 'default'): V1Service {
  return {
    metadata: { name, namespace, resourceVersion: '1' },
    spec: { clusterIP, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  };
}

function slice(
  name: string,
  serviceName: string,
  ips: string[],
  options: { namespace?: string; ready?: boolean; zone?: string } = {},
): V1EndpointSlice {
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      labels: { [SERVICE_NAME_LABEL]: serviceName },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({
      addresses: [ip],
      conditions: { ready: options.ready ?? true },
      ...(options.zone === undefined ? {} : { zone: options.zone }),
    })),
  };
}

/** A slice as the informers hand it over: projected. */
function leanSlice(...args: Parameters<typeof slice>) {
  return projectEndpointSlice(slice(...args));
}

function syncedTable(): { table: ServiceTable; sink: RecordingSink } {
  const sink = new RecordingSink();
  const table = new ServiceTable({ sink, logger: silent });
  table.markSynced();
  sink.calls.length = 0;
  return { table, sink };
}

describe('before markSynced', () => {
  test('nothing reaches the sink; markSynced sends every Service with its slices, then synced', () => {
    const sink = new RecordingSink();
    const table = new ServiceTable({ sink, logger: silent });
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertService(service('api', '10.96.0.11'));
    table.upsertService(service('headless', 'None'));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    table.upsertService(service('gone', '10.96.0.12'));
    table.removeService(service('gone', '10.96.0.12'));
    expect(sink.calls).toEqual([]);
    expect(table.isSynced()).toBe(false);

    table.markSynced();
    expect(sink.calls.map((call) => call.kind)).toEqual(['replace', 'replace', 'synced']);
    expect(sink.servicesTouchedSince(0)).toEqual(['default/api', 'default/web']);
    // The Service went out with its backends, never as an empty frontend first.
    expect(sink.callsFor('default/web')).toHaveLength(1);
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.1:8080']);
    expect(table.isSynced()).toBe(true);

    table.markSynced();
    expect(sink.calls.filter((call) => call.kind === 'synced')).toHaveLength(1);
  });
});

describe('after markSynced', () => {
  test('a Service is sent when added and deleted when removed', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    expect(sink.callsFor('default/web')).toEqual([
      { kind: 'replace', service: 'default/web', frontends: expect.any(Array) },
    ]);
    table.removeService(service('web', '10.96.0.10'));
    expect(sink.callsFor('default/web').at(-1)).toEqual({ kind: 'delete', service: 'default/web' });
    expect(sink.table.size).toBe(0);
  });

  test('a slice change recomputes only its own Service', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertService(service('api', '10.96.0.11'));
    table.upsertService(service('web', '10.96.0.20', 'other'));
    const before = sink.calls.length;

    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1', '10.0.0.2']));
    expect(sink.servicesTouchedSince(before)).toEqual(['default/web']);
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual([
      '10.0.0.1:8080',
      '10.0.0.2:8080',
    ]);
    // Same Service name in another namespace is another Service.
    expect(sink.backends('other/web', '10.96.0.20:80/TCP')).toEqual([]);
  });

  test('an update that changes nothing the datapath uses sends nothing', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    const before = sink.calls.length;

    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1'], { zone: 'cn-hangzhou-k' }));
    table.upsertService({
      ...service('web', '10.96.0.10'),
      metadata: { name: 'web', namespace: 'default', resourceVersion: '2', labels: { a: 'b' } },
    });
    table.upsertEndpointSlice(leanSlice('unrelated-1', 'unrelated', ['10.0.0.9']));
    expect(sink.calls.length).toBe(before);
  });

  test('an endpoint going not-ready moves from ready to draining', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1'], { ready: false }));
    expect(sink.backends('default/web', '10.96.0.10:80/TCP', 'ready')).toEqual([]);
    expect(sink.backends('default/web', '10.96.0.10:80/TCP', 'draining')).toEqual([
      '10.0.0.1:8080',
    ]);
  });

  test('backends from several slices are merged; removing a slice removes its backends', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    table.upsertEndpointSlice(leanSlice('web-2', 'web', ['10.0.0.2']));
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual([
      '10.0.0.1:8080',
      '10.0.0.2:8080',
    ]);
    table.removeEndpointSlice(leanSlice('web-1', 'web', []));
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.2:8080']);
  });

  test('slices that arrive before their Service are used once it appears', () => {
    const { table, sink } = syncedTable();
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    expect(sink.calls).toEqual([]);
    table.upsertService(service('web', '10.96.0.10'));
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.1:8080']);
  });

  test('a Service re-created after deletion gets its surviving slices back', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    table.removeService(service('web', '10.96.0.10'));
    table.upsertService(service('web', '10.96.0.30'));
    expect(sink.backends('default/web', '10.96.0.30:80/TCP')).toEqual(['10.0.0.1:8080']);
  });

  test('a slice relabelled to another Service leaves the first one', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertService(service('api', '10.96.0.11'));
    table.upsertEndpointSlice(leanSlice('shared', 'web', ['10.0.0.1']));
    const before = sink.calls.length;
    table.upsertEndpointSlice(leanSlice('shared', 'api', ['10.0.0.1']));
    expect(sink.servicesTouchedSince(before)).toEqual(['default/api', 'default/web']);
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual([]);
    expect(sink.backends('default/api', '10.96.0.11:80/TCP')).toEqual(['10.0.0.1:8080']);
  });

  test('a Service that becomes headless is deleted from the sink', () => {
    const { table, sink } = syncedTable();
    table.upsertService(service('web', '10.96.0.10'));
    table.upsertService(service('web', 'None'));
    expect(sink.callsFor('default/web').at(-1)).toEqual({ kind: 'delete', service: 'default/web' });
    // A headless Service that never had frontends is never mentioned.
    table.upsertService(service('dns', 'None'));
    table.removeService(service('dns', 'None'));
    expect(sink.callsFor('default/dns')).toEqual([]);
  });

  test('removing something unknown sends nothing', () => {
    const { table, sink } = syncedTable();
    table.removeService(service('ghost', '10.96.0.99'));
    table.removeEndpointSlice(leanSlice('ghost-1', 'ghost', []));
    expect(sink.calls).toEqual([]);
  });
});

describe('replaceAll', () => {
  test('sends only the Services whose frontends changed, and deletes the vanished', () => {
    const { table, sink } = syncedTable();
    table.replaceAll(
      [service('web', '10.96.0.10'), service('api', '10.96.0.11'), service('old', '10.96.0.12')],
      [slice('web-1', 'web', ['10.0.0.1']), slice('api-1', 'api', ['10.0.0.5'])],
    );
    const before = sink.calls.length;
    table.replaceAll(
      [service('web', '10.96.0.10'), service('api', '10.96.0.11'), service('new', '10.96.0.13')],
      [slice('web-1', 'web', ['10.0.0.1', '10.0.0.2']), slice('api-1', 'api', ['10.0.0.5'])],
    );
    // Deletions first: a ClusterIP handed from a deleted Service to a new one is then deleted
    // and re-added, never added and then deleted.
    expect(sink.calls.slice(before)).toEqual([
      { kind: 'delete', service: 'default/old' },
      { kind: 'replace', service: 'default/web', frontends: expect.any(Array) },
      { kind: 'replace', service: 'default/new', frontends: expect.any(Array) },
    ]);
    expect([...sink.table.keys()].sort()).toEqual(['default/api', 'default/new', 'default/web']);
    expect(table.stats()).toEqual({ services: 3, endpointSlices: 2, programmedServices: 3 });
  });
});

describe('a sink that throws', () => {
  test('is logged, does not throw into the caller, and the delivery is retried on next change', () => {
    const sink = new RecordingSink();
    let failing = true;
    const flaky = {
      replaceService: (key: string, frontends: readonly DesiredFrontend[]) => {
        if (failing) throw new Error('table full');
        sink.replaceService(key, frontends);
      },
      deleteService: (key: string) => sink.deleteService(key),
      markSynced: () => sink.markSynced(),
      heldFrontends: sink.heldFrontends,
    };
    const logged: unknown[] = [];
    const logger = pino(
      { level: 'error' },
      { write: (line: string) => logged.push(JSON.parse(line)) },
    );
    const table = new ServiceTable({ sink: flaky, logger });
    table.markSynced();
    expect(() => table.upsertService(service('web', '10.96.0.10'))).not.toThrow();
    expect(logged).toEqual([
      expect.objectContaining({
        service: 'default/web',
        msg: 'desired-state sink rejected a Service',
      }),
    ]);
    failing = false;
    table.upsertEndpointSlice(leanSlice('web-1', 'web', ['10.0.0.1']));
    expect(sink.backends('default/web', '10.96.0.10:80/TCP')).toEqual(['10.0.0.1:8080']);
  });
});
