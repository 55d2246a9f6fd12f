/**
 * The benchmark's cluster: N Services, each a ClusterIP with one TCP port and one EndpointSlice of
 * M ready endpoints, every backend IP distinct. Deterministic, so the worker processes, the
 * apiserver and the iptables baseline all describe the very same Services.
 */
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { intToIp, ipToInt } from '../../src/util/ipv4.js';

export const SERVICE_PORT = 80;
export const BACKEND_PORT = 8080;
export const PORT_NAME = 'http';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Services are spread over this many namespaces, as in a real cluster. */
const NAMESPACES = 50;

/** 10.96.0.16 upwards: one ClusterIP per Service. */
const CLUSTER_IP_BASE = ipToInt('10.96.0.16');
/** 10.200.0.1 upwards: Service i's endpoint j is BACKEND_BASE + i × M + j. */
const BACKEND_BASE = ipToInt('10.200.0.1');
/** Endpoints that replace others during the change-latency phase: 10.240.0.1 upwards. */
const REPLACEMENT_BASE = ipToInt('10.240.0.1');

export interface FixtureShape {
  services: number;
  endpointsPerService: number;
}

export function serviceName(index: number): string {
  return `svc-${index}`;
}

export function namespaceOf(index: number): string {
  return `bench-${index % NAMESPACES}`;
}

export function clusterIp(index: number): string {
  return intToIp(CLUSTER_IP_BASE + index);
}

export function backendIp(shape: FixtureShape, service: number, endpoint: number): string {
  return intToIp(BACKEND_BASE + service * shape.endpointsPerService + endpoint);
}

export function replacementIp(change: number): string {
  return intToIp(REPLACEMENT_BASE + change);
}

/** The ready backend IPs of Service `index`, in endpoint order. */
export function backendIps(shape: FixtureShape, index: number): string[] {
  return Array.from({ length: shape.endpointsPerService }, (_, j) => backendIp(shape, index, j));
}

export function makeService(index: number): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: serviceName(index), namespace: namespaceOf(index) },
    spec: {
      type: 'ClusterIP',
      clusterIP: clusterIp(index),
      clusterIPs: [clusterIp(index)],
      sessionAffinity: 'None',
      ports: [{ name: PORT_NAME, protocol: 'TCP', port: SERVICE_PORT, targetPort: BACKEND_PORT }],
    },
  };
}

/** Service `index`'s one EndpointSlice, listing `ips` as ready endpoints. */
export function makeSlice(index: number, ips: readonly string[]): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${serviceName(index)}-x7k2p`,
      namespace: namespaceOf(index),
      labels: { [SERVICE_NAME_LABEL]: serviceName(index) },
    },
    addressType: 'IPv4',
    ports: [{ name: PORT_NAME, protocol: 'TCP', port: BACKEND_PORT }],
    endpoints: ips.map((ip, j) => ({
      addresses: [ip],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: namespaceOf(index), name: `${serviceName(index)}-${j}` },
    })),
  };
}

export function makeCluster(shape: FixtureShape): {
  services: V1Service[];
  slices: V1EndpointSlice[];
} {
  const services: V1Service[] = [];
  const slices: V1EndpointSlice[] = [];
  for (let i = 0; i < shape.services; i++) {
    services.push(makeService(i));
    slices.push(makeSlice(i, backendIps(shape, i)));
  }
  return { services, slices };
}

/** `ns/name`, the key the sources hand the reconciler. */
export function serviceKeyOf(index: number): string {
  return `${namespaceOf(index)}/${serviceName(index)}`;
}
