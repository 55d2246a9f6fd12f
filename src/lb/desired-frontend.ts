/**
 * The load balancer's desired state, independent of where it came from (Kubernetes informers or a
 * services file) and of how it is programmed (BPF maps). Sources translate Services and
 * EndpointSlices into frontends; the reconciler turns frontends into map entries.
 */

export type LbProtocol = 'TCP' | 'UDP';

/** One address a client may dial: a ClusterIP, externalIP or LoadBalancer ingress IP, one port. */
export interface FrontendAddress {
  readonly ip: string;
  readonly port: number;
  readonly protocol: LbProtocol;
}

export interface BackendAddress {
  readonly ip: string;
  readonly port: number;
}

export interface ServicePortRef {
  readonly namespace: string;
  readonly name: string;
  /** The Service port's name ('' when the port is unnamed). */
  readonly portName: string;
}

export interface DesiredFrontend {
  readonly address: FrontendAddress;
  readonly service: ServicePortRef;
  /** True for externalIPs and LoadBalancer ingress IPs, false for the ClusterIP. */
  readonly external: boolean;
  /** sessionAffinity ClientIP timeout in seconds; 0 when the Service has no affinity. */
  readonly affinityTimeoutSeconds: number;
  /** Ready, non-terminating endpoints: new flows go only here. Sorted by ip, then port. */
  readonly ready: readonly BackendAddress[];
  /**
   * Endpoints still listed but not ready or terminating: no new flows, but flows already on them
   * keep working until the endpoint disappears from every slice. Sorted by ip, then port.
   */
  readonly draining: readonly BackendAddress[];
}

/** `10.96.0.10:53/UDP`: the identity of a frontend in the desired table and in logs. */
export function frontendKey(address: FrontendAddress): string {
  return `${address.ip}:${address.port}/${address.protocol}`;
}

/** `namespace/name`: the identity of a Service. */
export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Where sources deliver desired state. A source always hands over every frontend of a Service at
 * once, so the consumer diffs per Service and touches only what changed.
 */
export interface DesiredStateSink {
  /** The Service's complete frontend set now; an empty list is the same as deleteService. */
  replaceService(service: string, frontends: readonly DesiredFrontend[]): void;
  deleteService(service: string): void;
  /**
   * The source has delivered its complete initial state (an informer's first list, or a file's
   * first parse). Until then the consumer must not delete what it restored from the live maps.
   */
  markSynced(): void;
}
