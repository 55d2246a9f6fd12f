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
 * (the only one with defined semantics), whether new flows may go to it, whether it is on this
 * daemon's node (what `internalTrafficPolicy: Local` keeps), and its topology hints as this node
 * reads them (whether it has zone or node hints, and whether they name this node's zone or this
 * node). The node and its zone are known when the slice arrives and never change for the daemon's
 * life, so an endpoint's nodeName and hints become a few bits, and a change that does not concern
 * this node (a pod moving between two other nodes, a hint moving between two other zones) changes
 * nothing.
 */
import type {
  DiscoveryV1EndpointPort,
  V1EndpointSlice,
  V1ObjectMeta,
} from '@kubernetes/client-node';

import { parseIPv4 } from '../util/ipv4.js';

/**
 * An endpoint: its IPv4 address × 64 plus its flags (ENDPOINT_FLAG). Below 2^38: exact in a
 * double.
 */
export type EndpointCode = number;

/** The low six bits of an EndpointCode. */
export const ENDPOINT_FLAG = {
  /** Ready and not terminating: new flows may go to it. */
  takesNewFlows: 1,
  /** Its nodeName is this node. */
  onThisNode: 2,
  /** Its `hints.forZones` is not empty. */
  hasZoneHints: 4,
  /** Its `hints.forZones` names this node's zone. */
  forThisZone: 8,
  /** Its `hints.forNodes` is not empty. */
  hasNodeHints: 16,
  /** Its `hints.forNodes` names this node. */
  forThisNode: 32,
} as const;

const FLAG_RADIX = 64;

/**
 * The node this daemon serves, as Kubernetes knows it: its name (an endpoint's `nodeName`, a
 * `forNodes` hint) and its zone (its `topology.kubernetes.io/zone` label, a `forZones` hint). Each
 * undefined when not known; an endpoint then matches nothing that needs it.
 */
export interface NodeTopology {
  readonly name?: string | undefined;
  readonly zone?: string | undefined;
}

export interface LeanEndpointSlice {
  readonly metadata?: V1ObjectMeta;
  readonly addressType: string;
  readonly ports?: DiscoveryV1EndpointPort[];
  /**
   * One per endpoint whose first address is an IPv4 dotted quad, in the slice's order; the others
   * (IPv6 or FQDN slices, junk) could never be a backend of the IPv4 datapath and are dropped.
   */
  readonly endpointCodes: readonly EndpointCode[];
  /**
   * The pod behind each endpoint (endpointPodName), parallel to endpointCodes; absent when no
   * endpoint names one. Only inspection reads it: the datapath has no use for names, but an operator
   * reading `terway-cli show flows` wants the pod a flow reached, and most backends run on other
   * nodes, where no pod record of this daemon's names them.
   */
  readonly endpointPods?: readonly (EndpointPodName | undefined)[] | undefined;
}

/**
 * The pod an endpoint's targetRef names: its name alone when it is in the slice's namespace (what
 * the EndpointSlice controller always writes, and the one string the API object already holds),
 * else its namespace and name.
 */
export type EndpointPodName = string | readonly [namespace: string, name: string];

/** A slice's endpoints as the lean slice keeps them. */
export interface LeanEndpoints {
  readonly endpointCodes: EndpointCode[];
  readonly endpointPods: (EndpointPodName | undefined)[] | undefined;
}

/**
 * The code of one endpoint, as JSON or the API model spell it; undefined when its first address
 * is not IPv4. It takes new flows when ready and not terminating: a missing `ready` means ready
 * (the API's "unknown", which consumers treat as ready), and a missing `terminating` means not.
 * It is on this node when its `nodeName` is this node's name; with the name unknown, no endpoint
 * is. Hints are read as the API spells them (`hints.forZones[].name`, `hints.forNodes[].name`).
 */
export function endpointCodeOf(
  endpoint: unknown,
  thisNode?: NodeTopology,
): EndpointCode | undefined {
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
  const name = thisNode?.name;
  let flags = ready !== false && terminating !== true ? ENDPOINT_FLAG.takesNewFlows : 0;
  if (name !== undefined && (endpoint as { nodeName?: unknown }).nodeName === name) {
    flags += ENDPOINT_FLAG.onThisNode;
  }
  const hints = (endpoint as { hints?: unknown }).hints;
  if (typeof hints === 'object' && hints !== null) {
    const { forZones, forNodes } = hints as { forZones?: unknown; forNodes?: unknown };
    flags += hintFlags(forZones, thisNode?.zone, ENDPOINT_FLAG.hasZoneHints);
    flags += hintFlags(forNodes, name, ENDPOINT_FLAG.hasNodeHints);
  }
  return addr * FLAG_RADIX + flags;
}

/**
 * `has` when the hint list is not empty, plus the next bit up when one of its entries names
 * `wanted`. An entry without a string name is no hint: kube-proxy reads only the names.
 */
function hintFlags(list: unknown, wanted: string | undefined, has: number): number {
  if (!Array.isArray(list)) return 0;
  let flags = 0;
  for (let index = 0; index < list.length; index++) {
    const entry: unknown = list[index];
    const hinted =
      typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : undefined;
    if (typeof hinted !== 'string') continue;
    flags = has;
    if (wanted !== undefined && hinted === wanted) return has * 3;
  }
  return flags;
}

/**
 * The codes of a slice's `endpoints` (JSON or model objects), in order, the non-IPv4 dropped, and
 * the pod behind each kept one (see LeanEndpointSlice.endpointPods). `namespace`: the slice's.
 */
export function leanEndpointsOf(
  endpoints: unknown,
  namespace: string | undefined,
  thisNode?: NodeTopology,
): LeanEndpoints {
  const endpointCodes: EndpointCode[] = [];
  let endpointPods: (EndpointPodName | undefined)[] | undefined;
  if (!Array.isArray(endpoints)) return { endpointCodes, endpointPods };
  for (let index = 0; index < endpoints.length; index++) {
    const endpoint: unknown = endpoints[index];
    const code = endpointCodeOf(endpoint, thisNode);
    if (code === undefined) continue;
    const pod = endpointPodName(endpoint, namespace);
    if (pod !== undefined) {
      // Made at the first named pod, with an undefined for each endpoint before it.
      endpointPods ??= new Array<EndpointPodName | undefined>(endpointCodes.length).fill(undefined);
      endpointPods.push(pod);
    } else {
      endpointPods?.push(undefined);
    }
    endpointCodes.push(code);
  }
  return { endpointCodes, endpointPods };
}

/** The endpoint's targetRef as an EndpointPodName; undefined when it names no pod. */
export function endpointPodName(
  endpoint: unknown,
  namespace: string | undefined,
): EndpointPodName | undefined {
  if (typeof endpoint !== 'object' || endpoint === null) return undefined;
  const ref = (endpoint as { targetRef?: unknown }).targetRef;
  if (typeof ref !== 'object' || ref === null) return undefined;
  // Field by field, no destructuring: this runs for every endpoint of an initial sync, cold.
  const named = ref as { kind?: unknown; name?: unknown; namespace?: unknown };
  if (named.kind !== 'Pod') return undefined;
  const name = named.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const podNamespace = named.namespace;
  // Missing, empty or null (YAML's `namespace:`) all mean the slice's own.
  if (podNamespace == null || podNamespace === namespace || podNamespace === '') return name;
  return typeof podNamespace === 'string' ? [podNamespace, name] : undefined;
}

/** An EndpointPodName read back: the pod's namespace (the slice's unless it names one) and name. */
export function podOfEndpoint(
  pod: EndpointPodName,
  sliceNamespace: string,
): { namespace: string; name: string } {
  return typeof pod === 'string'
    ? { namespace: sliceNamespace, name: pod }
    : { namespace: pod[0], name: pod[1] };
}

/**
 * What translation reads of a whole slice, for a complete state translated at once (a services
 * file): no copy of the metadata or ports, which the result does not keep.
 */
export function leanSliceOf(slice: V1EndpointSlice, thisNode?: NodeTopology): LeanEndpointSlice {
  const { endpointCodes, endpointPods } = leanEndpointsOf(
    slice.endpoints,
    slice.metadata?.namespace,
    thisNode,
  );
  return { addressType: slice.addressType, ports: slice.ports, endpointCodes, endpointPods };
}

// Arithmetic, not bit operations: a code does not fit in the 32 bits those work on.
export function endpointAddr(code: EndpointCode): number {
  return Math.floor(code / FLAG_RADIX);
}

/** The code's ENDPOINT_FLAG bits: its remainder, below 2^6, where bit operations are exact. */
export function endpointFlags(code: EndpointCode): number {
  return code % FLAG_RADIX;
}

/** Whether `flag` (one of ENDPOINT_FLAG) is set in `code`. */
export function hasFlag(code: EndpointCode, flag: number): boolean {
  return (endpointFlags(code) & flag) !== 0;
}

// The two flags every translation reads, each with one remainder: this runs for every endpoint of
// an initial sync, before the JIT has warmed up.
export function takesNewFlows(code: EndpointCode): boolean {
  return code % 2 === 1;
}

export function onThisNode(code: EndpointCode): boolean {
  return code % 4 >= 2;
}
