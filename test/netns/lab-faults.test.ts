/**
 * Faults on a lab node, each ending with the same proof: no IP leaked (every IP the pool has in
 * use belongs to a record `terway-cli mapping` lists, and the other way round) and nothing
 * stray on the node.
 *
 * - The pod's netns is gone before DEL.
 * - Malicious CNI_NETNS / CNI_IFNAME are refused before anything is touched.
 * - The ENI link a pod's IP belongs to is gone when ADD runs (on a node of its own).
 *
 * A crash in the middle of ADD is lab-crash.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, test } from '@jest/globals';

import { hostVethName } from '../../src/dataplane/pod-attachment.js';
import type { CniErrorResult, LabPod } from '../support/lab.js';
import {
  useLab,
  attachmentEnv,
  cniErrorOf,
  expectNoLeak,
  expectPing,
  linkNames,
  listNetns,
  mustRun,
  routingState,
} from '../support/lab.js';

const NODE = 'node-1';
/** A node of its own: the ENI-link test breaks it. */
const BROKEN_NODE = 'node-2';

const scratch = mkdtempSync(join(tmpdir(), 'tnfault-'));
const the = useLab({ nodes: 2 });
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the pod netns vanishes before DEL', () => {
  test('DEL still succeeds, removes the host side and releases the IP', async () => {
    const lab = the();
    const node = lab.node(NODE);
    const before = await lab.nodeFootprint(NODE);
    const pod = await lab.addPod(NODE, 'vanish');
    const host = hostVethName('default/vanish');
    expect(await linkNames(node.netns)).toContain(host);

    await mustRun('ip', ['netns', 'delete', pod.netns]);
    expect(await listNetns()).not.toContain(pod.netns);
    // The pod's rules are still there: only DEL removes them.
    const { rules } = await routingState(node.netns);
    expect(rules.filter((rule) => rule.includes(pod.ip))).toHaveLength(2);

    const del = await lab.delPod(NODE, 'vanish');
    expect([del.code, del.stderr]).toEqual([0, '']);
    expect(await lab.nodeFootprint(NODE)).toEqual(before);
    expect((await lab.mapping(NODE)).map((m) => m.pod.name)).not.toContain('vanish');
    const { inUse } = await lab.ipAccounting(NODE);
    expect(inUse).not.toContain(pod.ip);
    await expectNoLeak(lab, NODE);
  }, 60_000);
});

describe('malicious CNI input', () => {
  test('is refused with code 4 or 7 and touches nothing', async () => {
    const lab = the();
    const node = lab.node(NODE);
    const victim: LabPod = await lab.addPod(NODE, 'victim');
    const regularFile = join(scratch, 'not-a-netns');
    writeFileSync(regularFile, 'not a namespace\n');
    const snapshot = async () => ({
      node: await lab.nodeFootprint(NODE),
      victim: await linkNames(victim.netns),
      victimAddrs: await mustRun('ip', ['-n', victim.netns, '-br', 'addr']),
      mapping: await lab.mapping(NODE),
      netns: (await listNetns()).sort(),
      inUse: (await lab.ipAccounting(NODE)).inUse,
    });
    const before = await snapshot();

    const cases: Array<{ what: string; env: Record<string, string>; says: string }> = [
      {
        what: 'CNI_NETNS traversal',
        says: "must not contain '.' or '..' segments",
        env: attachmentEnv('ADD', {
          name: 'evil1',
          containerId: 'evil1',
          netns: '/var/run/netns/../../etc/passwd',
        }),
      },
      {
        what: 'CNI_NETNS traversal on DEL',
        says: "must not contain '.' or '..' segments",
        env: attachmentEnv('DEL', {
          name: 'victim',
          containerId: victim.containerId,
          netns: '/var/run/netns/../../etc/passwd',
        }),
      },
      {
        what: 'CNI_NETNS naming a regular file',
        says: 'is not a network namespace',
        env: attachmentEnv('ADD', { name: 'evil2', containerId: 'evil2', netns: regularFile }),
      },
      {
        what: 'CNI_IFNAME over 15 bytes',
        says: 'longer than 15 bytes',
        env: attachmentEnv('ADD', {
          name: 'evil3',
          containerId: 'evil3',
          netns: victim.netnsPath,
          ifname: 'eth0123456789abc',
        }),
      },
      {
        what: 'CNI_IFNAME with a slash',
        says: "must not contain '/'",
        env: attachmentEnv('ADD', {
          name: 'evil4',
          containerId: 'evil4',
          netns: victim.netnsPath,
          ifname: 'eth/0',
        }),
      },
    ];
    for (const { what, env, says } of cases) {
      const result = await lab.shim(NODE, env);
      const error = cniErrorOf(result);
      expect({ what, status: result.code, error }).toEqual({
        what,
        status: 1,
        error: expect.objectContaining({
          code: 4,
          msg: expect.stringContaining(says) as unknown as string,
        }) as unknown as CniErrorResult,
      });
    }
    expect(await snapshot()).toEqual(before);
    await expectPing(node.netns, victim.ip);
  }, 60_000);
});

describe('the ENI link is missing when ADD runs', () => {
  test('pods move to an ENI that has a link, or to a new one; nothing leaks', async () => {
    const lab = the();
    const node = lab.node(BROKEN_NODE);
    const factory = await lab.factory(BROKEN_NODE);
    const secondary = factory.enis.filter((eni) => eni.status === 'in_use');
    expect(secondary.length).toBeGreaterThanOrEqual(2);
    const [victimEni, healthyEni] = [secondary[0]!, secondary[1]!];
    const linkOf = async (mac: string) => {
      const out = await mustRun('ip', ['-n', node.netns, '-j', 'link', 'show']);
      return (JSON.parse(out) as Array<{ ifname: string; address: string }>).find(
        (link) => link.address === mac,
      )?.ifname;
    };
    const removed = await linkOf(victimEni.mac);
    expect(removed).toMatch(/^eth[1-9]$/);
    await mustRun('ip', ['-n', node.netns, 'link', 'del', removed!]);

    // Pods spread over the ENIs, so some of these would land on the ENI without a link: terwayd
    // holds that ENI back and wires every one of them on the ENI that still has its link.
    for (let i = 0; i < 3; i++) {
      const pod = await lab.addPod(BROKEN_NODE, `moved${i}`);
      const placed = (await lab.mapping(BROKEN_NODE)).find((m) => m.pod.name === `moved${i}`);
      expect(placed?.eniId).toBe(healthyEni.id);
      await expectPing(node.netns, pod.ip);
    }
    await expectNoLeak(lab, BROKEN_NODE);

    // With no ENI link left at all, both ENIs are held back and the pool grows a new ENI (the
    // instance type allows a third): the pod is wired there, and still nothing leaks.
    const other = await linkOf(healthyEni.mac);
    await mustRun('ip', ['-n', node.netns, 'link', 'del', other!]);
    const rescued = await lab.addPod(BROKEN_NODE, 'rescued');
    const placed = (await lab.mapping(BROKEN_NODE)).find((m) => m.pod.name === 'rescued');
    expect([victimEni.id, healthyEni.id]).not.toContain(placed?.eniId);
    await expectPing(node.netns, rescued.ip);
    await expectNoLeak(lab, BROKEN_NODE);
  }, 90_000);
});
