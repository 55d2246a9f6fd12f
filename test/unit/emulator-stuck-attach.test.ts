/**
 * Stuck attaches in the emulator's ENI lifecycle: when each fails back to Available, and that
 * the deadline survives a save and load of the account.
 */
import { describe, expect, test } from '@jest/globals';

import { AccountState } from '../../src/emulator/state/account-state.js';
import type { NewEni } from '../../src/emulator/state/account-state.js';
import { snapshotEni } from '../../src/emulator/state/account-types.js';
import { EniLifecycle } from '../../src/emulator/state/eni-lifecycle.js';
import type { TransitionDurations } from '../../src/emulator/state/eni-lifecycle.js';
import { FakeClock } from '../../src/util/fake-clock.js';

const DURATIONS: TransitionDurations = { attachMs: 100, detachMs: 50, deleteMs: 30 };

function account(clock: FakeClock, durations: TransitionDurations = DURATIONS) {
  const state = new AccountState(
    {
      regionId: 'cn-hangzhou',
      vpcId: 'vpc-1',
      vpcCidr: '10.0.0.0/16',
      vswitches: [{ vswitchId: 'vsw-a', zoneId: 'zone-a', cidr: '10.0.1.0/24' }],
      securityGroupIds: ['sg-1'],
      ownerAccountId: '1',
    },
    () => clock.now(),
  );
  const lifecycle = new EniLifecycle(state, clock, durations, undefined, { warn: () => {} });
  return { state, lifecycle };
}

const NEW_ENI: NewEni = {
  vswitchId: 'vsw-a',
  securityGroupIds: ['sg-1'],
  tags: [],
  name: '',
  description: '',
  deleteOnRelease: true,
  type: 'Secondary',
};

/** What the state file round trip keeps: JSON copies of the records. */
function saved(state: AccountState) {
  return JSON.parse(
    JSON.stringify({
      instances: state.allInstances(),
      enis: state.allEnis(),
      nextSeq: state.sequence(),
      cursors: state.cursors(),
    }),
  ) as Parameters<AccountState['restore']>[0];
}

describe('stuck attaches', () => {
  test('the stick request sets the fail-back delay; absent takes the configured one; null is never', async () => {
    const clock = new FakeClock(0);
    const { state, lifecycle } = account(clock, { ...DURATIONS, stuckAttachFailMs: 5_000 });
    const { instanceId } = state.addInstance({ instanceType: 'ecs.ebmg5.24xlarge' });
    const own = state.createEni(NEW_ENI);
    const configured = state.createEni(NEW_ENI);
    const never = state.createEni(NEW_ENI);
    const normal = state.createEni(NEW_ENI);

    lifecycle.stickNextAttaches(1, 300);
    lifecycle.attach(own.id, instanceId);
    expect(snapshotEni(state.eni(own.id))).toMatchObject({
      status: 'Attaching',
      stuck: true,
      stuckFailAt: 300,
    });
    lifecycle.stickNextAttaches(1);
    lifecycle.attach(configured.id, instanceId);
    lifecycle.stickNextAttaches(1, null);
    lifecycle.attach(never.id, instanceId);
    lifecycle.attach(normal.id, instanceId);

    await clock.advance(299);
    expect(state.eni(own.id).status).toBe('Attaching');
    await clock.advance(1);
    expect(snapshotEni(state.eni(own.id))).toMatchObject({ status: 'Available', stuck: false });
    expect(state.eni(own.id).stuckFailAt).toBeUndefined();
    expect(state.eni(normal.id).status).toBe('InUse');
    await clock.advance(4_700);
    expect(state.eni(configured.id).status).toBe('Available');
    await clock.advance(600_000);
    expect(state.eni(never.id).status).toBe('Attaching');
    expect(() => lifecycle.stickNextAttaches(1, -1)).toThrow(/failAfterMs/);
  });

  test('a stale fail-back timer does not fail a later attach of the same ENI', async () => {
    const clock = new FakeClock(0);
    const { state, lifecycle } = account(clock);
    const { instanceId } = state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const eni = state.createEni(NEW_ENI);
    lifecycle.stickNextAttaches(1, 1_000);
    lifecycle.attach(eni.id, instanceId);
    lifecycle.forceDetach(eni.id);
    lifecycle.stickNextAttaches(1, 5_000);
    lifecycle.attach(eni.id, instanceId);
    await clock.advance(1_000);
    expect(state.eni(eni.id).status).toBe('Attaching');
    await clock.advance(4_000);
    expect(state.eni(eni.id).status).toBe('Available');
  });

  test('after a save and load the fail-back is re-armed with the saved deadline', async () => {
    const clock = new FakeClock(0);
    const first = account(clock);
    const { instanceId } = first.state.addInstance({ instanceType: 'ecs.g7.xlarge' });
    const [timed, overdue, forever] = [
      first.state.createEni(NEW_ENI),
      first.state.createEni(NEW_ENI),
      first.state.createEni(NEW_ENI),
    ];
    first.lifecycle.stickNextAttaches(1, 1_000);
    first.lifecycle.attach(timed.id, instanceId);
    first.lifecycle.stickNextAttaches(1, 100);
    first.lifecycle.attach(overdue.id, instanceId);
    first.lifecycle.stickNextAttaches(1, null);
    first.lifecycle.attach(forever.id, instanceId);
    // The first emulator dies before any timer fires; the records are all that is left.
    first.lifecycle.stop();
    await clock.advance(300);
    const records = saved(first.state);

    const second = account(clock, { ...DURATIONS, stuckAttachFailMs: 50 });
    second.state.restore(records);
    second.lifecycle.completePending();
    expect(second.state.eni(overdue.id).status).toBe('Available');
    expect(second.state.eni(timed.id)).toMatchObject({ status: 'Attaching', stuckFailAt: 1_000 });
    await clock.advance(699);
    expect(second.state.eni(timed.id).status).toBe('Attaching');
    await clock.advance(1);
    expect(second.state.eni(timed.id).status).toBe('Available');
    // Stuck for good when it was saved: the new run's default does not apply to it.
    await clock.advance(60_000);
    expect(second.state.eni(forever.id)).toMatchObject({ status: 'Attaching', stuck: true });
  });
});
