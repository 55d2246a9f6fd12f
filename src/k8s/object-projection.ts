/**
 * The part of a Service or EndpointSlice that the load balancer reads, cut out of what the
 * apiserver sent, before an informer caches it.
 *
 * An informer keeps every object it has seen for as long as it runs, and a real apiserver's
 * objects are mostly what the datapath never reads: managedFields, annotations (kubectl's
 * last-applied-configuration alone repeats the whole object), ownerReferences, each endpoint's
 * targetRef but for its pod's name, its zone, and its nodeName and hints but for a few bits. Kept
 * whole, 10,000 Services and their slices were most of terwayd's memory in cluster mode; projected,
 * the cache holds only what translateService, the ServiceTable and client-node's ListWatch read:
 * - metadata: name, namespace, resourceVersion (ListWatch's cache key and change test), and for a
 *   slice the `kubernetes.io/service-name` label;
 * - the fields service-translation.ts reads, spelled as the API spells them; a slice's endpoints
 *   become one number each (lean-endpoint-slice.ts), so a projected slice is a LeanEndpointSlice;
 * - each endpoint's pod name (its targetRef), which `terway-cli` shows beside a backend.
 *
 * Pure and total: any JSON value in, a well-formed object out. A field of the wrong type is
 * dropped, as translation would skip it anyway.
 */
import type {
  DiscoveryV1EndpointPort,
  V1LoadBalancerIngress,
  V1ObjectMeta,
  V1Service,
  V1ServicePort,
  V1ServiceSpec,
} from '@kubernetes/client-node';

import {
  leanEndpointsOf,
  type LeanEndpointSlice,
  type NodeTopology,
} from './lean-endpoint-slice.js';
import { SERVICE_NAME_LABEL } from './service-translation.js';

type Json = Record<string, unknown>;

export function projectService(raw: unknown): V1Service {
  const object = recordOf(raw);
  const service: V1Service = { metadata: projectMetadata(object['metadata'], false) };
  const spec = recordOf(object['spec']);
  const projectedSpec: V1ServiceSpec = {};
  copyString(spec, projectedSpec, 'type');
  copyString(spec, projectedSpec, 'clusterIP');
  copyStrings(spec, projectedSpec, 'clusterIPs');
  copyStrings(spec, projectedSpec, 'externalIPs');
  copyString(spec, projectedSpec, 'sessionAffinity');
  copyString(spec, projectedSpec, 'internalTrafficPolicy');
  const timeout = recordOf(recordOf(spec['sessionAffinityConfig'])['clientIP'])['timeoutSeconds'];
  if (timeout !== undefined) {
    projectedSpec.sessionAffinityConfig = { clientIP: { timeoutSeconds: timeout as number } };
  }
  if (Array.isArray(spec['ports'])) projectedSpec.ports = spec['ports'].map(projectServicePort);
  service.spec = projectedSpec;
  const ingress = recordOf(recordOf(object['status'])['loadBalancer'])['ingress'];
  if (Array.isArray(ingress)) {
    service.status = { loadBalancer: { ingress: ingress.map(projectIngress) } };
  }
  return service;
}

/** `thisNode`: the daemon's node and zone, which the codes' flags are relative to (EndpointCode). */
export function projectEndpointSlice(raw: unknown, thisNode?: NodeTopology): LeanEndpointSlice {
  const object = recordOf(raw);
  const ports = object['ports'];
  const metadata = projectMetadata(object['metadata'], true);
  const { endpointCodes, endpointPods } = leanEndpointsOf(
    object['endpoints'],
    metadata.namespace,
    thisNode,
  );
  return {
    metadata,
    addressType: typeof object['addressType'] === 'string' ? object['addressType'] : '',
    ...(Array.isArray(ports) ? { ports: ports.map(projectSlicePort) } : {}),
    // Copies: an array grown by push keeps room for 17 entries, these hold just their own.
    endpointCodes: endpointCodes.slice(),
    ...(endpointPods === undefined ? {} : { endpointPods: endpointPods.slice() }),
  };
}

function projectMetadata(raw: unknown, withServiceLabel: boolean): V1ObjectMeta {
  const metadata = recordOf(raw);
  const projected: V1ObjectMeta = {};
  copyString(metadata, projected, 'name');
  copyString(metadata, projected, 'namespace');
  copyString(metadata, projected, 'resourceVersion');
  if (withServiceLabel) {
    const serviceName = recordOf(metadata['labels'])[SERVICE_NAME_LABEL];
    if (typeof serviceName === 'string') projected.labels = { [SERVICE_NAME_LABEL]: serviceName };
  }
  return projected;
}

function projectServicePort(raw: unknown): V1ServicePort {
  const port = recordOf(raw);
  // `port` is required by the type; a missing one stays missing (translation skips the port).
  const projected = { port: port['port'] } as V1ServicePort;
  copyString(port, projected, 'name');
  copyString(port, projected, 'protocol');
  return projected;
}

function projectSlicePort(raw: unknown): DiscoveryV1EndpointPort {
  const port = recordOf(raw);
  const projected: DiscoveryV1EndpointPort = {};
  if (port['port'] !== undefined) projected.port = port['port'] as number;
  copyString(port, projected, 'name');
  copyString(port, projected, 'protocol');
  return projected;
}

function projectIngress(raw: unknown): V1LoadBalancerIngress {
  const ingress = recordOf(raw);
  const projected: V1LoadBalancerIngress = {};
  copyString(ingress, projected, 'ip');
  copyString(ingress, projected, 'ipMode');
  return projected;
}

function recordOf(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : {};
}

function copyString<T extends object>(from: Json, to: T, field: keyof T & string): void {
  const value = from[field];
  if (typeof value === 'string') (to as Json)[field] = value;
}

function copyStrings<T extends object>(from: Json, to: T, field: keyof T & string): void {
  const value = from[field];
  if (!Array.isArray(value)) return;
  // The parsed array itself when it holds only strings (the usual case): it is exactly its own
  // size, where a filtered copy, grown by appending, keeps room for 17.
  const strings = value.every((item) => typeof item === 'string');
  (to as Json)[field] = strings ? value : value.filter((item) => typeof item === 'string');
}
