/**
 * The Service load balancer's two introspection views, as terway-cli asks for them: the frontends
 * with their backends and counters (ShowServices), and the translation records (ListFlows). Both
 * read the live maps; the daemon adds only names: the Service a frontend belongs to, the pods on
 * this node behind client and backend addresses (its pod records), and the pods on other nodes
 * behind backend addresses (the EndpointSlices' targetRefs).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

import { TerwayError } from '../errors/terway-error.js';
import { flowAlive } from '../lb/flow-liveness.js';
import { DEFAULT_FLOW_TABLE_SIZE } from '../lb/flow-table-size.js';
import { selectFlows, type FlowAddresses, type FlowRecord } from '../lb/flow-records.js';
import { serviceKey, type DesiredFrontend } from '../lb/desired-frontend.js';
import {
  frontendFilter,
  frontendViews,
  parseAddressFilter,
  type AddressFilter,
  type InspectedBackend,
  type InspectedFrontend,
  type LbCounterValues,
} from '../lb/lb-inspection.js';
import type { LbIntent } from '../lb/lb-inspection.js';
import type { LbMaps } from '../lb/lb-maps.js';
import type { ServiceSyncGate } from './service-sync-gate.js';
import { FLOW_STATES } from '../lb/maps/lb-layouts.js';
import { readNodeFlowTotals } from '../lb/maps/node-counters.js';
import {
  frontendCode,
  frontendCodeOf,
  protocolNumber,
  type FrontendCode,
} from '../lb/programmed-state.js';
import { parseIPv4 } from '../util/ipv4.js';
import type { FlowEntry } from '../rpc/generated/terway/v1/FlowEntry.js';
import type { LbBackendEntry } from '../rpc/generated/terway/v1/LbBackendEntry.js';
import type { LbCounters } from '../rpc/generated/terway/v1/LbCounters.js';
import type { LbFrontendEntry } from '../rpc/generated/terway/v1/LbFrontendEntry.js';
import type { ListFlowsReply } from '../rpc/generated/terway/v1/ListFlowsReply.js';
import type { EndpointPodIndex } from '../k8s/endpoint-pods.js';
import type { NodeTopology } from '../k8s/lean-endpoint-slice.js';
import type { ListFlowsRequest } from '../rpc/generated/terway/v1/ListFlowsRequest.js';
import type { PodRef } from '../rpc/generated/terway/v1/PodRef.js';
import type { ShowServicesReply } from '../rpc/generated/terway/v1/ShowServicesReply.js';
import { recordKey, type PodRecord } from '../store/pod-record.js';
import { toPodRef } from './pod-network-message.js';

/** What the views read of the running Service LB. */
export interface LbIntrospectionSource {
  readonly maps: LbMaps;
  readonly source: string;
  readonly pinDir: string;
  /** The node and zone the source reads endpoints and hints against. */
  readonly thisNode: NodeTopology | undefined;
  readonly reconciler: {
    readonly intent: LbIntent;
    readonly isSynced: boolean;
    readonly failure: Error | undefined;
    readonly parkedFrontendIds: number;
  };
  /** Why the desired-state source is not delivering; undefined while it is. */
  sourceProblem(): string | undefined;
  /** Whether pod ADDs are held for the source's first complete state. */
  readonly firstStateGate: Pick<ServiceSyncGate, 'holdRemainingMs' | 'openedBy'>;
  /** The pods the source's EndpointSlices name, by backend address. */
  endpointPods(): EndpointPodIndex;
}

export interface LbIntrospectionDeps {
  /** Undefined when the daemon runs without the Service LB. */
  lb: LbIntrospectionSource | undefined;
  /** The pod records on this node, to name the pods behind addresses. */
  pods: () => readonly PodRecord[];
  /** CLOCK_MONOTONIC in ns: the clock the programs stamp flows with. */
  monotonicNs?: () => bigint;
  /** The most flows one listing returns; MOST_LISTED_FLOWS when not given (tests set less). */
  mostListedFlows?: number;
}

/**
 * The most flows one listing returns, `--limit 0` included: what the default table holds. The
 * daemon keeps every flow it will list (about 90 bytes each, and their gRPC parts), and a table
 * sized up to millions of flows (--lb-flow-table-size) would otherwise cost it that many times
 * more at one operator's command, under the memory limit it shares with pod ADDs. More rows than
 * this are for filters (--service, --pod, --backend) to narrow, not for a terminal.
 */
export const MOST_LISTED_FLOWS = DEFAULT_FLOW_TABLE_SIZE;

/** Frontends per ShowServices part: at 10 backends each, a part of about 100 KB. */
export const FRONTENDS_PER_PART = 128;
/**
 * Flows per ListFlows part: about 40 KB on the wire. A part's records and their encoding must die
 * in V8's young generation (terwayd runs with a 1 MB semi-space): at 1,024 flows a part they
 * outgrew it and were copied into the old one, to wait there for a full collection. Listing
 * 262,144 flows from a lab node's terwayd: 1,024 a part raised its peak RSS by 55-62 MB and took
 * 8.9-9.2 s end to end; 256 a part, by 43-46 MB in 5.0-6.1 s.
 */
export const FLOWS_PER_PART = 256;
/**
 * Frontends read (shown or filtered out) between two parts at most: a filtered listing of a large
 * table still pauses as often as a full one.
 */
const SCANNED_PER_PART = 1024;

/**
 * ShowServices as parts: each carries the header fields and the next frontends; the first is sent
 * even when none match, so the header always arrives. Undefined is a pause without a part (see
 * streamed).
 */
export function* showServices(
  deps: LbIntrospectionDeps,
  filter: string,
): Generator<ShowServicesReply | undefined> {
  const { lb } = deps;
  if (lb === undefined) {
    yield {
      enabled: false,
      source: 'none',
      synced: false,
      lastError: '',
      pinDir: '',
      frontends: [],
      node: '',
      zone: '',
      parkedFrontendIds: 0,
      sourceProblem: '',
      newFlowsBalanced: 0,
      newFlowsRefused: 0,
      newFlowsClashed: 0,
    };
    return;
  }
  const matches = frontendFilter(filter);
  const newFlows = readNodeFlowTotals(lb.maps.nodeStats);
  const header = {
    enabled: true,
    source: lb.source,
    synced: lb.reconciler.isSynced,
    lastError: lb.reconciler.failure?.message ?? '',
    pinDir: lb.pinDir,
    node: lb.thisNode?.name ?? '',
    zone: lb.thisNode?.zone ?? '',
    parkedFrontendIds: lb.reconciler.parkedFrontendIds,
    sourceProblem: lb.sourceProblem() ?? '',
    newFlowsBalanced: Number(newFlows.balanced),
    newFlowsRefused: Number(newFlows.refused),
    newFlowsClashed: Number(newFlows.clashed),
    newFlowsMoved: Number(newFlows.moved),
    directConnectionsMoved: Number(newFlows.movedDirect),
    addHoldRemainingMs: Math.ceil(lb.firstStateGate.holdRemainingMs()),
    addHoldExpired: lb.firstStateGate.openedBy === 'bound-passed',
  };
  const pods = namesFor(deps, lb);
  let part: LbFrontendEntry[] = [];
  let scanned = 0;
  let sent = 0;
  for (const view of frontendViews(lb.maps, lb.reconciler.intent, matches)) {
    if (view !== undefined) part.push(toFrontendEntry(view, pods));
    scanned++;
    if (part.length >= FRONTENDS_PER_PART) {
      yield { ...header, frontends: part };
      sent++;
      part = [];
      scanned = 0;
    } else if (scanned >= SCANNED_PER_PART) {
      // Nothing to send yet, but a turn of the event loop all the same.
      yield undefined;
      scanned = 0;
    }
  }
  if (part.length > 0 || sent === 0) yield { ...header, frontends: part };
}

/**
 * ListFlows as parts: each carries the counts and the next flows, most recently active first.
 * The selection's scan takes a turn of the event loop at each of its pauses (see selectFlows).
 */
export async function* listFlows(
  deps: LbIntrospectionDeps,
  request: ListFlowsRequest,
): AsyncGenerator<ListFlowsReply> {
  const { lb } = deps;
  const mostListed = deps.mostListedFlows ?? MOST_LISTED_FLOWS;
  if (lb === undefined) {
    yield { enabled: false, flows: [], matched: 0, total: 0, mostListed, capacity: 0 };
    return;
  }
  const pods = namesFor(deps, lb);
  const { desired } = lb.reconciler.intent;
  const asked = request.limit ?? 0;
  const selection = await selectFlows(
    lb.maps.flow,
    {
      matches: flowMatcher(request, pods, desired),
      limit: asked === 0 ? mostListed : Math.min(asked, mostListed),
    },
    () => nextTurn(),
    lb.maps.movedPorts,
  );
  const counts = {
    enabled: true,
    matched: selection.matched,
    total: selection.total,
    mostListed,
    capacity: lb.maps.flow.maxEntries,
  };
  const now = (deps.monotonicNs ?? process.hrtime.bigint)();
  const serviceOf = serviceNamer(desired);
  let sent = 0;
  for (const records of selection.batches(FLOWS_PER_PART)) {
    yield {
      ...counts,
      flows: records.map((record) => toFlowEntry(record, now, pods, serviceOf(record))),
    };
    sent++;
  }
  if (sent === 0) yield { ...counts, flows: [] };
}

/** The Service of a flow's frontend, named once per frontend: a listing has many flows per frontend. */
function serviceNamer(
  desired: ReadonlyMap<FrontendCode, DesiredFrontend>,
): (record: FlowRecord) => string {
  const named = new Map<FrontendCode, string>();
  return (record) => {
    const code = frontendCodeOf({ ...record.frontend, protocol: record.protocol });
    let service = named.get(code);
    if (service === undefined) {
      const frontend = desired.get(code);
      service =
        frontend === undefined ? '' : serviceKey(frontend.service.namespace, frontend.service.name);
      named.set(code, service);
    }
    return service;
  };
}

/**
 * The request's filters as one test on a flow's numbers (selectFlows reads them in place);
 * undefined when there are none. INVALID_ARGUMENT for a filter that is neither of its forms.
 */
function flowMatcher(
  request: ListFlowsRequest,
  pods: PodNames,
  desired: ReadonlyMap<FrontendCode, DesiredFrontend>,
): ((flow: Readonly<FlowAddresses>) => boolean) | undefined {
  const tests: ((flow: Readonly<FlowAddresses>) => boolean)[] = [];
  const service = request.service?.trim() ?? '';
  if (service !== '') {
    const address = parseAddressFilter(service);
    if (address !== undefined) {
      tests.push((flow) => numbersMatch(flow.frontendAddr, flow.frontendPort, address));
    } else {
      // Validated as a Service name; the frontend filter's own parser says what is wrong.
      frontendFilter(service);
      const codes = new Set<FrontendCode>();
      for (const [code, frontend] of desired) {
        if (serviceKey(frontend.service.namespace, frontend.service.name) === service) {
          codes.add(code);
        }
      }
      tests.push((flow) =>
        codes.has(frontendCode(flow.frontendAddr, flow.frontendPort, flow.proto)),
      );
    }
  }
  const pod = request.pod?.trim() ?? '';
  if (pod !== '') {
    const address = parseAddressFilter(pod);
    if (address !== undefined) {
      tests.push((flow) => numbersMatch(flow.clientAddr, flow.clientPort, address));
    } else if (isPodKey(pod)) {
      const addrs = localAddressesOf(pods, pod);
      tests.push((flow) => addrs.has(flow.clientAddr));
    } else {
      throw new TerwayError(
        'INVALID_ARGUMENT',
        `not a pod (namespace/name) or an address (ip or ip:port): ${JSON.stringify(pod)}`,
      );
    }
  }
  const backend = request.backend?.trim() ?? '';
  if (backend !== '') {
    const address = parseAddressFilter(backend);
    if (address !== undefined) {
      tests.push((flow) => numbersMatch(flow.backendAddr, flow.backendPort, address));
    } else if (isPodKey(backend)) {
      // A pod here or on another node: the EndpointSlices name the latter. An address a pod
      // record here holds is that pod's, whatever a (stale) slice says, as the listing names it.
      const addrs = localAddressesOf(pods, backend);
      const [namespace, name] = backend.split('/') as [string, string];
      const local = new Set([...pods.local.keys()].map((ip) => parseIPv4(ip)));
      for (const addr of pods.endpoints.addressesOf(namespace, name)) {
        if (!local.has(addr)) addrs.add(addr);
      }
      tests.push((flow) => addrs.has(flow.backendAddr));
    } else {
      throw new TerwayError(
        'INVALID_ARGUMENT',
        `not a backend pod (namespace/name) or address (ip or ip:port): ${JSON.stringify(backend)}`,
      );
    }
  }
  if (tests.length === 0) return undefined;
  return (flow) => tests.every((test) => test(flow));
}

function numbersMatch(addr: number, port: number, filter: AddressFilter): boolean {
  return addr === filter.addr && (filter.port === undefined || port === filter.port);
}

function toFrontendEntry(frontend: InspectedFrontend, pods: PodNames): LbFrontendEntry {
  const { desired } = frontend;
  return {
    address: frontend.frontend.ip,
    port: frontend.frontend.port,
    protocol: frontend.frontend.protocol,
    service:
      desired === undefined ? '' : serviceKey(desired.service.namespace, desired.service.name),
    portName: desired?.service.portName ?? '',
    external: frontend.external,
    affinityTimeoutSeconds: frontend.affinityTimeoutSeconds,
    id: frontend.id,
    backends: frontend.backends.map((backend) => toBackendEntry(backend, pods)),
    counters: toCounters(frontend.counters),
    blocked: frontend.blocked ?? '',
    pending: frontend.pending,
    topology: frontend.desired?.topology ?? '',
  };
}

function toBackendEntry(backend: InspectedBackend, pods: PodNames): LbBackendEntry {
  return {
    address: backend.ip,
    port: backend.port,
    id: backend.id,
    state: backend.state,
    counters: toCounters(backend.counters),
    pod: backendPodRef(pods, backend.ip),
  };
}

function toFlowEntry(record: FlowRecord, now: bigint, pods: PodNames, service: string): FlowEntry {
  return {
    protocol: record.protocol,
    clientAddress: record.client.ip,
    clientPort: record.client.port,
    clientPod: podRef(pods.local.get(record.client.ip)),
    frontendAddress: record.frontend.ip,
    frontendPort: record.frontend.port,
    service,
    backendAddress: record.backend.ip,
    backendPort: record.backend.port,
    backendPod: backendPodRef(pods, record.backend.ip),
    state: record.state,
    ended: !flowAlive(
      protocolNumber(record.protocol),
      FLOW_STATES.indexOf(record.state),
      record.lastSeenNs,
      now,
    ),
    ageMs: elapsedMs(now, record.firstSeenNs),
    idleMs: elapsedMs(now, record.lastSeenNs),
    packets: Number(record.packets),
    bytes: Number(record.bytes),
    nextHopMac: record.nextHopMac ?? '',
    movedClientPort: record.movedClientPort ?? 0,
    direct: record.direct,
  };
}

/** The programs read a coarse clock: a stamp up to a tick ahead of `now` is no time at all. */
function elapsedMs(now: bigint, stampNs: bigint): number {
  return stampNs >= now ? 0 : Number((now - stampNs) / 1_000_000n);
}

function toCounters(counters: LbCounterValues | undefined): LbCounters | null {
  if (counters === undefined) return null;
  return {
    packets: Number(counters.packets),
    bytes: Number(counters.bytes),
    flows: Number(counters.flows),
    rejected: Number(counters.rejected),
  };
}

/** Who is behind an address: this node's pods by their records, other nodes' by the slices. */
interface PodNames {
  readonly local: ReadonlyMap<string, PodRecord>;
  readonly endpoints: EndpointPodIndex;
}

function namesFor(deps: LbIntrospectionDeps, lb: LbIntrospectionSource): PodNames {
  return { local: podsByIp(deps.pods()), endpoints: lb.endpointPods() };
}

/**
 * The pod behind a backend address: this node's by its record (with its sandbox), else the one an
 * EndpointSlice names (no sandbox: it is another node's).
 */
function backendPodRef(pods: PodNames, ip: string): PodRef | null {
  const record = pods.local.get(ip);
  if (record !== undefined) return toPodRef(record);
  const addr = parseIPv4(ip);
  const named = addr === undefined ? undefined : pods.endpoints.podAt(addr);
  return named === undefined
    ? null
    : { namespace: named.namespace, name: named.name, containerId: '' };
}

/** `namespace/name`: a namespace is a DNS label, so `10.0.0.0/24` is not one. */
function isPodKey(text: string): boolean {
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[^/\s]+$/.test(text);
}

/** The addresses of this node's pods recorded as `namespace/name`. */
function localAddressesOf(pods: PodNames, key: string): Set<number | undefined> {
  return new Set(
    [...pods.local.values()].filter((p) => recordKey(p) === key).map((p) => parseIPv4(p.ip)),
  );
}

function podsByIp(records: readonly PodRecord[]): Map<string, PodRecord> {
  return new Map(records.filter((record) => record.ip !== '').map((record) => [record.ip, record]));
}

function podRef(record: PodRecord | undefined): PodRef | null {
  return record === undefined ? null : toPodRef(record);
}
