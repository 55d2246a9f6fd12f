// Pod → pod across ENIs: two pods on different nodes of a lab (dist/cmd/lab.js, veth datapath),
// wired through the real terway shim, so a packet leaves pod A's veth, is policy-routed out of
// node 1's ENI, crosses the lab VPC (a namespace routing each private IP to its ENI), enters
// node 2's ENI and reaches pod B's veth. Baseline in the same run: a bare veth pair between two
// namespaces made here, the floor for any namespace-to-namespace path on this kernel.
//
// Throughput: iperf3, one TCP stream, pod A → pod B. Latency: TCP ping-pong (sockperf when
// installed, else bench/pod-to-pod/tcp_rr.py), round trip. Rounds alternate baseline and pods;
// every figure is a median over the rounds.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { grpcIntrospection } from '../../src/cli/introspection-client.js';
import { collectOutput, stopChild, trackChild } from '../support/cleanup.js';
import { commandOutput, firstLine, toolOutput } from '../support/commands.js';
import { BenchLab } from '../support/lab.js';
import { parseIperf3, parseSockperf } from '../support/net-tools.js';
import { ipBatchSync, ScratchNetns, waitListening } from '../support/netns.js';
import { REPO_ROOT } from '../support/paths.js';
import { median, ratio } from '../support/stats.js';

export const P2P_SETTINGS = {
  rounds: 3,
  /** iperf3: `-t` seconds measured after `-O` seconds omitted (TCP slow start). */
  iperfSeconds: 3,
  iperfOmitSeconds: 1,
  /** Ping-pong seconds per round (sockperf adds its own 0.4 s warm-up). */
  rrSeconds: 2,
  /** Message size of the ping-pong, bytes (sockperf's minimum is 14). */
  rrMessageBytes: 64,
  iperfPort: 5201,
  rrPort: 11111,
  baselineSubnet: { a: '10.252.0.1', b: '10.252.0.2', prefix: 30 },
} as const;

const RR_SCRIPT = join(REPO_ROOT, 'bench/pod-to-pod/tcp_rr.py');

export interface PathFigures {
  /** Median over rounds of iperf3's received bits per second. */
  gbps: number;
  gbpsRounds: number[];
  retransmits: number;
  /** Medians over rounds of each round's round-trip p50 / p99, µs. */
  rttP50Us: number;
  rttP99Us: number;
  rttRounds: Array<{ p50: number; p99: number }>;
}

export interface PodToPodResult {
  settings: typeof P2P_SETTINGS;
  rrTool: string;
  iperfVersion: string;
  pods: {
    a: { node: string; ip: string; eniId: string; eniLink: string };
    b: { node: string; ip: string; eniId: string; eniLink: string };
  };
  pod: PathFigures;
  veth: PathFigures;
  ratios: { throughput: number; rttP50: number; rttP99: number };
  /**
   * Bytes node 1's ENI sent while iperf3 ran pod → pod, over the bytes iperf3 counted as
   * received (its omitted first second excluded): ≥ 1 when the stream really crossed the ENI.
   */
  eniBytesOverIperf: number;
  durationSeconds: number;
}

interface Endpoint {
  label: string;
  /** netns file the client runs in. */
  clientNetns: string;
  serverNetns: string;
  serverIp: string;
}

/** Runs a client to completion inside a namespace; throws on a non-zero exit. */
async function runIn(
  netns: string,
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<string> {
  const { code, stdout, stderr } = await collectOutput(
    spawn('nsenter', [`--net=${netns}`, '--', command, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    }),
  );
  if (code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}${stdout}`);
  return `${stdout}${stderr}`;
}

/** A long-running server inside a namespace, tracked so it dies with the benchmark. */
function serveIn(netns: string, command: string, args: string[]): ChildProcess {
  const child = spawn('nsenter', [`--net=${netns}`, '--', command, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  trackChild(child);
  return child;
}

async function iperf(endpoint: Endpoint): Promise<{ gbps: number; retransmits: number }> {
  const { iperfSeconds, iperfOmitSeconds, iperfPort } = P2P_SETTINGS;
  const out = await runIn(
    endpoint.clientNetns,
    'iperf3',
    [
      '-c',
      endpoint.serverIp,
      '-p',
      String(iperfPort),
      '-t',
      String(iperfSeconds),
      '-O',
      String(iperfOmitSeconds),
      '-J',
    ],
    (iperfSeconds + iperfOmitSeconds + 20) * 1000,
  );
  return parseIperf3(out);
}

async function pingPong(
  endpoint: Endpoint,
  sockperf: boolean,
): Promise<{ p50: number; p99: number }> {
  const { rrSeconds, rrMessageBytes, rrPort } = P2P_SETTINGS;
  const timeout = (rrSeconds + 20) * 1000;
  if (sockperf) {
    const out = await runIn(
      endpoint.clientNetns,
      'sockperf',
      ['ping-pong', '--tcp', '-i', endpoint.serverIp, '-p', String(rrPort)].concat([
        '-t',
        String(rrSeconds),
        '-m',
        String(rrMessageBytes),
        '--full-rtt',
      ]),
      timeout,
    );
    const { p50Us, p99Us } = parseSockperf(out);
    return { p50: p50Us, p99: p99Us };
  }
  const out = await runIn(
    endpoint.clientNetns,
    'python3',
    [
      RR_SCRIPT,
      'client',
      endpoint.serverIp,
      String(rrPort),
      String(rrSeconds),
      String(rrMessageBytes),
    ],
    timeout,
  );
  const parsed = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { p50: number; p99: number };
  return { p50: parsed.p50, p99: parsed.p99 };
}

interface LinkStats {
  name: string;
  address: string;
  stats64?: { tx: { bytes: number }; rx: { bytes: number } };
}

function links(netns: string): Array<{ ifname: string; address: string; tx: number }> {
  const out = commandOutput('ip', ['-n', netns, '-j', '-s', 'link', 'show']);
  return (JSON.parse(out) as Array<LinkStats & { ifname: string }>).map((link) => ({
    ifname: link.ifname,
    address: link.address,
    tx: link.stats64?.tx.bytes ?? 0,
  }));
}

/** The ENI link (not a pod veth) with `mac` in the node's namespace. */
function eniLink(netns: string, mac: string): { ifname: string; tx: number } {
  const link = links(netns).find(
    (candidate) => candidate.address === mac.toLowerCase() && !candidate.ifname.startsWith('twv'),
  );
  if (link === undefined) throw new Error(`no ENI link with MAC ${mac} in ${netns}`);
  return link;
}

function emptyFigures(): PathFigures {
  return {
    gbps: Number.NaN,
    gbpsRounds: [],
    retransmits: 0,
    rttP50Us: Number.NaN,
    rttP99Us: Number.NaN,
    rttRounds: [],
  };
}

export async function runPodToPodBench(
  progress: (line: string) => void = () => undefined,
): Promise<PodToPodResult> {
  const began = Date.now();
  const iperfVersion = firstLine('iperf3', ['--version']);
  if (iperfVersion === undefined)
    throw new Error('iperf3 is not installed (apt-get install iperf3)');
  const sockperfVersion = toolOutput('sockperf', ['--version']);
  const useSockperf = sockperfVersion !== undefined;
  const rrTool = useSockperf
    ? `sockperf ${/version #?\s*([\w.-]+)/.exec(sockperfVersion)?.[1] ?? ''} ping-pong --tcp --full-rtt`.replace(
        /\s+/g,
        ' ',
      )
    : 'bench/pod-to-pod/tcp_rr.py (Python, blocking sockets; sockperf not installed)';

  const scratch = new ScratchNetns('p');
  const servers: ChildProcess[] = [];
  let lab: BenchLab | undefined;
  try {
    progress('bringing up a 2-node lab (veth datapath)');
    lab = await BenchLab.up({ nodes: 2 });
    progress('adding pod A on node-1 and pod B on node-2 through the terway shim');
    const a = await lab.addPod('node-1', 'p2p-a');
    const b = await lab.addPod('node-2', 'p2p-b');
    const node1 = lab.node('node-1');
    const node2 = lab.node('node-2');
    const mappingOf = async (socket: string, name: string) => {
      const found = (await grpcIntrospection.listMappings(socket)).mappings.find(
        (m) => m.network?.pod?.name === name,
      )?.network;
      if (found === undefined || found === null) throw new Error(`no mapping for ${name}`);
      return found;
    };
    const mapA = await mappingOf(node1.socket, 'p2p-a');
    const mapB = await mappingOf(node2.socket, 'p2p-b');
    const eniA = eniLink(node1.netns, mapA.eniMac);
    const eniB = eniLink(node2.netns, mapB.eniMac);

    // The baseline: a bare veth pair between two fresh namespaces.
    const { a: ipA, b: ipB, prefix } = P2P_SETTINGS.baselineSubnet;
    const [vethA, vethB] = scratch.create(['a', 'b']) as [string, string];
    ipBatchSync(
      [
        `link add veth0 type veth peer name veth0 netns ${vethB}`,
        `addr add ${ipA}/${prefix} dev veth0`,
        'link set dev veth0 up',
      ],
      vethA,
    );
    ipBatchSync([`addr add ${ipB}/${prefix} dev veth0`, 'link set dev veth0 up'], vethB);

    const endpoints: Record<'pod' | 'veth', Endpoint> = {
      pod: { label: 'pod', clientNetns: a.netnsPath, serverNetns: b.netnsPath, serverIp: b.ip },
      veth: {
        label: 'veth',
        clientNetns: `/var/run/netns/${vethA}`,
        serverNetns: `/var/run/netns/${vethB}`,
        serverIp: ipB,
      },
    };
    for (const endpoint of Object.values(endpoints)) {
      servers.push(
        serveIn(endpoint.serverNetns, 'iperf3', ['-s', '-p', String(P2P_SETTINGS.iperfPort)]),
      );
      servers.push(
        useSockperf
          ? serveIn(endpoint.serverNetns, 'sockperf', [
              'server',
              '--tcp',
              '-i',
              endpoint.serverIp,
              '-p',
              String(P2P_SETTINGS.rrPort),
            ])
          : serveIn(endpoint.serverNetns, 'python3', [
              RR_SCRIPT,
              'server',
              endpoint.serverIp,
              String(P2P_SETTINGS.rrPort),
            ]),
      );
      await waitListening(endpoint.serverNetns, P2P_SETTINGS.iperfPort);
      await waitListening(endpoint.serverNetns, P2P_SETTINGS.rrPort);
    }

    const figures = { pod: emptyFigures(), veth: emptyFigures() };
    const gbps = { pod: [] as number[], veth: [] as number[] };
    const retransmits = { pod: [] as number[], veth: [] as number[] };
    let eniTx = 0;
    let iperfBytes = 0;
    for (let round = 0; round < P2P_SETTINGS.rounds; round++) {
      const order: Array<'pod' | 'veth'> = round % 2 === 0 ? ['veth', 'pod'] : ['pod', 'veth'];
      for (const which of order) {
        const before = which === 'pod' ? eniLink(node1.netns, mapA.eniMac).tx : 0;
        const result = await iperf(endpoints[which]);
        if (which === 'pod') {
          eniTx += eniLink(node1.netns, mapA.eniMac).tx - before;
          iperfBytes += (result.gbps * 1e9 * P2P_SETTINGS.iperfSeconds) / 8;
        }
        gbps[which].push(result.gbps);
        retransmits[which].push(result.retransmits);
        progress(`  round ${round + 1} iperf3 ${which}: ${result.gbps.toFixed(2)} Gbit/s`);
      }
      for (const which of order) {
        const rtt = await pingPong(endpoints[which], useSockperf);
        figures[which].rttRounds.push(rtt);
        progress(
          `  round ${round + 1} ping-pong ${which}: p50 ${rtt.p50.toFixed(1)} µs, p99 ${rtt.p99.toFixed(1)} µs`,
        );
      }
    }
    for (const which of ['pod', 'veth'] as const) {
      const f = figures[which];
      f.gbpsRounds = gbps[which];
      f.gbps = median(gbps[which]);
      f.retransmits = median(retransmits[which]);
      f.rttP50Us = median(f.rttRounds.map((r) => r.p50));
      f.rttP99Us = median(f.rttRounds.map((r) => r.p99));
    }
    const result: PodToPodResult = {
      settings: P2P_SETTINGS,
      rrTool,
      iperfVersion,
      pods: {
        a: { node: node1.name, ip: a.ip, eniId: mapA.eniId, eniLink: eniA.ifname },
        b: { node: node2.name, ip: b.ip, eniId: mapB.eniId, eniLink: eniB.ifname },
      },
      pod: figures.pod,
      veth: figures.veth,
      ratios: {
        throughput: figures.pod.gbps / figures.veth.gbps,
        rttP50: figures.pod.rttP50Us / figures.veth.rttP50Us,
        rttP99: figures.pod.rttP99Us / figures.veth.rttP99Us,
      },
      eniBytesOverIperf: eniTx / iperfBytes,
      durationSeconds: (Date.now() - began) / 1000,
    };
    if (!(result.eniBytesOverIperf >= 1)) {
      throw new Error(
        `pod → pod traffic did not cross ${eniA.ifname}: it sent ${eniTx} bytes for ${Math.round(iperfBytes)}`,
      );
    }
    return result;
  } finally {
    for (const server of servers) await stopChild(server, 2_000);
    scratch.dispose();
    if (lab !== undefined) await lab.down();
  }
}

export function printPodToPod(r: PodToPodResult): void {
  const row = (label: string, f: PathFigures) =>
    `${label.padEnd(28)} ${f.gbps.toFixed(2).padStart(6)} Gbit/s   RTT p50 ${f.rttP50Us
      .toFixed(1)
      .padStart(6)} µs  p99 ${f.rttP99Us.toFixed(1).padStart(6)} µs`;
  process.stdout.write(
    [
      row(`pod → pod (${r.pods.a.eniLink} → ${r.pods.b.eniLink})`, r.pod),
      row('baseline: bare veth pair', r.veth),
      `ratios pod / veth: throughput ${ratio(r.ratios.throughput)}, RTT p50 ${ratio(r.ratios.rttP50)}, ` +
        `p99 ${ratio(r.ratios.rttP99)}; ENI bytes / iperf3 bytes ${ratio(r.eniBytesOverIperf)}`,
    ].join('\n') + '\n',
  );
}

// Standalone: node dist/bench/pod-to-pod/run.js
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printPodToPod(await runPodToPodBench((line) => process.stdout.write(`${line}\n`)));
}
