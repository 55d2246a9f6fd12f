/**
 * A complete state (every Service and EndpointSlice at once, as a services file holds them) →
 * each Service's frontends. Pure, so it runs where the objects are: in the services-file worker,
 * whose heap goes away with the objects, leaving the daemon only the frontends to copy in.
 */
import type { KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { serviceKey, type DesiredFrontend } from '../lb/desired-frontend.js';
import type { NamedEndpoints } from './endpoint-pods.js';
import { leanSliceOf, type LeanEndpointSlice, type NodeTopology } from './lean-endpoint-slice.js';
import { SERVICE_NAME_LABEL, translateService } from './service-translation.js';

export interface TranslatedState {
  /** Service key (namespace/name) → its frontends, for every named Service (possibly []). */
  readonly frontends: Map<string, DesiredFrontend[]>;
  /** How many named Services and EndpointSlices the state had. */
  readonly services: number;
  readonly endpointSlices: number;
  /**
   * The endpoints of the translated slices that name their pods, kept past translation for
   * inspection (EndpointPodIndex): the objects themselves are dropped.
   */
  readonly namedEndpoints: NamedEndpoints[];
}

/** `thisNode`: the daemon's node and zone, for `internalTrafficPolicy: Local` and topology hints
 *  (see translateService). */
export function translateCompleteState(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
  thisNode?: NodeTopology,
): TranslatedState {
  // The slices are grouped as they are, and each Service's made lean only while it is translated:
  // 10,000 lean slices alive at once would all survive into the old generation, a copy for the
  // garbage collector each, only to be dropped at the end.
  const slicesOf = new Map<string, V1EndpointSlice[]>();
  let sliceCount = 0;
  // Indexed loops, here and in what this calls per Service: until the JIT has optimized a loop,
  // for-of allocates an iterator result per element, and an initial sync is over by then.
  for (let index = 0; index < slices.length; index++) {
    const slice = slices[index]!;
    if (nameOf(slice) === undefined) continue;
    sliceCount++;
    const owner = owningServiceKey(slice);
    if (owner === undefined) continue;
    const group = slicesOf.get(owner);
    if (group === undefined) slicesOf.set(owner, [slice]);
    else group.push(slice);
  }
  // A Service listed twice is translated twice and the later one kept, in the first one's place.
  const frontends = new Map<string, DesiredFrontend[]>();
  const namedEndpoints: NamedEndpoints[] = [];
  for (let index = 0; index < services.length; index++) {
    const service = services[index]!;
    const key = objectKey(service);
    if (key === undefined) continue;
    const group = slicesOf.get(key) ?? [];
    const lean: LeanEndpointSlice[] = [];
    for (let at = 0; at < group.length; at++) {
      const slice = leanSliceOf(group[at]!, thisNode);
      lean.push(slice);
      const { endpointCodes, endpointPods } = slice;
      if (endpointPods !== undefined) {
        const namespace = group[at]!.metadata?.namespace ?? '';
        namedEndpoints.push({ namespace, endpointCodes, endpointPods });
      }
    }
    frontends.set(key, translateService(service, lean));
  }
  return { frontends, services: frontends.size, endpointSlices: sliceCount, namedEndpoints };
}

/** The object's name; undefined for none or an empty one (never sent by an apiserver). */
function nameOf(object: KubernetesObject): string | undefined {
  const name = object.metadata?.name;
  return name === undefined || name === '' ? undefined : name;
}

/** `namespace/name`; undefined for an object without a name (never sent by an apiserver). */
export function objectKey(object: KubernetesObject): string | undefined {
  const name = nameOf(object);
  if (name === undefined) return undefined;
  return serviceKey(object.metadata?.namespace ?? '', name);
}

/** The Service a slice belongs to, by the EndpointSlice controller's label. */
export function owningServiceKey(slice: KubernetesObject): string | undefined {
  const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (serviceName === undefined || serviceName === '') return undefined;
  return serviceKey(slice.metadata?.namespace ?? '', serviceName);
}
