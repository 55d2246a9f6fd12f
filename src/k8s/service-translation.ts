/**
 * One Service plus its EndpointSlices → the load balancer's frontends, with the rules kube-proxy
 * applies, so a Service behaves the same whether kube-proxy or terway-node serves it.
 *
 * Pure: no I/O, no clock. The same function serves the informers and the services file, and it
 * reads only fields that raw JSON (lists, watches, files) and client-node's model classes spell
 * alike.
 *
 * `internalTrafficPolicy: Local` keeps the ClusterIP's backends to the endpoints on this node, as
 * kube-proxy does; with none here the ClusterIP has no backend for this node's pods (refused), even
 * when other nodes have some. externalIPs and LoadBalancer IPs keep the cluster-wide endpoints:
 * kube-proxy sends a pod's traffic to them that way whatever the policies say.
 *
 * Topology hints narrow the cluster-wide endpoints as kube-proxy's CategorizeEndpoints does, per
 * Service port: when every ready endpoint carries node hints (`trafficDistribution:
 * PreferSameNode`) and one names this node, new flows go only to the endpoints hinted for this
 * node; else, when every ready endpoint carries zone hints (`PreferSameZone`, `PreferClose`,
 * `service.kubernetes.io/topology-mode: Auto`) and one names this node's zone, only to those
 * hinted for this zone; else to every ready endpoint. The endpoints left out keep the flows they
 * have (they drain), as kube-proxy's conntrack entries keep theirs.
 *
 * IPv4 only: the datapath's maps hold IPv4 frontends and backends (ENI multi-IP mode is IPv4), so
 * IPv6 cluster IPs, external IPs, ingress IPs and IPv6/FQDN EndpointSlices are skipped here.
 */
import type { DiscoveryV1EndpointPort, V1Service } from '@kubernetes/client-node';

import type { BackendKey, DesiredFrontend, LbProtocol } from '../lb/desired-frontend.js';
import { backendKey } from '../lb/desired-frontend.js';
import { parseIPv4 } from '../util/ipv4.js';
import {
  endpointAddr,
  endpointFlags,
  ENDPOINT_FLAG,
  hasFlag,
  onThisNode,
  takesNewFlows,
  type EndpointCode,
  type LeanEndpointSlice,
} from './lean-endpoint-slice.js';

/** The label the EndpointSlice controller puts on every slice it manages for a Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The API's default for `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours). */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10_800;

/** Service types kube-proxy programs; ExternalName is a DNS alias and has no virtual IP. */
const PROXIED_SERVICE_TYPES: ReadonlySet<string> = new Set([
  'ClusterIP',
  'NodePort',
  'LoadBalancer',
]);

/** `spec.internalTrafficPolicy` that keeps ClusterIP traffic on the client's node. */
const LOCAL_TRAFFIC_POLICY = 'Local';

/** A headless Service (clusterIP None) gets DNS records for its pods, not a virtual IP. */
const HEADLESS_CLUSTER_IP = 'None';

/** LoadBalancer ingress `ipMode: Proxy`: the LB forwards to the nodes itself; kube-proxy leaves
 *  such an IP alone so traffic to it still goes out to the LB. */
const INGRESS_IP_MODE_PROXY = 'Proxy';

interface FrontendIp {
  readonly ip: string;
  readonly external: boolean;
}

/**
 * Which endpoints take a port's new flows: only this node's (`internalTrafficPolicy: Local`),
 * every ready one (`cluster`), or the ready ones hinted for this zone or this node.
 */
type EndpointScope = 'local' | 'cluster' | 'zone' | 'node';

interface PortBackends {
  readonly ready: BackendKey[];
  readonly draining: readonly BackendKey[];
  /** Ready endpoints outside a `zone` or `node` scope: in `draining` too, and named apart here. */
  readonly hintedAway: readonly BackendKey[];
  /**
   * Read with the cluster scope: the scope the ready endpoints' hints narrow it to (kube-proxy's
   * topologyModeFromHints), `cluster` when they do not. Any other scope gives itself.
   */
  readonly hintedScope: EndpointScope;
}

/** Shared by every port that leaves nothing out: never written. */
const NO_BACKENDS: readonly BackendKey[] = [];

/** Both kinds of hint, and both "names this node (zone)" flags. */
const HINT_KINDS = ENDPOINT_FLAG.hasZoneHints | ENDPOINT_FLAG.hasNodeHints;
const HINTS_FOR_HERE = ENDPOINT_FLAG.forThisZone | ENDPOINT_FLAG.forThisNode;

/**
 * The frontends of `service`, sorted by address (ip numerically, then port, then protocol).
 * `slices` are the EndpointSlices of this Service (label `kubernetes.io/service-name`), projected
 * (projectEndpointSlice); slices of other address types are ignored. A Service that kube-proxy
 * would not program yields [].
 */
export function translateService(
  service: V1Service,
  slices: readonly LeanEndpointSlice[],
): DesiredFrontend[] {
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  if (!isProxiedService(service)) return [];

  const ips = frontendIps(service);
  const affinityTimeoutSeconds = affinityTimeoutOf(service);
  const internalLocal = service.spec?.internalTrafficPolicy === LOCAL_TRAFFIC_POLICY;
  // Plain arrays and loops, no Map of string keys: an initial sync translates 10,000 Services
  // before the JIT has warmed up, and a Service has a handful of frontends.
  const frontends: DesiredFrontend[] = [];
  const servicePorts = service.spec?.ports ?? [];
  for (let portIndex = 0; portIndex < servicePorts.length; portIndex++) {
    const servicePort = servicePorts[portIndex]!;
    const protocol = lbProtocolOf(servicePort.protocol);
    if (protocol === undefined) continue; // SCTP: the datapath balances TCP and UDP only
    if (!isPortNumber(servicePort.port)) continue;
    const portName = servicePort.name ?? '';
    // Each list built only if a frontend takes it: a Local Service without external IPs never
    // needs every node's endpoints.
    let clusterWide: PortBackends | undefined;
    let thisNodeOnly: PortBackends | undefined;
    for (let ipIndex = 0; ipIndex < ips.length; ipIndex++) {
      const { ip, external } = ips[ipIndex]!;
      // First one wins: the ClusterIP comes first, so an externalIP equal to it stays internal.
      if (listed(frontends, ip, servicePort.port, protocol)) continue;
      const { ready, draining, hintedAway, hintedScope } =
        internalLocal && !external
          ? (thisNodeOnly ??= backendsForPort(slices, portName, protocol, 'local'))
          : (clusterWide ??= clusterBackendsForPort(slices, portName, protocol));
      const frontend: DesiredFrontend = {
        address: { ip, port: servicePort.port, protocol },
        service: { namespace, name, portName },
        external,
        affinityTimeoutSeconds,
        ready,
        draining,
      };
      frontends.push(
        hintedScope === 'zone' || hintedScope === 'node'
          ? { ...frontend, topology: hintedScope, hintedAway }
          : frontend,
      );
    }
  }
  // A copy of its own size: the sink keeps the list for as long as the Service lives, and one
  // grown by push keeps room for 17 (10,000 Services: 1.3 MB more, all of it copied by the
  // collector on its way to the old generation).
  return (frontends.length < 2 ? frontends : frontends.sort(compareFrontends)).slice();
}

function listed(
  frontends: readonly DesiredFrontend[],
  ip: string,
  port: number,
  protocol: LbProtocol,
): boolean {
  for (let index = 0; index < frontends.length; index++) {
    const address = frontends[index]!.address;
    if (address.port === port && address.protocol === protocol && address.ip === ip) return true;
  }
  return false;
}

/** kube-proxy's ShouldSkipService, inverted: a proxied type with a real cluster IP. */
export function isProxiedService(service: V1Service): boolean {
  const type = service.spec?.type ?? 'ClusterIP';
  if (!PROXIED_SERVICE_TYPES.has(type)) return false;
  const clusterIP = service.spec?.clusterIP ?? '';
  return clusterIP !== '' && clusterIP !== HEADLESS_CLUSTER_IP;
}

/** ClusterIP(s) first, then externalIPs, then LoadBalancer ingress IPs; IPv4 only. */
function frontendIps(service: V1Service): FrontendIp[] {
  const spec = service.spec ?? {};
  const ips: FrontendIp[] = [];
  // clusterIPs (dual-stack) starts with clusterIP; older objects may only carry clusterIP.
  // Indexed loops: until the JIT has compiled this, for-of allocates an iterator and a result per
  // element, and an initial sync runs it 10,000 times before then.
  const clusterIps = spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP ?? ''];
  for (let index = 0; index < clusterIps.length; index++) {
    addFrontendIp(ips, clusterIps[index]!, false);
  }
  const externalIps = spec.externalIPs ?? [];
  for (let index = 0; index < externalIps.length; index++) {
    addFrontendIp(ips, externalIps[index]!, true);
  }
  const ingresses = service.status?.loadBalancer?.ingress ?? [];
  for (let index = 0; index < ingresses.length; index++) {
    const ingress = ingresses[index]!;
    if (ingress.ipMode !== INGRESS_IP_MODE_PROXY) addFrontendIp(ips, ingress.ip ?? '', true);
  }
  return ips;
}

function addFrontendIp(ips: FrontendIp[], ip: string, external: boolean): void {
  if (parseIPv4(ip) !== undefined) ips.push({ ip, external });
}

function affinityTimeoutOf(service: V1Service): number {
  if (service.spec?.sessionAffinity !== 'ClientIP') return 0;
  const timeout = service.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
  // The API rejects anything but 1..86400; a missing or nonsensical value means the default.
  return typeof timeout === 'number' && Number.isInteger(timeout) && timeout > 0
    ? timeout
    : DEFAULT_AFFINITY_TIMEOUT_SECONDS;
}

/** The API defaults a missing protocol to TCP; SCTP (and anything else) is not balanced. */
function lbProtocolOf(protocol: string | undefined): LbProtocol | undefined {
  const value = protocol ?? 'TCP';
  return value === 'TCP' || value === 'UDP' ? value : undefined;
}

/**
 * The cluster-wide backends of one Service port, narrowed by the endpoints' topology hints when
 * they allow it. Read once without the hints (the common case: no Service asks for them), and
 * again only when they narrow it.
 */
function clusterBackendsForPort(
  slices: readonly LeanEndpointSlice[],
  portName: string,
  protocol: LbProtocol,
): PortBackends {
  const everyReady = backendsForPort(slices, portName, protocol, 'cluster');
  const scope = everyReady.hintedScope;
  return scope === 'cluster' ? everyReady : backendsForPort(slices, portName, protocol, scope);
}

/**
 * kube-proxy's topologyModeFromHints, from the ready endpoints' flags: node hints first, then zone
 * hints, each only when no ready endpoint lacks one (`lacking`) and one names this node or zone
 * (`naming`). A port with no ready endpoint names neither, so it stays cluster-wide.
 */
function topologyScope(lacking: number, naming: number): EndpointScope {
  if ((lacking & ENDPOINT_FLAG.hasNodeHints) === 0 && (naming & ENDPOINT_FLAG.forThisNode) !== 0)
    return 'node';
  if ((lacking & ENDPOINT_FLAG.hasZoneHints) === 0 && (naming & ENDPOINT_FLAG.forThisZone) !== 0)
    return 'zone';
  return 'cluster';
}

/** Whether an endpoint's new flows belong to `scope`; ready or not is decided apart. */
function inScope(code: EndpointCode, scope: EndpointScope): boolean {
  switch (scope) {
    case 'cluster':
      return true;
    case 'local':
      return onThisNode(code);
    case 'zone':
      return hasFlag(code, ENDPOINT_FLAG.forThisZone);
    case 'node':
      return hasFlag(code, ENDPOINT_FLAG.forThisNode);
  }
}

/**
 * The backends of one Service port in `scope`. Each slice carries its own port list (pods may
 * resolve a named targetPort to different numbers), so the port is looked up per slice, by the
 * Service port's name and protocol, as kube-proxy does.
 *
 * `local` drops every other node's endpoint. `zone` and `node` keep the ready endpoints outside
 * them as draining: no new flows, but the flows they have keep going.
 */
function backendsForPort(
  slices: readonly LeanEndpointSlice[],
  portName: string,
  protocol: LbProtocol,
  scope: EndpointScope,
): PortBackends {
  // Arrays of plain doubles, sorted and de-duplicated at the end, rather than Sets: a Set boxes
  // every key above 2^31 (all of them), and this runs once per Service port of an initial sync.
  const ready: BackendKey[] = [];
  const draining: BackendKey[] = [];
  // Made only when a zone or node scope leaves a ready endpoint out: rare, and an initial sync
  // reads 10,000 ports.
  let hintedAway: BackendKey[] | undefined;
  // The cluster scope's hint survey, as two small bit sets rather than an object per port.
  let lacking = scope === 'cluster' ? 0 : HINT_KINDS;
  let naming = 0;
  for (let sliceIndex = 0; sliceIndex < slices.length; sliceIndex++) {
    const slice = slices[sliceIndex]!;
    if (slice.addressType !== 'IPv4') continue;
    const port = matchingSlicePort(slice.ports ?? [], portName, protocol);
    if (port === undefined) continue;
    const codes = slice.endpointCodes;
    for (let index = 0; index < codes.length; index++) {
      const code = codes[index]!;
      if (scope === 'local' && !onThisNode(code)) continue;
      const key = backendKey(endpointAddr(code), port);
      if (!takesNewFlows(code)) {
        draining.push(key);
        continue;
      }
      // Once some ready endpoint lacks both kinds of hint, nothing can narrow the port.
      if (lacking !== HINT_KINDS) {
        const flags = endpointFlags(code);
        lacking |= ~flags & HINT_KINDS;
        naming |= flags & HINTS_FOR_HERE;
      }
      if (scope === 'cluster' || inScope(code, scope)) {
        ready.push(key);
      } else {
        draining.push(key);
        (hintedAway ??= []).push(key);
      }
    }
  }
  const hintedScope = scope === 'cluster' ? topologyScope(lacking, naming) : scope;
  sortUnique(ready);
  // Copies of their own size: these are kept for as long as the Service is, and an array grown
  // by push keeps room for 17 keys (10,000 Services: 0.5 MB more per list).
  if (draining.length === 0) {
    return { ready: ready.slice(), draining: NO_BACKENDS, hintedAway: NO_BACKENDS, hintedScope };
  }
  sortUnique(draining);
  if (hintedAway !== undefined) sortUnique(hintedAway);
  // During a slice migration one endpoint may sit in two slices with different conditions:
  // ready anywhere means ready, so a stale copy never withdraws a serving pod.
  return {
    ready: ready.slice(),
    draining: withoutSorted(draining, ready).slice(),
    hintedAway: hintedAway === undefined ? NO_BACKENDS : withoutSorted(hintedAway, ready),
    hintedScope,
  };
}

/** Longest list insertion-sorted; longer ones take the built-in sort. */
const INSERTION_SORT_MAX = 32;

/**
 * Sorts backend keys ascending ("by ip, then port") in place and drops repeats. A Service's
 * handful of endpoints is insertion-sorted: a comparator call per step, in code the JIT has not
 * compiled yet, is what an initial sync of 10,000 Services would pay for the built-in sort.
 */
export function sortUnique(keys: BackendKey[]): void {
  if (keys.length > INSERTION_SORT_MAX) keys.sort((a, b) => a - b);
  else insertionSort(keys);
  let kept = 0;
  for (let index = 0; index < keys.length; index++) {
    if (kept === 0 || keys[kept - 1] !== keys[index]) keys[kept++] = keys[index]!;
  }
  keys.length = kept;
}

function insertionSort(keys: BackendKey[]): void {
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index]!;
    let at = index - 1;
    while (at >= 0 && keys[at]! > key) {
      keys[at + 1] = keys[at]!;
      at--;
    }
    keys[at + 1] = key;
  }
}

/** `keys` minus `removed`, both ascending and without repeats. */
function withoutSorted(keys: readonly BackendKey[], removed: readonly BackendKey[]): BackendKey[] {
  const kept: BackendKey[] = [];
  let at = 0;
  for (const key of keys) {
    while (at < removed.length && removed[at]! < key) at++;
    if (at < removed.length && removed[at] === key) continue;
    kept.push(key);
  }
  return kept;
}

function matchingSlicePort(
  ports: readonly DiscoveryV1EndpointPort[],
  portName: string,
  protocol: LbProtocol,
): number | undefined {
  // The first port of that name and protocol, as kube-proxy takes it. A loop, not find(): no
  // closure per Service port of an initial sync.
  for (let index = 0; index < ports.length; index++) {
    const candidate = ports[index]!;
    if ((candidate.name ?? '') !== portName || lbProtocolOf(candidate.protocol) !== protocol)
      continue;
    // A slice port without a number means "all ports", which kube-proxy cannot program either.
    return isPortNumber(candidate.port) ? candidate.port : undefined;
  }
  return undefined;
}

function isPortNumber(port: unknown): port is number {
  return typeof port === 'number' && Number.isInteger(port) && port > 0 && port <= 65_535;
}

function compareFrontends(a: DesiredFrontend, b: DesiredFrontend): number {
  return (
    (parseIPv4(a.address.ip) ?? 0) - (parseIPv4(b.address.ip) ?? 0) ||
    a.address.port - b.address.port ||
    a.address.protocol.localeCompare(b.address.protocol)
  );
}
