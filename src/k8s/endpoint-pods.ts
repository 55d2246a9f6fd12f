/**
 * The pod behind a backend address, as the EndpointSlices name it (each endpoint's targetRef).
 *
 * A daemon's pod records name only the pods on its own node, and most of a Service's backends run
 * on other nodes: without the slices, `terway-cli show flows` could name the pod a flow reached
 * only when it happened to be local. Built when an inspection asks, from what the Service table
 * already holds, so the daemon pays nothing for it between two listings.
 */
import type { EndpointCode, EndpointPodName } from './lean-endpoint-slice.js';
import { endpointAddr, podOfEndpoint, takesNewFlows } from './lean-endpoint-slice.js';

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

  /**
   * An address two slices name (a pod's IP reused while the old pod's endpoint still terminates
   * in another slice) goes to the endpoint that takes new flows: the pod serving now. Between two
   * alike, the first wins.
   */
  constructor(slices: Iterable<NamedEndpoints>) {
    const all = [...slices];
    for (const ready of [true, false]) {
      for (const slice of all) {
        const { endpointCodes, endpointPods } = slice;
        for (let index = 0; index < endpointCodes.length; index++) {
          const code = endpointCodes[index]!;
          if (endpointPods[index] === undefined || takesNewFlows(code) !== ready) continue;
          const addr = endpointAddr(code);
          if (!this.sliceOf.has(addr)) this.sliceOf.set(addr, slice);
        }
      }
    }
  }

  /** The pod an EndpointSlice names at `addr` (IPv4 as a number); undefined when none does. */
  podAt(addr: number): NamedPod | undefined {
    const slice = this.sliceOf.get(addr);
    if (slice === undefined) return undefined;
    const { endpointCodes, endpointPods } = slice;
    // The ready endpoint first, as the constructor chose this slice for it.
    let fallback: NamedPod | undefined;
    for (let index = 0; index < endpointCodes.length; index++) {
      const pod = endpointPods[index];
      const code = endpointCodes[index]!;
      if (pod === undefined || endpointAddr(code) !== addr) continue;
      if (takesNewFlows(code)) return podOfEndpoint(pod, slice.namespace);
      fallback ??= podOfEndpoint(pod, slice.namespace);
    }
    return fallback;
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
