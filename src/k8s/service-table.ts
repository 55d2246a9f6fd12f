/**
 * The Services and EndpointSlices a source has seen, translated into what the sink should hold.
 *
 * The incremental calls keep the objects they are given: the informers' caches hold them anyway,
 * so a reference costs nothing (a projected copy would cost memory). replaceAll keeps nothing.
 *
 * Every change recomputes only the Service it touches and sends that Service's frontends only
 * when they differ from what was last sent: an EndpointSlice update that changes nothing the
 * datapath uses (an endpoint's zone, a pod moving between two other nodes) reprograms nothing.
 *
 * Nothing is sent before `markSynced`. Services and EndpointSlices arrive as two separate lists;
 * sending a Service before its slices would hand the sink frontends with no backends, and a
 * daemon restarting under traffic would blackhole the Service until the slices caught up.
 */
import { isDeepStrictEqual } from 'node:util';

import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import type { DesiredFrontend, DesiredStateSink } from '../lb/desired-frontend.js';
import { EndpointPodIndex, type NamedEndpoints } from './endpoint-pods.js';
import type { LeanEndpointSlice, NodeTopology } from './lean-endpoint-slice.js';
import type { Logger } from '../log/logger.js';
import {
  objectKey,
  owningServiceKey,
  translateCompleteState,
  type TranslatedState,
} from './complete-state.js';
import { translateService } from './service-translation.js';

export interface ServiceTableOptions {
  readonly sink: DesiredStateSink;
  readonly logger: Logger;
  /**
   * The daemon's node and zone, for replaceAll's translation (`internalTrafficPolicy: Local`,
   * topology hints). The
   * incremental calls take slices projected for it already (projectEndpointSlice).
   */
  readonly thisNode?: NodeTopology;
}

export interface ServiceTableStats {
  readonly services: number;
  readonly endpointSlices: number;
  /** Services whose frontends the sink currently holds. */
  readonly programmedServices: number;
}

export class ServiceTable {
  private readonly sink: DesiredStateSink;
  private readonly logger: Logger;
  private readonly thisNode: NodeTopology | undefined;
  private readonly services = new Map<string, V1Service>();
  /** Slice key (namespace/slice name) → slice. */
  private readonly slices = new Map<string, LeanEndpointSlice>();
  /**
   * Service key → its slices, so they are found without a scan. An array, not a Map by slice key:
   * nearly every Service has one slice, and 10,000 one-entry Maps cost 3.9 MB (measured in a heap
   * snapshot), where an array of one costs tens of bytes. A slice leaves its group by identity:
   * `slices` holds the very object.
   */
  private readonly slicesByService = new Map<string, LeanEndpointSlice[]>();
  private synced = false;
  /** Set by replaceAll, whose objects are not kept: how many the last complete state had. */
  private snapshotSizes: { services: number; endpointSlices: number } | undefined;
  /** Set by replaceAll: the pods its slices named, the one part of them kept. */
  private snapshotNamedEndpoints: readonly NamedEndpoints[] = [];

  constructor(options: ServiceTableOptions) {
    this.sink = options.sink;
    this.logger = options.logger;
    this.thisNode = options.thisNode;
  }

  upsertService(service: V1Service): void {
    const key = objectKey(service);
    if (key === undefined) return;
    this.snapshotSizes = undefined;
    this.snapshotNamedEndpoints = [];
    this.services.set(key, service);
    this.refresh(key);
  }

  removeService(service: V1Service): void {
    const key = objectKey(service);
    if (key === undefined || !this.services.delete(key)) return;
    // The slices stay: they outlive their Service briefly, and a Service re-created under the
    // same name picks them up again.
    this.refresh(key);
  }

  upsertEndpointSlice(slice: LeanEndpointSlice): void {
    const key = objectKey(slice);
    if (key === undefined) return;
    const previousOwner = this.detachSlice(key);
    const owner = this.attachSlice(key, slice);
    if (owner !== undefined) this.refresh(owner);
    // A slice relabelled to another Service (never done by the controller, but legal) leaves
    // its old Service too.
    if (previousOwner !== undefined && previousOwner !== owner) this.refresh(previousOwner);
  }

  removeEndpointSlice(slice: LeanEndpointSlice): void {
    const key = objectKey(slice);
    if (key === undefined) return;
    const owner = this.detachSlice(key);
    if (owner !== undefined) this.refresh(owner);
  }

  /**
   * Replaces the whole content at once, for a source that only ever hands over complete states (a
   * services file re-read): the sink hears only about Services whose frontends differ from what it
   * holds, including deletions. A complete state needs no markSynced (this marks it), and the
   * objects are translated here and not kept: the next state replaces them whole anyway, and
   * holding 100,000 endpoints' objects between re-reads would be most of the daemon's memory.
   * Not to be mixed with the incremental calls, which would see none of these objects.
   */
  replaceAll(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): void {
    this.replaceTranslated(translateCompleteState(services, slices, this.thisNode));
  }

  /** replaceAll for a state translated elsewhere (the services-file worker). */
  replaceTranslated(state: TranslatedState): void {
    this.services.clear();
    this.slices.clear();
    this.slicesByService.clear();
    this.snapshotSizes = { services: state.services, endpointSlices: state.endpointSlices };
    this.snapshotNamedEndpoints = state.namedEndpoints;
    const first = !this.synced;
    this.synced = true;
    for (const key of [...this.sink.heldFrontends.keys()]) {
      if (!state.frontends.has(key)) this.deliver(key, []);
    }
    state.frontends.forEach((frontends, key) => this.deliver(key, frontends));
    if (first) this.notifySynced();
  }

  /**
   * The source holds its complete initial state: send every Service, then tell the sink it may
   * delete whatever else it restored. Later calls do nothing.
   */
  markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const key of this.services.keys()) this.refresh(key);
    this.notifySynced();
  }

  private notifySynced(): void {
    try {
      this.sink.markSynced();
    } catch (error) {
      this.logger.error({ err: error }, 'desired-state sink rejected markSynced');
    }
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** Which pod each backend address is, as the slices held (or the last complete state's) name it. */
  endpointPods(): EndpointPodIndex {
    if (this.snapshotSizes !== undefined) return new EndpointPodIndex(this.snapshotNamedEndpoints);
    return new EndpointPodIndex(namedEndpointsOf(this.slices.values()));
  }

  stats(): ServiceTableStats {
    return {
      services: this.snapshotSizes?.services ?? this.services.size,
      endpointSlices: this.snapshotSizes?.endpointSlices ?? this.slices.size,
      programmedServices: this.sink.heldFrontends.size,
    };
  }

  /** Stores a slice under its Service's group; returns that Service. */
  private attachSlice(sliceKey: string, slice: LeanEndpointSlice): string | undefined {
    this.slices.set(sliceKey, slice);
    const owner = owningServiceKey(slice);
    if (owner === undefined) return undefined;
    const group = this.slicesByService.get(owner);
    if (group === undefined) this.slicesByService.set(owner, [slice]);
    else group.push(slice);
    return owner;
  }

  /** Removes a slice from its Service's group; returns the Service it belonged to. */
  private detachSlice(sliceKey: string): string | undefined {
    const previous = this.slices.get(sliceKey);
    if (previous === undefined) return undefined;
    this.slices.delete(sliceKey);
    const owner = owningServiceKey(previous);
    if (owner === undefined) return undefined;
    const group = this.slicesByService.get(owner);
    const at = group?.indexOf(previous) ?? -1;
    if (group !== undefined && at >= 0) {
      if (group.length === 1) this.slicesByService.delete(owner);
      else group.splice(at, 1);
    }
    return owner;
  }

  /** Recomputes one Service from the objects held and tells the sink, if its frontends changed. */
  private refresh(key: string): void {
    if (!this.synced) return;
    const service = this.services.get(key);
    const slices = this.slicesByService.get(key) ?? [];
    this.deliver(key, service === undefined ? [] : translateService(service, slices));
  }

  /**
   * Tells the sink a Service's frontends, if (and only if) they differ from what it holds. A
   * delivery the sink rejects leaves it holding the old ones, so the next change retries it.
   */
  private deliver(key: string, frontends: DesiredFrontend[]): void {
    const previous = this.sink.heldFrontends.get(key);
    // Nothing held yet (every Service of an initial sync) needs no deep comparison.
    const unchanged =
      previous === undefined ? frontends.length === 0 : isDeepStrictEqual(previous, frontends);
    if (unchanged) return;
    try {
      if (frontends.length === 0) this.sink.deleteService(key);
      else this.sink.replaceService(key, frontends);
    } catch (error) {
      // Throwing would unwind into the informer's own bookkeeping, which does not expect it.
      this.logger.error({ err: error, service: key }, 'desired-state sink rejected a Service');
    }
  }
}

function* namedEndpointsOf(slices: Iterable<LeanEndpointSlice>): Generator<NamedEndpoints> {
  for (const slice of slices) {
    const { endpointCodes, endpointPods } = slice;
    if (endpointPods === undefined) continue;
    yield { namespace: slice.metadata?.namespace ?? '', endpointCodes, endpointPods };
  }
}
