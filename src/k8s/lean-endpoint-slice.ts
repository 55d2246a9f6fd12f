/**
 * An EndpointSlice as terwayd keeps it: its metadata, address type and ports as the API spells
 * them, and each endpoint as one number.
 *
 * A cluster's slices hold most of what a cluster-mode daemon caches: one object per endpoint,
 * holding an array holding an address string, about 120 bytes each, 12 MB for 100,000 endpoints
 * (measured in a heap snapshot). As numbers in one array per slice they cost 8 bytes each, and
 * their addresses are parsed once, when they arrive, rather than at every translation.
 *
 * The numbers carry what kube-proxy reads of an endpoint, and nothing else: its first address
 * (the only one with defined semantics), whether new flows may go to it, and whether it is on this
 * daemon's node (what `internalTrafficPolicy: Local` keeps). The node is known when the slice
 * arrives and never changes for the daemon's life, so an endpoint's nodeName becomes one bit, and
 * a nodeName change that does not move the endpoint to or from this node changes nothing.
 */
import type {
  DiscoveryV1EndpointPort,
  V1EndpointSlice,
  V1ObjectMeta,
} from '@kubernetes/client-node';

import { parseIPv4 } from '../util/ipv4.js';

/**
 * An endpoint: its IPv4 address × 4, plus 2 when it is on this node, plus 1 when it takes new
 * flows. Below 2^34: exact in a double.
 */
export type EndpointCode = number;

/** The node this daemon serves, as Kubernetes names it; undefined when not known. */
export type ThisNode = string | undefined;

export interface LeanEndpointSlice {
  readonly metadata?: V1ObjectMeta;
  readonly addressType: string;
  readonly ports?: DiscoveryV1EndpointPort[];
  /**
   * One per endpoint whose first address is an IPv4 dotted quad, in the slice's order; the others
   * (IPv6 or FQDN slices, junk) could never be a backend of the IPv4 datapath and are dropped.
   */
  readonly endpointCodes: readonly EndpointCode[];
}

/**
 * The code of one endpoint, as JSON or the API model spell it; undefined when its first address
 * is not IPv4. It takes new flows when ready and not terminating: a missing `ready` means ready
 * (the API's "unknown", which consumers treat as ready), and a missing `terminating` means not.
 * It is on this node when its `nodeName` is `thisNode`; with thisNode unknown, no endpoint is.
 */
export function endpointCodeOf(endpoint: unknown, thisNode?: ThisNode): EndpointCode | undefined {
  if (typeof endpoint !== 'object' || endpoint === null) return undefined;
  const addresses = (endpoint as { addresses?: unknown }).addresses;
  const first: unknown = Array.isArray(addresses) ? addresses[0] : undefined;
  const addr = typeof first === 'string' ? parseIPv4(first) : undefined;
  if (addr === undefined) return undefined;
  const conditions = (endpoint as { conditions?: unknown }).conditions;
  const { ready, terminating } =
    typeof conditions === 'object' && conditions !== null
      ? (conditions as { ready?: unknown; terminating?: unknown })
      : {};
  const local =
    thisNode !== undefined && (endpoint as { nodeName?: unknown }).nodeName === thisNode;
  return addr * 4 + (local ? 2 : 0) + (ready !== false && terminating !== true ? 1 : 0);
}

/** The codes of a slice's `endpoints` (JSON or model objects), in order; the non-IPv4 dropped. */
export function endpointCodesOf(endpoints: unknown, thisNode?: ThisNode): EndpointCode[] {
  const codes: EndpointCode[] = [];
  if (!Array.isArray(endpoints)) return codes;
  for (let index = 0; index < endpoints.length; index++) {
    const code = endpointCodeOf(endpoints[index], thisNode);
    if (code !== undefined) codes.push(code);
  }
  return codes;
}

/**
 * What translation reads of a whole slice, for a complete state translated at once (a services
 * file): no copy of the metadata or ports, which the result does not keep.
 */
export function leanSliceOf(slice: V1EndpointSlice, thisNode?: ThisNode): LeanEndpointSlice {
  return {
    addressType: slice.addressType,
    ports: slice.ports,
    endpointCodes: endpointCodesOf(slice.endpoints, thisNode),
  };
}

// Arithmetic, not bit operations: a code does not fit in the 32 bits those work on.
export function endpointAddr(code: EndpointCode): number {
  return Math.floor(code / 4);
}

export function takesNewFlows(code: EndpointCode): boolean {
  return code % 2 === 1;
}

export function onThisNode(code: EndpointCode): boolean {
  return code % 4 >= 2;
}
