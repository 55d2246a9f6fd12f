/**
 * The Service LB under churn, through the real terwayd of a lab node: a client pod keeps short
 * connections to a ClusterIP, short direct connections to one backend, and long-lived ClusterIP
 * connections going (test/support/lb-churn-load.py) while the Service's backends are drained and
 * restored and the daemon restarts. Nothing may fail, and the datapath must have counted exactly
 * one new flow per ClusterIP connection the client made.
 *
 * The client reuses TIME_WAIT ports (net.ipv4.tcp_tw_reuse=1, as busy clients are set up): without
 * it, its own kernel runs out of ports towards the ClusterIP within the minute. With it, most new
 * connections take the port of a finished one, so the programs' path for a SYN on a closed flow's
 * port runs thousands of times, and a direct connection now and then meets a port a ClusterIP
 * connection to its backend holds (moved, not refused).
 */
import { afterAll, expect, test } from '@jest/globals';

import { join } from 'node:path';

import { Agent } from '../support/bpf-lab.js';
import { REPO_ROOT } from '../support/bins.js';
import { inNetns, useLab, type LabPod } from '../support/lab.js';
import { applyServices, type LabService } from '../support/lab-services.js';
import { scrape } from '../support/metric-value.js';

const NODE = 'node-1';
const HTTP = 8080;
const CLUSTER_IP = '10.96.0.77';
const BACKENDS = ['w1', 'w2', 'w3'];
const LOAD_SECONDS = 24;

const pods = new Map<string, LabPod>();
const agents: Agent[] = [];

const the = useLab({ nodes: 1 }, async (lab) => {
  for (const name of ['client', ...BACKENDS]) pods.set(name, await lab.addPod(NODE, name));
  for (const name of BACKENDS) {
    const pod = pods.get(name)!;
    const agent = new Agent({ path: pod.netnsPath }, name);
    agents.push(agent);
    await agent.ready;
    await agent.must('serve', { name, host: pod.ip, tcp: [HTTP], udp: [] });
  }
  const client = pods.get('client')!;
  const reuse = await inNetns(client.netns, 'sysctl', ['-qw', 'net.ipv4.tcp_tw_reuse=1']);
  if (reuse.code !== 0) throw new Error(`sysctl in the client pod: ${reuse.stderr}`);
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
});

/** The Service with every backend ready but `drained` (listed, not ready). */
function service(drained?: string): LabService {
  return {
    name: 'churn',
    clusterIP: CLUSTER_IP,
    tcp: { port: 80, targetPort: HTTP },
    endpoints: BACKENDS.map((name) => ({
      ip: pods.get(name)!.ip,
      pod: name,
      ready: name !== drained,
    })),
  };
}

interface KindStats {
  ok: number;
  failed: number;
  failures: Array<[number, string]>;
}

interface LoadResult {
  stats: { short: KindStats; direct: KindStats; long: KindStats };
  names: Record<string, number>;
}

/** The node's new flows to Services by outcome, from one scrape of its terwayd. */
async function newFlows(): Promise<Record<'balanced' | 'refused' | 'clashed', number>> {
  const series = await scrape(the().node(NODE).metrics);
  const outcome = (name: string): number => {
    const value = series.get(`terway_lb_new_flows_total{outcome="${name}"}`);
    if (value === undefined) throw new Error(`terwayd exports no new flows ${name}`);
    return value;
  };
  return {
    balanced: outcome('balanced'),
    refused: outcome('refused'),
    clashed: outcome('clashed'),
  };
}

test('connections through drains, restores and a daemon restart: none fails, each ClusterIP connection is one new flow', async () => {
  const lab = the();
  const node = lab.node(NODE);
  await applyServices(node, [service()]);
  const before = await newFlows();
  const client = pods.get('client')!;
  const loadStarted = Date.now();
  const load = inNetns(
    client.netns,
    'python3',
    [
      join(REPO_ROOT, 'test/support/lb-churn-load.py'),
      String(LOAD_SECONDS),
      CLUSTER_IP,
      '80',
      pods.get('w1')!.ip,
      String(HTTP),
    ],
    { timeoutMs: (LOAD_SECONDS + 30) * 1000 },
  );
  // Each step after a pause, so the load meets every state: [pause before it, what, the step].
  const steps: Array<[number, string, () => Promise<unknown>]> = [
    [3_000, 'w1 drained', () => applyServices(node, [service('w1')])],
    [3_000, 'w1 restored', () => applyServices(node, [service()])],
    [2_000, 'terwayd restarted', () => lab.restartDaemon(NODE)],
    [2_000, 'w2 drained', () => applyServices(node, [service('w2')])],
    [3_000, 'w2 restored', () => applyServices(node, [service()])],
  ];
  for (const [pauseMs, what, step] of steps) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    await step().catch((error: unknown) => {
      throw new Error(`step "${what}" failed: ${String(error)}`);
    });
  }
  const stepsTookMs = Date.now() - loadStarted;

  const finished = await load;
  expect(finished.stderr).toBe('');
  expect(finished.code).toBe(0);
  const { stats, names } = JSON.parse(finished.stdout) as LoadResult;
  // Every step happened while the load ran (a slow machine must not let it end first).
  expect(stepsTookMs).toBeLessThan(LOAD_SECONDS * 1000);
  for (const kind of ['short', 'direct', 'long'] as const) {
    expect({ kind, failed: stats[kind].failed, failures: stats[kind].failures }).toEqual({
      kind,
      failed: 0,
      failures: [],
    });
  }
  expect(stats.short.ok).toBeGreaterThan(1_000);
  expect(stats.direct.ok).toBeGreaterThan(500);
  // Eight connections, one line every 0.2 s each, for the whole load.
  expect(stats.long.ok).toBeGreaterThan(8 * LOAD_SECONDS * 2);
  // Every backend answered new connections, w1 also the direct ones.
  for (const name of BACKENDS) expect(names[name] ?? 0).toBeGreaterThan(0);
  // One new flow per ClusterIP connection (the short ones and the eight long-lived ones), counted
  // by the programs across the daemon's restart; none refused.
  const after = await newFlows();
  expect(after.balanced - before.balanced).toBe(stats.short.ok + 8);
  expect(after.refused - before.refused).toBe(0);
  expect(after.clashed - before.clashed).toBe(0);
}, 120_000);
