/**
 * The namespaces the datapath benchmark measures in. Every path (direct, eBPF LB, iptables DNAT)
 * gets its own copy of the topology, the same addresses and MACs in each:
 *
 *  - no path shares a client port space, a backend's TIME_WAIT sockets or a conntrack table with
 *    another (EBPF.md trap 5 cannot happen);
 *  - only the iptables copy has a nat table, so only its router runs conntrack: kube-proxy's rule
 *    makes the node track every packet, and direct and eBPF traffic must not pay for that here;
 *  - only the eBPF copies' clients carry the tc programs, so "direct" is the plain path, the limit.
 *
 * veth (the product's veth mode, VethDriver): pods have eth0 with a /32, a route to 169.254.1.1
 * on-link and the default via it, a permanent neighbour for it (the node end's MAC). The node
 * routes each pod's /32 to its host veth (static neighbours, like the lab's nodes after ARP).
 * The ClusterIP is not routed anywhere: without a translation it is unreachable.
 *
 * L2 (macvlan over an "ENI", like the ipvlan mode): the node's ENI is one end of a veth pair whose
 * other end is the VPC gateway (.1, its own netns, forwarding on, no redirects). Pods are macvlan
 * (bridge) children of the ENI with a /24 on-link and the default route via the gateway, so pod →
 * pod stays inside macvlan and a ClusterIP packet goes to the gateway's MAC (EBPF.md trap 6).
 */
import { spawnSync } from 'node:child_process';

import { ipBatchSync, type ScratchNetns } from '../support/netns.js';

export type Topology = 'veth' | 'l2';
/**
 * The three paths every run measures, and optional ones:
 * - iptablesMany: the iptables path with thousands of other Services' rules loaded before ours;
 * - directTwin: a second, identical direct path, the control: what two copies of the same path
 *   differ by in one run is the noise floor every ratio sits on;
 * - lbTcx: the eBPF LB on the other hook, tcx (terwayd --lb-hook tcx), beside the default one;
 * - lbPodIp: the eBPF LB's programs attached as on the lb path, the client dialing the backend's
 *   pod IP: what the LB costs a pod's traffic that is not to a Service, and the floor under the
 *   lb path's ratios (the hooks and the programs' way out for a packet they leave alone);
 * - hookFloor: programs that return at once (pass.bpf.c) on the same hook, the client dialing the
 *   pod IP: what the hook itself costs, whatever program runs there; the floor under lbPodIp.
 */
export type PathName =
  'direct' | 'lb' | 'iptables' | 'iptablesMany' | 'directTwin' | 'lbTcx' | 'lbPodIp' | 'hookFloor';
export type BasePath = 'direct' | 'lb' | 'iptables';
export type ExtraPath = Exclude<PathName, BasePath>;
export const BASE_PATHS: readonly BasePath[] = ['direct', 'lb', 'iptables'];
/** Netns name tag and MAC byte per path. */
const PATH_TAG: Record<PathName, { tag: string; index: number }> = {
  direct: { tag: 'd', index: 1 },
  lb: { tag: 'e', index: 2 },
  iptables: { tag: 'i', index: 3 },
  iptablesMany: { tag: 'k', index: 4 },
  directTwin: { tag: 'a', index: 5 },
  lbTcx: { tag: 'x', index: 6 },
  lbPodIp: { tag: 'p', index: 7 },
  hookFloor: { tag: 'h', index: 8 },
};

/** The paths that dial the backend's pod IP; the others dial the ClusterIP. */
export const dialsBackend = (path: PathName): boolean =>
  path === 'direct' || path === 'directTwin' || path === 'lbPodIp' || path === 'hookFloor';
export const TOPOLOGIES: readonly Topology[] = ['veth', 'l2'];

export const ADDR = {
  client: '10.0.0.10',
  backend: '10.0.0.20',
  vip: '10.96.0.10',
  /** L2: the VPC gateway on the pods' subnet. */
  gateway: '10.0.0.1',
  prefix: 24,
  subnet: '10.0.0.0/24',
  /** veth: the pods' next hop, never a real address (VethDriver's VETH_GATEWAY). */
  vethGateway: '169.254.1.1',
} as const;

/**
 * One server per figure, the Service's port = the backend's: a Service port per figure keeps
 * each figure's flows apart in the LB's conntrack and in the backend's sockets.
 */
export const PORTS = {
  tcpRr: 11111,
  udpRr: 11112,
  /** Not a Service port: the program-cost probe's direct ping-pong from the eBPF path's client. */
  tcpRrPlain: 11113,
  http: 8080,
  connRate: 8081,
  stream: 5201,
} as const;

export interface World {
  topology: Topology;
  path: PathName;
  /** Netns names (under /var/run/netns). */
  client: string;
  backend: string;
  /** The namespace that routes the client's traffic to a ClusterIP: the node (veth), the gateway (L2). */
  router: string;
  all: string[];
  /** What the client dials: the backend's pod IP (dialsBackend), the ClusterIP otherwise. */
  target: string;
}

export const netnsPath = (name: string): string => `/var/run/netns/${name}`;

const mac = (world: number, index: number): string =>
  `02:00:5e:${world.toString(16).padStart(2, '0')}:00:${index.toString(16).padStart(2, '0')}`;

/** Sysctls in several namespaces, one shell for all. */
export function sysctls(settings: Array<{ netns: string; values: string[] }>): void {
  const script = settings
    .filter((s) => s.values.length > 0)
    .map((s) => `nsenter --net=${netnsPath(s.netns)} sysctl -q -w ${s.values.join(' ')} || exit 1`)
    .join('\n');
  const result = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`sysctl failed: ${result.stderr}`);
}

/** Routers forward and do not filter by reverse path; set before links exist ("default"). */
const ROUTER = [
  'net.ipv4.ip_forward=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
];
/** A real VPC gateway does not tell pods to bypass it (the L2 hairpin would trigger that). */
const NO_REDIRECTS = [
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
];
const POD = ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'];

function buildVeth(scratch: ScratchNetns, path: PathName): World {
  const { index } = PATH_TAG[path];
  const tag = `v${PATH_TAG[path].tag}`;
  const [client, node, backend] = scratch.create([`${tag}-c`, `${tag}-n`, `${tag}-b`]) as [
    string,
    string,
    string,
  ];
  sysctls([
    { netns: node, values: ROUTER },
    { netns: client, values: POD },
    { netns: backend, values: POD },
  ]);
  const pods = [
    { netns: client, ip: ADDR.client, host: 'hc', hostMac: mac(index, 1), podMac: mac(index, 2) },
    { netns: backend, ip: ADDR.backend, host: 'hb', hostMac: mac(index, 3), podMac: mac(index, 4) },
  ];
  ipBatchSync(
    pods.flatMap((p) => [
      `link add ${p.host} address ${p.hostMac} type veth peer name eth0 address ${p.podMac} netns ${p.netns}`,
      `link set ${p.host} up`,
      `route add ${p.ip}/32 dev ${p.host} scope link`,
      `neigh replace ${p.ip} lladdr ${p.podMac} dev ${p.host} nud permanent`,
    ]),
    node,
  );
  for (const p of pods) {
    ipBatchSync(
      [
        'link set eth0 up',
        `addr add ${p.ip}/32 dev eth0`,
        `route add ${ADDR.vethGateway}/32 dev eth0 scope link`,
        `route add default via ${ADDR.vethGateway} dev eth0 onlink`,
        `neigh replace ${ADDR.vethGateway} lladdr ${p.hostMac} dev eth0 nud permanent`,
      ],
      p.netns,
    );
  }
  return {
    topology: 'veth',
    path,
    client,
    backend,
    router: node,
    all: [client, node, backend],
    target: dialsBackend(path) ? ADDR.backend : ADDR.vip,
  };
}

function buildL2(scratch: ScratchNetns, path: PathName): World {
  const { index } = PATH_TAG[path];
  const tag = `l${PATH_TAG[path].tag}`;
  const [client, node, gateway, backend] = scratch.create([
    `${tag}-c`,
    `${tag}-n`,
    `${tag}-g`,
    `${tag}-b`,
  ]) as [string, string, string, string];
  sysctls([
    { netns: gateway, values: [...ROUTER, ...NO_REDIRECTS] },
    { netns: node, values: POD },
    { netns: client, values: POD },
    { netns: backend, values: POD },
  ]);
  const pods = [
    { netns: client, ip: ADDR.client, link: 'mvc', mac: mac(index, 2) },
    { netns: backend, ip: ADDR.backend, link: 'mvb', mac: mac(index, 4) },
  ];
  ipBatchSync(
    [
      `link add eni0 address ${mac(index, 0x10)} type veth peer name vpc0 address ${mac(index, 0x11)} netns ${gateway}`,
      'link set eni0 up',
      ...pods.flatMap((p) => [
        `link add link eni0 name ${p.link} address ${p.mac} type macvlan mode bridge`,
        `link set ${p.link} netns ${p.netns}`,
      ]),
    ],
    node,
  );
  ipBatchSync(['link set vpc0 up', `addr add ${ADDR.gateway}/${ADDR.prefix} dev vpc0`], gateway);
  for (const p of pods) {
    ipBatchSync(
      [
        `link set ${p.link} name eth0`,
        'link set eth0 up',
        `addr add ${p.ip}/${ADDR.prefix} dev eth0`,
        `route add default via ${ADDR.gateway} dev eth0`,
      ],
      p.netns,
    );
  }
  return {
    topology: 'l2',
    path,
    client,
    backend,
    router: gateway,
    all: [client, node, gateway, backend],
    target: dialsBackend(path) ? ADDR.backend : ADDR.vip,
  };
}

export type Worlds = Record<BasePath, World> & Partial<Record<ExtraPath, World>>;

/** One copy of `topology` per path: the three base paths and `extras`. */
export function buildWorlds(
  scratch: ScratchNetns,
  topology: Topology,
  extras: readonly ExtraPath[],
): Worlds {
  const build = topology === 'veth' ? buildVeth : buildL2;
  const worlds: Worlds = {
    direct: build(scratch, 'direct'),
    lb: build(scratch, 'lb'),
    iptables: build(scratch, 'iptables'),
  };
  for (const path of extras) worlds[path] = build(scratch, path);
  return worlds;
}

export function worldOf(worlds: Worlds, path: PathName): World {
  const world = worlds[path];
  if (world === undefined) throw new Error(`no ${path} world`);
  return world;
}

export function deleteWorlds(worlds: Worlds): void {
  ipBatchSync(
    Object.values(worlds).flatMap((w: World) => w.all.map((name) => `netns del ${name}`)),
    undefined,
    true,
  );
}

/** The Service's ports, as the DNAT rules see them. */
const SERVICE_PORTS: Array<['tcp' | 'udp', number]> = [
  ['tcp', PORTS.tcpRr],
  ['udp', PORTS.udpRr],
  ['tcp', PORTS.http],
  ['tcp', PORTS.connRate],
  ['tcp', PORTS.stream],
];

/**
 * In L2 mode the router is the gateway, and the backend answers the client on-link, around it;
 * without a source NAT the reply would never be un-DNATed. So the gateway also masquerades DNATed
 * flows that leave where they came from (kube-proxy's hairpin case: KUBE-MARK-MASQ, then
 * MASQUERADE in KUBE-POSTROUTING), which the backend then sees as coming from the gateway.
 */
const hairpinMasquerade = (world: World): string[] =>
  world.topology === 'l2'
    ? [
        `-A POSTROUTING -s ${ADDR.subnet} -d ${ADDR.subnet} -o vpc0 -m conntrack --ctstate DNAT -j MASQUERADE`,
      ]
    : [];

/**
 * kube-proxy's DNAT for the Service, in the namespace that routes the client's ClusterIP traffic:
 * one PREROUTING rule per Service port, nothing else (but the L2 hairpin masquerade).
 */
export function iptablesRules(world: World): string {
  return [
    '*nat',
    ...SERVICE_PORTS.map(
      ([proto, port]) =>
        `-A PREROUTING -d ${ADDR.vip}/32 -p ${proto} -m ${proto} --dport ${port} -j DNAT --to-destination ${ADDR.backend}:${port}`,
    ),
    ...hairpinMasquerade(world),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * kube-proxy's iptables mode with `others` more Services (one TCP port, one endpoint each, never
 * dialled): PREROUTING → KUBE-SERVICES, one rule per Service port there (a linear list) → its
 * KUBE-SVC-* → KUBE-SEP-* (hairpin mark, DNAT). The benchmark Service sits in the middle of
 * KUBE-SERVICES, where an average Service is. Only a connection's first packet walks the nat
 * table; conntrack handles the rest.
 */
export function kubeProxyRules(world: World, others: number): string {
  const chains: string[] = [':KUBE-SERVICES - [0:0]', ':KUBE-MARK-MASQ - [0:0]'];
  const rules: string[] = [
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
  ];
  const service = (
    name: string,
    vip: string,
    proto: 'tcp' | 'udp',
    port: number,
    endpoint: string,
    targetPort: number,
  ) => {
    chains.push(`:KUBE-SVC-${name} - [0:0]`, `:KUBE-SEP-${name} - [0:0]`);
    rules.push(
      `-A KUBE-SERVICES -d ${vip}/32 -p ${proto} -m comment --comment "bench/${name} cluster IP" -m ${proto} --dport ${port} -j KUBE-SVC-${name}`,
      `-A KUBE-SVC-${name} -m comment --comment "bench/${name} -> ${endpoint}:${targetPort}" -j KUBE-SEP-${name}`,
      `-A KUBE-SEP-${name} -s ${endpoint}/32 -m comment --comment bench/${name} -j KUBE-MARK-MASQ`,
      `-A KUBE-SEP-${name} -p ${proto} -m comment --comment bench/${name} -m ${proto} -j DNAT --to-destination ${endpoint}:${targetPort}`,
    );
  };
  for (let i = 0; i < others; i++) {
    if (i === Math.floor(others / 2)) {
      for (const [proto, port] of SERVICE_PORTS)
        service(`BENCH-${proto.toUpperCase()}-${port}`, ADDR.vip, proto, port, ADDR.backend, port);
    }
    service(
      `S${String(i).padStart(5, '0')}`,
      `10.100.${i >> 8}.${i & 0xff}`,
      'tcp',
      80,
      `10.101.${i >> 8}.${i & 0xff}`,
      8080,
    );
  }
  return ['*nat', ...chains, ...rules, ...hairpinMasquerade(world), 'COMMIT', ''].join('\n');
}

/** Loads the rules (kube-proxy's full ruleset with `others` > 0) with iptables-restore; ms. */
export function installIptables(world: World, others = 0): number {
  const input = others > 0 ? kubeProxyRules(world, others) : iptablesRules(world);
  const started = process.hrtime.bigint();
  const result = spawnSync('nsenter', [`--net=${netnsPath(world.router)}`, 'iptables-restore'], {
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`iptables-restore failed: ${result.stderr}`);
  return ms;
}

/** Packets that matched the DNAT rules so far (iptables-save -c), per chain. */
export function iptablesPackets(world: World): { dnat: number; masquerade: number } {
  const result = spawnSync(
    'nsenter',
    [`--net=${netnsPath(world.router)}`, 'iptables-save', '-c', '-t', 'nat'],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (result.status !== 0)
    throw new Error(`iptables-save failed: ${result.error?.message ?? result.stderr}`);
  let dnat = 0;
  let masquerade = 0;
  for (const line of result.stdout.split('\n')) {
    const match = /^\[(\d+):\d+\] -A (\S+) .* -j (\S+)/.exec(line);
    if (match === null) continue;
    if (match[3] === 'DNAT') dnat += Number(match[1]);
    if (match[3] === 'MASQUERADE') masquerade += Number(match[1]);
  }
  return { dnat, masquerade };
}
