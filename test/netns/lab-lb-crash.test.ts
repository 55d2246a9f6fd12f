/**
 * terwayd dies hard (SIGKILL, through the `lb/after-upserts` failpoint) in the middle of a Service
 * LB pass: the pass has written its new and changed frontends, with their slots and backends, and
 * removed nothing yet. The maps are then in the most mixed state a crash can leave: a deleted
 * Service still programmed beside the ones that replaced it, backends no longer wanted still in
 * place. The next start reads the live maps back and finishes the job: the maps hold exactly the
 * services file, no backend entry is left that no frontend uses, and pods reach the Services'
 * backends.
 */
import { afterAll, describe, expect, test } from '@jest/globals';

import { NativeBpfMap } from '../../src/dataplane/bpf/native-bpf.js';
import { closeLbMaps, openLbMaps } from '../../src/lb/lb-maps.js';
import { readLbTable } from '../../src/lb/lb-table.js';
import { readBackend } from '../../src/lb/maps/shared-array.js';
import type { LabNodeInfo } from '../../src/lab/lab-manifest.js';
import { intToIp } from '../../src/util/ipv4.js';
import { Agent, type EchoReply } from '../support/bpf-lab.js';
import { useLab, type LabPod } from '../support/lab.js';
import {
  applyServices,
  awaitLbTable,
  lbTableOf,
  writeServices,
  type LabService,
} from '../support/lab-services.js';

const NODE = 'node-1';
const HTTP = 8080;
const CRASH = { TERWAY_FAILPOINTS: 'lb/after-upserts=exit' };
const pods = new Map<string, LabPod>();
const agents = new Map<string, Agent>();

const the = useLab({ nodes: 1 }, async (lab) => {
  for (const name of ['client', 'w1', 'w2', 'w3']) {
    const pod = await lab.addPod(NODE, name);
    pods.set(name, pod);
    const agent = new Agent({ path: pod.netnsPath }, name);
    agents.set(name, agent);
    await agent.ready;
    if (name !== 'client') await agent.must('serve', { name, host: pod.ip, tcp: [HTTP] });
  }
});

afterAll(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.stop()));
});

const ipOf = (name: string) => pods.get(name)!.ip;

function service(name: string, clusterIP: string, backends: string[]): LabService {
  return {
    name,
    clusterIP,
    tcp: { port: 80, targetPort: HTTP },
    endpoints: backends.map((backend) => ({ ip: ipOf(backend), pod: backend })),
  };
}

/** Every backend entry in the node's maps (`ip:port`), and those some frontend's slots name. */
function backendEntries(node: LabNodeInfo): { held: string[]; used: string[] } {
  const maps = openLbMaps(node.bpfPinDir, (path) => NativeBpfMap.openPinned(path));
  try {
    const held: string[] = [];
    for (let id = 1; id < maps.backend.maxEntries; id++) {
      const backend = readBackend(maps.backend, id);
      if (backend) held.push(`${intToIp(backend.addr)}:${backend.port}`);
    }
    const used = new Set(
      readLbTable(maps).flatMap((row) => row.backends.map((b) => `${b.ip}:${b.port}`)),
    );
    return { held: held.sort(), used: [...used].sort() };
  } finally {
    closeLbMaps(maps);
  }
}

async function answeredBy(clusterIP: string): Promise<string> {
  const reply = await agents
    .get('client')!
    .must('tcpOnce', { host: clusterIP, port: 80, line: 'hi' });
  return (reply.reply as EchoReply).name;
}

describe('terwayd killed in the middle of a Service LB pass', () => {
  test('the next start finishes it: the maps hold the file exactly, no orphan backend, pods served', async () => {
    const lab = the();
    const node = lab.node(NODE);
    const before = [
      service('gone', '10.96.5.1', ['w1', 'w2']),
      service('changed', '10.96.5.2', ['w1', 'w2', 'w3']),
    ];
    await applyServices(node, before);
    expect(await answeredBy('10.96.5.1')).toMatch(/^w[12]$/);

    // With the failpoint set, a start survives: restoring what the maps already hold removes
    // nothing, so its passes never reach the failpoint.
    await lab.restartDaemon(NODE, CRASH);
    const after = [service('changed', '10.96.5.2', ['w3']), service('new', '10.96.5.3', ['w2'])];
    writeServices(node, after);
    expect(await lab.waitDaemonGone(NODE)).toBe(true);

    // What it left: the pass's writes, and nothing of what it was about to remove.
    const torn = lbTableOf(node);
    expect(torn).toEqual({
      '10.96.5.1:80/TCP': [ipOf('w1'), ipOf('w2')].sort(),
      '10.96.5.2:80/TCP': [ipOf('w3')],
      '10.96.5.3:80/TCP': [ipOf('w2')],
    });
    // Traffic goes on meanwhile, through the maps as they are.
    expect(await answeredBy('10.96.5.3')).toBe('w2');

    await lab.startDaemon(NODE);
    await awaitLbTable(node, after, 'the services file, after the crash');
    const { held, used } = backendEntries(node);
    expect(held).toEqual([`${ipOf('w2')}:${HTTP}`, `${ipOf('w3')}:${HTTP}`].sort());
    expect(used).toEqual(held);
    expect(await answeredBy('10.96.5.2')).toBe('w3');
    expect(await answeredBy('10.96.5.3')).toBe('w2');
    const services = await lab.cli(NODE, ['show', 'services']);
    expect(services.stdout).not.toContain('10.96.5.1');
  }, 90_000);
});
