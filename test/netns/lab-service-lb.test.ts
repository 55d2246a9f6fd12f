/**
 * DATAPATH.md scenarios 5–7 in veth mode: a client pod reaches a Service whose backend is a pod
 * on the client's ENI (5), on another ENI of the same node (6), or on another node (7). The
 * program on the client pod's eth0 translates; everything is read back from the real kernel:
 * replies, captures on the node and the backend, and the program's translation records.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { NativeBpfMap, progInfo, tcQuery } from '../../src/dataplane/bpf/native-bpf.js';
import { readFlowRecords, type FlowRecord } from '../../src/lb/flow-records.js';
import { LB_MAP_NAMES } from '../../src/lb/maps/lb-layouts.js';
import { Agent, buildOtherLbBuild, type AgentReply, type EchoReply } from '../support/bpf-lab.js';
import { captureDuring } from '../support/capture.js';
import type { LabPod, MappedPod } from '../support/lab.js';
import { useLab } from '../support/lab.js';
import { applyServices, type LabService } from '../support/lab-services.js';
import { LAB_ZONE } from '../../src/lab/lab-supervisor.js';
import { scrape } from '../support/metric-value.js';
import { portClash, type ClashResult } from '../support/port-clash.js';

const HTTP = 8080;
const DNS = 5353;
const CLIENT_NODE = 'node-1';

const pods = new Map<string, LabPod>();
const placement = new Map<string, MappedPod>();
const agents = new Map<string, Agent>();

const the = useLab({ nodes: 2 }, async (lab) => {
  // least_ips over node-1's two ENIs: p1 and p3 share one, p2 has the other.
  for (const name of ['p1', 'p2', 'p3']) pods.set(name, await lab.addPod(CLIENT_NODE, name));
  pods.set('q1', await lab.addPod('node-2', 'q1'));
  for (const node of ['node-1', 'node-2']) {
    for (const mapped of await lab.mapping(node)) placement.set(mapped.pod.name, mapped);
  }
  for (const [name, pod] of pods) {
    const agent = new Agent({ path: pod.netnsPath }, name);
    agents.set(name, agent);
    await agent.ready;
    if (name !== 'p1') await agent.must('serve', { name, host: pod.ip, tcp: [HTTP], udp: [DNS] });
  }
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.stop()));
});

function pod(name: string): LabPod {
  const found = pods.get(name);
  if (!found) throw new Error(`no pod ${name}`);
  return found;
}

function agent(name: string): Agent {
  const found = agents.get(name);
  if (!found) throw new Error(`no agent in ${name}`);
  return found;
}

/** The backend sharing the client's ENI, and the one on node-1's other ENI. */
function backendsByEni(): { sameEni: string; otherEni: string } {
  const client = placement.get('p1')!.eniId;
  const [same, other] = ['p2', 'p3'].reduce<[string[], string[]]>(
    ([s, o], name) =>
      placement.get(name)!.eniId === client ? [[...s, name], o] : [s, [...o, name]],
    [[], []],
  );
  if (same.length !== 1 || other.length !== 1) {
    throw new Error(`expected one backend on each of node-1's ENIs, got ${same} / ${other}`);
  }
  return { sameEni: same[0]!, otherEni: other[0]! };
}

function service(name: string, clusterIP: string, backends: string[]): LabService {
  return {
    name,
    clusterIP,
    tcp: { port: 80, targetPort: HTTP },
    udp: { port: 53, targetPort: DNS },
    endpoints: backends.map((backend) => ({ ip: pod(backend).ip, pod: backend })),
  };
}

function flowRecords(): FlowRecord[] {
  const map = NativeBpfMap.openPinned(`${the().node(CLIENT_NODE).bpfPinDir}/${LB_MAP_NAMES.flow}`);
  try {
    return readFlowRecords(map);
  } finally {
    map.close();
  }
}

/** terway_lb_frontends by state, scraped from the node's terwayd as Prometheus would. */
async function lbFrontendGauges(metricsUrl: string): Promise<Record<string, number>> {
  const gauges: Record<string, number> = {};
  for (const [series, value] of await scrape(metricsUrl)) {
    const state = /^terway_lb_frontends\{state="(\w+)"\}$/.exec(series)?.[1];
    if (state !== undefined) gauges[state] = value;
  }
  return gauges;
}

/** terway_lb_new_flows_total of one outcome, scraped from the node's terwayd. */
async function newFlows(metricsUrl: string, outcome: 'balanced' | 'refused'): Promise<number> {
  const value = (await scrape(metricsUrl)).get(`terway_lb_new_flows_total{outcome="${outcome}"}`);
  if (value === undefined) throw new Error(`${metricsUrl} has no terway_lb_new_flows_total`);
  return value;
}

/** terway-cli's JSON for `args` against the client node's terwayd. */
async function cliJson<T>(args: string[]): Promise<T> {
  const result = await the().cli(CLIENT_NODE, [...args, '--json']);
  if (result.code !== 0) throw new Error(`terway-cli ${args.join(' ')} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface CliFlow {
  clientAddress: string;
  clientPort: number;
  movedClientPort: number;
  direct: boolean;
  clientPod: { namespace: string; name: string } | null;
  service: string;
  backendAddress: string;
  backendPort: number;
  backendPod: { name: string } | null;
  packets: number;
}

interface CliFrontend {
  address: string;
  port: number;
  protocol: string;
  service: string;
  topology: string;
  counters: { flows: number; packets: number; rejected: number } | null;
  backends: Array<{
    address: string;
    state: string;
    pod: { name: string } | null;
    counters: { flows: number } | null;
  }>;
}

async function tcpVia(clusterIP: string, line: string): Promise<AgentReply & { reply: EchoReply }> {
  return (await agent('p1').must('tcpOnce', { host: clusterIP, port: 80, line })) as AgentReply & {
    reply: EchoReply;
  };
}

async function udpVia(clusterIP: string, line: string): Promise<AgentReply & { reply: EchoReply }> {
  return (await agent('p1').must('udpOnce', { host: clusterIP, port: 53, line })) as AgentReply & {
    reply: EchoReply;
  };
}

const SCENARIOS = [
  {
    scenario: 5,
    where: 'on the client pod’s ENI',
    clusterIP: '10.96.5.1',
    pick: () => backendsByEni().sameEni,
  },
  {
    scenario: 6,
    where: 'on another ENI of the node',
    clusterIP: '10.96.6.1',
    pick: () => backendsByEni().otherEni,
  },
  { scenario: 7, where: 'on another node', clusterIP: '10.96.7.1', pick: () => 'q1' },
];

describe.each(SCENARIOS)(
  'scenario $scenario: a Service backed by a pod $where',
  ({ clusterIP, pick }) => {
    beforeAll(async () => {
      await applyServices(the().node(CLIENT_NODE), [service('svc', clusterIP, [pick()])]);
    });

    test('TCP and UDP to the ClusterIP are answered by the backend, which sees the client pod', async () => {
      const backend = pick();
      const tcp = await tcpVia(clusterIP, 'hello');
      expect(tcp.reply).toEqual(expect.objectContaining({ name: backend, peer: pod('p1').ip }));
      // The client's socket talks to the ClusterIP: the reply was translated back.
      expect(tcp['remoteAddress']).toBe(clusterIP);
      const udp = await udpVia(clusterIP, 'hello');
      expect(udp.reply).toEqual(expect.objectContaining({ name: backend, peer: pod('p1').ip }));
      expect((udp['rinfo'] as { address: string }).address).toBe(clusterIP);
    });

    test('captures: the ClusterIP never reaches a wire, only the client’s socket', async () => {
      const backendPod = pod(pick());
      let peer: unknown;
      const captures = await captureDuring(
        [pod('p1').netnsPath, the().node(CLIENT_NODE).netnsPath, backendPod.netnsPath],
        async () => {
          peer = (await tcpVia(clusterIP, 'captured'))['remoteAddress'];
          await udpVia(clusterIP, 'captured');
        },
      );
      // The client's socket is connected to the ClusterIP...
      expect(peer).toBe(clusterIP);
      // ...but the program translates on the pod's own eth0: taps there (they see egress after tc
      // and ingress before it), on the node and on the backend carry pod IPs only.
      for (const [where, capture] of ['client pod', 'node', 'backend pod'].map(
        (label, index) => [label, captures[index]!] as const,
      )) {
        expect({ where, clusterIP: capture.mentioning(clusterIP) }).toEqual({
          where,
          clusterIP: [],
        });
        expect({ where, backend: capture.mentioning(backendPod.ip).length > 0 }).toEqual({
          where,
          backend: true,
        });
      }
      expect(captures[2]!.mentioning(pod('p1').ip).length).toBeGreaterThan(0);
    });

    test('the translation record names the backend the connection reached', async () => {
      const tcp = await tcpVia(clusterIP, 'recorded');
      const record = flowRecords().find(
        (flow) =>
          flow.protocol === 'TCP' &&
          flow.client.port === tcp['localPort'] &&
          flow.frontend.ip === clusterIP,
      );
      expect(record).toEqual(
        expect.objectContaining({
          client: { ip: pod('p1').ip, port: tcp['localPort'] },
          frontend: { ip: clusterIP, port: 80 },
          backend: expect.objectContaining({ ip: pod(tcp.reply.name).ip, port: HTTP }),
        }),
      );
      expect(record!.packets).toBeGreaterThan(0n);
      expect(record!.bytes).toBeGreaterThan(0n);

      // The same record as an operator reads it: terway-cli, through the node's terwayd.
      const { flows } = await cliJson<{ flows: CliFlow[] }>([
        'show',
        'flows',
        '--pod',
        `default/p1`,
        '--service',
        `${clusterIP}:80`,
      ]);
      const shown = flows.find((flow) => flow.clientPort === tcp['localPort']);
      const backend = tcp.reply.name;
      expect(shown).toEqual(
        expect.objectContaining({
          clientAddress: pod('p1').ip,
          clientPod: expect.objectContaining({ namespace: 'default', name: 'p1' }),
          service: 'default/svc',
          backendAddress: pod(backend).ip,
          backendPort: HTTP,
          // q1 is on node-2: no pod record of this node names it, its EndpointSlice does.
          backendPod:
            backend === 'q1'
              ? { namespace: 'default', name: 'q1', containerId: '' }
              : expect.objectContaining({ name: backend }),
        }),
      );
      expect(shown!.packets).toBeGreaterThan(0);
      expect(flows.every((flow) => flow.clientAddress === pod('p1').ip)).toBe(true);
    });
  },
);

describe('a Service with a backend in each scenario', () => {
  const CLUSTER_IP = '10.96.9.1';
  const ALL = ['p2', 'p3', 'q1'];

  beforeAll(async () => {
    await applyServices(the().node(CLIENT_NODE), [service('all', CLUSTER_IP, ALL)]);
  });

  test('many connections use every backend, and every packet of a flow reaches one backend', async () => {
    const seen = new Map<string, number>();
    for (let index = 0; index < 30; index++) {
      const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
      const answers: string[] = [];
      for (let line = 0; line < 3; line++) {
        const sent = (await agent('p1').must('tcpSend', {
          conn: opened['conn'],
          line: `c${index}-${line}`,
        })) as AgentReply & {
          reply: EchoReply;
        };
        answers.push(sent.reply.name);
      }
      await agent('p1').must('tcpClose', { conn: opened['conn'] });
      expect(new Set(answers).size).toBe(1);
      seen.set(answers[0]!, (seen.get(answers[0]!) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(ALL);
  });

  test('a backend that stops being ready gets no new flows; its established connection keeps working', async () => {
    const node = the().node(CLIENT_NODE);
    // An established connection, and the backend it landed on.
    const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
    const first = (await agent('p1').must('tcpSend', {
      conn: opened['conn'],
      line: 'before',
    })) as AgentReply & {
      reply: EchoReply;
    };
    const drained = first.reply.name;
    await applyServices(node, [
      {
        ...service('all', CLUSTER_IP, []),
        endpoints: ALL.map((name) => ({ ip: pod(name).ip, ready: name !== drained })),
      },
    ]);
    for (let index = 0; index < 20; index++) {
      expect((await tcpVia(CLUSTER_IP, `new-${index}`)).reply.name).not.toBe(drained);
    }
    const after = (await agent('p1').must('tcpSend', {
      conn: opened['conn'],
      line: 'after',
    })) as AgentReply & {
      reply: EchoReply;
    };
    expect(after.reply.name).toBe(drained);
    // terway-cli shows the drained backend as such, still counted, beside the ready ones.
    const { frontends } = await cliJson<{ frontends: CliFrontend[] }>([
      'show',
      'services',
      `${CLUSTER_IP}:80`,
    ]);
    expect(frontends.map((frontend) => [frontend.protocol, frontend.service])).toEqual([
      ['TCP', 'default/all'],
    ]);
    const states = Object.fromEntries(
      frontends[0]!.backends.map((backend) => [backend.address, backend.state]),
    );
    expect(states).toEqual(
      Object.fromEntries(
        ALL.map((name) => [pod(name).ip, name === drained ? 'draining' : 'ready']),
      ),
    );
    const drainedRow = frontends[0]!.backends.find((b) => b.address === pod(drained).ip)!;
    expect(drainedRow.counters!.flows).toBeGreaterThan(0);
    await agent('p1').must('tcpClose', { conn: opened['conn'] });
    await applyServices(node, [service('all', CLUSTER_IP, ALL)]);
  });

  test('scaled to zero: connecting is refused at once, over TCP and UDP', async () => {
    const node = the().node(CLIENT_NODE);
    await applyServices(node, [service('all', CLUSTER_IP, [])]);
    const refusedBefore = await newFlows(node.metrics, 'refused');
    const tcp = await agent('p1').call('tcpOpen', { host: CLUSTER_IP, port: 80, timeoutMs: 3000 });
    expect(tcp).toEqual(expect.objectContaining({ ok: false, code: 'ECONNREFUSED' }));
    expect(tcp.ms).toBeLessThan(1000);
    const udp = await agent('p1').call('udpOnce', {
      host: CLUSTER_IP,
      port: 53,
      line: 'x',
      connect: true,
      timeoutMs: 3000,
    });
    expect(udp).toEqual(expect.objectContaining({ ok: false, code: 'ECONNREFUSED' }));
    // The datapath counted both for the node, as an alert on refused connections would read it.
    expect(await newFlows(node.metrics, 'refused')).toBe(refusedBefore + 2);
    // terway-cli reads the same counts.
    const shown = await cliJson<{ newFlowsRefused: number }>(['show', 'services']);
    expect(shown.newFlowsRefused).toBe(refusedBefore + 2);
    // Each refusal is counted on its frontend, and terway-cli says why they happen.
    const { frontends } = await cliJson<{ frontends: CliFrontend[] }>([
      'show',
      'services',
      CLUSTER_IP,
    ]);
    expect(frontends.map((f) => [f.port, f.protocol, f.backends.length])).toEqual([
      [53, 'UDP', 0],
      [80, 'TCP', 0],
    ]);
    for (const frontend of frontends) expect(frontend.counters!.rejected).toBeGreaterThan(0);
    const text = await the().cli(CLIENT_NODE, ['show', 'services', `${CLUSTER_IP}:80`]);
    expect(text.stdout).toContain('no ready backend: new connections are refused at once');
    // And terwayd's metrics count such frontends, for an alert to fire on.
    expect(await lbFrontendGauges(node.metrics)).toEqual({
      desired: 2,
      programmed: 2,
      blocked: 0,
      no_ready_backend: 2,
    });
    await applyServices(node, [service('all', CLUSTER_IP, ALL)]);
    expect(await lbFrontendGauges(node.metrics)).toEqual({
      desired: 2,
      programmed: 2,
      blocked: 0,
      no_ready_backend: 0,
    });
  });

  test('a services file that does not parse changes nothing, and terway-cli and the metrics say so until it is fixed', async () => {
    const node = the().node(CLIENT_NODE);
    const rejected = async () => (await scrape(node.metrics)).get('terway_services_file_rejected');
    const problemLine = async () =>
      (await the().cli(CLIENT_NODE, ['show', 'services', CLUSTER_IP])).stdout
        .split('\n')
        .find((line) => line.startsWith('  services file')) ?? '';
    const settles = async (value: number) => {
      const deadline = Date.now() + 10_000;
      while ((await rejected()) !== value && Date.now() < deadline) await sleep(50);
      expect(await rejected()).toBe(value);
    };
    expect(await rejected()).toBe(0);
    writeFileSync(`${node.services}.tmp`, 'kind: Service\nspec: [unclosed\n');
    renameSync(`${node.services}.tmp`, node.services);
    await settles(1);
    expect(await problemLine()).toMatch(
      /^ {2}services file not applied, the last good state stays programmed: .*not valid YAML/,
    );
    // The Service it had is still served.
    expect(ALL).toContain((await tcpVia(CLUSTER_IP, 'while-broken')).reply.name);
    // The good content back, as it was: the maps already hold it, so only the error goes.
    await applyServices(node, [service('all', CLUSTER_IP, ALL)]);
    await settles(0);
    expect(await problemLine()).toBe('');
  });

  test('a Service re-created under a connection it had counts none of that connection; the old id is parked', async () => {
    const node = the().node(CLIENT_NODE);
    const send = async (conn: unknown, line: string) =>
      ((await agent('p1').must('tcpSend', { conn, line })) as AgentReply & { reply: EchoReply })
        .reply.name;
    const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
    const reached = await send(opened['conn'], 'before');
    // The Service goes while another keeps its backends (and so the connection's) in the maps,
    // then comes back under the same ClusterIP: a new frontend.
    const keep = service('keep', '10.96.9.2', ALL);
    await applyServices(node, [keep]);
    await applyServices(node, [keep, service('all', CLUSTER_IP, ALL)]);
    // The connection finds its flow again and goes on, counted under the id it was created with.
    for (let index = 0; index < 5; index++) {
      expect(await send(opened['conn'], `after-${index}`)).toBe(reached);
    }
    const tcpFrontend = async () =>
      (await cliJson<{ frontends: CliFrontend[] }>(['show', 'services', `${CLUSTER_IP}:80`]))
        .frontends[0]!;
    expect((await tcpFrontend()).counters).toMatchObject({ flows: 0, packets: 0 });
    const metrics = await scrape(node.metrics);
    expect(metrics.get('terway_lb_parked_frontend_ids')).toBeGreaterThanOrEqual(1);
    const text = await the().cli(CLIENT_NODE, ['show', 'services', CLUSTER_IP]);
    expect(text.stdout).toMatch(
      /\n {2}\d+ frontend ids? parked: deleted frontends whose connections/,
    );
    await agent('p1').must('tcpClose', { conn: opened['conn'] });
    // Its own connections count as usual.
    expect(ALL).toContain((await tcpVia(CLUSTER_IP, 'fresh')).reply.name);
    expect((await tcpFrontend()).counters!.flows).toBe(1);
    await applyServices(node, [service('all', CLUSTER_IP, ALL)]);
  });

  test('a daemon restart mid-stream does not break an established connection', async () => {
    const lab = the();
    const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
    const before = (await agent('p1').must('tcpSend', {
      conn: opened['conn'],
      line: 'before',
    })) as AgentReply & {
      reply: EchoReply;
    };
    const metrics = lab.node(CLIENT_NODE).metrics;
    const balanced = await newFlows(metrics, 'balanced');
    await lab.restartDaemon(CLIENT_NODE);
    // The node's count of new flows lives in the maps: the new daemon carries on from it.
    expect(await newFlows(metrics, 'balanced')).toBe(balanced);
    const after = (await agent('p1').must('tcpSend', {
      conn: opened['conn'],
      line: 'after',
    })) as AgentReply & {
      reply: EchoReply;
    };
    expect(after.reply.name).toBe(before.reply.name);
    await agent('p1').must('tcpClose', { conn: opened['conn'] });
    // And the restarted daemon serves the same Service: new flows still land on backends.
    expect(ALL).toContain((await tcpVia(CLUSTER_IP, 'fresh')).reply.name);
    expect(await newFlows(metrics, 'balanced')).toBe(balanced + 1);
  }, 90_000);

  test('a restart asking for another conntrack table size moves the flows into new tables, and an established connection keeps its backend', async () => {
    const lab = the();
    const metrics = lab.node(CLIENT_NODE).metrics;
    const capacity = async () => (await scrape(metrics)).get('terway_lb_conntrack_capacity');
    expect(await capacity()).toBe(262_144);
    const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
    try {
      const before = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'before',
      })) as AgentReply & { reply: EchoReply };
      const connectionFlow = () =>
        flowRecords().filter(
          (flow) => flow.client.ip === pod('p1').ip && flow.client.port === opened['localPort'],
        );
      const [moved] = connectionFlow();
      expect(moved).toBeDefined();
      const logFrom = lab.logSize(CLIENT_NODE);
      await lab.restartDaemon(CLIENT_NODE, {}, ['--lb-flow-table-size', '1048576']);
      expect(await capacity()).toBe(1_048_576);
      const logged = (text: string) =>
        lab
          .logSince(CLIENT_NODE, logFrom)
          .split('\n')
          .filter((line) => line.includes(text))
          .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged('resizing the conntrack tables')).toEqual([
        expect.objectContaining({ flowTableSize: 262_144, requested: 1_048_576 }),
      ]);
      expect(logged('conntrack tables resized')).toEqual([
        expect.objectContaining({ flowTableSize: 1_048_576 }),
      ]);
      // The pods were moved to programs on the new tables before the old ones were retired.
      expect(logged("Service LB programs checked against this daemon's build")).toEqual([
        expect.objectContaining({ replaced: expect.arrayContaining(['default/p1']), failed: [] }),
      ]);
      const after = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'after',
      })) as AgentReply & { reply: EchoReply };
      expect(after.reply.name).toBe(before.reply.name);
      // The very entry the old tables held (its first packet's time), counting on in the new ones.
      const [kept] = connectionFlow();
      expect(kept?.firstSeenNs).toBe(moved!.firstSeenNs);
      expect(kept!.packets).toBeGreaterThan(moved!.packets);
      expect(kept!.backend).toEqual(moved!.backend);
    } finally {
      await agent('p1').must('tcpClose', { conn: opened['conn'] });
      // Back to the default size: a resize the other way.
      await lab.restartDaemon(CLIENT_NODE);
    }
    expect(await capacity()).toBe(262_144);
  }, 120_000);

  test("the conntrack collector deletes ended connections' entries; an idle live one keeps its entry and its backend", async () => {
    const lab = the();
    await lab.restartDaemon(CLIENT_NODE, {}, ['--lb-collect-interval', '1s']);
    const metrics = lab.node(CLIENT_NODE).metrics;
    const collected = async (): Promise<number> =>
      (await scrape(metrics)).get('terway_lb_conntrack_collected_total{table="flow"}') ?? -1;
    const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
    const idle = opened['localPort'] as number;
    try {
      const before = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'before',
      })) as AgentReply & { reply: EchoReply };
      const ended: number[] = [];
      for (let index = 0; index < 5; index++) {
        ended.push((await tcpVia(CLUSTER_IP, `short ${index}`))['localPort'] as number);
      }
      const clientFlows = (ports: number[]) =>
        flowRecords().filter(
          (flow) =>
            flow.client.ip === pod('p1').ip &&
            flow.frontend.ip === CLUSTER_IP &&
            ports.includes(flow.client.port),
        );
      expect(clientFlows([idle, ...ended])).toHaveLength(6);
      const collectedBefore = await collected();
      expect(collectedBefore).toBeGreaterThanOrEqual(0);

      // A closed connection's entry lives 10 s; the collector passes every second after that.
      const deadline = Date.now() + 25_000;
      while (clientFlows(ended).length > 0 && Date.now() < deadline) await sleep(500);

      expect(clientFlows(ended)).toEqual([]);
      expect(await collected()).toBeGreaterThanOrEqual(collectedBefore + ended.length);
      expect(clientFlows([idle]).map((flow) => flow.state)).toEqual(['established']);
      const after = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'after',
      })) as AgentReply & { reply: EchoReply };
      expect(after.reply.name).toBe(before.reply.name);
      const live = (await scrape(metrics)).get('terway_lb_conntrack_entries{state="live"}');
      expect(live).toBeGreaterThanOrEqual(1);
    } finally {
      await agent('p1').must('tcpClose', { conn: opened['conn'] });
      await lab.restartDaemon(CLIENT_NODE);
    }
  }, 90_000);

  test('an upgraded daemon swaps every running pod’s programs in place; an established connection keeps working; the old layout’s pins go', async () => {
    const lab = the();
    const work = mkdtempSync(join(tmpdir(), 'terway-upgrade-'));
    try {
      const otherBuild = buildOtherLbBuild(work);
      const clients = ['p1', 'p2', 'p3'];
      const tags = () => clients.map((name) => tcQuery(pod(name).netnsPath, 'eth0', 'egress')?.tag);
      const pinnedTag = () =>
        progInfo(`${lab.node(CLIENT_NODE).bpfPinDir}/progs/tw_lb_egress_gw`).tag;
      const oldTag = pinnedTag();
      expect(tags()).toEqual(clients.map(() => oldTag));
      const opened = await agent('p1').must('tcpOpen', { host: CLUSTER_IP, port: 80 });
      const before = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'before',
      })) as AgentReply & { reply: EchoReply };

      // A map an older layout version left pinned: the upgraded daemon unpins it.
      const pinDir = lab.node(CLIENT_NODE).bpfPinDir;
      const stalePin = join(pinDir, 'tw_flow_v0');
      execFileSync('bpftool', [
        'map',
        'create',
        stalePin,
        'type',
        'hash',
        'key',
        '4',
        'value',
        '4',
        'entries',
        '8',
        'name',
        'tw_flow_v0',
      ]);

      const offset = lab.logSize(CLIENT_NODE);
      await lab.restartDaemon(CLIENT_NODE, {}, ['--bpf-object', otherBuild]);
      expect(existsSync(stalePin)).toBe(false);
      expect(lab.logSince(CLIENT_NODE, offset)).toContain(
        '"removed":["tw_flow_v0"],"msg":"removed the pins of another map layout version"',
      );
      expect(existsSync(join(pinDir, LB_MAP_NAMES.flow))).toBe(true);
      const newTag = pinnedTag();
      expect(newTag).not.toBe(oldTag);
      expect(tags()).toEqual(clients.map(() => newTag));
      const refreshed = lab
        .logSince(CLIENT_NODE, offset)
        .split('\n')
        .find((line) => line.includes('Service LB programs checked'));
      expect(JSON.parse(refreshed ?? '{}')).toMatchObject({
        current: 0,
        replaced: expect.arrayContaining(clients.map((name) => `default/${name}`)),
        restored: [],
        failed: [],
      });

      const after = (await agent('p1').must('tcpSend', {
        conn: opened['conn'],
        line: 'after',
      })) as AgentReply & { reply: EchoReply };
      expect(after.reply.name).toBe(before.reply.name);
      await agent('p1').must('tcpClose', { conn: opened['conn'] });
      expect(ALL).toContain((await tcpVia(CLUSTER_IP, 'upgraded')).reply.name);
    } finally {
      // Back to this build, as the other tests expect: a downgrade is the same swap.
      await lab.restartDaemon(CLIENT_NODE);
      rmSync(work, { recursive: true, force: true });
    }
    const back = progInfo(`${lab.node(CLIENT_NODE).bpfPinDir}/progs/tw_lb_egress_gw`).tag;
    expect(tcQuery(pod('p1').netnsPath, 'eth0', 'egress')?.tag).toBe(back);
  }, 120_000);
});

describe('two Services of one backend, dialled from one client port', () => {
  const WEB = '10.96.8.1';
  const ALIAS = '10.96.8.2';

  beforeAll(async () => {
    await applyServices(the().node(CLIENT_NODE), [
      service('web', WEB, ['p2']),
      service('web-alias', ALIAS, ['p2']),
    ]);
  });

  test('the second connection leaves from a moved port, which terway-cli show flows and the metrics name', async () => {
    const { metrics } = the().node(CLIENT_NODE);
    const movedTotal = async () =>
      (await scrape(metrics)).get(MOVED_SERVICE_CONNECTIONS) ?? Number.NaN;
    const before = await movedTotal();
    // Two sockets of p1 bound to one port (SO_REUSEADDR), one to each ClusterIP: after
    // translation both would be p1:31500 -> p2:8080 on the wire.
    const localPort = 31_500;
    const asked = clashFromP1(`${WEB}:80`, `${ALIAS}:80`, localPort);
    expect(asked.first.answer).toMatchObject({ name: 'p2', peerPort: localPort });
    expect(asked.second.answer).toMatchObject({ name: 'p2', peer: pod('p1').ip });
    const moved = asked.second.answer!.peerPort;
    expect(moved).toBeGreaterThanOrEqual(61_000);
    expect(asked.firstAgain.answer).toMatchObject({ name: 'p2', echo: 'first again' });

    // What p2 saw is what the daemon reports, through gRPC, for the flow to web-alias.
    const { flows } = await cliJson<{ flows: CliFlow[] }>([
      'show',
      'flows',
      '--service',
      'default/web-alias',
    ]);
    expect(flows.find((flow) => flow.clientPort === localPort)).toMatchObject({
      movedClientPort: moved,
      backendPod: { name: 'p2' },
    });
    const toWeb = await cliJson<{ flows: CliFlow[] }>([
      'show',
      'flows',
      '--service',
      'default/web',
    ]);
    expect(toWeb.flows.find((flow) => flow.clientPort === localPort)?.movedClientPort).toBe(0);
    expect((await movedTotal()) - before).toBe(1);
  });

  test('a direct connection from a port a ClusterIP flow holds leaves from a moved port, which terway-cli show flows and the metrics name', async () => {
    const { metrics } = the().node(CLIENT_NODE);
    const movedDirect = async () =>
      (await scrape(metrics)).get(MOVED_DIRECT_CONNECTIONS) ?? Number.NaN;
    const before = await movedDirect();
    // A connection to the ClusterIP, then one straight to p2's pod IP from the same port: on the
    // wire both would be p1:31501 -> p2:8080.
    const localPort = 31_501;
    const asked = clashFromP1(`${WEB}:80`, `${pod('p2').ip}:${HTTP}`, localPort);
    expect(asked.first.answer).toMatchObject({ name: 'p2', peerPort: localPort });
    expect(asked.second.answer).toMatchObject({ name: 'p2', peer: pod('p1').ip, echo: 'second' });
    const moved = asked.second.answer!.peerPort;
    expect(moved).toBeGreaterThanOrEqual(61_000);
    expect(asked.firstAgain.answer).toMatchObject({ name: 'p2', echo: 'first again' });

    const { flows } = await cliJson<{ flows: CliFlow[] }>(['show', 'flows', '--pod', 'default/p1']);
    expect(flows.find((flow) => flow.clientPort === localPort && flow.direct)).toMatchObject({
      movedClientPort: moved,
      service: '',
      backendAddress: pod('p2').ip,
      backendPod: { name: 'p2' },
    });
    expect(flows.find((flow) => flow.clientPort === localPort && !flow.direct)).toMatchObject({
      service: 'default/web',
      movedClientPort: 0,
    });
    expect((await movedDirect()) - before).toBe(1);
  });
});

/** The moved-port counter's two series: flows to a Service, and direct connections. */
const MOVED_SERVICE_CONNECTIONS = 'terway_lb_moved_client_ports_total{connection="service"}';
const MOVED_DIRECT_CONNECTIONS = 'terway_lb_moved_client_ports_total{connection="direct"}';

/** test/support/port-clash.py tcp in p1: two connections from one local port, `first` then `second`. */
function clashFromP1(first: string, second: string, localPort: number): ClashResult {
  return portClash({ path: pod('p1').netnsPath }, 'tcp', first, second, localPort);
}

describe('internalTrafficPolicy: Local', () => {
  const CLUSTER_IP = '10.96.10.1';
  /** p2 and p3 run on the client's node, q1 on node-2; the slice says so, as the controller would. */
  const nodeOf = (name: string): string => (name.startsWith('q') ? 'node-2' : CLIENT_NODE);
  const localService = (backends: string[]): LabService => ({
    ...service('local', CLUSTER_IP, []),
    internalTrafficPolicy: 'Local',
    endpoints: backends.map((name) => ({ ip: pod(name).ip, nodeName: nodeOf(name) })),
  });

  test("the ClusterIP reaches only the client node's backends; with none there it is refused, though node-2 has one", async () => {
    const node = the().node(CLIENT_NODE);
    // applyServices waits for the maps to hold exactly node-1's endpoints (expectedTable).
    await applyServices(node, [localService(['p2', 'p3', 'q1'])]);
    const seen = new Set<string>();
    for (let index = 0; index < 20; index++) {
      seen.add((await tcpVia(CLUSTER_IP, `local-${index}`)).reply.name);
    }
    expect([...seen].sort()).toEqual(['p2', 'p3']);
    expect((await udpVia(CLUSTER_IP, 'local-udp')).reply.name).toMatch(/^p[23]$/);

    await applyServices(node, [localService(['q1'])]);
    const tcp = await agent('p1').call('tcpOpen', { host: CLUSTER_IP, port: 80, timeoutMs: 3000 });
    expect(tcp).toEqual(expect.objectContaining({ ok: false, code: 'ECONNREFUSED' }));
    expect(tcp.ms).toBeLessThan(1000);

    // The same objects without the policy: q1 on node-2 serves the client again.
    await applyServices(node, [{ ...localService(['q1']), internalTrafficPolicy: 'Cluster' }]);
    expect((await tcpVia(CLUSTER_IP, 'cluster')).reply.name).toBe('q1');
  });
});

describe('topology hints', () => {
  const CLUSTER_IP = '10.96.10.2';
  /** Another zone of the region: no lab node is in it. */
  const OTHER_ZONE = 'cn-hangzhou-j';
  const zonedService = (zones: Record<string, string | undefined>): LabService => ({
    ...service('zoned', CLUSTER_IP, []),
    endpoints: Object.entries(zones).map(([name, zone]) => ({
      ip: pod(name).ip,
      ...(zone === undefined ? {} : { zones: [zone] }),
    })),
  });

  test("new flows go to the backends hinted for the node's zone (the instance's, from metadata); a backend without a hint turns the hints off", async () => {
    const node = the().node(CLIENT_NODE);
    // applyServices waits for the maps to hold exactly the in-zone endpoints (expectedTable).
    await applyServices(node, [zonedService({ p2: LAB_ZONE, p3: OTHER_ZONE, q1: LAB_ZONE })]);
    const seen = new Set<string>();
    for (let index = 0; index < 20; index++) {
      seen.add((await tcpVia(CLUSTER_IP, `zoned-${index}`)).reply.name);
    }
    expect([...seen].sort()).toEqual(['p2', 'q1']);
    expect((await udpVia(CLUSTER_IP, 'zoned-udp')).reply.name).toMatch(/^(p2|q1)$/);
    // terway-cli says why p3, ready, takes no new flows.
    const shown = await cliJson<{ frontends: CliFrontend[]; node: string; zone: string }>([
      'show',
      'services',
      `${CLUSTER_IP}:80`,
    ]);
    expect({ node: shown.node, zone: shown.zone }).toEqual({ node: CLIENT_NODE, zone: LAB_ZONE });
    const { frontends } = shown;
    expect(frontends.map((frontend) => frontend.topology)).toEqual(['zone']);
    expect(
      Object.fromEntries(frontends[0]!.backends.map((backend) => [backend.address, backend.state])),
    ).toEqual({ [pod('p2').ip]: 'ready', [pod('q1').ip]: 'ready', [pod('p3').ip]: 'other zone' });

    await applyServices(node, [zonedService({ p2: LAB_ZONE, p3: undefined, q1: LAB_ZONE })]);
    const all = new Set<string>();
    for (let index = 0; index < 30 && all.size < 3; index++) {
      all.add((await tcpVia(CLUSTER_IP, `unzoned-${index}`)).reply.name);
    }
    expect([...all].sort()).toEqual(['p2', 'p3', 'q1']);
    const after = await cliJson<{ frontends: CliFrontend[] }>(['show', 'services', CLUSTER_IP]);
    expect(after.frontends.map((frontend) => frontend.topology)).toEqual(['', '']);
  }, 30_000);
});
