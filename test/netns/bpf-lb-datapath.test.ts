/**
 * The Service LB's tc programs (bpf/lb.c) on real pods: network namespaces of this test's own, the
 * object compiled by scripts/build-bpf.sh, loaded once with bpftool and attached with tc to each
 * client pod's eth0, the maps programmed with bpftool the way the daemon lays them out.
 *
 * veth mode, like the product's fallback: a "node" netns routes between pods; every pod has a /32
 * on eth0 and a default route via 169.254.1.1, a static neighbour (the node's veth). The node
 * routes the ClusterIP range into a sink veth whose transmit counter proves that no packet to a
 * ClusterIP ever left a client pod. Backends run a small server that answers with its name and
 * the address it saw the client as. The main client runs tw_lb_egress (with the L2 fix, which must
 * be harmless here); a second client runs tw_lb_egress_gw, the variant for such pods.
 *
 * L2 mode: client and backends are macvlan (bridge) slaves of a veth "ENI" in a node netns, on one
 * /24 with a default route via a gateway in its own netns, which does not forward. A ClusterIP
 * packet is addressed to the gateway's MAC, so the program must re-address it to the on-link
 * backend (EBPF.md trap 6).
 */

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import type { AgentReply, EchoReply } from '../support/bpf-lab.js';
import {
  Agent,
  FLOW_BACKEND_FIN,
  FLOW_CLIENT_FIN,
  FLOW_CLOSING,
  FLOW_ESTABLISHED,
  FLOW_STREAM,
  LbPins,
  NO_BACKEND,
  TCP,
  UDP,
  affinityKey,
  backendValue,
  buildLbObject,
  decodeAffinity,
  decodeCounters,
  decodeFlow,
  decodeFlowKey,
  flowKey,
  frontendKey,
  frontendValue,
  inNs,
  ipBatch,
  linkMac,
  linkTxPackets,
  quietIpv6,
  reverseKey,
  sysctl,
  u32,
} from '../support/bpf-lab.js';
import { NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import { nextHopMacOf, readFlowRecords } from '../../src/lb/flow-records.js';
import { readNodeFlowTotals } from '../../src/lb/maps/node-counters.js';
import { liveFrontendIdsPaused } from '../../src/lb/flow-liveness.js';
import { FLOW, LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';
import { decode, encode } from '../../src/lb/maps/struct-codec.js';
import { startCapture } from '../support/capture.js';
import { dumpOf } from '../support/lb-flows.js';
import { portClash, type ClashKind } from '../support/port-clash.js';
import { requireRoot, TestNetns } from '../support/netns.js';

requireRoot();

const CLIENT_IP = '10.0.0.10';
const GW_CLIENT_IP = '10.0.0.11';
const GATEWAY = '169.254.1.1';
const VIP = '10.96.0.10';
const TCP_TARGET = 8080;
const UDP_TARGET = 5353;
const BACKENDS = [
  { name: 'b1', ip: '10.0.0.21' },
  { name: 'b2', ip: '10.0.0.22' },
  { name: 'b3', ip: '10.0.0.23' },
];
const ipOf = (name: string) => BACKENDS.find((b) => b.name === name)!.ip;

/**
 * The L2 labs: a node netns whose veth "ENI" is the parent of the pods' devices, a gateway netns at
 * .1 on the ENI's other end (forwarding off), a client at .10 and two backends, all on one /24.
 * ipvlan runs only where the kernel has it (the VM tier's Debian kernel; not this CI kernel).
 */
interface L2Lab {
  kind: 'macvlan' | 'ipvlan';
  supported: boolean;
  subnet: string; // the first three octets
  vip: string;
  frontendId: number; // TCP; UDP is frontendId + 1
  firstBackendId: number;
  backends: Array<{ name: string; ip: string }>;
  client?: Agent;
  clientNs?: TestNetns;
  /** Backend name → the MAC its eth0 sends from (on ipvlan, the ENI's, shared by every pod). */
  backendMacs: Map<string, string>;
}

function kernelHasIpvlan(): boolean {
  const scratch = new TestNetns();
  try {
    ipBatch(scratch, [
      'link add p0 type veth peer name p1',
      'link add link p0 name iv0 type ipvlan mode l2',
    ]);
    return true;
  } catch {
    return false;
  } finally {
    scratch.delete();
  }
}

const l2Lab = (kind: L2Lab['kind'], supported: boolean, third: number, prefix: string): L2Lab => ({
  kind,
  supported,
  subnet: `192.168.${third}`,
  vip: `10.96.0.${third - 30}`,
  frontendId: third - 30,
  firstBackendId: third + 1,
  backends: [
    { name: `${prefix}1`, ip: `192.168.${third}.21` },
    { name: `${prefix}2`, ip: `192.168.${third}.22` },
  ],
  backendMacs: new Map(),
});

const L2_LABS: L2Lab[] = [
  l2Lab('macvlan', true, 50, 'm'),
  l2Lab('ipvlan', kernelHasIpvlan(), 60, 'i'),
];

const namespaces: TestNetns[] = [];
const agents: Agent[] = [];
let pins: LbPins | undefined;
let node: TestNetns;
let client: Agent;
let clientPod: TestNetns;
let gwClient: Agent;
const servers = new Map<string, Agent>();
/** Every backend's namespace, by backend name. */
const backendNamespaces = new Map<string, TestNetns>();

function netns(): TestNetns {
  const ns = new TestNetns();
  namespaces.push(ns);
  quietIpv6(ns);
  return ns;
}

async function agent(ns: TestNetns, label: string): Promise<Agent> {
  const a = new Agent(ns, label);
  agents.push(a);
  await a.ready;
  return a;
}

/**
 * One group of a namespace's kernel counters (`Icmp` in /proc/net/snmp, `TcpExt` in
 * /proc/net/netstat): a line of names, then a line of values, both led by the group's name.
 */
function kernelCounters(ns: TestNetns, file: string, group: string): (name: string) => number {
  const [names, values] = inNs(ns, 'cat', [file])
    .split('\n')
    .filter((line) => line.startsWith(`${group}: `))
    .map((line) => line.split(' ').slice(1));
  return (name) => Number(values![names!.indexOf(name)]);
}

/** ICMP errors a namespace's kernel received, and those no socket matched. */
function icmpReceived(ns: TestNetns): { destUnreachs: number; unmatched: number } {
  const field = kernelCounters(ns, '/proc/net/snmp', 'Icmp');
  return { destUnreachs: field('InDestUnreachs'), unmatched: field('InErrors') };
}

/** TCP's count of ICMP errors that quoted a segment outside its socket's window. */
function outOfWindowIcmps(ns: TestNetns): number {
  return kernelCounters(ns, '/proc/net/netstat', 'TcpExt')('OutOfWindowIcmps');
}

/** Waits until the backend's kernel has counted an ICMP error beyond `before`. */
async function errorArrived(backend: string, backendNs: TestNetns, before: number): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (icmpReceived(backendNs).destUnreachs === before) {
    if (Date.now() > deadline) throw new Error(`no ICMP error reached ${backend}`);
    await sleep(10);
  }
}

/**
 * What a client's ICMP error about a flow's reply must look like when it reaches the backend:
 * addressed to the backend, quoting the backend's own packet (`quoted`: its protocol word in
 * tcpdump's reading and the backend's port), with sound checksums, and matched by the backend's
 * kernel to its socket. `packets`: the backend's ICMP capture; `before`: its counters then.
 */
function expectErrorQuotingBackend(
  packets: string[],
  before: { destUnreachs: number; unmatched: number },
  backendNs: TestNetns,
  error: {
    clientIp: string;
    vip: string;
    backend: { ip: string };
    quoted: 'udp' | 'tcp';
    port: number;
  },
): void {
  const ip = (address: string) => address.replace(/\./g, '\\.');
  const { clientIp, backend } = error;
  expect(packets.length).toBeGreaterThan(0);
  // Each error counted once by the backend, and every one found its socket by the quoted header.
  const after = icmpReceived(backendNs);
  expect(after.destUnreachs - before.destUnreachs).toBe(packets.length);
  expect(after.unmatched).toBe(before.unmatched);
  for (const packet of packets) {
    expect(packet).toMatch(
      new RegExp(
        `${ip(clientIp)} > ${ip(backend.ip)}: ICMP ${ip(clientIp)} ${error.quoted} port \\d+ unreachable.*` +
          ` ${ip(backend.ip)}\\.${error.port} > ${ip(clientIp)}\\.\\d+: `,
      ),
    );
  }
  // tcpdump checks the quoted header's checksum, which no kernel does.
  expect(packets.join('\n')).not.toContain('bad cksum');
  // The ClusterIP appears nowhere on the backend's side, quoted or not.
  expect(packets.join('\n')).not.toContain(error.vip);
}

/**
 * A UDP reply that reaches the client after it closed its socket: the client's kernel answers
 * with a port unreachable quoting the reply as it arrived (from the frontend). The egress program
 * must send that error to the backend, quoting the backend's own datagram, so the backend's kernel
 * matches it to its socket.
 */
async function lateReplyError(
  clientAgent: Agent,
  clientIp: string,
  vip: string,
  backend: { name: string; ip: string },
): Promise<void> {
  const backendNs = backendNamespaces.get(backend.name)!;
  const before = icmpReceived(backendNs);
  const capture = await startCapture(backendNs.path, 'icmp', { verbose: true });
  let packets: string[] = [];
  try {
    const gaveUp = await clientAgent.call('udpOnce', {
      host: vip,
      port: 53,
      line: 'late:300',
      timeoutMs: 100,
    });
    expect(gaveUp).toMatchObject({ ok: false, code: 'TIMEOUT' });
    await errorArrived(backend.name, backendNs, before.destUnreachs);
  } finally {
    packets = (await capture.stop()).packets;
  }
  expect(packets).toHaveLength(1);
  expectErrorQuotingBackend(packets, before, backendNs, {
    clientIp,
    vip,
    backend,
    quoted: 'udp',
    port: UDP_TARGET,
  });
}

/**
 * A TCP segment of the backend's that a firewall in the client pod refuses with an ICMP error, as
 * an iptables REJECT rule there does: the error quotes the segment as it arrived (from the
 * frontend), and must reach the backend quoting the backend's own segment, within its window
 * (TCP checks the quoted sequence number), so its kernel can hand the error to the connection.
 */
async function refusedSegmentError(
  clientAgent: Agent,
  clientIp: string,
  vip: string,
  backend: { name: string; ip: string },
): Promise<void> {
  const backendNs = backendNamespaces.get(backend.name)!;
  const opened = await clientAgent.must('tcpOpen', { host: vip, port: 80 });
  const conn = opened['conn'] as number;
  // Only segments carrying data: the handshake went through, the answer to the next line does not.
  const rule = ['INPUT', '-p', 'tcp', '-s', vip, '--sport', '80', '--tcp-flags', 'PSH', 'PSH'];
  const reject = ['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable'];
  inNs(clientAgent.ns, 'iptables', ['-A', ...rule, ...reject]);
  const before = icmpReceived(backendNs);
  const windowMisses = outOfWindowIcmps(backendNs);
  const capture = await startCapture(backendNs.path, 'icmp', { verbose: true });
  let packets: string[] = [];
  try {
    const answer = clientAgent.call('tcpSend', { conn, line: 'refused', timeoutMs: 3_000 });
    await errorArrived(backend.name, backendNs, before.destUnreachs);
    // A reset ends the connection before the backend retransmits into the rule again.
    await clientAgent.must('tcpClose', { conn, reset: true });
    expect(await answer).toMatchObject({ ok: false });
  } finally {
    inNs(clientAgent.ns, 'iptables', ['-D', ...rule, ...reject]);
    packets = (await capture.stop()).packets;
  }
  expectErrorQuotingBackend(packets, before, backendNs, {
    clientIp,
    vip,
    backend,
    quoted: 'tcp',
    port: TCP_TARGET,
  });
  expect(outOfWindowIcmps(backendNs)).toBe(windowMisses);
}

function lb(): LbPins {
  if (pins === undefined) throw new Error('the programs are not loaded');
  return pins;
}

const mac = (a: number, b: number) =>
  `02:00:00:${[a, b >> 8, b & 0xff].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;

/** A veth pod of the node: eth0 with a /32, default via 169.254.1.1 (the node's veth, static). */
function vethPod(index: number, ip: string): TestNetns {
  const pod = netns();
  const host = `h${index}`;
  const hostMac = mac(1, index);
  const podMac = mac(2, index);
  ipBatch(node, [
    `link add ${host} address ${hostMac} type veth peer name eth0 address ${podMac} netns ${pod.name}`,
    `link set ${host} up`,
    `route add ${ip}/32 dev ${host}`,
    `neigh add ${ip} lladdr ${podMac} dev ${host} nud permanent`,
  ]);
  ipBatch(pod, [
    'link set lo up',
    'link set eth0 up',
    `addr add ${ip}/32 dev eth0`,
    `route add ${GATEWAY} dev eth0 scope link`,
    `route add default via ${GATEWAY} dev eth0`,
    `neigh add ${GATEWAY} lladdr ${hostMac} dev eth0 nud permanent`,
  ]);
  return pod;
}

interface Be {
  id: number;
  ip: string;
  port: number;
}

/** Each test frontend owns the slot block [id * SLOT_BLOCK, (id + 1) * SLOT_BLOCK). */
const SLOT_BLOCK = 16;

/**
 * A frontend with its backends in slots 0..n-1 (count = n unless given), written in the order the
 * daemon uses: backends, then slots, then the frontend whose count covers them.
 */
function setFrontend(
  addr: string,
  port: number,
  proto: number,
  fe: { id: number; backendCount?: number; affinityTimeoutS?: number },
  backends: Be[],
): void {
  const slotBase = fe.id * SLOT_BLOCK;
  lb().batch([
    ...backends.map((b) => ({
      map: 'tw_be_v1',
      key: u32(b.id),
      value: backendValue(b.ip, b.port, proto),
    })),
    ...Array.from({ length: SLOT_BLOCK }, (_, slot) => ({
      map: 'tw_slot_v1',
      key: u32(slotBase + slot),
      value: u32(backends[slot]?.id ?? 0),
    })),
    {
      map: 'tw_fe_v1',
      key: frontendKey(addr, port, proto),
      value: frontendValue({
        ...fe,
        slotBase,
        slotCapacity: SLOT_BLOCK,
        backendCount: fe.backendCount ?? backends.length,
      }),
    },
  ]);
}

function backendsFor(firstId: number, port: number, list = BACKENDS): Be[] {
  return list.map((b, i) => ({ id: firstId + i, ip: b.ip, port }));
}

function flowOf(
  clientAddr: string,
  frontendAddr: string,
  clientPort: number,
  frontendPort: number,
  proto: number,
) {
  const value = lb().lookup(
    'tw_flow_v1',
    flowKey({ clientAddr, frontendAddr, clientPort, frontendPort, proto }),
  );
  return value === undefined ? undefined : decodeFlow(value);
}

/** The key of the veth client's flow from `clientPort` to VIP. */
function clientFlowKey(clientPort: number, frontendPort: number, proto: number): Buffer {
  return flowKey({ clientAddr: CLIENT_IP, frontendAddr: VIP, clientPort, frontendPort, proto });
}

/**
 * A UDP socket of the veth client towards VIP:53 whose flow starts with its first datagram. The
 * earlier tests' sockets to VIP:53 leave flows that live 30 s, and one that had the same ephemeral
 * port would make this socket's first datagram continue it (4 packets, a stream) instead.
 */
async function freshUdpSocket(): Promise<{ sock: AgentReply; key: Buffer }> {
  const sock = await client.must('udpOpen', { host: VIP, port: 53 });
  const key = clientFlowKey(sock.localPort as number, 53, UDP);
  if (lb().lookup('tw_flow_v1', key) !== undefined) lb().delete('tw_flow_v1', key);
  return { sock, key };
}

/**
 * Moves a flow's stamps `seconds` into the past, as if its packets had come that much earlier:
 * its last packet only, or (`firstToo`) its first as well.
 */
function backdateFlow(key: Buffer, seconds: number, firstToo = false): void {
  const flow = decode(FLOW, lb().lookup('tw_flow_v1', key)!);
  const by = BigInt(seconds) * 10n ** 9n;
  lb().update(
    'tw_flow_v1',
    key,
    encode(FLOW, {
      ...flow,
      firstSeenNs: firstToo ? flow.firstSeenNs - by : flow.firstSeenNs,
      lastSeenNs: flow.lastSeenNs - by,
    }),
  );
}

function counters(map: 'tw_fe_stat_v1' | 'tw_be_stat_v1', id: number) {
  return decodeCounters(lb().lookup(map, u32(id))!);
}

/** The translation records, moved ports included, as terwayd reads them. */
function flowRecords() {
  const flows = NativeBpfMap.openPinned(lb().map(LB_MAP_NAMES.flow));
  try {
    const moved = NativeBpfMap.openPinned(lb().map(LB_MAP_NAMES.movedPorts));
    try {
      return readFlowRecords(flows, moved);
    } finally {
      moved.close();
    }
  } finally {
    flows.close();
  }
}

/** The node's new-flow totals, summed over the CPUs as terwayd reads them. */
function nodeTotals() {
  const map = NativeBpfMap.openPinned(lb().map(LB_MAP_NAMES.nodeStats));
  try {
    return readNodeFlowTotals(map);
  } finally {
    map.close();
  }
}

const reply = (r: AgentReply) => r.reply as EchoReply;

/** Where the programs move a client port that a flow holds towards the same backend. */
const MOVED_PORTS = { min: 61_000, max: 65_535 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function tcpNames(a: Agent, host: string, port: number, n: number): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: n }, (_, i) => a.must('tcpOnce', { host, port, line: `spread ${i}` })),
  );
  return replies.map((r) => reply(r).name);
}

async function udpNames(a: Agent, host: string, port: number, n: number): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: n }, (_, i) => a.must('udpOnce', { host, port, line: `spread ${i}` })),
  );
  return replies.map((r) => reply(r).name);
}

async function buildL2Lab(lab: L2Lab): Promise<void> {
  const n = lab.subnet.split('.')[2];
  const l2Node = netns();
  const gateway = netns();
  ipBatch(l2Node, [
    `link add eni0 address ${mac(0x50, 0xe0)} type veth peer name gw0 address ${mac(0x50, 1)} netns ${gateway.name}`,
    'link set eni0 up',
  ]);
  ipBatch(gateway, ['link set lo up', 'link set gw0 up', `addr add ${lab.subnet}.1/24 dev gw0`]);
  sysctl(gateway, { 'net.ipv4.ip_forward': 0 });
  const pod = (index: number, ip: string): TestNetns => {
    const ns = netns();
    const dev = `l2p${index}`;
    ipBatch(l2Node, [
      lab.kind === 'macvlan'
        ? `link add link eni0 name ${dev} address ${mac(0x51, index)} type macvlan mode bridge`
        : `link add link eni0 name ${dev} type ipvlan mode l2`,
      `link set ${dev} netns ${ns.name}`,
    ]);
    ipBatch(ns, [
      'link set lo up',
      `link set ${dev} name eth0`,
      'link set eth0 up',
      `addr add ${ip}/24 dev eth0`,
      `route add default via ${lab.subnet}.1 dev eth0`,
    ]);
    return ns;
  };
  const clientNs = pod(10, `${lab.subnet}.10`);
  lb().attach(clientNs);
  lab.client = await agent(clientNs, `${lab.kind}-client-${n}`);
  lab.clientNs = clientNs;
  for (const [i, b] of lab.backends.entries()) {
    const backendNs = pod(21 + i, b.ip);
    backendNamespaces.set(b.name, backendNs);
    lab.backendMacs.set(b.name, linkMac(backendNs, 'eth0'));
    const a = await agent(backendNs, b.name);
    await a.must('serve', { name: b.name, host: b.ip, tcp: [TCP_TARGET], udp: [UDP_TARGET] });
    servers.set(b.name, a);
  }
}

beforeAll(async () => {
  const object = buildLbObject();
  pins = new LbPins(object);

  // --- veth topology ---
  node = netns();
  sysctl(node, {
    'net.ipv4.ip_forward': 1,
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
  });
  // The ClusterIP range leads into a sink: its transmit counter must stay at 0.
  ipBatch(node, [
    'link add sink0 type veth peer name sink1',
    'link set sink0 up',
    'link set sink1 up',
    'neigh add 10.255.255.2 lladdr 02:00:00:ff:00:02 dev sink0 nud permanent',
    'route add 10.255.255.2/32 dev sink0 scope link',
    'route add 10.96.0.0/12 via 10.255.255.2 dev sink0',
  ]);
  const clientNs = vethPod(10, CLIENT_IP);
  lb().attach(clientNs);
  client = await agent(clientNs, 'client');
  clientPod = clientNs;
  const gwClientNs = vethPod(11, GW_CLIENT_IP);
  lb().attach(gwClientNs, 'tw_lb_egress_gw');
  gwClient = await agent(gwClientNs, 'gw-client');
  for (const [i, b] of BACKENDS.entries()) {
    const ns = vethPod(21 + i, b.ip);
    backendNamespaces.set(b.name, ns);
    const a = await agent(ns, b.name);
    await a.must('serve', { name: b.name, host: b.ip, tcp: [TCP_TARGET], udp: [UDP_TARGET] });
    servers.set(b.name, a);
  }

  for (const lab of L2_LABS) if (lab.supported) await buildL2Lab(lab);

  // --- Frontends, one (or two) per test so that tests do not disturb each other ---
  setFrontend(VIP, 80, TCP, { id: 1 }, backendsFor(1, TCP_TARGET));
  setFrontend(VIP, 53, UDP, { id: 2 }, backendsFor(4, UDP_TARGET));
  for (const lab of L2_LABS) {
    const tcp = backendsFor(lab.firstBackendId, TCP_TARGET, lab.backends);
    const udp = backendsFor(lab.firstBackendId + 2, UDP_TARGET, lab.backends);
    setFrontend(lab.vip, 80, TCP, { id: lab.frontendId }, tcp);
    setFrontend(lab.vip, 53, UDP, { id: lab.frontendId + 1 }, udp);
  }
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(agents.map((a) => a.stop()));
  for (const ns of namespaces.reverse()) {
    try {
      ns.delete();
    } catch {
      // keep cleaning up the others
    }
  }
  pins?.cleanup();
}, 60_000);

describe('veth pod', () => {
  test('TCP and UDP through the ClusterIP reach a backend, which sees the pod IP; answers come from the ClusterIP', async () => {
    const t = await client.must('tcpOnce', { host: VIP, port: 80, line: 'hello' });
    expect(t).toMatchObject({ remoteAddress: VIP, remotePort: 80 });
    expect(BACKENDS.map((b) => b.name)).toContain(reply(t).name);
    // The backend saw the pod's own address and port: no SNAT on the way there.
    expect(reply(t)).toMatchObject({ peer: CLIENT_IP, peerPort: t.localPort, echo: 'hello' });

    // An unconnected UDP socket reports the datagram's real source: the ClusterIP, not a pod.
    const u = await client.must('udpOnce', { host: VIP, port: 53, line: 'query' });
    expect(u.rinfo).toMatchObject({ address: VIP, port: 53 });
    expect(reply(u)).toMatchObject({ peer: CLIENT_IP, peerPort: u.localPort, echo: 'query' });
    const c = await client.must('udpOnce', { host: VIP, port: 53, line: 'query', connect: true });
    expect(c.rinfo).toMatchObject({ address: VIP, port: 53 });
  }, 30_000);

  test("translated packets carry valid checksums where the node's devices compute them in software", async () => {
    // On the node's veths toward the backends, checksums are not offloaded: a forwarded packet
    // that is still CHECKSUM_PARTIAL gets its L4 checksum computed there, from the pseudo-header
    // sum the egress program left in the field (as a real NIC would), and the backend verifies
    // it. On the veth toward the client, the same: the replies reach the client's ingress
    // program with a full checksum, which its rewrite must keep right for the client's stack to
    // accept them. A wrong sum would drop every translated packet here, where the veths alone
    // never check.
    const hosts = ['h10', ...BACKENDS.map((_, i) => `h${21 + i}`)];
    const txChecksum = (state: 'on' | 'off') => {
      for (const host of hosts) inNs(node, 'ethtool', ['-K', host, 'tx', state]);
    };
    // Frontends whose port is the target port: the rewrite changes the address alone.
    setFrontend(VIP, TCP_TARGET, TCP, { id: 13 }, backendsFor(70, TCP_TARGET));
    setFrontend(VIP, UDP_TARGET, UDP, { id: 14 }, backendsFor(73, UDP_TARGET));
    txChecksum('off');
    try {
      for (const host of hosts) {
        expect(inNs(node, 'ethtool', ['-k', host])).toMatch(/^tx-checksumming: off/m);
      }
      const tcp = await tcpNames(client, VIP, 80, 12);
      expect(tcp).toHaveLength(12);
      const udp = await udpNames(client, VIP, 53, 12);
      expect(udp).toHaveLength(12);
      expect(await tcpNames(client, VIP, TCP_TARGET, 12)).toHaveLength(12);
      expect(await udpNames(client, VIP, UDP_TARGET, 12)).toHaveLength(12);
      const long = await client.must('tcpOnce', { host: VIP, port: 80, line: 'y'.repeat(6000) });
      expect(reply(long)).toMatchObject({ peer: CLIENT_IP, echo: 'y'.repeat(6000) });
      const big = await client.must('udpOnce', {
        host: VIP,
        port: 53,
        line: 'big:100 ' + 'z'.repeat(3000),
      });
      expect(reply(big).size).toBe(3008);
    } finally {
      txChecksum('on');
    }
  }, 30_000);

  test('new flows spread over every backend, while every packet of one flow stays on its backend', async () => {
    expect(new Set(await tcpNames(client, VIP, 80, 30))).toEqual(new Set(['b1', 'b2', 'b3']));
    expect(new Set(await udpNames(client, VIP, 53, 30))).toEqual(new Set(['b1', 'b2', 'b3']));

    const conn = await client.must('tcpOpen', { host: VIP, port: 80 });
    const tcpSeen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      tcpSeen.add(reply(await client.must('tcpSend', { conn: conn.conn, line: `line ${i}` })).name);
    }
    await client.must('tcpClose', { conn: conn.conn });
    expect(tcpSeen.size).toBe(1);

    const sock = await client.must('udpOpen', { host: VIP, port: 53 });
    const udpSeen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      udpSeen.add(
        reply(await client.must('udpSend', { sock: sock.sock, line: `dgram ${i}` })).name,
      );
    }
    await client.must('udpClose', { sock: sock.sock });
    expect(udpSeen.size).toBe(1);
  }, 60_000);

  test('the flow map records the backend each flow reached, its packets, bytes and state', async () => {
    const before = counters('tw_fe_stat_v1', 1);
    const conn = await client.must('tcpOpen', { host: VIP, port: 80 });
    const port = conn.localPort as number;
    const first = reply(await client.must('tcpSend', { conn: conn.conn, line: 'one' }));
    await client.must('tcpSend', { conn: conn.conn, line: 'two' });

    const flow = flowOf(CLIENT_IP, VIP, port, 80, TCP)!;
    expect(flow).toBeDefined();
    expect(flow).toMatchObject({
      frontendId: 1,
      backendAddr: ipOf(first.name),
      backendPort: TCP_TARGET,
      state: FLOW_ESTABLISHED,
    });
    // The replies came from the node's end of the pod's veth: that is the learned next hop.
    expect(nextHopMacOf(flow.nextHop)).toBe(mac(1, 10));
    expect(flow.backendId).toBe(BACKENDS.findIndex((b) => b.name === first.name) + 1);
    // SYN, SYN-ACK, ACK, two requests and their answers (and ACKs): both directions count.
    expect(flow.packets).toBeGreaterThanOrEqual(6n);
    expect(flow.bytes).toBeGreaterThan(0n);
    expect(flow.firstSeenNs).toBeGreaterThan(0n);
    expect(flow.lastSeenNs).toBeGreaterThanOrEqual(flow.firstSeenNs);

    // The reverse entry leads from the backend's reply back to this flow.
    const rev = lb().lookup(
      'tw_rev_v1',
      reverseKey({
        clientAddr: CLIENT_IP,
        backendAddr: ipOf(first.name),
        clientPort: port,
        backendPort: TCP_TARGET,
        proto: TCP,
      }),
    );
    expect(decodeFlowKey(rev!)).toEqual({
      clientAddr: CLIENT_IP,
      frontendAddr: VIP,
      clientPort: port,
      frontendPort: 80,
      proto: TCP,
    });

    await client.must('tcpClose', { conn: conn.conn });
    expect(flowOf(CLIENT_IP, VIP, port, 80, TCP)!.state).toBe(FLOW_CLOSING);

    const after = counters('tw_fe_stat_v1', 1);
    expect(after.flows).toBeGreaterThan(before.flows);
    expect(after.packets - before.packets).toBeGreaterThanOrEqual(flow.packets);
    expect(after.bytes).toBeGreaterThan(before.bytes);
    expect(counters('tw_be_stat_v1', flow.backendId).flows).toBeGreaterThan(0n);

    const udp = await freshUdpSocket();
    const u = await client.must('udpSend', { sock: udp.sock.sock, line: 'udp flow' });
    await client.must('udpClose', { sock: udp.sock.sock });
    const uflow = flowOf(CLIENT_IP, VIP, udp.sock.localPort as number, 53, UDP)!;
    expect(uflow).toMatchObject({
      frontendId: 2,
      backendAddr: ipOf(reply(u).name),
      backendPort: UDP_TARGET,
      state: FLOW_ESTABLISHED,
      packets: 2n,
    });

    // The daemon's reading of the same entries (which frontend ids live flows still count under),
    // on its own clock: now both flows live; 11 s on, past the closing TCP flow's 10 s, only UDP's.
    const mine = [clientFlowKey(port, 80, TCP), udp.key];
    const entries = lb()
      .dump('tw_flow_v1')
      .filter((entry) => mine.some((key) => key.equals(entry.key)));
    expect(entries).toHaveLength(2);
    const dump = dumpOf(entries);
    const now = process.hrtime.bigint();
    const liveAt = async (at: bigint) =>
      [...(await liveFrontendIdsPaused(dump, FLOW.size, at, () => Promise.resolve()))].sort();
    expect(await liveAt(now)).toEqual([1, 2]);
    expect(await liveAt(now + 11n * 10n ** 9n)).toEqual([2]);
  }, 30_000);

  test('a half-closed connection keeps its backend for as long as the other side takes, either way', async () => {
    const key = (port: number) => clientFlowKey(port, 80, TCP);
    const stateOf = (port: number) => flowOf(CLIENT_IP, VIP, port, 80, TCP)?.state;
    const until = async (what: () => boolean) => {
      for (let i = 0; i < 100 && !what(); i++) await sleep(20);
    };
    // What the closing lifetime (10 s) would have ended: the flow as if silent for 11 s.
    const silence = (port: number) => backdateFlow(key(port), 11);

    // The client sends its question and its FIN, and the backend takes its time to answer (a
    // client that shuts down its sending side to mark the end of a request).
    const asker = await client.must('tcpOpen', { host: VIP, port: 80 });
    const askerPort = asker.localPort as number;
    await client.must('tcpShutdown', { conn: asker.conn, line: 'late:2500' });
    await until(() => stateOf(askerPort) === FLOW_CLIENT_FIN);
    expect(stateOf(askerPort)).toBe(FLOW_CLIENT_FIN);
    silence(askerPort);
    const answer = reply(await client.must('tcpRead', { conn: asker.conn, timeoutMs: 6000 }));
    expect(answer).toMatchObject({ echo: 'late:2500', peer: CLIENT_IP, peerPort: askerPort });
    expect(flowOf(CLIENT_IP, VIP, askerPort, 80, TCP)!.backendAddr).toBe(ipOf(answer.name));
    // The backend's FIN after its answer: both sides have closed.
    await until(() => stateOf(askerPort) === FLOW_CLOSING);
    expect(stateOf(askerPort)).toBe(FLOW_CLOSING);
    await client.must('tcpClose', { conn: asker.conn });

    // The other way round: the backend answers and closes its side, and the client, after as
    // long a silence, still sends on the same connection to the same backend.
    const talker = await client.must('tcpOpen', { host: VIP, port: 80, allowHalfOpen: true });
    const talkerPort = talker.localPort as number;
    const bye = reply(await client.must('tcpSend', { conn: talker.conn, line: 'bye' }));
    await until(() => stateOf(talkerPort) === FLOW_BACKEND_FIN);
    expect(stateOf(talkerPort)).toBe(FLOW_BACKEND_FIN);
    silence(talkerPort);
    const backend = servers.get(bye.name)!;
    await backend.must('received', { clear: true });
    await client.must('tcpWrite', { conn: talker.conn, line: 'after the silence' });
    type Heard = { line: string; peer: string; peerPort: number };
    const heardAfterSilence = async () =>
      ((await backend.must('received')).received as Heard[]).filter(
        (r) => r.line === 'after the silence',
      );
    let heard = await heardAfterSilence();
    for (let i = 0; i < 100 && heard.length === 0; i++) {
      await sleep(20);
      heard = await heardAfterSilence();
    }
    expect(heard).toEqual([expect.objectContaining({ peer: CLIENT_IP, peerPort: talkerPort })]);
    expect(stateOf(talkerPort)).toBe(FLOW_BACKEND_FIN);
    await client.must('tcpClose', { conn: talker.conn });
    expect(stateOf(talkerPort)).toBe(FLOW_CLOSING);
  }, 30_000);

  test('a UDP request and its answer live 30 s; a flow that goes on past its first 2 s is a stream, and lives 60 s', async () => {
    const { sock, key } = await freshUdpSocket();
    const read = () => decodeFlow(lb().lookup('tw_flow_v1', key)!);
    // The flow as if its packets had all come `seconds` earlier.
    const earlier = (seconds: number) => {
      backdateFlow(key, seconds, true);
      return read();
    };
    const ask = async (line: string) => {
      const answer = reply(await client.must('udpSend', { sock: sock.sock, line }));
      expect(read().backendAddr).toBe(ipOf(answer.name));
      return read();
    };
    try {
      // A query and its answer: established, not a stream.
      expect(await ask('q1')).toMatchObject({ state: FLOW_ESTABLISHED, packets: 2n });
      // Silent 31 s: past the 30 s, so the next query starts the flow over.
      const ended = earlier(31);
      const restarted = await ask('q2');
      expect(restarted).toMatchObject({ state: FLOW_ESTABLISHED, packets: 2n });
      expect(restarted.firstSeenNs).toBeGreaterThan(ended.firstSeenNs);
      // Started 3 s ago and answered: the next datagram makes it a stream, and continues it.
      const young = earlier(3);
      const stream = await ask('q3');
      expect(stream).toMatchObject({ state: FLOW_STREAM, packets: 4n });
      expect(stream.firstSeenNs).toBe(young.firstSeenNs);
      // A stream silent 45 s still lives (60 s); one silent 61 s starts over.
      const quiet = earlier(45);
      expect(await ask('q4')).toMatchObject({
        state: FLOW_STREAM,
        packets: 6n,
        firstSeenNs: quiet.firstSeenNs,
      });
      earlier(61);
      expect(await ask('q5')).toMatchObject({ state: FLOW_ESTABLISHED, packets: 2n });
    } finally {
      await client.call('udpClose', { sock: sock.sock });
    }
  }, 30_000);

  test('a draining backend keeps its established connection but gets no new flow', async () => {
    const vip = '10.96.0.12';
    const bes = backendsFor(11, TCP_TARGET);
    // Only b3 at first, so the long connection lands on it.
    setFrontend(vip, 80, TCP, { id: 3 }, [bes[2]!]);
    const conn = await client.must('tcpOpen', { host: vip, port: 80 });
    expect(reply(await client.must('tcpSend', { conn: conn.conn, line: 'before' })).name).toBe(
      'b3',
    );

    // b3 drains: out of the slots, still in tw_be_v1.
    setFrontend(vip, 80, TCP, { id: 3 }, [bes[0]!, bes[1]!]);
    expect(lb().lookup('tw_be_v1', u32(13))).toEqual(backendValue(ipOf('b3'), TCP_TARGET, TCP));
    expect(new Set(await tcpNames(client, vip, 80, 20))).toEqual(new Set(['b1', 'b2']));

    for (let i = 0; i < 5; i++) {
      expect(
        reply(await client.must('tcpSend', { conn: conn.conn, line: `after ${i}` })).name,
      ).toBe('b3');
    }
    await client.must('tcpClose', { conn: conn.conn });
  }, 60_000);

  test('deleting a backend ends its flows: TCP is reset, UDP moves to another backend', async () => {
    const vip = '10.96.0.13';
    const tcpBes = backendsFor(21, TCP_TARGET);
    const udpBes = backendsFor(24, UDP_TARGET);
    setFrontend(vip, 80, TCP, { id: 4 }, [tcpBes[0]!]);
    setFrontend(vip, 53, UDP, { id: 5 }, [udpBes[0]!]);

    const conn = await client.must('tcpOpen', { host: vip, port: 80 });
    expect(reply(await client.must('tcpSend', { conn: conn.conn, line: 'to b1' })).name).toBe('b1');
    const sock = await client.must('udpOpen', { host: vip, port: 53 });
    expect(reply(await client.must('udpSend', { sock: sock.sock, line: 'to b1' })).name).toBe('b1');

    // The daemon removes b1 for good: slots first, then the backend entry.
    setFrontend(vip, 80, TCP, { id: 4 }, [tcpBes[1]!, tcpBes[2]!]);
    setFrontend(vip, 53, UDP, { id: 5 }, [udpBes[1]!, udpBes[2]!]);
    lb().update('tw_be_v1', u32(21), NO_BACKEND);
    lb().update('tw_be_v1', u32(24), NO_BACKEND);

    // The connection's next segment goes to a new backend, which knows no such connection.
    const lost = await client.call('tcpSend', {
      conn: conn.conn,
      line: 'lost line',
      timeoutMs: 2000,
    });
    expect(lost).toMatchObject({ ok: false, code: 'ECONNRESET' });
    const b1 = await servers.get('b1')!.must('received');
    expect((b1.received as Array<{ line: string }>).map((r) => r.line)).not.toContain('lost line');
    const moved = flowOf(CLIENT_IP, vip, conn.localPort as number, 80, TCP)!;
    expect([22, 23]).toContain(moved.backendId);
    expect(moved.state).toBe(FLOW_CLOSING);
    await client.must('tcpClose', { conn: conn.conn });

    const again = await client.must('udpSend', { sock: sock.sock, line: 'after delete' });
    expect(['b2', 'b3']).toContain(reply(again).name);
    expect(again.rinfo).toMatchObject({ address: vip, port: 53 });
    await client.must('udpClose', { sock: sock.sock });
  }, 30_000);

  test('a frontend without ready backends refuses at once: TCP reset, UDP port unreachable', async () => {
    const vip = '10.96.0.14';
    setFrontend(vip, 80, TCP, { id: 6, backendCount: 0 }, []);
    setFrontend(vip, 53, UDP, { id: 7, backendCount: 0 }, []);

    const t = await client.call('tcpOpen', { host: vip, port: 80, timeoutMs: 3000 });
    expect(t).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(t.ms).toBeLessThan(500); // not a SYN retransmit (1 s) away
    const u = await client.call('udpOnce', { host: vip, port: 53, line: 'x', connect: true });
    expect(u).toMatchObject({ ok: false, code: 'ECONNREFUSED' });

    expect(counters('tw_fe_stat_v1', 6).rejected).toBeGreaterThanOrEqual(1n);
    expect(counters('tw_fe_stat_v1', 7).rejected).toBeGreaterThanOrEqual(1n);
    expect(counters('tw_fe_stat_v1', 6).flows).toBe(0n);
  }, 30_000);

  test('sessionAffinity keeps a client on one backend, never on a draining one, until it expires', async () => {
    const vip = '10.96.0.15';
    const bes = backendsFor(31, TCP_TARGET);
    setFrontend(vip, 80, TCP, { id: 8, affinityTimeoutS: 1 }, bes);

    const once = async () =>
      reply(await client.must('tcpOnce', { host: vip, port: 80, line: 'sticky' })).name;
    const first = await once();
    for (let i = 0; i < 12; i++) expect(await once()).toBe(first);
    const aff = decodeAffinity(lb().lookup('tw_aff_v1', affinityKey(CLIENT_IP, 8))!);
    expect(aff.backendId).toBe(31 + BACKENDS.findIndex((b) => b.name === first));

    // The sticky backend drains: the client moves, and sticks to its new backend.
    const others = bes.filter((b) => b.ip !== ipOf(first));
    setFrontend(vip, 80, TCP, { id: 8, affinityTimeoutS: 1 }, others);
    const second = await once();
    expect(second).not.toBe(first);
    for (let i = 0; i < 5; i++) expect(await once()).toBe(second);

    // Back to three backends; after more than the timeout without a new connection the choice is
    // random again, so some later connection lands elsewhere ((1/3)^12 odds against).
    setFrontend(vip, 80, TCP, { id: 8, affinityTimeoutS: 1 }, bes);
    let previous = await once();
    let moved = false;
    for (let i = 0; i < 12 && !moved; i++) {
      await sleep(1300);
      const next = await once();
      moved = next !== previous;
      previous = next;
    }
    expect(moved).toBe(true);
  }, 60_000);

  test("a backend's ICMP errors and resets reach the client as coming from the frontend", async () => {
    const vip = '10.96.0.16';
    // Nothing listens on 5999 at b1: its kernel answers UDP with ICMP port unreachable (quoting
    // the translated header, which the program must translate back) and TCP with a RST.
    setFrontend(vip, 53, UDP, { id: 9 }, [{ id: 41, ip: ipOf('b1'), port: 5999 }]);
    setFrontend(vip, 80, TCP, { id: 10 }, [{ id: 42, ip: ipOf('b1'), port: 5999 }]);
    const u = await client.call('udpOnce', { host: vip, port: 53, line: 'x', connect: true });
    expect(u).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    const t = await client.call('tcpOpen', { host: vip, port: 80 });
    expect(t).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(counters('tw_fe_stat_v1', 10).rejected).toBe(0n); // refused by the backend, not by us
  }, 30_000);

  test("the client's ICMP error about a late reply reaches the backend, quoting the backend", async () => {
    const vip = '10.96.0.19';
    setFrontend(vip, 53, UDP, { id: 15 }, [{ id: 46, ip: ipOf('b1'), port: UDP_TARGET }]);
    const sink = linkTxPackets(node, 'sink0');
    await lateReplyError(client, CLIENT_IP, vip, BACKENDS[0]!);
    expect(linkTxPackets(node, 'sink0')).toBe(sink);
  }, 30_000);

  test("the client's ICMP error about a backend's TCP segment reaches the backend, quoting the backend", async () => {
    const vip = '10.96.0.23';
    setFrontend(vip, 80, TCP, { id: 17 }, [{ id: 48, ip: ipOf('b3'), port: TCP_TARGET }]);
    const sink = linkTxPackets(node, 'sink0');
    await refusedSegmentError(client, CLIENT_IP, vip, BACKENDS[2]!);
    expect(linkTxPackets(node, 'sink0')).toBe(sink);
  }, 30_000);

  test('ICMP errors about a direct connection moved off a held port quote the port each side knows', async () => {
    const vip = '10.96.0.45';
    const b3 = BACKENDS[2]!;
    const b3Ns = backendNamespaces.get(b3.name)!;
    setFrontend(vip, 80, TCP, { id: 43 }, [{ id: 86, ip: b3.ip, port: TCP_TARGET }]);
    // A ClusterIP connection holds the port towards b3; a direct one from the same port is moved.
    const localPort = 31_300;
    const held = await client.must('tcpOpen', { host: vip, port: 80, localPort });
    const opened = await client.must('tcpOpen', { host: b3.ip, port: TCP_TARGET, localPort });
    const direct = opened['conn'] as number;
    const moved = reply(await client.must('tcpSend', { conn: direct, line: 'hello' })).peerPort;
    expect(moved).toBeGreaterThanOrEqual(MOVED_PORTS.min);

    // b3 refuses the client's next data segment: its ICMP error quotes the segment as it arrived,
    // from the moved port, and must reach the direct connection's socket quoting its own port
    // (quoting the moved port, the client's kernel would find no socket and count it unmatched).
    const fromClient = ['INPUT', '-p', 'tcp', '-s', CLIENT_IP, '--dport', String(TCP_TARGET)];
    const refuse = [
      '--tcp-flags',
      'PSH',
      'PSH',
      '-j',
      'REJECT',
      '--reject-with',
      'icmp-port-unreachable',
    ];
    const clientBefore = icmpReceived(clientPod);
    const clientWindowMisses = outOfWindowIcmps(clientPod);
    inNs(b3Ns, 'iptables', ['-A', ...fromClient, ...refuse]);
    try {
      await client.must('tcpWrite', { conn: direct, line: 'refused by b3' });
      const deadline = Date.now() + 3_000;
      while (icmpReceived(clientPod).destUnreachs === clientBefore.destUnreachs) {
        if (Date.now() > deadline) throw new Error('no ICMP error reached the client');
        await sleep(10);
      }
    } finally {
      inNs(b3Ns, 'iptables', ['-D', ...fromClient, ...refuse]);
    }
    expect(icmpReceived(clientPod).unmatched).toBe(clientBefore.unmatched);
    expect(outOfWindowIcmps(clientPod)).toBe(clientWindowMisses);
    // The connection took the error as a soft one: its retransmission, let through, is answered.
    const late = await client.must('tcpRead', { conn: direct, timeoutMs: 5_000 });
    expect(reply(late)).toMatchObject({ echo: 'refused by b3', peerPort: moved });

    // The other way: the client refuses b3's next answer; its error quotes b3's segment as the
    // client saw it (to its own port) and must reach b3 quoting the moved port b3 sent to.
    const fromB3 = ['INPUT', '-p', 'tcp', '-s', b3.ip, '--sport', String(TCP_TARGET)];
    const b3Before = icmpReceived(b3Ns);
    const b3WindowMisses = outOfWindowIcmps(b3Ns);
    const capture = await startCapture(b3Ns.path, 'icmp', { verbose: true });
    let packets: string[] = [];
    inNs(clientPod, 'iptables', ['-A', ...fromB3, ...refuse]);
    try {
      const answer = client.call('tcpSend', {
        conn: direct,
        line: 'answer refused',
        timeoutMs: 3_000,
      });
      await errorArrived(b3.name, b3Ns, b3Before.destUnreachs);
      await client.must('tcpClose', { conn: direct, reset: true });
      expect(await answer).toMatchObject({ ok: false });
    } finally {
      inNs(clientPod, 'iptables', ['-D', ...fromB3, ...refuse]);
      packets = (await capture.stop()).packets;
    }
    // The quote, as b3's kernel reads it: b3's own segment, to the moved port (each error, if b3
    // retransmitted before the reset).
    expect(packets.length).toBeGreaterThan(0);
    for (const packet of packets) {
      expect(packet).toContain(`${b3.ip}.${TCP_TARGET} > ${CLIENT_IP}.${moved}: `);
    }
    expect(icmpReceived(b3Ns).unmatched).toBe(b3Before.unmatched);
    expect(outOfWindowIcmps(b3Ns)).toBe(b3WindowMisses);
    await client.must('tcpClose', { conn: held['conn'] as number, reset: true });
  }, 30_000);

  test('a port held towards a backend by an open flow is never given to a second flow: another backend, or a moved port', async () => {
    // Two Services with the same backend b1 (one port for TCP, one for UDP), and a third Service
    // with b1 and b2.
    const be = (id: number, name: string, port: number) => ({ id, ip: ipOf(name), port });
    setFrontend('10.96.0.40', 80, TCP, { id: 35 }, [be(80, 'b1', TCP_TARGET)]);
    setFrontend('10.96.0.41', 80, TCP, { id: 36 }, [be(80, 'b1', TCP_TARGET)]);
    setFrontend('10.96.0.42', 80, TCP, { id: 37 }, [
      be(80, 'b1', TCP_TARGET),
      be(81, 'b2', TCP_TARGET),
    ]);
    setFrontend('10.96.0.40', 53, UDP, { id: 38 }, [be(82, 'b1', UDP_TARGET)]);
    setFrontend('10.96.0.41', 53, UDP, { id: 39 }, [be(82, 'b1', UDP_TARGET)]);
    setFrontend('10.96.0.42', 53, UDP, { id: 40 }, [
      be(82, 'b1', UDP_TARGET),
      be(83, 'b2', UDP_TARGET),
    ]);
    // Two Services of b1's port 5999, where nothing listens: b1's kernel answers port unreachable.
    setFrontend('10.96.0.43', 53, UDP, { id: 41 }, [be(84, 'b1', 5999)]);
    setFrontend('10.96.0.44', 53, UDP, { id: 42 }, [be(84, 'b1', 5999)]);
    const clash = (kind: ClashKind, first: string, second: string, localPort: number) =>
      portClash(clientPod, kind, first, second, localPort);
    /** The port on the wire of the veth client's flow from `clientPort` to `vip`, per its record. */
    const movedPortOf = (vip: string, port: number, proto: number, clientPort: number) => {
      const record = flowRecords().find(
        (flow) =>
          flow.client.port === clientPort &&
          flow.frontend.ip === vip &&
          flow.frontend.port === port &&
          flow.protocol === (proto === TCP ? 'TCP' : 'UDP'),
      );
      return record?.movedClientPort;
    };
    /** The record of the direct flow to b1 from `clientPort`: b1 as its frontend, no ids, moved. */
    const expectDirectRecord = (clientPort: number, proto: number, movedPort: number) => {
      const target = proto === TCP ? TCP_TARGET : UDP_TARGET;
      const record = flowRecords().find(
        (flow) =>
          flow.client.port === clientPort &&
          flow.direct &&
          flow.protocol === (proto === TCP ? 'TCP' : 'UDP'),
      );
      expect(record).toMatchObject({
        frontend: { ip: ipOf('b1'), port: target },
        backend: { ip: ipOf('b1'), port: target, id: 0 },
        frontendId: 0,
        movedClientPort: movedPort,
      });
    };
    const ports = Array.from({ length: 11 }, (_, i) => 31001 + i);
    const before = nodeTotals();

    // The only backend of the second Service is held from this port: the second connection leaves
    // from a moved port (what b1 saw), the client's socket none the wiser, and the first goes on
    // (on the wire the two would otherwise have been one 4-tuple).
    const tcpOnly = clash('tcp', '10.96.0.40:80', '10.96.0.41:80', ports[0]!);
    expect(tcpOnly.first.answer).toMatchObject({ name: 'b1', peerPort: ports[0] });
    expect(tcpOnly.second.answer).toMatchObject({ name: 'b1', peer: CLIENT_IP });
    const movedTcp = tcpOnly.second.answer!.peerPort;
    expect(movedTcp).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(movedTcp).toBeLessThanOrEqual(MOVED_PORTS.max);
    expect(tcpOnly.firstAgain.answer).toMatchObject({ name: 'b1', echo: 'first again' });
    // The record names the port the backend saw; the first flow's was not moved.
    expect(movedPortOf('10.96.0.41', 80, TCP, ports[0]!)).toBe(movedTcp);
    expect(movedPortOf('10.96.0.40', 80, TCP, ports[0]!)).toBeUndefined();
    expect(nodeTotals().moved - before.moved).toBe(1n);

    // A direct connection to b1 from the port a ClusterIP flow to b1 holds: it leaves from a moved
    // port too, tracked as a direct flow, and the ClusterIP connection goes on.
    const direct = clash('tcp-reset', '10.96.0.40:80', `${ipOf('b1')}:${TCP_TARGET}`, ports[1]!);
    expect(direct.first.answer).toMatchObject({ name: 'b1', peerPort: ports[1] });
    expect(direct.second.answer).toMatchObject({ name: 'b1', peer: CLIENT_IP, echo: 'second' });
    const movedDirect = direct.second.answer!.peerPort;
    expect(movedDirect).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(movedDirect).toBeLessThanOrEqual(MOVED_PORTS.max);
    expect(direct.firstAgain.answer).toMatchObject({ name: 'b1', echo: 'first again' });
    expectDirectRecord(ports[1]!, TCP, movedDirect);
    expect(nodeTotals().movedDirect - before.movedDirect).toBe(1n);
    expect(nodeTotals().clashed - before.clashed).toBe(0n);
    // Once the ClusterIP connection has ended (reset: no TIME_WAIT holds the port), a direct
    // connection from that port is its own again: not moved, and none of its packets take the
    // ended direct flow's moved port.
    const own = clash('tcp', `${ipOf('b1')}:${TCP_TARGET}`, '10.96.0.42:80', ports[1]!);
    expect(own.first.answer).toMatchObject({ name: 'b1', peerPort: ports[1] });
    expect(own.firstAgain.answer).toMatchObject({ name: 'b1', peerPort: ports[1] });
    expect(nodeTotals().movedDirect - before.movedDirect).toBe(1n);

    // The mirror case: a direct connection to b1 first, then a ClusterIP connection from its port
    // to a Service whose only backend is b1: moved, and the direct connection goes on.
    const directFirst = clash('tcp', `${ipOf('b1')}:${TCP_TARGET}`, '10.96.0.40:80', ports[8]!);
    expect(directFirst.first.answer).toMatchObject({ name: 'b1', peerPort: ports[8] });
    expect(directFirst.second.answer).toMatchObject({ name: 'b1', peer: CLIENT_IP });
    expect(directFirst.second.answer!.peerPort).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(directFirst.firstAgain.answer).toMatchObject({ name: 'b1', echo: 'first again' });
    expect(nodeTotals().moved - before.moved).toBe(2n);
    // With b2 to draw instead, the ClusterIP connection takes it, from its own port.
    for (const port of ports.slice(9, 11)) {
      const drawn = clash('tcp', `${ipOf('b1')}:${TCP_TARGET}`, '10.96.0.42:80', port);
      expect(drawn.second.answer).toMatchObject({ name: 'b2', peerPort: port });
      expect(drawn.firstAgain.answer).toMatchObject({ name: 'b1', echo: 'first again' });
    }

    // With another backend to draw, the second flow takes it, whatever it drew first: b2, every time.
    for (const port of ports.slice(2, 6)) {
      const drawn = clash('tcp', '10.96.0.40:80', '10.96.0.42:80', port);
      expect(drawn.second.answer).toMatchObject({ name: 'b2', peer: CLIENT_IP, peerPort: port });
      expect(drawn.firstAgain.answer).toMatchObject({ name: 'b1', echo: 'first again' });
    }
    expect(nodeTotals().moved - before.moved).toBe(2n);

    // UDP, one socket asking two Services from one port (a resolver with two nameservers): each
    // answer comes from the address asked, and the second Service's comes from b2.
    const resolver = clash('udp', '10.96.0.40:53', '10.96.0.42:53', ports[6]!);
    expect(resolver.first).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.40', 53] });
    expect(resolver.second).toMatchObject({ answer: { name: 'b2' }, from: ['10.96.0.42', 53] });
    expect(resolver.firstAgain).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.40', 53] });
    // With b1 alone behind both, the second leaves from a moved port, and each answer still comes
    // from the address asked, to the one socket.
    const alone = clash('udp', '10.96.0.40:53', '10.96.0.41:53', ports[7]!);
    expect(alone.first).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.40', 53] });
    expect(alone.second).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.41', 53] });
    const movedUdp = alone.second.answer!.peerPort;
    expect(movedUdp).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(alone.first.answer!.peerPort).toBe(ports[7]);
    expect(alone.firstAgain).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.40', 53] });
    expect(movedPortOf('10.96.0.41', 53, UDP, ports[7]!)).toBe(movedUdp);
    expect(nodeTotals().moved - before.moved).toBe(3n);

    // UDP sent straight to b1 from the port a ClusterIP flow to b1 holds (a resolver asking a
    // Service and one of its pods from one socket): the direct datagrams leave from a moved port,
    // tracked as a direct flow, so b1's answer to them is not taken for the Service's. Each answer
    // comes from the address asked, and the Service's exchange goes on from the socket's port.
    const udpDirectPort = ports[10]! + 300;
    const udpDirect = clash('udp', '10.96.0.40:53', `${ipOf('b1')}:${UDP_TARGET}`, udpDirectPort);
    expect(udpDirect.first).toMatchObject({
      answer: { name: 'b1', peerPort: udpDirectPort },
      from: ['10.96.0.40', 53],
    });
    expect(udpDirect.second).toMatchObject({
      answer: { name: 'b1', echo: 'second' },
      from: [ipOf('b1'), UDP_TARGET],
    });
    const movedUdpDirect = udpDirect.second.answer!.peerPort;
    expect(movedUdpDirect).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(movedUdpDirect).toBeLessThanOrEqual(MOVED_PORTS.max);
    expect(udpDirect.firstAgain).toMatchObject({
      answer: { name: 'b1', peerPort: udpDirectPort },
      from: ['10.96.0.40', 53],
    });
    expectDirectRecord(udpDirectPort, UDP, movedUdpDirect);
    expect(nodeTotals().movedDirect - before.movedDirect).toBe(2n);
    // The mirror case: straight to b1 first (untracked: nothing holds the port yet), then the
    // Service takes the 4-tuple; the next datagram straight to b1 finds it held and is moved. Each
    // answer still comes from the address asked.
    const udpDirectFirstPort = ports[10]! + 400;
    const udpDirectFirst = clash(
      'udp',
      `${ipOf('b1')}:${UDP_TARGET}`,
      '10.96.0.40:53',
      udpDirectFirstPort,
    );
    expect(udpDirectFirst.first).toMatchObject({
      answer: { name: 'b1', peerPort: udpDirectFirstPort },
      from: [ipOf('b1'), UDP_TARGET],
    });
    expect(udpDirectFirst.second).toMatchObject({
      answer: { name: 'b1', peerPort: udpDirectFirstPort },
      from: ['10.96.0.40', 53],
    });
    expect(udpDirectFirst.firstAgain).toMatchObject({
      answer: { name: 'b1', echo: 'first again' },
      from: [ipOf('b1'), UDP_TARGET],
    });
    expect(udpDirectFirst.firstAgain.answer!.peerPort).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(nodeTotals().movedDirect - before.movedDirect).toBe(3n);

    // An ICMP error about a moved flow's datagram quotes the moved port: the programs give the
    // quote the socket's own port back, so the error reaches the socket (without, it would find
    // no socket and the wait would time out).
    const unreachable = clash('udp-recverr', '10.96.0.43:53', '10.96.0.44:53', ports[10]! + 100);
    expect(unreachable.first).toEqual({ error: 'ConnectionRefusedError' });
    expect(unreachable.second).toEqual({ error: 'ConnectionRefusedError' });
    expect(nodeTotals().moved - before.moved).toBe(4n);

    // The other way: the client's ICMP error about a late answer to a moved flow (its socket gone)
    // goes to b1 quoting b1's own datagram, to the moved port, which is what b1 sent to.
    const b1 = BACKENDS.find((backend) => backend.name === 'b1')!;
    const b1Ns = backendNamespaces.get('b1')!;
    const icmpBefore = icmpReceived(b1Ns);
    const capture = await startCapture(b1Ns.path, 'icmp', { verbose: true });
    let packets: string[] = [];
    let late: ReturnType<typeof clash>;
    const latePort = ports[10]! + 200;
    try {
      late = clash('udp-late', '10.96.0.40:53', '10.96.0.41:53', latePort);
      await errorArrived('b1', b1Ns, icmpBefore.destUnreachs);
    } finally {
      packets = (await capture.stop()).packets;
    }
    expect(late.first).toMatchObject({ answer: { name: 'b1' }, from: ['10.96.0.40', 53] });
    expect(late.second).toEqual({ error: 'TimeoutError' });
    const movedLate = movedPortOf('10.96.0.41', 53, UDP, latePort)!;
    expect(movedLate).toBeGreaterThanOrEqual(MOVED_PORTS.min);
    expect(packets).toHaveLength(1);
    expectErrorQuotingBackend(packets, icmpBefore, b1Ns, {
      clientIp: CLIENT_IP,
      vip: '10.96.0.41',
      backend: b1,
      quoted: 'udp',
      port: UDP_TARGET,
    });
    expect(packets[0]).toContain(`${b1.ip}.${UDP_TARGET} > ${CLIENT_IP}.${movedLate}: `);
    expect(nodeTotals().moved - before.moved).toBe(5n);
    expect(nodeTotals().clashed - before.clashed).toBe(0n);
  }, 60_000);

  test("the node's totals count each new flow once: balanced, or refused for want of a backend", async () => {
    setFrontend('10.96.0.24', 80, TCP, { id: 18 }, [{ id: 49, ip: ipOf('b1'), port: TCP_TARGET }]);
    setFrontend('10.96.0.25', 80, TCP, { id: 19, backendCount: 0 }, []);
    const before = nodeTotals();
    for (const line of ['first', 'second']) {
      await client.must('tcpOnce', { host: '10.96.0.24', port: 80, line });
    }
    const refused = await client.call('tcpOpen', { host: '10.96.0.25', port: 80 });
    expect(refused).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    const after = nodeTotals();
    // Every packet of the two connections went through the programs; only their first counts.
    expect(after.balanced - before.balanced).toBe(2n);
    expect(after.refused - before.refused).toBe(1n);
    expect(counters('tw_fe_stat_v1', 18).flows).toBe(2n);
    expect(counters('tw_fe_stat_v1', 19).rejected).toBe(1n);
  }, 30_000);

  test('a connection moved off the port its ended flow had leaves alone the connection to another Service that took the port since', async () => {
    // Two Services of b1 alone. A connection to the first ends; one to the second takes the port
    // towards b1; the client then connects to the first again from that port, finds it held, and
    // leaves from a moved one. Its old flow's reverse entry is the second connection's by then.
    const b1 = { id: 80, ip: ipOf('b1'), port: TCP_TARGET };
    setFrontend('10.96.0.46', 80, TCP, { id: 44 }, [b1]);
    setFrontend('10.96.0.47', 80, TCP, { id: 45 }, [b1]);
    const port = 31050;
    const result = portClash(clientPod, 'tcp-reopen', '10.96.0.46:80', '10.96.0.47:80', port);
    expect(result.first.answer).toMatchObject({ name: 'b1', peerPort: port });
    expect(result.second.answer).toMatchObject({ name: 'b1', peerPort: port });
    expect(result.firstAgain.answer?.name).toBe('b1');
    expect(result.firstAgain.answer?.peerPort).not.toBe(port);
    // The second connection still gets its answers: b1's replies are still translated for it.
    expect(result.secondAgain).toMatchObject({ answer: { name: 'b1', peerPort: port } });
  });

  test('trap 3: a direct connection from the port of a finished ClusterIP flow is not rewritten', async () => {
    const localPort = 20000 + Math.floor(Math.random() * 10000);
    const viaVip = await client.must('tcpOnce', {
      host: VIP,
      port: 80,
      line: 'via vip',
      localPort,
    });
    const backend = ipOf(reply(viaVip).name);
    const rk = reverseKey({
      clientAddr: CLIENT_IP,
      backendAddr: backend,
      clientPort: localPort,
      backendPort: TCP_TARGET,
      proto: TCP,
    });
    // The ClusterIP flow is closing, and its reverse entry is still there.
    expect(flowOf(CLIENT_IP, VIP, localPort, 80, TCP)!.state).toBe(FLOW_CLOSING);
    expect(lb().lookup('tw_rev_v1', rk)).toBeDefined();

    // Same client port, straight to the same backend: the SYN-ACK must not become the VIP's.
    const direct = await client.call('tcpOnce', {
      host: backend,
      port: TCP_TARGET,
      line: 'direct',
      localPort,
    });
    expect(direct).toMatchObject({ ok: true, remoteAddress: backend, remotePort: TCP_TARGET });
    expect(reply(direct)).toMatchObject({ peer: CLIENT_IP, peerPort: localPort, echo: 'direct' });
    expect(lb().lookup('tw_rev_v1', rk)).toBeUndefined();

    // A direct SYN must clear the stale entry itself, not only have its SYN-ACK spared: here the
    // backend answers with a RST (nothing listens on 5999), which would otherwise be rewritten to
    // come from the ClusterIP, so the direct connect would hang instead of being refused.
    setFrontend('10.96.0.17', 80, TCP, { id: 11 }, [{ id: 43, ip: ipOf('b2'), port: 5999 }]);
    const port2 = localPort + 1;
    const refused = await client.call('tcpOpen', {
      host: '10.96.0.17',
      port: 80,
      localPort: port2,
    });
    expect(refused).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    const rk2 = reverseKey({
      clientAddr: CLIENT_IP,
      backendAddr: ipOf('b2'),
      clientPort: port2,
      backendPort: 5999,
      proto: TCP,
    });
    expect(lb().lookup('tw_rev_v1', rk2)).toBeDefined();
    const directRefused = await client.call('tcpOpen', {
      host: ipOf('b2'),
      port: 5999,
      localPort: port2,
      timeoutMs: 2000,
    });
    expect(directRefused).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
    expect(lb().lookup('tw_rev_v1', rk2)).toBeUndefined();
  }, 30_000);

  test("a client port's next connection restarts its flow record, or replaces it for another backend", async () => {
    const vip = '10.96.0.18';
    setFrontend(vip, 80, TCP, { id: 12 }, [{ id: 44, ip: ipOf('b1'), port: TCP_TARGET }]);
    const localPort = 20000 + Math.floor(Math.random() * 10000);
    const once = async (line: string) => {
      const c = await client.must('tcpOpen', { host: vip, port: 80, localPort });
      const r = reply(await client.must('tcpSend', { conn: c.conn, line }));
      await client.must('tcpClose', { conn: c.conn, reset: true });
      return r;
    };
    const revOf = (backend: string) =>
      lb().lookup(
        'tw_rev_v1',
        reverseKey({
          clientAddr: CLIENT_IP,
          backendAddr: ipOf(backend),
          clientPort: localPort,
          backendPort: TCP_TARGET,
          proto: TCP,
        }),
      );

    const totals = nodeTotals();
    const added = () => {
      const now = nodeTotals();
      return { balanced: now.balanced - totals.balanced, reused: now.reused - totals.reused };
    };
    expect((await once('first')).name).toBe('b1');
    expect(added()).toEqual({ balanced: 1n, reused: 0n });
    const first = flowOf(CLIENT_IP, vip, localPort, 80, TCP)!;
    expect(first).toMatchObject({ backendId: 44, state: FLOW_CLOSING });
    await sleep(50); // the coarse clock ticks every few ms

    // Same port, same backend: the record starts over (first seen, packets), not added to.
    expect((await once('second')).name).toBe('b1');
    const second = flowOf(CLIENT_IP, vip, localPort, 80, TCP)!;
    expect(second).toMatchObject({ frontendId: 12, backendId: 44, state: FLOW_CLOSING });
    expect(second.firstSeenNs).toBeGreaterThan(first.lastSeenNs);
    expect(second.packets).toBeLessThan(first.packets * 2n);
    expect(decodeFlowKey(revOf('b1')!)).toMatchObject({ frontendAddr: vip, clientPort: localPort });
    expect(counters('tw_fe_stat_v1', 12).flows).toBe(2n);
    // It took over the entry: the collector does not count it as room taken in the table.
    expect(added()).toEqual({ balanced: 2n, reused: 1n });

    // The same port once b1 no longer takes new flows: b2, and b1's reverse entry is gone.
    setFrontend(vip, 80, TCP, { id: 12 }, [{ id: 45, ip: ipOf('b2'), port: TCP_TARGET }]);
    expect((await once('third')).name).toBe('b2');
    expect(flowOf(CLIENT_IP, vip, localPort, 80, TCP)).toMatchObject({ backendId: 45 });
    expect(revOf('b1')).toBeUndefined();
    expect(decodeFlowKey(revOf('b2')!)).toMatchObject({ frontendAddr: vip, clientPort: localPort });
    expect(counters('tw_fe_stat_v1', 12).flows).toBe(3n);
    // Replaced, not added: one entry for the key all along.
    expect(added()).toEqual({ balanced: 3n, reused: 2n });
  }, 30_000);

  test('non-service traffic passes untouched and leaves no flow entry', async () => {
    const t = await client.must('tcpOnce', { host: ipOf('b2'), port: TCP_TARGET, line: 'plain' });
    expect(t).toMatchObject({ remoteAddress: ipOf('b2') });
    expect(reply(t)).toMatchObject({ name: 'b2', peer: CLIENT_IP, peerPort: t.localPort });
    const u = await client.must('udpOnce', { host: ipOf('b3'), port: UDP_TARGET, line: 'plain' });
    expect(u.rinfo).toMatchObject({ address: ipOf('b3'), port: UDP_TARGET });
    // No flow was recorded for either: nothing keyed by a backend address as the destination but
    // the direct connections an earlier test had moved off a held port (flagged direct).
    const flows = flowRecords();
    expect(flows.length).toBeGreaterThan(0);
    const toBackends = flows.filter((flow) => BACKENDS.some((b) => b.ip === flow.frontend.ip));
    expect(toBackends.filter((flow) => !flow.direct)).toEqual([]);
    expect(toBackends.every((flow) => flow.movedClientPort! >= MOVED_PORTS.min)).toBe(true);
  }, 30_000);

  test('fragmented datagrams are translated both ways', async () => {
    const big = await client.must('udpOnce', { host: VIP, port: 53, line: 'big:4000' });
    expect(big.rinfo).toMatchObject({ address: VIP, port: 53 });
    expect(big.size).toBe(4000);
    expect(reply(big)).toMatchObject({ peer: CLIENT_IP, echo: 'big:4000' });
    const request = await client.must('udpOnce', {
      host: VIP,
      port: 53,
      line: `big:100 ${'x'.repeat(3500)}`,
    });
    expect(reply(request).size).toBe(3508);
  }, 30_000);
});

describe('veth pod with tw_lb_egress_gw (no L2 fix)', () => {
  test("the client's ICMP error about a late reply reaches the backend", async () => {
    const vip = '10.96.0.22';
    setFrontend(vip, 53, UDP, { id: 16 }, [{ id: 47, ip: ipOf('b2'), port: UDP_TARGET }]);
    const sink = linkTxPackets(node, 'sink0');
    await lateReplyError(gwClient, GW_CLIENT_IP, vip, BACKENDS[1]!);
    expect(linkTxPackets(node, 'sink0')).toBe(sink);
  }, 30_000);

  test('translates both ways, spreads, refuses without backends, handles fragments', async () => {
    const t = await gwClient.must('tcpOnce', { host: VIP, port: 80, line: 'gw' });
    expect(t).toMatchObject({ remoteAddress: VIP, remotePort: 80 });
    expect(reply(t)).toMatchObject({ peer: GW_CLIENT_IP, peerPort: t.localPort });
    expect(flowOf(GW_CLIENT_IP, VIP, t.localPort as number, 80, TCP)!.backendAddr).toBe(
      ipOf(reply(t).name),
    );
    expect(new Set(await tcpNames(gwClient, VIP, 80, 30))).toEqual(new Set(['b1', 'b2', 'b3']));
    const u = await gwClient.must('udpOnce', { host: VIP, port: 53, line: 'gw' });
    expect(u.rinfo).toMatchObject({ address: VIP, port: 53 });
    const big = await gwClient.must('udpOnce', {
      host: VIP,
      port: 53,
      line: `big:4000 ${'x'.repeat(3000)}`,
    });
    expect(big).toMatchObject({ size: 4000, rinfo: { address: VIP, port: 53 } });
    setFrontend('10.96.0.14', 80, TCP, { id: 6, backendCount: 0 }, []);
    const refused = await gwClient.call('tcpOpen', { host: '10.96.0.14', port: 80 });
    expect(refused).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
  }, 30_000);
});

for (const lab of L2_LABS) {
  (lab.supported ? describe : describe.skip)(
    `L2 pod (${lab.kind} over a veth ENI, gateway not forwarding)`,
    () => {
      const names = lab.backends.map((b) => b.name);
      const l2 = () => lab.client!;

      test('DNAT reaches the on-link backends, not the gateway', async () => {
        expect(new Set(await tcpNames(l2(), lab.vip, 80, 16))).toEqual(new Set(names));
        const t = await l2().must('tcpOnce', { host: lab.vip, port: 80, line: 'l2' });
        expect(t).toMatchObject({ remoteAddress: lab.vip, remotePort: 80 });
        expect(reply(t)).toMatchObject({ peer: `${lab.subnet}.10`, peerPort: t.localPort });
        const conn = await l2().must('tcpOpen', { host: lab.vip, port: 80 });
        const seen = new Set<string>();
        for (let i = 0; i < 10; i++) {
          seen.add(reply(await l2().must('tcpSend', { conn: conn.conn, line: `l2 ${i}` })).name);
        }
        expect(seen.size).toBe(1);
        await l2().must('tcpClose', { conn: conn.conn });
        expect(new Set(await udpNames(l2(), lab.vip, 53, 16))).toEqual(new Set(names));
        const u = await l2().must('udpOnce', { host: lab.vip, port: 53, line: 'l2' });
        expect(u.rinfo).toMatchObject({ address: lab.vip, port: 53 });
        const big = await l2().must('udpOnce', { host: lab.vip, port: 53, line: 'big:3000' });
        expect(big).toMatchObject({ size: 3000, rinfo: { address: lab.vip, port: 53 } });
      }, 60_000);

      test("an established flow's packets go to the MAC its backend answers from, until it falls quiet", async () => {
        const clientNs = lab.clientNs!;
        const conn = await l2().must('tcpOpen', { host: lab.vip, port: 80 });
        const port = conn.localPort as number;
        const backend = reply(await l2().must('tcpSend', { conn: conn.conn, line: 'learn' })).name;
        const backendIp = lab.backends.find((b) => b.name === backend)!.ip;
        const flow = flowOf(`${lab.subnet}.10`, lab.vip, port, 80, TCP)!;
        expect(nextHopMacOf(flow.nextHop)).toBe(lab.backendMacs.get(backend));

        // Mislead the kernel: its neighbour entry for the backend now names a MAC nobody has. The
        // learned next hop does not consult it, so the connection keeps working while it is fresh.
        const wrongNeighbour = `neigh replace ${backendIp} lladdr 02:00:00:ee:ee:ee dev eth0 nud permanent`;
        ipBatch(clientNs, [wrongNeighbour]);
        try {
          for (let i = 0; i < 5; i++) {
            const r = await l2().must('tcpSend', { conn: conn.conn, line: `fresh ${i}` });
            expect(reply(r).name).toBe(backend);
          }
          // Quiet for longer than TW_NEXT_HOP_FRESH (about 1 s): the next packets take the
          // kernel's neighbour resolution again, and so go nowhere while it is wrong...
          await sleep(1_500);
          const lost = await l2().call('tcpSend', {
            conn: conn.conn,
            line: 'quiet',
            timeoutMs: 1_500,
          });
          expect(lost).toMatchObject({ ok: false, code: 'TIMEOUT' });
        } finally {
          ipBatch(clientNs, [`neigh del ${backendIp} dev eth0`]);
        }
        // ...and reach the backend once the neighbour entry is right (TCP retransmits them).
        const late = await l2().must('tcpSend', {
          conn: conn.conn,
          line: 'healed',
          timeoutMs: 10_000,
        });
        expect(reply(late).name).toBe(backend);
        await l2().must('tcpClose', { conn: conn.conn });
      }, 60_000);

      test("the client's ICMP error about a late reply reaches the on-link backend", async () => {
        const vip = `10.96.1.${lab.frontendId}`;
        const backend = lab.backends[0]!;
        setFrontend(vip, 53, UDP, { id: lab.frontendId + 2 }, [
          { id: lab.firstBackendId + 4, ip: backend.ip, port: UDP_TARGET },
        ]);
        await lateReplyError(l2(), `${lab.subnet}.10`, vip, backend);
      }, 30_000);

      test('a direct connection from a port a ClusterIP flow holds towards its backend leaves from a moved port', async () => {
        // A Service whose only backend is the first on-link pod: a direct connection to that pod
        // from the port the ClusterIP connection holds would be the same 4-tuple on the wire.
        const vip = `10.96.2.${lab.frontendId}`;
        const backend = lab.backends[0]!;
        setFrontend(vip, 80, TCP, { id: lab.frontendId + 3 }, [
          { id: lab.firstBackendId + 5, ip: backend.ip, port: TCP_TARGET },
        ]);
        const clientIp = `${lab.subnet}.10`;
        const port = 32_000 + lab.frontendId;
        const before = nodeTotals();
        const direct = portClash(
          lab.clientNs!,
          'tcp-reset',
          `${vip}:80`,
          `${backend.ip}:${TCP_TARGET}`,
          port,
        );
        expect(direct.first.answer).toMatchObject({ name: backend.name, peerPort: port });
        expect(direct.second.answer).toMatchObject({
          name: backend.name,
          peer: clientIp,
          echo: 'second',
        });
        const moved = direct.second.answer!.peerPort;
        expect(moved).toBeGreaterThanOrEqual(MOVED_PORTS.min);
        expect(moved).toBeLessThanOrEqual(MOVED_PORTS.max);
        expect(direct.firstAgain.answer).toMatchObject({ name: backend.name, echo: 'first again' });
        const record = flowRecords().find(
          (flow) => flow.client.ip === clientIp && flow.client.port === port && flow.direct,
        );
        expect(record).toMatchObject({
          frontend: { ip: backend.ip, port: TCP_TARGET },
          backend: { ip: backend.ip, port: TCP_TARGET, id: 0 },
          frontendId: 0,
          movedClientPort: moved,
        });
        expect(nodeTotals().movedDirect - before.movedDirect).toBe(1n);
        expect(nodeTotals().clashed - before.clashed).toBe(0n);
      }, 30_000);

      test('a frontend without backends refuses at once', async () => {
        setFrontend('10.96.0.14', 80, TCP, { id: 6, backendCount: 0 }, []);
        setFrontend('10.96.0.14', 53, UDP, { id: 7, backendCount: 0 }, []);
        const t = await l2().call('tcpOpen', { host: '10.96.0.14', port: 80 });
        expect(t).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
        expect(t.ms).toBeLessThan(500);
        const u = await l2().call('udpOnce', {
          host: '10.96.0.14',
          port: 53,
          line: 'x',
          connect: true,
        });
        expect(u).toMatchObject({ ok: false, code: 'ECONNREFUSED' });
      }, 30_000);
    },
  );
}

describe('whole run', () => {
  test('no packet to a ClusterIP ever left a client pod', () => {
    expect(linkTxPackets(node, 'sink0')).toBe(0);
  });
});
