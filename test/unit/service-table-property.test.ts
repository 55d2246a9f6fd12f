/**
 * Informers deliver Services and EndpointSlices in any order: slices before their Service, a
 * Service deleted and re-created, a slice relabelled, updates that change nothing. Whatever the
 * order, once the source has synced, what the sink holds must be what a from-scratch translation
 * of the objects that exist at the end gives (replaceAll, the services-file path).
 */
import { describe, expect, test } from '@jest/globals';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import fc from 'fast-check';
import pino from 'pino';

import { projectEndpointSlice, projectService } from '../../src/k8s/object-projection.js';
import { ServiceTable } from '../../src/k8s/service-table.js';
import { SERVICE_NAME_LABEL } from '../../src/k8s/service-translation.js';
import { RecordingSink } from '../support/recording-sink.js';

const silent = pino({ level: 'silent' });

const SERVICE_NAMES = ['web', 'dns', 'api'];
const SLICE_NAMES = ['web-1', 'web-2', 'dns-1', 'stray'];
const SERVICE_PORTS = [
  { name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 },
  { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 },
];
const SLICE_PORTS = [
  { name: 'http', port: 8080, protocol: 'TCP' },
  { name: 'http', port: 8081, protocol: 'TCP' },
  { name: 'dns', port: 5353, protocol: 'UDP' },
];
const ENDPOINT_IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];

const serviceArb = (name: string): fc.Arbitrary<V1Service> =>
  fc
    .record({
      clusterIP: fc.constantFrom('10.96.0.1', '10.96.0.2', 'None'),
      ports: fc.subarray(SERVICE_PORTS, { minLength: 1 }),
      externalIPs: fc.subarray(['192.0.2.1']),
      affinity: fc.boolean(),
      local: fc.boolean(),
      resourceVersion: fc.nat(1000),
    })
    .map(({ clusterIP, ports, externalIPs, affinity, local, resourceVersion }) => ({
      metadata: { name, namespace: 'default', resourceVersion: String(resourceVersion) },
      spec: {
        type: 'ClusterIP',
        clusterIP,
        ports,
        ...(externalIPs.length > 0 ? { externalIPs } : {}),
        ...(affinity ? { sessionAffinity: 'ClientIP' } : {}),
        ...(local ? { internalTrafficPolicy: 'Local' } : {}),
      },
    }));

/** The daemon's node, which `internalTrafficPolicy: Local` and the hints are read against. */
const THIS_NODE = { name: 'node-a', zone: 'zone-a' };

const endpointArb = fc
  .record({
    ip: fc.constantFrom(...ENDPOINT_IPS),
    conditions: fc.record({
      ready: fc.boolean(),
      serving: fc.boolean(),
      terminating: fc.boolean(),
    }),
    nodeName: fc.option(fc.constantFrom('node-a', 'node-b'), { nil: undefined }),
    zoneHint: fc.option(fc.constantFrom('zone-a', 'zone-b'), { nil: undefined }),
  })
  .map(({ ip, conditions, nodeName, zoneHint }) => ({
    addresses: [ip],
    conditions,
    ...(nodeName === undefined ? {} : { nodeName }),
    ...(zoneHint === undefined ? {} : { hints: { forZones: [{ name: zoneHint }] } }),
  }));

const sliceArb = (name: string): fc.Arbitrary<V1EndpointSlice> =>
  fc
    .record({
      owner: fc.option(fc.constantFrom(...SERVICE_NAMES), { nil: undefined }),
      ports: fc.uniqueArray(fc.constantFrom(...SLICE_PORTS), {
        minLength: 1,
        maxLength: 2,
        selector: (port) => `${port.name}/${port.protocol}`,
      }),
      endpoints: fc.array(endpointArb, { minLength: 1, maxLength: 4 }),
      resourceVersion: fc.nat(1000),
    })
    .map(({ owner, ports, endpoints, resourceVersion }) => ({
      metadata: {
        name,
        namespace: 'default',
        resourceVersion: String(resourceVersion),
        ...(owner === undefined ? {} : { labels: { [SERVICE_NAME_LABEL]: owner } }),
      },
      addressType: 'IPv4',
      ports,
      endpoints,
    }));

type Event =
  | { kind: 'upsertService'; service: V1Service }
  | { kind: 'removeService'; name: string }
  | { kind: 'upsertSlice'; slice: V1EndpointSlice }
  | { kind: 'removeSlice'; name: string };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...SERVICE_NAMES)
      .chain(serviceArb)
      .map((service) => ({ kind: 'upsertService' as const, service })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...SERVICE_NAMES)
      .map((name) => ({ kind: 'removeService' as const, name })),
  },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(...SLICE_NAMES)
      .chain(sliceArb)
      .map((slice) => ({ kind: 'upsertSlice' as const, slice })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...SLICE_NAMES)
      .map((name) => ({ kind: 'removeSlice' as const, name })),
  },
);

function named(name: string): { metadata: { name: string; namespace: string } } {
  return { metadata: { name, namespace: 'default' } };
}

describe('ServiceTable, events in any order', () => {
  test('once synced, the sink holds what a translation of the final objects gives', () => {
    let nonEmpty = 0;
    let backendsSeen = 0;
    let narrowed = 0;
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 25 }),
        fc.nat(25),
        (events, syncedAfter) => {
          const incrementalSink = new RecordingSink();
          const incremental = new ServiceTable({
            sink: incrementalSink,
            logger: silent,
            thisNode: THIS_NODE,
          });
          // The objects that exist at the end, as a fresh list would return them.
          const services = new Map<string, V1Service>();
          const slices = new Map<string, V1EndpointSlice>();
          events.forEach((event, index) => {
            if (index === syncedAfter) incremental.markSynced();
            switch (event.kind) {
              case 'upsertService':
                // Projected, as the informers cache them.
                incremental.upsertService(projectService(event.service));
                services.set(event.service.metadata!.name!, event.service);
                break;
              case 'removeService':
                incremental.removeService(named(event.name));
                services.delete(event.name);
                break;
              case 'upsertSlice':
                incremental.upsertEndpointSlice(projectEndpointSlice(event.slice, THIS_NODE));
                slices.set(event.slice.metadata!.name!, event.slice);
                break;
              case 'removeSlice':
                incremental.removeEndpointSlice(projectEndpointSlice(named(event.name), THIS_NODE));
                slices.delete(event.name);
                break;
            }
          });
          incremental.markSynced();

          const completeSink = new RecordingSink();
          new ServiceTable({ sink: completeSink, logger: silent, thisNode: THIS_NODE }).replaceAll(
            [...services.values()],
            [...slices.values()],
          );
          if (completeSink.table.size > 0) nonEmpty++;
          for (const frontends of completeSink.table.values()) {
            narrowed += frontends.filter((frontend) => frontend.topology !== undefined).length;
          }
          backendsSeen += [...completeSink.table.values()]
            .flat()
            .reduce((sum, frontend) => sum + frontend.ready.length + frontend.draining.length, 0);
          expect(Object.fromEntries(incrementalSink.table)).toEqual(
            Object.fromEntries(completeSink.table),
          );
          expect(incremental.stats()).toEqual(
            expect.objectContaining({ services: services.size, endpointSlices: slices.size }),
          );
        },
      ),
      { numRuns: 500 },
    );
    // The histories are not vacuous: most end with Services that have backends to compare, and
    // some with a port that topology hints narrow.
    expect(nonEmpty).toBeGreaterThan(200);
    expect(backendsSeen).toBeGreaterThan(250);
    expect(narrowed).toBeGreaterThan(10);
  });
});
