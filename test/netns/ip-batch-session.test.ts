/**
 * The long-lived `ip -batch` for the node's namespace, in a namespace of this test's own: plans
 * through one process, failures reported per plan, the stale name cache that a link re-created
 * behind its back leaves (and the fresh-process retry that gets past it), and a killed process.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';

import { IpBatchSession } from '../../src/dataplane/kernel/ip-batch-session.js';
import { Iproute2Kernel } from '../../src/dataplane/kernel/iproute2-kernel.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import { requireRoot, TestNetns } from '../support/netns.js';

requireRoot();

let ns: TestNetns;
const ip = (...args: string[]) =>
  execFileSync('ip', ['-n', ns.name, ...args], { encoding: 'utf8' });
const routes = () => ip('route', 'show');
const ifindexOf = (name: string) =>
  (JSON.parse(ip('-j', 'link', 'show', 'dev', name)) as Array<{ ifindex: number }>)[0]!.ifindex;
/** The pid of the session's ip, found by its command line. */
const sessionPids = () =>
  execFileSync('pgrep', ['-f', `^ip -n ${ns.name} -force -batch -$`], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .filter((pid) => pid !== '')
    .map(Number);

beforeEach(() => {
  ns = new TestNetns();
});
afterEach(() => {
  ns.delete();
});

describe('IpBatchSession', () => {
  test('runs plan after plan in one process and reports each plan its own failed lines', async () => {
    const session = new IpBatchSession(netnsAt(ns.path));
    try {
      expect(
        await session.run([
          'link set lo up',
          'link add tw0 type veth peer name tw1',
          'link set tw0 up',
        ]),
      ).toEqual([]);
      const pids = sessionPids();
      expect(pids).toHaveLength(1);
      const failures = await session.run([
        'route replace 10.7.0.1/32 dev tw0 scope link',
        'link del no-such-link',
        'route replace 10.7.0.2/32 dev tw0 scope link',
      ]);
      expect(failures).toEqual([{ index: 1, message: 'Cannot find device "no-such-link"' }]);
      // Line numbers count across plans; the third plan's failure is still its own index 0.
      expect(await session.run(['link del other-missing'])).toEqual([
        { index: 0, message: 'Cannot find device "other-missing"' },
      ]);
      expect(sessionPids()).toEqual(pids);
      expect(routes()).toContain('10.7.0.1 dev tw0');
      expect(routes()).toContain('10.7.0.2 dev tw0');
    } finally {
      session.close();
    }
  });

  test('plans sent at once run one after the other, each answered', async () => {
    const session = new IpBatchSession(netnsAt(ns.path));
    try {
      await session.run(['link add tw0 type veth peer name tw1', 'link set tw0 up']);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          session.run([`route replace 10.8.0.${i + 1}/32 dev tw0 scope link`]),
        ),
      );
      expect(answers).toEqual(Array.from({ length: 20 }, () => []));
      expect(routes().match(/^10\.8\.0\.\d+ dev tw0/gm)).toHaveLength(20);
    } finally {
      session.close();
    }
  });

  test('a session whose ip was killed starts a new one for the next plan', async () => {
    const session = new IpBatchSession(netnsAt(ns.path));
    try {
      await session.run(['link set lo up']);
      const [pid] = sessionPids();
      process.kill(pid!, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await session.run(['link add tw0 type veth peer name tw1'])).toEqual([]);
      expect(sessionPids()).not.toContain(pid);
      expect(ip('link', 'show', 'dev', 'tw0')).toContain('tw0@tw1');
    } finally {
      session.close();
    }
  });
});

describe('Iproute2Kernel with a session for the node namespace', () => {
  test('a link re-created behind the session (stale name cache) is still programmed', async () => {
    const kernel = new Iproute2Kernel({ sessionNetns: netnsAt(ns.path) });
    const node = netnsAt(ns.path);
    try {
      await kernel.apply(node, [
        {
          op: 'veth-add',
          name: 'twv0',
          mac: '02:00:00:00:00:01',
          peer: 'twp0',
          peerMac: '02:00:00:00:00:02',
          peerNetns: node,
          mtu: 1500,
        },
        { op: 'link-up', name: 'twv0' },
        { op: 'route-replace', dst: '10.9.0.1/32', dev: 'twv0', scope: 'link' },
      ]);
      const before = ifindexOf('twv0');
      // As when a pod's netns is deleted before its DEL: the pair goes without the session seeing.
      ip('link', 'del', 'twv0');
      ip('link', 'add', 'twv0', 'type', 'veth', 'peer', 'name', 'twp0');
      ip('link', 'set', 'twv0', 'up');
      expect(ifindexOf('twv0')).not.toBe(before);
      await kernel.apply(node, [
        { op: 'route-replace', dst: '10.9.0.2/32', dev: 'twv0', scope: 'link' },
      ]);
      expect(routes()).toContain('10.9.0.2 dev twv0');
      // And the restarted session knows the new link from then on.
      await kernel.apply(node, [
        { op: 'route-replace', dst: '10.9.0.3/32', dev: 'twv0', scope: 'link' },
      ]);
      expect(routes()).toContain('10.9.0.3 dev twv0');
    } finally {
      kernel.close();
    }
  });

  test('a real failure is still thrown, naming the op', async () => {
    const kernel = new Iproute2Kernel({ sessionNetns: netnsAt(ns.path) });
    try {
      await expect(
        kernel.apply(netnsAt(ns.path), [
          { op: 'route-replace', dst: '10.9.1.1/32', dev: 'no-such-dev', scope: 'link' },
        ]),
      ).rejects.toThrow(/route replace 10\.9\.1\.1\/32 dev no-such-dev.*failed/);
    } finally {
      kernel.close();
    }
  });

  test('a batch opened early runs its plan when it comes; one let go leaves no ip behind', async () => {
    const kernel = new Iproute2Kernel();
    const pod = netnsAt(ns.path);
    const early = kernel.openBatch(pod);
    const waiting = () =>
      execFileSync('pgrep', ['-c', '-f', `^ip -n ${ns.name} -force -batch -$`], {
        encoding: 'utf8',
      }).trim();
    // Started before the plan exists: that is the point.
    expect(waiting()).toBe('1');
    await new Promise((resolve) => setTimeout(resolve, 50));
    await early.apply([
      { op: 'link-up', name: 'lo' },
      { op: 'link-del', name: 'not-there' },
    ]);
    const unused = kernel.openBatch(pod);
    unused.close();
    unused.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(() => waiting()).toThrow(); // pgrep exits 1: no such process
    await expect(
      kernel.openBatch(pod).apply([{ op: 'link-up', name: 'no-such-link' }]),
    ).rejects.toThrow(/link set dev no-such-link up.*failed/);
    expect(ip('link', 'show', 'dev', 'lo')).toContain('UP');
  });
});
