/**
 * terwayd in cluster mode, end to end: a lab node's real daemon started with `--kubeconfig` (the
 * in-repo apiserver, in this process) instead of its services file. Services and EndpointSlices
 * created, changed and deleted on the apiserver reach the node's maps through the daemon's own
 * informers, and a client pod's connections to the ClusterIP follow them.
 */
import { afterAll, describe, expect, test } from '@jest/globals';

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { K8sObject } from '../../src/k8s/test-apiserver.js';
import { TestApiServer } from '../../src/k8s/test-apiserver.js';
import { Agent, type AgentReply, type EchoReply } from '../support/bpf-lab.js';
import type { Exec, LabPod } from '../support/lab.js';
import { useLab } from '../support/lab.js';
import { awaitLbTable, labServiceObjects, type LabService } from '../support/lab-services.js';

const NODE = 'node-1';
const HTTP = 8080;
const DNS = 5353;
const CLUSTER_IP = '10.96.20.1';

const pods = new Map<string, LabPod>();
const agents = new Map<string, Agent>();
let server: TestApiServer | undefined;
const tmp = mkdtempSync(join(tmpdir(), 'terway-cluster-mode-'));
const kubeconfigPath = join(tmp, 'kubeconfig');

const the = useLab({ nodes: 1 }, async (lab) => {
  for (const name of ['client', 'web-1', 'web-2']) pods.set(name, await lab.addPod(NODE, name));
  for (const [name, pod] of pods) {
    const agent = new Agent({ path: pod.netnsPath }, name);
    agents.set(name, agent);
    await agent.ready;
    if (name !== 'client') {
      await agent.must('serve', { name, host: pod.ip, tcp: [HTTP], udp: [DNS] });
    }
  }
  server = await TestApiServer.start();
  server.writeKubeconfig(kubeconfigPath);
  await lab.restartDaemon(NODE, {}, ['--kubeconfig', kubeconfigPath], ['--services']);
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.stop()));
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function pod(name: string): LabPod {
  const found = pods.get(name);
  if (!found) throw new Error(`no pod ${name}`);
  return found;
}

function apiserver(): TestApiServer {
  if (server === undefined) throw new Error('the apiserver did not start');
  return server;
}

function web(endpoints: LabService['endpoints']): LabService {
  return {
    name: 'web',
    clusterIP: CLUSTER_IP,
    tcp: { port: 80, targetPort: HTTP },
    udp: { port: 53, targetPort: DNS },
    endpoints,
  };
}

/** Creates or updates the lab Service's objects on the apiserver. */
function apply(service: LabService): void {
  for (const object of labServiceObjects(service) as K8sObject[]) {
    const { kind, metadata } = object;
    const exists = apiserver().get(kind ?? '', metadata?.namespace ?? '', metadata?.name ?? '');
    if (exists === undefined) apiserver().create(object);
    else apiserver().update(object);
  }
}

async function tcpVia(line: string): Promise<AgentReply & { reply: EchoReply }> {
  const client = agents.get('client')!;
  return (await client.must('tcpOnce', { host: CLUSTER_IP, port: 80, line })) as AgentReply & {
    reply: EchoReply;
  };
}

describe('terwayd --kubeconfig: the Service source is the apiserver', () => {
  test('the daemon says it runs in cluster mode and has synced', () => {
    const log = the().logSince(NODE, 0);
    expect(log).toContain('"mode":"cluster"');
    expect(log).toContain('service source synced: initial Services and EndpointSlices delivered');
  });

  test('a Service created on the apiserver is programmed, and its ClusterIP answers from its backend', async () => {
    const service = web([{ ip: pod('web-1').ip }]);
    apply(service);
    await awaitLbTable(the().node(NODE), [service], 'the apiserver');

    const tcp = await tcpVia('hello');
    expect(tcp.reply).toEqual(expect.objectContaining({ name: 'web-1', peer: pod('client').ip }));
    expect(tcp['remoteAddress']).toBe(CLUSTER_IP);
    const udp = await agents.get('client')!.must('udpOnce', {
      host: CLUSTER_IP,
      port: 53,
      line: 'hello',
    });
    expect((udp as AgentReply & { reply: EchoReply }).reply.name).toBe('web-1');
  });

  test('an EndpointSlice update moves new connections; a Service deleted on the apiserver leaves the maps', async () => {
    const moved = web([{ ip: pod('web-1').ip, ready: false }, { ip: pod('web-2').ip }]);
    apply(moved);
    await awaitLbTable(the().node(NODE), [moved], 'the apiserver');
    for (let i = 0; i < 5; i++) expect((await tcpVia(`moved ${i}`)).reply.name).toBe('web-2');

    apiserver().remove('Service', 'default', 'web');
    await awaitLbTable(the().node(NODE), [], 'the apiserver');
    // The slice outlives its Service (as in a cluster): re-created, the Service gets it back.
    apply(moved);
    await awaitLbTable(the().node(NODE), [moved], 'the apiserver');
    expect((await tcpVia('back')).reply.name).toBe('web-2');
  });

  test('while an informer cannot list, terway-cli show services says which and why; the maps keep serving; it clears once a list works', async () => {
    const service = web([{ ip: pod('web-2').ip }]);
    apply(service);
    await awaitLbTable(the().node(NODE), [service], 'the apiserver');
    const problemLine = async () =>
      (await the().cli(NODE, ['show', 'services'])).stdout
        .split('\n')
        .find((line) => line.includes('informer failing')) ?? '';
    expect(await problemLine()).toBe('');
    // The next requests for EndpointSlices fail (watch and list alike), and the watches break.
    apiserver().failNextRequests(4, 500, (request) => request.path.endsWith('/endpointslices'));
    apiserver().dropWatches('error');
    const waitFor = async (what: string, test: (line: string) => boolean): Promise<string> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const line = await problemLine();
        if (test(line)) return line;
        if (Date.now() > deadline) throw new Error(`never ${what}; last: ${JSON.stringify(line)}`);
        await sleep(100);
      }
    };
    // The broken watches show first; then the failed lists of EndpointSlices, while Services,
    // whose lists work, recover: their watch is back within a second or so, while EndpointSlices'
    // requests fail for several seconds of backoff (0.5 + 1 + 2 s, jittered), so the line settles
    // on EndpointSlices alone.
    const failing = await waitFor('EndpointSlices alone failing', (line) =>
      /^ {2}endpointslices informer failing, retrying with backoff: .*500/.test(line),
    );
    expect(failing).not.toContain('services informer failing');
    expect((await tcpVia('during')).reply.name).toBe('web-2');
    await waitFor('recovered', (line) => line === '');
  }, 60_000);

  /**
   * A Service created while the node's daemon was down, and a daemon that cannot list Services for
   * its first seconds back (the next 5 lists fail: about 12-15 s of backoff). A pod added then
   * asks the Service by UDP, once, the moment it runs: a resolver's first query.
   */
  async function restartUnableToList(
    service: LabService,
    extraArgs: string[],
  ): Promise<{ from: number; agent: Agent; header: string; readiness: Exec }> {
    await the().stopDaemon(NODE);
    apply(service);
    apiserver().failNextRequests(5, 500, (request) => request.path.endsWith('/services'));
    const from = the().logSize(NODE);
    await the().startDaemon(
      NODE,
      {},
      ['--kubeconfig', kubeconfigPath, ...extraArgs],
      ['--services'],
    );
    // What an operator sees meanwhile: the header of show services, and the chart's readiness
    // probe.
    const header = (await the().cli(NODE, ['show', 'services'])).stdout.split('\n\n')[0] ?? '';
    const readiness = await the().cli(NODE, ['status', '--services-synced']);
    const added = await the().addPod(NODE, service.name);
    const agent = new Agent({ path: added.netnsPath }, service.name);
    agents.set(service.name, agent);
    await agent.ready;
    return { from, agent, header, readiness };
  }

  /** The readiness probe while the Services list fails: not ready, saying why; alive all along. */
  async function expectNotReadyForServices(readiness: Exec, addsWait: RegExp): Promise<void> {
    expect(readiness.code).toBe(1);
    expect(readiness.stderr).toMatch(
      /is serving, but its Services are not synced: the Service LB's source \(Kubernetes API\) has not delivered a complete state yet; /,
    );
    expect(readiness.stderr).toMatch(addsWait);
    expect((await the().cli(NODE, ['status'])).code).toBe(0);
  }

  /** Once the LB has the state, the readiness probe passes. */
  async function expectReadyOnceSynced(): Promise<void> {
    const deadline = Date.now() + 30_000;
    let last: Exec | undefined;
    while (Date.now() < deadline) {
      last = await the().cli(NODE, ['status', '--services-synced']);
      if (last.code === 0) break;
      await sleep(200);
    }
    expect(last).toMatchObject({ code: 0, stderr: '' });
    expect(last!.stdout).not.toContain('Services not synced');
  }

  /** One datagram to the Service's UDP port, answered within 1 s or not at all. */
  function askOnce(agent: Agent, service: LabService, line: string): Promise<AgentReply> {
    return agent.call('udpOnce', { host: service.clusterIP, port: 53, line, timeoutMs: 1_000 });
  }

  function lateService(name: string, clusterIP: string): LabService {
    return {
      name,
      clusterIP,
      udp: { port: 53, targetPort: DNS },
      endpoints: [{ ip: pod('web-1').ip }],
    };
  }

  test("a pod added before the daemon's first list is answered once the LB has it: its first datagram to a ClusterIP is translated", async () => {
    const service = lateService('late', '10.96.20.2');
    const { from, agent, header, readiness } = await restartUnableToList(service, [
      '--lb-sync-wait',
      '30s',
    ]);
    expect(header).toContain('(first sync not complete');
    await expectNotReadyForServices(
      readiness,
      /; pod ADDs wait for it, at most \d+\.\d s more \(--lb-sync-wait\)\n$/,
    );
    expect(header).toMatch(
      /\n {2}pod ADDs are held until the first complete state is in the maps, for at most \d+\.\d s more \(--lb-sync-wait\)/,
    );
    const first = await askOnce(agent, service, 'first');
    expect(first).toMatchObject({ ok: true, reply: expect.objectContaining({ name: 'web-1' }) });
    const log = the().logSince(NODE, from);
    const held = log
      .split('\n')
      .find((line) => line.includes("pod ADD held for the Service LB's first complete state"));
    expect(held).toBeDefined();
    expect(JSON.parse(held!)).toMatchObject({
      pod: expect.stringContaining('late'),
      waitedMs: expect.any(Number),
      endedBy: 'first-state',
    });
    expect(JSON.parse(held!).waitedMs).toBeGreaterThan(1_000);
    expect(log).toContain("Service LB holds its source's first complete state");
    await expectReadyOnceSynced();
  }, 90_000);

  test('without the wait (--lb-sync-wait 0) that datagram goes out untranslated and is lost; the Service answers once the list works', async () => {
    const service = lateService('later', '10.96.20.3');
    const { from, agent, header, readiness } = await restartUnableToList(service, [
      '--lb-sync-wait',
      '0',
    ]);
    expect(header).toContain('(first sync not complete');
    await expectNotReadyForServices(
      readiness,
      /; pod ADDs do not wait for it \(--lb-sync-wait 0\)\n$/,
    );
    expect(header).not.toContain('pod ADDs');
    const first = await askOnce(agent, service, 'first');
    expect(first.ok).toBe(false);
    expect(the().logSince(NODE, from)).not.toContain('pod ADD held');
    const deadline = Date.now() + 30_000;
    let answered: AgentReply | undefined;
    while (Date.now() < deadline) {
      const reply = await askOnce(agent, service, 'again');
      if (reply.ok) {
        answered = reply;
        break;
      }
    }
    expect(answered).toMatchObject({ reply: expect.objectContaining({ name: 'web-1' }) });
    await expectReadyOnceSynced();
  }, 90_000);
});
