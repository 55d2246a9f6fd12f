/**
 * Services for a lab node: written to the node's services file as the real Kubernetes objects
 * (Service + discovery.k8s.io/v1 EndpointSlice), then waited for in the node's Service LB maps,
 * read back from the pins the way the datapath sees them.
 */
import { renameSync, writeFileSync } from 'node:fs';

import { dump } from 'js-yaml';

import { NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import { closeLbMaps, openLbMaps, type LbMaps } from '../../src/lb/lb-maps.js';
import { readLbTable } from '../../src/lb/lb-table.js';
import type { LabNodeInfo } from '../../src/lab/lab-manifest.js';
import { LAB_ZONE } from '../../src/lab/lab-supervisor.js';

export interface LabEndpoint {
  ip: string;
  ready?: boolean;
  terminating?: boolean;
  /** The lab node the endpoint's pod runs on (EndpointSlice `nodeName`). */
  nodeName?: string;
  /** The zones the endpoint is hinted for (`hints.forZones`), as the EndpointSlice controller
   *  writes them for a Service with `trafficDistribution: PreferClose`. */
  zones?: string[];
  /** The endpoint's pod (`targetRef`), as the EndpointSlice controller names it. */
  pod?: string;
}

export interface LabService {
  name: string;
  clusterIP: string;
  /** TCP `port` → `targetPort` named http; UDP `port` → `targetPort` named dns. */
  tcp?: { port: number; targetPort: number };
  udp?: { port: number; targetPort: number };
  endpoints: LabEndpoint[];
  affinitySeconds?: number;
  internalTrafficPolicy?: 'Cluster' | 'Local';
}

/** The Service and EndpointSlice a lab Service stands for, as a user would write them. */
export function labServiceObjects(service: LabService): object[] {
  const ports = [
    ...(service.tcp
      ? [
          {
            name: 'http',
            protocol: 'TCP',
            port: service.tcp.port,
            targetPort: service.tcp.targetPort,
          },
        ]
      : []),
    ...(service.udp
      ? [
          {
            name: 'dns',
            protocol: 'UDP',
            port: service.udp.port,
            targetPort: service.udp.targetPort,
          },
        ]
      : []),
  ];
  return [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: service.name, namespace: 'default' },
      spec: {
        type: 'ClusterIP',
        clusterIP: service.clusterIP,
        ports,
        ...(service.internalTrafficPolicy === undefined
          ? {}
          : { internalTrafficPolicy: service.internalTrafficPolicy }),
        ...(service.affinitySeconds === undefined
          ? {}
          : {
              sessionAffinity: 'ClientIP',
              sessionAffinityConfig: { clientIP: { timeoutSeconds: service.affinitySeconds } },
            }),
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${service.name}-1`,
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': service.name },
      },
      addressType: 'IPv4',
      ports: ports.map((port) => ({
        name: port.name,
        protocol: port.protocol,
        port: port.targetPort,
      })),
      endpoints: service.endpoints.map((endpoint) => ({
        addresses: [endpoint.ip],
        ...(endpoint.nodeName === undefined ? {} : { nodeName: endpoint.nodeName }),
        ...(endpoint.pod === undefined
          ? {}
          : { targetRef: { kind: 'Pod', namespace: 'default', name: endpoint.pod } }),
        ...(endpoint.zones === undefined
          ? {}
          : { hints: { forZones: endpoint.zones.map((name) => ({ name })) } }),
        conditions: {
          ready: endpoint.ready ?? true,
          serving: endpoint.ready ?? true,
          terminating: endpoint.terminating ?? false,
        },
      })),
    },
  ];
}

/** Replaces the node's services file atomically (rename), as a careful operator would. */
export function writeServices(node: LabNodeInfo, services: readonly LabService[]): void {
  const text = services
    .flatMap(labServiceObjects)
    .map((object) => dump(object))
    .join('---\n');
  writeFileSync(`${node.services}.tmp`, text);
  renameSync(`${node.services}.tmp`, node.services);
}

/** The node's LB as its maps hold it: `ip:port/proto` → sorted backend ips. */
export function lbTableOf(node: LabNodeInfo): Record<string, string[]> {
  let maps: LbMaps | undefined;
  try {
    maps = openLbMaps(node.bpfPinDir, (path) => NativeBpfMap.openPinned(path));
    return Object.fromEntries(
      readLbTable(maps).map((row) => [
        `${row.frontend.ip}:${row.frontend.port}/${row.frontend.protocol}`,
        row.backends.map((backend) => backend.ip).sort(),
      ]),
    );
  } finally {
    if (maps) closeLbMaps(maps);
  }
}

/**
 * What writeServices should make of `services` in `node`'s maps: ready endpoints only, and only
 * the node's own under `internalTrafficPolicy: Local`; otherwise only those hinted for the lab's
 * zone when every ready endpoint has a zone hint and one names it.
 */
export function expectedTable(
  services: readonly LabService[],
  node: string,
): Record<string, string[]> {
  const table: Record<string, string[]> = {};
  for (const service of services) {
    const local = service.internalTrafficPolicy === 'Local';
    const ready = service.endpoints.filter(
      (endpoint) => (endpoint.ready ?? true) && !(endpoint.terminating ?? false),
    );
    const byZone =
      !local &&
      ready.every((endpoint) => (endpoint.zones ?? []).length > 0) &&
      ready.some((endpoint) => endpoint.zones?.includes(LAB_ZONE));
    const ips = ready
      .filter((endpoint) => !local || endpoint.nodeName === node)
      .filter((endpoint) => !byZone || endpoint.zones?.includes(LAB_ZONE))
      .map((endpoint) => endpoint.ip)
      .sort();
    if (service.tcp) table[`${service.clusterIP}:${service.tcp.port}/TCP`] = ips;
    if (service.udp) table[`${service.clusterIP}:${service.udp.port}/UDP`] = ips;
  }
  return table;
}

/** Writes the services and waits until the node's maps hold exactly them. */
export async function applyServices(
  node: LabNodeInfo,
  services: readonly LabService[],
  timeoutMs = 10_000,
): Promise<void> {
  writeServices(node, services);
  await awaitLbTable(node, services, 'the services file', timeoutMs);
}

/** Waits until the node's maps hold exactly `services` (from `source`, for the error). */
export async function awaitLbTable(
  node: LabNodeInfo,
  services: readonly LabService[],
  source: string,
  timeoutMs = 10_000,
): Promise<void> {
  const want = JSON.stringify(sortKeys(expectedTable(services, node.name)));
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    seen = JSON.stringify(sortKeys(lbTableOf(node)));
    if (seen === want) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${node.name}'s LB maps never matched ${source}:\n want ${want}\n seen ${seen}`);
}

function sortKeys(table: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(table).sort(([a], [b]) => a.localeCompare(b)));
}
