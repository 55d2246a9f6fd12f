/**
 * The load balancer's desired state, independent of where it came from (Kubernetes informers or a
 * services file) and of how it is programmed (BPF maps). Sources translate Services and
 * EndpointSlices into frontends; the reconciler turns frontends into map entries.
 */

import { intToIp, parseIPv4 } from '../util/ipv4.js';
import { TerwayError } from '../errors/terway-error.js';

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

/**
 * A backend as one number: its IPv4 address × 2^16 + its port (at most 2^48, exact in a double).
 * Desired state holds backends this way because a 10,000-Service cluster has 100,000 of them: as
 * numbers they cost 8 bytes each in a plain array, need no parsing when programmed, compare with
 * `===`, and their numeric order is "by address, then port".
 */
export type BackendKey = number;

/** BackendKey = address × BACKEND_PORT_SPACE + port. */
export const BACKEND_PORT_SPACE = 65_536;

export function backendKey(addr: number, port: number): BackendKey {
  return addr * BACKEND_PORT_SPACE + port;
}

/** The key of a dotted-quad backend; throws INVALID_ARGUMENT for anything else. */
export function backendKeyOf(backend: BackendAddress): BackendKey {
  const addr = parseIPv4(backend.ip);
  if (
    addr === undefined ||
    !Number.isInteger(backend.port) ||
    backend.port < 1 ||
    backend.port > 65_535
  ) {
    throw new TerwayError('INVALID_ARGUMENT', `not an IPv4 backend: ${backend.ip}:${backend.port}`);
  }
  return backendKey(addr, backend.port);
}

/** `ip:port`, for logs and tests. */
export function formatBackend(key: BackendKey): string {
  return `${intToIp(Math.floor(key / BACKEND_PORT_SPACE))}:${key % BACKEND_PORT_SPACE}`;
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
  /** Ready, non-terminating endpoints: new flows go only here. Ascending (by ip, then port). */
  readonly ready: readonly BackendKey[];
  /**
   * Endpoints still listed but not ready or terminating (or left out by topology hints): no new
   * flows, but flows already on them keep working until the endpoint disappears from every
   * slice. Ascending, like `ready`.
   */
  readonly draining: readonly BackendKey[];
  /**
   * Set when topology hints narrowed `ready` to the endpoints hinted for this node's zone, or for
   * this node; the ready endpoints left out are in `draining`. Absent: every ready endpoint.
   */
  readonly topology?: TopologyNarrowing;
  /**
   * With `topology`: the ready endpoints the hints left out, ascending. They are in `draining`
   * too, and drain like the rest; kept apart only so an operator can tell them from endpoints
   * that are not ready.
   */
  readonly hintedAway?: readonly BackendKey[];
}

/** What topology hints narrowed a frontend's new flows to. */
export type TopologyNarrowing = 'zone' | 'node';

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
  /**
   * The Service's complete frontend set now; an empty list is the same as deleteService. Each
   * frontend's `service` names this Service: a frontend another Service has claimed since is
   * left to that one when this one drops it.
   */
  replaceService(service: string, frontends: readonly DesiredFrontend[]): void;
  deleteService(service: string): void;
  /**
   * What the sink holds: each Service's frontends as the last replaceService it accepted gave
   * them (the very array), absent once deleted or emptied. A source compares a Service's new
   * frontends with these instead of keeping a copy of its own: with 10,000 Services that copy was
   * a second Map of every Service beside the sink's, and in an initial sync from objects, keeping
   * both cost a quarter of the time (the collector copies and marks whatever the sync keeps).
   */
  readonly heldFrontends: ReadonlyMap<string, readonly DesiredFrontend[]>;
  /**
   * The source has delivered its complete initial state (an informer's first list, or a file's
   * first parse). Until then the consumer must not delete what it restored from the live maps.
   */
  markSynced(): void;
}
