/**
 * One Service plus its EndpointSlices → the load balancer's frontends, with the rules kube-proxy
 * applies, so a Service behaves the same whether kube-proxy or terway-node serves it.
 *
 * Pure: no I/O, no clock. The same function serves the informers and the services file, and it
 * reads only fields that a list (typed client objects) and a watch (raw JSON) spell the same way.
 *
 * IPv4 only: the datapath's maps hold IPv4 frontends and backends (ENI multi-IP mode is IPv4), so
 * IPv6 cluster IPs, external IPs, ingress IPs and IPv6/FQDN EndpointSlices are skipped here.
 */
import type { DiscoveryV1EndpointPort, V1EndpointSlice, V1Service } from '@kubernetes/client-node';

import type { BackendKey, DesiredFrontend, LbProtocol } from '../lb/desired-frontend.js';
import { backendKey, frontendKey } from '../lb/desired-frontend.js';
import { parseIPv4 } from '../util/ipv4.js';

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

/** A headless Service (clusterIP None) gets DNS records for its pods, not a virtual IP. */
const HEADLESS_CLUSTER_IP = 'None';

/** LoadBalancer ingress `ipMode: Proxy`: the LB forwards to the nodes itself; kube-proxy leaves
 *  such an IP alone so traffic to it still goes out to the LB. */
const INGRESS_IP_MODE_PROXY = 'Proxy';

interface FrontendIp {
  readonly ip: string;
  readonly external: boolean;
}

interface PortBackends {
  readonly ready: BackendKey[];
  readonly draining: BackendKey[];
}

/**
 * The frontends of `service`, sorted by address (ip numerically, then port, then protocol).
 * `slices` are the EndpointSlices of this Service (label `kubernetes.io/service-name`); slices of
 * other address types are ignored. A Service that kube-proxy would not program yields [].
 */
export function translateService(
  service: V1Service,
  slices: readonly V1EndpointSlice[],
): DesiredFrontend[] {
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  if (!isProxiedService(service)) return [];

  const ips = frontendIps(service);
  const affinityTimeoutSeconds = affinityTimeoutOf(service);
  const frontends = new Map<string, DesiredFrontend>();
  for (const servicePort of service.spec?.ports ?? []) {
    const protocol = lbProtocolOf(servicePort.protocol);
    if (protocol === undefined) continue; // SCTP: the datapath balances TCP and UDP only
    if (!isPortNumber(servicePort.port)) continue;
    const portName = servicePort.name ?? '';
    const backends = backendsForPort(slices, portName, protocol);
    for (const { ip, external } of ips) {
      const address = { ip, port: servicePort.port, protocol };
      const key = frontendKey(address);
      // First one wins: the ClusterIP comes first, so an externalIP equal to it stays internal.
      if (frontends.has(key)) continue;
      frontends.set(key, {
        address,
        service: { namespace, name, portName },
        external,
        affinityTimeoutSeconds,
        ready: backends.ready,
        draining: backends.draining,
      });
    }
  }
  return [...frontends.values()].sort(compareFrontends);
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
  // clusterIPs (dual-stack) starts with clusterIP; older objects may only carry clusterIP.
  const clusterIps = spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP ?? ''];
  const ingressIps = (service.status?.loadBalancer?.ingress ?? [])
    .filter((ingress) => ingress.ipMode !== INGRESS_IP_MODE_PROXY)
    .map((ingress) => ingress.ip ?? '');
  return [
    ...clusterIps.map((ip) => ({ ip, external: false })),
    ...(spec.externalIPs ?? []).map((ip) => ({ ip, external: true })),
    ...ingressIps.map((ip) => ({ ip, external: true })),
  ].filter(({ ip }) => parseIPv4(ip) !== undefined);
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
 * The backends of one Service port. Each slice carries its own port list (pods may resolve a
 * named targetPort to different numbers), so the port is looked up per slice, by the Service
 * port's name and protocol, as kube-proxy does.
 */
function backendsForPort(
  slices: readonly V1EndpointSlice[],
  portName: string,
  protocol: LbProtocol,
): PortBackends {
  const ready = new Set<BackendKey>();
  const draining = new Set<BackendKey>();
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    const port = matchingSlicePort(slice.ports ?? [], portName, protocol);
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      // Only the first address has defined semantics; kube-proxy ignores the rest.
      const ip = endpoint.addresses?.[0];
      const addr = ip === undefined ? undefined : parseIPv4(ip);
      if (addr === undefined) continue;
      const key = backendKey(addr, port);
      // A nil `ready` means ready (the API's "unknown" is treated as ready by consumers).
      const isReady = endpoint.conditions?.ready !== false;
      const isTerminating = endpoint.conditions?.terminating === true;
      if (isReady && !isTerminating) ready.add(key);
      else draining.add(key);
    }
  }
  // During a slice migration one endpoint may sit in two slices with different conditions:
  // ready anywhere means ready, so a stale copy never withdraws a serving pod.
  for (const key of ready) draining.delete(key);
  return { ready: ascending(ready), draining: ascending(draining) };
}

/** Backend keys sort numerically as "by ip, then port": no address parsing in the comparator. */
function ascending(keys: ReadonlySet<BackendKey>): BackendKey[] {
  return [...keys].sort((a, b) => a - b);
}

function matchingSlicePort(
  ports: readonly DiscoveryV1EndpointPort[],
  portName: string,
  protocol: LbProtocol,
): number | undefined {
  const match = ports.find(
    (port) => (port.name ?? '') === portName && lbProtocolOf(port.protocol) === protocol,
  );
  // A slice port without a number means "all ports", which kube-proxy cannot program either.
  const port = match?.port;
  return isPortNumber(port) ? port : undefined;
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
