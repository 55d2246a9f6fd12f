/**
 * The parts of Services and EndpointSlices the Service LB reads (service-translation.ts), copied
 * out of parsed objects. The services-file worker sends these, not the objects, back to the
 * daemon: an EndpointSlice endpoint carries a targetRef (kind, name, namespace, uid), a nodeName,
 * a zone and hints, none of which the datapath uses, and for 100,000 endpoints copying them
 * across threads would cost the daemon time and memory. Every field translation reads must be
 * copied here: the unit tests translate projected and whole objects and compare.
 */
import type {
  V1Endpoint,
  DiscoveryV1EndpointPort,
  V1EndpointSlice,
  V1Service,
  V1ServicePort,
} from '@kubernetes/client-node';

import { SERVICE_NAME_LABEL } from './service-translation.js';

function defined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

export function projectService(service: V1Service): V1Service {
  const { metadata, spec, status } = service;
  const ingress = status?.loadBalancer?.ingress;
  return defined({
    metadata: defined({ name: metadata?.name, namespace: metadata?.namespace }),
    spec:
      spec === undefined
        ? undefined
        : defined({
            type: spec.type,
            clusterIP: spec.clusterIP,
            clusterIPs: spec.clusterIPs,
            externalIPs: spec.externalIPs,
            sessionAffinity: spec.sessionAffinity,
            sessionAffinityConfig:
              spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined
                ? undefined
                : {
                    clientIP: {
                      timeoutSeconds: spec.sessionAffinityConfig.clientIP.timeoutSeconds,
                    },
                  },
            ports: spec.ports?.map((port): V1ServicePort =>
              defined({
                name: port.name,
                port: port.port,
                protocol: port.protocol,
              }),
            ),
          }),
    status:
      ingress === undefined
        ? undefined
        : {
            loadBalancer: {
              ingress: ingress.map((entry) => defined({ ip: entry.ip, ipMode: entry.ipMode })),
            },
          },
  });
}

export function projectEndpointSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return {
    metadata: defined({
      name: slice.metadata?.name,
      namespace: slice.metadata?.namespace,
      labels: owner === undefined ? undefined : { [SERVICE_NAME_LABEL]: owner },
    }),
    addressType: slice.addressType,
    ports: slice.ports?.map((port): DiscoveryV1EndpointPort =>
      defined({ name: port.name, port: port.port, protocol: port.protocol }),
    ),
    endpoints: slice.endpoints.map((endpoint): V1Endpoint =>
      defined({
        // Only the first address has defined semantics (service-translation.ts).
        addresses: endpoint.addresses.slice(0, 1),
        conditions:
          endpoint.conditions === undefined
            ? undefined
            : defined({
                ready: endpoint.conditions.ready,
                terminating: endpoint.conditions.terminating,
              }),
      }),
    ),
  };
}
