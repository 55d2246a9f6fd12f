/**
 * A complete state (every Service and EndpointSlice at once, as a services file holds them) →
 * each Service's frontends. Pure, so it runs where the objects are: in the services-file worker,
 * whose heap goes away with the objects, leaving the daemon only the frontends to copy in.
 */
import type { KubernetesObject, V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import { serviceKey, type DesiredFrontend } from '../lb/desired-frontend.js';
import { leanSliceOf, type LeanEndpointSlice } from './lean-endpoint-slice.js';
import { SERVICE_NAME_LABEL, translateService } from './service-translation.js';

export interface TranslatedState {
  /** Service key (namespace/name) → its frontends, for every named Service (possibly []). */
  readonly frontends: Map<string, DesiredFrontend[]>;
  /** How many named Services and EndpointSlices the state had. */
  readonly services: number;
  readonly endpointSlices: number;
}

export function translateCompleteState(
  services: readonly V1Service[],
  slices: readonly V1EndpointSlice[],
): TranslatedState {
  const latest = new Map<string, V1Service>();
  for (const service of services) {
    const key = objectKey(service);
    if (key !== undefined) latest.set(key, service);
  }
  const slicesOf = new Map<string, LeanEndpointSlice[]>();
  let sliceCount = 0;
  for (const slice of slices) {
    if (objectKey(slice) === undefined) continue;
    sliceCount++;
    const owner = owningServiceKey(slice);
    if (owner === undefined) continue;
    const lean = leanSliceOf(slice);
    const group = slicesOf.get(owner);
    if (group === undefined) slicesOf.set(owner, [lean]);
    else group.push(lean);
  }
  const frontends = new Map<string, DesiredFrontend[]>();
  for (const [key, service] of latest) {
    frontends.set(key, translateService(service, slicesOf.get(key) ?? []));
  }
  return { frontends, services: latest.size, endpointSlices: sliceCount };
}

/** `namespace/name`; undefined for an object without a name (never sent by an apiserver). */
export function objectKey(object: KubernetesObject): string | undefined {
  const name = object.metadata?.name;
  if (name === undefined || name === '') return undefined;
  return serviceKey(object.metadata?.namespace ?? '', name);
}

/** The Service a slice belongs to, by the EndpointSlice controller's label. */
export function owningServiceKey(slice: KubernetesObject): string | undefined {
  const serviceName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  if (serviceName === undefined || serviceName === '') return undefined;
  return serviceKey(slice.metadata?.namespace ?? '', serviceName);
}
