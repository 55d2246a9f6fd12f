/**
 * `terwayd --lb-hook tcx` end to end: a lab whose daemons were started with it puts a new pod's
 * Service LB programs on tcx (where the kernel has it; clsact elsewhere), and a Service answers
 * through them. The hooks themselves are tested in bpf-native.test.ts.
 */
import { afterAll, expect, test } from '@jest/globals';

import { tcQuery } from '../../src/dataplane/bpf/native-bpf.js';
import { Agent, type AgentReply, type EchoReply } from '../support/bpf-lab.js';
import type { LabPod } from '../support/lab.js';
import { useLab } from '../support/lab.js';
import { applyServices } from '../support/lab-services.js';
import { kernelAtLeast } from '../support/netns.js';

const NODE = 'node-1';
const HTTP = 8080;
const CLUSTER_IP = '10.96.9.1';

let client: LabPod | undefined;
let backend: LabPod | undefined;
const agents: Agent[] = [];

const the = useLab({ nodes: 1, lbHook: 'tcx' }, async (lab) => {
  client = await lab.addPod(NODE, 'client');
  backend = await lab.addPod(NODE, 'backend');
  const server = new Agent({ path: backend.netnsPath }, 'backend');
  agents.push(server);
  await server.ready;
  await server.must('serve', { name: 'backend', host: backend.ip, tcp: [HTTP], udp: [] });
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
});

test('the pod’s programs are on the hook terwayd was told to use, and a Service answers', async () => {
  const hook = kernelAtLeast(6, 6) ? 'tcx' : 'clsact';
  for (const direction of ['egress', 'ingress'] as const) {
    expect(tcQuery(client!.netnsPath, 'eth0', direction)).toMatchObject({ hook });
  }

  await applyServices(the().node(NODE), [
    {
      name: 'svc',
      clusterIP: CLUSTER_IP,
      tcp: { port: 80, targetPort: HTTP },
      endpoints: [{ ip: backend!.ip }],
    },
  ]);
  const caller = new Agent({ path: client!.netnsPath }, 'client');
  agents.push(caller);
  await caller.ready;
  const answer = (await caller.must('tcpOnce', {
    host: CLUSTER_IP,
    port: 80,
    line: 'hi',
  })) as AgentReply & { reply: EchoReply };
  expect(answer).toMatchObject({
    remoteAddress: CLUSTER_IP,
    reply: expect.objectContaining({ name: 'backend', peer: client!.ip }),
  });
});
