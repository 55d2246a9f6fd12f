/**
 * The emulated account's records. Plain data, so a snapshot is a JSON copy and the persistence
 * layer can write them as they are.
 */
import type { CloudEniStatus } from '../../cloud/provider.js';

export type EniStatus = CloudEniStatus;
export type EniType = 'Primary' | 'Secondary' | 'Trunk';

export interface EniTag {
  key: string;
  value: string;
}

export interface EniRecord {
  id: string;
  /** Creation order; paging tokens point into it, so deletions never shift a page. */
  seq: number;
  type: EniType;
  status: EniStatus;
  mac: string;
  vswitchId: string;
  vpcId: string;
  zoneId: string;
  /** Primary IP first. */
  privateIps: string[];
  securityGroupIds: string[];
  tags: EniTag[];
  name: string;
  description: string;
  deleteOnRelease: boolean;
  creationTime: string;
  /** Set from the start of an attach to the end of a detach. */
  instanceId?: string;
  deviceIndex?: number;
  /** Order in which the ENI last became InUse; metadata lists NICs in attach order. */
  attachedSeq?: number;
  /** An attach that never completes (`stickNextAttaches`). */
  stuck?: boolean;
  /**
   * Clock time at which a stuck attach fails back to Available. Saved with the ENI so a
   * restarted emulator re-arms the same deadline; absent: stuck for good.
   */
  stuckFailAt?: number;
}

export interface InstanceRecord {
  instanceId: string;
  seq: number;
  instanceType: string;
  zoneId: string;
  vswitchId: string;
  primaryEniId: string;
  hostname: string;
  ramRoleName?: string;
  securityGroupIds: string[];
  creationTime: string;
}

export interface VSwitchSpec {
  vswitchId: string;
  zoneId: string;
  cidr: string;
}

/** What tests and the admin API see of an ENI. */
export interface EmulatedEniSnapshot {
  id: string;
  type: EniType;
  status: EniStatus;
  instanceId?: string;
  deviceIndex?: number;
  mac: string;
  primaryIp: string;
  privateIps: string[];
  vswitchId: string;
  vpcId: string;
  zoneId: string;
  securityGroupIds: string[];
  tags: Record<string, string>;
  stuck: boolean;
  /** Clock time a stuck attach fails back to Available. */
  stuckFailAt?: number;
}

export function snapshotEni(eni: EniRecord): EmulatedEniSnapshot {
  return {
    id: eni.id,
    type: eni.type,
    status: eni.status,
    ...(eni.instanceId === undefined ? {} : { instanceId: eni.instanceId }),
    ...(eni.deviceIndex === undefined ? {} : { deviceIndex: eni.deviceIndex }),
    mac: eni.mac,
    primaryIp: eni.privateIps[0] ?? '',
    privateIps: [...eni.privateIps],
    vswitchId: eni.vswitchId,
    vpcId: eni.vpcId,
    zoneId: eni.zoneId,
    securityGroupIds: [...eni.securityGroupIds],
    tags: Object.fromEntries(eni.tags.map((tag) => [tag.key, tag.value])),
    stuck: eni.stuck === true,
    ...(eni.stuckFailAt === undefined ? {} : { stuckFailAt: eni.stuckFailAt }),
  };
}
