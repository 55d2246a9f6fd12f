/**
 * A daemon restarted against an emulator whose state changed while it was down: an IP removed,
 * an extra IP added, and an ENI detached. It must reconcile to the cloud's truth.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';

import { DaemonProcess } from '../support/processes.js';
import type { EmulatedNode, PodIp } from '../support/emulated-node.js';
import {
  allocate,
  eventually,
  release,
  showFactory,
  startEmulatedNode,
} from '../support/emulated-node.js';

const GRACE_MS = 1_500;

let node: EmulatedNode;
let daemon: DaemonProcess;

beforeAll(async () => {
  // g6.large: one secondary ENI x 6 IPs; g7.xlarge gives 3 x 15, room for two ENIs.
  node = await startEmulatedNode('ecs.g7.xlarge', {
    latencies: { perApi: {}, attachMs: 50, detachMs: 50, deleteMs: 50 },
  });
  daemon = new DaemonProcess({
    ...node.cloudConfig,
    min_pool_size: 0,
    max_pool_size: 30,
    unclaimed_ip_grace_period: `${GRACE_MS}ms`,
  });
  await daemon.start();
}, 60_000);

afterAll(async () => {
  await daemon?.cleanup();
  await node?.emulator.stop();
});

describe('restart reconciliation', () => {
  test('removed IP turns invalid, extra IP is held then released, detached ENI is dropped', async () => {
    // Fill one ENI (15 IPs) and spill onto a second, so there is an ENI to detach.
    const pods = new Map<string, PodIp>();
    for (let i = 0; i < 18; i++) pods.set(`pod-${i}`, await allocate(daemon.socket, `pod-${i}`));
    const enis = [...new Set([...pods.values()].map((pod) => pod.eniId))];
    expect(enis.length).toBeGreaterThanOrEqual(2);
    // One pod on the first ENI leaves, so that ENI has an idle IP of the pool's own.
    const leaving = [...pods.entries()].filter(([, pod]) => pod.eniId === enis[0]).at(-1)!;
    await release(daemon.socket, leaving[0]);
    pods.delete(leaving[0]);
    const idleBefore = (await showFactory(daemon.socket)).enis
      .filter((eni) => eni.id === enis[0])
      .flatMap((eni) => eni.ips.filter((ip) => ip.state === 'idle').map((ip) => ip.address));
    await daemon.stop();

    const [keptEni, detachedEni] = enis as [string, string];
    const onKept = [...pods.entries()].filter(([, pod]) => pod.eniId === keptEni);
    const onDetached = [...pods.entries()].filter(([, pod]) => pod.eniId === detachedEni);
    // An ENI's own primary IP can only leave with the ENI, so the removed IP is a secondary.
    const keptPrimary = node.emulator.enis().find((eni) => eni.id === keptEni)?.privateIps[0];
    const [victimName, victim] = onKept.find(([, pod]) => pod.ip !== keptPrimary) as [
      string,
      PodIp,
    ];
    node.emulator.removePrivateIp(keptEni, victim.ip);
    const extraIp = node.emulator.addPrivateIp(keptEni);
    node.emulator.forceDetach(detachedEni);

    await daemon.start();
    const factory = await showFactory(daemon.socket);
    const stateOf = (ip: string) =>
      factory.enis.flatMap((eni) => eni.ips).find((entry) => entry.address === ip)?.state;

    // The pod whose IP vanished keeps its record, visibly invalid, until it is released.
    expect(stateOf(victim.ip)).toBe('invalid');
    // Pods on the detached ENI: invalid too; the ENI is not in use by the pool any more.
    for (const [, pod] of onDetached) expect(stateOf(pod.ip)).toBe('invalid');
    // Each vanished IP is logged by name, and the restore line counts them.
    const vanishedIps = [victim.ip, ...onDetached.map(([, pod]) => pod.ip)];
    const logs = daemon.logEntries();
    const warned = logs
      .filter((entry) => String(entry.msg).startsWith('a recorded pod IP is gone from the cloud'))
      .map((entry) => entry.ip);
    expect(new Set(warned)).toEqual(new Set(vanishedIps));
    const restoreLines = logs.filter(
      (entry) => entry.msg === 'restored pool from the cloud and the pod records',
    );
    expect(restoreLines.at(-1)?.vanished).toBe(vanishedIps.length);
    // Untouched pods are rebound.
    for (const [name, pod] of onKept) {
      if (name !== victimName) expect(stateOf(pod.ip)).toBe('in_use');
    }
    // The pool's own idle IPs, recorded at the clean stop, are idle again at once: an upgrade
    // does not churn the warm pool.
    expect(idleBefore.length).toBeGreaterThan(0);
    for (const ip of idleBefore) expect(stateOf(ip)).toBe('idle');
    // The extra IP nobody claims is held back (not idle) during the grace period...
    expect(stateOf(extraIp)).toBe('in_use');
    // ...then released into the idle pool.
    expect(
      await eventually(async () => {
        const now = await showFactory(daemon.socket);
        return now.enis
          .flatMap((eni) => eni.ips)
          .some((e) => e.address === extraIp && e.state === 'idle');
      }, 10_000),
    ).toBe(true);

    // The detached ENI was ours and is no longer attached: the start-up sweep deletes it.
    expect(
      await eventually(
        async () => !node.emulator.enis().some((eni) => eni.id === detachedEni),
        10_000,
      ),
    ).toBe(true);

    // Releasing the pods whose IPs are gone clears them; nothing is handed out twice meanwhile.
    await release(daemon.socket, victimName);
    for (const [name] of onDetached) await release(daemon.socket, name);
    const fresh = await allocate(daemon.socket, 'after-restart');
    const live = [...pods.entries()]
      .filter(([name]) => name !== victimName && !onDetached.some(([gone]) => gone === name))
      .map(([, pod]) => pod.ip);
    expect(live).not.toContain(fresh.ip);
    const after = await showFactory(daemon.socket);
    expect(after.enis.flatMap((eni) => eni.ips).some((e) => e.state === 'invalid')).toBe(false);
    expect(after.enis.map((eni) => eni.id)).not.toContain(detachedEni);
  }, 120_000);
});
