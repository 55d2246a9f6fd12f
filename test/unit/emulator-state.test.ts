import { describe, expect, test } from '@jest/globals';

import { AccountState } from '../../src/emulator/state/account-state.js';
import type { NewEni } from '../../src/emulator/state/account-state.js';
import { EniLifecycle } from '../../src/emulator/state/eni-lifecycle.js';
import { assignIps, unassignIps } from '../../src/emulator/state/private-ips.js';
import type { LabHook } from '../../src/emulator/state/eni-lifecycle.js';
import { VSwitchPool } from '../../src/emulator/state/vswitch-pool.js';
import { codeOf } from '../support/api-error-code.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const DURATIONS = { attachMs: 100, detachMs: 50, deleteMs: 30 };

function account(cidr = '10.0.1.0/24', clock = new FakeClock()) {
  const state = new AccountState(
    {
      regionId: 'cn-hangzhou',
      vpcId: 'vpc-1',
      vpcCidr: '10.0.0.0/16',
      vswitches: [
        { vswitchId: 'vsw-a', zoneId: 'zone-a', cidr },
        { vswitchId: 'vsw-b', zoneId: 'zone-b', cidr: '10.0.2.0/24' },
      ],
      securityGroupIds: ['sg-1'],
      ownerAccountId: '1',
    },
    () => clock.now(),
  );
  const events: string[] = [];
  const hook: LabHook = {
    onAttached: (e) => void events.push(`attached ${e.eniId} ${e.privateIps.length}`),
    onDetached: (e) => void events.push(`detached ${e.eniId}`),
  };
  const lifecycle = new EniLifecycle(state, clock, DURATIONS, hook, { warn: () => {} });
  return { state, lifecycle, clock, events };
}

function newEni(overrides: Partial<NewEni> = {}): NewEni {
  return {
    vswitchId: 'vsw-a',
    securityGroupIds: ['sg-1'],
    tags: [],
    name: '',
    description: '',
    deleteOnRelease: true,
    type: 'Secondary',
    ...overrides,
  };
}

describe('VSwitchPool', () => {
  test('reserves the network address and the last three, gateway at broadcast - 2', () => {
    const pool = new VSwitchPool('vsw', 'z', '192.168.1.0/28');
    expect(pool.available()).toBe(12);
    expect(pool.gateway).toBe('192.168.1.13');
    expect(pool.netmask).toBe('255.255.255.240');
    const all = pool.allocate(12);
    expect(all[0]).toBe('192.168.1.1');
    expect(all[11]).toBe('192.168.1.12');
    expect(codeOf(() => pool.allocate(1))).toBe('403 InvalidVSwitchId.IpNotEnough');
  });

  test('hands a released address out again only after the rest of the range', () => {
    const pool = new VSwitchPool('vsw', 'z', '192.168.1.0/28');
    const [first] = pool.allocate(1);
    pool.release([first ?? '']);
    expect(pool.allocate(11)).not.toContain(first);
    expect(pool.allocate(1)).toEqual([first]);
  });

  test('explicit addresses: reserved, foreign and taken ones are refused', () => {
    const pool = new VSwitchPool('vsw', 'z', '192.168.1.0/28');
    expect(pool.checkExplicit('192.168.1.13')?.code).toBe('InvalidVSwitchId.IpInvalid');
    expect(pool.checkExplicit('10.0.0.1')?.code).toBe('InvalidVSwitchId.IpInvalid');
    pool.take(['192.168.1.5']);
    expect(pool.checkExplicit('192.168.1.5')?.code).toBe('InvalidPrivateIpAddress.Duplicated');
    expect(pool.allocate(11)).not.toContain('192.168.1.5');
  });
});

describe('ENI lifecycle on a fake clock', () => {
  test('Attach: Available → Attaching → InUse after attachMs, with the lab hook told', async () => {
    const { state, lifecycle, clock, events } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge', vswitchId: 'vsw-a' });
    const eni = state.createEni(newEni({ secondaryCount: 2 }));
    expect(eni.status).toBe('Available');
    lifecycle.attach(eni.id, instance.instanceId);
    expect(state.eni(eni.id).status).toBe('Attaching');
    expect(state.eni(eni.id).deviceIndex).toBe(1);
    await clock.advance(99);
    expect(state.eni(eni.id).status).toBe('Attaching');
    await clock.advance(1);
    expect(state.eni(eni.id).status).toBe('InUse');
    expect(events).toEqual([`attached ${eni.id} 3`]);
  });

  test('Detach: InUse → Detaching → Available; the hook hears it when InUse ends', async () => {
    const { state, lifecycle, clock, events } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const eni = state.createEni(newEni());
    lifecycle.attach(eni.id, instance.instanceId);
    expect(codeOf(() => lifecycle.detach(eni.id, instance.instanceId))).toBe(
      '400 InvalidOperation.InvalidEniState',
    );
    await clock.advance(100);
    lifecycle.detach(eni.id, instance.instanceId);
    expect(state.eni(eni.id).status).toBe('Detaching');
    expect(events.at(-1)).toBe(`detached ${eni.id}`);
    lifecycle.detach(eni.id, instance.instanceId); // re-issuing a detach is accepted
    await clock.advance(50);
    expect(state.eni(eni.id).status).toBe('Available');
    expect(state.eni(eni.id).instanceId).toBeUndefined();
    expect(events.filter((e) => e.startsWith('detached'))).toHaveLength(1);
  });

  test('the primary ENI cannot be detached or deleted', () => {
    const { state, lifecycle } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    expect(codeOf(() => lifecycle.detach(instance.primaryEniId, instance.instanceId))).toBe(
      '400 InvalidOperation.DetachPrimaryEniNotAllowed',
    );
    expect(codeOf(() => lifecycle.delete(instance.primaryEniId))).toBe(
      '403 InvalidOperation.InvalidEniType',
    );
  });

  test('Delete: Available only; Deleting, then gone with its IPs back in the vSwitch', async () => {
    const { state, lifecycle, clock } = account('10.0.1.0/28');
    const eni = state.createEni(newEni({ secondaryCount: 4 }));
    const pool = state.pool('vsw-a');
    expect(pool.available()).toBe(7);
    lifecycle.delete(eni.id);
    expect(state.eni(eni.id).status).toBe('Deleting');
    expect(codeOf(() => lifecycle.delete(eni.id))).toBe('400 InvalidOperation.InvalidEniState');
    await clock.advance(30);
    expect(state.findEni(eni.id)).toBeUndefined();
    expect(pool.available()).toBe(12);
    expect(codeOf(() => state.eni(eni.id))).toBe('404 InvalidEniId.NotFound');
  });

  test('attach checks zone, instance and the instance-type ENI limit (primary included)', async () => {
    const { state, lifecycle, clock } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g6.large', vswitchId: 'vsw-a' });
    const other = state.createEni(newEni({ vswitchId: 'vsw-b' }));
    expect(codeOf(() => lifecycle.attach(other.id, instance.instanceId))).toBe(
      '403 InvalidOperation.AvailabilityZoneMismatch',
    );
    expect(codeOf(() => lifecycle.attach(other.id, 'i-nope'))).toBe(
      '403 InvalidInstanceId.NotFound',
    );
    const first = state.createEni(newEni());
    const second = state.createEni(newEni());
    lifecycle.attach(first.id, instance.instanceId);
    expect(codeOf(() => lifecycle.attach(second.id, instance.instanceId))).toBe(
      '403 EniPerInstanceLimitExceeded',
    );
    await clock.advance(100);
    expect(state.eni(second.id).status).toBe('Available');
  });

  test('private IP limits: 49 secondaries unattached, the instance type once InUse', async () => {
    const { state, lifecycle, clock } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g6.large' });
    const eni = state.createEni(newEni({ secondaryCount: 49 }));
    expect(codeOf(() => assignIps(state, eni.id, { count: 1 }))).toBe(
      '403 MaxEniPrivateIpsCountExceeded',
    );
    // Too many IPs for a g6.large ENI (6): the attach is refused.
    expect(codeOf(() => lifecycle.attach(eni.id, instance.instanceId))).toBe(
      '403 MaxEniPrivateIpsCountExceeded',
    );
    const small = state.createEni(newEni({ secondaryCount: 3 }));
    lifecycle.attach(small.id, instance.instanceId);
    expect(codeOf(() => assignIps(state, small.id, { count: 1 }))).toBe(
      '400 InvalidOperation.InvalidEniState',
    );
    await clock.advance(100);
    expect(assignIps(state, small.id, { count: 2 })).toHaveLength(2);
    expect(codeOf(() => assignIps(state, small.id, { count: 1 }))).toBe(
      '403 MaxEniPrivateIpsCountExceeded',
    );
  });

  test('unassign refuses the primary IP and IPs not on the ENI, changing nothing', () => {
    const { state } = account();
    const eni = state.createEni(newEni({ secondaryCount: 2 }));
    const [primary, second, third] = eni.privateIps as [string, string, string];
    expect(codeOf(() => unassignIps(state, eni.id, [primary]))).toBe('400 InvalidParameter');
    expect(codeOf(() => unassignIps(state, eni.id, [second, '10.0.1.200']))).toBe(
      '403 InvalidIp.IpUnassigned',
    );
    expect(state.eni(eni.id).privateIps).toEqual([primary, second, third]);
    unassignIps(state, eni.id, [second]);
    expect(state.eni(eni.id).privateIps).toEqual([primary, third]);
  });

  test('explicit IPs: a repeated one or one in use fails before anything is taken', () => {
    const { state } = account('10.0.1.0/28');
    const pool = state.pool('vsw-a');
    expect(codeOf(() => state.createEni(newEni({ secondaryIps: ['10.0.1.5', '10.0.1.5'] })))).toBe(
      '403 InvalidIp.IpRepeated',
    );
    const eni = state.createEni(newEni({ primaryIp: '10.0.1.1', secondaryIps: ['10.0.1.2'] }));
    expect(eni.privateIps).toEqual(['10.0.1.1', '10.0.1.2']);
    expect(codeOf(() => state.createEni(newEni({ primaryIp: '10.0.1.2' })))).toBe(
      '400 InvalidPrivateIpAddress.Duplicated',
    );
    expect(pool.available()).toBe(10);
    // Explicit addresses plus more fresh ones than remain: nothing is taken.
    expect(
      codeOf(() => state.createEni(newEni({ primaryIp: '10.0.1.9', secondaryCount: 10 }))),
    ).toBe('403 InvalidVSwitchId.IpNotEnough');
    expect(pool.available()).toBe(10);
  });

  test('stuck attaches stay Attaching; force-detach frees them', async () => {
    const { state, lifecycle, clock, events } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const [a, b] = [state.createEni(newEni()), state.createEni(newEni())];
    lifecycle.stickNextAttaches(1);
    lifecycle.attach(a.id, instance.instanceId);
    lifecycle.attach(b.id, instance.instanceId);
    await clock.advance(10_000);
    expect(state.eni(a.id).status).toBe('Attaching');
    expect(state.eni(b.id).status).toBe('InUse');
    lifecycle.forceDetach(a.id);
    expect(state.eni(a.id).status).toBe('Available');
    lifecycle.forceDetach(b.id);
    expect(events).toEqual([`attached ${b.id} 1`, `detached ${b.id}`]);
  });

  test('a failing lab hook is logged, never breaks the transition', async () => {
    const clock = new FakeClock();
    const { state } = account('10.0.1.0/24', clock);
    const warnings: string[] = [];
    const lifecycle = new EniLifecycle(
      state,
      clock,
      DURATIONS,
      {
        onAttached: () => {
          throw new Error('boom');
        },
        onDetached: () => Promise.reject(new Error('async boom')),
      },
      { warn: (_o, message) => void warnings.push(message) },
    );
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const eni = state.createEni(newEni());
    lifecycle.attach(eni.id, instance.instanceId);
    await clock.advance(100);
    expect(state.eni(eni.id).status).toBe('InUse');
    lifecycle.detach(eni.id, instance.instanceId);
    await clock.advance(50);
    expect(state.eni(eni.id).status).toBe('Available');
    expect(warnings).toEqual(['lab hook onAttached failed', 'lab hook onDetached failed']);
  });

  test('stop() cancels pending transitions; completePending() finishes them at once', async () => {
    const { state, lifecycle, clock } = account();
    const instance = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const [a, b] = [state.createEni(newEni()), state.createEni(newEni())];
    lifecycle.attach(a.id, instance.instanceId);
    lifecycle.delete(b.id);
    lifecycle.stop();
    expect(clock.pendingTimers()).toBe(0);
    await clock.advance(1000);
    expect(state.eni(a.id).status).toBe('Attaching');
    lifecycle.completePending();
    expect(state.eni(a.id).status).toBe('InUse');
    expect(state.findEni(b.id)).toBeUndefined();
  });

  test('ids and MACs look like ECS ones and never repeat', () => {
    const { state } = account('10.0.0.0/16');
    const enis = Array.from({ length: 300 }, () => state.createEni(newEni()));
    for (const eni of enis) {
      expect(eni.id).toMatch(/^eni-[0-9a-z]{20}$/);
      expect(eni.mac).toMatch(/^00:16:3e(:[0-9a-f]{2}){3}$/);
    }
    expect(new Set(enis.map((e) => e.mac)).size).toBe(300);
    expect(new Set(enis.flatMap((e) => e.privateIps)).size).toBe(300);
  });
});
