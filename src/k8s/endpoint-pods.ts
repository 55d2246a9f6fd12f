/**
 * The pod behind a backend address, as the EndpointSlices name it (each endpoint's targetRef).
 *
 * A daemon's pod records name only the pods on its own node, and most of a Service's backends run
 * on other nodes: without the slices, `terway-cli show flows` could name the pod a flow reached
 * only when it happened to be local. Built when an inspection asks, from what the Service table
 * already holds, so the daemon pays nothing for it between two listings.
 */
import type { EndpointCode, EndpointPodName } from './lean-endpoint-slice.js';
import { endpointAddr, podOfEndpoint } from './lean-endpoint-slice.js';

/** The endpoints of one slice that name pods, as a complete state keeps them past translation. */
export interface NamedEndpoints {
  /** The slice's namespace: a pod name alone is in it. */
  readonly namespace: string;
  readonly endpointCodes: readonly EndpointCode[];
  /** Parallel to endpointCodes. */
  readonly endpointPods: readonly (EndpointPodName | undefined)[];
}

export interface NamedPod {
  readonly namespace: string;
  readonly name: string;
}

export class EndpointPodIndex {
  /**
   * Address → the slice naming it. The slice, not a pod object per address: an index of 100,000
   * endpoints then allocates nothing but the Map's own table, and a lookup finds its endpoint in
   * a slice of a few dozen.
   */
  private readonly sliceOf = new Map<number, NamedEndpoints>();

  /** The first slice to name a pod for an address wins, as it would for its flows' listing. */
  constructor(slices: Iterable<NamedEndpoints>) {
    for (const slice of slices) {
      const { endpointCodes, endpointPods } = slice;
      for (let index = 0; index < endpointCodes.length; index++) {
        if (endpointPods[index] === undefined) continue;
        const addr = endpointAddr(endpointCodes[index]!);
        if (!this.sliceOf.has(addr)) this.sliceOf.set(addr, slice);
      }
    }
  }

  /** The pod an EndpointSlice names at `addr` (IPv4 as a number); undefined when none does. */
  podAt(addr: number): NamedPod | undefined {
    const slice = this.sliceOf.get(addr);
    if (slice === undefined) return undefined;
    const { endpointCodes, endpointPods } = slice;
    for (let index = 0; index < endpointCodes.length; index++) {
      const pod = endpointPods[index];
      if (pod !== undefined && endpointAddr(endpointCodes[index]!) === addr) {
        return podOfEndpoint(pod, slice.namespace);
      }
    }
    return undefined;
  }

  /** Every address whose endpoint names the pod `namespace/name`. */
  addressesOf(namespace: string, name: string): number[] {
    const addrs: number[] = [];
    for (const addr of this.sliceOf.keys()) {
      const pod = this.podAt(addr);
      if (pod?.namespace === namespace && pod.name === name) addrs.push(addr);
    }
    return addrs;
  }

  get size(): number {
    return this.sliceOf.size;
  }
}

/** An index of nothing: a daemon without a Service source. */
export const NO_ENDPOINT_PODS = new EndpointPodIndex([]);
