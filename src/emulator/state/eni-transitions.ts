/**
 * The ENI state machine's rules (ECS-API.md §2.2): what Attach, Detach and Delete require and
 * how each phase changes the record. Checks run before the first write, so a refused call
 * changes nothing. The lifecycle module decides when the second half of each runs.
 */
import { ApiError, invalidEniState } from '../wire/api-error.js';
import type { AccountState } from './account-state.js';
import type { EniRecord } from './account-types.js';

/** How a stuck attach ends: at `failAt` (clock time) back to Available, or never. */
export interface StuckAttach {
  failAt: number | undefined;
}

export function beginAttach(
  state: AccountState,
  eniId: string,
  instanceId: string,
  stuck?: StuckAttach,
): EniRecord {
  const eni = state.eni(eniId);
  const instance = state.requireInstance(instanceId);
  if (eni.status !== 'Available') {
    throw invalidEniState(eniId, eni.status, 'AttachNetworkInterface');
  }
  if (eni.zoneId !== instance.zoneId) {
    throw new ApiError(
      403,
      'InvalidOperation.AvailabilityZoneMismatch',
      `ENI ${eniId} is in ${eni.zoneId} but instance ${instanceId} is in ${instance.zoneId}.`,
    );
  }
  if (eni.vpcId !== state.config.vpcId) {
    throw new ApiError(
      403,
      'InvalidOperation.VpcMismatch',
      `ENI ${eniId} and instance ${instanceId} are in different VPCs.`,
    );
  }
  const spec = state.instanceType(instance);
  const attached = state.enisOf(instanceId);
  if (attached.length >= spec.eniQuantity) {
    throw new ApiError(
      403,
      'EniPerInstanceLimitExceeded',
      `The instance type ${spec.instanceType} supports at most ${spec.eniQuantity} ENIs (primary included).`,
    );
  }
  if (eni.privateIps.length > spec.ipsPerEni) {
    throw new ApiError(
      403,
      'MaxEniPrivateIpsCountExceeded',
      `ENI ${eniId} has ${eni.privateIps.length} private IPs; ${spec.instanceType} allows ${spec.ipsPerEni} per ENI.`,
    );
  }
  const used = new Set(attached.map((e) => e.deviceIndex));
  let deviceIndex = 1;
  while (used.has(deviceIndex)) deviceIndex++;
  eni.status = 'Attaching';
  eni.instanceId = instanceId;
  eni.deviceIndex = deviceIndex;
  if (stuck !== undefined) {
    eni.stuck = true;
    if (stuck.failAt !== undefined) eni.stuckFailAt = stuck.failAt;
  }
  state.changed();
  return eni;
}

/** Attaching → InUse; false when the ENI moved on meanwhile (deleted, force-detached). */
export function completeAttach(state: AccountState, eniId: string): EniRecord | undefined {
  const eni = state.findEni(eniId);
  if (eni === undefined || eni.status !== 'Attaching' || eni.stuck) return undefined;
  eni.status = 'InUse';
  eni.attachedSeq = state.nextSequence();
  state.changed();
  return eni;
}

/**
 * A stuck attach gives up: Attaching → Available, as ECS reports a failed attach. Only the
 * attach that armed `failAt`: the ENI may have been force-detached and attached again since,
 * and a stale timer must not fail the newer attach.
 */
export function failAttach(state: AccountState, eniId: string, failAt: number): void {
  const eni = state.findEni(eniId);
  if (eni === undefined || eni.status !== 'Attaching' || eni.stuck !== true) return;
  if (eni.stuckFailAt !== failAt) return;
  makeAvailable(eni);
  state.changed();
}

/** InUse → Detaching; returns whether the ENI was InUse (Detaching again is accepted). */
export function beginDetach(state: AccountState, eniId: string, instanceId: string): boolean {
  const eni = state.eni(eniId);
  state.requireInstance(instanceId);
  if (eni.type === 'Primary') {
    throw new ApiError(
      400,
      'InvalidOperation.DetachPrimaryEniNotAllowed',
      `ENI ${eniId} is the primary ENI of ${instanceId} and cannot be detached.`,
    );
  }
  if (eni.status !== 'InUse' && eni.status !== 'Detaching') {
    throw invalidEniState(eniId, eni.status, 'DetachNetworkInterface');
  }
  if (eni.instanceId !== instanceId) {
    throw new ApiError(
      400,
      'InvalidOperation.InvalidEniState',
      `ENI ${eniId} is not attached to instance ${instanceId}.`,
    );
  }
  const wasInUse = eni.status === 'InUse';
  eni.status = 'Detaching';
  state.changed();
  return wasInUse;
}

export function completeDetach(state: AccountState, eniId: string): EniRecord | undefined {
  const eni = state.findEni(eniId);
  if (eni === undefined || eni.status !== 'Detaching') return undefined;
  makeAvailable(eni);
  state.changed();
  return eni;
}

export function beginDelete(state: AccountState, eniId: string): EniRecord {
  const eni = state.eni(eniId);
  if (eni.type === 'Primary') {
    throw new ApiError(
      403,
      'InvalidOperation.InvalidEniType',
      `ENI ${eniId} is a primary ENI and cannot be deleted.`,
    );
  }
  if (eni.status !== 'Available') {
    throw invalidEniState(eniId, eni.status, 'DeleteNetworkInterface');
  }
  eni.status = 'Deleting';
  state.changed();
  return eni;
}

export function completeDelete(state: AccountState, eniId: string): void {
  const eni = state.findEni(eniId);
  if (eni === undefined || eni.status !== 'Deleting') return;
  state.removeEni(eniId);
  state.changed();
}

/** Out of band (admin): the ENI ends Available whatever phase it was in. */
export function forceDetach(
  state: AccountState,
  eniId: string,
): { wasInUse: boolean; instanceId?: string } {
  const eni = state.eni(eniId);
  if (eni.type === 'Primary') throw new Error(`${eniId} is a primary ENI`);
  const wasInUse = eni.status === 'InUse';
  const instanceId = eni.instanceId;
  if (eni.status === 'Deleting') throw new Error(`${eniId} is being deleted`);
  makeAvailable(eni);
  state.changed();
  return { wasInUse, ...(instanceId === undefined ? {} : { instanceId }) };
}

function makeAvailable(eni: EniRecord): void {
  eni.status = 'Available';
  delete eni.instanceId;
  delete eni.deviceIndex;
  delete eni.attachedSeq;
  delete eni.stuck;
  delete eni.stuckFailAt;
}
