/**
 * A pod's life through the lab's CNI runtime and the real shim: ADD, CHECK (passing, then
 * failing with the exact drift once the pod is broken), DEL twice, nothing left on the node;
 * and a terwayd restart that puts back the node side of a pod (route and rules) without
 * touching the pod's namespace.
 */
import { describe, expect, test } from '@jest/globals';

import { hostVethName } from '../../src/dataplane/pod-attachment.js';
import { processAlive } from '../../src/util/process-alive.js';
import {
  EchoServer,
  useLab,
  cniErrorIn,
  expectPing,
  ifindexOf,
  linkNames,
  mustRun,
  ping,
  tcpEcho,
} from '../support/lab.js';

const NODE = 'node-1';
const the = useLab({ nodes: 1 });

/** Rules and routes of the node that name this IP. */
function nodeStateFor(ip: string): Promise<{ rules: string[]; routes: string[] }> {
  return the().nodeStateFor(NODE, ip);
}

describe('ADD, CHECK and DEL through the lab', () => {
  test('CHECK passes, then fails with code 999 naming a deleted route; DEL twice succeeds and leaves nothing', async () => {
    const lab = the();
    const node = lab.node(NODE);
    const pod = await lab.addPod(NODE, 'life');
    const host = hostVethName('default/life');
    expect(pod.result.interfaces?.map((i) => i.name)).toEqual([host, 'eth0']);
    expect(await linkNames(node.netns)).toContain(host);
    const wired = await nodeStateFor(pod.ip);
    expect(wired.rules).toEqual([
      expect.stringMatching(new RegExp(`^512:\\s+from all to ${pod.ip} lookup main`)),
      expect.stringMatching(new RegExp(`^2048:\\s+from ${pod.ip} lookup 10\\d\\d`)),
    ]);
    expect(wired.routes).toContain(`${pod.ip} dev ${host} scope link `);
    // `lab status` lists the pod with the address its CNI result gave.
    const podsInStatus = async () =>
      (JSON.parse((await lab.lab(['status', '--json'])).stdout) as { pods: unknown[] }).pods;
    expect(await podsInStatus()).toContainEqual({
      node: NODE,
      pod: 'life',
      namespace: 'default',
      netns: pod.netns,
      ip: `${pod.ip}/32`,
    });
    expect((await lab.lab(['status'])).stdout).toContain(
      `  ${NODE}  default/life  ${pod.ip}/32  netns ${pod.netns}`,
    );

    const ok = await lab.checkPod(NODE, 'life');
    expect([ok.code, ok.stdout.trim()]).toEqual([0, 'ok']);

    await mustRun('ip', ['-n', pod.netns, 'route', 'del', 'default']);
    const broken = await lab.checkPod(NODE, 'life');
    expect(broken.code).toBe(1);
    expect(cniErrorIn(broken.stderr)).toEqual({
      cniVersion: '1.0.0',
      code: 999,
      msg: expect.stringContaining(
        'route default via 169.254.1.1 dev eth0 is missing in the pod',
      ) as unknown as string,
    });

    // DEL as a runtime retries it: twice through the shim, then the lab's own (a third).
    const env = {
      CNI_COMMAND: 'DEL',
      CNI_CONTAINERID: pod.containerId,
      CNI_NETNS: pod.netnsPath,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=life',
    };
    for (let i = 0; i < 2; i++) {
      const del = await lab.shim(NODE, env);
      expect([del.code, del.stdout, del.stderr]).toEqual([0, '', '']);
    }
    const labDel = await lab.delPod(NODE, 'life');
    expect([labDel.code, labDel.stderr]).toEqual([0, '']);

    expect(await linkNames(node.netns)).not.toContain(host);
    expect(await podsInStatus()).toEqual([]);
    expect(await nodeStateFor(pod.ip)).toEqual({ rules: [], routes: [] });
    expect((await lab.mapping(NODE)).map((m) => m.pod.name)).not.toContain('life');
    const ip = (await lab.factory(NODE)).enis
      .flatMap((eni) => eni.ips)
      .find((i) => i.address === pod.ip);
    expect(ip?.owner ?? null).toBeNull();
    expect(ip?.state ?? 'released to the cloud').not.toBe('in_use');
  }, 60_000);
});

describe('a terwayd restart', () => {
  test('puts back a pod’s deleted host route and rules without touching its namespace', async () => {
    const lab = the();
    const node = lab.node(NODE);
    const pod = await lab.addPod(NODE, 'keep');
    const peer = await lab.addPod(NODE, 'peer');
    const host = hostVethName('default/keep');
    const podIfindex = await ifindexOf(pod.netns, 'eth0');
    const hostIfindex = await ifindexOf(node.netns, host);
    const wired = await nodeStateFor(pod.ip);
    expect(wired.rules).toHaveLength(2);
    expect(wired.routes).toHaveLength(1);
    await expectPing(node.netns, pod.ip);

    await mustRun('ip', ['-n', node.netns, 'route', 'del', `${pod.ip}/32`]);
    await mustRun('ip', ['-n', node.netns, 'rule', 'del', 'pref', '512', 'to', pod.ip]);
    await mustRun('ip', ['-n', node.netns, 'rule', 'del', 'pref', '2048', 'from', pod.ip]);
    expect(await nodeStateFor(pod.ip)).toEqual({ rules: [], routes: [] });
    // The node no longer knows where the pod is.
    expect((await ping(node.netns, pod.ip, { count: 2, waitS: 1 })).received).toBe(0);

    const before = lab.daemonPid(NODE);
    const logFrom = lab.logSize(NODE);
    const after = await lab.restartDaemon(NODE);
    expect(after).not.toBe(before);
    const resynced = lab
      .logSince(NODE, logFrom)
      .split('\n')
      .filter((line) => line.includes('"msg":"node side of existing pods resynced"'));
    expect(resynced).toEqual([expect.stringContaining('"resynced":2,"skipped":[]')]);

    expect(await nodeStateFor(pod.ip)).toEqual(wired);
    // The pod's namespace was not touched: same eth0, same host end.
    expect(await ifindexOf(pod.netns, 'eth0')).toBe(podIfindex);
    expect(await ifindexOf(node.netns, host)).toBe(hostIfindex);

    await expectPing(node.netns, pod.ip);
    await expectPing(peer.netns, pod.ip);
    const server = await EchoServer.start(pod.netns, pod.ip, 7000);
    try {
      await expect(tcpEcho(peer.netns, pod.ip, 7000, 'after restart')).resolves.toEqual({
        from: peer.ip,
        echo: 'after restart',
      });
      await expect(tcpEcho(node.netns, pod.ip, 7000, 'node after restart')).resolves.toEqual({
        from: node.ip,
        echo: 'node after restart',
      });
    } finally {
      await server.stop();
    }
    const check = await lab.checkPod(NODE, 'keep');
    expect([check.code, check.stdout.trim()]).toEqual([0, 'ok']);
  }, 90_000);

  test('lab node restart is refused in a lab up with --no-daemon-restart, and stops nothing', async () => {
    const lab = the();
    const before = lab.daemonPid(NODE);
    const reply = await lab.lab(['node', 'restart', NODE]);
    expect(reply.code).toBe(1);
    expect(reply.stderr).toContain('came up with --no-daemon-restart');
    expect(lab.daemonPid(NODE)).toBe(before);
    expect(processAlive(before)).toBe(true);
  });
});
