/**
 * DATAPATH.md scenarios 1–4 in veth mode, on a lab of two nodes: for each, that traffic flows
 * (ping, and a TCP request answered by the peer, which reports the source address it saw) and
 * which way it flows, read from interface packet counters around a burst of 100 pings. Hops the
 * scenario must cross carry at least the burst; hops it must not cross carry next to nothing.
 *
 * In veth mode (this kernel has no ipvlan) Terway's rule `512: to <podIP> lookup main` keeps
 * every pod → pod packet between two pods of one node on the node, whatever their ENIs: the
 * ipvlan-mode path of scenario 3 (out through one ENI, back through the other) is the VM tier's.
 */
import { describe, expect, test } from '@jest/globals';

import { vpcPortName } from '../../src/lab/vpc-network.js';
import type { LabPod, LinkCounters, MappedPod } from '../support/lab.js';
import {
  EchoServer,
  useLab,
  expectPing,
  linkByMac,
  linkCounters,
  mustRun,
  ping,
  tcpEcho,
} from '../support/lab.js';

const BURST = 100;
/** What a hop that must not carry the burst may still see (an ARP or two on a busy machine). */
const QUIET = 10;
const ECHO_PORT = 7777;

const pods = new Map<string, LabPod>();
const placement = new Map<string, MappedPod>();

function pod(name: string): LabPod {
  const found = pods.get(name);
  if (found === undefined) throw new Error(`no pod ${name}`);
  return found;
}

function eniOf(name: string): MappedPod {
  const found = placement.get(name);
  if (found === undefined) throw new Error(`terway-cli mapping does not list ${name}`);
  return found;
}

const the = useLab({ nodes: 2 }, async (lab) => {
  // Spread over a fresh node's two ENIs (least_ips): p1 and p3 share one, p2 has the other.
  for (const name of ['p1', 'p2', 'p3']) pods.set(name, await lab.addPod('node-1', name));
  pods.set('q1', await lab.addPod('node-2', 'q1'));
  for (const node of ['node-1', 'node-2']) {
    for (const mapped of await lab.mapping(node)) placement.set(mapped.pod.name, mapped);
  }
});

/** Two pods of node-1 on one ENI, and two on different ENIs, read from terway-cli mapping. */
function pairs(): { same: [string, string]; different: [string, string] } {
  const names = ['p1', 'p2', 'p3'];
  let same: [string, string] | undefined;
  let different: [string, string] | undefined;
  for (const a of names) {
    for (const b of names) {
      if (a >= b) continue;
      if (eniOf(a).eniId === eniOf(b).eniId) same ??= [a, b];
      else different ??= [a, b];
    }
  }
  if (same === undefined || different === undefined) {
    throw new Error(
      `expected node-1's pods on two ENIs with one shared: ${names.map((n) => `${n}@${eniOf(n).eniId}`).join(' ')}`,
    );
  }
  return { same, different };
}

type Counters = Map<string, LinkCounters>;
type Snapshot = Map<string, Counters>;

async function snapshot(namespaces: readonly string[]): Promise<Snapshot> {
  return new Map(
    await Promise.all(namespaces.map(async (ns) => [ns, await linkCounters(ns)] as const)),
  );
}

interface Hop {
  label: string;
  netns: string;
  dev: string;
}

/**
 * A burst of BURST pings from `from` to `to`, retried when the machine drops one, and the
 * counters of `namespaces` before and after the burst that came through whole.
 */
async function burst(
  from: string,
  to: string,
  namespaces: readonly string[],
): Promise<{ before: Snapshot; after: Snapshot }> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const before = await snapshot(namespaces);
    const outcome = await ping(from, to, { count: BURST, intervalS: 0.01, waitS: 2 });
    const after = await snapshot(namespaces);
    if (outcome.received === BURST) return { before, after };
    last = outcome.output;
  }
  throw new Error(`a burst of ${BURST} pings from ${from} to ${to} never came through:\n${last}`);
}

function delta(
  counters: { before: Snapshot; after: Snapshot },
  hop: Hop,
): { rx: number; tx: number } {
  const before = counters.before.get(hop.netns)?.get(hop.dev);
  const after = counters.after.get(hop.netns)?.get(hop.dev);
  if (before === undefined || after === undefined) {
    throw new Error(`no link ${hop.dev} in ${hop.netns} (${hop.label})`);
  }
  return { rx: after.rx - before.rx, tx: after.tx - before.tx };
}

/**
 * What the hops saw, as sentences for every one that contradicts the expected path: carried
 * hops must see the burst in the given directions, quiet hops at most QUIET packets either way.
 */
type CarriedHop = Hop & { dirs: Array<'rx' | 'tx'> };

function pathViolations(
  counters: { before: Snapshot; after: Snapshot },
  carried: CarriedHop[],
  quiet: Hop[],
): string[] {
  const violations: string[] = [];
  for (const hop of carried) {
    const seen = delta(counters, hop);
    for (const dir of hop.dirs) {
      if (seen[dir] < BURST)
        violations.push(`${hop.label} (${hop.dev}) ${dir} ${seen[dir]} < ${BURST}`);
    }
  }
  for (const hop of quiet) {
    const seen = delta(counters, hop);
    if (seen.rx >= QUIET || seen.tx >= QUIET) {
      violations.push(`${hop.label} (${hop.dev}) carried rx ${seen.rx} tx ${seen.tx}`);
    }
  }
  return violations;
}

const hostVeth = (name: string) => {
  const host = eniOf(name).hostInterface?.name;
  if (host === undefined) throw new Error(`no host interface for ${name}`);
  return host;
};

/** Every ENI link of a node (eth0 = primary, then the secondaries), by node-side name. */
async function eniLinks(node: string): Promise<string[]> {
  const counters = await linkCounters(the().node(node).netns);
  return [...counters.keys()].filter((name) => /^eth\d+$/.test(name));
}

/** Every VPC bridge port (one per ENI of every node) and the bridge. */
async function vpcPorts(): Promise<string[]> {
  const counters = await linkCounters(the().vpcNetns);
  return [...counters.keys()].filter((name) => name !== 'lo');
}

/** What a path that stays on a node must leave quiet: that node's ENI links and the whole VPC. */
async function enisAndVpcOf(nodeName: string) {
  const node = the().node(nodeName);
  return [
    ...(await eniLinks(nodeName)).map((dev) => ({ label: 'ENI link', netns: node.netns, dev })),
    ...(await vpcPorts()).map((dev) => ({ label: 'VPC', netns: the().vpcNetns, dev })),
  ];
}

/** Pod a's host veth receives what a sends, pod b's host veth transmits it to b. */
function hostVethsFromTo(netns: string, a: string, b: string): CarriedHop[] {
  return [
    { label: `host veth of ${a}`, netns, dev: hostVeth(a), dirs: ['rx', 'tx'] },
    { label: `host veth of ${b}`, netns, dev: hostVeth(b), dirs: ['tx', 'rx'] },
  ];
}

/** Connectivity both ways of a scenario: ping, then a TCP request the peer answers. */
async function expectConnected(fromNetns: string, sourceIp: string, target: LabPod) {
  await expectPing(fromNetns, target.ip);
  const server = await EchoServer.start(target.netns, target.ip, ECHO_PORT);
  try {
    const message = `hello ${target.name} from ${sourceIp}`;
    // The peer saw the sender's own address: no NAT anywhere on the path.
    await expect(tcpEcho(fromNetns, target.ip, ECHO_PORT, message)).resolves.toEqual({
      from: sourceIp,
      echo: message,
    });
  } finally {
    await server.stop();
  }
}

describe('DATAPATH.md scenarios 1–4 in veth mode', () => {
  test('1: node → pod on the same node goes through the pod’s host veth, not an ENI or the VPC', async () => {
    const lab = the();
    const node = lab.node('node-1');
    const target = pod('p1');
    await expectConnected(node.netns, node.ip, target);

    const counters = await burst(node.netns, target.ip, [node.netns, lab.vpcNetns, target.netns]);
    const others = ['p2', 'p3'].map((name) => ({
      label: `host veth of ${name}`,
      netns: node.netns,
      dev: hostVeth(name),
    }));
    expect(
      pathViolations(
        counters,
        [
          {
            label: 'host veth of the pod',
            netns: node.netns,
            dev: hostVeth('p1'),
            dirs: ['tx', 'rx'],
          },
          { label: 'eth0 in the pod', netns: target.netns, dev: 'eth0', dirs: ['rx', 'tx'] },
        ],
        [...(await enisAndVpcOf('node-1')), ...others],
      ),
    ).toEqual([]);
  }, 60_000);

  test('2: pod → pod on one ENI of one node crosses both host veths and nothing else', async () => {
    const lab = the();
    const node = lab.node('node-1');
    const [a, b] = pairs().same;
    expect(eniOf(a).eniId).toBe(eniOf(b).eniId);
    await expectConnected(pod(a).netns, pod(a).ip, pod(b));

    const counters = await burst(pod(a).netns, pod(b).ip, [node.netns, lab.vpcNetns]);
    const third = ['p1', 'p2', 'p3'].find((name) => name !== a && name !== b) ?? '';
    expect(
      pathViolations(counters, hostVethsFromTo(node.netns, a, b), [
        ...(await enisAndVpcOf('node-1')),
        { label: `host veth of ${third}`, netns: node.netns, dev: hostVeth(third) },
      ]),
    ).toEqual([]);
  }, 60_000);

  test('3: pod → pod on different ENIs of one node also stays on the node in veth mode (rule 512), never leaving through an ENI', async () => {
    const lab = the();
    const node = lab.node('node-1');
    const [a, b] = pairs().different;
    expect(eniOf(a).eniId).not.toBe(eniOf(b).eniId);
    // Why: `512: to <b> lookup main` is looked up before `2048: from <a> lookup <a's ENI table>`.
    const decision = await mustRun('ip', [
      '-n',
      node.netns,
      'route',
      'get',
      pod(b).ip,
      'from',
      pod(a).ip,
      'iif',
      hostVeth(a),
    ]);
    expect(decision).toContain(`dev ${hostVeth(b)}`);
    await expectConnected(pod(a).netns, pod(a).ip, pod(b));

    const counters = await burst(pod(a).netns, pod(b).ip, [node.netns, lab.vpcNetns]);
    expect(
      pathViolations(counters, hostVethsFromTo(node.netns, a, b), [
        ...(await enisAndVpcOf('node-1')),
      ]),
    ).toEqual([]);
  }, 60_000);

  test('4: pod → pod on different nodes leaves through the source pod’s ENI and arrives through the destination pod’s, never the primary eth0', async () => {
    const lab = the();
    const [n1, n2] = [lab.node('node-1'), lab.node('node-2')];
    const source = pod('p1');
    const target = pod('q1');
    await expectConnected(source.netns, source.ip, target);

    const sourceEni = await linkByMac(n1.netns, eniOf('p1').eniMac);
    const targetEni = await linkByMac(n2.netns, eniOf('q1').eniMac);
    expect(sourceEni).not.toBe('eth0');
    expect(targetEni).not.toBe('eth0');
    const counters = await burst(source.netns, target.ip, [n1.netns, n2.netns, lab.vpcNetns]);
    const sourcePort = vpcPortName(eniOf('p1').eniMac);
    const targetPort = vpcPortName(eniOf('q1').eniMac);
    const otherEnis = async (node: typeof n1, used: string) =>
      (await eniLinks(node.name))
        .filter((dev) => dev !== used)
        .map((dev) => ({ label: `${node.name} ENI link not in the path`, netns: node.netns, dev }));
    expect(
      pathViolations(
        counters,
        [
          { label: 'host veth of the source', netns: n1.netns, dev: hostVeth('p1'), dirs: ['rx'] },
          { label: 'source pod’s ENI', netns: n1.netns, dev: sourceEni, dirs: ['tx', 'rx'] },
          { label: 'its VPC port', netns: lab.vpcNetns, dev: sourcePort, dirs: ['rx', 'tx'] },
          { label: 'target pod’s VPC port', netns: lab.vpcNetns, dev: targetPort, dirs: ['tx'] },
          { label: 'target pod’s ENI', netns: n2.netns, dev: targetEni, dirs: ['rx', 'tx'] },
          { label: 'host veth of the target', netns: n2.netns, dev: hostVeth('q1'), dirs: ['tx'] },
        ],
        [
          ...(await otherEnis(n1, sourceEni)),
          ...(await otherEnis(n2, targetEni)),
          { label: 'VPC port of node-1 eth0', netns: lab.vpcNetns, dev: vpcPortName(n1.mac) },
          { label: 'VPC port of node-2 eth0', netns: lab.vpcNetns, dev: vpcPortName(n2.mac) },
        ],
      ),
    ).toEqual([]);
  }, 60_000);
});
