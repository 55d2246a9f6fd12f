/**
 * TcLbAttacher.refresh on real programs: what a restarted terwayd does to the pods that were
 * running before it. The same object loaded again (a plain restart) leaves every pod's program
 * alone; another build of it (an upgrade; here the same source built for ISA v2, so its tags
 * differ) replaces them in place, on the hook each pod is on, reading the same pinned maps; a
 * program removed by hand is put back. The end-to-end upgrade, with a connection through it, is in
 * lab-service-lb.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';

import { TcLbAttacher, type LbPrograms } from '../../src/dataplane/bpf/lb-attacher.js';
import { loadObject, progInfo, tcDetach, tcQuery } from '../../src/dataplane/bpf/native-bpf.js';
import { netnsAt } from '../../src/dataplane/kernel/netns-ref.js';
import {
  buildLbObject,
  buildOtherLbBuild,
  ipBatch,
  kernelBuildOf,
  LbPins,
} from '../support/bpf-lab.js';
import { kernelAtLeast, requireRoot, TestNetns } from '../support/netns.js';

requireRoot();

let work: string;
let thisBuild: string;
let otherBuild: string;
const pinDirs: LbPins[] = [];
const namespaces: TestNetns[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'terway-refresh-'));
  thisBuild = buildLbObject();
  otherBuild = buildOtherLbBuild(work);
});

afterEach(() => {
  for (const ns of namespaces.splice(0)) ns.delete();
  for (const pins of pinDirs.splice(0)) pins.cleanup();
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

/** A pod netns with an eth0 (one end of a veth pair inside it). */
function podNetns(): TestNetns {
  const ns = new TestNetns();
  namespaces.push(ns);
  ipBatch(ns, ['link add eth0 type veth peer name peer0', 'link set eth0 up', 'link set peer0 up']);
  return ns;
}

/** Loads `object` into `pins` as terwayd does at start, and the attacher it would build. */
function start(
  object: string,
  pins: LbPins,
  hook: 'clsact' | 'tcx' = 'clsact',
  constants: Record<string, bigint> = {},
) {
  const loaded = loadObject(kernelBuildOf(object), pins.dir, constants);
  const pinned = (name: string) => ({ name, path: loaded.programs[name]! });
  const programs: LbPrograms = {
    egress: pinned('tw_lb_egress'),
    egressGateway: pinned('tw_lb_egress_gw'),
    ingress: pinned('tw_lb_ingress'),
  };
  return { programs, attacher: new TcLbAttacher(programs, hook) };
}

function freshPins(): LbPins {
  const pins = new LbPins();
  pinDirs.push(pins);
  return pins;
}

test('the two builds differ in code, as two releases would', () => {
  const pins = freshPins();
  // Read at once: the second load pins its programs at the same paths.
  const first = progInfo(start(thisBuild, pins).programs.ingress.path);
  const second = progInfo(start(otherBuild, pins).programs.ingress.path);
  expect(second.tag).not.toBe(first.tag);
  expect(second.mapIds).toEqual(first.mapIds);
});

test('a plain restart leaves running pods alone; an upgrade replaces their programs in place', () => {
  const pins = freshPins();
  const ns = podNetns();
  const pod = netnsAt(ns.path);
  const before = start(thisBuild, pins);
  before.attacher.attach(pod, 'eth0', 'veth');
  const attachedFirst = tcQuery(ns.path, 'eth0', 'egress')!;
  expect(attachedFirst.name).toBe('tw_lb_egress_gw');

  // The same object loaded again: new program instances, same code, same maps.
  const restarted = start(thisBuild, pins);
  expect(progInfo(restarted.programs.egressGateway.path).id).not.toBe(attachedFirst.progId);
  expect(restarted.attacher.check(pod, 'eth0', 'veth')).toEqual([]);
  expect(restarted.attacher.refresh(pod, 'eth0', 'veth')).toBe('current');
  expect(tcQuery(ns.path, 'eth0', 'egress')!.progId).toBe(attachedFirst.progId);

  // Another build: CHECK names the difference, refresh swaps both directions.
  const upgraded = start(otherBuild, pins);
  const newEgress = progInfo(upgraded.programs.egressGateway.path);
  const newIngress = progInfo(upgraded.programs.ingress.path);
  const problems = upgraded.attacher.check(pod, 'eth0', 'veth');
  expect(problems).toEqual([
    expect.stringMatching(
      new RegExp(
        `^the pod's eth0 runs another tw_lb_egress_gw on tc egress: its code \\(tag ` +
          `${attachedFirst.tag}\\) is not this daemon's \\(tag ${newEgress.tag}\\)$`,
      ),
    ),
    expect.stringContaining('runs another tw_lb_ingress on tc ingress'),
  ]);
  expect(upgraded.attacher.refresh(pod, 'eth0', 'veth')).toBe('replaced');
  expect(tcQuery(ns.path, 'eth0', 'egress')).toEqual({
    progId: newEgress.id,
    name: 'tw_lb_egress_gw',
    tag: newEgress.tag,
    mapIds: attachedFirst.mapIds,
    loadData: attachedFirst.loadData,
    hook: 'clsact',
  });
  expect(tcQuery(ns.path, 'eth0', 'ingress')).toMatchObject({ progId: newIngress.id });
  expect(upgraded.attacher.check(pod, 'eth0', 'veth')).toEqual([]);
});

test('same code over other maps is not current: the pod is moved to this daemon’s maps', () => {
  const ns = podNetns();
  const pod = netnsAt(ns.path);
  const elsewhere = start(thisBuild, freshPins());
  elsewhere.attacher.attach(pod, 'eth0', 'ipvlan');
  const here = start(thisBuild, freshPins());
  const mine = progInfo(here.programs.egress.path);
  expect(here.attacher.check(pod, 'eth0', 'ipvlan')).toEqual([
    expect.stringContaining(`runs another tw_lb_egress on tc egress: same code, other maps`),
    expect.stringContaining('runs another tw_lb_ingress on tc ingress: same code, other maps'),
  ]);
  expect(here.attacher.refresh(pod, 'eth0', 'ipvlan')).toBe('replaced');
  expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({
    progId: mine.id,
    mapIds: mine.mapIds,
  });
});

test('same code and maps on other load-time constants is not current either', () => {
  const pins = freshPins();
  const ns = podNetns();
  const pod = netnsAt(ns.path);
  const coarse = start(thisBuild, pins);
  coarse.attacher.attach(pod, 'eth0', 'veth');
  const attached = tcQuery(ns.path, 'eth0', 'egress')!;
  // The constants' map is the object's own per load: not in mapIds, its values in loadData.
  expect(attached.loadData).toBe(`.rodata=${'00'.repeat(16)};`);
  const clock = { tw_jiffy_ns: 4_000_000n, tw_initial_jiffies: 2n ** 32n - 75_000n };
  const jiffies = start(thisBuild, pins, 'clsact', clock);
  const mine = progInfo(jiffies.programs.egressGateway.path);
  expect(mine).toMatchObject({ tag: attached.tag, mapIds: attached.mapIds });
  expect(mine.loadData).toBe('.rodata=00093d000000000008dbfeff00000000;');
  expect(jiffies.attacher.check(pod, 'eth0', 'veth')).toEqual([
    expect.stringContaining(
      'runs another tw_lb_egress_gw on tc egress: same code and maps, other constants',
    ),
    expect.stringContaining(
      'runs another tw_lb_ingress on tc ingress: same code and maps, other constants',
    ),
  ]);
  expect(jiffies.attacher.refresh(pod, 'eth0', 'veth')).toBe('replaced');
  expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({
    progId: mine.id,
    loadData: mine.loadData,
  });
  // The same constants again, in a fresh load: current.
  expect(start(thisBuild, pins, 'clsact', clock).attacher.refresh(pod, 'eth0', 'veth')).toBe(
    'current',
  );
});

test('a program removed by hand is restored; a pod keeps the hook it was given', () => {
  const pins = freshPins();
  const ns = podNetns();
  const pod = netnsAt(ns.path);
  const tcxHere = kernelAtLeast(6, 6);
  // Attached by a daemon started with --lb-hook tcx (clsact where the kernel has no tcx).
  const before = start(thisBuild, pins, 'tcx');
  before.attacher.attach(pod, 'eth0', 'veth');
  const hook = tcxHere ? 'tcx' : 'clsact';
  expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({ hook });

  // The next daemon runs with the default clsact, and someone removed the ingress program.
  expect(tcDetach(ns.path, 'eth0', 'ingress')).toBe(true);
  const upgraded = start(otherBuild, pins, 'clsact');
  expect(upgraded.attacher.check(pod, 'eth0', 'veth')).toContain(
    "the pod's eth0 has no Service LB program on tc ingress",
  );
  expect(upgraded.attacher.refresh(pod, 'eth0', 'veth')).toBe('restored');
  expect(tcQuery(ns.path, 'eth0', 'egress')).toMatchObject({
    hook,
    tag: progInfo(upgraded.programs.egressGateway.path).tag,
  });
  expect(tcQuery(ns.path, 'eth0', 'ingress')).toMatchObject({
    hook: 'clsact',
    tag: progInfo(upgraded.programs.ingress.path).tag,
  });
  expect(upgraded.attacher.check(pod, 'eth0', 'veth')).toEqual([]);
  // And refresh is idempotent.
  expect(upgraded.attacher.refresh(pod, 'eth0', 'veth')).toBe('current');
});
